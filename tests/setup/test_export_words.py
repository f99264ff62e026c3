"""Cora (committee) exports contacts for a phone bank: the phones as text every spreadsheet
keeps, with every digit, every
cell in words as the screens say it, the owner by full name, and no erased person."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buildings.models import Unit
from contacts.exports import phone_cell, spreadsheet_safe
from contacts.models import Contact, LapseFlag, Status
from contacts.privacy.erasure import erase_contact
from tests.makers import make_contact, mark_lapsed


def export(user: User, **fields: str) -> list[dict[str, str]]:
    client = Client()
    client.force_login(user)
    response = client.post(reverse("setup:export"), fields)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(text[1:])))


@pytest.mark.parametrize(
    ("stored", "cell"),
    [
        ("+1 514 555 0100", "(+1) 514 555 0100"),
        ("+1-514-555-0100", "(+1) 514-555-0100"),
        ("+15145550100", "(+1) 514 555 0100"),
        ("+44 20 7123 4567", "(+44) 20 7123 4567"),
        ("+442071234567", "(+) 442071234567"),
        ("5145550100", "514 555 0100"),
        ("15145550100", "1 514 555 0100"),
        ("02071234567", "02071 234567"),
        ("5550100", "555 0100"),
        ("(555) 019-8844", "(555) 019-8844"),
        ("555-019-8844", "555-019-8844"),
        ("555.019.8844", "555.019.8844"),
    ],
)
def test_a_phone_is_text_to_a_spreadsheet_with_every_digit_in_place(stored: str, cell: str) -> None:
    assert phone_cell(stored) == cell
    # No formula character first, and not a number to any spreadsheet: text, as written.
    assert not cell.startswith(("=", "+", "-", "@", "'"))
    assert not re.fullmatch(r"\(?[0-9]+(\.[0-9]+)?\)?", cell)
    assert re.sub(r"[^0-9]", "", cell) == re.sub(r"[^0-9]", "", stored)
    assert ("+" in cell) == ("+" in stored)


def test_formulas_are_still_neutralised_in_every_other_cell_and_a_phone_like_one() -> None:
    assert spreadsheet_safe("+1 514 555 0100") == "'+1 514 555 0100"
    assert phone_cell("+1+cmd|' /C calc'!A0") == "'+1+cmd|' /C calc'!A0"
    assert spreadsheet_safe("+1+cmd|' /C calc'!A0") == "'+1+cmd|' /C calc'!A0"
    assert spreadsheet_safe("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert spreadsheet_safe("=1+1") == "'=1+1"


def test_every_cell_is_in_words_and_the_owner_has_their_full_name(
    cora: User, olivia: User, unit_1204: Unit
) -> None:
    olivia.first_name, olivia.last_name = "Olivia", "Mensah"
    olivia.save()
    contact = make_contact(
        unit_1204, owner=olivia, name="Hodan Ali", phone="+1 514 555 0100", language="so"
    )
    mark_lapsed(contact)

    [row] = export(cora)

    assert row["phone"] == "(+1) 514 555 0100"
    assert row["language"] == "Somali"
    assert (row["level"], row["status"]) == ("New", "Active")
    assert row["lapse"] == str(LapseFlag.LAPSED.label) == "Lapsed"
    assert row["owner"] == "Olivia Mensah"


def test_an_erased_person_is_in_no_export(
    ada: User, cora: User, olivia: User, unit_1204: Unit
) -> None:
    make_contact(unit_1204, owner=olivia, name="Stays")
    gone = make_contact(unit_1204, owner=olivia, name="Goes")
    make_contact(unit_1204, owner=olivia, name="Moved away", status=Status.MOVED)
    erase_contact(actor=ada.membership, contact=gone)

    everyone = export(cora, everyone="on")

    assert sorted(row["name"] for row in everyone) == ["Moved away", "Stays"]
    assert Contact.objects.filter(status=Status.ERASED).count() == 1
