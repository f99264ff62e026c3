"""The admin sets the organization's working languages and its time zone."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from organizing.models import Membership, Organization

URL = reverse("setup:organization")


def test_the_admin_sets_french_first_and_the_time_zone(
    ada: User, olivia: User, org: Organization
) -> None:
    client = Client()
    client.force_login(ada)
    page = client.get(URL)
    assert page.status_code == 200
    assert 'value="America/Toronto"' in page.content.decode()
    response = client.post(
        URL, {"first_language": "fr", "languages": ["en", "fr"], "time_zone": "America/Halifax"}
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.languages == ["fr", "en"]
    assert org.time_zone == "America/Halifax"
    # A member who never chose reads the new default.
    Membership.objects.filter(user=olivia).update(language="")
    organizer = Client()
    organizer.force_login(olivia)
    Membership.objects.filter(user=olivia).update(language="")
    assert organizer.get("/")["Content-Language"] == "fr"


def test_english_alone_takes_the_switcher_away(ada: User, org: Organization) -> None:
    client = Client()
    client.force_login(ada)
    client.post(URL, {"first_language": "en", "languages": [], "time_zone": "America/Toronto"})
    org.refresh_from_db()
    assert org.languages == ["en"]
    assert 'action="/language/"' not in client.get("/").content.decode()


def test_a_bad_time_zone_or_language_is_refused_with_the_input_kept(
    ada: User, org: Organization
) -> None:
    client = Client()
    client.force_login(ada)
    response = client.post(
        URL, {"first_language": "tlh", "languages": ["fr"], "time_zone": "Mars/Olympus"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert "Select a valid choice" in page
    org.refresh_from_db()
    assert org.time_zone == "America/Toronto" and org.languages == ["en", "fr"]


def test_the_committee_may_not_and_an_outsider_sees_only_their_own(
    cora: User, xavier: User, org: Organization, other_org: Organization
) -> None:
    committee = Client()
    committee.force_login(cora)
    assert committee.post(URL, {"first_language": "fr", "time_zone": "UTC"}).status_code == 403
    outsider = Client()
    outsider.force_login(xavier)
    outsider.post(URL, {"first_language": "fr", "languages": [], "time_zone": "UTC"})
    org.refresh_from_db()
    assert org.languages == ["en", "fr"] and org.time_zone == "America/Toronto"
