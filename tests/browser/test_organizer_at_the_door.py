"""Olivia on her phone at Riverside Towers: log in, Today, the floor grid, "Not home" on three
doors at once, a conversation with Maria that sets her level and asks her to be floor captain,
a new neighbour, a mis-tap undone. The same knock also records with JavaScript off."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from buildings.models import Building, Unit
from contacts.models import Answer, Ask, Contact, FollowUp, Level, LevelChange, Outcome, Visit
from tests.browser.conftest import Screenshot
from tests.makers import make_unit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 42"  # what tests.makers gives every member


@pytest.fixture
def floor_12(riverside: Building, unit_1204: Unit) -> dict[str, Unit]:
    """Riverside's twelfth floor: Maria's 1204 and four doors nobody has knocked yet."""
    doors = {label: make_unit(riverside, label) for label in ("1201", "1202", "1203", "1205")}
    return doors | {"1204": unit_1204}


def log_in(page: Page, user: User) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Today")).to_be_visible()


def card(page: Page, contact: Contact) -> Locator:
    """A resident's card on the unit page."""
    return page.locator("article.resident").filter(
        has=page.get_by_role("heading", name=contact.name)
    )


def door(page: Page, label: str) -> Locator:
    return page.locator("li.door").filter(has_text=label)


def test_olivia_knocks_talks_and_adds_a_resident_on_her_phone(
    phone: Page,
    screenshot: Screenshot,
    olivia: User,
    riverside: Building,
    floor_12: dict[str, Unit],
    maria: Contact,
) -> None:
    page = phone
    page.goto("/")
    screenshot(page, "login")
    log_in(page, olivia)
    expect(page.get_by_role("link", name="Riverside Towers")).to_contain_text("never knocked")
    screenshot(page, "today")

    # The floor grid: five doors on floor 12, four of them never knocked.
    page.get_by_role("link", name="Riverside Towers").click()
    expect(page.get_by_role("heading", name="Riverside Towers", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Floor 12")).to_be_visible()
    for label in ("1201", "1202", "1203", "1205"):
        expect(door(page, label)).to_have_class("door never")
    screenshot(page, "building-grid")

    # Three doors, one submission. The grid is swapped in place: the page is not reloaded.
    page.get_by_role("link", name="Select doors for Not home").click()
    for label in ("1201", "1202", "1203"):
        page.get_by_label(label).check()
    screenshot(page, "building-grid-selecting")
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_role("button", name="Not home at selected doors").click()
    expect(page.locator("#grid")).to_contain_text("Not home recorded at 1201, 1202, 1203.")
    assert page.evaluate("window.stillTheSamePage") is True
    for label in ("1201", "1202", "1203"):
        expect(door(page, label)).to_have_class("door empty today")
        expect(page.get_by_label(label)).not_to_be_checked()
    expect(door(page, "1205")).to_have_class("door never")
    screenshot(page, "building-grid-not-home")
    knocked = Visit.objects.filter(outcome=Outcome.NOT_HOME, organizer=olivia)
    assert sorted(knocked.values_list("unit__label", flat=True)) == ["1201", "1202", "1203"]

    # Unit 1204, from the grid.
    page.get_by_role("link", name="Done selecting").click()
    page.get_by_role("link", name=re.compile(r"^1204, ")).click()
    expect(page.get_by_role("heading", name="1204")).to_be_visible()
    expect(card(page, maria)).to_contain_text("No conversation yet.")
    screenshot(page, "unit-1204")

    # A conversation: what was said, her level now, and an ask with the day it's due back.
    due = timezone.localdate() + dt.timedelta(days=7)
    card(page, maria).get_by_role("link", name="Talked").click()
    expect(page.get_by_role("heading", name="Talked with Maria Lopez")).to_be_visible()
    page.get_by_label("What did you talk about?").fill("Boiler out again; she'll think it over.")
    page.get_by_label("Active", exact=True).check()
    page.get_by_label("Ask", exact=True).fill("Floor captain?")
    page.get_by_label("In a week").check()
    page.get_by_text("Change the date or purpose").click()
    page.get_by_label("Purpose").fill("Hear her answer")
    screenshot(page, "talk-maria")
    page.get_by_role("button", name="Save conversation").click()

    expect(page.get_by_text("Conversation with Maria Lopez recorded.")).to_be_visible()
    expect(card(page, maria).locator(".pill")).to_have_text("Active")
    expect(card(page, maria)).to_contain_text("Last conversation just now (olivia)")
    expect(card(page, maria)).to_contain_text(f"Open ask: Floor captain? · due {due:%b} {due.day}")
    screenshot(page, "unit-1204-after-talk")
    assert Visit.objects.filter(contact=maria, outcome=Outcome.CONVERSATION).count() == 1
    maria.refresh_from_db()
    assert maria.level == Level.ACTIVE
    assert LevelChange.objects.filter(
        contact=maria, from_level=Level.NEW, to_level=Level.ACTIVE, changed_by=olivia
    ).exists()
    assert Ask.objects.filter(
        contact=maria, question="Floor captain?", due_on=due, answer=Answer.PENDING
    ).exists()
    assert FollowUp.objects.open().filter(contact=maria, purpose="Hear her answer").exists()

    # Someone new at the door.
    page.get_by_text("Add a resident met here").click()
    page.get_by_label("Name or description").fill("man in 1204 with the dog")
    page.get_by_role("button", name="Add resident").click()
    expect(page.get_by_text("Added man in 1204 with the dog to 1204.")).to_be_visible()
    expect(page.get_by_role("heading", name="man in 1204 with the dog")).to_be_visible()
    screenshot(page, "unit-1204-new-resident")
    newcomer = Contact.objects.get(name="man in 1204 with the dog")
    assert (newcomer.unit, newcomer.owner) == (floor_12["1204"], olivia)

    # A mis-tap, taken back.
    card(page, maria).get_by_role("button", name="Not home").click()
    message = page.locator(".message").filter(has_text="Not home: Maria Lopez.")
    expect(message).to_be_visible()
    assert Visit.objects.filter(contact=maria, outcome=Outcome.NOT_HOME).count() == 1
    screenshot(page, "unit-1204-not-home")
    message.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("Undone.")).to_be_visible()
    screenshot(page, "unit-1204-undone")
    assert not Visit.objects.filter(contact=maria, outcome=Outcome.NOT_HOME).exists()
    assert Visit.objects.filter(contact=maria, outcome=Outcome.CONVERSATION).count() == 1
    page.reload()
    expect(card(page, maria)).not_to_contain_text("tried 1 time")


def test_a_knock_leaves_a_resident_half_written_as_it_was(
    phone: Page, screenshot: Screenshot, olivia: User, riverside: Building, maria: Contact
) -> None:
    """Olivia starts writing down a neighbour, then taps Maria's door: the knock's answer
    brings the cards back, and what she was typing is still there."""
    page = phone
    log_in(page, olivia)
    page.goto(reverse("buildings:unit", args=[riverside.pk, maria.unit_id]))
    page.get_by_text("Add a resident met here").click()
    page.get_by_label("Name or description").fill("woman with the stroller")

    card(page, maria).get_by_role("button", name="Not home").click()

    expect(page.locator(".message").filter(has_text="Not home: Maria Lopez.")).to_be_visible()
    expect(card(page, maria)).to_contain_text("tried 1 time since")
    expect(page.get_by_label("Name or description")).to_have_value("woman with the stroller")
    screenshot(page, "unit-1204-knock-while-adding")
    page.get_by_role("button", name="Add resident").click()
    expect(page.get_by_text("Added woman with the stroller to 1204.")).to_be_visible()
    expect(page.get_by_label("Name or description")).to_have_value("")
    assert Visit.objects.filter(contact=maria, outcome=Outcome.NOT_HOME).count() == 1
    assert Contact.objects.filter(name="woman with the stroller", unit=maria.unit).count() == 1


def test_a_knock_records_once_without_javascript(
    phone_without_javascript: Page,
    screenshot: Screenshot,
    olivia: User,
    riverside: Building,
    maria: Contact,
) -> None:
    page = phone_without_javascript
    log_in(page, olivia)
    page.get_by_role("link", name="Riverside Towers").click()
    page.get_by_role("link", name=re.compile(r"^1204, ")).click()
    expect(page.get_by_role("heading", name="1204")).to_be_visible()
    form = card(page, maria).locator("form")
    resubmission: dict[str, str | float | bool] = {
        "csrfmiddlewaretoken": form.locator("[name=csrfmiddlewaretoken]").input_value(),
        f"c{maria.pk}-key": form.locator(f"[name=c{maria.pk}-key]").input_value(),
        "contact": str(maria.pk),
        f"c{maria.pk}-outcome": Outcome.NOT_HOME,
    }

    card(page, maria).get_by_role("button", name="Not home").click()

    # A plain form post, then the redirect back to the unit page with the message.
    assert page.url.endswith(reverse("buildings:unit", args=[riverside.pk, maria.unit_id]))
    expect(page.get_by_text("Not home: Maria Lopez.")).to_be_visible()
    expect(card(page, maria)).to_contain_text("tried 1 time since")
    screenshot(page, "nojs-unit-1204-not-home")
    assert Visit.objects.filter(contact=maria, outcome=Outcome.NOT_HOME).count() == 1

    # The same page submitted again (a double tap, a retry on a bad connection) sends the
    # same key, and nothing more is recorded.
    again = page.request.post(
        reverse("buildings:knock", args=[riverside.pk, maria.unit_id]), form=resubmission
    )
    assert again.ok
    assert "Already recorded: Not home, Maria Lopez." in again.text()
    assert Visit.objects.filter(contact=maria, outcome=Outcome.NOT_HOME).count() == 1
