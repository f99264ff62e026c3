"""The one way a view learns who is asking: their organization and role.

Every view of ours is wrapped in `member_required`; it puts the active Membership on
`request.membership` and every queryset in the view starts from
`request.membership.organization`. Objects of another organization are then simply not
found (404), and a role check answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django_htmx.middleware import HtmxDetails
from django_otp.plugins.otp_totp.models import TOTPDevice

from organizing.i18n import activate_member
from organizing.models import Membership, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class MemberRequest(HttpRequest):
    """A request that passed `member_required`."""

    user: User
    membership: Membership
    htmx: HtmxDetails


View = Callable[..., HttpResponseBase]


def verified(request: HttpRequest) -> bool:
    """Whether this session entered a two-factor code (django-otp's OTPMiddleware says)."""
    return bool(getattr(request.user, "is_verified", lambda: False)())


def code_devices(user: Any) -> QuerySet[TOTPDevice]:
    """`user`'s confirmed two-factor devices (`user` may be an OuterRef)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True)


def has_code_device(user: Any) -> Exists:
    """An expression: `user` has a confirmed two-factor device. Asked afresh on every
    request with the membership, so a device set up or removed in another session counts at
    once; a flag noted at login would not."""
    return Exists(code_devices(user))


def two_factor_redirect(request: HttpRequest, membership: Membership) -> HttpResponseBase | None:
    """Where a member must go before the page they asked for, if anywhere: to enter a code
    (they have a device and have not used it in this session) or to set one up (their role
    is in settings.OTP_REQUIRED_ROLES). None when they may go on."""
    if verified(request):
        return None
    if membership.has_code_device:  # type: ignore[attr-defined]
        name = "two_factor_verify"
    elif membership.role in settings.OTP_REQUIRED_ROLES:
        name = "two_factor_setup"
    else:
        return None
    next_url = request.get_full_path() if request.method == "GET" else reverse("home")
    return HttpResponseRedirect(f"{reverse(name)}?{urlencode({'next': next_url})}")


def member_required(*roles: Role, two_factor: bool = True) -> Callable[[View], View]:
    """Let in logged-in, active members of an organization; with roles, only those roles.
    Two-factor is enforced unless two_factor is False (the pages that set it up)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = (
                Membership.objects.select_related("organization")
                .filter(user=request.user, active=True)
                .annotate(has_code_device=has_code_device(OuterRef("user")))
                .first()
            )
            if membership is None:
                raise PermissionDenied(_("You are not an active member of any organization."))
            activate_member(request, membership)
            if two_factor and (detour := two_factor_redirect(request, membership)):
                return detour
            if roles and membership.role not in roles:
                raise PermissionDenied(_("Your role does not give access to this page."))
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
