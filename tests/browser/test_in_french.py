# ruff: noqa: RUF001  (French is written with the typographic apostrophe, U+2019)
"""Olivia's phone asks for French (fr-CA): from the login page to Today, a unit, a knock and
the Talked form, every page she reads is French, with no English interface word left. A
screenshot of each at 390x844 goes to /tmp/shots-i18n-doors/ for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from buildings.models import Unit
from contacts.models import Contact, Outcome, Visit
from tests.browser.conftest import open_phone
from tests.browser.test_organizer_at_the_door import PASSWORD, card
from tests.i18n.test_doors_in_french import PENDING_ELSEWHERE
from tests.i18n.test_every_page_in_french import (
    ALLOWED,
    COMMON,
    catalogue_words,
    data_strings,
    english_left,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots-i18n-doors")


@pytest.fixture
def french_phone(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A phone whose browser asks for Canadian French first (its Accept-Language)."""
    yield from open_phone(browser, live_server, javascript=True, locale="fr-CA")


def in_french(page: Page, name: str, *words: str, pending: frozenset[str] = frozenset()) -> None:
    """The page shows these French words and no English interface word but the pending
    ones; a screenshot of it is kept."""
    body = page.locator("body")
    for word in words:
        expect(body).to_contain_text(word)
    catalogue_english, french = catalogue_words()
    english = (catalogue_english | COMMON) - french - ALLOWED
    left = english_left(page.content(), english, data_strings())
    assert left <= pending, f"{name}: {' '.join(sorted(left))}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def log_in(page: Page, olivia: User) -> None:
    page.goto("/")
    in_french(page, "1-login", "Mot de passe")
    page.locator("input[name=username]").fill(olivia.username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form.stack button.primary").click()


def test_an_organizer_whose_phone_asks_for_french_knocks_in_french(
    french_phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = french_phone
    log_in(page, olivia)
    expect(page.locator("h1")).to_have_text("Aujourd’hui")
    in_french(page, "2-today", "Vos immeubles", "Suivis à faire")

    page.goto(reverse("buildings:detail", args=[unit_1204.building_id]))
    in_french(page, "3-grid", "Portes à visiter seulement", "Jamais visitée")

    page.goto(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))
    in_french(
        page,
        "4-unit",
        "La porte",
        "Ajouter une personne rencontrée",
        pending=frozenset(PENDING_ELSEWHERE),
    )

    card(page, maria).locator("button[value=not_home]").click()
    expect(page.locator("#cards")).to_contain_text("Absent\u00a0: Maria Lopez.")
    assert Visit.objects.filter(contact=maria, outcome=Outcome.NOT_HOME).count() == 1
    in_french(page, "5-knocked-not-home", "Annuler", pending=frozenset(PENDING_ELSEWHERE))


def test_the_talked_form_is_in_french(
    french_phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = french_phone
    log_in(page, olivia)
    page.goto(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))
    card(page, maria).get_by_role("link", name="Parlé").click()
    expect(page.locator("h1")).to_contain_text("Maria Lopez")
    in_french(page, "6-talked-form", "Niveau")
