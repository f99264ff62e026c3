"""The writes of memberships: their role, their return (adding a person is an invitation:
organizing/invitations.py).

Membership changes of one organization take a lock on its row, so that two admins
demoting each other at the same moment can't leave it with none.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
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
