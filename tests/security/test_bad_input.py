"""What the fuzzer (tests/security/test_fuzz_forms.py) found, each pinned by an example."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buildings.models import Building, Unit
from contacts.models import Contact, Visit
from tests.makers import new_key


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_knock_on_a_contact_id_that_is_not_a_number_finds_nobody(
    olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    url = reverse("buildings:knock", args=[unit_1204.building_id, unit_1204.pk])

    response = client_for(olivia).post(
        url, {"contact": ":", "c:-outcome": "not_home", "c:-key": new_key()}
    )

    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_a_unit_range_of_billions_is_refused_without_listing_them(
    ada: User, riverside: Building
) -> None:
    url = reverse("setup:units", args=[riverside.pk])

    response = client_for(ada).post(url, {"floors": "1-12", "units": "1-999999999999999999"})

    assert response.status_code == 422
    # The doors were counted, not listed: a list this long could never have been made.
    assert (
        "That makes 11,999,999,999,999,999,988 units; at most 2,000 can be added at once."
        in response.content.decode()
    )
    assert not riverside.units.exists()


def test_a_login_with_a_username_of_ten_thousand_characters_is_refused_and_counted(
    olivia: User,
) -> None:
    response = Client().post(reverse("login"), {"username": "a" * 10_001, "password": "0"})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert AccessAttempt.objects.get().username == "a" * 150


@pytest.mark.parametrize(
    "when", ["2024-02-30T10:00:00Z", "2024-06-01T25:61:61Z", "2024-06-01T10:00:00+99:00"]
)
def test_a_replayed_knock_at_a_time_that_does_not_exist_is_refused(
    when: str, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    url = reverse("buildings:knock", args=[unit_1204.building_id, unit_1204.pk])

    response = client_for(olivia).post(
        url,
        {
            "contact": maria.pk,
            f"c{maria.pk}-outcome": "not_home",
            f"c{maria.pk}-key": new_key(),
            "happened_at": when,
        },
        headers={"X-Doorstep-Replay": "1", "Accept": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["message"] == "The time of the knock could not be read."
    assert not Visit.objects.exists()


def test_a_nul_in_a_building_search_is_left_out(ada: User, riverside: Building) -> None:
    response = client_for(ada).get(reverse("setup:buildings"), {"q": "Riverside\x00"})

    assert response.status_code == 200
    assert list(response.context["page"]) == [riverside]
