"""Scheduled work catches up: a firing beat could not deliver (the broker down at 07:00, a
restart, a deploy) is made up by the next one, the same day or week, once. One
organization's failure is its own, and a worker killed mid-send loses no digest.

Beat fires the digests and the pace every quarter hour; here the tasks are called at
those moments as a worker would run them, and the moments the broker was down are left
out."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection
from django.utils import timezone
from time_machine import TimeMachineFixture

from buildings.models import Unit
from contacts.lapse import digests, pace
from contacts.lapse.digests import send_owner_digests
from contacts.lapse.job import flag_lapsed
from contacts.models import (
    Contact,
    DigestKind,
    DigestLog,
    LapseEpisode,
    LapseFlag,
    LapseSummary,
)
from contacts.tasks import (
    send_committee_digests_task,
    send_orphan_digests_task,
    send_owner_digests_task,
    take_paces_task,
)
from organizing.models import Organization
from tests.makers import make_building, make_contact, make_member, make_unit

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.timedelta(days=1)
QUARTER = dt.timedelta(minutes=15)
MONDAY = dt.date(2031, 6, 9)
TUESDAY = MONDAY + DAY


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def quarter_hours(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    return [start + n * QUARTER for n in range((end - start) // QUARTER)]


def fire(
    task: Callable[[], int], moments: Iterable[dt.datetime], time_machine: TimeMachineFixture
) -> dict[dt.datetime, int]:
    """Run the task at each moment, as the worker does what beat sends it; what each sent."""
    sent = {}
    for moment in moments:
        time_machine.move_to(moment, tick=False)
        sent[moment] = task()
    return sent


def lapsed_contact(unit: Unit, owner: User | None, name: str, now: dt.datetime) -> Contact:
    """Added long ago and never talked to: lapsed by the rule."""
    return make_contact(unit, owner=owner, name=name, created_at=now - 90 * DAY)


def sent_to(user: User) -> list[Any]:
    return [message for message in mail.outbox if message.to == [user.email]]


def test_the_7_oclock_digest_lost_to_a_broker_outage_is_sent_by_the_next_firing_and_once(
    unit_1204: Unit, olivia: User, time_machine: TimeMachineFixture
) -> None:
    lapsed_contact(unit_1204, olivia, "Maria Lopez", at(TUESDAY, 0))
    day = quarter_hours(at(TUESDAY, 6), at(TUESDAY + DAY, 0))
    broker_down = quarter_hours(at(TUESDAY, 7), at(TUESDAY, 9))

    sent = fire(send_owner_digests_task, [m for m in day if m not in broker_down], time_machine)

    assert [moment for moment, count in sent.items() if count] == [at(TUESDAY, 9)]
    assert len(sent_to(olivia)) == 1
    # The next morning's goes at its hour.
    assert fire(send_owner_digests_task, [at(TUESDAY + DAY, 7)], time_machine) == {
        at(TUESDAY + DAY, 7): 1
    }


def test_a_firing_before_the_hour_sends_nothing_and_takes_no_pace(
    unit_1204: Unit, olivia: User, cora: User, time_machine: TimeMachineFixture
) -> None:
    lapsed_contact(unit_1204, olivia, "Maria Lopez", at(MONDAY, 0))
    lapsed_contact(unit_1204, None, "Woman in 1204", at(MONDAY, 0))
    flag_lapsed(now=at(MONDAY, 0, 5))
    tasks = [
        (send_owner_digests_task, dt.time(7)),
        (send_orphan_digests_task, dt.time(7, 15)),
        (take_paces_task, dt.time(6, 15)),
        (send_committee_digests_task, dt.time(7, 30)),
    ]

    for task, hour in tasks:
        just_before = at(MONDAY, hour.hour, hour.minute) - dt.timedelta(seconds=1)
        assert fire(task, [just_before], time_machine) == {just_before: 0}, task.name
    assert mail.outbox == [] and not DigestLog.objects.exists()
    assert LapseSummary.objects.get().pace == {}

    for task, hour in tasks:
        on_time = at(MONDAY, hour.hour, hour.minute)
        assert fire(task, [on_time], time_machine) == {on_time: 1}, task.name


def test_the_monday_committee_digest_missed_on_monday_is_sent_on_tuesday_once(
    cora: User, ada: User, time_machine: TimeMachineFixture
) -> None:
    week = quarter_hours(at(MONDAY, 0), at(MONDAY + 7 * DAY, 0))
    # The broker was down from Monday 7:00 until Tuesday 10:00.
    broker_down = quarter_hours(at(MONDAY, 7), at(TUESDAY, 10))

    sent = fire(
        send_committee_digests_task, [m for m in week if m not in broker_down], time_machine
    )

    assert [moment for moment, count in sent.items() if count] == [at(TUESDAY, 10)]
    assert sent[at(TUESDAY, 10)] == 2
    assert len(sent_to(cora)) == 1 and len(sent_to(ada)) == 1
    assert set(DigestLog.objects.values_list("period", flat=True)) == {MONDAY}
    # The next week's goes on its Monday.
    next_monday = at(MONDAY + 7 * DAY, 7, 30)
    assert fire(send_committee_digests_task, [next_monday], time_machine) == {next_monday: 2}


def test_the_weeks_pace_missed_on_monday_is_taken_later_once(
    unit_1204: Unit, olivia: User, time_machine: TimeMachineFixture
) -> None:
    flag_lapsed(now=at(MONDAY, 0, 5))

    sent = fire(take_paces_task, quarter_hours(at(TUESDAY, 8), at(TUESDAY, 12)), time_machine)

    assert [moment for moment, count in sent.items() if count] == [at(TUESDAY, 8)]
    assert LapseSummary.objects.get().pace["week"] == (MONDAY - 7 * DAY).isoformat()


def test_a_lapse_run_missed_is_covered_by_the_next(
    unit_1204: Unit, olivia: User, time_machine: TimeMachineFixture
) -> None:
    # A new contact lapses 60 days after being added: at 10:30 on Tuesday.
    tamara = make_contact(
        unit_1204, owner=olivia, name="Tamara", created_at=at(TUESDAY, 10, 30) - 60 * DAY
    )
    flag_lapsed(now=at(TUESDAY, 10, 5))
    assert Contact.objects.get(pk=tamara.pk).lapse_flag == LapseFlag.DUE_SOON

    # 11:05 did not run.
    counts = flag_lapsed(now=at(TUESDAY, 12, 5))

    assert counts.opened == 1
    assert Contact.objects.get(pk=tamara.pk).lapse_flag == LapseFlag.LAPSED


# The host's clock jumps

MONDAYS_JOBS = [
    send_owner_digests_task,
    send_orphan_digests_task,
    take_paces_task,
    send_committee_digests_task,
]


@pytest.fixture
def mondays_people(unit_1204: Unit, olivia: User, cora: User, ada: User) -> None:
    """Olivia has a lapsed contact, a neighbour of hers has no owner, and Cora and Ada sit
    on the committee: every job of Monday morning has someone to tell."""
    lapsed_contact(unit_1204, olivia, "Maria Lopez", at(MONDAY, 0))
    lapsed_contact(unit_1204, None, "Woman in 1204", at(MONDAY, 0))
    flag_lapsed(now=at(MONDAY, 0, 5))


def what_was_done() -> tuple[list[tuple[str, list[str]]], list[tuple[str, dt.date]], Any]:
    """The emails sent (subject, to), the digests recorded done, and the pace taken."""
    emails = sorted((str(message.subject), message.to) for message in mail.outbox)
    done = sorted(DigestLog.objects.values_list("kind", "period"))
    return emails, done, LapseSummary.objects.get().pace


@pytest.mark.usefixtures("mondays_people")
def test_a_clock_jumping_three_hours_forward_across_7_sends_each_of_mondays_digests_once(
    time_machine: TimeMachineFixture,
) -> None:
    before = quarter_hours(at(MONDAY, 4), at(MONDAY, 6))
    # At 5:45 the host's clock is set right: it is 8:45, and 6:00 to 8:30 never came.
    after = quarter_hours(at(MONDAY, 8, 45), at(MONDAY, 12))

    for job in MONDAYS_JOBS:
        sent = fire(job, before + after, time_machine)
        assert [moment for moment, n in sent.items() if n] == [at(MONDAY, 8, 45)], job.name
    emails, done, pace_taken = what_was_done()

    assert emails == [
        ("Doorstep: 1 lapsed", ["olivia@example.org"]),
        ("Doorstep: 2 contacts need an owner", ["ada@example.org"]),
        ("Doorstep: 2 contacts need an owner", ["cora@example.org"]),
        ("Doorstep: the week of 09 June", ["ada@example.org"]),
        ("Doorstep: the week of 09 June", ["cora@example.org"]),
    ]
    assert {period for _, period in done} == {MONDAY}
    assert pace_taken["week"] == (MONDAY - 7 * DAY).isoformat()


@pytest.mark.usefixtures("mondays_people")
def test_a_clock_set_back_an_hour_across_7_after_the_digests_went_sends_none_again(
    time_machine: TimeMachineFixture,
) -> None:
    for job in MONDAYS_JOBS:
        fire(job, quarter_hours(at(MONDAY, 6), at(MONDAY, 8)), time_machine)
    sent_on_time = what_was_done()
    assert sent_on_time[0] and sent_on_time[1]

    # At 7:45 the host's clock goes back an hour: 6:45 to 7:45 comes a second time.
    for job in MONDAYS_JOBS:
        again = fire(job, quarter_hours(at(MONDAY, 6, 45), at(MONDAY, 10)), time_machine)
        assert not any(again.values()), job.name

    assert what_was_done() == sent_on_time
    # Tuesday's come at their hour, as if nothing had happened.
    tuesday = at(TUESDAY, 7)
    assert fire(send_owner_digests_task, [tuesday], time_machine) == {tuesday: 1}


@pytest.mark.usefixtures("mondays_people")
def test_a_clock_set_back_across_midnight_sends_yesterdays_digests_no_second_time(
    time_machine: TimeMachineFixture,
) -> None:
    for job in MONDAYS_JOBS:
        fire(job, quarter_hours(at(MONDAY, 6), at(MONDAY, 9)), time_machine)
    sent_on_time = what_was_done()

    # Tuesday 0:30 becomes Monday 23:30 again.
    for job in MONDAYS_JOBS:
        again = fire(job, quarter_hours(at(MONDAY, 23, 30), at(TUESDAY, 1)), time_machine)
        assert not any(again.values()), job.name

    assert what_was_done() == sent_on_time


def test_a_lapse_opened_before_the_clock_goes_back_an_hour_is_opened_once(
    unit_1204: Unit, olivia: User
) -> None:
    # Tamara lapses at 6:30 on Tuesday; the 7:05 run opens her lapse.
    tamara = make_contact(
        unit_1204, owner=olivia, name="Tamara", created_at=at(TUESDAY, 6, 30) - 60 * DAY
    )
    assert flag_lapsed(now=at(TUESDAY, 7, 5)).opened == 1

    # The clock goes back an hour: 6:05, before she lapsed, comes again, then 7:05.
    again = [flag_lapsed(now=at(TUESDAY, hour, 5)) for hour in (6, 7, 8)]

    assert [(counts.opened, counts.resolved) for counts in again] == [(0, 0)] * 3
    tamara.refresh_from_db()
    assert (tamara.lapse_flag, tamara.lapse_started_at) == (LapseFlag.LAPSED, at(TUESDAY, 7, 5))
    # No lapse "picked up again" at 6:05 by nobody.
    assert not LapseEpisode.objects.filter(contact=tamara).exists()


# One organization's failure is its own


@pytest.fixture
def westside_organizer(other_org: Organization) -> User:
    """Wendy organizes for Westside; one of her contacts has lapsed."""
    wendy = make_member(other_org, "wendy")
    unit = make_unit(make_building(other_org, name="Westside Court"), "101")
    lapsed_contact(unit, wendy, "Walter West", timezone.now())
    return wendy


def test_an_organization_whose_digests_raise_does_not_stop_another_organizations(
    unit_1204: Unit,
    olivia: User,
    westside_organizer: User,
    org: Organization,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lapsed_contact(unit_1204, olivia, "Maria Lopez", timezone.now())
    owner_due = digests.owner_due

    def bad_setting(membership: Any, now: dt.datetime) -> Any:
        if membership.organization_id == org.pk:
            raise ValueError("Maria Lopez: a threshold of no days")
        return owner_due(membership, now)

    with monkeypatch.context() as patch, caplog.at_level(logging.INFO):
        patch.setattr(digests, "owner_due", bad_setting)
        assert send_owner_digests() == 1

    assert sent_to(westside_organizer) and not sent_to(olivia)
    assert (
        f"Owner's daily digest for membership {olivia.membership.pk} of organization {org.pk} "
        "failed (ValueError)"
    ) in caplog.text
    assert "Maria" not in caplog.text and olivia.email not in caplog.text
    # Mended, the next firing sends Olivia's, and Wendy's not again.
    assert send_owner_digests() == 1
    assert len(sent_to(olivia)) == 1 and len(sent_to(westside_organizer)) == 1


def test_an_organization_the_lapse_run_cannot_write_is_logged_and_the_others_are_flagged(
    unit_1204: Unit,
    olivia: User,
    westside_organizer: User,
    org: Organization,
    other_org: Organization,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL; run it through `make test`")
    maria = lapsed_contact(unit_1204, olivia, "Maria Lopez", timezone.now())
    # A CHECK that refuses Eastside's contacts any flag but OK: the row the run would write.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER waits for no deferred check
        cursor.execute(
            "ALTER TABLE contacts_contact ADD CONSTRAINT test_refuses_eastside "
            f"CHECK (organization_id <> {org.pk} OR lapse_flag = 'ok') NOT VALID"
        )

    with caplog.at_level(logging.INFO):
        counts = flag_lapsed()

    assert counts.opened == 1
    assert Contact.objects.get(pk=maria.pk).lapse_flag == LapseFlag.OK
    walter = Contact.objects.get(organization=other_org)
    assert walter.lapse_flag == LapseFlag.LAPSED
    assert list(LapseSummary.objects.values_list("organization", flat=True)) == [other_org.pk]
    assert f"The lapse run failed for organization {org.pk} (IntegrityError)" in caplog.text
    assert "Maria" not in caplog.text and "Walter" not in caplog.text


def test_an_organization_whose_pace_raises_does_not_stop_another_organizations(
    unit_1204: Unit,
    olivia: User,
    westside_organizer: User,
    org: Organization,
    other_org: Organization,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pace_of = pace.pace_of
    flag_lapsed()

    def bad_setting(organization: Organization, now: dt.datetime) -> Any:
        if organization.pk == org.pk:
            raise ZeroDivisionError
        return pace_of(organization, now)

    with monkeypatch.context() as patch:
        patch.setattr(pace, "pace_of", bad_setting)
        assert pace.take_paces() == 1

    assert f"The pace failed for organization {org.pk} (ZeroDivisionError)" in caplog.text
    assert LapseSummary.objects.get(organization=org).pace == {}
    assert LapseSummary.objects.get(organization=other_org).pace["week"]
    # Mended, the next firing takes Eastside's alone.
    assert pace.take_paces() == 1
    assert pace.take_paces() == 0


# A worker killed in the middle of sending

KILLED_MID_SEND = """
import datetime as dt, os, time
import django
django.setup()
from django.core.mail import EmailMultiAlternatives
from contacts.lapse.digests import send_owner_digests

def hang(self, *args, **kwargs):
    open(os.environ["SENDING"], "w").close()
    time.sleep(60)

EmailMultiAlternatives.send = hang
send_owner_digests(now=dt.datetime.fromisoformat(os.environ["NOW"]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_leaves_no_claim_and_the_next_run_sends_the_digest_once(
    unit_1204: Unit, olivia: User, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL; run it through `make test`")
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    lapsed_contact(unit_1204, olivia, "Maria Lopez", noon)
    db = connection.settings_dict
    sending = tmp_path / "sending"
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_SEND],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "organizing.settings",
            "DATABASE_URL": (
                f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
            ),
            "VAR_DIR": str(tmp_path),
            "SENDING": str(sending),
            "NOW": noon.isoformat(),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not sending.exists() and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        was_sending = sending.exists()
    finally:
        worker.kill()  # as the kernel or a hard time limit kills: no clean-up
        output, _ = worker.communicate(timeout=30)
    assert was_sending, output.decode(errors="replace")

    # Its claim died with its connection: the next run sends, and the one after does not.
    assert send_owner_digests(now=noon + QUARTER) == 1
    assert send_owner_digests(now=noon + 2 * QUARTER) == 0
    assert len(sent_to(olivia)) == 1
    claim = DigestLog.objects.get()
    assert (claim.kind, claim.emailed) == (DigestKind.OWNER_DAILY, True)
