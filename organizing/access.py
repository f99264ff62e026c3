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

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django_htmx.middleware import HtmxDetails

from organizing.models import Membership, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class MemberRequest(HttpRequest):
    """A request that passed `member_required`."""

    user: User
    membership: Membership
    htmx: HtmxDetails


View = Callable[..., HttpResponseBase]


def member_required(*roles: Role) -> Callable[[View], View]:
    """Let in logged-in, active members of an organization; with roles, only those roles."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = (
                Membership.objects.select_related("organization")
                .filter(user=request.user, active=True)
                .first()
            )
            if membership is None:
                raise PermissionDenied("You are not an active member of any organization.")
            if roles and membership.role not in roles:
                raise PermissionDenied("Your role does not give access to this page.")
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
