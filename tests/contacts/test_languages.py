"""Tenants speak any language: a language is found by its code, its English name or its own
name, and organizers pick from their organization's most used languages first."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buildings.models import Unit
from contacts.languages import language_code, language_name
from contacts.models import Contact
from tests.makers import make_contact, new_key


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("zh", "zh"),
        ("yue", "yue"),
        ("tl", "tl"),
        ("so", "so"),
        ("am", "am"),
        ("ti", "ti"),
        ("gu", "gu"),
        ("ps", "ps"),
        ("Español", "es"),
        ("Soomaali", "so"),
        ("中文", "zh"),
        ("Chinese", "zh"),
        ("Cantonese", "yue"),
        ("tagalog", "tl"),
        ("ትግርኛ", "ti"),
        ("chinois", "zh"),
        ("zh-Hans", "zh"),
        ("  SOMALI ", "so"),
    ],
)
def test_a_language_is_found_by_its_code_its_english_name_or_its_own_name(
    written: str, code: str
) -> None:
    assert language_code(written) == code


@pytest.mark.parametrize("written", ["42", "😀", "x" * 10_000, "Elvish", ""])
def test_a_number_an_emoji_or_ten_thousand_characters_is_no_language(written: str) -> None:
    assert language_code(written) is None


def test_languages_are_named_in_english_as_cldr_names_them() -> None:
    assert [language_name(c) for c in ("yue", "tl", "so", "am")] == [
        "Cantonese",
        "Tagalog",
        "Somali",
        "Amharic",
    ]


@pytest.fixture
def as_olivia(olivia: User) -> Client:
    client = Client()
    client.force_login(olivia)
    return client


def unit_url(unit: Unit) -> str:
    return reverse("buildings:unit", args=[unit.building_id, unit.pk])


def new_resident_url(unit: Unit) -> str:
    return reverse("buildings:new_resident", args=[unit.building_id, unit.pk])


def test_the_resident_form_suggests_the_organizations_most_used_languages_first(
    as_olivia: Client, olivia: User, unit_1204: Unit
) -> None:
    for n in range(3):
        make_contact(unit_1204, owner=olivia, name=f"Somali speaker {n}", language="so")
    make_contact(unit_1204, owner=olivia, name="Tigrinya speaker", language="ti")

    page = as_olivia.get(unit_url(unit_1204)).content.decode()

    field = page[page.index('name="language"') :]
    suggestions = field[field.index("<datalist") : field.index("</datalist>")]
    assert 'list="id_language-suggestions"' in page
    assert suggestions.count("<option") == 2
    assert suggestions.index('value="Somali"') < suggestions.index('value="Tigrinya"')


@pytest.mark.parametrize(("written", "code"), [("Soomaali", "so"), ("yue", "yue"), ("ትግርኛ", "ti")])
def test_an_organizer_adds_a_resident_in_any_language_written_as_a_code_or_a_name(
    as_olivia: Client, unit_1204: Unit, written: str, code: str
) -> None:
    response = as_olivia.post(
        new_resident_url(unit_1204), {"name": "Hodan", "language": written, "key": new_key()}
    )

    assert response.status_code == 302
    assert Contact.objects.get(name="Hodan").language == code


@pytest.mark.parametrize("language", ["42", "😀", "x" * 10_000])
def test_the_resident_form_refuses_what_is_not_a_language_in_a_short_message(
    as_olivia: Client, unit_1204: Unit, language: str
) -> None:
    response = as_olivia.post(
        new_resident_url(unit_1204), {"name": "Hodan", "language": language, "key": new_key()}
    )

    assert response.status_code == 422
    assert "Unknown language: write its name, like Somali or Soomaali, or its code" in response.text
    assert response.text.count("Unknown language") == 1
    assert not Contact.objects.filter(name="Hodan").exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("555 019 8844", "This looks like a phone number, not a name"),
        ("", "Give a name or a short description."),
    ],
)
def test_the_resident_form_refuses_a_phone_number_for_a_name(
    as_olivia: Client, unit_1204: Unit, name: str, message: str
) -> None:
    response = as_olivia.post(new_resident_url(unit_1204), {"name": name, "key": new_key()})

    assert response.status_code == 422
    assert message in response.text
    assert not Contact.objects.exists()


def test_a_right_to_left_override_is_taken_out_of_a_name_added_at_the_door(
    as_olivia: Client, unit_1204: Unit
) -> None:
    as_olivia.post(
        new_resident_url(unit_1204), {"name": "Ana\u202e  Sousa\u202c", "key": new_key()}
    )

    assert list(Contact.objects.values_list("name", flat=True)) == ["Ana Sousa"]
