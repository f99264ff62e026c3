"""Getting in: logging in, setting a password by email, and two-factor codes.

1. Login is Django's, behind a rate limit per address; django-axes locks an account out
   from an address after repeated wrong passwords (settings.AXES_*).
2. A password is set through an emailed link: a forgotten one, or the first one of a member
   an admin has just added (their account starts with no usable password).
3. Two-factor codes are asked by `member_required` after the password, whenever the
   account has a device (organizing/two_factor.py).
"""

from __future__ import annotations

import unicodedata
from contextlib import nullcontext
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from organizing.i18n import for_member
from organizing.models import Membership
from organizing.security import rate_limit

# 1. Login

login = rate_limit("login")(auth_views.LoginView.as_view(redirect_authenticated_user=True))


# 2. Passwords by email


class MemberPasswordResetForm(PasswordResetForm):
    """Django's form, which also reaches members who never had a password: an admin added
    them and the emailed link is how they choose their first one."""

    def get_users(self, email: str) -> Any:
        # One query, whether the address has an account or not.
        member = Exists(Membership.objects.filter(user=OuterRef("pk"), active=True))
        users = User.objects.filter(email__iexact=email, is_active=True).annotate(member=member)
        for user in users:
            # As Django's own: the database's case-insensitive match may join addresses that
            # differ in Unicode (a dotless i, U+0131, and an i): a link goes to an exact one.
            if folded(email) != folded(user.email):
                continue
            if user.has_usable_password() or user.member:
                yield user

    def save(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Hand each link to the worker. Sent here, an SMTP exchange would make the answer
        slower for an address that has an account than for one that has none, telling
        anyone who asks which tenants organize."""
        for user in self.get_users(self.cleaned_data["email"]):
            send_password_link(user, invite=False)


def folded(email: str) -> str:
    return unicodedata.normalize("NFKC", email).casefold()


def may_set_password(user: User) -> bool:
    """Whether the reset form would send `user` a link: an active account with a password,
    or an active member's (who may have none yet)."""
    users = MemberPasswordResetForm().get_users(user.email) if user.email else ()
    return any(found.pk == user.pk for found in users)


def send_password_link(user: User, *, invite: bool) -> None:
    """Once the transaction commits, have the worker email `user` a one-use link to set their
    password: an invitation to a new member, a fresh link asked for by an admin, or a
    forgotten password."""
    from organizing.tasks import enqueue, send_password_link_task

    transaction.on_commit(lambda: enqueue(send_password_link_task, user.pk, invite))


def email_password_link(user: User, *, invite: bool) -> None:
    """The email itself, as Django's reset form writes it, to this one account. The link
    points at SITE_URL, never at the Host header of whoever asked."""
    if not may_set_password(user):
        return
    site = urlsplit(settings.SITE_URL)
    prefix = "registration/invite" if invite else "registration/password_reset"
    context = {
        "email": user.email,
        "domain": site.netloc,
        "site_name": "Doorstep",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": "https" if site.scheme == "https" else "http",
    }
    membership = (
        Membership.objects.select_related("organization").filter(user=user, active=True).first()
    )
    # In the recipient's language; an account with no membership gets the language active.
    with for_member(membership) if membership else nullcontext():
        PasswordResetForm().send_mail(
            f"{prefix}_subject.txt",
            f"{prefix}_email.txt",
            context,
            None,
            user.email,
            html_email_template_name=f"{prefix}_email.html",
        )


password_reset = rate_limit("password_reset")(
    auth_views.PasswordResetView.as_view(
        form_class=MemberPasswordResetForm,
        email_template_name="registration/password_reset_email.txt",
        html_email_template_name="registration/password_reset_email.html",
        subject_template_name="registration/password_reset_subject.txt",
    )
)
