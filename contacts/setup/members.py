"""Admins manage who is in the organization and with which role.

Membership changes of one organization take a lock on its row, so that two admins
demoting each other at the same moment can't leave it with none.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from buildings.actions import set_organizer_turf
from buildings.models import Turf
from contacts.models import Contact, Status
from contacts.setup.member_forms import AddMemberForm, MemberTurfForm, RoleForm
from contacts.setup.views import count_of
from organizing.access import MemberRequest, code_devices, member_required
from organizing.accounts import send_password_link
from organizing.models import Membership, Organization, Role, display_name

# Operations


def _lock(member: Membership, membership: Membership | None = None) -> None:
    """Lock the organization, then refuse anyone who is not an admin now (their page may
    have been loaded before another admin changed their role) and memberships of another
    organization; read the membership as it is now."""
    Organization.objects.select_for_update().only("pk").get(pk=member.organization_id)
    still_admin = Membership.objects.filter(pk=member.pk, role=Role.ADMIN, active=True)
    if not still_admin.exists():
        raise PermissionDenied("Only admins manage members.")
    if membership is not None:
        if membership.organization_id != member.organization_id:
            raise ValidationError("That person is not in your organization.")
        membership.refresh_from_db()


def runs_the_site(user: User) -> bool:
    """Staff and superusers reach Django's admin over every organization: an organization's
    admin may not lock them out of it, nor handle their way in."""
    return user.is_staff or user.is_superuser


def _refuse_site_staff(member: Membership, membership: Membership, what: str) -> None:
    if membership.pk != member.pk and runs_the_site(membership.user):
        raise ValidationError(
            f"{display_name(membership.user)} also runs the site: only a superuser can {what}."
        )


def _refuse_last_admin(membership: Membership, what: str) -> None:
    if membership.role != Role.ADMIN or not membership.active:
        return
    others = Membership.objects.filter(
        organization_id=membership.organization_id, role=Role.ADMIN, active=True
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError(
            f"{display_name(membership.user)} is the last admin and can't be {what}: "
            "make someone else an admin first."
        )


@transaction.atomic
def add_member(
    *, member: Membership, email: str, role: Role, name: str = ""
) -> tuple[Membership, bool]:
    """Add a person to the organization by email, with a role. Returns the membership and
    whether a user account had to be made.

    1. Find the account with that email (in any case). With none, make one: the email is
       the username and the password unusable, so nobody can log in with it until the
       person sets their own through a password reset.
    2. Refuse a person who already belongs to an organization (a user belongs to one), and
       an account that runs the site (staff): a superuser adds those.
    """
    _lock(member)
    accounts = list(User.objects.filter(email__iexact=email)[:2])
    if len(accounts) > 1:
        raise ValidationError(
            {"email": "Several accounts use that email address; ask a superuser to merge them."}
        )
    created = not accounts
    if accounts:
        user = accounts[0]
    else:
        if User.objects.filter(username__iexact=email).exists():
            raise ValidationError({"email": "An account already uses that email as its username."})
        user = User(username=email, email=email, first_name=name.strip())
        user.set_unusable_password()
        user.save()
    existing = Membership.objects.filter(user=user).first()
    if existing is not None and existing.organization_id == member.organization_id:
        state = "a member" if existing.active else "a deactivated member: reactivate them"
        raise ValidationError({"email": f"{display_name(user)} is already {state}."})
    if existing is not None or runs_the_site(user):
        # Said without naming the other organization: that is theirs to know. An account
        # that runs the site joins an organization through a superuser, or an organization's
        # admin would manage it (its password link, its two-factor).
        raise ValidationError(
            {
                "email": "That email address can't be added: its account is in use elsewhere. "
                "Ask the person for another address."
            }
        )
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                user=user, organization_id=member.organization_id, role=role
            )
    except IntegrityError as error:
        raise ValidationError({"email": "Someone has just added that person."}) from error
    return membership, created


@transaction.atomic
def change_role(*, member: Membership, membership: Membership, role: Role) -> None:
    _lock(member, membership)
    _refuse_site_staff(member, membership, "change their role")
    if role != Role.ADMIN:
        _refuse_last_admin(membership, "given another role")
    membership.role = role
    membership.save(update_fields=["role"])


@transaction.atomic
def deactivate_member(*, member: Membership, membership: Membership) -> int:
    """Take a person out of the organization, keeping their history. Their turf ends and
    the contacts they own show as orphaned at once (the hourly job agrees: their owner has
    left). Returns how many contacts were orphaned."""
    _lock(member, membership)
    if membership.pk == member.pk:
        raise ValidationError("You can't deactivate yourself; ask another admin.")
    _refuse_site_staff(member, membership, "deactivate them")
    _refuse_last_admin(membership, "deactivated")
    membership.active = False
    membership.save(update_fields=["active"])
    Turf.objects.filter(organizer_id=membership.user_id).delete()
    return Contact.objects.filter(
        organization_id=member.organization_id,
        owner_id=membership.user_id,
        status=Status.ACTIVE,
    ).update(orphaned=True)


@transaction.atomic
def reactivate_member(*, member: Membership, membership: Membership) -> None:
    _lock(member, membership)
    membership.active = True
    membership.save(update_fields=["active"])


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
    return {"members": members, "form": form}


@require_GET
@member_required(Role.ADMIN)
def member_list(request: MemberRequest) -> HttpResponse:
    return render(request, "setup/members.html", member_list_context(request, AddMemberForm()))


@require_POST
@member_required(Role.ADMIN)
def member_add(request: MemberRequest) -> HttpResponse:
    form = AddMemberForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            membership, created = add_member(
                member=request.membership, email=data["email"], role=data["role"], name=data["name"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            text = (
                f"Added {display_name(membership.user)} as {membership.get_role_display().lower()}."
            )
            if created:
                send_password_link(membership.user, invite=True)
                text += (
                    f" An email to {membership.user.email} invites them to choose their password."
                )
            messages.success(request, text)
            return redirect("members:detail", membership.pk)
    return render(request, "setup/members.html", member_list_context(request, form), status=422)


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
            f"{display_name(membership.user)} also runs the site: they reset their own password.",
        )
    elif not membership.active or not membership.user.email:
        messages.error(request, "Only an active member with an email address can get a link.")
    else:
        send_password_link(membership.user, invite=not membership.user.has_usable_password())
        messages.success(
            request, f"A link to set a password is on its way to {membership.user.email}."
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
            f"{display_name(membership.user)} also runs the site: only a superuser can remove "
            "their two-factor.",
        )
        return redirect("members:detail", membership.pk)
    removed, _ = TOTPDevice.objects.filter(user=membership.user).delete()
    if removed:
        messages.success(request, f"Two-factor removed for {display_name(membership.user)}.")
    else:
        messages.info(request, f"{display_name(membership.user)} had no two-factor to remove.")
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
        messages.error(request, "Choose organizer, committee or admin.")
        return redirect("members:detail", membership.pk)
    try:
        change_role(
            member=request.membership, membership=membership, role=form.cleaned_data["role"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"{display_name(membership.user)} is now {membership.get_role_display().lower()}.",
        )
    return after_change(request, membership)


@require_POST
@member_required(Role.ADMIN)
def member_turf(request: MemberRequest, membership_id: int) -> HttpResponse:
    """The organizer's buildings, from the organizer's side."""
    membership = get_membership(request, membership_id)
    form = MemberTurfForm(request.POST, organization=request.membership.organization)
    if not form.is_valid():
        messages.error(request, "Some of those buildings are not in your organization.")
        return redirect("members:detail", membership.pk)
    try:
        set_organizer_turf(
            member=request.membership,
            organizer=membership.user,
            buildings=form.cleaned_data["buildings"],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        count = len(form.cleaned_data["buildings"])
        messages.success(
            request,
            f"{display_name(membership.user)}'s turf: {count} building{'s' if count != 1 else ''}.",
        )
    return redirect("members:detail", membership.pk)


@require_POST
@member_required(Role.ADMIN)
def member_deactivate(request: MemberRequest, membership_id: int) -> HttpResponse:
    membership = get_membership(request, membership_id)
    try:
        orphaned = deactivate_member(member=request.membership, membership=membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"Deactivated {display_name(membership.user)}. Their {orphaned} active "
            f"contact{'s' if orphaned != 1 else ''} now show as orphaned until someone takes "
            "them on.",
        )
    return redirect("members:detail", membership.pk)


@require_POST
@member_required(Role.ADMIN)
def member_reactivate(request: MemberRequest, membership_id: int) -> HttpResponse:
    membership = get_membership(request, membership_id)
    reactivate_member(member=request.membership, membership=membership)
    messages.success(request, f"Reactivated {display_name(membership.user)}.")
    return redirect("members:detail", membership.pk)
