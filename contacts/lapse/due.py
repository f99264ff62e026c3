"""What an owner must do to keep their people: who is due soon, who has lapsed, and the asks
and follow-ups coming due, each with the day and the reason in words. Today and the owner's
daily digest show this same list, worked out by the one rule (contacts.lapse.rule) at the
moment it is shown, so that a cause set less than two days ahead is on Today at once and in
the next digest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contacts.lapse.rule import Clock, Reading, Rules, with_clocks
from contacts.models import (
    Answer,
    Ask,
    Contact,
    FollowUp,
    LapseFlag,
    LapseReason,
    Level,
    Meeting,
    Status,
)
from organizing.models import Membership

# How far ahead Today and the digest look for asks, follow-ups and thresholds coming due.
COMING_DAYS = 7
# Enough for a phone screen and an email; the dashboard has the rest.
LISTED = 100


@dataclass(frozen=True)
class DueLine:
    contact: Contact
    reading: Reading
    # The clock the line is about: the one that runs out first, or for a lapsed contact
    # the one its lapse is for.
    clock: Clock
    # The day to act by, in the reader's language: "Thu" within the coming week, else
    # "Dec 12".
    day: str
    what: str


def day_label(day: dt.date, today: dt.date) -> str:
    if day == today:
        return _("today")
    if today < day < today + dt.timedelta(days=COMING_DAYS):
        return date_format(day, "D")
    return date_format(day, "MONTH_DAY_FORMAT")


# An owner is reminded to confirm who said they would come this many days before a meeting.
CONFIRM_DAYS = 2


@dataclass(frozen=True)
class ConfirmLine:
    """Someone who said yes (or maybe) to a meeting in the next two days: their owner
    confirms they are coming. Shown as a DueLine is, with no lapse to read."""

    contact: Contact
    meeting: Meeting
    day: str
    what: str
    reading: None = None


@dataclass(frozen=True)
class OwnerDue:
    # Most urgent first: the earliest lapse at the top.
    due_soon: list[DueLine]
    # Escalated first, then the longest lapsed.
    lapsed: list[DueLine]
    # Asks, follow-ups and thresholds coming due within the week, not due soon yet.
    coming: list[DueLine]
    # Yeses and maybes to a meeting within two days, the soonest first.
    to_confirm: list[ConfirmLine]

    def __bool__(self) -> bool:
        return bool(self.due_soon or self.lapsed or self.coming or self.to_confirm)


def to_confirm(membership: Membership, now: dt.datetime) -> list[ConfirmLine]:
    """The owner's people who said yes or maybe to a meeting that starts before the end
    of the day after tomorrow: one query."""
    today = timezone.localdate(now)
    until = timezone.make_aware(
        dt.datetime.combine(today + dt.timedelta(days=CONFIRM_DAYS + 1), dt.time())
    )
    invitations = (
        Ask.objects.filter(
            contact__owner_id=membership.user_id,
            contact__organization_id=membership.organization_id,
            contact__status=Status.ACTIVE,
            answer__in=[Answer.YES, Answer.MAYBE],
            meeting__starts_at__gt=now,
            meeting__starts_at__lt=until,
        )
        .select_related("contact__unit__building", "meeting")
        .order_by("meeting__starts_at", "contact__name")[:LISTED]
    )
    lines = []
    for ask in invitations:
        meeting = ask.meeting
        assert meeting is not None
        starts = timezone.localtime(meeting.starts_at)
        if ask.answer == Answer.YES:
            what = _("confirm they are coming to “%(meeting)s” at %(time)s (said yes)")
        else:
            what = _("confirm they are coming to “%(meeting)s” at %(time)s (said maybe)")
        lines.append(
            ConfirmLine(
                contact=ask.contact,
                meeting=meeting,
                day=day_label(starts.date(), today),
                what=what % {"meeting": meeting.title, "time": time_format(starts, "TIME_FORMAT")},
            )
        )
    return lines


def words(contact: Contact, clock: Clock, rules: Rules) -> str:
    """The reason in the words of the digest and Today."""
    if clock.reason == LapseReason.ASK_OVERDUE:
        ask = contact.pending_asks[0]  # type: ignore[attr-defined]
        return _("answer due on “%(question)s”") % {"question": ask.question}
    if clock.reason == LapseReason.FOLLOW_UP_MISSED:
        follow_up = contact.open_follow_ups[0]  # type: ignore[attr-defined]
        return _("the follow-up you planned (%(purpose)s)") % {"purpose": follow_up.purpose}
    days = rules.days_by_level[contact.level]
    cadence = ngettext("%(level)s: every %(days)s day", "%(level)s: every %(days)s days", days) % {
        "level": str(Level(contact.level).label).lower(),
        "days": days,
    }
    if clock.reason == LapseReason.NEVER_TALKED:
        added = timezone.localdate(contact.created_at)
        return _("never talked to, added %(day)s (%(cadence)s)") % {
            "day": date_format(added, "MONTH_DAY_FORMAT"),
            "cadence": cadence,
        }
    talked = timezone.localdate(contact.last_conversation_at)  # type: ignore[arg-type]
    return _("no conversation since %(day)s (%(cadence)s)") % {
        "day": date_format(talked, "MONTH_DAY_FORMAT"),
        "cadence": cadence,
    }


def owner_due(membership: Membership, now: dt.datetime) -> OwnerDue:
    """The owner's active contacts whose first clock runs out within the coming week or has
    run out, read by the rule, and who to confirm for a meeting: four queries."""
    rules = Rules.of(membership.organization)
    horizon = now + dt.timedelta(days=COMING_DAYS)
    contacts = (
        with_clocks(
            Contact.objects.filter(
                organization_id=membership.organization_id,
                owner_id=membership.user_id,
                status=Status.ACTIVE,
            )
        )
        .filter(rules.lapsing_by_q(horizon))
        .select_related("unit__building")
        .prefetch_related(
            Prefetch(
                "asks",
                queryset=Ask.objects.filter(answer=Answer.PENDING).order_by("due_on", "pk"),
                to_attr="pending_asks",
            ),
            Prefetch(
                "follow_ups",
                queryset=FollowUp.objects.open().order_by("planned_for", "pk"),
                to_attr="open_follow_ups",
            ),
        )
        .order_by("pk")[: LISTED * 5]
    )
    today = timezone.localdate(now)

    def line(contact: Contact, reading: Reading, clock: Clock) -> DueLine:
        return DueLine(
            contact=contact,
            reading=reading,
            clock=clock,
            day=day_label(clock.act_by, today),
            what=words(contact, clock, rules),
        )

    due_soon, lapsed, coming = [], [], []
    for contact in contacts:
        reading = rules.read(contact, now)
        if reading.lapses_at is None:
            continue  # Snoozed: not counted.
        if reading.flag in (LapseFlag.LAPSED, LapseFlag.ESCALATED):
            clock = reading.clock_for(reading.reason)
            assert clock is not None
            lapsed.append(line(contact, reading, clock))
            continue
        first = reading.first
        assert first is not None
        if reading.flag == LapseFlag.DUE_SOON:
            due_soon.append(line(contact, reading, first))
        elif first.runs_out_at <= horizon:
            coming.append(line(contact, reading, first))
    due_soon.sort(key=lambda line: (line.clock.runs_out_at, line.contact.name))
    lapsed.sort(
        key=lambda line: (
            line.reading.flag != LapseFlag.ESCALATED,
            line.reading.lapses_at,
            line.contact.name,
        )
    )
    coming.sort(key=lambda line: (line.clock.runs_out_at, line.contact.name))
    return OwnerDue(
        due_soon=due_soon[:LISTED],
        lapsed=lapsed[:LISTED],
        coming=coming[:LISTED],
        to_confirm=to_confirm(membership, now),
    )
