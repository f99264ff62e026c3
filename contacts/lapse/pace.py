"""The organization's pace: its conversations of the last full week against the average of
the four weeks before. A fall past the share the committee sets is the committee taking its
foot off the pedal, the root of a lapse nobody notices until people are lost; the dashboard
shows it as a banner and the committee's weekly digest leads with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from contacts.lapse.rule import Rules, with_clocks
from contacts.lapse.schedule import due_periods, due_week, one_organization
from contacts.lapse.summary import WEEK, local_monday
from contacts.models import Contact, LapseSummary, Level, Outcome, Status, Visit
from organizing.i18n import local_to
from organizing.models import Organization

# The weeks the last one is compared with.
TRAILING_WEEKS = 4
# Fewer conversations than this a week on average is too few to call a fall.
LEAST_PACE = 4
# Those whose conversations count apart: the committed, active and leaders.
COMMITTED = (Level.ACTIVE, Level.LEADER)
ORGANIZERS_NAMED = 3
LEADERS_LAPSING_WITHIN = dt.timedelta(days=7)


@dataclass(frozen=True)
class OrganizerPace:
    name: str
    last_week: int
    average: float


@dataclass(frozen=True)
class Pace:
    week_start: dt.date
    conversations: int
    average: float
    committed: int
    committed_average: float
    alarm_share: int  # percent
    organizers: list[OrganizerPace]
    leaders_lapsing: list[Contact]

    @staticmethod
    def fall(count: int, average: float) -> int:
        """How far the week fell below the average, in percent (0 for a rise)."""
        if average <= 0:
            return 0
        return max(0, round(100 * (1 - count / average)))

    @property
    def fell(self) -> int:
        return self.fall(self.conversations, self.average)

    @property
    def committed_fell(self) -> int:
        return self.fall(self.committed, self.committed_average)

    def as_summary(self) -> dict[str, Any]:
        """What the dashboard's banner shows, kept in the week's LapseSummary."""
        return {
            "week": self.week_start.isoformat(),
            "alarm": self.alarm,
            "conversations": self.conversations,
            "average": self.average,
            "fell": self.fell,
            "committed": self.committed,
            "committed_average": self.committed_average,
            "committed_fell": self.committed_fell,
            "organizers": [[o.name, o.last_week, o.average] for o in self.organizers],
            "leaders": [[leader.pk, leader.name] for leader in self.leaders_lapsing],
        }

    @property
    def alarm(self) -> bool:
        if self.average < LEAST_PACE:
            return False
        return self.fell >= self.alarm_share or (
            self.committed_average >= LEAST_PACE and self.committed_fell >= self.alarm_share
        )


def pace_of(organization: Organization, now: dt.datetime | None = None) -> Pace:
    """Three queries: the weeks' counts, each organizer's, and the leaders about to lapse."""
    now = now or timezone.now()
    this_monday = local_monday(now)
    last_week = this_monday - WEEK
    since = last_week - TRAILING_WEEKS * WEEK
    conversations = Visit.objects.filter(
        organization=organization,
        outcome=Outcome.CONVERSATION,
        happened_at__gte=since,
        happened_at__lt=this_monday,
    )
    in_last_week = Q(happened_at__gte=last_week)
    committed = Q(contact__level__in=COMMITTED)
    counts = conversations.aggregate(
        last=Count("pk", filter=in_last_week),
        before=Count("pk", filter=~in_last_week),
        committed_last=Count("pk", filter=in_last_week & committed),
        committed_before=Count("pk", filter=~in_last_week & committed),
    )
    by_organizer = (
        conversations.exclude(organizer=None)
        .values("organizer")
        .annotate(last=Count("pk", filter=in_last_week), before=Count("pk", filter=~in_last_week))
    )
    names = {
        membership.user_id: membership.display_name
        for membership in organization.memberships.select_related("user")
    }
    organizers = sorted(
        (
            OrganizerPace(
                # Empty for someone who left: the page or email says so in its reader's words.
                name=names.get(row["organizer"], ""),
                last_week=row["last"],
                average=row["before"] / TRAILING_WEEKS,
            )
            for row in by_organizer
            if row["last"] < row["before"] / TRAILING_WEEKS
        ),
        key=lambda pace: (pace.last_week - pace.average, pace.name),
    )[:ORGANIZERS_NAMED]
    return Pace(
        week_start=last_week.date(),
        conversations=counts["last"],
        average=counts["before"] / TRAILING_WEEKS,
        committed=counts["committed_last"],
        committed_average=counts["committed_before"] / TRAILING_WEEKS,
        alarm_share=organization.pace_alarm_percent,
        organizers=organizers,
        leaders_lapsing=leaders_lapsing(organization, now),
    )


def leaders_lapsing(organization: Organization, now: dt.datetime) -> list[Contact]:
    """The leaders whose lapse opens within the week, by the rule: who a slower pace loses
    first."""
    rules = Rules.of(organization)
    horizon = now + LEADERS_LAPSING_WITHIN
    leaders = (
        with_clocks(
            Contact.objects.filter(
                organization=organization, status=Status.ACTIVE, level=Level.LEADER
            )
        )
        .filter(rules.lapsing_by_q(horizon))
        .select_related("owner")
    )
    lapsing = []
    for leader in leaders:
        reading = rules.read(leader, now)
        if reading.lapses_at is not None and now < reading.lapses_at <= horizon:
            lapsing.append((reading.lapses_at, leader))
    lapsing.sort(key=lambda pair: (pair[0], pair[1].name))
    return [leader for _, leader in lapsing]


def last_full_week(now: dt.datetime) -> str:
    return (local_monday(now) - WEEK).date().isoformat()


def take_paces(now: dt.datetime | None = None) -> int:
    """Work out the pace of the last full week for every organization that has not got it
    yet, and keep it on its dashboard summary; return how many were taken. Due from
    settings.PACE_AT on Monday (beat fires this every quarter hour; one missed on Monday
    is taken later that week), or by hand (`manage.py take_paces`): apart from the hourly
    job, whose runs carry the week's pace along, so that its pass costs the same every
    hour. An organization whose pace raises is logged and left to the next run."""
    now = now or timezone.now()
    due = due_periods(now, settings.PACE_AT, due_week)
    taken = 0
    summaries = LapseSummary.objects.filter(organization_id__in=due).select_related("organization")
    for summary in summaries:
        # Its own week: Monday 00:00 where it works.
        with local_to(summary.organization):
            week = last_full_week(now)
            if (summary.pace or {}).get("week") == week:
                continue
            with one_organization("The pace", summary.organization_id):
                summary.pace = pace_of(summary.organization, now).as_summary()
                summary.save(update_fields=["pace"])
                taken += 1
    return taken
