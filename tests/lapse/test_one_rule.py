"""One lapse rule: the hourly job's SQL and the pages' Python give the same answer for every
case, and the answer the rule's words give (contacts.lapse.rule)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone

from buildings.models import Unit
from contacts.lapse.job import flag_lapsed
from contacts.lapse.rule import Rules, with_clocks
from contacts.models import (
    Answer,
    Ask,
    Contact,
    FollowUp,
    LapseFlag,
    LapseReason,
    LapseThreshold,
    Level,
    Outcome,
    Status,
    Visit,
)
from tests.makers import make_contact

# A Wednesday afternoon, local time: no run crosses midnight.
NOW = dt.datetime(2026, 3, 11, 15, 0, tzinfo=dt.UTC).astimezone(timezone.get_default_timezone())
TODAY = NOW.date()
DAY = dt.timedelta(days=1)

OK, DUE, LAPSED = LapseFlag.OK, LapseFlag.DUE_SOON, LapseFlag.LAPSED
TIME, NEVER = LapseReason.NO_CONVERSATION, LapseReason.NEVER_TALKED
ASK, FOLLOW_UP = LapseReason.ASK_OVERDUE, LapseReason.FOLLOW_UP_MISSED


@dataclass(frozen=True)
class Case:
    """A contact, and what the rule says of it. Days are relative to today; a leader's
    threshold is 7 days and every lead time 2 days, so a leader is due soon 3 days ahead."""

    name: str
    flag: LapseFlag
    reason: LapseReason | None = None
    level: int = Level.LEADER
    talked_days_ago: float | None = 1
    added_days_ago: float = 90
    status: Status = Status.ACTIVE
    snoozed_until: int | None = None
    asks: tuple[tuple[int, Answer], ...] = ()
    # (day, "open", "done" or "cancelled")
    follow_ups: tuple[tuple[int, str], ...] = field(default=())


CASES = [
    Case("talked to yesterday", OK),
    Case("a leader 5 days without a conversation", DUE, TIME, talked_days_ago=5),
    Case("a leader 3.5 days without one: 3.5 days to go", OK, talked_days_ago=3.5),
    Case("a leader 8 days without one", LAPSED, TIME, talked_days_ago=8),
    Case(
        "never talked to, added 61 days ago",
        LAPSED,
        NEVER,
        level=Level.NEW,
        talked_days_ago=None,
        added_days_ago=61,
    ),
    Case(
        "never talked to, added yesterday",
        OK,
        level=Level.NEW,
        talked_days_ago=None,
        added_days_ago=1,
    ),
    Case(
        "never talked to, a leader added 6 days ago",
        DUE,
        NEVER,
        talked_days_ago=None,
        added_days_ago=6,
    ),
    Case("an ask due yesterday", LAPSED, ASK, asks=((-1, Answer.PENDING),)),
    Case("an ask due today", DUE, ASK, asks=((0, Answer.PENDING),)),
    Case("an ask due tomorrow", DUE, ASK, asks=((1, Answer.PENDING),)),
    Case("an ask due in 5 days", OK, asks=((5, Answer.PENDING),)),
    Case("an ask answered yes, due yesterday", OK, asks=((-1, Answer.YES),)),
    Case("a follow-up planned for yesterday", LAPSED, FOLLOW_UP, follow_ups=((-1, "open"),)),
    Case("a follow-up in 2 days", DUE, FOLLOW_UP, follow_ups=((2, "open"),)),
    Case("a follow-up of yesterday, done", OK, follow_ups=((-1, "done"),)),
    Case("a follow-up of yesterday, cancelled", OK, follow_ups=((-1, "cancelled"),)),
    Case(
        "an ask overdue and the time run out: the ask is the reason",
        LAPSED,
        ASK,
        talked_days_ago=30,
        asks=((-3, Answer.PENDING),),
    ),
    Case(
        "a follow-up missed and the time run out: the follow-up is the reason",
        LAPSED,
        FOLLOW_UP,
        talked_days_ago=30,
        follow_ups=((-2, "open"),),
    ),
    Case("snoozed until tomorrow", OK, talked_days_ago=30, snoozed_until=1),
    Case("snoozed until today", OK, talked_days_ago=30, snoozed_until=0),
    Case("a snooze that ended yesterday", LAPSED, TIME, talked_days_ago=30, snoozed_until=-1),
    Case("moved out", OK, talked_days_ago=30, status=Status.MOVED),
    Case(
        "do not contact",
        OK,
        talked_days_ago=30,
        status=Status.DO_NOT_CONTACT,
        asks=((-1, Answer.PENDING),),
    ),
    Case("erased", OK, talked_days_ago=30, status=Status.ERASED),
    Case(
        "a supporter 22 days without one: no threshold set, the default 21",
        LAPSED,
        TIME,
        level=Level.SUPPORTER,
        talked_days_ago=22,
    ),
    Case(
        "an active member 7 days without one: the committee's 10 days and 3 of lead",
        DUE,
        TIME,
        level=Level.ACTIVE,
        talked_days_ago=7,
    ),
    Case(
        "an active member 5 days without one: 5 to go, warned 4 ahead",
        OK,
        level=Level.ACTIVE,
        talked_days_ago=5,
    ),
]


def make(case: Case, unit: Unit, owner: User) -> Contact:
    contact = make_contact(unit, owner=owner, name=case.name[:200], level=case.level)
    talked = None if case.talked_days_ago is None else NOW - case.talked_days_ago * DAY
    Contact.objects.filter(pk=contact.pk).update(
        created_at=NOW - case.added_days_ago * DAY,
        last_conversation_at=talked,
        status=case.status,
        snoozed_until=None if case.snoozed_until is None else TODAY + case.snoozed_until * DAY,
        snooze_reason="" if case.snoozed_until is None else "Away",
    )
    for days, answer in case.asks:
        Ask.objects.create(
            contact=contact,
            question="Meeting?",
            asked_by=owner,
            due_on=TODAY + days * DAY,
            answer=answer,
        )
    for days, state in case.follow_ups:
        done_by = None
        if state == "done":
            done_by = Visit.objects.create(
                organization=contact.organization,
                contact=contact,
                unit=unit,
                organizer=owner,
                outcome=Outcome.CONVERSATION,
                happened_at=NOW - DAY,
            )
        FollowUp.objects.create(
            contact=contact,
            planned_for=TODAY + days * DAY,
            purpose="Check in",
            assigned_to=owner,
            done_by=done_by,
            cancelled_at=NOW if state == "cancelled" else None,
            cancel_reason="Not needed" if state == "cancelled" else "",
        )
    return contact


@pytest.fixture
def contacts(unit_1204: Unit, olivia: User) -> dict[str, Contact]:
    LapseThreshold.objects.create(
        organization=unit_1204.building.organization, level=Level.ACTIVE, days=10, lead_days=3
    )
    with time_machine.travel(NOW, tick=False):
        return {case.name: make(case, unit_1204, olivia) for case in CASES}


def test_the_job_and_the_pages_give_the_rules_answer_for_every_case(
    contacts: dict[str, Contact],
) -> None:
    with time_machine.travel(NOW, tick=False):
        flag_lapsed(now=NOW)
        organization = next(iter(contacts.values())).organization
        rules = Rules.of(organization)
        read = {c.name: rules.read(c, NOW) for c in with_clocks(Contact.objects.all())}
    stored = {c.name: c for c in Contact.objects.all()}

    expected = {case.name: (case.flag, case.reason) for case in CASES}
    by_pages = {
        name: (reading.flag, reading.reason if reading.flag != OK else None)
        for name, reading in read.items()
    }
    by_job = {
        name: (LapseFlag(c.lapse_flag), LapseReason(c.lapse_reason) if c.lapse_reason else None)
        for name, c in stored.items()
    }
    # The job keeps a reason only for an open lapse; the pages say what will open one.
    by_job_with_due_reason = {
        name: (flag, reason if flag != DUE else expected[name][1])
        for name, (flag, reason) in by_job.items()
    }
    assert by_pages == expected
    assert by_job_with_due_reason == expected
    assert {name: flag for name, (flag, _) in by_job.items()} == {
        name: flag for name, (flag, _) in expected.items()
    }
