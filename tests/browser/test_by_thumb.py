"""Olivia's thumb in a stairwell: a conversation with a level, an ask and its due date in six
taps; "Not home" on two doors of a low floor answered beside that floor and undone in one
tap; the conversation form's choices without JavaScript."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from buildings.models import Building, Unit
from contacts.models import Answer, Ask, Contact, FollowUp, Level, Outcome, Visit
from tests.browser.conftest import Screenshot
from tests.browser.test_organizer_at_the_door import card, log_in
from tests.makers import make_unit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def day(date: dt.date) -> str:
    """A date as the pages write it: Tue 8 Dec."""
    return f"{date:%a} {date.day} {date:%b}"


def test_talked_leader_come_to_the_meeting_due_in_a_week_saved_in_six_taps(
    phone: Page, screenshot: Screenshot, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in(page, olivia)
    page.goto(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))
    taps: list[str] = []

    def tap(target: Locator) -> None:
        taps.append(str(target))
        target.tap()

    tap(card(page, maria).get_by_role("link", name="Talked"))
    tap(page.get_by_label("What did you talk about?"))
    page.keyboard.type("The heat again. She knows the whole floor.")
    tap(page.get_by_label("Leader", exact=True))
    tap(page.get_by_label("Ask", exact=True))
    page.keyboard.type("Come to the meeting")
    tap(page.get_by_label("In a week"))
    # The proposed visit is the one a leader calls for, said plainly; kept unless dropped.
    leader_visit = timezone.localdate() + dt.timedelta(days=4)
    expect(page.locator(".next-visit p")).to_have_text(
        f"We'll plan a visit on {day(leader_visit)} (check in).", use_inner_text=True
    )
    screenshot(page, "talk-six-taps")
    tap(page.get_by_role("button", name="Save conversation"))

    expect(page.get_by_text("Conversation with Maria Lopez recorded.")).to_be_visible()
    assert len(taps) == 6, taps
    maria.refresh_from_db()
    assert maria.level == Level.LEADER
    assert Ask.objects.filter(
        contact=maria,
        question="Come to the meeting",
        due_on=timezone.localdate() + dt.timedelta(days=7),
        answer=Answer.PENDING,
    ).exists()
    assert FollowUp.objects.open().get(contact=maria).planned_for == leader_visit


def test_the_talk_form_picks_a_date_and_drops_the_visit_without_javascript(
    phone_without_javascript: Page, screenshot: Screenshot, olivia: User, maria: Contact
) -> None:
    page = phone_without_javascript
    log_in(page, olivia)
    page.goto(reverse("contacts:talk", args=[maria.pk]))
    picked = timezone.localdate() + dt.timedelta(days=10)

    expect(page.get_by_label("Answer due on")).to_be_hidden()
    page.get_by_label("What did you talk about?").fill("Not sure about the union yet.")
    page.get_by_label("Ask", exact=True).fill("Read the flyer?")
    page.get_by_label("Pick a date").check()
    expect(page.get_by_label("Answer due on")).to_be_visible()
    page.get_by_label("Answer due on").fill(picked.isoformat())
    page.get_by_label("Drop it").check()
    screenshot(page, "nojs-talk-picked-and-dropped")
    page.get_by_role("button", name="Save conversation").click()

    expect(page.get_by_text("Conversation with Maria Lopez recorded.")).to_be_visible()
    assert Ask.objects.get(contact=maria).due_on == picked
    assert not FollowUp.objects.filter(contact=maria).exists()


@pytest.fixture
def twelve_floors(riverside: Building) -> dict[str, Unit]:
    """Riverside with four doors on each of twelve floors: floor 2 is far down the page."""
    return {
        label: make_unit(riverside, label)
        for floor in range(1, 13)
        for label in (f"{floor}01", f"{floor}02", f"{floor}03", f"{floor}04")
    }


def test_not_home_on_a_low_floor_answers_beside_it_and_is_undone_in_one_tap(
    phone: Page,
    screenshot: Screenshot,
    olivia: User,
    riverside: Building,
    twelve_floors: dict[str, Unit],
) -> None:
    page = phone
    log_in(page, olivia)
    page.goto(reverse("buildings:detail", args=[riverside.pk]))
    page.get_by_role("navigation", name="Jump to a floor").get_by_role(
        "link", name="2", exact=True
    ).tap()
    page.get_by_role("link", name="Select doors for Not home").tap()
    page.locator("#floor-2").scroll_into_view_if_needed()
    for label in ("201", "202"):
        page.get_by_role("checkbox", name=f"{label}, never knocked", exact=True).tap()

    page.get_by_role("button", name="Not home at selected doors").tap()

    note = page.locator(".floor-note")
    expect(note).to_have_text("Not home recorded at 201, 202. Undo", use_inner_text=False)
    expect(note).to_be_in_viewport()
    assert page.locator("#floor-2").bounding_box()["y"] < note.bounding_box()["y"]  # type: ignore[index]
    assert note.bounding_box()["y"] < page.locator("#floor-1").bounding_box()["y"]  # type: ignore[index]
    for label in ("201", "202"):
        expect(
            page.get_by_role("checkbox", name=f"{label}, nobody known, knocked today", exact=True)
        ).to_be_visible()
    screenshot(page, "grid-not-home-beside-floor-2")
    assert Visit.objects.filter(outcome=Outcome.NOT_HOME).count() == 2

    note.get_by_role("button", name="Undo").tap()

    expect(page.locator(".floor-note")).to_have_text("Undone: Not home at 201, 202.")
    expect(page.locator(".floor-note")).to_be_in_viewport()
    expect(page.get_by_role("checkbox", name="201, never knocked", exact=True)).to_be_visible()
    screenshot(page, "grid-not-home-undone")
    assert not Visit.objects.exists()
