from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from buildings.models import Building, Unit
from contacts.actions import add_resident, record_visit
from contacts.field import offline
from contacts.field.forms import BulkKnockForm, KnockForm, ResidentForm
from contacts.lapse.rule import Rules, most_urgent, with_clocks
from contacts.models import Answer, Ask, Contact, LapseFlag, Level, Outcome, Status, Visit
from organizing.access import MemberRequest, member_required
from organizing.security import rate_limit


@require_GET
@member_required()
def building_list(request: MemberRequest) -> HttpResponse:
    buildings = (
        Building.objects.visible_to(request.membership)
        .filter(archived=False)
        .annotate(
            unit_count=Count("units", distinct=True),
            contact_count=Count(
                "units__residents",
                filter=Q(units__residents__status=Status.ACTIVE),
                distinct=True,
            ),
        )
        .order_by("name")
    )
    return render(request, "field/building_list.html", {"buildings": buildings})


def door_state(flags: list[LapseFlag], residents: list[Contact]) -> str | None:
    """A door's colour: its most urgent resident's state (escalated shows as lapsed), or
    "never" where somebody within time was never talked to."""
    flag = most_urgent(flags)
    if flag in (LapseFlag.LAPSED, LapseFlag.ESCALATED):
        return LapseFlag.LAPSED
    if flag == LapseFlag.DUE_SOON:
        return flag
    if any(contact.last_conversation_at is None for contact in residents):
        return "never"
    return flag


@dataclass
class Door:
    unit: Unit
    state: str | None
    leader: bool
    residents: list[Contact] = field(default_factory=list)

    @property
    def css(self) -> str:
        if self.unit.vacant:
            return "vacant"
        if self.unit.do_not_knock:
            return "dnk"
        return self.state or ("never" if self.unit.last_attempt_at is None else "empty")

    @property
    def due(self) -> bool:
        knockable = not (self.unit.vacant or self.unit.do_not_knock)
        return knockable and self.css in {LapseFlag.LAPSED, LapseFlag.DUE_SOON, "never"}


def floor_grid(building: Building, rules: Rules, *, only_due: bool) -> list[tuple[int, list[Door]]]:
    """The building's doors floor by floor, top floor first, each with the most urgent state
    of its active residents by the lapse rule. Two queries whatever the size of the
    building."""
    now = timezone.now()
    active_residents = with_clocks(Contact.objects.filter(status=Status.ACTIVE)).only(
        "id",
        "unit_id",
        "name",
        "level",
        "status",
        "snoozed_until",
        "lapse_flag",
        "last_conversation_at",
        "created_at",
    )
    units = building.units.order_by("-floor", "label").prefetch_related(
        Prefetch("residents", queryset=active_residents, to_attr="active_residents")
    )
    doors = []
    for unit in units:
        residents = unit.active_residents  # type: ignore[attr-defined]
        door = Door(
            unit=unit,
            state=door_state([rules.read(c, now).flag for c in residents], residents),
            leader=any(c.level == Level.LEADER for c in residents),
            residents=residents,
        )
        if door.due or not only_due:
            doors.append(door)
    return [(floor, list(group)) for floor, group in groupby(doors, key=lambda d: d.unit.floor)]


def building_context(request: MemberRequest, building: Building) -> dict[str, object]:
    only_due = request.GET.get("due") == "1"
    floors = floor_grid(building, Rules.of(request.membership.organization), only_due=only_due)
    return {
        "building": building,
        "floors": floors,
        "only_due": only_due,
        "selecting": request.GET.get("select") == "1",
        "bulk_form": BulkKnockForm(unit_ids=[]),
    }


@require_GET
@member_required()
def building_detail(request: MemberRequest, building_id: int) -> HttpResponse:
    building = get_object_or_404(Building.objects.visible_to(request.membership), pk=building_id)
    template = "field/building_detail.html"
    if request.htmx:
        template += "#grid"
    return render(request, template, building_context(request, building))


@require_POST
@member_required()
@rate_limit("knock", key="user")
def bulk_not_home(request: MemberRequest, building_id: int) -> HttpResponse:
    """ "Not home" on several doors of a building in one submission. Each door's visit gets
    a key derived from the form's key, so a resubmission records nothing new."""
    replay = offline.is_replay(request)
    building = get_object_or_404(Building.objects.visible_to(request.membership), pk=building_id)
    units = {u.pk: u for u in building.units.filter(vacant=False, do_not_knock=False)}
    form = BulkKnockForm(request.POST, unit_ids=list(units))
    try:
        if not form.is_valid():
            raise ValidationError([str(e) for errors in form.errors.values() for e in errors])
        moment = offline.happened_at(request)
        with transaction.atomic():
            created = [
                record_visit(
                    actor=request.membership,
                    unit=units[unit_id],
                    outcome=Outcome.NOT_HOME,
                    idempotency_key=f"{form.cleaned_data['key'][:52]}-{unit_id}",
                    happened_at=moment,
                )[1]
                for unit_id in form.cleaned_data["units"]
            ]
    except ValidationError as error:
        if replay:
            return offline.reply("refused", " ".join(error.messages), http_status=422)
        messages.error(request, " ".join(error.messages))
    else:
        labels = ", ".join(units[u].label for u in form.cleaned_data["units"])
        if replay:
            return offline.reply("recorded" if any(created) else "duplicate", labels)
        messages.success(request, f"Not home recorded at {labels}.")
    if request.htmx:
        context = building_context(request, building)
        return render(request, "field/building_detail.html#grid", context)
    return redirect(reverse("buildings:detail", args=[building.pk]) + "?select=1")


def unit_context(request: MemberRequest, unit: Unit) -> dict[str, object]:
    """Everything an organizer reads before knocking, in a constant number of queries."""
    now = timezone.now()
    residents = list(
        with_clocks(unit.residents.filter(status=Status.ACTIVE))
        .select_related("owner")
        .prefetch_related(
            Prefetch(
                "asks",
                queryset=Ask.objects.filter(answer=Answer.PENDING),
                to_attr="open_asks",
            )
        )
        .order_by("-level", "name")
    )
    last_talks = {
        visit.contact_id: visit
        for visit in Visit.objects.filter(contact__in=residents, outcome=Outcome.CONVERSATION)
        .filter(happened_at=F("contact__last_conversation_at"))
        .select_related("organizer")
    }
    rules = Rules.of(request.membership.organization)
    cards = [
        {
            "contact": contact,
            "reading": rules.read(contact, now),
            "last_talk": last_talks.get(contact.pk),
            "form": KnockForm(prefix=f"c{contact.pk}"),
        }
        for contact in residents
    ]
    return {
        "unit": unit,
        "building": unit.building,
        "cards": cards,
        "door_form": KnockForm(prefix="door"),
        "resident_form": ResidentForm(organization=request.membership.organization),
        "knock_outcomes": KnockForm.base_fields["outcome"].choices,  # type: ignore[attr-defined]
    }


def get_unit(request: MemberRequest, building_id: int, unit_id: int) -> Unit:
    return get_object_or_404(
        Unit.objects.visible_to(request.membership).select_related("building"),
        pk=unit_id,
        building_id=building_id,
    )


@require_GET
@member_required()
def unit_detail(request: MemberRequest, building_id: int, unit_id: int) -> HttpResponse:
    unit = get_unit(request, building_id, unit_id)
    # The phone's outbox asks for the residents again once it has sent what it kept.
    template = "field/unit_detail.html#residents" if request.htmx else "field/unit_detail.html"
    return render(request, template, unit_context(request, unit))


def unit_response(
    request: MemberRequest, unit: Unit, context: dict[str, object] | None = None
) -> HttpResponse:
    if request.htmx:
        full = unit_context(request, unit) | (context or {})
        return render(request, "field/unit_detail.html#residents", full)
    return redirect("buildings:unit", unit.building_id, unit.pk)


def knock_conflict(contact: Contact, unit: Unit, seen_owner: str) -> str:
    """What changed since the page was shown: empty when nothing did."""
    if contact.unit_id != unit.pk or contact.status != Status.ACTIVE:
        return (
            f"is marked {contact.get_status_display().lower()} and no longer lives in {unit.label}"
        )
    if seen_owner and seen_owner != str(contact.owner_id or ""):
        return "has been handed to another organizer"
    return ""


@require_POST
@member_required()
@rate_limit("knock", key="user")
def knock(request: MemberRequest, building_id: int, unit_id: int) -> HttpResponse:
    """One tap: an outcome that is not a conversation, for a resident or for the door.

    A live page refuses a knock on someone who has moved since it was shown; the phone's
    outbox replaying an offline knock records it anyway, marked for a look."""
    replay = offline.is_replay(request)
    unit = get_unit(request, building_id, unit_id)
    contact, needs_look = None, ""
    if contact_id := request.POST.get("contact"):
        scope = (
            offline.replayable(request.membership)
            if replay
            else Contact.objects.visible_to(request.membership)
        )
        # Hand-read, so checked by hand: "abc" is no contact of ours either.
        contact = scope.filter(pk=contact_id).first() if contact_id.isdecimal() else None
        if contact is None:
            return HttpResponse(status=404)
        needs_look = knock_conflict(contact, unit, request.POST.get("owner", ""))
        if needs_look and not replay:
            messages.error(
                request,
                f"{contact.name} {needs_look}; nothing was recorded. "
                "The page now shows who lives here.",
            )
            return unit_response(request, unit)
    form = KnockForm(request.POST, prefix=f"c{contact.pk}" if contact else "door")
    try:
        if not form.is_valid():
            raise ValidationError("That knock could not be read; please tap again.")
        visit, created = record_visit(
            actor=request.membership,
            contact=contact,
            unit=unit,
            outcome=form.cleaned_data["outcome"],
            idempotency_key=form.cleaned_data["key"],
            happened_at=offline.happened_at(request),
            needs_look=needs_look,
        )
    except ValidationError as error:
        if replay:
            return offline.reply("refused", " ".join(error.messages), http_status=422)
        messages.error(request, " ".join(error.messages))
        return unit_response(request, unit)
    who = contact.name if contact else f"door {unit.label}"
    text = f"{visit.get_outcome_display()}: {who}."
    if replay:
        status = "recorded" if created else "duplicate"
        return offline.reply(status, text, needs_look=f"{who} {needs_look}" if needs_look else "")
    if created:
        messages.success(request, text, extra_tags=f"undo:{visit.pk}")
    else:
        messages.info(request, f"Already recorded: {visit.get_outcome_display()}, {who}.")
    return unit_response(request, unit)


@require_POST
@member_required()
@rate_limit("knock", key="user")
def new_resident(request: MemberRequest, building_id: int, unit_id: int) -> HttpResponse:
    """A person met at the door. The phone may send one it added offline, with the key it
    made for them: a conversation it keeps for them finds them by that key (talk)."""
    replay = offline.is_replay(request)
    unit = get_unit(request, building_id, unit_id)
    form = ResidentForm(request.POST, organization=request.membership.organization)
    if form.is_valid():
        try:
            contact, created = add_resident(
                actor=request.membership,
                unit=unit,
                name=form.cleaned_data["name"],
                phone=form.cleaned_data["phone"],
                language=form.cleaned_data["language"],
                submission_key=form.cleaned_data["key"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if replay:
                text = f"Added {contact.name} to {unit.label}."
                return offline.reply("recorded" if created else "duplicate", text)
            if created:
                messages.success(request, f"Added {contact.name} to {unit.label}.")
            return unit_response(request, unit)
    if replay:
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return offline.reply("refused", problems, http_status=422)
    context = unit_context(request, unit) | {"resident_form": form}
    template = "field/unit_detail.html#residents" if request.htmx else "field/unit_detail.html"
    return render(request, template, context, status=422 if not request.htmx else 200)
