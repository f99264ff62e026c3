"""Which language a page speaks and which clock it reads.

Before login, the browser's language (Accept-Language, or the cookie the footer's switcher
sets) among settings.LANGUAGES. A member reads the language on their profile: on their
first page it is taken from the browser's among their organization's working languages, or
the organization's first, and kept. Their organization's time zone dates their pages.
Emails are written in their recipient's language (`for_member`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.http import require_POST

from organizing.models import Membership, Organization

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class LocaleMiddleware:
    """Django's LocaleMiddleware without its URL prefixes, and a fresh default time zone on
    every request (an activated zone would otherwise outlive its request in the thread)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        timezone.deactivate()
        language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        finally:
            # Nothing of this request's language or clock outlives it in the thread (a
            # streamed response that reads either after this returns sets its own).
            timezone.deactivate()
            spoken = translation.get_language()
            translation.activate(settings.LANGUAGE_CODE)
        if kept := getattr(request, "keep_language", ""):
            set_language_cookie(request, response, kept)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", spoken)
        return response


def member_language(membership: Membership, request: HttpRequest | None = None) -> str:
    """The language `membership` reads: their own if their organization still works in it,
    else the browser's among the organization's, else the organization's first."""
    working = membership.organization.working_languages
    if membership.language in working:
        return membership.language
    if request is not None:
        for asked in browser_languages(request):
            if asked in working:
                return asked
    return working[0]


def browser_languages(request: HttpRequest) -> Iterator[str]:
    """The interface languages the browser's Accept-Language asks for, most wanted first;
    nothing for a header that names none of them (or is malformed)."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for code, _quality in parse_accept_lang_header(header[:255]):
        if code == "*":
            continue
        try:
            yield translation.get_supported_language_variant(code)
        except LookupError:
            continue


def activate_member(request: HttpRequest, membership: Membership) -> None:
    """Speak `membership`'s language and read their organization's clock for the rest of
    the request."""
    language = member_language(membership, request)
    translation.activate(language)
    request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
    timezone.activate(membership.organization.zone)


@receiver(user_logged_in)
def keep_language(
    sender: object, request: HttpRequest | None, user: User, **kwargs: object
) -> None:
    """At login: a member with no language yet keeps the one their browser asked for (or
    their organization's first) from now on, whatever browser they use next."""
    membership = (
        Membership.objects.select_related("organization").filter(user=user, active=True).first()
    )
    if membership is None or request is None:
        return
    if not membership.language:
        membership.language = member_language(membership, request)
        Membership.objects.filter(pk=membership.pk).update(language=membership.language)
    # The pages anyone may see (a password reset) then speak it too, in this browser.
    request.keep_language = membership.language  # type: ignore[attr-defined]


@contextmanager
def for_member(membership: Membership) -> Iterator[None]:
    """Write to `membership` (an email) in their language and their organization's time."""
    with (
        translation.override(member_language(membership)),
        timezone.override(membership.organization.zone),
    ):
        yield


@contextmanager
def for_organization(organization: Organization) -> Iterator[None]:
    """Write what everyone in `organization` reads (a stored note, an erasure marker) or what
    someone with no membership yet receives (an invitation) in its first working language,
    dated in its time zone."""
    with (
        translation.override(organization.working_languages[0]),
        timezone.override(organization.zone),
    ):
        yield


@contextmanager
def local_to(organization: Organization) -> Iterator[None]:
    """Count `organization`'s days in its own time zone."""
    with timezone.override(organization.zone):
        yield


def language_choices(request: HttpRequest) -> list[tuple[str, str]]:
    """The footer's languages: the member's organization's, or every one before login."""
    membership = getattr(request, "membership", None)
    names = dict(settings.LANGUAGES)
    codes = membership.organization.working_languages if membership else list(names)
    return [(code, names[code]) for code in codes]


def languages(request: HttpRequest) -> dict[str, object]:
    """The template context of the footer's switcher."""
    return {"languages": language_choices(request), "LANGUAGE_CODE": translation.get_language()}


@require_POST
def choose_language(request: HttpRequest) -> HttpResponse:
    """The footer's switcher: a plain form, no JavaScript. A member's choice goes on their
    profile; anyone's goes in the language cookie, for the login page."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("home")
    response = HttpResponseRedirect(next_url)
    if language not in dict(settings.LANGUAGES):
        return response
    if request.user.is_authenticated:
        membership = (
            Membership.objects.select_related("organization")
            .filter(user=request.user, active=True)
            .first()
        )
        if membership is not None and language in membership.organization.working_languages:
            Membership.objects.filter(pk=membership.pk).update(language=language)
    set_language_cookie(request, response, language)
    return response


def set_language_cookie(request: HttpRequest, response: HttpResponseBase, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=request.is_secure(),
        httponly=True,
    )
