from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from buildings.models import Unit
from contacts.actions import plan_follow_up, record_conversation, record_visit, undo_visit
from contacts.field import offline
from contacts.field.forms import (
    CancelFollowUpForm,
    ContactVisitForm,
    FollowUpForm,
    MoveFollowUpForm,
    TalkForm,
)
from contacts.lapse.rule import Rules, with_clocks
from contacts.models import (
    Answer,
    Ask,
    Contact,
    FollowUp,
    Level,
    Meeting,
    Outcome,
    Status,
    Visit,
)
from contacts.privacy.audit import contact_trail
from organizing.access import MemberRequest, member_required
from organizing.formats import our_format
from organizing.i18n import for_organization
from organizing.models import Membership, Role
from organizing.security import rate_limit

ERASED = gettext_lazy("This person was erased on request; nothing more is recorded about them.")


def get_contact(request: MemberRequest, contact_id: int) -> Contact:
    return get_object_or_404(
        Contact.objects.visible_to(request.membership).select_related("unit__building", "owner"),
        pk=contact_id,
    )


def contact_context(request: MemberRequest, contact: Contact) -> dict[str, object]:
    with_dates = with_clocks(Contact.objects.filter(pk=contact.pk)).get()
    reading = Rules.of(request.membership.organization).read(with_dates, timezone.now())
    return {
        "contact": contact,
        "reading": reading if contact.status == Status.ACTIVE else None,
        "visits": contact.visits.select_related(
            "organizer", "unit", "companion", "companion_contact"
        )[:50],
        # Knocking together: the doors she helped knock, and who she brought in.
        "knocked_with_us": list(
            contact.knocks_joined.select_related("unit", "contact").order_by("-happened_at")[:20]
        ),
        "brought_in": list(contact.brought_in.exclude(status=Status.ERASED).order_by("name")),
        "asks": contact.asks.select_related("asked_by").order_by("-asked_at"),
        "follow_ups": contact.follow_ups.select_related("assigned_to", "done_by").order_by(
            "-planned_for"
        ),
        "level_changes": contact.level_changes.select_related("changed_by"),
        # Admins only: organizers and the committee read the page without these queries.
        "trail": contact_trail(contact) if request.membership.role == Role.ADMIN else None,
        "visit_form": ContactVisitForm(),
        "follow_up_form": FollowUpForm(),
        "move_form": MoveFollowUpForm(),
        "cancel_form": CancelFollowUpForm(),
        "today": timezone.localdate(),
    }


@require_GET
@member_required()
def contact_detail(request: MemberRequest, contact_id: int) -> HttpResponse:
    contact = get_contact(request, contact_id)
    return render(request, "field/contact_detail.html", contact_context(request, contact))


def rerender(request: MemberRequest, contact: Contact, **forms: object) -> HttpResponse:
    """The contact page again, with the form that failed and what the user typed."""
    context = contact_context(request, contact) | forms
    return render(request, "field/contact_detail.html", context, status=422)


@require_http_methods(["GET", "POST"])
@member_required()
@rate_limit("knock", key="user")
def talk(request: MemberRequest, contact_id: int | None = None, key: str = "") -> HttpResponse:
    """A conversation: the note, the level, an ask with its due date, the next visit.

    Addressed by the contact's id, or by the key of a resident added on the phone that the
    server may not know yet (`key`): offline, the phone shows this form for them and its
    outbox sends the resident first, then the conversation, which finds them by that key."""
    # Sent late by the phone's outbox: the contact may have moved off this organizer's turf
    # or been handed on since. Only a POST is a replay; a page is only shown for what they see.
    replay = request.method == "POST" and offline.is_replay(request)
    # The day of the conversation, which the phone may send days later (its outbox).
    day = offline.day_of(request) if request.method == "POST" else timezone.localdate()
    proposals = next_visits(Rules.of(request.membership.organization), day)
    if key and request.method == "GET":
        # The same page whatever the key: it shows nothing of anyone.
        return added_on_the_phone(request, proposals)
    visible = Contact.objects.visible_to(request.membership)
    scope = offline.replayable(request.membership) if replay else visible
    found = scope.filter(submission_key=key) if key else scope.filter(pk=contact_id or 0)
    contact = found.select_related("unit__building", "owner").first()
    if contact is None:
        raise Http404
    theirs_now = not replay or visible.filter(pk=contact.pk).exists()
    open_asks = list(contact.asks.filter(answer=Answer.PENDING).order_by("due_on", "pk"))
    context = {"contact": contact, "proposals": proposals, "today": timezone.localdate()}
    meetings = coming_meetings(request.membership, contact, replay=replay)
    if request.method == "GET":
        form = TalkForm(
            open_asks=open_asks,
            proposals=proposals,
            meetings=meetings,
            initial={
                "unit": request.GET.get("unit") or contact.unit_id,
                "level": contact.level,
                "follow_up_purpose": _("Check in"),
            },
        )
        return talk_page(request, context | {"form": form})

    form = TalkForm(
        request.POST, open_asks=open_asks, proposals=proposals, meetings=meetings, today=day
    )
    if form.is_valid():
        data = form.cleaned_data
        moved = contact.status != Status.ACTIVE or (
            data["unit"] is not None and data["unit"] != contact.unit_id
        )
        needs_look = ""
        if moved:
            # Stored on the visit and read later by members of either language: in the
            # organization's first working language.
            with for_organization(request.membership.organization):
                needs_look = _("had moved or changed status before this conversation arrived")
        if moved and not replay:
            form.add_error(
                None,
                _(
                    "%(name)s has moved or changed status since this page was loaded; "
                    "nothing was recorded. Check the contact's page."
                )
                % {"name": contact.name},
            )
        elif not theirs_now:
            return handed_on_conversation(request, contact, data)
        else:
            try:
                visit, created = record_conversation(
                    actor=request.membership,
                    contact=contact,
                    idempotency_key=data["key"],
                    channel=data["channel"],
                    note=data["note"],
                    level=data["level"],
                    ask=data["ask"],
                    ask_due_on=data["ask_due_on"],
                    follow_up_on=data["follow_up_on"],
                    follow_up_purpose=data["follow_up_purpose"],
                    settled_asks=form.settled_asks(),
                    happened_at=offline.happened_at(request),
                    needs_look=needs_look,
                    invite_to=Meeting.objects.visible_to(request.membership)
                    .filter(pk=data["meeting"] or 0)
                    .first(),
                    invitation_answer=Answer(data["meeting_answer"] or Answer.PENDING),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                text = _("Conversation with %(name)s recorded.") % {"name": contact.name}
                if replay:
                    look = ""
                    if needs_look:
                        look = _(
                            "%(name)s had moved or changed status before this conversation arrived"
                        ) % {"name": contact.name}
                    return offline.reply(
                        "recorded" if created else "duplicate", text, needs_look=look
                    )
                if created:
                    messages.success(request, text, extra_tags=f"undo:{visit.pk}")
                after = reverse("contacts:detail", args=[contact.pk])
                if (unit := contact.unit) is not None:
                    after = reverse("buildings:unit", args=[unit.building_id, unit.pk])
                # The phone's outbox sends the form as htmx does, and goes on from here.
                return HttpResponseClientRedirect(after) if request.htmx else redirect(after)
    if replay:
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return offline.reply("refused", problems, http_status=422)
    return talk_page(request, context | {"form": form}, status=422)


def coming_meetings(
    membership: Membership, contact: Contact, *, replay: bool = False
) -> list[tuple[int, str]]:
    """The meetings a contact may be invited to at the door: coming, for their building or
    for everyone. One query. A replay may name one that has begun since the phone showed
    the form: the conversation is recorded, without the invitation (invite_at_the_door)."""
    since = timezone.now() - (offline.OLDEST_REPLAY if replay else dt.timedelta(0))
    meetings = (
        Meeting.objects.visible_to(membership)
        .filter(starts_at__gt=since)
        .filter(Q(buildings=None) | Q(buildings=contact.building_id))
        .distinct()
        .order_by("starts_at")
    )
    return [
        (
            m.pk,
            f"{m.title}, {date_format(timezone.localtime(m.starts_at), 'SHORT_DATETIME_FORMAT')}",
        )
        for m in meetings
    ]


def next_visits(rules: Rules, today: dt.date | None = None) -> dict[int, dt.date]:
    """The next visit to propose after a conversation on `today` (today by default), by the
    level it leaves the contact at: before they would be due soon, so the visit comes
    ahead of the warning."""
    today = today or timezone.localdate()
    return {
        level: max(today + rules.threshold(level) - rules.warning(level), today) for level in Level
    }


def added_on_the_phone(request: MemberRequest, proposals: dict[int, dt.date]) -> HttpResponse:
    """The Talked form for a resident the phone added and has not sent yet: the page the
    phone keeps once and shows for every such resident. It posts to its own address, which
    names the resident by the key the phone made for them."""
    # The phone's outbox puts the name in place of these exact words (outbox.js).
    stand_in = Contact(name=_("the resident you added"), level=Level.NEW)
    form = TalkForm(
        open_asks=[],
        proposals=proposals,
        initial={
            "unit": request.GET.get("unit"),
            "level": stand_in.level,
            "follow_up_purpose": _("Check in"),
        },
    )
    context = {"contact": stand_in, "form": form, "proposals": proposals}
    return talk_page(request, context | {"today": timezone.localdate()})


def talk_page(request: MemberRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """The Talked form, with the next visit's day as its sentence shows it: the date typed,
    else each level's proposal, the page showing the one of the level ticked."""
    form, contact = context["form"], context["contact"]
    if chosen := form.chosen_visit():
        days = format_html(
            "<strong>{}</strong>", date_format(chosen, our_format("SHORT_DAY_FORMAT"))
        )
    else:
        days = format_html_join(
            "",
            '<strong data-level="{}"{}>{}</strong>',
            (
                (
                    level,
                    mark_safe(' class="now"') if level == contact.level else "",
                    date_format(day, our_format("SHORT_DAY_FORMAT")),
                )
                for level, day in context["proposals"].items()
            ),
        )
    return render(request, "field/talk.html", context | {"visit_days": days}, status=status)


def handed_on_conversation(
    request: MemberRequest, contact: Contact, data: dict[str, Any]
) -> HttpResponse:
    """A conversation the phone sends late, for someone moved off the organizer's turf or
    handed to another organizer meanwhile: that it happened and its note are kept, at the
    door where it happened if the organizer still has it. The level, ask and next visit are
    left to whoever has them now; a follow-up here would show the organizer where they
    live now."""
    door = None
    if data["unit"] is not None:
        door = Unit.objects.visible_to(request.membership).filter(pk=data["unit"]).first()
    # Stored on the visit and read later by members of either language: in the
    # organization's first working language.
    with for_organization(request.membership.organization):
        look = _(
            "is no longer one of yours: the conversation and its note were recorded, not the "
            "level, ask or next visit. Tell their organizer."
        )
    try:
        created = record_visit(
            actor=request.membership,
            contact=contact,
            outcome=Outcome.CONVERSATION,
            idempotency_key=data["key"],
            unit=door,
            at_contacts_unit=False,
            channel=data["channel"],
            note=data["note"],
            happened_at=offline.happened_at(request),
            needs_look=look,
        )[1]
    except ValidationError as error:
        return offline.reply("refused", " ".join(error.messages), http_status=422)
    text = _("Conversation with %(name)s recorded.") % {"name": contact.name}
    told = _(
        "%(name)s is no longer one of yours: the conversation and its note were recorded, not "
        "the level, ask or next visit. Tell their organizer."
    ) % {"name": contact.name}
    return offline.reply("recorded" if created else "duplicate", text, needs_look=told)


@require_POST
@member_required()
@rate_limit("knock", key="user")
def log_visit(request: MemberRequest, contact_id: int) -> HttpResponse:
    """A phone call, a text or a meeting, from the contact page."""
    contact = get_contact(request, contact_id)
    form = ContactVisitForm(request.POST)
    if contact.status == Status.ERASED:
        form.add_error(None, ERASED)
    if not form.is_valid():
        return rerender(request, contact, visit_form=form)
    data = form.cleaned_data
    if data["outcome"] == Outcome.CONVERSATION:
        visit, created = record_conversation(
            actor=request.membership,
            contact=contact,
            idempotency_key=data["key"],
            channel=data["channel"],
            note=data["note"],
        )
    else:
        visit, created = record_visit(
            actor=request.membership,
            contact=contact,
            outcome=data["outcome"],
            channel=data["channel"],
            note=data["note"],
            idempotency_key=data["key"],
        )
    if created:
        messages.success(
            request,
            _("%(channel)s: %(outcome)s recorded.")
            % {"channel": visit.get_channel_display(), "outcome": visit.get_outcome_display()},
            extra_tags=f"undo:{visit.pk}",
        )
    return redirect("contacts:detail", contact.pk)


@require_POST
@member_required()
def new_follow_up(request: MemberRequest, contact_id: int) -> HttpResponse:
    contact = get_contact(request, contact_id)
    form = FollowUpForm(request.POST)
    if contact.status == Status.ERASED:
        form.add_error(None, ERASED)
    if not form.is_valid():
        return rerender(request, contact, follow_up_form=form)
    plan_follow_up(
        actor=request.membership,
        contact=contact,
        planned_for=form.cleaned_data["planned_for"],
        purpose=form.cleaned_data["purpose"],
        submission_key=form.cleaned_data["key"],
    )
    day = date_format(form.cleaned_data["planned_for"], "MONTH_DAY_FORMAT")
    messages.success(request, _("Follow-up planned for %(day)s.") % {"day": day})
    return redirect("contacts:detail", contact.pk)


def get_follow_up(request: MemberRequest, follow_up_id: int) -> FollowUp:
    return get_object_or_404(
        FollowUp.objects.open()
        .filter(contact__in=Contact.objects.visible_to(request.membership))
        .select_related("contact"),
        pk=follow_up_id,
    )


@require_POST
@member_required()
def move_follow_up(request: MemberRequest, follow_up_id: int) -> HttpResponse:
    follow_up = get_follow_up(request, follow_up_id)
    form = MoveFollowUpForm(request.POST)
    if not form.is_valid():
        return rerender(request, follow_up.contact, move_form=form, form_for=follow_up.pk)
    follow_up.planned_for = form.cleaned_data["planned_for"]
    follow_up.save(update_fields=["planned_for"])
    day = date_format(follow_up.planned_for, "MONTH_DAY_FORMAT")
    messages.success(request, _("Follow-up moved to %(day)s.") % {"day": day})
    return redirect("contacts:detail", follow_up.contact_id)


@require_POST
@member_required()
def cancel_follow_up(request: MemberRequest, follow_up_id: int) -> HttpResponse:
    follow_up = get_follow_up(request, follow_up_id)
    form = CancelFollowUpForm(request.POST)
    if not form.is_valid():
        return rerender(request, follow_up.contact, cancel_form=form, form_for=follow_up.pk)
    follow_up.cancel(form.cleaned_data["reason"])
    messages.success(request, _("Follow-up cancelled."))
    return redirect("contacts:detail", follow_up.contact_id)


@require_POST
@member_required()
def answer_ask(request: MemberRequest, ask_id: int) -> HttpResponse:
    ask = get_object_or_404(
        Ask.objects.filter(contact__in=Contact.objects.visible_to(request.membership)),
        pk=ask_id,
    )
    answer = request.POST.get("answer", "")
    if answer not in Answer.values or (answer == Answer.MAYBE and ask.meeting_id is None):
        messages.error(request, _("Choose yes, no or pending (maybe, for a meeting)."))
    else:
        ask.record_answer(answer)
        messages.success(
            request,
            _("%(question)s: %(answer)s.")
            % {"question": ask.question, "answer": ask.get_answer_display()},
        )
    return redirect("contacts:detail", ask.contact_id)


@require_POST
@member_required()
def undo(request: MemberRequest, visit_id: int) -> HttpResponse:
    visit = get_object_or_404(
        Visit.objects.filter(organization=request.membership.organization), pk=visit_id
    )
    try:
        undo_visit(actor=request.membership, visit=visit)
    except ValidationError as error:
        text = " ".join(error.messages)
        status = 409
    else:
        text, status = _("Undone."), 200
    if request.htmx and status != 200:
        return render(request, "includes/note.html", {"text": text}, status=status)
    if request.htmx:
        # The cards and the grid counted the knock: reload the page as it is now.
        messages.success(request, text)
        return HttpResponseClientRefresh()
    (messages.success if status == 200 else messages.error)(request, text)
    back = request.headers.get("Referer", "")
    safe = url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure())
    return redirect(back if safe else "home")
