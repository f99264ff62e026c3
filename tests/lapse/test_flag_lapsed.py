"""The hourly job: nobody who was asked to step up is dropped silently."""

from __future__ import annotations

import datetime as dt
import io
import threading
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from buildings.models import Unit
from contacts.actions import record_visit, snooze_contact, undo_visit
from contacts.lapse.job import flag_lapsed
from contacts.lapse.summary import local_monday, week_labels
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
from contacts.privacy.erasure import erase_contact
from tests.makers import make_contact, mark_lapsed, new_key

pytestmark = pytest.mark.usefixtures("clock")  # today is a fixed date: see `clock`

DAY = dt.timedelta(days=1)


def talk(contact: Contact, by: User, days_ago: float) -> None:
    record_visit(
        actor=by.membership,
        contact=contact,
        outcome=Outcome.CONVERSATION,
        happened_at=timezone.now() - days_ago * DAY,
        idempotency_key=new_key(),
    )


def flag(contact: Contact) -> str:
    return Contact.objects.get(pk=contact.pk).lapse_flag


def open_lapse(contact: Contact) -> LapseEpisode | None:
    return Contact.objects.get(pk=contact.pk).open_lapse


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
    lapse = open_lapse(tamara)
    assert lapse is not None
    assert (lapse.reason, lapse.level) == (LapseReason.NO_CONVERSATION, Level.LEADER)

    record_visit(
        actor=olivia.membership,
        contact=tamara,
        outcome=Outcome.NOT_HOME,
        idempotency_key=new_key(),
    )
    flag_lapsed()
    assert flag(tamara) == LapseFlag.LAPSED

    visit, _ = record_visit(
        actor=olivia.membership,
        contact=tamara,
        outcome=Outcome.CONVERSATION,
        idempotency_key=new_key(),
    )
    assert flag(tamara) == LapseFlag.OK  # at once, not at the next run
    assert open_lapse(tamara) is None
    episode = LapseEpisode.objects.get(contact=tamara)
    assert (episode.started_at, episode.reason, episode.level, episode.resolved_by) == (
        lapse.started_at,
        LapseReason.NO_CONVERSATION,
        Level.LEADER,
        visit,
    )
    assert episode.resolved_at >= episode.started_at


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
    assert (lapse := open_lapse(stale)) and lapse.reason == LapseReason.NEVER_TALKED


def test_an_ask_past_due_and_unanswered_is_a_lapse_even_after_a_recent_talk(
    maria: Contact, olivia: User
) -> None:
    talk(maria, olivia, days_ago=1)
    Ask.objects.filter(contact=maria).delete()
    Ask.objects.create(
        contact=maria, question="Meeting?", asked_by=olivia, due_on=timezone.localdate() - DAY
    )

    flag_lapsed()

    assert (lapse := open_lapse(maria)) and lapse.reason == LapseReason.ASK_OVERDUE


def test_a_missed_follow_up_visit_is_a_lapse(maria: Contact, olivia: User) -> None:
    talk(maria, olivia, days_ago=3)
    FollowUp.objects.create(
        contact=maria, planned_for=timezone.localdate() - DAY, assigned_to=olivia, purpose="RSVP"
    )

    flag_lapsed()

    assert (lapse := open_lapse(maria)) and lapse.reason == LapseReason.FOLLOW_UP_MISSED


def test_an_ask_overdue_is_the_reason_before_a_missed_follow_up_and_the_clock(
    maria: Contact, olivia: User
) -> None:
    Contact.objects.filter(pk=maria.pk).update(created_at=timezone.now() - 100 * DAY)
    FollowUp.objects.create(
        contact=maria, planned_for=timezone.localdate() - DAY, assigned_to=olivia, purpose="RSVP"
    )
    Ask.objects.create(
        contact=maria, question="Meeting?", asked_by=olivia, due_on=timezone.localdate() - DAY
    )

    flag_lapsed()

    assert (lapse := open_lapse(maria)) and lapse.reason == LapseReason.ASK_OVERDUE


def test_a_lapse_older_than_the_grace_period_is_escalated(tamara: Contact, olivia: User) -> None:
    talk(tamara, olivia, days_ago=16)
    flag_lapsed(now=timezone.now() - 8 * DAY)  # first flagged eight days ago
    assert flag(tamara) == LapseFlag.LAPSED

    counts = flag_lapsed()

    assert counts.escalated == 1
    assert flag(tamara) == LapseFlag.ESCALATED
    lapse = open_lapse(tamara)
    assert lapse is not None and lapse.escalated_at is not None
    assert lapse.started_at < lapse.escalated_at


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


def test_a_contact_snoozed_while_lapsed_has_the_lapse_kept_as_an_episode(maria: Contact) -> None:
    Contact.objects.filter(pk=maria.pk).update(created_at=timezone.now() - 100 * DAY)
    flag_lapsed(now=timezone.now() - 9 * DAY)
    flag_lapsed(now=timezone.now() - DAY)  # escalated
    lapse = open_lapse(maria)
    Contact.objects.filter(pk=maria.pk).update(
        level=Level.LEADER, snoozed_until=timezone.localdate() + 5 * DAY, snooze_reason="Away"
    )

    counts = flag_lapsed()

    assert counts.resolved == 1
    assert flag(maria) == LapseFlag.OK and open_lapse(maria) is None
    episode = LapseEpisode.objects.get(contact=maria)
    assert lapse and lapse.escalated_at
    # As it opened (at the level she had then), and escalated; ended by this run.
    assert (episode.started_at, episode.reason, episode.level, episode.escalated_at) == (
        lapse.started_at,
        LapseReason.NEVER_TALKED,
        Level.NEW,
        lapse.escalated_at,
    )
    assert episode.resolved_at > lapse.escalated_at and episode.resolved_by is None


def test_a_level_the_committee_never_set_lapses_after_its_default_days(
    maria: Contact,
) -> None:
    assert not LapseThreshold.objects.filter(organization=maria.organization).exists()
    Contact.objects.filter(pk=maria.pk).update(created_at=timezone.now() - 59 * DAY)
    flag_lapsed()
    assert flag(maria) != LapseFlag.LAPSED

    Contact.objects.filter(pk=maria.pk).update(created_at=timezone.now() - 61 * DAY)
    flag_lapsed()
    assert flag(maria) == LapseFlag.LAPSED


def test_a_threshold_the_committee_set_replaces_the_default(maria: Contact) -> None:
    LapseThreshold.objects.create(organization=maria.organization, level=Level.NEW, days=90)
    Contact.objects.filter(pk=maria.pk).update(created_at=timezone.now() - 61 * DAY)

    flag_lapsed()

    assert flag(maria) == LapseFlag.OK


def test_two_runs_leave_one_open_episode(tamara: Contact, olivia: User) -> None:
    talk(tamara, olivia, days_ago=10)

    first = flag_lapsed()
    lapse = open_lapse(tamara)
    second = flag_lapsed()

    assert (first.opened, second.opened) == (1, 0)
    again = open_lapse(tamara)
    assert lapse and again and again.started_at == lapse.started_at
    assert not LapseEpisode.objects.filter(contact=tamara).exists()


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
    # Tamara, a leader talked to 10 days ago, is past her 7 days: not reached in time.
    assert (summary.counted, summary.leaders, summary.leaders_reached) == (2, 1, 0)
    building = str(tamara.unit.building_id)  # type: ignore[union-attr]
    assert summary.buildings[building] == [2, 0, 1]  # Maria never talked to: not reached
    assert summary.owners[str(olivia.pk)] == [2, 1]
    assert len(summary.weeks) == 12 and summary.weeks[-1][1] == 0.5
    assert counts.due_soon == summary.due_soon


def test_the_weekly_lapse_rate_counts_the_lapses_open_at_each_weeks_end_once(
    tamara: Contact, maria: Contact
) -> None:
    """A past week's figure can't change: counted in the first run of a week, then kept."""
    now = local_monday(timezone.now()) + dt.timedelta(days=2, hours=12)  # a Wednesday
    # Maria's lapse opened 20 days ago and ended 13 days ago: open at the end (a Monday,
    # 16.5 days ago) of the week before last but one. Tamara's has been open 9 days: open
    # at this week's start, and ended by this run, as she is not lapsed.
    LapseEpisode.objects.create(
        organization=maria.organization,
        contact=maria,
        started_at=now - 20 * DAY,
        resolved_at=now - 13 * DAY,
        reason=LapseReason.NO_CONVERSATION,
        level=Level.NEW,
    )
    mark_lapsed(tamara, since=now - 9 * DAY)

    def rates() -> list[float]:
        summary = LapseSummary.objects.get(organization=tamara.organization)
        assert [label for label, _ in summary.weeks] == week_labels(summary.taken_at)
        return [round(rate * summary.counted, 6) for _, rate in summary.weeks]

    counts = flag_lapsed(now=now)
    assert counts.resolved == 1
    assert rates() == [0] * 8 + [1, 0, 1, 0]

    # An hour later the past weeks are as they were, whatever became of the episodes.
    LapseEpisode.objects.all().delete()
    flag_lapsed(now=now + dt.timedelta(hours=1))
    assert rates() == [0] * 8 + [1, 0, 1, 0]

    # In a new week they are counted again, from what there is.
    flag_lapsed(now=now + 7 * DAY)
    assert rates() == [0] * 12


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
    LapseThreshold.objects.create(organization=tamara.organization, level=Level.LEADER, days=10)

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

    assert "Lapses opened: 1, ended: 0, escalated: 0" in out.getvalue()
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
    opened: list[int] = []

    def run() -> None:
        try:
            start.wait()
            opened.append(flag_lapsed().opened)
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
    # One run opened them all; the other, waiting for it, found nothing left to open.
    assert sorted(opened) == [0, len(lapsed)]
    assert all(open_lapse(contact) for contact in lapsed)
    assert not LapseEpisode.objects.exists()


def test_whatever_ends_a_lapse_keeps_it_as_an_episode_and_the_next_one_opens_afresh(
    tamara: Contact, maria: Contact, olivia: User, cora: User, ada: User, unit_1204: Unit
) -> None:
    neighbour = make_contact(unit_1204, owner=olivia, name="Neighbour")
    for contact in (maria, neighbour):
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - 100 * DAY)
    talk(tamara, olivia, days_ago=16)
    flag_lapsed(now=timezone.now() - 8 * DAY)
    counts = flag_lapsed()
    assert counts.escalated == 3

    visit, _ = record_visit(
        actor=olivia.membership,
        contact=tamara,
        outcome=Outcome.CONVERSATION,
        idempotency_key=new_key(),
    )
    snooze_contact(
        actor=cora.membership, contact=maria, until=timezone.localdate() + DAY, reason="Away"
    )
    erase_contact(actor=ada.membership, contact=neighbour)

    ended = {episode.contact_id: episode for episode in LapseEpisode.objects.all()}
    assert set(ended) == {tamara.pk, maria.pk, neighbour.pk}
    assert all(episode.escalated_at is not None for episode in ended.values())
    assert [ended[c.pk].resolved_by for c in (tamara, maria, neighbour)] == [visit, None, None]
    assert [open_lapse(c) for c in (tamara, maria, neighbour)] == [None, None, None]

    undo_visit(actor=olivia.membership, visit=visit)  # Tamara lapsed again
    counts = flag_lapsed()
    assert (counts.opened, counts.resolved, counts.escalated) == (1, 0, 0)
    assert flag(tamara) == LapseFlag.LAPSED
    lapse = open_lapse(tamara)
    assert lapse and lapse.escalated_at is None and lapse.started_at > ended[tamara.pk].resolved_at
    # The episode the conversation ended stays, without the conversation taken back.
    assert LapseEpisode.objects.get(contact=tamara).resolved_by is None


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
    assert open_lapse(tamara) is None
    assert not LapseEpisode.objects.filter(contact=tamara).exists()


def test_a_conversation_recorded_while_the_job_ends_a_lapse_keeps_it_once(
    tamara: Contact, olivia: User
) -> None:
    """The job finds Tamara's lapse over (she moved); before it writes, a conversation
    ends the lapse itself. One episode, the conversation's."""
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL; run it through `make test`")
    talk(tamara, olivia, days_ago=10)
    flag_lapsed()
    Contact.objects.filter(pk=tamara.pk).update(status=Status.MOVED)
    talked: list[Any] = []

    def conversation_first(execute: Any, sql: str, *args: Any) -> Any:
        if "SET lapse_flag = s.flag" in sql and not talked:
            talked.append(
                record_visit(
                    actor=olivia.membership,
                    contact=tamara,
                    outcome=Outcome.CONVERSATION,
                    idempotency_key=new_key(),
                )[0]
            )
        return execute(sql, *args)

    with connection.execute_wrapper(conversation_first):
        counts = flag_lapsed()

    assert talked and counts.resolved == 0
    assert flag(tamara) == LapseFlag.OK and open_lapse(tamara) is None
    episode = LapseEpisode.objects.get(contact=tamara)
    assert episode.resolved_by == talked[0]


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
