from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, F, Prefetch, Q, prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from buildings.models import Building, Unit
from contacts.actions import UNDO_WINDOW, add_resident, record_visit, undo_visit
from contacts.field import offline
from contacts.field.forms import BulkKnockForm, KnockForm, ResidentForm
from contacts.field.together import SESSION_KEY, companion_of
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


class DoorState(models.TextChoices):
    """What a door on the grid says, each with a mark (aria-hidden) besides its colour."""

    LAPSED = "lapsed", pgettext_lazy("door", "lapsed")
    DUE_SOON = "due_soon", pgettext_lazy("door", "due soon")
    NEVER_KNOCKED = "never", pgettext_lazy("door", "never knocked")
    NOT_TALKED = "untalked", pgettext_lazy("door", "not talked to yet")
    TALKED = "ok", pgettext_lazy("door", "talked recently")
    NOBODY_KNOWN = "empty", pgettext_lazy("door", "nobody known")
    DO_NOT_KNOCK = "dnk", pgettext_lazy("door", "do not knock")
    VACANT = "vacant", pgettext_lazy("door", "vacant")


MARKS = {
    DoorState.LAPSED: "!!",
    DoorState.DUE_SOON: "!",
    DoorState.NEVER_KNOCKED: "○",
    DoorState.NOT_TALKED: "?",
    DoorState.TALKED: "✓",
    DoorState.NOBODY_KNOWN: "—",
    DoorState.DO_NOT_KNOCK: "⊘",
    DoorState.VACANT: "✕",
}
# A batch is a floor or a few; more ids than this in a link are not ours.
MAX_BATCH = 200
DUE = {DoorState.LAPSED, DoorState.DUE_SOON, DoorState.NEVER_KNOCKED, DoorState.NOT_TALKED}


@dataclass
class Door:
    unit: Unit
    state: DoorState
    leader: bool
    knocked_today: bool
    # The latest conversation with one of its residents, in days; None when nobody talked.
    talked_days_ago: int | None

    @property
    def mark(self) -> str:
        return MARKS[self.state]

    @property
    def due(self) -> bool:
        return self.state in DUE

    @property
    def spoken(self) -> str:
        """What a screen reader says after the door's label: its state in words."""
        words = [str(self.state.label)]
        if self.talked_days_ago is not None:
            days = self.talked_days_ago
            if days == 0:
                talked = _("talked today")
            elif days == 1:
                talked = _("talked yesterday")
            else:
                said = ngettext("talked %(days)s day ago", "talked %(days)s days ago", days)
                talked = said % {"days": days}
            words = [talked] if self.state == DoorState.TALKED else [*words, talked]
        if self.leader:
            words.append(pgettext("door", "leader"))
        if self.knocked_today:
            words.append(_("knocked today"))
        # A list read aloud: "1203, lapsed, leader"; French separates it the same way.
        return ", ".join(words)


def door_state(unit: Unit, flags: list[LapseFlag], residents: list[Contact]) -> DoorState:
    """A door's state: its most urgent resident's by the lapse rule (escalated shows as
    lapsed), then never knocked, then somebody known never talked to."""
    if unit.vacant:
        return DoorState.VACANT
    if unit.do_not_knock:
        return DoorState.DO_NOT_KNOCK
    flag = most_urgent(flags)
    if flag in (LapseFlag.LAPSED, LapseFlag.ESCALATED):
        return DoorState.LAPSED
    if flag == LapseFlag.DUE_SOON:
        return DoorState.DUE_SOON
    if unit.last_attempt_at is None:
        return DoorState.NEVER_KNOCKED
    if any(contact.last_conversation_at is None for contact in residents):
        return DoorState.NOT_TALKED
    return DoorState.TALKED if residents else DoorState.NOBODY_KNOWN


def floor_grid(building: Building, rules: Rules, *, only_due: bool) -> list[tuple[int, list[Door]]]:
    """The building's doors floor by floor, top floor first, each with the most urgent state
    of its active residents by the lapse rule. Two queries whatever the size of the
    building."""
    now = timezone.now()
    today = timezone.localdate(now)
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
        talked = [c.last_conversation_at for c in residents if c.last_conversation_at]
        door = Door(
            unit=unit,
            state=door_state(unit, [rules.read(c, now).flag for c in residents], residents),
            leader=any(c.level == Level.LEADER for c in residents),
            knocked_today=unit.last_attempt_at is not None
            and timezone.localdate(unit.last_attempt_at) == today,
            talked_days_ago=(today - timezone.localdate(max(talked))).days if talked else None,
        )
        if door.due or not only_due:
            doors.append(door)
    return [(floor, list(group)) for floor, group in groupby(doors, key=lambda d: d.unit.floor)]


@dataclass
class FloorNote:
    """What a bulk "Not home" answered, shown beside the floor the organizer used."""

    floor: int
    text: str
    # The batch's visits, comma-separated, for its undo; empty when there is nothing to undo.
    undo: str = ""


def knocked_note(
    request: MemberRequest, building: Building, visit_ids: list[int]
) -> FloorNote | None:
    """The note for a batch the member just knocked, while it can still be undone; beside
    the lowest of its floors, the one nearest the button they tapped."""
    visits = list(
        Visit.objects.filter(
            pk__in=visit_ids,
            organization=request.membership.organization,
            organizer=request.user,
            unit__building=building,
            outcome=Outcome.NOT_HOME,
            recorded_at__gte=timezone.now() - UNDO_WINDOW,
        )
        .select_related("unit")
        .order_by("-unit__floor", "unit__label")
    )
    if not visits:
        return None
    labels = ", ".join(visit.unit.label for visit in visits)  # type: ignore[union-attr]
    return FloorNote(
        floor=visits[-1].unit.floor,  # type: ignore[union-attr]
        text=_("Not home recorded at %(doors)s.") % {"doors": labels},
        undo=",".join(str(visit.pk) for visit in visits),
    )


def building_context(
    request: MemberRequest, building: Building, note: FloorNote | None = None
) -> dict[str, object]:
    only_due = request.GET.get("due") == "1"
    floors = floor_grid(building, Rules.of(request.membership.organization), only_due=only_due)
    if note is None and (knocked := visit_ids(request.GET.get("knocked", ""))):
        note = knocked_note(request, building, knocked)
    return {
        "building": building,
        "floors": floors,
        "only_due": only_due,
        "selecting": request.GET.get("select") == "1",
        "bulk_form": BulkKnockForm(unit_ids=[]),
        "note": note,
        "legend": [(state, MARKS[state]) for state in DoorState],
    }


def visit_ids(raw: str) -> list[int]:
    """Visit ids as a link or form carries them, "12,13,14"; anything else is ignored."""
    return [int(part) for part in raw.split(",") if part.isdecimal()][:MAX_BATCH]


@require_GET
@member_required()
def building_detail(request: MemberRequest, building_id: int) -> HttpResponse:
    building = get_object_or_404(Building.objects.visible_to(request.membership), pk=building_id)
    template = "field/building_detail.html"
    if request.htmx:
        template += "#grid"
    return render(request, template, building_context(request, building))


def grid_url(building: Building, request: MemberRequest, floor: int | None, **params: str) -> str:
    """Back to the grid as the member had it, at the floor they used."""
    query = {"select": "1"} | ({"due": "1"} if request.GET.get("due") == "1" else {}) | params
    anchor = f"#floor-{floor}" if floor is not None else ""
    return f"{reverse('buildings:detail', args=[building.pk])}?{urlencode(query)}{anchor}"


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
    note = None
    try:
        if not form.is_valid():
            raise ValidationError([str(e) for errors in form.errors.values() for e in errors])
        moment = offline.happened_at(request)
        with transaction.atomic():
            recorded = [
                record_visit(
                    actor=request.membership,
                    unit=units[unit_id],
                    outcome=Outcome.NOT_HOME,
                    idempotency_key=f"{form.cleaned_data['key'][:52]}-{unit_id}",
                    happened_at=moment,
                )
                for unit_id in form.cleaned_data["units"]
            ]
    except ValidationError as error:
        if replay:
            return offline.reply("refused", " ".join(error.messages), http_status=422)
        messages.error(request, " ".join(error.messages))
    else:
        if replay:
            labels = ", ".join(units[u].label for u in form.cleaned_data["units"])
            created = any(created for _visit, created in recorded)
            return offline.reply("recorded" if created else "duplicate", labels)
        ids = [visit.pk for visit, _ in recorded]
        if not request.htmx:
            floor = min(units[u].floor for u in form.cleaned_data["units"])
            return redirect(grid_url(building, request, floor, knocked=",".join(map(str, ids))))
        note = knocked_note(request, building, ids)
    if request.htmx:
        return render(
            request, "field/building_detail.html#grid", building_context(request, building, note)
        )
    return redirect(grid_url(building, request, None))


@require_POST
@member_required()
def bulk_undo(request: MemberRequest, building_id: int) -> HttpResponse:
    """Take back a bulk "Not home": exactly the knocks of that batch, all or none."""
    building = get_object_or_404(Building.objects.visible_to(request.membership), pk=building_id)
    visits = list(
        Visit.objects.filter(
            pk__in=visit_ids(request.POST.get("visits", "")),
            organization=request.membership.organization,
            unit__building=building,
        )
        .select_related("unit")
        .order_by("-unit__floor", "unit__label")
    )
    floor = visits[-1].unit.floor if visits else None  # type: ignore[union-attr]
    try:
        if not visits:
            raise ValidationError(_("Those knocks are no longer recorded."))
        with transaction.atomic():
            for visit in visits:
                undo_visit(actor=request.membership, visit=visit)
    except ValidationError as error:
        text, level = " ".join(error.messages), messages.ERROR
    else:
        labels = ", ".join(visit.unit.label for visit in visits)  # type: ignore[union-attr]
        text, level = _("Undone: Not home at %(doors)s.") % {"doors": labels}, messages.SUCCESS
    if request.htmx and floor is not None:
        note = FloorNote(floor=floor, text=text)
        return render(
            request, "field/building_detail.html#grid", building_context(request, building, note)
        )
    messages.add_message(request, level, text)
    if request.htmx:
        return render(
            request, "field/building_detail.html#grid", building_context(request, building)
        )
    return redirect(grid_url(building, request, floor))


def unit_context(request: MemberRequest, unit: Unit, *, adding: bool = True) -> dict[str, object]:
    """Everything an organizer reads before knocking, in a constant number of queries.
    Without `adding`, the cards alone: no form to add a resident."""
    now = timezone.now()
    residents = list(
        with_clocks(unit.residents.filter(status=Status.ACTIVE))
        .select_related("owner")
        .order_by("-level", "name")
    )
    # The clocks say who has an open ask and who was ever talked to: nobody asks the
    # database for what can only be empty (a door nobody has talked to, the usual knock).
    asking = [contact for contact in residents if contact.first_ask_due is not None]  # type: ignore[attr-defined]
    prefetch_related_objects(
        asking,
        Prefetch("asks", queryset=Ask.objects.filter(answer=Answer.PENDING), to_attr="open_asks"),
    )
    for contact in residents:
        if contact.first_ask_due is None:  # type: ignore[attr-defined]
            contact.open_asks = []  # type: ignore[attr-defined]
    talked = [contact for contact in residents if contact.last_conversation_at is not None]
    last_talks = (
        {
            visit.contact_id: visit
            for visit in Visit.objects.filter(contact__in=talked, outcome=Outcome.CONVERSATION)
            .filter(happened_at=F("contact__last_conversation_at"))
            .select_related("organizer")
        }
        if talked
        else {}
    )
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
    context = {
        "unit": unit,
        "building": unit.building,
        "cards": cards,
        "door_form": KnockForm(prefix="door"),
        # The outcomes the form takes, named as the model names them (in the reader's language).
        "knock_outcomes": [
            (value, Outcome(value).label)
            for value, _label in KnockForm.base_fields["outcome"].choices  # type: ignore[attr-defined]
        ],
        "knocking_with": request.session.get(SESSION_KEY, {}),
    }
    if adding:
        context["resident_form"] = ResidentForm(organization=request.membership.organization)
    return context


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
    if request.htmx:
        # The phone's outbox asks for the cards again once it has sent what it kept.
        return cards_response(request, unit)
    return render(request, "field/unit_detail.html", unit_context(request, unit))


def cards_response(request: MemberRequest, unit: Unit) -> HttpResponse:
    """A knock's answer: the cards and the door again, with what became of it. The form to
    add a resident is left alone, with whatever is being typed into it."""
    if not request.htmx:
        return redirect("buildings:unit", unit.building_id, unit.pk)
    if request.htmx.target == "residents":
        # A page a phone kept from before the cards had a section of their own.
        return render(request, "field/unit_detail.html#residents", unit_context(request, unit))
    return render(
        request, "field/unit_detail.html#cards", unit_context(request, unit, adding=False)
    )


def knock_conflict(contact: Contact, unit: Unit, seen_owner: str) -> str:
    """What changed since the page was shown: empty when nothing did."""
    if contact.unit_id != unit.pk or contact.status != Status.ACTIVE:
        return _("is marked %(status)s and no longer lives in %(unit)s") % {
            "status": contact.get_status_display().lower(),
            "unit": unit.label,
        }
    if seen_owner and seen_owner != str(contact.owner_id or ""):
        return _("has been handed to another organizer")
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
        # Hand-read, so checked by hand: "abc" is no contact of ours either.
        contact = offline.contact_named(request, contact_id) if contact_id.isdecimal() else None
        if contact is None:
            return HttpResponse(status=404)
        needs_look = knock_conflict(contact, unit, request.POST.get("owner", ""))
        if needs_look and not replay:
            messages.error(
                request,
                _("%(name)s %(change)s; nothing was recorded. The page now shows who lives here.")
                % {"name": contact.name, "change": needs_look},
            )
            return cards_response(request, unit)
    form = KnockForm(request.POST, prefix=f"c{contact.pk}" if contact else "door")
    try:
        if not form.is_valid():
            raise ValidationError(_("That knock could not be read; please tap again."))
        companion, companion_contact = companion_of(request)
        visit, created = record_visit(
            companion=companion,
            companion_contact=companion_contact,
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
        return cards_response(request, unit)
    who = contact.name if contact else _("door %(label)s") % {"label": unit.label}
    text = _("%(outcome)s: %(who)s.") % {"outcome": visit.get_outcome_display(), "who": who}
    if replay:
        status = "recorded" if created else "duplicate"
        return offline.reply(status, text, needs_look=f"{who} {needs_look}" if needs_look else "")
    if created:
        messages.success(request, text, extra_tags=f"undo:{visit.pk}")
    else:
        messages.info(
            request,
            _("Already recorded: %(outcome)s, %(who)s.")
            % {"outcome": visit.get_outcome_display(), "who": who},
        )
    return cards_response(request, unit)


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
            _companion, brought_in_by = companion_of(request)
            contact, created = add_resident(
                brought_in_by=brought_in_by,
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
                text = _("Added %(name)s to %(unit)s.") % {"name": contact.name, "unit": unit.label}
                return offline.reply("recorded" if created else "duplicate", text)
            if created:
                messages.success(
                    request,
                    _("Added %(name)s to %(unit)s.") % {"name": contact.name, "unit": unit.label},
                )
            if not request.htmx:
                return redirect("buildings:unit", unit.building_id, unit.pk)
            # The new card, and the form emptied for the next resident met.
            return render(request, "field/unit_detail.html#residents", unit_context(request, unit))
    if replay:
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return offline.reply("refused", problems, http_status=422)
    context = unit_context(request, unit, adding=False) | {"resident_form": form}
    template = "field/unit_detail.html#residents" if request.htmx else "field/unit_detail.html"
    return render(request, template, context, status=422 if not request.htmx else 200)
