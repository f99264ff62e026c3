"""Everyone sees only what is theirs; the outsider is told nothing exists."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buildings.models import Building
from contacts.models import Contact


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_log_in(maria: Contact, riverside: Building) -> None:
    for url in (
        reverse("home"),
        reverse("buildings:list"),
        reverse("buildings:detail", args=[riverside.pk]),
        reverse("contacts:detail", args=[maria.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_outsider_gets_404_for_everything_of_ours(
    xavier: User, maria: Contact, riverside: Building
) -> None:
    client = client_for(xavier)

    assert client.get(reverse("buildings:detail", args=[riverside.pk])).status_code == 404
    assert client.get(reverse("contacts:detail", args=[maria.pk])).status_code == 404
    assert "Riverside" not in client.get(reverse("buildings:list")).content.decode()


def test_an_organizer_sees_only_the_buildings_of_their_turf(
    olivia: User, riverside: Building, maple: Building
) -> None:
    client = client_for(olivia)

    listing = client.get(reverse("buildings:list")).content.decode()
    assert "Riverside Towers" in listing
    assert "Maple Court" not in listing
    assert client.get(reverse("buildings:detail", args=[riverside.pk])).status_code == 200
    assert client.get(reverse("buildings:detail", args=[maple.pk])).status_code == 404


def test_an_organizer_off_turf_does_not_see_another_organizers_contact(
    omar: User, maria: Contact
) -> None:
    assert client_for(omar).get(reverse("contacts:detail", args=[maria.pk])).status_code == 404


def test_an_organizer_sees_the_contact_they_own_and_the_residents_of_their_turf(
    olivia: User, maria: Contact
) -> None:
    response = client_for(olivia).get(reverse("contacts:detail", args=[maria.pk]))

    assert response.status_code == 200
    assert "Maria Lopez" in response.content.decode()


@pytest.mark.parametrize("persona", ["cora", "ada"])
def test_committee_and_admins_see_every_building_of_their_organization(
    request: pytest.FixtureRequest, persona: str, riverside: Building, maple: Building
) -> None:
    client = client_for(request.getfixturevalue(persona))

    listing = client.get(reverse("buildings:list")).content.decode()
    assert "Riverside Towers" in listing and "Maple Court" in listing
    assert client.get(reverse("buildings:detail", args=[maple.pk])).status_code == 200


def test_a_user_without_a_membership_is_refused(db: None, riverside: Building) -> None:
    loner = User.objects.create_user("loner", password="correct horse 42")

    assert client_for(loner).get(reverse("buildings:list")).status_code == 403


def test_a_deactivated_member_is_refused(olivia: User, riverside: Building) -> None:
    olivia.membership.active = False
    olivia.membership.save()

    assert (
        client_for(olivia).get(reverse("buildings:detail", args=[riverside.pk])).status_code == 403
    )


def test_a_member_logs_in_with_the_login_form(olivia: User) -> None:
    client = Client()

    refused = client.post(reverse("login"), {"username": "olivia", "password": "wrong"})
    assert refused.status_code == 200
    assert "correct username and password" in refused.content.decode()
    assert 'value="olivia"' in refused.content.decode()

    response = client.post(
        reverse("login"), {"username": "olivia", "password": "correct horse 42"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("home")
    assert b"Today" in response.content
