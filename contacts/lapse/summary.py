"""What the hourly job keeps for the committee's dashboard: the figures that take a pass over
every contact of an organization (how many are counted, per building, per owner, the weekly
lapse rate). Counting them at each request would cost the dashboard more as the organization
grows; the job reads every contact anyway, so it counts them in that same pass, once an hour
(contacts.lapse.job), and the dashboard says when.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from contacts.lapse.schedule import by_zone
from contacts.models import (
    Contact,
    LapseEpisode,
    LapseFlag,
    LapseSummary,
    Outcome,
    Status,
    Visit,
)
from organizing.i18n import local_to
from organizing.models import Organization

WEEK = dt.timedelta(weeks=1)
CHART_WEEKS = 12
FLAGGED = (LapseFlag.LAPSED, LapseFlag.ESCALATED)


def counted_q(today: dt.date, prefix: str = "") -> Q:
    """The contacts the lapse job watches: active, and not snoozed (a snooze holds through
    its last day), as in contacts.lapse."""
    return Q(**{f"{prefix}status": Status.ACTIVE}) & (
        Q(**{f"{prefix}snoozed_until__isnull": True}) | Q(**{f"{prefix}snoozed_until__lt": today})
    )


def local_monday(now: dt.datetime) -> dt.datetime:
    """Midnight at the start of this week (Monday), in the organization's local time."""
    local = timezone.localtime(now)
    monday = local.date() - dt.timedelta(days=local.weekday())
    return dt.datetime.combine(monday, dt.time.min, tzinfo=local.tzinfo)


def week_label(day: dt.date) -> str:
    """A week kept by the day it started, as an ISO date: the job writes it in no one's
    language, and the chart shows it in its reader's (contacts.committee.charts.Point)."""
    return day.isoformat()


def take_summaries(
    now: dt.datetime,
    groups: list[dict[str, Any]],
    past: PastWeeks | None = None,
    organizations: list[Organization] | None = None,
) -> list[LapseSummary]:
    """Keep, for every organization (or these), what the dashboard's figures and tables show: the
    counts by organization, building and owner that the job's pass over the contacts made
    (contacts.lapse.flag_lapsed, in the same transaction), with each organization's
    conversations and weekly lapse rate (the past weeks' as past_weeks found them before
    the job's writes)."""
    by_organization: dict[int, list[dict[str, Any]]] = {}
    for group in groups:
        by_organization.setdefault(group["organization_id"], []).append(group)
    conversations = conversations_by_week(now)
    past = past or past_weeks(now)
    summaries = []
    for organization in organizations or Organization.objects.order_by("pk"):
        # Its weeks are labelled by its own Mondays.
        with local_to(organization):
            summary = take_summary(
                organization,
                now,
                by_organization.get(organization.pk, []),
                conversations=conversations.get(organization.pk, (0, 0)),
                past=past,
            )
        summaries.append(summary)
    return summaries


@dataclass(frozen=True)
class PastWeeks:
    """The weekly lapse rate's past weeks (week_ends but the last), by organization: as
    the last run kept them, or else the lapses open at each of their ends."""

    rates: dict[int, list[Any]]
    lapses: dict[int, list[int]]
    # The last full week's pace where it was taken (contacts.lapse.pace), carried along.
    paces: dict[int, dict[str, Any]] = field(default_factory=dict)


def past_weeks(now: dt.datetime) -> PastWeeks:
    """The past weeks of each organization's weekly lapse rate, read before the job opens or
    ends any lapse. A past week's figure stays as it was: a lapse opened now opened after
    its end, and one ended now was open at it. So within a week they are carried from the
    last run's summary; in a new week, or with no summary, the lapses open at each end are
    counted afresh, from those that ended (LapseEpisode) and those still open (on the
    contacts, read off the flag's index), and divided by the contacts counted now."""
    kept = {
        summary.organization_id: summary
        for summary in LapseSummary.objects.only("taken_at", "weeks", "pace")
    }
    rates: dict[int, list[Any]] = {}
    paces: dict[int, dict[str, Any]] = {}
    lapses: dict[int, list[int]] = {}
    for zone, organization_ids in by_zone().items():
        # Each organization's weeks end on its own Mondays.
        with timezone.override(zone):
            this_monday = local_monday(now)
            last_week = (this_monday - WEEK).date().isoformat()
            for organization_id in organization_ids:
                summary = kept.get(organization_id)
                if summary is None:
                    continue
                if local_monday(summary.taken_at) == this_monday and summary.taken_at <= now:
                    rates[organization_id] = summary.weeks[:-1]
                if summary.pace.get("week") == last_week:
                    paces[organization_id] = summary.pace
            afresh = [pk for pk in organization_ids if pk not in rates]
            if afresh:
                lapses |= lapses_at_week_ends(afresh, week_ends(now)[:-1])
    return PastWeeks(rates=rates, lapses=lapses, paces=paces)


def lapses_at_week_ends(
    organization_ids: list[int], ends: list[dt.datetime]
) -> dict[int, list[int]]:
    """The lapses open at each of `ends`, for these organizations: those that ended
    (LapseEpisode) and those still open (on the contacts, read off the flag's index)."""
    lapses: dict[int, list[int]] = {}
    for rows, started, ended in (
        (
            LapseEpisode.objects.filter(resolved_at__gt=ends[0]),
            "started_at",
            "resolved_at",
        ),
        (
            Contact.objects.filter(lapse_flag__in=FLAGGED),
            "lapse_started_at",
            None,
        ),
    ):
        open_at = {
            f"w{i}": Count(
                "pk",
                filter=Q(**{f"{started}__lte": end})
                & (Q(**{f"{ended}__gt": end}) if ended else Q()),
            )
            for i, end in enumerate(ends)
        }
        counted = (
            rows.filter(organization__in=organization_ids, **{f"{started}__lte": ends[-1]})
            .values("organization_id")
            .annotate(**open_at)
            .order_by()
            .values_list("organization_id", *open_at)
        )
        for organization, *counts in counted:
            total = lapses.setdefault(organization, [0] * len(ends))
            lapses[organization] = [a + b for a, b in zip(total, counts, strict=True)]
    return lapses


def conversations_by_week(now: dt.datetime) -> dict[int, tuple[int, int]]:
    """Each organization's conversations this week and last, recorded by now, its weeks
    starting on its own Mondays. The last run's counts carry on, with the conversations
    recorded since (an hour's, read off visit_org_talk_recorded); counted afresh in a new
    week, or for an organization the last run did not count."""
    previous = {
        summary.organization_id: summary
        for summary in LapseSummary.objects.only(
            "taken_at", "conversations_this_week", "conversations_last_week"
        )
    }
    last = max((summary.taken_at for summary in previous.values()), default=None)
    counts: dict[int, tuple[int, int]] = {}
    for zone, organization_ids in by_zone().items():
        with timezone.override(zone):
            counts |= conversations_in_zone(now, organization_ids, previous, last)
    return counts


def conversations_in_zone(
    now: dt.datetime,
    organization_ids: list[int],
    previous: dict[int, LapseSummary],
    last: dt.datetime | None,
) -> dict[int, tuple[int, int]]:
    """conversations_by_week for the organizations of the active time zone."""
    this_monday = local_monday(now)
    carried = [
        organization
        for organization in organization_ids
        if organization in previous
        and last is not None
        and previous[organization].taken_at == last
        and local_monday(last) == this_monday
        and last <= now
    ]
    conversations = Visit.objects.filter(
        outcome=Outcome.CONVERSATION, happened_at__gte=this_monday - WEEK, recorded_at__lte=now
    )
    afresh = [organization for organization in organization_ids if organization not in carried]
    counts = dict.fromkeys(carried, (0, 0))
    # Each by organization, so that each reads its organizations' part of an index.
    for partial in (
        conversations.filter(organization__in=carried, recorded_at__gt=last)
        if carried
        else conversations.none(),
        conversations.filter(organization__in=afresh) if afresh else conversations.none(),
    ):
        weeks = (
            partial.values("organization_id")
            .annotate(
                # Of a column of visit_org_conversation, so that it is read alone.
                this_week=Count("happened_at", filter=Q(happened_at__gte=this_monday)),
                last_week=Count("happened_at", filter=Q(happened_at__lt=this_monday)),
            )
            .order_by()
        )
        for week in weeks:
            counts[week["organization_id"]] = (week["this_week"], week["last_week"])
    for organization in carried:
        this_week, last_week = counts[organization]
        summary = previous[organization]
        counts[organization] = (
            summary.conversations_this_week + this_week,
            summary.conversations_last_week + last_week,
        )
    return counts


def take_summary(
    organization: Organization,
    now: dt.datetime,
    groups: list[dict[str, Any]],
    *,
    conversations: tuple[int, int],
    past: PastWeeks,
) -> LapseSummary:
    """Keep one organization's counts by building and owner as its figures and tables,
    with its weekly lapse rate."""
    summary = LapseSummary(
        organization=organization,
        taken_at=now,
        conversations_this_week=conversations[0],
        conversations_last_week=conversations[1],
        pace=past.paces.get(organization.pk, {}),
    )
    lapsed = 0
    buildings: dict[str, list[int]] = {}
    owners: dict[str, list[int]] = {}
    for group in groups:
        summary.counted += group["counted"]
        summary.due_soon += group["due_soon"]
        summary.leaders += group["leaders"]
        summary.leaders_reached += group["leaders_reached"]
        summary.orphaned += group["orphaned"]
        summary.asks_overdue += group["asks_overdue"]
        if group["building_id"] is not None:
            line = buildings.setdefault(str(group["building_id"]), [0, 0, 0])
            line[0] += group["counted"]
            line[1] += group["reached"]
            line[2] += group["leaders"]
        if group["owner_id"] is not None:
            owned = owners.setdefault(str(group["owner_id"]), [0, 0])
            owned[0] += group["owned"]
            owned[1] += group["lapsed"]
        lapsed += group["lapsed"]
    summary.buildings, summary.owners = buildings, owners
    if organization.pk in past.rates:
        this_week = weekly_lapse_rate(now, [lapsed], summary.counted)
        summary.weeks = [*past.rates[organization.pk], *this_week]
    else:
        lapses = past.lapses.get(organization.pk, [0] * (CHART_WEEKS - 1))
        summary.weeks = weekly_lapse_rate(now, [*lapses, lapsed], summary.counted)
    # The organization is the key: an UPDATE, or an INSERT the first time.
    summary.save()
    return summary


def week_ends(now: dt.datetime) -> list[dt.datetime]:
    """The end of each of the last weeks, oldest first: each past week's the Monday after
    it, the last of them this Monday; the current week's is now."""
    this_monday = local_monday(now)
    ends = [this_monday - weeks_ago * WEEK for weeks_ago in range(CHART_WEEKS - 2, -1, -1)]
    return [*ends, now]


def weekly_lapse_rate(
    now: dt.datetime, lapsed_by_week: list[int], counted: int
) -> list[tuple[str, float]]:
    """The lapse rate at the end of each of the last weeks (the current week's: now), from
    the lapses open at that moment (lapsed_by_week, one a week up to this one, oldest
    first): (the week's label, a share).

    An approximation: each week's open lapses are divided by the contacts counted when the
    week was first counted. The app keeps no history of how many contacts were active each
    week, and that number moves slowly next to the number lapsed, so the shape of the line
    is right.
    """
    labels = week_labels(now)[-len(lapsed_by_week) :]
    return [
        (label, lapsed / counted if counted else 0.0)
        for label, lapsed in zip(labels, lapsed_by_week, strict=True)
    ]


def week_labels(now: dt.datetime) -> list[str]:
    """Each of the last weeks (week_ends) by the day it started, oldest first."""
    ends = week_ends(now)
    starts = [end - WEEK for end in ends[:-1]] + [local_monday(now)]
    return [week_label(timezone.localdate(start)) for start in starts]
