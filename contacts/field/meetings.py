"""An organization's meetings, as organizers and the committee use them: the list, a
meeting with its turnout, inviting a list of residents, and the attendance taken on a
phone at the meeting's door, which works offline through the outbox as a knock does
(contacts.field.offline): a tap carries a key, so a double tap, a second phone or the
outbox sending again is one attendance. The committee calls meetings and closes their
attendance (contacts.committee.meetings)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from buildings.models import Building
from contacts.actions import add_walk_in, invite, mark_present
from contacts.field import offline
from contacts.field.forms import AttendForm, InviteForm, WalkInForm, new_key
from contacts.models import Answer, Ask, Attendance, Contact, Meeting, Status
from organizing.access import MemberRequest, member_required
from organizing.models import Membership, display_name
from organizing.security import rate_limit

# At most this many residents found by a walk-in search.
SEARCH_LIMIT = 10


def get_meeting(request: MemberRequest, meeting_id: int) -> Meeting:
    return get_object_or_404(Meeting.objects.visible_to(request.membership), pk=meeting_id)


@require_GET
@member_required()
def meeting_list(request: MemberRequest) -> HttpResponse:
    meetings = (
        Meeting.objects.visible_to(request.membership)
        .prefetch_related("buildings")
        .annotate(
            invited=Count("invitations", distinct=True),
            came=Count("attendances", distinct=True),
        )
    )
    now = timezone.now()
    coming = sorted((m for m in meetings if m.starts_at >= now), key=lambda m: m.starts_at)
    past = [m for m in meetings if m.starts_at < now]
    return render(request, "field/meetings.html", {"coming": coming, "past": past})


def invite_form(membership: Membership, data: object = None) -> InviteForm:
    buildings = Building.objects.visible_to(membership).filter(archived=False)
    owners = Membership.objects.filter(
        organization_id=membership.organization_id, active=True
    ).select_related("user")
    return InviteForm(
        data,
        buildings=list(buildings.values_list("pk", "name")),
        owners=[(m.user_id, display_name(m.user)) for m in owners],
    )


@require_GET
@member_required()
def meeting_detail(request: MemberRequest, meeting_id: int) -> HttpResponse:
    meeting = get_meeting(request, meeting_id)
    context = {
        "meeting": meeting,
        "buildings": list(meeting.buildings.all()),
        "turnout": meeting.turnout(),
        "invite_form": invite_form(request.membership),
    }
    return render(request, "field/meeting_detail.html", context)


@require_POST
@member_required()
def invite_residents(request: MemberRequest, meeting_id: int) -> HttpResponse:
    """Invite a list: the active residents the member sees, of a building, a level or an
    owner, within the meeting's buildings when it has any."""
    meeting = get_meeting(request, meeting_id)
    form = invite_form(request.membership, request.POST)
    if not form.is_valid():
        messages.error(
            request, " ".join(str(e) for e in form.non_field_errors()) or _("Choose who to invite.")
        )
        return redirect("meetings:detail", meeting.pk)
    chosen = Contact.objects.visible_to(request.membership)
    for name, lookup in (("building", "building_id"), ("level", "level"), ("owner", "owner_id")):
        if form.cleaned_data[name] is not None:
            chosen = chosen.filter(**{lookup: form.cleaned_data[name]})
    if meeting.buildings.exists():
        chosen = chosen.filter(building__in=meeting.buildings.all())
    chosen = chosen.exclude(status=Status.ERASED)
    try:
        result = invite(actor=request.membership, meeting=meeting, contacts=chosen)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("meetings:detail", meeting.pk)
    parts = [
        ngettext("Invited %(count)s.", "Invited %(count)s.", result.invited)
        % {"count": result.invited}
    ]
    if result.already:
        parts.append(
            ngettext("%(count)s already invited.", "%(count)s already invited.", result.already)
            % {"count": result.already}
        )
    if result.do_not_contact:
        parts.append(
            ngettext(
                "%(count)s left out: do not contact, moved or archived.",
                "%(count)s left out: do not contact, moved or archived.",
                result.do_not_contact,
            )
            % {"count": result.do_not_contact}
        )
    text = " ".join(parts)
    messages.success(request, text)
    return redirect("meetings:detail", meeting.pk)


def attendance_context(request: MemberRequest, meeting: Meeting) -> dict[str, object]:
    """The invited the member sees, with who came: four queries for a meeting of any
    size. An organizer's list is their turf and the people they own, as everywhere else:
    the names and doors of residents of other buildings are not theirs to carry on a
    phone. The others are only counted, so the organizer knows someone else marks them."""
    invited = Ask.objects.filter(meeting=meeting).exclude(contact__status=Status.ERASED)
    visible = Contact.objects.visible_to(request.membership)
    invitations = (
        Ask.objects.filter(meeting=meeting, contact__in=visible)
        .exclude(contact__status=Status.ERASED)
        .select_related("contact__unit")
        .order_by("contact__name", "pk")
    )
    present = set(Attendance.objects.filter(meeting=meeting).values_list("contact_id", flat=True))
    walk_ins = list(
        Attendance.objects.filter(meeting=meeting, walk_in=True, contact__in=visible)
        .select_related("contact__unit")
        .order_by("contact__name")
    )
    # PostgreSQL text can't hold NUL, and nobody searches for one.
    query = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    found: list[Contact] = []
    if query:
        found = list(
            Contact.objects.visible_to(request.membership)
            .filter(status=Status.ACTIVE, name__icontains=query)
            .select_related("unit")[:SEARCH_LIMIT]
        )
    # A key per row, as a rendered form field would carry (the outbox makes its own anew);
    # written into the row by hand, as 300 rendered widgets cost more than the page.
    people = [
        (ask.contact, ask.answer, ask.contact_id in present, new_key()) for ask in invitations
    ]
    invited_count = invited.count()
    return {
        "meeting": meeting,
        "people": people,
        "invited": invited_count,
        "others": invited_count - len(people),
        "came": len(present),
        "walk_ins": walk_ins,
        "query": query,
        "found": [(c, c.pk in present, new_key()) for c in found],
        "walk_in_form": WalkInForm(),
        "yes": Answer.YES,
        # Reversed once, not for each of hundreds of rows.
        "attend_url": reverse("meetings:attend", args=[meeting.pk]),
    }


@require_GET
@member_required()
def attendance(request: MemberRequest, meeting_id: int) -> HttpResponse:
    meeting = get_meeting(request, meeting_id)
    # The phone's outbox asks for the list again once it has sent what it kept.
    template = "field/attendance.html#people" if request.htmx else "field/attendance.html"
    return render(request, template, attendance_context(request, meeting))


def attendance_reply(
    request: MemberRequest,
    meeting: Meeting,
    *,
    text: str,
    created: bool | None,
    contact: Contact | None = None,
) -> HttpResponse:
    """JSON for the outbox's replay. Live from the page: the person's card, marked (htmx),
    or the page again with what happened, never a redirect, which the outbox can't follow."""
    if offline.is_replay(request):
        if created is None:
            return offline.reply("refused", text, http_status=422)
        return offline.reply("recorded" if created else "duplicate", text)
    if request.htmx and created is not None and contact is not None:
        answer = meeting.invitations.filter(contact=contact).values_list("answer", flat=True)
        context = {
            "meeting": meeting,
            "contact": contact,
            "answer": answer.first() or "",
            "present": True,
            "yes": Answer.YES,
            "attend_url": reverse("meetings:attend", args=[meeting.pk]),
        }
        return render(request, "field/attendance.html#person", context)
    if created is None:
        messages.error(request, text)
    elif created:
        messages.success(request, text)
    else:
        messages.info(request, text)
    if request.htmx:
        status = 422 if created is None else 200
        context = attendance_context(request, meeting)
        return render(request, "field/attendance.html", context, status=status)
    return redirect("meetings:attendance", meeting.pk)


@require_POST
@member_required()
@rate_limit("knock", key="user")
def attend(request: MemberRequest, meeting_id: int) -> HttpResponse:
    """One tap: this person came. They must be someone the member sees, invited or a
    walk-in found by search: a tap sent later by the outbox, someone they saw when it was
    made. Being invited opens nobody else's name to an organizer (attendance_context)."""
    meeting = get_meeting(request, meeting_id)
    form = AttendForm(request.POST)
    if not form.is_valid():
        return attendance_reply(
            request, meeting, text=_("That tap could not be read; please tap again."), created=None
        )
    contact = offline.contact_named(request, form.cleaned_data["contact"])
    if contact is None or contact.organization_id != meeting.organization_id:
        return HttpResponse(status=404)
    try:
        _attendance, created = mark_present(
            actor=request.membership,
            meeting=meeting,
            contact=contact,
            idempotency_key=form.cleaned_data["key"],
            happened_at=offline.happened_at(request),
        )
    except ValidationError as error:
        return attendance_reply(request, meeting, text=" ".join(error.messages), created=None)
    text = (
        _("%(name)s came.") % {"name": contact.name}
        if created
        else _("Already marked: %(name)s came.") % {"name": contact.name}
    )
    return attendance_reply(request, meeting, text=text, created=created, contact=contact)


@require_POST
@member_required()
@rate_limit("knock", key="user")
def walk_in(request: MemberRequest, meeting_id: int) -> HttpResponse:
    """A walk-in nobody knew: added as a new resident, owned by whoever met them."""
    meeting = get_meeting(request, meeting_id)
    form = WalkInForm(request.POST)
    if not form.is_valid():
        if offline.is_replay(request):
            problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
            return offline.reply("refused", problems, http_status=422)
        context = attendance_context(request, meeting) | {"walk_in_form": form}
        return render(request, "field/attendance.html", context, status=422)
    try:
        attendance_row, created = add_walk_in(
            actor=request.membership,
            meeting=meeting,
            name=form.cleaned_data["name"],
            phone=form.cleaned_data["phone"],
            submission_key=form.cleaned_data["key"],
        )
    except ValidationError as error:
        return attendance_reply(request, meeting, text=" ".join(error.messages), created=None)
    name = attendance_row.contact.name
    text = (
        _("Added %(name)s, who came.") % {"name": name}
        if created
        else _("Already added: %(name)s.") % {"name": name}
    )
    return attendance_reply(request, meeting, text=text, created=created)
