"""Knocking together: a member or a leader who comes along on a round of doors.

The organizer names who is with them once, on the knocking-with page; it stays in the
session, and each knock form on a door's page carries it in a hidden `with` field ("m12"
for a member, "c34" for a contact), so a knock the outbox sends later names who was there
when it was made. For a contact it counts as a conversation with her, once a day, and the
residents added meanwhile are brought in by her (contacts.actions.record_visit,
add_resident)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from contacts.models import Contact, Level, Status
from organizing.access import MemberRequest, member_required
from organizing.models import Membership, display_name

SESSION_KEY = "knocking_with"
# Leaders and active members are who knock with us; a list a thumb can scroll.
MOST_COMPANIONS = 60


def companions(request: MemberRequest) -> list[tuple[str, str]]:
    """Who may come along: the other active members, and the active members and leaders
    among the contacts the organizer sees. Two queries."""
    membership = request.membership
    members = (
        Membership.objects.filter(organization_id=membership.organization_id, active=True)
        .exclude(user_id=membership.user_id)
        .select_related("user")
        .order_by("user__username")
    )
    leaders = (
        Contact.objects.visible_to(membership)
        .filter(status=Status.ACTIVE, level__gte=Level.ACTIVE)
        .order_by("-level", "name")[:MOST_COMPANIONS]
    )
    return [
        (f"m{m.user_id}", _("%(name)s (member)") % {"name": display_name(m.user)}) for m in members
    ] + [
        (
            f"c{c.pk}",
            _("%(name)s (%(level)s)") % {"name": c.name, "level": c.get_level_display().lower()},
        )
        for c in leaders
    ]


def companion_of(request: MemberRequest) -> tuple[User | None, Contact | None]:
    """Who came along, as the knock form names them. A member is any of the organization
    (record_visit refuses the organizer themself); a contact must be one they see, or the
    knock is refused."""
    raw = request.POST.get("with", "").strip()
    if len(raw) < 2 or not raw[1:].isdecimal():
        return None, None
    pk = int(raw[1:])
    if raw[0] == "m":
        user = User.objects.filter(
            pk=pk, membership__organization_id=request.membership.organization_id
        ).first()
        if user is None:
            raise ValidationError(_("Who came along is not a member of your organization."))
        return user, None
    if raw[0] == "c":
        contact = Contact.objects.visible_to(request.membership).filter(pk=pk).first()
        if contact is None:
            raise ValidationError(_("Who came along is not someone you organize with."))
        return None, contact
    return None, None


def back(next_url: str) -> HttpResponse:
    # Never redirect(next_url): a "next" of "0" would be taken for a view's name.
    return HttpResponseRedirect(next_url) if next_url else redirect("buildings:list")


@require_http_methods(["GET", "POST"])
@member_required()
def knocking_with(request: MemberRequest) -> HttpResponse:
    """Choose who is knocking with you, or nobody."""
    choices = companions(request)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = ""
    if request.method == "POST":
        chosen = request.POST.get("with", "")
        names = dict(choices)
        if chosen and chosen not in names:
            messages.error(request, _("Choose someone from the list, or nobody."))
        elif chosen:
            request.session[SESSION_KEY] = {"value": chosen, "name": names[chosen]}
            messages.success(request, _("Knocking with %(name)s.") % {"name": names[chosen]})
            return back(next_url)
        else:
            request.session.pop(SESSION_KEY, None)
            messages.success(request, _("Knocking on your own."))
            return back(next_url)
    current = request.session.get(SESSION_KEY, {})
    context = {"choices": choices, "current": current.get("value", ""), "next": next_url}
    return render(request, "field/knocking_with.html", context)
