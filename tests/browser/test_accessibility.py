"""axe-core's rules on the organizer's screens, as Maria of the demo organization sees them:
Today, a building's floor grid (and the same grid while selecting doors), a door, the
conversation form and a contact's page."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, expect

from buildings.models import Building, Unit
from contacts.management.commands.seed_demo import PASSWORD
from contacts.models import Contact, Status
from tests.browser.conftest import Screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Each door's state, fill, outline and text colour, as the browser paints them.
DOOR_COLOURS = """() => [...document.querySelectorAll("li.door > a")].map((a) => {
  const style = getComputedStyle(a);
  return [a.parentElement.className, style.backgroundColor, style.borderTopColor, style.color];
})"""
NO_FILL = "rgba(0, 0, 0, 0)"


def log_in_as_maria(page: Page) -> None:
    call_command("seed_demo", stdout=StringIO())
    page.goto("/")
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Today")).to_be_visible()


def contrast(one: str, other: str) -> float:
    """WCAG's contrast ratio of two CSS rgb() colours."""

    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_door_stands_out_three_to_one_from_the_page(phone: Page) -> None:
    log_in_as_maria(phone)
    building = Building.objects.filter(turf__organizer__username="maria").order_by("pk").first()
    assert building is not None
    phone.goto(reverse("buildings:detail", args=[building.pk]))
    page_colour = phone.evaluate("getComputedStyle(document.body).backgroundColor")

    doors = phone.evaluate(DOOR_COLOURS)

    states = {state.split()[1] for state, *_ in doors}
    assert {"lapsed", "due_soon", "ok", "never", "untalked", "empty", "dnk"} <= states
    faint, unreadable = set(), set()
    for state, fill, outline, text in doors:
        # A door without a fill is drawn by its outline, its label on the page itself.
        edge, surface = (outline, page_colour) if fill == NO_FILL else (fill, fill)
        if contrast(edge, page_colour) < 3:
            faint.add(state)
        if contrast(surface, text) < 4.5:
            unreadable.add(state)
    assert (faint, unreadable) == (set(), set())


def test_the_organizer_s_screens_break_no_axe_rule(phone: Page, screenshot: Screenshot) -> None:
    page = phone
    log_in_as_maria(page)
    contact = (
        Contact.objects.filter(status=Status.ACTIVE, owner__username="maria", unit__isnull=False)
        .select_related("unit")
        .order_by("pk")
        .first()
    )
    assert contact is not None and contact.unit is not None
    unit: Unit = contact.unit
    grid = reverse("buildings:detail", args=[unit.building_id])
    screens = {
        "Today": reverse("home"),
        "the floor grid": grid,
        "the floor grid, selecting": grid + "?select=1",
        "the unit page": reverse("buildings:unit", args=[unit.building_id, unit.pk]),
        "the conversation form": reverse("contacts:talk", args=[contact.pk]),
        "the contact page": reverse("contacts:detail", args=[contact.pk]),
    }

    broken = {}
    for name, url in screens.items():
        page.goto(url)
        results = Axe().run(page)
        if results.violations_count:
            broken[name] = results.generate_report()
    screenshot(page, "axe-contact-page")

    assert broken == {}, "\n\n".join(f"{name}:\n{report}" for name, report in broken.items())
