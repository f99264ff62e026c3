"""The committee's screens: who is lapsed, who owns them, and what to do about it.

Every queryset here starts from `request.membership.organization`; a contact id of another
organization is simply not found. The page costs the same few queries, and about the same
time, whatever the size of the organization: the tables, the chart and most figures are the
hourly job's summary (contacts.lapse.summary), the live figures and the list are read off partial
indexes, a page of the list at a time, and the list's notes and asks are subqueries.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from buildings.models import Building
from contacts.actions import reassign_contacts, snooze_contact, update_lapse_settings
from contacts.committee.charts import Point, Turnout, rate_chart, turnout_chart
from contacts.committee.forms import ORPHANED, LapsedFilterForm, LapseSettingsForm, SnoozeForm
from contacts.exports import csv_lines, log_export
from contacts.forms import ReassignForm
from contacts.lapse.pace import last_full_week
from contacts.lapse.rule import Rules, with_clocks
from contacts.lapse.summary import CHART_WEEKS, FLAGGED, WEEK, counted_q, local_monday
from contacts.models import (
    Answer,
    Ask,
    Contact,
    LapseReason,
    LapseSummary,
    Level,
    Meeting,
    Outcome,
    Status,
    Visit,
    needs_an_owner,
)
from organizing.access import MemberRequest, member_required
from organizing.models import Membership, Organization, Role, display_name

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PAGE_SIZE = 50
# A meeting with a poor turnout stays on the dashboard this long: the no-shows' follow-ups
# are due within days, and the organizers' will falters in the weeks after.
TURNOUT_WATCHED_FOR = dt.timedelta(days=14)
# The meetings drawn in the turnout chart: about a season of a committee's meetings.
TURNOUT_MEETINGS = 12
WHY: dict[str, StrOrPromise] = {
    LapseReason.NO_CONVERSATION: gettext_lazy("No conversation in time"),
    LapseReason.NEVER_TALKED: gettext_lazy("Never talked"),
    LapseReason.ASK_OVERDUE: gettext_lazy("Ask overdue"),
    LapseReason.FOLLOW_UP_MISSED: gettext_lazy("Follow-up missed"),
}
committee_only = member_required(Role.COMMITTEE, Role.ADMIN)


def percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else ""


# The figures: live where a conversation or a snooze changes them at once (the lapsed, this
# week's conversations, both read off partial indexes); the rest as the hourly job counted
# them (contacts.lapse.summary), so that the page costs the same whatever the organization's size.


def summary_of(organization: Organization) -> LapseSummary:
    """The job's last count, or zeros before its first run."""
    found = LapseSummary.objects.filter(organization=organization).first()
    return found or LapseSummary(organization=organization)


def headline(
    organization: Organization, now: dt.datetime, summary: LapseSummary, rules: Rules
) -> dict[str, Any]:
    """The five figures at the top, in two queries and the summary."""
    figures: dict[str, Any] = {
        "lapsed": Contact.objects.filter(
            counted_q(timezone.localdate(now)),
            organization=organization,
            lapse_flag__in=FLAGGED,
        ).count(),
        "counted": summary.counted,
        "leaders": summary.leaders,
        "leaders_reached": summary.leaders_reached,
        # Live: deactivating an organizer orphans their contacts at once.
        "orphaned": Contact.objects.filter(needs_an_owner, organization=organization).count(),
        "asks_overdue": summary.asks_overdue,
    }
    this_monday = local_monday(now)
    conversations = Visit.objects.filter(
        organization=organization,
        outcome=Outcome.CONVERSATION,
        happened_at__gte=this_monday - WEEK,
    )
    if summary.taken_at and local_monday(summary.taken_at) == this_monday:
        # The job counted the weeks up to its run: add those recorded since, at most an
        # hour's (visit_org_talk_recorded), not weeks of visits at each request.
        figures["this_week"] = summary.conversations_this_week
        figures["last_week"] = summary.conversations_last_week
        conversations = conversations.filter(recorded_at__gt=summary.taken_at)
    else:
        figures["this_week"] = figures["last_week"] = 0
    since = conversations.aggregate(
        this_week=Count("pk", filter=Q(happened_at__gte=this_monday)),
        last_week=Count("pk", filter=Q(happened_at__lt=this_monday)),
    )
    figures["this_week"] += since["this_week"]
    figures["last_week"] += since["last_week"]
    figures["rate_percent"] = percent(figures["lapsed"], figures["counted"]) or "0%"
    figures["leaders_missed"] = figures["leaders"] - figures["leaders_reached"]
    figures["leader_days"] = rules.days_by_level[Level.LEADER]
    return figures


# The two tables under the list: a city-wide organization has hundreds of buildings and
# organizers, so the page gets their rows ready to print, one plain tuple each.


def building_rows(
    buildings: list[tuple[int, str]], summary: LapseSummary
) -> list[tuple[int, str, int, str, int]]:
    """A row for each building: its id and name, its active contacts, the share of them
    reached within their threshold, and its leaders."""
    rows = []
    for pk, name in buildings:
        counted, reached, leaders = summary.buildings.get(str(pk), (0, 0, 0))
        rows.append((pk, name, counted, percent(reached, counted) or "—", leaders))
    return rows


def organizer_rows(
    members: list[Membership], summary: LapseSummary
) -> list[tuple[int, str, bool, int, int, dt.datetime | None]]:
    """A row for each organizer, and anyone else who still owns contacts (someone who
    left, say): who, whether they left, what they own, what of it is lapsed, and when they
    last recorded anything."""
    rows = []
    for member in members:
        owned, lapsed = summary.owners.get(str(member.user_id), (0, 0))
        if owned or (member.active and member.role == Role.ORGANIZER):
            last = member.last_activity  # type: ignore[attr-defined]
            rows.append(
                (member.user_id, display_name(member.user), not member.active, owned, lapsed, last)
            )
    return rows


# The lapsed list


def lapsed_contacts(organization: Organization, filters: dict[str, Any]) -> QuerySet[Contact]:
    """The list, most severe first: the highest level, then the longest overdue. Open
    asks and the last note come as subqueries, not a query a row; why the contact lapsed
    is on its row."""
    contacts = Contact.objects.filter(organization=organization, status=Status.ACTIVE)
    state = filters.get("state")
    if state == ORPHANED:
        contacts = contacts.filter(needs_an_owner)
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
    return (
        with_clocks(contacts.select_related("unit__building", "owner__membership"))
        .annotate(
            open_asks=Coalesce(Subquery(open_asks, output_field=IntegerField()), 0),
            last_note=Subquery(last_note),
        )
        # Within a level the threshold is the same, so the clock orders as the threshold's
        # lapse does, and the partial index contact_flagged_by_severity serves a page
        # without a sort.
        .order_by("-level", Coalesce("last_conversation_at", "created_at"), "name", "pk")
    )


def lapsed_row(contact: Contact, rules: Rules, now: dt.datetime) -> dict[str, Any]:
    """A contact of the list with how long since the last conversation, why it lapsed,
    and how many days overdue: counted, by the lapse rule, from the moment the clock of
    that reason ran out (the ask's date, the follow-up's, or the threshold)."""
    talked = contact.last_conversation_at
    reading = rules.read(contact, now)
    clock = reading.clock_for(contact.lapse_reason or reading.reason)
    return {
        "contact": contact,
        "days_since": (now - talked).days if talked else None,
        "overdue": max((now - clock.runs_out_at).days, 0) if clock else 0,
        "why": WHY.get(contact.lapse_reason, ""),
    }


def members_of(organization: Organization) -> list[Membership]:
    """Everyone in the organization, with when they last recorded anything."""
    last_visit = (
        Visit.objects.filter(organization=organization, organizer=OuterRef("user_id"))
        .order_by("-happened_at")
        .values("happened_at")[:1]
    )
    return list(
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .annotate(last_activity=Subquery(last_visit))
        .order_by("user__first_name", "user__username")
    )


def building_choices(organization: Organization) -> list[tuple[int, str]]:
    buildings = Building.objects.filter(organization=organization, archived=False).order_by("name")
    return list(buildings.values_list("pk", "name"))


def filter_form(
    request: MemberRequest, buildings: list[tuple[int, str]], members: list[Membership]
) -> LapsedFilterForm:
    return LapsedFilterForm(
        request.GET,
        buildings=buildings,
        owners=[(m.user_id, m.display_name) for m in members],
    )


def list_context(
    request: MemberRequest, organization: Organization, now: dt.datetime
) -> dict[str, Any]:
    members, buildings = members_of(organization), building_choices(organization)
    filters = filter_form(request, buildings, members)
    chosen = filters.filters()
    contacts = lapsed_contacts(organization, chosen)
    page: Page[Contact] = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    rules = Rules.of(organization)
    return {
        "members": members,
        "building_choices": buildings,
        "filters": filters,
        "filtered": bool(chosen),
        "page_obj": page,
        "rows": [lapsed_row(contact, rules, now) for contact in page],
        "rules": rules,
        "reassign_to": [
            (m.user_id, m.display_name) for m in members if m.active and m.role == Role.ORGANIZER
        ],
        "selected": set(),
        "snooze_form": SnoozeForm(),
        # The same blank fields on every row: drawn once, not a widget template a row.
        "blank_snooze_fields": render_to_string(
            "committee/dashboard.html#snooze_fields", {"form": SnoozeForm()}
        ),
        "snooze_for": None,
    }


def board_context(request: MemberRequest) -> dict[str, Any]:
    organization, now = request.membership.organization, timezone.now()
    summary = summary_of(organization)
    context = list_context(request, organization, now)
    points = [Point(label=label, value=value) for label, value in summary.weeks]
    pace = summary.pace if summary.pace.get("week") == last_full_week(now) else {}
    turnouts = [
        Turnout(
            label=date_format(timezone.localtime(m.starts_at), "MONTH_DAY_FORMAT"),
            title=m.title,
            invited=m.invited,  # type: ignore[attr-defined]
            said_yes=m.said_yes,  # type: ignore[attr-defined]
            came=m.came,  # type: ignore[attr-defined]
        )
        for m in Meeting.objects.turnout_over_time(organization, last=TURNOUT_MEETINGS)
    ]
    return context | {
        "summary": summary,
        "pace": pace if pace.get("alarm") else None,
        "poor_meetings": Meeting.objects.poor_turnout(organization, now - TURNOUT_WATCHED_FOR),
        "figures": headline(organization, now, summary, context["rules"]),
        "building_options": context["filters"].options("building"),
        "owner_options": context["filters"].options("owner"),
        "building_rows": building_rows(context["building_choices"], summary),
        "organizer_rows": organizer_rows(context["members"], summary),
        "points": points,
        "chart": rate_chart(
            points,
            title=_("Weekly lapse rate, last %(weeks)s weeks") % {"weeks": CHART_WEEKS},
            chart_id="lapse-rate",
        ),
        "turnouts": turnouts,
        "turnout_chart": turnout_chart(
            turnouts,
            title=ngettext(
                "Turnout of the last meeting: invited, said yes, came",
                "Turnout of the last %(count)s meetings: invited, said yes, came",
                len(turnouts),
            )
            % {"count": len(turnouts)},
            chart_id="turnout",
        ),
    }


@require_GET
@committee_only
def dashboard(request: MemberRequest) -> HttpResponse:
    if request.htmx:
        # A filter or a page of the list: only the list is drawn again.
        context = list_context(request, request.membership.organization, timezone.now())
        return render(request, "committee/dashboard.html#lapsed", context)
    return render(request, "committee/dashboard.html", board_context(request))


def after_action(request: MemberRequest) -> HttpResponse:
    """Back to the dashboard as it was filtered: the board again for htmx, a redirect
    otherwise, so a reload does not post twice."""
    if request.htmx:
        return render(request, "committee/dashboard.html#board", board_context(request))
    query = request.GET.urlencode()
    return redirect(reverse("committee:dashboard") + (f"?{query}" if query else ""))


def refused(request: MemberRequest, **context: Any) -> HttpResponse:
    """The dashboard again with the error and what the user typed; nothing was changed.
    htmx swaps only successful responses, so it gets a 200 with the errors in it."""
    template = "committee/dashboard.html#board" if request.htmx else "committee/dashboard.html"
    return render(
        request,
        template,
        board_context(request) | context,
        status=200 if request.htmx else 422,
    )


@require_POST
@committee_only
def reassign(request: MemberRequest) -> HttpResponse:
    organization = request.membership.organization
    form = ReassignForm(
        request.POST,
        organization=organization,
        contacts=Contact.objects.filter(organization=organization),
    )
    if form.has_error("contacts", "invalid_choice"):
        raise Http404("No such contact.")
    # The list offers no "all that match": only the ticked contacts move.
    contacts = list(form.cleaned_data.get("contacts", []))
    if form.is_valid():
        to_owner = form.cleaned_data["to_owner"]
        try:
            moved = reassign_contacts(
                actor=request.membership, contacts=contacts, to_owner=to_owner
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)s contact reassigned to %(owner)s.",
                    "%(count)s contacts reassigned to %(owner)s.",
                    moved,
                )
                % {"count": moved, "owner": display_name(to_owner)},
            )
            return after_action(request)
    return refused(request, reassign_form=form, selected={contact.pk for contact in contacts})


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
            snooze_contact(actor=request.membership, contact=contact, until=until, reason=reason)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("%(name)s snoozed until %(date)s: %(reason)s.")
                % {
                    "name": contact.name,
                    "date": date_format(until, "MONTH_DAY_FORMAT"),
                    "reason": reason,
                },
            )
            return after_action(request)
    return refused(request, snooze_form=form, snooze_for=contact)


CSV_HEADER = (
    gettext_lazy("Name"),
    gettext_lazy("Building"),
    gettext_lazy("Unit"),
    gettext_lazy("Level"),
    gettext_lazy("Owner"),
    gettext_lazy("State"),
    gettext_lazy("Orphaned"),
    gettext_lazy("Days since last conversation"),
    gettext_lazy("Tried since"),
    gettext_lazy("Open asks"),
    gettext_lazy("Why"),
    gettext_lazy("Last note"),
)


def lapsed_csv_row(contact: Contact, rules: Rules, now: dt.datetime) -> tuple[object, ...]:
    """The contact's line of the CSV, under CSV_HEADER."""
    line = lapsed_row(contact, rules, now)
    unit = contact.unit
    return (
        contact.name,
        unit.building.name if unit else "",
        unit.label if unit else "",
        contact.get_level_display(),
        display_name(contact.owner) if contact.owner else "",
        contact.get_lapse_flag_display(),
        _("yes") if contact.orphaned else _("no"),
        _("never") if line["days_since"] is None else line["days_since"],
        contact.attempts_since_conversation,
        contact.open_asks,  # type: ignore[attr-defined]
        str(line["why"]),
        contact.last_note or "",  # type: ignore[attr-defined]
    )


@require_GET
@committee_only
def export(request: MemberRequest) -> HttpResponse:
    """The lapsed list as filtered, every page of it, as CSV; the export is logged."""
    organization, now = request.membership.organization, timezone.now()
    members, buildings = members_of(organization), building_choices(organization)
    chosen = filter_form(request, buildings, members).filters()
    contacts = lapsed_contacts(organization, chosen)
    rules = Rules.of(organization)
    rows = [lapsed_csv_row(contact, rules, now) for contact in contacts.iterator(chunk_size=500)]
    response = HttpResponse(
        csv_lines([tuple(str(title) for title in CSV_HEADER), *rows]),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="lapsed-contacts-{timezone.localdate(now):%Y-%m-%d}.csv"'
    )
    # The building and owner by name, as the log is read long after ids mean anything.
    names = {
        "building": dict(buildings),
        "owner": {member.user_id: member.display_name for member in members},
    }
    log_export(
        actor=request.membership,
        what="lapsed contacts",
        filters="&".join(
            f"{name}={names[name].get(value, value) if name in names else value}"
            for name, value in sorted(chosen.items())
        ),
        rows=len(rows),
    )
    return response


@require_http_methods(["GET", "POST"])
@committee_only
def lapse_settings(request: MemberRequest) -> HttpResponse:
    """Days and warnings per level, the grace and orphan windows, and the pace alarm."""
    organization = request.membership.organization
    if request.method == "POST":
        form = LapseSettingsForm(request.POST)
        if form.is_valid():
            update_lapse_settings(
                actor=request.membership,
                days_by_level=form.days_by_level(),
                lead_days_by_level=form.lead_days_by_level(),
                grace_days=form.cleaned_data["grace_days"],
                orphan_after_days=form.cleaned_data["orphan_after_days"],
                pace_alarm_percent=form.cleaned_data["pace_alarm_percent"],
                missed_meeting_days=form.cleaned_data["missed_meeting_days"],
                turnout_alarm_percent=form.cleaned_data["turnout_alarm_percent"],
            )
            messages.success(
                request,
                _("Lapse settings saved. The dashboard follows them from the next hourly check."),
            )
            return redirect("committee:settings")
        status = 422
    else:
        form = LapseSettingsForm(initial=LapseSettingsForm.initial_for(organization))
        status = 200
    return render(request, "committee/settings.html", {"form": form}, status=status)
