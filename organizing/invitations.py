"""Inviting a person by email: the admin's side and the invited person's side.

An admin's invitation reads and is sent the same whatever the address holds (no account,
an account elsewhere, several), so that adding a member tells the admin nothing about
accounts outside the organization. The person who follows the link learns what their own
address holds: with no account they choose a password, with one they log in and accept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from organizing.actions import lock_for_admin
from organizing.i18n import for_organization
from organizing.models import Invitation, Membership, Role, display_name

INVITATION_DAYS = 7


def hash_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_invitation(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("organization").filter(token_hash=hash_of(token)).first()
    )


def is_expired(invitation: Invitation) -> bool:
    return invitation.expires_at <= timezone.now()


@transaction.atomic
def invite_member(*, actor: Membership, email: str, role: Role, name: str = "") -> Invitation:
    """Invite `email` to the actor's organization with `role`, and have the worker send it.

    1. Lock the organization and refuse an actor who is no longer an admin.
    2. Refuse an address that a member of this organization already has: the admin sees
       the members, so this tells nothing new. Nothing else about the address is looked at.
    3. An open invitation of the address is renewed (role, name, seven days from now), else
       one is made; the link's token is made by the worker when it sends the email.
    """
    lock_for_admin(actor)
    members = Membership.objects.filter(
        organization_id=actor.organization_id, user__email__iexact=email
    ).select_related("user")
    if (member := members.first()) is not None:
        if member.active:
            refusal = _("%(name)s is already a member.")
        else:
            refusal = _("%(name)s is already a deactivated member: reactivate them.")
        raise ValidationError({"email": refusal % {"name": display_name(member.user)}})
    now = timezone.now()
    invitation = (
        Invitation.objects.open()
        .select_for_update()
        .filter(organization_id=actor.organization_id, email__iexact=email)
        .first()
    )
    if invitation is None:
        invitation = Invitation(
            organization_id=actor.organization_id,
            email=email,
            # A placeholder nobody holds the token of, until the worker makes the link.
            token_hash=hash_of(secrets.token_urlsafe(32)),
        )
    invitation.name = name.strip()
    invitation.role = role
    invitation.invited_by_id = actor.user_id
    invitation.sent_at = now
    invitation.expires_at = now + dt.timedelta(days=INVITATION_DAYS)
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError as error:
        raise ValidationError({"email": _("Someone has just invited that address.")}) from error
    send_invitation(invitation)
    return invitation


@transaction.atomic
def resend_invitation(*, actor: Membership, invitation: Invitation) -> None:
    """A new link, seven days from now; the earlier link stops working when it is sent."""
    lock_for_admin(actor)
    now = timezone.now()
    invitation.sent_at = now
    invitation.expires_at = now + dt.timedelta(days=INVITATION_DAYS)
    invitation.invited_by_id = actor.user_id
    invitation.save(update_fields=["sent_at", "expires_at", "invited_by"])
    send_invitation(invitation)


@transaction.atomic
def cancel_invitation(*, actor: Membership, invitation: Invitation) -> None:
    lock_for_admin(actor)
    Invitation.objects.open().filter(pk=invitation.pk).update(cancelled_at=timezone.now())


def send_invitation(invitation: Invitation) -> None:
    """Once the transaction commits, have the worker email the invitation."""
    from organizing.tasks import enqueue, send_invitation_task

    pk = invitation.pk
    transaction.on_commit(lambda: enqueue(send_invitation_task, pk))


def email_invitation(invitation_id: int) -> None:
    """Make the link's token, keep its hash (an earlier link stops working), and send the
    email: one template, whatever the address holds. The link points at SITE_URL."""
    token = secrets.token_urlsafe(32)
    opened = Invitation.objects.open().filter(pk=invitation_id, expires_at__gt=timezone.now())
    if opened.update(token_hash=hash_of(token)) != 1:
        return  # cancelled, accepted or expired before the worker got to it
    invitation = Invitation.objects.select_related("organization").get(pk=invitation_id)
    organization = invitation.organization
    site = urlsplit(settings.SITE_URL)
    # The invited person has no membership, so no language of their own yet: the one they
    # most likely read is the one their organization works in first.
    with for_organization(organization):
        context = {
            "invitation": invitation,
            "organization": organization.name,
            "role": invitation.get_role_display().lower(),
            "link": f"{site.scheme}://{site.netloc}{reverse('invitation', args=[token])}",
            "days": INVITATION_DAYS,
        }
        subject = render_to_string("registration/invitation_subject.txt", context).strip()
        message = EmailMultiAlternatives(
            subject,
            render_to_string("registration/invitation_email.txt", context),
            None,
            [invitation.email],
        )
        message.attach_alternative(
            render_to_string("registration/invitation_email.html", context), "text/html"
        )
    message.send()


def account_of(email: str) -> User | None:
    """The one account of the address, compared as Django's password reset does; None when
    there is none or more than one (then nobody can tell which is theirs)."""
    from organizing.accounts import folded

    accounts = [
        user
        for user in User.objects.filter(email__iexact=email)[:3]
        if folded(user.email) == folded(email)
    ]
    return accounts[0] if len(accounts) == 1 else None


class CantAccept(Exception):
    """Why an invitation can't be accepted, in words for the person who followed it."""


def refusal_for(invitation: Invitation, user: User) -> str | None:
    """Why `user` may not accept an open invitation, or None."""
    from organizing.accounts import folded

    if folded(user.email) != folded(invitation.email):
        return _("This invitation is for another address: log out, then open the link again.")
    if user.is_staff or user.is_superuser:
        return _("Your account runs the site: a superuser adds it to an organization.")
    if Membership.objects.filter(user=user).exists():
        return _(
            "Your account already belongs to an organization, and an account belongs to one. "
            "Ask the admin who invited you to invite another address."
        )
    return None


@transaction.atomic
def accept_invitation(*, invitation_id: int, user: User) -> Membership:
    """Join the invitation's organization as `user`, with its role, once.

    1. Lock the invitation; refuse it when it was used, cancelled or is past its date.
    2. Refuse an account of another address, one that runs the site, or one that already
       belongs to an organization (an account belongs to one).
    3. Make the membership and mark the invitation accepted by this account.
    """
    invitation = Invitation.objects.select_for_update().get(pk=invitation_id)
    if invitation.accepted_at is not None:
        raise CantAccept(_("This invitation has already been used."))
    if invitation.cancelled_at is not None:
        raise CantAccept(_("This invitation was cancelled."))
    if is_expired(invitation):
        raise CantAccept(_("This invitation has expired: ask an admin to send a new one."))
    if (reason := refusal_for(invitation, user)) is not None:
        raise CantAccept(reason)
    membership = Membership.objects.create(
        user=user, organization_id=invitation.organization_id, role=invitation.role
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def accept_with_new_account(*, invitation_id: int, password: str, name: str) -> Membership:
    """The invited address has no account: make one (the address is its username) with the
    password chosen, and accept with it."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation_id)
    if (
        account_of(invitation.email) is not None
        or User.objects.filter(username__iexact=invitation.email).exists()
    ):
        raise CantAccept(_("This address already has an account: log in to accept."))
    user = User(username=invitation.email, email=invitation.email, first_name=name.strip())
    user.set_password(password)
    user.save()
    return accept_invitation(invitation_id=invitation_id, user=user)
