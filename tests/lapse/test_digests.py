"""The digests: Olivia hears about Tamara before she lapses; Cora and Ada hear about the
week; nobody hears twice, and nobody hears about another organization."""

from __future__ import annotations

import datetime as dt
import io
import logging
import smtplib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from buildings.models import Building, Unit
from contacts.actions import deactivate_member, record_visit
from contacts.lapse.digests import (
    send_committee_digests,
    send_orphan_digests,
    send_owner_digests,
)
from contacts.lapse.job import flag_lapsed
from contacts.lapse.rule import Rules
from contacts.models import (
    Answer,
    Ask,
    Contact,
    DigestKind,
    DigestLog,
    LapseFlag,
    Level,
    Outcome,
    Status,
    Visit,
)
from organizing.celery import app
from organizing.models import Organization
from tests.makers import make_building, make_contact, make_unit, new_key

pytestmark = pytest.mark.usefixtures("clock")  # today is a fixed date: see `clock`

DAY = dt.timedelta(days=1)
LONG_AGO = 90 * DAY  # past every default threshold


def talk(contact: Contact, by: User, at: dt.datetime) -> None:
    record_visit(
        actor=by.membership,
        contact=contact,
        outcome=Outcome.CONVERSATION,
        happened_at=at,
        idempotency_key=new_key(),
    )


def lapsed_contact(unit: Unit, owner: User | None, name: str, **fields: Any) -> Contact:
    """Added long ago and never talked to: lapsed at the next run of the job."""
    return make_contact(
        unit, owner=owner, name=name, created_at=timezone.now() - LONG_AGO, **fields
    )


def sent_to(user: User) -> list[EmailMessage]:
    return [message for message in mail.outbox if message.to == [user.email]]


def html_of(message: EmailMessage) -> str:
    assert isinstance(message, EmailMultiAlternatives)
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return str(content)


def section(message: EmailMessage, start: str, end: str | None = None) -> str:
    """The part of a plain-text digest from one heading to the next."""
    tail = str(message.body).split(start, 1)[1]
    return tail.split(end, 1)[0] if end else tail


@pytest.fixture
def tamara(unit_1204: Unit, olivia: User) -> Contact:
    """A leader who said yes to being floor captain."""
    contact = make_contact(unit_1204, owner=olivia, name="Tamara Okafor", level=Level.LEADER)
    Ask.objects.create(
        contact=contact,
        question="Floor captain?",
        asked_by=olivia,
        due_on=timezone.localdate(),
        answer=Answer.YES,
        answered_at=timezone.now(),
    )
    return contact


# The owner's daily digest


def test_olivia_is_warned_two_days_before_tamara_lapses_and_told_when_she_has(
    tamara: Contact, olivia: User
) -> None:
    talked_at = timezone.now() - 5 * DAY
    talk(tamara, olivia, talked_at)

    flag_lapsed()
    assert send_owner_digests() == 1

    [warning] = mail.outbox
    assert warning.to == [olivia.email]
    due = section(warning, "DUE SOON")
    lapses_on = timezone.localdate(talked_at + 7 * DAY)
    talked_on = timezone.localdate(talked_at)
    assert (
        f"* {lapses_on:%a}: no conversation since {talked_on:%b} {talked_on.day} "
        "(leader: every 7 days)\n  Tamara Okafor, Leader, Riverside Towers, 1204"
    ) in due
    assert "LAPSED" not in warning.body
    assert warning.subject == "Doorstep: 1 due soon"

    mail.outbox.clear()
    three_days_later = timezone.now() + 3 * DAY
    flag_lapsed(now=three_days_later)
    assert send_owner_digests(now=three_days_later) == 1

    [lapsed] = mail.outbox
    assert "Tamara Okafor" in section(lapsed, "LAPSED")
    assert f"Since {lapses_on:%b} {lapses_on.day}: no conversation since" in lapsed.body
    assert "DUE SOON" not in lapsed.body
    assert lapsed.subject == "Doorstep: 1 lapsed"


def test_nobody_with_nothing_due_gets_a_digest(
    maria: Contact, olivia: User, omar: User, cora: User
) -> None:
    talk(maria, olivia, timezone.now() - DAY)

    flag_lapsed()

    assert send_owner_digests() == 0
    assert mail.outbox == []
    assert not DigestLog.objects.filter(emailed=True).exists()


def test_a_second_run_the_same_day_sends_nothing_more_and_the_next_day_sends_again(
    unit_1204: Unit, olivia: User
) -> None:
    lapsed_contact(unit_1204, olivia, "Maria Lopez")
    flag_lapsed()

    assert send_owner_digests() == 1
    assert send_owner_digests() == 0
    assert send_owner_digests(now=timezone.now() + DAY) == 1

    assert len(sent_to(olivia)) == 2
    assert DigestLog.objects.filter(membership=olivia.membership).count() == 2


def test_lapsed_contacts_come_first_with_days_since_or_never_then_those_due_soon(
    unit_1204: Unit, riverside: Building, olivia: User
) -> None:
    soon = make_contact(unit_1204, owner=olivia, name="Sam Due", level=Level.LEADER)
    talk(soon, olivia, timezone.now() - 6 * DAY)
    talked = make_contact(
        make_unit(riverside, "305"), owner=olivia, name="Talia Lapsed", level=Level.ACTIVE
    )
    talk(talked, olivia, timezone.now() - 20 * DAY)
    lapsed_contact(unit_1204, olivia, "Nadia Never")
    lapsed_contact(unit_1204, olivia, "Moved Away", status=Status.MOVED)

    flag_lapsed()
    send_owner_digests()

    [digest] = mail.outbox
    due = section(digest, "DUE SOON", "LAPSED")
    lapsed = section(digest, "LAPSED")
    # The longest lapsed first: Nadia, added long ago, lapsed before Talia.
    assert lapsed.index("Nadia Never") < lapsed.index("Talia Lapsed")
    assert "never talked to, added" in lapsed
    talked_on = timezone.localdate(timezone.now() - 20 * DAY)
    assert f"no conversation since {talked_on:%b} {talked_on.day} (active: every 14 days)" in lapsed
    assert "Riverside Towers, 305" in lapsed
    assert "Sam Due" in due and "Sam Due" not in lapsed
    assert "Moved Away" not in digest.body
    assert f"http://127.0.0.1:8000/contacts/{talked.pk}/" in lapsed
    assert digest.subject == "Doorstep: 1 due soon and 2 lapsed"


def test_the_digest_links_to_the_site_url(unit_1204: Unit, olivia: User, settings: Any) -> None:
    settings.SITE_URL = "https://doorstep.example.org"
    maria = lapsed_contact(unit_1204, olivia, "Maria Lopez")
    flag_lapsed()

    send_owner_digests()

    [digest] = mail.outbox
    assert f"https://doorstep.example.org/contacts/{maria.pk}/" in digest.body
    assert f'href="https://doorstep.example.org/contacts/{maria.pk}/"' in html_of(digest)


def test_the_digest_has_plain_and_html_bodies_and_escapes_names_in_html(
    unit_1204: Unit, olivia: User
) -> None:
    lapsed_contact(unit_1204, olivia, "<script>alert(1)</script> & Co")
    flag_lapsed()

    send_owner_digests()

    [digest] = mail.outbox
    assert "<script>alert(1)</script> & Co" in digest.body  # plain text is not HTML
    html = html_of(digest)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "<script>" not in html


def test_an_owner_who_left_or_has_no_email_gets_no_digest(
    unit_1204: Unit, olivia: User, omar: User
) -> None:
    lapsed_contact(unit_1204, olivia, "Maria Lopez")
    lapsed_contact(unit_1204, omar, "Omar's")
    olivia.membership.active = False
    olivia.membership.save()
    omar.email = ""
    omar.save()
    flag_lapsed()

    assert send_owner_digests() == 0
    assert mail.outbox == []


def test_an_owner_hears_only_about_their_own_contacts(
    unit_1204: Unit, olivia: User, omar: User
) -> None:
    lapsed_contact(unit_1204, olivia, "Maria Lopez")
    lapsed_contact(unit_1204, omar, "Oscar Ruiz")
    flag_lapsed()

    assert send_owner_digests() == 2

    [olivias] = sent_to(olivia)
    [omars] = sent_to(omar)
    assert "Maria Lopez" in olivias.body and "Oscar Ruiz" not in olivias.body
    assert "Oscar Ruiz" in omars.body and "Maria Lopez" not in omars.body


def test_the_digests_cost_the_same_queries_for_one_contact_as_for_many(
    riverside: Building, olivia: User, cora: User
) -> None:
    def queries_for(count: int, now: dt.datetime) -> int:
        for n in range(count):
            lapsed_contact(make_unit(riverside, f"{now.day}{n:02d}"), olivia, f"C{n}")
        flag_lapsed(now=timezone.now() - 8 * DAY)
        flag_lapsed()
        with CaptureQueriesContext(connection) as queries:
            assert send_owner_digests(now=now) == 1
            assert send_committee_digests(now=now) == 1
        return len(queries)

    now = timezone.now()
    Rules.of(riverside.organization)  # read once, then kept in memory by every process
    assert queries_for(1, now) == queries_for(10, now + 7 * DAY)


def test_a_failed_send_keeps_no_claim_and_logs_no_address_so_a_retry_sends(
    unit_1204: Unit,
    olivia: User,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lapsed_contact(unit_1204, olivia, "Maria Lopez")
    flag_lapsed()

    def refuse(self: EmailMultiAlternatives, *args: object, **kwargs: object) -> int:
        raise smtplib.SMTPRecipientsRefused({olivia.email: (550, b"no such user")})

    with monkeypatch.context() as patch, caplog.at_level(logging.INFO):
        patch.setattr(EmailMultiAlternatives, "send", refuse)
        assert send_owner_digests() == 0

    assert not DigestLog.objects.exists()
    assert f"membership {olivia.membership.pk} not sent (SMTPRecipientsRefused)" in caplog.text
    assert olivia.email not in caplog.text

    assert send_owner_digests() == 1
    assert len(sent_to(olivia)) == 1
    assert DigestLog.objects.filter(kind=DigestKind.OWNER_DAILY).count() == 1


def test_one_failed_send_does_not_stop_the_others(
    unit_1204: Unit, olivia: User, omar: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    lapsed_contact(unit_1204, olivia, "Maria Lopez")
    lapsed_contact(unit_1204, omar, "Oscar Ruiz")
    flag_lapsed()
    send = EmailMultiAlternatives.send

    def refuse_olivia(self: EmailMultiAlternatives, *args: Any, **kwargs: Any) -> int:
        if self.to == [olivia.email]:
            raise ConnectionRefusedError
        return send(self, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse_olivia)

    assert send_owner_digests() == 1
    assert sent_to(omar) and not sent_to(olivia)
    assert list(DigestLog.objects.values_list("membership", flat=True)) == [omar.membership.pk]


def test_the_logs_name_no_contact_and_no_email(
    unit_1204: Unit, olivia: User, cora: User, caplog: pytest.LogCaptureFixture
) -> None:
    lapsed_contact(unit_1204, olivia, "Maria Lopez", email="maria@example.net")
    flag_lapsed(now=timezone.now() - 8 * DAY)

    with caplog.at_level(logging.DEBUG):
        flag_lapsed()
        assert send_owner_digests() == 1
        assert send_committee_digests() == 1

    assert f"membership {olivia.membership.pk}" in caplog.text
    for personal in ("Maria", "maria@", olivia.email, cora.email, "olivia", "cora"):
        assert personal not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_moment_send_each_owner_one_digest(
    unit_1204: Unit, olivia: User, omar: User
) -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL; run it through `make test`")
    for n in range(5):
        lapsed_contact(unit_1204, olivia, f"Olivia's {n}")
        lapsed_contact(unit_1204, omar, f"Omar's {n}")
    flag_lapsed()
    sent = run_together(send_owner_digests, send_owner_digests)

    assert sum(sent) == 2
    assert len(sent_to(olivia)) == 1 and len(sent_to(omar)) == 1
    assert DigestLog.objects.count() == 2


def run_together(*jobs: Callable[[], int]) -> list[int]:
    """Start the jobs in threads at one moment (each on its own database connection) and
    return what each returned."""
    start = threading.Barrier(len(jobs))
    results: list[int] = []
    errors: list[BaseException] = []

    def run(job: Callable[[], int]) -> None:
        try:
            start.wait()
            results.append(job())
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


# The committee's weekly digest


@pytest.fixture
def committee_week(
    unit_1204: Unit, maple: Building, olivia: User, omar: User, cora: User, ada: User
) -> dict[str, Contact]:
    """Four contacts counted: one escalated, one lapsed, one due soon, one fine; one
    snoozed, which doesn't count; one with nobody to own it."""
    escalated = lapsed_contact(unit_1204, olivia, "Maria Lopez", level=Level.ACTIVE)
    flag_lapsed(now=timezone.now() - 9 * DAY)  # Maria lapsed nine days ago
    lapsed_contact(make_unit(maple, "203"), omar, "Larry Lapsed")
    soon = make_contact(unit_1204, owner=olivia, name="Sam Soon", level=Level.LEADER)
    talk(soon, olivia, timezone.now() - 6 * DAY)
    fine = make_contact(unit_1204, owner=None, name="Fiona Fine")
    talk(fine, olivia, timezone.now() - DAY)
    lapsed_contact(
        unit_1204,
        olivia,
        "Simone Snoozed",
        snoozed_until=timezone.localdate() + 10 * DAY,
        snooze_reason="Away for a funeral",
    )
    flag_lapsed()
    return {"escalated": escalated}


def test_the_committee_digest_has_the_lapse_rate_the_escalations_and_the_orphans(
    committee_week: dict[str, Contact], cora: User
) -> None:
    assert Contact.objects.get(name="Maria Lopez").lapse_flag == LapseFlag.ESCALATED

    send_committee_digests()

    [digest] = sent_to(cora)
    assert "Lapse rate: 50% (2 lapsed of 4 active contacts not snoozed)" in digest.body
    assert "Escalated: 1" in digest.body
    assert "Orphaned: 1" in digest.body
    escalations = section(digest, "ESCALATIONS")
    assert "Maria Lopez, Active" in escalations
    assert "Riverside Towers, 1204; owner: olivia" in escalations
    assert "Lapsed 9 days" in escalations
    assert "Larry Lapsed" not in escalations  # lapsed, not yet escalated
    assert f"/contacts/{committee_week['escalated'].pk}/" in escalations
    html = html_of(digest)
    assert "<strong>50%</strong>" in html
    assert "Maria Lopez</a>" in html


def test_the_committee_digest_goes_only_to_committee_and_admins_each_of_their_own_org(
    committee_week: dict[str, Contact],
    olivia: User,
    omar: User,
    cora: User,
    ada: User,
    xavier: User,
    other_org: Organization,
) -> None:
    theirs = make_unit(make_building(other_org, name="Westside Court"), "101")
    lapsed_contact(theirs, xavier, "Wendy Westside")
    flag_lapsed(now=timezone.now() - 9 * DAY)
    flag_lapsed()

    assert send_committee_digests() == 3

    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [cora.email, ada.email, xavier.email]
    )
    for ours in (cora, ada):
        [digest] = sent_to(ours)
        assert "Maria Lopez" in digest.body
        assert "Wendy Westside" not in digest.body + html_of(digest)
        assert "Westside" not in digest.body
    [theirs_digest] = sent_to(xavier)
    assert "Wendy Westside" in theirs_digest.body
    assert "Maria Lopez" not in theirs_digest.body + html_of(theirs_digest)
    assert "Lapse rate: 100% (1 lapsed of 1 active contacts" in theirs_digest.body


def test_the_committee_digest_is_sent_once_a_week(
    committee_week: dict[str, Contact], cora: User, ada: User
) -> None:
    noon = timezone.now()
    monday_noon = noon - timezone.localdate(noon).weekday() * DAY
    monday = timezone.localdate(monday_noon)

    assert send_committee_digests(now=monday_noon) == 2
    assert send_committee_digests(now=monday_noon + 3 * DAY) == 0
    assert send_committee_digests(now=monday_noon + 7 * DAY) == 2

    assert set(DigestLog.objects.values_list("period", flat=True)) == {monday, monday + 7 * DAY}


@pytest.mark.django_db(transaction=True)
def test_two_committee_runs_at_the_same_moment_send_each_member_one_digest(
    committee_week: dict[str, Contact], cora: User, ada: User
) -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL; run it through `make test`")

    sent = run_together(send_committee_digests, send_committee_digests)

    assert sum(sent) == 2
    assert len(sent_to(cora)) == 1 and len(sent_to(ada)) == 1


# The committee's daily list of contacts who need an owner


def test_the_contacts_of_an_organizer_deactivated_this_morning_are_in_the_committees_list(
    unit_1204: Unit, olivia: User, omar: User, cora: User, ada: User
) -> None:
    tamara = make_contact(unit_1204, owner=olivia, name="Tamara Okafor", level=Level.LEADER)
    make_contact(unit_1204, owner=omar, name="Oscar Ruiz")
    nobodys = make_contact(unit_1204, name="Woman in 1204")
    deactivate_member(actor=ada.membership, membership=olivia.membership)

    assert send_orphan_digests() == 2

    [to_cora] = sent_to(cora)
    assert to_cora.subject == "Doorstep: 2 contacts need an owner"
    body = str(to_cora.body)
    # The leader first, her departed owner named as such; Omar's contact is not listed.
    assert body.index("Tamara Okafor, Leader") < body.index("Woman in 1204, New")
    assert "owner: olivia (left)" in body
    assert "owner: nobody" in body
    assert "Oscar Ruiz" not in body
    assert f"/contacts/{nobodys.pk}/" in body and f"/contacts/{tamara.pk}/" in body
    assert "Tamara Okafor" in html_of(to_cora)
    assert sent_to(olivia) == [] and sent_to(omar) == []


def test_no_list_is_sent_on_a_day_every_contact_has_an_owner_and_one_a_day_otherwise(
    unit_1204: Unit, olivia: User, cora: User
) -> None:
    maria = make_contact(unit_1204, owner=olivia, name="Maria Lopez")
    assert send_orphan_digests() == 0

    Contact.objects.filter(pk=maria.pk).update(owner=None)
    assert send_orphan_digests() == 1
    assert send_orphan_digests() == 0
    assert send_orphan_digests(now=timezone.now() + DAY) == 1


# Scheduling, the command, and the broker


def test_the_beat_schedule_holds_the_six_jobs(settings: Any) -> None:
    import contacts.tasks  # noqa: F401  registers the tasks with the app

    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {name: entry["task"] for name, entry in schedule.items()} == {
        "flag-lapsed": "contacts.flag_lapsed",
        "owner-digests": "contacts.send_owner_digests",
        "paces": "contacts.take_paces",
        "orphan-digests": "contacts.send_orphan_digests",
        "committee-digests": "contacts.send_committee_digests",
        "close-meetings": "contacts.close_meetings",
    }
    for entry in schedule.values():
        assert entry["task"] in app.tasks
    hourly: Any = schedule["flag-lapsed"]["schedule"]
    assert (hourly.hour, hourly.minute) == (set(range(24)), {5})
    closing: Any = schedule["close-meetings"]["schedule"]
    assert (closing.hour, closing.minute) == (set(range(24)), {0})
    # The others do what is due and not yet done, so they fire often enough to catch up.
    for name in ("owner-digests", "paces", "orphan-digests", "committee-digests"):
        catching_up: Any = schedule[name]["schedule"]
        assert (catching_up.hour, catching_up.minute) == (set(range(24)), {0, 15, 30, 45})


def test_the_command_sends_the_digests_and_prints_only_counts(
    committee_week: dict[str, Contact], olivia: User
) -> None:
    out = io.StringIO()

    call_command("send_digests", "--daily", "--weekly", stdout=out)

    # The week's contacts include some nobody owns: the committee's daily list goes too.
    assert out.getvalue() == (
        "Sent 2 owner digests.\n"
        "Sent 2 lists of contacts needing an owner.\n"
        "Sent 2 committee digests.\n"
    )
    assert len(mail.outbox) == 6

    out = io.StringIO()
    call_command("send_digests", "--daily", stdout=out)
    assert out.getvalue() == "Sent 0 owner digests.\nSent 0 lists of contacts needing an owner.\n"


def test_the_command_asks_which_digests(db: None) -> None:
    with pytest.raises(CommandError, match="--daily, --weekly, or both"):
        call_command("send_digests")


def test_a_knock_and_a_conversation_are_recorded_while_the_broker_is_unreachable(
    olivia: User,
    maria: Contact,
    unit_1204: Unit,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Nothing listens on port 1: a task sent there would block for seconds, then fail.
    # Every task leaves through app.send_task, so that fails at once and notes the task.
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    sent: list[str] = []

    def unreachable(name: str, *args: object, **kwargs: object) -> None:
        sent.append(name)
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(app, "send_task", unreachable)
    client = Client()
    client.force_login(olivia)

    with django_capture_on_commit_callbacks(execute=True):
        knock = client.post(
            reverse("buildings:knock", args=[unit_1204.building_id, unit_1204.pk]),
            {
                "contact": maria.pk,
                f"c{maria.pk}-outcome": "not_home",
                f"c{maria.pk}-key": new_key(),
            },
        )
        talked = client.post(
            reverse("contacts:talk", args=[maria.pk]),
            {"key": new_key(), "channel": "door", "note": "Will come Thursday", "level": 3},
        )

    assert (knock.status_code, talked.status_code) == (302, 302)
    assert sorted(Visit.objects.filter(contact=maria).values_list("outcome", flat=True)) == [
        Outcome.CONVERSATION,
        Outcome.NOT_HOME,
    ]
    assert sent == []  # nothing in the request path reaches for the broker
