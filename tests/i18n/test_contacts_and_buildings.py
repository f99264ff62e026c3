"""Olivia (organizer) and Ada (admin) work in French: what the contacts' and buildings' models
say (levels, states, channels, outcomes, languages, field names, refusals) reaches them in
French, and the same words in English for everyone else."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from buildings.actions import add_units
from buildings.models import Building, Unit
from contacts.actions import record_visit
from contacts.forms import LanguageField
from contacts.languages import language_code, language_name
from contacts.models import Channel, Contact, Level, Outcome
from organizing.models import Membership, Organization
from tests.makers import make_contact, new_key


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    """A request leaves its member's language active in the thread: the next test starts in
    the default one, as a new request would."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def in_french(user: User) -> Client:
    Membership.objects.filter(user=user).update(language="fr")
    client = Client()
    client.force_login(user)
    return client


def test_a_french_organizer_reads_a_residents_level_state_and_knocks_in_french(
    olivia: User, maria: Contact
) -> None:
    maria.set_level(Level.SUPPORTER, by=olivia)
    record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.NOT_HOME,
        channel=Channel.PHONE,
        idempotency_key=new_key(),
    )

    page = in_french(olivia).get(reverse("contacts:detail", args=[maria.pk])).text

    assert "Sympathisant·e" in page
    assert "Actif·ve" in page
    assert "Téléphone · Absent" in page
    assert "Nouveau·elle → Sympathisant·e" in page
    for english in ("Supporter", "Not home", "Phone ·"):
        assert english not in page


def test_an_english_organizer_reads_the_same_page_in_english(olivia: User, maria: Contact) -> None:
    maria.set_level(Level.SUPPORTER, by=olivia)
    client = Client()
    client.force_login(olivia)

    page = client.get(reverse("contacts:detail", args=[maria.pk])).text

    assert "Supporter" in page
    assert "Sympathisant·e" not in page


def test_languages_are_named_in_the_readers_language_and_found_in_any() -> None:
    with translation.override("fr"):
        assert [language_name(c) for c in ("so", "yue", "ta", "de")] == [
            "somali",
            "cantonais",
            "tamoul",
            "allemand",
        ]
    with translation.override("en"):
        assert language_name("so") == "Somali"
    assert [language_code(n) for n in ("tamoul", "Tamil", "தமிழ்", "ta")] == ["ta"] * 4


def test_a_french_organizer_is_suggested_languages_by_their_french_names(
    olivia: User, unit_1204: Unit
) -> None:
    for n in range(2):
        make_contact(unit_1204, owner=olivia, name=f"Speaker {n}", language="de")

    page = (
        in_french(olivia)
        .get(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))
        .text
    )

    datalist = page[page.index("<datalist") : page.index("</datalist>")]
    assert 'value="allemand"' in datalist
    assert "German" not in datalist


def test_a_french_committee_member_picks_a_meetings_language_from_french_names(
    cora: User,
) -> None:
    page = in_french(cora).get(reverse("committee:new_meeting")).text

    assert '<option value="so">somali</option>' in page
    assert '<option value="de">allemand</option>' in page


def test_a_french_organizer_adding_a_resident_is_refused_in_french(
    olivia: User, unit_1204: Unit
) -> None:
    client = in_french(olivia)
    url = reverse("buildings:new_resident", args=[unit_1204.building_id, unit_1204.pk])

    phone = client.post(url, {"name": "514 555 0100", "key": new_key()})
    elvish = client.post(url, {"name": "Hodan", "language": "elfique", "key": new_key()})

    assert phone.status_code == elvish.status_code == 422
    assert "Ceci ressemble à un numéro de téléphone, pas à un nom" in phone.text
    assert "Langue inconnue\u00a0: écrivez son nom" in elvish.text
    assert not Contact.objects.filter(name="Hodan").exists()


def test_the_language_field_keeps_accepting_english_names_autonyms_and_codes_in_french() -> None:
    field = LanguageField()
    with translation.override("fr"):
        assert [field.clean(v) for v in ("Somali", "Soomaali", "somali", "so")] == ["so"] * 4
        with pytest.raises(ValidationError, match="Langue inconnue"):
            field.clean("elfique")


def test_a_french_admin_exports_words_in_french_and_times_in_the_organizations_zone(
    ada: User, olivia: User, maria: Contact, org: Organization, clock: dt.datetime
) -> None:
    Organization.objects.filter(pk=org.pk).update(time_zone="America/Vancouver")
    Contact.objects.filter(pk=maria.pk).update(language="so")
    maria.set_level(Level.SUPPORTER, by=olivia)
    record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.CONVERSATION,
        happened_at=dt.datetime(2031, 6, 11, 15, 30, tzinfo=dt.UTC),
        idempotency_key=new_key(),
    )

    response = in_french(ada).post(reverse("setup:export"))
    # Read as a server reads a streamed body: after the view has returned.
    with translation.override("en"):
        text = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[attr-defined]

    header, row = list(csv.reader(io.StringIO(text[1:])))
    cells = dict(zip(header, row, strict=True))
    assert cells["level"] == "Sympathisant·e"
    assert cells["status"] == "Actif·ve"
    assert cells["language"] == "somali"
    # 15:30 UTC is 8:30 in Vancouver (and 11:30 in Toronto, the server's zone).
    assert cells["last_conversation"] == "2031-06-11 08:30"


def test_a_building_refuses_a_door_above_its_top_floor_in_french(riverside: Building) -> None:
    riverside.floors = 3
    unit = Unit(building=riverside, floor=4, label="X1")

    with translation.override("fr"), pytest.raises(ValidationError) as refused:
        unit.clean()

    assert refused.value.message_dict["floor"] == [f"{riverside.name} a 3 étages."]


def test_units_for_another_organizations_building_are_refused_in_french(
    xavier: User, riverside: Building
) -> None:
    with translation.override("fr"), pytest.raises(ValidationError) as refused:
        add_units(actor=xavier.membership, building=riverside, doors=[(1, "101")])

    assert refused.value.messages == ["Cet immeuble n\u2019est pas dans votre organisation."]


def test_a_french_admin_fills_in_a_building_with_french_labels(ada: User) -> None:
    page = in_french(ada).get(reverse("setup:new")).text

    assert "<label>Adresse *" in page
    assert "<label>Code postal <" in page
    assert "<label>Propriétaire ou gestionnaire <" in page
    assert "Street address" not in page
