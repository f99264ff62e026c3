"""Getting in: logging in, setting a password by email, and two-factor codes.

1. Login is Django's, behind a rate limit per address; django-axes locks an account out
   from an address after repeated wrong passwords (settings.AXES_*).
2. A password is set through an emailed link: a forgotten one, or the first one of a member
   an admin has just added (their account starts with no usable password).
3. Two-factor codes are asked by `member_required` after the password, whenever the
   account has a device (organizing/two_factor.py).
4. An admin's invitation is accepted through its emailed link: with a new password, or by
   logging in to the address's account (organizing/invitations.py).
"""

from __future__ import annotations

import unicodedata
from contextlib import nullcontext
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as log_in
from django.contrib.auth import password_validation
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from organizing.i18n import for_member
from organizing.invitations import (
    CantAccept,
    accept_invitation,
    accept_with_new_account,
    account_of,
    find_invitation,
    is_expired,
    refusal_for,
)
from organizing.models import Invitation, Membership
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


# 4. Invitations


class NewAccountForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Your name"),
        max_length=150,
        required=False,
        help_text=gettext_lazy("How others see you."),
    )
    password1 = forms.CharField(
        label=gettext_lazy("Choose a password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput,
    )
    password2 = forms.CharField(
        label=gettext_lazy("The same again"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput,
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            user = User(username=self.email, email=self.email, first_name=data.get("name", ""))
            try:
                password_validation.validate_password(first, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


def invitation_state(request: HttpRequest, invitation: Invitation | None) -> str:
    """What the person who followed the link may do: nothing (the link is unknown, used,
    cancelled or too old), join with the account they are logged in with, log in to the
    address's account, or choose a password for a new one."""
    if invitation is None or invitation.cancelled_at is not None:
        return "invalid"
    if invitation.accepted_at is not None:
        return "used"
    if is_expired(invitation):
        return "expired"
    if request.user.is_authenticated:
        return "join"
    return "login" if account_of(invitation.email) is not None else "new"


STATUS = {"invalid": 404, "used": 410, "expired": 410}


@require_http_methods(["GET", "POST"])
@rate_limit("password_reset")
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an invitation's email: join the organization, once."""
    found = find_invitation(token)
    state = invitation_state(request, found)
    form = None
    if state == "new":
        assert found is not None
        form = NewAccountForm(request.POST or None, email=found.email)
    if request.method == "POST" and found is not None and state in ("join", "new"):
        try:
            if state == "join":
                accept_invitation(invitation_id=found.pk, user=request.user)  # type: ignore[arg-type]
                messages.success(
                    request, _("Welcome to %(name)s.") % {"name": found.organization.name}
                )
                return redirect("home")
            assert form is not None
            if form.is_valid():
                membership = accept_with_new_account(
                    invitation_id=found.pk,
                    password=form.cleaned_data["password1"],
                    name=form.cleaned_data["name"],
                )
                log_in(
                    request, membership.user, backend="django.contrib.auth.backends.ModelBackend"
                )
                messages.success(
                    request, _("Welcome to %(name)s.") % {"name": found.organization.name}
                )
                return redirect("home")
        except CantAccept as refusal:
            found.refresh_from_db()
            return render(
                request,
                "registration/invitation.html",
                {"invitation": found, "state": "refused", "reason": str(refusal)},
                status=409,
            )
    reason = None
    if state == "join":
        assert found is not None
        reason = refusal_for(found, request.user)  # type: ignore[arg-type]
    status = STATUS.get(state, 422 if form is not None and form.errors else 200)
    return render(
        request,
        "registration/invitation.html",
        {
            "invitation": found,
            "state": "refused" if reason else state,
            "form": form,
            "reason": reason,
        },
        status=409 if reason else status,
    )
