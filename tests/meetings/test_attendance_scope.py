"""Who an organizer sees when taking a meeting's attendance (issue #20): the invited of
their turf and the people they own, as on every other page; the rest only counted. The
committee sees everyone invited. A tap naming someone the organizer does not see is
refused as if that person did not exist, and nothing is recorded.

Olivia organizes Riverside and owns Maria; Omar organizes Maple Court and owns Maya; Cora
is on the committee."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.actions import mark_present
from contacts.models import Ask, Attendance, Contact, Meeting, Visit
from organizing.models import Organization
from tests.makers import make_contact, make_unit, new_key

pytestmark = pytest.mark.usefixtures("clock")

HOUR = dt.timedelta(hours=1)


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def tonight(org: Organization) -> Meeting:
    return Meeting.objects.create(
        organization=org,
        title="Tenants' meeting",
        starts_at=timezone.now() - HOUR,
        place="Community hall",
    )


@pytest.fixture
def maya(maple: Building, omar: User) -> Contact:
    return make_contact(make_unit(maple, "301"), owner=omar, name="Maya Maple")


@pytest.fixture
def invited(tonight: Meeting, maria: Contact, maya: Contact) -> list[Contact]:
    for contact in (maria, maya):
        Ask.objects.create(
            contact=contact, meeting=tonight, question="Come?", due_on=timezone.localdate()
        )
    return [maria, maya]


def attendance_page(user: User, meeting: Meeting, **params: str) -> str:
    url = reverse("meetings:attendance", args=[meeting.pk])
    return client_of(user).get(url, params).content.decode()


def test_an_organizer_sees_the_invited_of_their_turf_and_counts_the_others(
    olivia: User, tonight: Meeting, invited: list[Contact]
) -> None:
    page = attendance_page(olivia, tonight)

    assert "Maria" in page
    assert "Maya Maple" not in page and "301" not in page
    assert "2 invited" in page
    assert "Listed here: the 1 who live in your buildings or are yours." in page
    assert "The other 1 is marked by their own organizers or the committee." in page


def test_an_organizer_sees_the_people_they_own_in_another_building(
    olivia: User, tonight: Meeting, maple: Building
) -> None:
    hers = make_contact(make_unit(maple, "402"), owner=olivia, name="Hers in Maple")
    Ask.objects.create(contact=hers, meeting=tonight, question="Come?", due_on=timezone.localdate())

    page = attendance_page(olivia, tonight)

    assert "Hers in Maple" in page
    assert "The other" not in page


def test_the_committee_sees_everyone_invited(
    cora: User, tonight: Meeting, invited: list[Contact]
) -> None:
    page = attendance_page(cora, tonight)

    assert "Maria" in page and "Maya Maple" in page
    assert "The other" not in page


def test_an_organizer_cannot_mark_present_someone_invited_off_their_turf(
    olivia: User, omar: User, tonight: Meeting, invited: list[Contact], maya: Contact
) -> None:
    url = reverse("meetings:attend", args=[tonight.pk])

    response = client_of(olivia).post(url, {"contact": maya.pk, "key": new_key()})
    replayed = client_of(olivia).post(
        url,
        {"contact": maya.pk, "key": new_key(), "happened_at": timezone.now().isoformat()},
        headers={"X-Doorstep-Replay": "1", "Accept": "application/json"},
    )

    assert response.status_code == 404 and replayed.status_code == 404
    assert not Attendance.objects.exists() and not Visit.objects.exists()
    # Her own organizer marks her.
    assert client_of(omar).post(url, {"contact": maya.pk, "key": new_key()}).status_code == 302
    assert Attendance.objects.get().contact == maya


def test_a_walk_in_search_finds_only_the_residents_the_organizer_sees(
    olivia: User, tonight: Meeting, maria: Contact, maya: Contact
) -> None:
    page = attendance_page(olivia, tonight, q="Ma")

    found = page.split("Find a resident")[1]
    assert "Maria" in found
    assert "Maya Maple" not in found


def test_walk_ins_of_other_buildings_are_not_named_to_an_organizer(
    olivia: User, omar: User, cora: User, tonight: Meeting, unit_1204: Unit, maple: Building
) -> None:
    theirs = make_contact(make_unit(maple, "505"), owner=omar, name="Walked in at Maple")
    mark_present(
        actor=omar.membership,  # type: ignore[attr-defined]
        meeting=tonight,
        contact=theirs,
        idempotency_key=new_key(),
    )

    assert "Walked in at Maple" not in attendance_page(olivia, tonight)
    assert "Walked in at Maple" in attendance_page(cora, tonight)
