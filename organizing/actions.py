"""The writes of memberships: adding a person, their role, their return.

Membership changes of one organization take a lock on its row, so that two admins
demoting each other at the same moment can't leave it with none.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from organizing.models import Membership, Organization, Role, display_name


def lock_for_admin(actor: Membership, membership: Membership | None = None) -> None:
    """Lock the organization, then refuse anyone who is not an admin now (their page may
    have been loaded before another admin changed their role) and memberships of another
    organization; read the membership as it is now."""
    Organization.objects.select_for_update().only("pk").get(pk=actor.organization_id)
    still_admin = Membership.objects.filter(pk=actor.pk, role=Role.ADMIN, active=True)
    if not still_admin.exists():
        raise PermissionDenied(_("Only admins manage members."))
    if membership is not None:
        if membership.organization_id != actor.organization_id:
            raise ValidationError(_("That person is not in your organization."))
        membership.refresh_from_db()


def runs_the_site(user: User) -> bool:
    """Staff and superusers reach Django's admin over every organization: an organization's
    admin may not lock them out of it, nor handle their way in."""
    return user.is_staff or user.is_superuser


# Each refusal a whole sentence (French does not put the words where English does), named by
# what was refused.
ONLY_A_SUPERUSER = {
    "change their role": gettext_lazy(
        "%(name)s also runs the site: only a superuser can change their role."
    ),
    "deactivate them": gettext_lazy(
        "%(name)s also runs the site: only a superuser can deactivate them."
    ),
}
LAST_ADMIN = {
    "given another role": gettext_lazy(
        "%(name)s is the last admin and can't be given another role: make someone else an "
        "admin first."
    ),
    "deactivated": gettext_lazy(
        "%(name)s is the last admin and can't be deactivated: make someone else an admin first."
    ),
}


def refuse_site_staff(actor: Membership, membership: Membership, what: str) -> None:
    if membership.pk != actor.pk and runs_the_site(membership.user):
        raise ValidationError(ONLY_A_SUPERUSER[what] % {"name": display_name(membership.user)})


def refuse_last_admin(membership: Membership, what: str) -> None:
    if membership.role != Role.ADMIN or not membership.active:
        return
    others = Membership.objects.filter(
        organization_id=membership.organization_id, role=Role.ADMIN, active=True
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError(LAST_ADMIN[what] % {"name": display_name(membership.user)})


# Whatever the reason (an account in another organization, one that runs the site, an
# email shared by several accounts or used as another's username), the answer is the same:
# which one it is would tell an organization's admin about accounts outside it.
CANT_BE_ADDED = gettext_lazy(
    "That email address can't be added. Ask the person for another address, or ask the "
    "people who run this site."
)


@transaction.atomic
def add_member(
    *, actor: Membership, email: str, role: Role, name: str = ""
) -> tuple[Membership, bool]:
    """Add a person to the organization by email, with a role. Returns the membership and
    whether a user account had to be made.

    1. Find the account with that email (in any case). With none, make one: the email is
       the username and the password unusable, so nobody can log in with it until the
       person sets their own through a password reset.
    2. Refuse a person who already belongs to an organization (a user belongs to one), and
       an account that runs the site (staff): a superuser adds those. Every refusal about
       an account outside the organization reads the same (CANT_BE_ADDED).
    """
    lock_for_admin(actor)
    accounts = list(User.objects.filter(email__iexact=email)[:2])
    created = not accounts
    if len(accounts) > 1:
        raise ValidationError({"email": CANT_BE_ADDED})
    if accounts:
        user = accounts[0]
    else:
        if User.objects.filter(username__iexact=email).exists():
            raise ValidationError({"email": CANT_BE_ADDED})
        user = User(username=email, email=email, first_name=name.strip())
        user.set_unusable_password()
        user.save()
    existing = Membership.objects.filter(user=user).first()
    if existing is not None and existing.organization_id == actor.organization_id:
        already = (
            _("%(name)s is already a member.")
            if existing.active
            else _("%(name)s is already a deactivated member: reactivate them.")
        )
        raise ValidationError({"email": already % {"name": display_name(user)}})
    if existing is not None or runs_the_site(user):
        # An account that runs the site joins an organization through a superuser, or an
        # organization's admin would manage it (its password link, its two-factor).
        raise ValidationError({"email": CANT_BE_ADDED})
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                user=user, organization_id=actor.organization_id, role=role
            )
    except IntegrityError as error:
        raise ValidationError({"email": _("Someone has just added that person.")}) from error
    return membership, created


@transaction.atomic
def change_role(*, actor: Membership, membership: Membership, role: Role) -> None:
    lock_for_admin(actor, membership)
    refuse_site_staff(actor, membership, "change their role")
    if role != Role.ADMIN:
        refuse_last_admin(membership, "given another role")
    membership.role = role
    membership.save(update_fields=["role"])


@transaction.atomic
def reactivate_member(*, actor: Membership, membership: Membership) -> None:
    lock_for_admin(actor, membership)
    membership.active = True
    membership.save(update_fields=["active"])


@transaction.atomic
def set_languages_and_time_zone(
    *, actor: Membership, languages: list[str], time_zone: str
) -> Organization:
    """The organization's working languages (the first is its default) and its time zone.
    A member whose language it no longer works in reads its first from their next page."""
    if actor.role != Role.ADMIN:
        raise PermissionDenied("Only an admin sets the organization's languages.")
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    organization.languages = languages
    organization.time_zone = time_zone
    organization.full_clean(exclude=["name", "slug"])
    organization.save(update_fields=["languages", "time_zone"])
    return organization
