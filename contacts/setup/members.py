"""Admins manage who is in the organization, with which role and which turf."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from buildings.actions import set_organizer_turf
from buildings.models import Turf
from contacts.actions import deactivate_member
from contacts.models import Contact, Status
from contacts.setup.member_forms import AddMemberForm, MemberTurfForm, RoleForm
from contacts.setup.views import count_of
from organizing.access import MemberRequest, code_devices, member_required
from organizing.accounts import send_password_link
from organizing.actions import change_role, reactivate_member, runs_the_site
from organizing.invitations import cancel_invitation, invite_member, resend_invitation
from organizing.models import Invitation, Membership, Role, display_name

# Views


def member_list_context(request: MemberRequest, form: AddMemberForm) -> dict[str, object]:
    turf = Turf.objects.filter(organizer=OuterRef("user_id"), building__archived=False)
    owned = Contact.objects.filter(owner=OuterRef("user_id"), status=Status.ACTIVE)
    members = (
        Membership.objects.filter(organization_id=request.membership.organization_id)
        .select_related("user")
        .annotate(turf_count=count_of(turf), owned_count=count_of(owned))
        .order_by("-active", "user__first_name", "user__username")
    )
    invitations = (
        Invitation.objects.open()
        .filter(organization_id=request.membership.organization_id)
        .order_by("-sent_at")
    )
    return {"members": members, "form": form, "invitations": invitations, "now": timezone.now()}


@require_GET
@member_required(Role.ADMIN)
def member_list(request: MemberRequest) -> HttpResponse:
    return render(request, "setup/members.html", member_list_context(request, AddMemberForm()))


@require_POST
@member_required(Role.ADMIN)
def member_add(request: MemberRequest) -> HttpResponse:
    """Invite the address. The answer is the same whatever the address holds outside the
    organization (organizing/invitations.py)."""
    form = AddMemberForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            invitation = invite_member(
                actor=request.membership, email=data["email"], role=data["role"], name=data["name"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
            return redirect("members:list")
    return render(request, "setup/members.html", member_list_context(request, form), status=422)


def get_invitation(request: MemberRequest, invitation_id: int) -> Invitation:
    return get_object_or_404(
        Invitation.objects.open().filter(organization_id=request.membership.organization_id),
        pk=invitation_id,
    )


@require_POST
@member_required(Role.ADMIN)
def invitation_resend(request: MemberRequest, invitation_id: int) -> HttpResponse:
    invitation = get_invitation(request, invitation_id)
    resend_invitation(actor=request.membership, invitation=invitation)
    messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
    return redirect("members:list")


@require_POST
@member_required(Role.ADMIN)
def invitation_cancel(request: MemberRequest, invitation_id: int) -> HttpResponse:
    invitation = get_invitation(request, invitation_id)
    cancel_invitation(actor=request.membership, invitation=invitation)
    messages.success(
        request,
        _("Invitation to %(email)s cancelled: its link no longer works.")
        % {"email": invitation.email},
    )
    return redirect("members:list")


def get_membership(request: MemberRequest, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.filter(
            organization_id=request.membership.organization_id
        ).select_related("user"),
        pk=membership_id,
    )


@require_GET
@member_required(Role.ADMIN)
def member_detail(request: MemberRequest, membership_id: int) -> HttpResponse:
    membership = get_membership(request, membership_id)
    organization = request.membership.organization
    turf = MemberTurfForm(
        organization=organization,
        initial={"buildings": list(membership.user.turf.values_list("building_id", flat=True))},
    )
    owned = Contact.objects.filter(
        organization=organization, owner=membership.user, status=Status.ACTIVE
    ).count()
    return render(
        request,
        "setup/member_detail.html",
        {
            "member": membership,
            "role_form": RoleForm(initial={"role": membership.role}),
            "turf_form": turf,
            "owned": owned,
            "owners_url": reverse("setup:owners") + f"?owner={membership.user_id}",
            "two_factor": code_devices(membership.user).exists(),
        },
    )


@require_POST
@member_required(Role.ADMIN)
def member_password_link(request: MemberRequest, membership_id: int) -> HttpResponse:
    """Email the member a fresh link to set their password: the invitation expired, or they
    can't get in."""
    membership = get_membership(request, membership_id)
    if runs_the_site(membership.user) and membership.pk != request.membership.pk:
        messages.error(
            request,
            _("%(name)s also runs the site: they reset their own password.")
            % {"name": display_name(membership.user)},
        )
    elif not membership.active or not membership.user.email:
        messages.error(request, _("Only an active member with an email address can get a link."))
    else:
        send_password_link(membership.user, invite=not membership.user.has_usable_password())
        messages.success(
            request,
            _("A link to set a password is on its way to %(email)s.")
            % {"email": membership.user.email},
        )
    return redirect("members:detail", membership.pk)


@require_POST
@member_required(Role.ADMIN)
def member_two_factor_reset(request: MemberRequest, membership_id: int) -> HttpResponse:
    """Remove a member's two-factor device (a lost phone): at their next login they set up a
    new one, if their role requires it, before anything else."""
    membership = get_membership(request, membership_id)
    if runs_the_site(membership.user):
        # Their code also guards Django's admin over every organization: not ours to remove.
        messages.error(
            request,
            _("%(name)s also runs the site: only a superuser can remove their two-factor.")
            % {"name": display_name(membership.user)},
        )
        return redirect("members:detail", membership.pk)
    removed, _by_model = TOTPDevice.objects.filter(user=membership.user).delete()
    name = display_name(membership.user)
    if removed:
        messages.success(request, _("Two-factor removed for %(name)s.") % {"name": name})
    else:
        messages.info(request, _("%(name)s had no two-factor to remove.") % {"name": name})
    return redirect("members:detail", membership.pk)


def after_change(request: MemberRequest, membership: Membership) -> HttpResponse:
    if request.membership.pk == membership.pk and membership.role != Role.ADMIN:
        return redirect("home")
    return redirect("members:detail", membership.pk)


@require_POST
@member_required(Role.ADMIN)
def member_role(request: MemberRequest, membership_id: int) -> HttpResponse:
    membership = get_membership(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose organizer, committee or admin."))
        return redirect("members:detail", membership.pk)
    try:
        change_role(actor=request.membership, membership=membership, role=form.cleaned_data["role"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("%(name)s is now %(role)s.")
            % {
                "name": display_name(membership.user),
                "role": membership.get_role_display().lower(),
            },
        )
    return after_change(request, membership)


@require_POST
@member_required(Role.ADMIN)
def member_turf(request: MemberRequest, membership_id: int) -> HttpResponse:
    """The organizer's buildings, from the organizer's side."""
    membership = get_membership(request, membership_id)
    form = MemberTurfForm(request.POST, organization=request.membership.organization)
    if not form.is_valid():
        messages.error(request, _("Some of those buildings are not in your organization."))
        return redirect("members:detail", membership.pk)
    try:
        set_organizer_turf(
            actor=request.membership,
            organizer=membership.user,
            buildings=form.cleaned_data["buildings"],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        count = len(form.cleaned_data["buildings"])
        messages.success(
            request,
            ngettext(
                "%(name)s's turf: %(count)s building.",
                "%(name)s's turf: %(count)s buildings.",
                count,
            )
            % {"name": display_name(membership.user), "count": count},
        )
    return redirect("members:detail", membership.pk)


@require_POST
@member_required(Role.ADMIN)
def member_deactivate(request: MemberRequest, membership_id: int) -> HttpResponse:
    membership = get_membership(request, membership_id)
    try:
        orphaned, alone = deactivate_member(actor=request.membership, membership=membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            ngettext(
                "Deactivated %(name)s. Their %(count)s active contact now show as orphaned until "
                "someone takes them on.",
                "Deactivated %(name)s. Their %(count)s active contacts now show as orphaned until "
                "someone takes them on.",
                orphaned,
            )
            % {"name": display_name(membership.user), "count": orphaned},
        )
        if alone:
            messages.warning(
                request,
                ngettext(
                    "%(buildings)s now has no organizer: give the turf to someone on the "
                    "building's page.",
                    "%(buildings)s now have no organizer: give the turf to someone on each "
                    "building's page.",
                    len(alone),
                )
                % {"buildings": ", ".join(alone)},
            )
    return redirect("members:detail", membership.pk)


@require_POST
@member_required(Role.ADMIN)
def member_reactivate(request: MemberRequest, membership_id: int) -> HttpResponse:
    membership = get_membership(request, membership_id)
    reactivate_member(actor=request.membership, membership=membership)
    messages.success(request, _("Reactivated %(name)s.") % {"name": display_name(membership.user)})
    return redirect("members:detail", membership.pk)
