"""Ada on a phone creates Oak Hall, 12 floors of 8 units, in one form: the doors are shown
before anything is saved, then created. She adds a penthouse floor with the generator, and
the door that is already there stays as it is."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from buildings.models import Building, Turf
from tests.browser.conftest import Screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 42"  # what tests.makers gives every member


def log_in(page: Page, user: User) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Today")).to_be_visible()


def test_ada_creates_a_12_by_8_building_with_the_generator_on_her_phone(
    phone: Page, screenshot: Screenshot, ada: User, olivia: User
) -> None:
    page = phone
    log_in(page, ada)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Setup").click()
    expect(page.get_by_role("heading", name="Buildings")).to_be_visible()
    page.get_by_role("link", name="New building").click()

    page.get_by_label("Name").fill("Oak Hall")
    page.get_by_label("Street address").fill("1 Oak Street")
    page.get_by_role("spinbutton", name="Floors").fill("12")
    page.get_by_label("olivia (Organizer)").check()
    page.get_by_label("Units on each floor").fill("01-08")
    screenshot(page, "setup-new-building")

    # The preview is swapped into the form: nothing is saved yet.
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_role("button", name="Create building").click()
    expect(page.get_by_role("heading", name="96 new units")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.get_by_role("heading", name="Floor 12")).to_be_visible()
    expect(page.locator("li.door")).to_have_count(96)
    assert not Building.objects.filter(name="Oak Hall").exists()
    screenshot(page, "setup-new-building-preview")

    page.get_by_role("button", name="Create building with 96 units").click()
    expect(page.get_by_text("Created Oak Hall with 96 units.")).to_be_visible()
    expect(page.get_by_role("heading", name="Oak Hall")).to_be_visible()
    screenshot(page, "setup-building-created")
    oak = Building.objects.get(name="Oak Hall")
    assert oak.units.count() == 96 and oak.floors == 12
    assert sorted(oak.units.filter(floor=12).values_list("label", flat=True)) == [
        f"12{n:02d}" for n in range(1, 9)
    ]
    assert Turf.objects.filter(building=oak, organizer=olivia).exists()

    # A penthouse floor; 1201 is listed again by mistake and is left as it is.
    first_1201 = oak.units.get(label="1201").pk
    page.get_by_role("link", name="Add units").click()
    page.get_by_label("Or paste labels").fill("13: PH1 PH2\n1201")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="2 new units, 1 already there")).to_be_visible()
    screenshot(page, "setup-units-preview")
    page.get_by_role("button", name="Add 2 units").click()
    expect(
        page.get_by_text("Added 2 units to Oak Hall. 1 already there stays as it was.")
    ).to_be_visible()
    oak.refresh_from_db()
    assert (oak.units.count(), oak.floors) == (98, 13)
    assert oak.units.get(label="1201").pk == first_1201

    # The organizers' floor grid has the new floor on top.
    page.get_by_role("link", name="Floor grid").click()
    expect(page.get_by_role("heading", name="Floor 13")).to_be_visible()
    screenshot(page, "setup-floor-grid")
