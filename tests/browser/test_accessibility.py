"""axe-core's rules on the organizer's screens, as Maria of the demo organization sees them:
Today, a building's floor grid (and the same grid while selecting doors), a door, the
conversation form and a contact's page."""

from __future__ import annotations

from io import StringIO

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, expect

from buildings.models import Unit
from contacts.management.commands.seed_demo import PASSWORD
from contacts.models import Contact, Status
from tests.browser.conftest import Screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_organizer_s_screens_break_no_axe_rule(phone: Page, screenshot: Screenshot) -> None:
    call_command("seed_demo", stdout=StringIO())
    page = phone
    page.goto("/")
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
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
