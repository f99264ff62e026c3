"""A date far in the future (9999-12-31, a year typed 2205) is refused with a clear message by
every form that takes a date, replayed from the phone's outbox too; one already stored
crashes no page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.models import Ask, Channel, Contact, FollowUp, Level, Visit
from tests.makers import new_key

pytestmark = pytest.mark.usefixtures("clock")  # today is a fixed date: see `clock`

DAY = dt.timedelta(days=1)
FAR = dt.date(9999, 12, 31)
TOO_FAR = "more than two years ahead"
REPLAY = {"X-Doorstep-Replay": "1", "Accept": "application/json"}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_olivia(olivia: User) -> Client:
    return client_for(olivia)


def talk_form(maria: Contact, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "key": new_key(),
        "unit": maria.unit_id,
        "channel": Channel.DOOR,
        "note": "Heat is out again",
        "level": Level.ACTIVE,
        "ask": "Floor captain?",
        "ask_due_on": timezone.localdate() + 7 * DAY,
        "follow_up_on": timezone.localdate() + 5 * DAY,
        "follow_up_purpose": "Bring the petition",
    }
    return data | overrides


@pytest.mark.parametrize("day", [FAR, dt.date(2205, 6, 11)])
def test_a_follow_up_far_ahead_is_refused_with_what_was_typed(
    as_olivia: Client, maria: Contact, day: dt.date
) -> None:
    response = as_olivia.post(
        reverse("contacts:new_follow_up", args=[maria.pk]),
        {"key": new_key(), "planned_for": day.isoformat(), "purpose": "Bring the petition"},
    )

    page = response.content.decode()
    assert response.status_code == 422
    assert TOO_FAR in page and "check the year" in page
    assert "Bring the petition" in page
    assert not FollowUp.objects.exists()


def test_a_follow_up_two_years_ahead_is_still_accepted(as_olivia: Client, maria: Contact) -> None:
    day = timezone.localdate() + dt.timedelta(days=2 * 365)

    as_olivia.post(
        reverse("contacts:new_follow_up", args=[maria.pk]),
        {"key": new_key(), "planned_for": day.isoformat(), "purpose": "Anniversary"},
    )

    assert FollowUp.objects.get().planned_for == day


def test_a_follow_up_cannot_be_moved_far_ahead(
    as_olivia: Client, maria: Contact, olivia: User
) -> None:
    soon = timezone.localdate() + 3 * DAY
    follow_up = FollowUp.objects.create(
        contact=maria, planned_for=soon, assigned_to=olivia, purpose="Petition"
    )

    response = as_olivia.post(
        reverse("contacts:move_follow_up", args=[follow_up.pk]),
        {"planned_for": FAR.isoformat()},
        follow=True,
    )

    assert TOO_FAR in response.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.planned_for == soon


@pytest.mark.parametrize("field", ["ask_due_on", "follow_up_on"])
def test_a_conversation_with_a_date_far_ahead_is_refused_and_records_nothing(
    as_olivia: Client, maria: Contact, field: str
) -> None:
    response = as_olivia.post(
        reverse("contacts:talk", args=[maria.pk]), talk_form(maria, **{field: FAR.isoformat()})
    )

    page = response.content.decode()
    assert response.status_code == 422
    assert TOO_FAR in page
    assert "Heat is out again" in page
    assert not Visit.objects.exists() and not Ask.objects.exists()
    assert not FollowUp.objects.exists()


def test_an_open_ask_asked_again_far_ahead_is_refused(
    as_olivia: Client, maria: Contact, olivia: User
) -> None:
    due = timezone.localdate() + 3 * DAY
    ask = Ask.objects.create(contact=maria, question="Petition?", asked_by=olivia, due_on=due)

    response = as_olivia.post(
        reverse("contacts:talk", args=[maria.pk]),
        talk_form(maria, **{f"open_ask_{ask.pk}": "pending", f"open_ask_{ask.pk}_due": FAR}),
    )

    assert response.status_code == 422
    assert "“Petition?”: That date is more than two years ahead" in response.content.decode()
    ask.refresh_from_db()
    assert ask.due_on == due
    assert not Visit.objects.exists()


def test_a_replayed_conversation_with_a_date_far_ahead_is_refused_and_records_nothing(
    as_olivia: Client, maria: Contact
) -> None:
    data = talk_form(
        maria,
        follow_up_on=FAR.isoformat(),
        happened_at=(timezone.now() - dt.timedelta(hours=2)).isoformat(),
    )

    first = as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data, headers=REPLAY)
    again = as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data, headers=REPLAY)

    assert first.status_code == again.status_code == 422
    assert first.json()["status"] == "refused"
    assert TOO_FAR in first.json()["message"]
    assert not Visit.objects.exists() and not FollowUp.objects.exists()


def test_pages_with_a_date_stored_far_ahead_still_open(
    olivia: User,
    cora: User,
    maria: Contact,
    unit_1204: Unit,
    riverside: Building,
) -> None:
    FollowUp.objects.create(contact=maria, planned_for=FAR, assigned_to=olivia, purpose="Later")
    Ask.objects.create(contact=maria, question="Lead?", asked_by=olivia, due_on=FAR)
    pages = [
        (olivia, reverse("contacts:detail", args=[maria.pk])),
        (olivia, reverse("buildings:unit", args=[riverside.pk, unit_1204.pk])),
        (olivia, reverse("buildings:detail", args=[riverside.pk])),
        (olivia, reverse("contacts:talk", args=[maria.pk])),
        (olivia, reverse("home")),
        (olivia, reverse("offline_pages")),
        (cora, reverse("committee:dashboard")),
    ]

    for user, url in pages:
        response = client_for(user).get(url)
        assert response.status_code == 200, url
    contact_page = client_for(olivia).get(reverse("contacts:detail", args=[maria.pk]))
    assert "Maria Lopez" in contact_page.content.decode()
