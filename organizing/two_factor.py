"""Two-factor codes from a phone app (TOTP, django-otp) for committee and admins.

1. Set up: the page shows a QR code (and the secret as text) of a new, unconfirmed device;
   the first code the app shows confirms it and verifies this session.
2. Verify: after the password, a member with a device enters a code before anything else
   (`member_required` sends them here). django-otp slows down repeated wrong codes.
3. Turn off: a member whose role does not require it may remove their device; an admin may
   remove a member's device when the phone is lost (organizing/members.py).
"""

from __future__ import annotations

import math
from base64 import b32encode
from typing import Any

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from organizing.access import MemberRequest, code_devices, member_required, verified
from organizing.models import Role
from organizing.security import rate_limit

ROLES = (Role.COMMITTEE, Role.ADMIN)


class CodeRequiredAdminSite(AdminSite):
    """Django's admin (superusers and staff only), which wants a code entered in this session
    from whoever has a device, and from everyone where admins must use two-factor. The code
    is set up and entered on our own pages, so a superuser who runs Doorstep is also an
    admin member of an organization. Its login form counts against the same limit as ours."""

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        return verified(request) or not self.code_required(request)

    def code_required(self, request: HttpRequest) -> bool:
        return Role.ADMIN in settings.OTP_REQUIRED_ROLES or self.has_device(request)

    def has_device(self, request: HttpRequest) -> bool:
        return code_devices(request.user).exists()

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        user = request.user
        if user.is_active and user.is_staff and not self.has_permission(request):
            name = "two_factor_verify" if self.has_device(request) else "two_factor_setup"
            return redirect(f"{reverse(name)}?{urlencode({'next': reverse('admin:index')})}")
        return rate_limit("login")(super().login)(request, extra_context)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9 ]*",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].replace(" ", "")
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            raise forms.ValidationError(_("The code is the 6 digits your app shows now."))
        return code


def refusal(device: TOTPDevice, code: str) -> str | None:
    """Why `code` does not verify the device, or None when it does (and is then used up)."""
    allowed, details = device.verify_is_allowed()
    if not allowed and details and "locked_until" in details:
        wait = math.ceil((details["locked_until"] - timezone.now()).total_seconds())
        seconds = max(wait, 1)
        return ngettext(
            "Too many wrong codes: wait %(count)s second, then enter the code your app shows then.",
            "Too many wrong codes: wait %(count)s seconds, then enter the code your app shows "
            "then.",
            seconds,
        ) % {"count": seconds}
    if device.verify_token(code):
        return None
    return _("That code did not work: enter the code your app shows now (each code works once).")


def code_entered(request: MemberRequest, device: TOTPDevice) -> None:
    """The session now holds more than it did: give it a new key, as Django's login does,
    so that a key seen before the code (on a shared phone, say) opens nothing."""
    request.session.cycle_key()
    otp_login(request, device)


def next_url(request: MemberRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("home")


def required(request: MemberRequest) -> bool:
    return request.membership.role in settings.OTP_REQUIRED_ROLES


@require_http_methods(["GET", "POST"])
@member_required(*ROLES, two_factor=False)
@rate_limit("two_factor", key="user")
def setup(request: MemberRequest) -> HttpResponse:
    user = request.user
    if request.membership.has_code_device:  # type: ignore[attr-defined]
        if not verified(request):
            query = urlencode({"next": next_url(request)})
            return redirect(f"{reverse('two_factor_verify')}?{query}")
        return redirect("two_factor")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Phone app", confirmed=False)
    elif request.method == "GET":
        # A new secret for each showing: one seen on this screen earlier (over a shoulder,
        # on a phone left open) is worth nothing once the page is opened again.
        device.key = default_key()
        device.save(update_fields=["key"])
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        problem = refusal(device, form.cleaned_data["code"])
        if problem is None:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            code_entered(request, device)
            messages.success(
                request, _("Two-factor is on: after your password, Doorstep asks for a code.")
            )
            return HttpResponseRedirect(next_url(request))
        form.add_error("code", problem)
    raw = b32encode(device.bin_key).decode()
    return render(
        request,
        "organizing/two_factor_setup.html",
        {
            "form": form,
            "qr": segno.make(device.config_url, error="m").svg_inline(scale=4, border=2),
            "secret": " ".join(raw[i : i + 4] for i in range(0, len(raw), 4)),
            "next": next_url(request),
            "required": required(request),
        },
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@member_required(two_factor=False)
@rate_limit("two_factor", key="user")
def verify(request: MemberRequest) -> HttpResponse:
    if verified(request) or not request.membership.has_code_device:  # type: ignore[attr-defined]
        return HttpResponseRedirect(next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = code_devices(request.user).first()
        if device is None:  # removed by an admin meanwhile
            return HttpResponseRedirect(next_url(request))
        problem = refusal(device, form.cleaned_data["code"])
        if problem is None:
            code_entered(request, device)
            return HttpResponseRedirect(next_url(request))
        form.add_error("code", problem)
    return render(
        request,
        "organizing/two_factor_verify.html",
        {"form": form, "next": next_url(request)},
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET"])
@member_required(*ROLES)
def status(request: MemberRequest) -> HttpResponse:
    on = code_devices(request.user).exists()
    return render(request, "organizing/two_factor.html", {"on": on, "required": required(request)})


@require_POST
@member_required(*ROLES)
def turn_off(request: MemberRequest) -> HttpResponse:
    if required(request):
        messages.error(request, _("Your role must use two-factor: it can't be turned off."))
        return redirect("two_factor")
    TOTPDevice.objects.filter(user=request.user).delete()
    messages.success(request, _("Two-factor is off. Doorstep asks only for your password now."))
    return redirect("two_factor")
