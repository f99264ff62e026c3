"""The writes of memberships: their role, their return (adding a person is an invitation:
organizing/invitations.py).

Membership changes of one organization take a lock on its row, so that two admins
demoting each other at the same moment can't leave it with none.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from organizing.models import Membership, Organization, Role, display_name


def lock_for_admin(actor: Membership, membership: Membership | None = None) -> None:
    """Lock the organization, then refuse anyone who is not an admin now (their page may
    have been loaded before another admin changed their role) and memberships of another
    organization; read the membership as it is now."""
    Organization.objects.select_for_update().only("pk").get(pk=actor.organization_id)
    still_admin = Membership.objects.filter(pk=actor.pk, role=Role.ADMIN, active=True)
    if not still_admin.exists():
        raise PermissionDenied("Only admins manage members.")
    if membership is not None:
        if membership.organization_id != actor.organization_id:
            raise ValidationError("That person is not in your organization.")
        membership.refresh_from_db()


def runs_the_site(user: User) -> bool:
    """Staff and superusers reach Django's admin over every organization: an organization's
    admin may not lock them out of it, nor handle their way in."""
    return user.is_staff or user.is_superuser


def refuse_site_staff(actor: Membership, membership: Membership, what: str) -> None:
    if membership.pk != actor.pk and runs_the_site(membership.user):
        raise ValidationError(
            f"{display_name(membership.user)} also runs the site: only a superuser can {what}."
        )


def refuse_last_admin(membership: Membership, what: str) -> None:
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
