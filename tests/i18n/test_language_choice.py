"""Which language a member reads: the browser's first, then their profile's, always one of
their organization's; the footer's switcher, which needs no JavaScript; their time zone."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from organizing.models import Membership, Organization


def member(user: User) -> Membership:
    return Membership.objects.get(user=user)


def page_language(client: Client, url: str = "/") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response["Content-Language"]


def test_the_browsers_language_is_chosen_at_login_and_then_kept(olivia: User) -> None:
    browser = Client(HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9,en;q=0.5")
    response = browser.post(
        reverse("login"), {"username": "olivia", "password": "correct horse 42"}
    )
    assert response.status_code == 302
    assert member(olivia).language == "fr"
    assert page_language(browser) == "fr"
    assert '<html lang="fr">' in browser.get("/").content.decode()

    # Another browser that asks for English: her profile decides.
    other = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    other.force_login(olivia)
    assert page_language(other) == "fr"


def test_a_member_with_no_language_yet_reads_the_browsers_among_the_organizations(
    olivia: User,
) -> None:
    # Before login, the browser's language.
    assert page_language(Client(HTTP_ACCEPT_LANGUAGE="fr"), reverse("login")) == "fr"
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(olivia)
    Membership.objects.filter(user=olivia).update(language="")
    assert page_language(client) == "fr"


@pytest.mark.parametrize("header", ["xx-YY", "de-DE,es;q=0.8", "", "*", "fr;q=x,,;;"])
def test_an_unknown_browser_language_falls_back_to_the_organizations_first(
    olivia: User, org: Organization, header: str
) -> None:
    org.languages = ["fr", "en"]
    org.save()
    client = Client(HTTP_ACCEPT_LANGUAGE=header)
    client.force_login(olivia)
    assert page_language(client) == "fr"


@pytest.mark.parametrize("stored", ["fr", "xx", "fr-CA\u202e"])
def test_a_profile_language_the_organization_no_longer_works_in_gives_its_first(
    olivia: User, org: Organization, stored: str
) -> None:
    Membership.objects.filter(user=olivia).update(language=stored)
    org.languages = ["en"]
    org.save()
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(olivia)
    assert page_language(client) == "en"
    # The footer offers no choice when there is none.
    assert 'action="/language/"' not in client.get("/").content.decode()


def test_the_footer_switches_the_language_and_keeps_it_on_the_profile(olivia: User) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(olivia)
    page = client.get(reverse("buildings:list")).content.decode()
    assert 'name="language" value="fr" lang="fr"' in page
    response = client.post(
        reverse("language"), {"language": "fr", "next": reverse("buildings:list")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("buildings:list")
    assert member(olivia).language == "fr"
    assert page_language(client, reverse("buildings:list")) == "fr"


@pytest.mark.parametrize(
    ("language", "next_url"),
    [("de", "/"), ("", "/"), ("fr", "https://evil.example/"), ("fr", "//evil.example/")],
)
def test_the_switcher_refuses_an_unknown_language_and_a_foreign_address(
    olivia: User, language: str, next_url: str
) -> None:
    client = Client()
    client.force_login(olivia)
    before = member(olivia).language
    response = client.post(reverse("language"), {"language": language, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert member(olivia).language == (language if language == "fr" else before)


def test_before_login_the_switcher_sets_the_cookie_the_login_page_reads() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.post(reverse("language"), {"language": "fr", "next": reverse("login")})
    assert page_language(client, reverse("login")) == "fr"


def test_pages_are_dated_in_the_organizations_time_zone(olivia: User, org: Organization) -> None:
    org.time_zone = "America/Vancouver"
    org.save()
    client = Client()
    client.force_login(olivia)
    page = client.get("/").content.decode()
    offset = re.search(r'name="doorstep-rendered-at" content="[^"]+([+-]\d\d:\d\d)"', page)
    assert offset is not None and offset.group(1) in ("-08:00", "-07:00")
    # The zone was the request's: it does not outlive it in the thread.
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_an_organization_refuses_a_time_zone_that_does_not_exist(org: Organization) -> None:
    org.time_zone = "Mars/Olympus_Mons"
    with pytest.raises(ValidationError, match="not a time zone"):
        org.full_clean()
    org.time_zone = "America/Toronto"
    org.languages = ["en", "klingon"]
    with pytest.raises(ValidationError, match="one or more"):
        org.full_clean()
