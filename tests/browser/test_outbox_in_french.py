# ruff: noqa: RUF001  (French is written with the typographic apostrophe, U+2019)
"""The phone's outbox speaks its organizer's French, without a signal too: its words come
with the pages kept for offline use, not from the network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import Page, expect

from buildings.models import Unit
from contacts.models import Contact
from organizing.models import Membership
from tests.browser.test_organizer_at_the_door import PASSWORD, card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots-i18n-org")


def log_in_reading_french(page: Page, user: User) -> None:
    Membership.objects.filter(user=user).update(language="fr")
    page.goto("/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_offline_the_outbox_and_the_missing_page_speak_french(
    phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in_reading_french(page, olivia)
    expect(page.get_by_role("link", name="Aujourd’hui")).to_be_visible()
    page.reload()
    expect(page.locator("html[data-kept=yes]")).to_be_attached(timeout=15_000)

    page.context.set_offline(True)
    page.goto(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))
    card(page, maria).locator("button[value=not_home]").click()

    banner = page.locator("#outbox")
    expect(banner).to_contain_text("1 visite en attente d’envoi (pas de réseau).")
    # The time as the French pages write it: 14 h 30.
    expect(banner).to_contain_text(re.compile(r"Hors ligne, page enregistrée à \d\d h \d\d\."))
    expect(banner).to_contain_text("Gardé sur ce téléphone\u00a0: ")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "offline-knock-waiting-fr.png", full_page=True)

    page.goto(reverse("committee:dashboard"))
    expect(page.locator("body")).to_contain_text(
        "Vous êtes hors ligne et cette page n’a pas été gardée sur ce téléphone."
    )
    expect(page.get_by_role("link", name="Ouvrir Aujourd’hui")).to_be_visible()


def test_a_knock_kept_at_once_after_the_first_french_page_is_told_in_french(
    phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    """No page carries the outbox's words: it asks for them when the page is shown. The
    first French page, then no signal at once, before any page was kept for offline."""
    page = phone
    log_in_reading_french(page, olivia)
    with page.expect_response(lambda response: "/words/fr.json" in response.url):
        page.goto(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))

    page.context.set_offline(True)
    card(page, maria).locator("button[value=not_home]").click()

    banner = page.locator("#outbox")
    expect(banner).to_contain_text("1 visite en attente d’envoi (pas de réseau).")
    expect(banner).to_contain_text("Gardé sur ce téléphone\u00a0: ")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "first-page-then-offline-fr.png", full_page=True)
