"""Who is asking from where, and how often they may ask.

The client's address feeds the login lockout (django-axes) and the rate limits
(django-ratelimit). Behind our own proxies (TRUSTED_PROXIES of them) it is the entry that
many places from the right of X-Forwarded-For: entries further left are the client's to
write, so they are never trusted.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import ngettext
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

USERNAME_MAX_LENGTH = 150  # django.contrib.auth.models.User.username

View = Callable[..., HttpResponseBase]


def client_ip(request: HttpRequest) -> str:
    proxies = settings.TRUSTED_PROXIES
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies and (address := valid_ip(forwarded[-proxies])):
            return address
    return valid_ip(str(request.META.get("REMOTE_ADDR") or "")) or "0.0.0.0"


def valid_ip(text: str) -> str | None:
    """The client `text` names, written the one way so that one client is counted once, or
    None when it is not an address: a misconfigured proxy's header is not a client.

    An IPv4 address written as IPv6 (::ffff:1.2.3.4) is that IPv4 address. An IPv6 address
    is its /64 network: one home or phone holds a whole /64 and may use any address in it,
    so the lockout and the rate limits (which would mask it so anyway) count the network."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address), 64), strict=False).network_address)
    return str(address)


def login_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The username a login tried, as the lockout counts it: OLIVIA and olivia are one.

    Cut to the longest a username can be: Django's login form checks no length, and a
    longer one doesn't fit the lockout's table (a 500 instead of "wrong password")."""
    username = (credentials or {}).get("username")
    if username is None and request is not None:
        username = request.POST.get("username", "")
    return str(username or "").strip().lower()[:USERNAME_MAX_LENGTH]


class AccountLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout of an account at one address (AXES_FAILURE_LIMIT), and of the
    account at every address once it has failed LOGIN_ACCOUNT_FAILURE_LIMIT times from any
    of them: guessing one password from many addresses is stopped too. django-axes counts
    every parameter set against one limit; the account's is larger, so that a stranger's
    few wrong guesses never lock a member out."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().authenticate(request, username=username, password=password, **kwargs)  # type: ignore[arg-type]
        account = login_username(request, {"username": username})
        if account and account_failures(account) >= settings.LOGIN_ACCOUNT_FAILURE_LIMIT:
            request.axes_locked_out = True  # type: ignore[union-attr]
            raise AxesBackendPermissionDenied("This account is locked out.")


def account_failures(username: str) -> int:
    """Failed logins for the account from every address, within the cool-off."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    attempts = AccessAttempt.objects.filter(username=username, attempt_time__gte=since)
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def rate_limit(name: str, *, key: str = "ip") -> Callable[[View], View]:
    """Answer 429 to a POST once `key` (the client's address, or "user") has made more than
    settings.RATE_LIMITS[name] of them; GETs are never counted."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method == "POST":
                try:
                    usage = get_usage(
                        request,
                        group=f"doorstep.{name}",
                        key=key,
                        rate=settings.RATE_LIMITS[name],
                        method="POST",
                        increment=True,
                    )
                except (RedisError, OSError):
                    # The cache is down: a knock is worth more than a limit, so let it in.
                    logger.warning("rate limit %s not counted: the cache is unreachable", name)
                    usage = None
                if usage is not None and usage["should_limit"]:
                    return too_many(request, usage["time_left"])
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def too_many(request: HttpRequest, seconds: int) -> HttpResponse:
    seconds = max(int(seconds), 1)
    response: HttpResponse
    if "application/json" in request.headers.get("Accept", ""):
        message = ngettext(
            "Too many at once: try again in %(count)s second.",
            "Too many at once: try again in %(count)s seconds.",
            seconds,
        ) % {"count": seconds}
        response = JsonResponse({"message": message}, status=429)
    else:
        response = render(request, "429.html", {"seconds": seconds}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' answer to a locked-out login: the login page's place, with a way out."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


def no_store_for_members(get_response: View) -> View:
    """Nothing a signed-in member is sent is kept by the browser or a proxy: phones are
    shared, and the back button after logging out must not show tenants' names. A response
    that says how it may be cached keeps its own rule (the service worker, the offline
    page list); static files never reach here (WhiteNoise answers them first).

    Told by the session cookie, not by `request.user`: that would read the session from the
    database, which may be what just failed (a 503 must not turn into a 500 here)."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        signed_in = settings.SESSION_COOKIE_NAME in request.COOKIES
        if not response.has_header("Cache-Control") and signed_in:
            add_never_cache_headers(response)
        return response

    return middleware
