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
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import User
from django.db import transaction

from organizing.models import Membership
from organizing.security import rate_limit

# 1. Login

login = rate_limit("login")(auth_views.LoginView.as_view(redirect_authenticated_user=True))


# 2. Passwords by email


class MemberPasswordResetForm(PasswordResetForm):
    """Django's form, which also reaches members who never had a password: an admin added
    them and the emailed link is how they choose their first one."""

    def get_users(self, email: str) -> Any:
        for user in User.objects.filter(email__iexact=email, is_active=True):
            # As Django's own: the database's case-insensitive match may join addresses that
            # differ in Unicode (a dotless i, U+0131, and an i): a link goes to an exact one.
            if folded(email) != folded(user.email):
                continue
            member = Membership.objects.filter(user=user, active=True).exists()
            if user.has_usable_password() or member:
                yield user


def folded(email: str) -> str:
    return unicodedata.normalize("NFKC", email).casefold()


def send_password_link(user: User, *, invite: bool) -> None:
    """Email `user` a one-use link to set their password, once the transaction commits: as an
    invitation to a new member, or as a fresh link asked for by an admin."""
    site = urlsplit(settings.SITE_URL)
    form = MemberPasswordResetForm({"email": user.email})
    if not form.is_valid():
        return
    prefix = "registration/invite" if invite else "registration/password_reset"

    def send() -> None:
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            subject_template_name=f"{prefix}_subject.txt",
            email_template_name=f"{prefix}_email.txt",
            html_email_template_name=f"{prefix}_email.html",
            extra_email_context={"site_name": "Doorstep"},
        )

    transaction.on_commit(send)


password_reset = rate_limit("password_reset")(
    auth_views.PasswordResetView.as_view(
        form_class=MemberPasswordResetForm,
        email_template_name="registration/password_reset_email.txt",
        html_email_template_name="registration/password_reset_email.html",
        subject_template_name="registration/password_reset_subject.txt",
    )
)
