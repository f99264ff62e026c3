"""The committee's screens: who is lapsed, who owns them, and what to do about it.

Every queryset here starts from `request.membership.organization`; a contact id of another
organization is simply not found. The page costs the same few queries whatever the size
of the organization: figures, tables and the chart are aggregates, and the list's notes and
asks are subqueries.
"""

from __future__ import annotations

import csv
import datetime as dt
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from buildings.models import Building
from contacts.actions import reassign_contacts, snooze_contact, update_lapse_settings
from contacts.charts import Point, rate_chart
from contacts.committee_forms import (
    LapsedFilterForm,
    LapseSettingsForm,
    ListState,
    ReassignForm,
    SnoozeForm,
)
from contacts.lapse import Thresholds
from contacts.models import (
    Answer,
    Ask,
    Contact,
    ExportLog,
    LapseEpisode,
    LapseFlag,
    LapseReason,
    Level,
    Outcome,
    Status,
    Visit,
)
from organizing.access import MemberRequest, member_required
from organizing.models import Membership, Organization, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

WEEK = dt.timedelta(weeks=1)
PAGE_SIZE = 50
LEADERS_REACHED_WITHIN = dt.timedelta(days=14)
CHART_WEEKS = 12
FLAGGED = (LapseFlag.LAPSED, LapseFlag.ESCALATED)
WHY = {
    LapseReason.NO_CONVERSATION: "No conversation in time",
    LapseReason.NEVER_TALKED: "Never talked",
    LapseReason.ASK_OVERDUE: "Ask overdue",
    LapseReason.FOLLOW_UP_MISSED: "Follow-up missed",
}
committee_only = member_required(Role.COMMITTEE, Role.ADMIN)


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


def percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else ""


def week_label(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


# The figures


def headline(organization: Organization, now: dt.datetime) -> dict[str, Any]:
    """The five figures at the top, in three queries."""
    today = timezone.localdate(now)
    counted = counted_q(today)
    leaders = Q(status=Status.ACTIVE, level=Level.LEADER)
    figures = Contact.objects.filter(organization=organization).aggregate(
        counted=Count("pk", filter=counted),
        lapsed=Count("pk", filter=counted & Q(lapse_flag__in=FLAGGED)),
        leaders=Count("pk", filter=leaders),
        leaders_reached=Count(
            "pk", filter=leaders & Q(last_conversation_at__gte=now - LEADERS_REACHED_WITHIN)
        ),
        orphaned=Count("pk", filter=Q(status=Status.ACTIVE, orphaned=True)),
    )
    this_monday = local_monday(now)
    figures |= Visit.objects.filter(
        organization=organization,
        outcome=Outcome.CONVERSATION,
        happened_at__gte=this_monday - WEEK,
    ).aggregate(
        this_week=Count("pk", filter=Q(happened_at__gte=this_monday)),
        last_week=Count("pk", filter=Q(happened_at__lt=this_monday)),
    )
    figures["asks_overdue"] = Ask.objects.filter(
        contact__organization=organization,
        contact__status=Status.ACTIVE,
        answer=Answer.PENDING,
        due_on__lt=today,
    ).count()
    figures["rate_percent"] = percent(figures["lapsed"], figures["counted"]) or "0%"
    figures["leaders_missed"] = figures["leaders"] - figures["leaders_reached"]
    return figures


def weekly_lapse_rate(organization: Organization, now: dt.datetime, counted: int) -> list[Point]:
    """The lapse rate at the end of each of the last weeks (the current week: now), from
    the episodes open at that moment, in one query.

    An approximation: each week's open episodes are divided by the contacts counted *now*.
    The app keeps no history of how many contacts were active each week, and that number
    moves slowly next to the number lapsed, so the shape of the line is right.
    """
    this_monday = local_monday(now)
    ends = [this_monday - weeks_ago * WEEK for weeks_ago in range(CHART_WEEKS - 1, 0, -1)]
    ends.append(now)
    open_at = {
        f"w{i}": Count(
            "pk",
            filter=Q(started_at__lte=end) & (Q(resolved_at__isnull=True) | Q(resolved_at__gt=end)),
        )
        for i, end in enumerate(ends)
    }
    counts = (
        LapseEpisode.objects.filter(organization=organization, started_at__lte=now)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=ends[0]))
        .aggregate(**open_at)
    )
    starts = [end - WEEK for end in ends[:-1]] + [this_monday]
    return [
        Point(
            label=week_label(timezone.localdate(start)),
            value=counts[f"w{i}"] / counted if counted else 0.0,
        )
        for i, start in enumerate(starts)
    ]


def building_table(organization: Organization, today: dt.date) -> list[dict[str, Any]]:
    r = "units__residents__"
    counted = counted_q(today, r)
    buildings = (
        Building.objects.filter(organization=organization, archived=False)
        .annotate(
            counted=Count("units__residents", filter=counted),
            reached=Count(
                "units__residents",
                filter=counted
                & Q(
                    **{
                        f"{r}lapse_flag__in": (LapseFlag.OK, LapseFlag.DUE_SOON),
                        f"{r}last_conversation_at__isnull": False,
                    }
                ),
            ),
            leaders=Count(
                "units__residents", filter=Q(**{f"{r}status": Status.ACTIVE, f"{r}level": 5})
            ),
        )
        .order_by("name")
    )
    return [{"building": b, "share": percent(b.reached, b.counted)} for b in buildings]


def people(organization: Organization) -> list[Membership]:
    """The organizers, and anyone else who still owns contacts (someone who left, say),
    with what they own, what of it is lapsed, and when they last recorded anything."""
    owned = "user__owned_contacts__"
    theirs = Q(**{f"{owned}organization": organization, f"{owned}status": Status.ACTIVE})
    last_visit = (
        Visit.objects.filter(organization=organization, organizer=OuterRef("user_id"))
        .order_by("-happened_at")
        .values("happened_at")[:1]
    )
    return list(
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .annotate(
            owned=Count("user__owned_contacts", filter=theirs),
            lapsed=Count(
                "user__owned_contacts",
                filter=theirs & Q(**{f"{owned}lapse_flag__in": FLAGGED}),
            ),
            last_activity=Subquery(last_visit),
        )
        .filter(Q(owned__gt=0) | Q(active=True, role=Role.ORGANIZER))
        .order_by("user__first_name", "user__username")
    )


def user_name(user: User) -> str:
    return user.get_full_name() or user.username


def display_name(membership: Membership) -> str:
    name = user_name(membership.user)
    return name if membership.active else f"{name} (left)"


# The lapsed list


def lapsed_contacts(
    organization: Organization, thresholds: Thresholds, filters: dict[str, Any]
) -> QuerySet[Contact]:
    """The list, most severe first: the highest level, then the longest overdue. Open
    asks, the last note and why the contact lapsed come as subqueries, not a query a row."""
    contacts = Contact.objects.filter(organization=organization, status=Status.ACTIVE)
    state = filters.get("state")
    if state == ListState.ORPHANED:
        contacts = contacts.filter(orphaned=True)
    elif state:
        contacts = contacts.filter(lapse_flag=state)
    else:
        contacts = contacts.filter(lapse_flag__in=FLAGGED)
    if "building" in filters:
        contacts = contacts.filter(unit__building_id=filters["building"])
    if "owner" in filters:
        contacts = contacts.filter(owner_id=filters["owner"])
    if "level" in filters:
        contacts = contacts.filter(level=filters["level"])
    open_asks = (
        Ask.objects.filter(contact=OuterRef("pk"), answer=Answer.PENDING)
        .order_by()
        .values("contact")
        .annotate(n=Count("pk"))
        .values("n")
    )
    last_note = (
        Visit.objects.filter(contact=OuterRef("pk"))
        .exclude(note="")
        .order_by("-happened_at")
        .values("note")[:1]
    )
    reason = LapseEpisode.objects.filter(contact=OuterRef("pk"), resolved_at__isnull=True).values(
        "reason"
    )[:1]
    return (
        contacts.select_related("unit__building", "owner")
        .annotate(
            open_asks=Coalesce(Subquery(open_asks, output_field=IntegerField()), 0),
            last_note=Subquery(last_note),
            lapse_reason=Subquery(reason),
            due_at=thresholds.due_at_expression(),
        )
        .order_by("-level", "due_at", "name", "pk")
    )


def row(contact: Contact, now: dt.datetime) -> dict[str, Any]:
    talked = contact.last_conversation_at
    return {
        "contact": contact,
        "days_since": (now - talked).days if talked else None,
        "overdue": max((now - contact.due_at).days, 0),  # type: ignore[attr-defined]
        "why": WHY.get(contact.lapse_reason, ""),  # type: ignore[attr-defined]
    }


def members_of(organization: Organization) -> list[Membership]:
    return list(
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__first_name", "user__username")
    )


def filter_form(
    request: MemberRequest, organization: Organization, members: list[Membership]
) -> LapsedFilterForm:
    buildings = Building.objects.filter(organization=organization, archived=False).order_by("name")
    return LapsedFilterForm(
        request.GET,
        buildings=list(buildings.values_list("pk", "name")),
        owners=[(m.user_id, display_name(m)) for m in members],
    )


def list_context(
    request: MemberRequest, organization: Organization, now: dt.datetime
) -> dict[str, Any]:
    members = members_of(organization)
    filters = filter_form(request, organization, members)
    chosen = filters.filters()
    contacts = lapsed_contacts(organization, Thresholds.of(organization), chosen)
    page: Page[Contact] = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "filters": filters,
        "filtered": bool(chosen),
        "page_obj": page,
        "rows": [row(contact, now) for contact in page],
        "reassign_to": [
            (m.user_id, display_name(m)) for m in members if m.active and m.role == Role.ORGANIZER
        ],
        "selected": set(),
        "snooze_form": SnoozeForm(),
        "blank_snooze": SnoozeForm(),
        "snooze_for": None,
    }


def board_context(request: MemberRequest) -> dict[str, Any]:
    organization, now = request.membership.organization, timezone.now()
    figures = headline(organization, now)
    points = weekly_lapse_rate(organization, now, figures["counted"])
    return list_context(request, organization, now) | {
        "figures": figures,
        "buildings": building_table(organization, timezone.localdate(now)),
        "organizers": people(organization),
        "points": points,
        "chart": rate_chart(
            points, title=f"Weekly lapse rate, last {CHART_WEEKS} weeks", chart_id="lapse-rate"
        ),
    }


@require_GET
@committee_only
def dashboard(request: MemberRequest) -> HttpResponse:
    if request.htmx:
        # A filter or a page of the list: only the list is drawn again.
        context = list_context(request, request.membership.organization, timezone.now())
        return render(request, "contacts/dashboard.html#lapsed", context)
    return render(request, "contacts/dashboard.html", board_context(request))


def after_action(request: MemberRequest) -> HttpResponse:
    """Back to the dashboard as it was filtered: the board again for htmx, a redirect
    otherwise, so a reload does not post twice."""
    if request.htmx:
        return render(request, "contacts/dashboard.html#board", board_context(request))
    query = request.GET.urlencode()
    return redirect(reverse("committee:dashboard") + (f"?{query}" if query else ""))


def refused(request: MemberRequest, **context: Any) -> HttpResponse:
    """The dashboard again with the error and what the user typed; nothing was changed.
    htmx swaps only successful responses, so it gets a 200 with the errors in it."""
    template = "contacts/dashboard.html#board" if request.htmx else "contacts/dashboard.html"
    return render(
        request,
        template,
        board_context(request) | context,
        status=200 if request.htmx else 422,
    )


@require_POST
@committee_only
def reassign(request: MemberRequest) -> HttpResponse:
    form = ReassignForm(request.POST)
    form.is_valid()
    ids = form.cleaned_data.get("contacts", [])
    contacts = list(
        Contact.objects.filter(organization=request.membership.organization, pk__in=ids)
    )
    if len(contacts) != len(ids):
        raise Http404("No such contact.")
    if form.is_valid():
        to_owner = form.cleaned_data["to_owner"]
        try:
            moved = reassign_contacts(
                member=request.membership, contacts=contacts, to_owner=to_owner
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"{moved} contact{'s' if moved != 1 else ''} reassigned to {user_name(to_owner)}.",
            )
            return after_action(request)
    return refused(request, reassign_form=form, selected=set(ids))


@require_POST
@committee_only
def snooze(request: MemberRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(
        Contact.objects.filter(organization=request.membership.organization), pk=contact_id
    )
    form = SnoozeForm(request.POST)
    if form.is_valid():
        until, reason = form.cleaned_data["until"], form.cleaned_data["reason"]
        try:
            snooze_contact(member=request.membership, contact=contact, until=until, reason=reason)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{contact.name} snoozed until {until:%b %-d}: {reason}.")
            return after_action(request)
    return refused(request, snooze_form=form, snooze_for=contact)


CSV_HEADER = (
    "Name",
    "Building",
    "Unit",
    "Level",
    "Owner",
    "State",
    "Orphaned",
    "Days since last conversation",
    "Tried since",
    "Open asks",
    "Why",
    "Last note",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """A spreadsheet runs a cell that starts like a formula; an apostrophe keeps it text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@require_GET
@committee_only
def export(request: MemberRequest) -> HttpResponse:
    """The lapsed list as filtered, every page of it, as CSV; the export is logged."""
    organization, now = request.membership.organization, timezone.now()
    chosen = filter_form(request, organization, members_of(organization)).filters()
    contacts = lapsed_contacts(organization, Thresholds.of(organization), chosen)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="lapsed-contacts-{timezone.localdate(now):%Y-%m-%d}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    rows = 0
    for contact in contacts.iterator(chunk_size=500):
        line = row(contact, now)
        unit = contact.unit
        writer.writerow(
            cell(value)
            for value in (
                contact.name,
                unit.building.name if unit else "",
                unit.label if unit else "",
                contact.get_level_display(),
                user_name(contact.owner) if contact.owner else "",
                contact.get_lapse_flag_display(),
                "yes" if contact.orphaned else "no",
                "never" if line["days_since"] is None else line["days_since"],
                contact.attempts_since_conversation,
                contact.open_asks,  # type: ignore[attr-defined]
                line["why"],
                contact.last_note or "",  # type: ignore[attr-defined]
            )
        )
        rows += 1
    ExportLog.objects.create(
        organization=organization,
        user=request.user,
        what="lapsed contacts",
        filters="&".join(f"{name}={value}" for name, value in sorted(chosen.items()))[:500],
        rows=rows,
    )
    return response


@require_http_methods(["GET", "POST"])
@committee_only
def lapse_settings(request: MemberRequest) -> HttpResponse:
    """Days per level, and the warning, grace and orphan windows of the organization."""
    organization = request.membership.organization
    if request.method == "POST":
        form = LapseSettingsForm(request.POST)
        if form.is_valid():
            update_lapse_settings(
                member=request.membership,
                days_by_level=form.days_by_level(),
                warning_days=form.cleaned_data["warning_days"],
                grace_days=form.cleaned_data["grace_days"],
                orphan_after_days=form.cleaned_data["orphan_after_days"],
            )
            messages.success(
                request,
                "Lapse settings saved. The dashboard follows them from the next hourly check.",
            )
            return redirect("committee:settings")
        status = 422
    else:
        form = LapseSettingsForm(initial=LapseSettingsForm.initial_for(organization))
        status = 200
    return render(request, "contacts/committee_settings.html", {"form": form}, status=status)
