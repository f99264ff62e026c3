"""The hourly job: nobody who was asked to step up is dropped silently."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import threading
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from buildings.models import Unit
from contacts.actions import record_visit, snooze_contact, undo_visit
from contacts.erasure import erase_contact
from contacts.lapse import flag_lapsed
from contacts.models import (
    Answer,
    Ask,
    Contact,
    FollowUp,
    LapseEpisode,
    LapseFlag,
    LapseReason,
    LapseSummary,
    LapseThreshold,
    Level,
    Outcome,
    Status,
)
from tests.makers import make_contact, new_key

DAY = dt.timedelta(days=1)


def talk(contact: Contact, by: User, days_ago: float) -> None:
    record_visit(
        member=by.membership,
        contact=contact,
        outcome=Outcome.CONVERSATION,
        happened_at=timezone.now() - days_ago * DAY,
        idempotency_key=new_key(),
    )


def flag(contact: Contact) -> str:
    return Contact.objects.get(pk=contact.pk).lapse_flag


def assert_flags_say_which_episodes_are_open() -> None:
    """The job reads a contact's flag as whether it has an open episode: lapsed or
    escalated exactly when one is open, escalated exactly when that one is."""
    flagged = Contact.objects.filter(lapse_flag__in=(LapseFlag.LAPSED, LapseFlag.ESCALATED))
    escalated = Contact.objects.filter(lapse_flag=LapseFlag.ESCALATED)
    open_episodes = LapseEpisode.objects.filter(resolved_at__isnull=True)
    assert set(flagged.values_list("pk", flat=True)) == set(
        open_episodes.values_list("contact_id", flat=True)
    )
    assert set(escalated.values_list("pk", flat=True)) == set(
        open_episodes.filter(escalated_at__isnull=False).values_list("contact_id", flat=True)
    )


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


def test_the_tamara_case_is_on_the_committees_screen_and_clears_with_a_conversation(
    tamara: Contact, olivia: User
) -> None:
    talk(tamara, olivia, days_ago=8)

    flag_lapsed()
    assert flag(tamara) == LapseFlag.LAPSED
    episode = LapseEpisode.objects.get(contact=tamara)
    assert (episode.reason, episode.level, episode.resolved_at) == (
        LapseReason.NO_CONVERSATION,
        Level.LEADER,
        None,
    )

    record_visit(
        member=olivia.membership,
        contact=tamara,
        outcome=Outcome.NOT_HOME,
        idempotency_key=new_key(),
    )
    flag_lapsed()
    assert flag(tamara) == LapseFlag.LAPSED

    visit, _ = record_visit(
        member=olivia.membership,
        contact=tamara,
        outcome=Outcome.CONVERSATION,
        idempotency_key=new_key(),
    )
    episode.refresh_from_db()
    assert flag(tamara) == LapseFlag.OK  # at once, not at the next run
    assert episode.resolved_at is not None and episode.resolved_by == visit


def test_a_leader_talked_to_six_days_ago_is_due_soon(tamara: Contact, olivia: User) -> None:
    talk(tamara, olivia, days_ago=6)

    counts = flag_lapsed()

    assert flag(tamara) == LapseFlag.DUE_SOON
    assert counts.due_soon == 1 and counts.opened == 0


def test_a_contact_never_talked_to_lapses_after_the_threshold_since_being_added(
    unit_1204: Unit, olivia: User
) -> None:
    fresh = make_contact(unit_1204, owner=olivia, name="New", created_at=timezone.now() - 10 * DAY)
    stale = make_contact(unit_1204, owner=olivia, name="Old", created_at=timezone.now() - 61 * DAY)

    flag_lapsed()

    assert flag(fresh) == LapseFlag.OK
    assert flag(stale) == LapseFlag.LAPSED
    assert LapseEpisode.objects.get(contact=stale).reason == LapseReason.NEVER_TALKED


def test_an_ask_past_due_and_unanswered_is_a_lapse_even_after_a_recent_talk(
    maria: Contact, olivia: User
) -> None:
    talk(maria, olivia, days_ago=1)
    Ask.objects.filter(contact=maria).delete()
    Ask.objects.create(
        contact=maria, question="Meeting?", asked_by=olivia, due_on=timezone.localdate() - DAY
    )

    flag_lapsed()

    assert LapseEpisode.objects.get(contact=maria).reason == LapseReason.ASK_OVERDUE


def test_a_missed_follow_up_visit_is_a_lapse(maria: Contact, olivia: User) -> None:
    talk(maria, olivia, days_ago=3)
    FollowUp.objects.create(
        contact=maria, planned_for=timezone.localdate() - DAY, assigned_to=olivia, purpose="RSVP"
    )

    flag_lapsed()

    assert LapseEpisode.objects.get(contact=maria).reason == LapseReason.FOLLOW_UP_MISSED


def test_a_lapse_older_than_the_grace_period_is_escalated(tamara: Contact, olivia: User) -> None:
    talk(tamara, olivia, days_ago=16)
    flag_lapsed(now=timezone.now() - 8 * DAY)  # first flagged eight days ago
    assert flag(tamara) == LapseFlag.LAPSED

    counts = flag_lapsed()

    assert counts.escalated == 1
    assert flag(tamara) == LapseFlag.ESCALATED
    assert LapseEpisode.objects.get(contact=tamara).escalated_at is not None


def test_snoozed_moved_do_not_contact_and_archived_contacts_never_count(
    unit_1204: Unit, olivia: User
) -> None:
    long_ago = timezone.now() - 100 * DAY
    snoozed = make_contact(
        unit_1204,
        owner=olivia,
        name="Snoozed",
        created_at=long_ago,
        snoozed_until=timezone.localdate() + 3 * DAY,
        snooze_reason="In hospital",
    )
    others = [
        make_contact(unit_1204, owner=olivia, name=status.label, created_at=long_ago, status=status)
        for status in (Status.MOVED, Status.DO_NOT_CONTACT, Status.ARCHIVED)
    ]

    flag_lapsed()

    assert not LapseEpisode.objects.exists()
    assert all(flag(c) == LapseFlag.OK for c in [snoozed, *others])


def test_a_snooze_that_ends_brings_the_lapse_back(maria: Contact) -> None:
    Contact.objects.filter(pk=maria.pk).update(
        created_at=timezone.now() - 100 * DAY,
        snoozed_until=timezone.localdate() - DAY,
        snooze_reason="Travelling",
    )

    flag_lapsed()

    assert flag(maria) == LapseFlag.LAPSED


def test_a_contact_snoozed_while_lapsed_has_the_episode_resolved(maria: Contact) -> None:
    Contact.objects.filter(pk=maria.pk).update(created_at=timezone.now() - 100 * DAY)
    flag_lapsed()
    Contact.objects.filter(pk=maria.pk).update(
        snoozed_until=timezone.localdate() + 5 * DAY, snooze_reason="Travelling"
    )

    flag_lapsed()

    assert LapseEpisode.objects.get(contact=maria).resolved_at is not None
    assert flag(maria) == LapseFlag.OK


def test_two_runs_leave_one_open_episode(tamara: Contact, olivia: User) -> None:
    talk(tamara, olivia, days_ago=10)

    first = flag_lapsed()
    second = flag_lapsed()

    assert (first.opened, second.opened) == (1, 0)
    assert LapseEpisode.objects.filter(contact=tamara, resolved_at__isnull=True).count() == 1


def test_a_run_where_nothing_moved_writes_nothing(tamara: Contact, olivia: User) -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL; run it through `make test`")
    talk(tamara, olivia, days_ago=10)
    flag_lapsed()

    with CaptureQueriesContext(connection) as captured:
        counts = flag_lapsed()

    writes = [
        q["sql"]
        for q in captured.captured_queries
        if any(
            f"{verb} {table}" in q["sql"]
            for verb in ("INSERT INTO", "UPDATE")
            for table in (Contact._meta.db_table, LapseEpisode._meta.db_table)
        )
    ]
    assert writes == []
    assert (counts.opened, counts.resolved, counts.escalated) == (0, 0, 0)
    assert flag(tamara) == LapseFlag.LAPSED


def test_the_run_keeps_the_dashboards_figures_as_of_now(
    tamara: Contact, maria: Contact, olivia: User
) -> None:
    talk(tamara, olivia, days_ago=10)
    now = timezone.now()

    counts = flag_lapsed(now=now)

    summary = LapseSummary.objects.get(organization=tamara.organization)
    assert summary.taken_at == now
    assert (summary.counted, summary.leaders, summary.leaders_reached) == (2, 1, 1)
    building = str(tamara.unit.building_id)  # type: ignore[union-attr]
    assert summary.buildings[building] == [2, 0, 1]  # Maria never talked to: not reached
    assert summary.owners[str(olivia.pk)] == [2, 1]
    assert len(summary.weeks) == 12 and summary.weeks[-1][1] == 0.5
    assert counts.due_soon == summary.due_soon


def test_the_run_carries_this_weeks_conversations_on_with_those_recorded_since(
    maria: Contact, olivia: User
) -> None:
    talk(maria, olivia, days_ago=0)
    flag_lapsed()
    talk(maria, olivia, days_ago=0)
    talk(maria, olivia, days_ago=0)

    flag_lapsed()

    summary = LapseSummary.objects.get(organization=maria.organization)
    assert summary.conversations_this_week == 3


def test_thresholds_are_the_organizations_own(tamara: Contact, olivia: User) -> None:
    talk(tamara, olivia, days_ago=8)
    LapseThreshold.objects.filter(organization=tamara.organization, level=Level.LEADER).update(
        days=10
    )

    flag_lapsed()

    assert flag(tamara) == LapseFlag.DUE_SOON


def test_contacts_of_an_owner_who_left_or_went_quiet_are_orphaned(
    maria: Contact, olivia: User, omar: User, unit_1204: Unit
) -> None:
    quiet = make_contact(unit_1204, owner=omar, name="Omar's")
    nobody = make_contact(unit_1204, owner=None, name="Nobody's")
    talk(maria, olivia, days_ago=1)
    omar.membership.joined_at = timezone.now() - 30 * DAY
    omar.membership.save()

    flag_lapsed()
    assert [Contact.objects.get(pk=c.pk).orphaned for c in (maria, quiet, nobody)] == [
        False,
        True,
        True,
    ]

    olivia.membership.active = False
    olivia.membership.save()
    flag_lapsed()
    assert Contact.objects.get(pk=maria.pk).orphaned


def test_the_management_command_runs_the_same_job(tamara: Contact, olivia: User) -> None:
    talk(tamara, olivia, days_ago=8)
    out = io.StringIO()

    call_command("flag_lapsed", stdout=out)

    assert "Opened 1 lapse episodes" in out.getvalue()
    assert flag(tamara) == LapseFlag.LAPSED


def test_the_beat_schedule_runs_the_job_every_hour() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["flag-lapsed"]

    assert entry["task"] == "contacts.flag_lapsed"
    assert entry["schedule"].hour == set(range(24))  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_moment_leave_exactly_one_open_episode(
    unit_1204: Unit, olivia: User
) -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL; run it through `make test`")
    lapsed = [
        make_contact(unit_1204, owner=olivia, name=f"C{n}", created_at=timezone.now() - 90 * DAY)
        for n in range(20)
    ]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            flag_lapsed()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    for contact in lapsed:
        assert LapseEpisode.objects.filter(contact=contact, resolved_at__isnull=True).count() == 1


def test_the_flag_says_whether_an_episode_is_open_whatever_ends_or_starts_a_lapse(
    tamara: Contact, maria: Contact, olivia: User, cora: User, ada: User, unit_1204: Unit
) -> None:
    neighbour = make_contact(unit_1204, owner=olivia, name="Neighbour")
    for contact in (maria, neighbour):
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - 100 * DAY)
    talk(tamara, olivia, days_ago=16)

    flag_lapsed(now=timezone.now() - 8 * DAY)
    assert_flags_say_which_episodes_are_open()
    counts = flag_lapsed()
    assert counts.escalated == 3
    assert_flags_say_which_episodes_are_open()

    visit, _ = record_visit(
        member=olivia.membership,
        contact=tamara,
        outcome=Outcome.CONVERSATION,
        idempotency_key=new_key(),
    )
    assert_flags_say_which_episodes_are_open()
    snooze_contact(
        member=cora.membership, contact=maria, until=timezone.localdate() + DAY, reason="Away"
    )
    assert_flags_say_which_episodes_are_open()
    erase_contact(member=ada.membership, contact=neighbour)
    assert_flags_say_which_episodes_are_open()

    undo_visit(member=olivia.membership, visit=visit)  # Tamara lapsed again
    counts = flag_lapsed()
    assert (counts.opened, counts.resolved, counts.escalated) == (1, 0, 0)
    assert flag(tamara) == LapseFlag.LAPSED
    assert_flags_say_which_episodes_are_open()


def test_a_lapse_that_ended_past_the_grace_period_is_resolved_not_escalated(
    tamara: Contact, olivia: User
) -> None:
    talk(tamara, olivia, days_ago=16)
    flag_lapsed(now=timezone.now() - 8 * DAY)
    Contact.objects.filter(pk=tamara.pk).update(status=Status.MOVED)

    counts = flag_lapsed()

    assert (counts.resolved, counts.escalated) == (1, 0)
    episode = LapseEpisode.objects.get(contact=tamara)
    assert episode.resolved_at is not None and episode.escalated_at is None
    assert flag(tamara) == LapseFlag.OK


def test_a_conversation_recorded_while_the_job_writes_leaves_no_episode_open_behind_it(
    tamara: Contact, olivia: User
) -> None:
    """The job works out who moved, then writes; a conversation may land in between. The
    contact is then left as record_visit left it, for the next run to look at again."""
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL; run it through `make test`")
    talk(tamara, olivia, days_ago=10)
    talked: list[bool] = []

    def conversation_first(execute: Any, sql: str, *args: Any) -> Any:
        if "SET lapse_flag = s.flag" in sql and not talked:
            talked.append(True)
            talk(tamara, olivia, days_ago=0)
        return execute(sql, *args)

    with connection.execute_wrapper(conversation_first):
        counts = flag_lapsed()

    assert talked
    assert counts.opened == 0
    assert flag(tamara) == LapseFlag.OK
    assert not LapseEpisode.objects.filter(contact=tamara, resolved_at__isnull=True).exists()
    assert_flags_say_which_episodes_are_open()


def test_the_run_counts_asks_past_their_date_of_active_contacts_snoozed_or_not(
    maria: Contact, olivia: User, unit_1204: Unit
) -> None:
    snoozed = make_contact(
        unit_1204,
        owner=olivia,
        name="Snoozed",
        snoozed_until=timezone.localdate() + DAY,
        snooze_reason="Away",
    )
    moved = make_contact(unit_1204, owner=olivia, name="Moved", status=Status.MOVED)
    yesterday = timezone.localdate() - DAY
    for contact, due_on, answer in [
        (maria, yesterday, Answer.PENDING),
        (maria, yesterday - DAY, Answer.PENDING),
        (maria, yesterday, Answer.YES),
        (maria, timezone.localdate() + DAY, Answer.PENDING),
        (snoozed, yesterday, Answer.PENDING),
        (moved, yesterday, Answer.PENDING),
    ]:
        Ask.objects.create(
            contact=contact, question="Meeting?", asked_by=olivia, due_on=due_on, answer=answer
        )

    flag_lapsed()

    assert LapseSummary.objects.get(organization=maria.organization).asks_overdue == 3


def test_the_migration_to_flags_as_open_episodes_makes_them_agree(
    tamara: Contact, maria: Contact, olivia: User, unit_1204: Unit
) -> None:
    """Before, the job went by the episodes and could leave a flag behind them."""
    migration = importlib.import_module(
        "contacts.migrations.0008_contact_building_and_open_episode_index"
    )
    neighbour = make_contact(unit_1204, owner=olivia, name="Neighbour")
    started = {
        "started_at": timezone.now(),
        "reason": LapseReason.NO_CONVERSATION,
        "level": Level.NEW,
    }
    LapseEpisode.objects.create(organization=tamara.organization, contact=tamara, **started)
    Contact.objects.filter(pk=maria.pk).update(lapse_flag=LapseFlag.ESCALATED)
    LapseEpisode.objects.create(
        organization=neighbour.organization,
        contact=neighbour,
        escalated_at=timezone.now(),
        **started,
    )
    Contact.objects.filter(pk=neighbour.pk).update(lapse_flag=LapseFlag.LAPSED)

    migration.flags_say_which_episodes_are_open(apps, None)

    assert [flag(c) for c in (tamara, maria, neighbour)] == [
        LapseFlag.LAPSED,
        LapseFlag.OK,
        LapseFlag.ESCALATED,
    ]
    assert_flags_say_which_episodes_are_open()
