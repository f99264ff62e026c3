"""The lapse rule, in one place: when each of a contact's clocks runs out, which one decides,
and so whether the contact is within time, due soon or lapsed.

A counted contact (active, and not snoozed today) lapses at the earliest of three moments:
1. the threshold of its level after its last conversation or, never talked to, after it
   was added;
2. the start of the day after the due date of its earliest unanswered ask;
3. the start of the day after the date of its earliest open follow-up.
It is due soon from its level's lead time, plus a day, before that moment: the owner's
digest goes out once a day, so the last digest before the lead time names it. A lapse's
reason is an overdue ask, else a missed follow-up, else the time without a conversation.
A contact that is not counted (snoozed, moved, do not contact, erased) is never due soon
nor lapsed.

The hourly job (contacts.lapse.job) writes the same rule in SQL for every contact at once,
and tests/lapse/test_one_rule.py holds the two to the same answers case by case. Pages read
contacts annotated `with_clocks()` and ask `Rules.read`.
"""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass
from functools import cache, reduce
from typing import Any

from django.db.models import (
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from contacts.models import (
    Answer,
    Ask,
    Contact,
    FollowUp,
    LapseFlag,
    LapseReason,
    LapseThreshold,
    Status,
)
from organizing.models import Organization

# The owner's digest comes once a day: a lapse is due soon this much before its lead time,
# so that the digest before the lead time begins names it.
DIGEST_INTERVAL = dt.timedelta(days=1)
# The stored flags, least to most urgent.
URGENCY = [LapseFlag.OK, LapseFlag.DUE_SOON, LapseFlag.LAPSED, LapseFlag.ESCALATED]


# Forms refuse dates more than two years ahead; one stored before, or by another path, is
# read as this far-off day, so that adding a day or a time zone never overflows a page.
LATEST_DAY = dt.date(9000, 1, 1)


def start_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(min(day, LATEST_DAY), dt.time.min))


def with_clocks(contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    """The contacts with the two dates the rule needs beside their own row: their earliest
    unanswered ask's due date (`first_ask_due`) and earliest open follow-up's date
    (`first_follow_up_on`), as subqueries."""
    asks, follow_ups = _clock_subqueries()
    return contacts.annotate(first_ask_due=Subquery(asks), first_follow_up_on=Subquery(follow_ups))


@cache
def _clock_subqueries() -> tuple[QuerySet[Any], QuerySet[Any]]:
    """Built once per process: the same for every query, and building them cost more than
    the rest of a unit page's residents query (Subquery works on its own copy)."""
    asks = (
        Ask.objects.filter(contact=OuterRef("pk"), answer=Answer.PENDING)
        .order_by()
        .values("contact")
        .annotate(first=Min("due_on"))
        .values("first")
    )
    follow_ups = (
        FollowUp.objects.open()
        .filter(contact=OuterRef("pk"))
        .order_by()
        .values("contact")
        .annotate(first=Min("planned_for"))
        .values("first")
    )
    return asks, follow_ups


@dataclass(frozen=True)
class Clock:
    """One of a contact's clocks: the moment it runs out, why, and the day the owner must
    act by (the ask's or follow-up's own date; the day the threshold runs out)."""

    runs_out_at: dt.datetime
    reason: LapseReason
    act_by: dt.date


@dataclass(frozen=True)
class Reading:
    """What the rule says of one contact at one moment."""

    flag: LapseFlag
    # When the lapse opens (or opened), by the earliest clock; None when not counted.
    lapses_at: dt.datetime | None
    # Why: for a lapsed contact, the rule's order of reasons among the clocks run out; for
    # one not lapsed yet, the clock that runs out first.
    reason: LapseReason | None
    clocks: tuple[Clock, ...]

    @property
    def first(self) -> Clock | None:
        return min(self.clocks, key=lambda clock: clock.runs_out_at, default=None)

    def clock_for(self, reason: str | None) -> Clock | None:
        """The clock a lapse for this reason is counted from."""
        return next((clock for clock in self.clocks if clock.reason == reason), None)


# Rules.of's, by (organization, version of its thresholds). Rules are frozen, so threads may
# share them; a version no longer read stays until the process is replaced (gunicorn's
# max_requests), a few hundred bytes each.
KEPT: dict[tuple[int, int], Rules] = {}

# Among the clocks run out, which one a lapse is said to be for.
REASON_ORDER = [
    LapseReason.ASK_OVERDUE,
    LapseReason.FOLLOW_UP_MISSED,
    LapseReason.NEVER_TALKED,
    LapseReason.NO_CONVERSATION,
]


@dataclass(frozen=True)
class Rules:
    """An organization's days a level may go without a conversation, and its lead times."""

    days_by_level: dict[int, int]
    lead_days_by_level: dict[int, int]

    @classmethod
    def of(cls, organization: Organization) -> Rules:
        """The organization's rules, kept in this process until its thresholds change
        (Organization.lapse_rules_version, read with the organization): a page asks no
        query for them but the first time."""
        key = (organization.pk, organization.lapse_rules_version)
        rules = KEPT.get(key)
        if rules is None:
            rules = KEPT[key] = cls.of_each([organization])[organization.pk]
        return rules

    @classmethod
    def of_each(cls, organizations: list[Organization]) -> dict[int, Rules]:
        settings = LapseThreshold.settings_by_level([o.pk for o in organizations])
        return {
            pk: cls(days_by_level=days, lead_days_by_level=leads)
            for pk, (days, leads) in settings.items()
        }

    def threshold(self, level: int) -> dt.timedelta:
        return dt.timedelta(days=self.days_by_level[level])

    def warning(self, level: int) -> dt.timedelta:
        """How long before a lapse the contact is due soon."""
        return dt.timedelta(days=self.lead_days_by_level[level]) + DIGEST_INTERVAL

    def clocks(self, contact: Contact) -> tuple[Clock, ...]:
        """Needs `first_ask_due` and `first_follow_up_on` (with_clocks)."""
        talked = contact.last_conversation_at
        runs_out = (talked or contact.created_at) + self.threshold(contact.level)
        clocks = [
            Clock(
                runs_out_at=runs_out,
                reason=LapseReason.NO_CONVERSATION if talked else LapseReason.NEVER_TALKED,
                act_by=timezone.localdate(runs_out),
            )
        ]
        for day, reason in (
            (contact.first_ask_due, LapseReason.ASK_OVERDUE),  # type: ignore[attr-defined]
            (contact.first_follow_up_on, LapseReason.FOLLOW_UP_MISSED),  # type: ignore[attr-defined]
        ):
            if day is not None:
                clocks.append(
                    Clock(
                        runs_out_at=start_of_day(min(day, LATEST_DAY) + dt.timedelta(days=1)),
                        reason=reason,
                        act_by=day,
                    )
                )
        return tuple(clocks)

    def read(self, contact: Contact, now: dt.datetime) -> Reading:
        today = timezone.localdate(now)
        snoozed = contact.snoozed_until is not None and contact.snoozed_until >= today
        if contact.status != Status.ACTIVE or snoozed:
            return Reading(flag=LapseFlag.OK, lapses_at=None, reason=None, clocks=())
        clocks = self.clocks(contact)
        lapses_at = min(clock.runs_out_at for clock in clocks)
        run_out = {clock.reason for clock in clocks if clock.runs_out_at <= now}
        if run_out:
            # Escalation is the job's to decide: it knows when the lapse opened.
            escalated = contact.lapse_flag == LapseFlag.ESCALATED
            return Reading(
                flag=LapseFlag.ESCALATED if escalated else LapseFlag.LAPSED,
                lapses_at=lapses_at,
                reason=next(reason for reason in REASON_ORDER if reason in run_out),
                clocks=clocks,
            )
        first = min(clocks, key=lambda clock: clock.runs_out_at)
        due = now >= lapses_at - self.warning(contact.level)
        return Reading(
            flag=LapseFlag.DUE_SOON if due else LapseFlag.OK,
            lapses_at=lapses_at,
            reason=first.reason,
            clocks=clocks,
        )

    def lapsing_by_q(self, moment: dt.datetime) -> Q:
        """Contacts annotated with_clocks() whose earliest clock runs out at or before
        `moment`, counted or not: to narrow a page to the few the rule is then asked about."""
        day = timezone.localdate(moment)
        by_threshold = [
            Q(level=level)
            & (
                Q(last_conversation_at__lte=moment - dt.timedelta(days=days))
                | Q(
                    last_conversation_at__isnull=True,
                    created_at__lte=moment - dt.timedelta(days=days),
                )
            )
            for level, days in self.days_by_level.items()
        ]
        return (
            reduce(operator.or_, by_threshold)
            | Q(first_ask_due__lt=day)
            | Q(first_follow_up_on__lt=day)
        )


def most_urgent(flags: list[LapseFlag]) -> LapseFlag | None:
    return max(flags, key=URGENCY.index) if flags else None
