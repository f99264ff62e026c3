"""Olivia organizes in French: a resident's page, the Talked form, what saving it says and
the refusals she meets there are in French, dated the French way. What the actions store
(the note of a day knocking together, an invitation's question) is written in the
organization's first working language, whoever acted: members of either language read it
later."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from buildings.models import Unit
from contacts.actions import invite, record_visit
from contacts.models import Ask, Contact, FollowUp, Level, Meeting, Outcome
from organizing.models import Membership, Organization
from tests.makers import make_contact, new_key

DAY = dt.timedelta(days=1)


def in_french(day: dt.date, format_name: str) -> str:
    """A day as French pages write it: the day before the month, the names in French."""
    with translation.override("fr"):
        return date_format(day, format_name)


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def as_olivia_in_french(clock: dt.datetime, olivia: User) -> Client:
    """Logged in once the clock is set: a session opened before the jump would have expired."""
    Membership.objects.filter(user=olivia).update(language="fr")
    client = Client()
    client.force_login(olivia)
    return client


def test_the_talked_form_is_in_french_with_its_next_visit_dated_the_french_way(
    as_olivia_in_french: Client, maria: Contact, clock: dt.datetime
) -> None:
    page = as_olivia_in_french.get(reverse("contacts:talk", args=[maria.pk])).text

    assert "Parlé avec Maria Lopez" in page
    for words in ("Dans 3 jours", "Dans une semaine", "Choisir une date", "Laisser tomber"):
        assert words in page
    assert "De quoi avez-vous parlé\u00a0?" in page
    # A new contact's visit comes in 57 days: Thursday 7 August 2031, from Wednesday 11 June.
    proposed = in_french(dt.date(2031, 8, 7), "D j N")
    assert proposed == "jeu 7 août"
    assert f'Une visite sera prévue le <strong data-level="1" class="now">{proposed}<' in page
    assert "(prendre des nouvelles)." in page
    assert '<button class="primary">Enregistrer</button>' in page
    assert "We&#x27;ll plan" not in page and "Save conversation" not in page


def test_a_french_organizer_is_told_in_french_what_the_talked_form_is_missing(
    as_olivia_in_french: Client, maria: Contact
) -> None:
    response = as_olivia_in_french.post(
        reverse("contacts:talk", args=[maria.pk]),
        {"key": new_key(), "level": Level.NEW, "ask": "Venir au comité?", "channel": "door"},
    )

    assert response.status_code == 422
    assert "Dites en quelques mots de quoi vous avez parlé." in response.text
    assert "Pour quand la réponse\u00a0?" in response.text


def test_saving_a_conversation_says_so_in_french(
    as_olivia_in_french: Client, maria: Contact
) -> None:
    response = as_olivia_in_french.post(
        reverse("contacts:talk", args=[maria.pk]),
        {
            "key": new_key(),
            "channel": "door",
            "note": "Le chauffage ne marche plus",
            "level": Level.ACTIVE,
            "ask_due": "3",
            "ask": "Venir à l’assemblée?",
        },
        follow=True,
    )

    assert "Conversation avec Maria Lopez enregistrée." in response.text


def test_a_residents_page_is_in_french_for_a_french_organizer(
    as_olivia_in_french: Client, olivia: User, maria: Contact, clock: dt.datetime
) -> None:
    Ask.objects.create(
        contact=maria,
        question="Signer la pétition?",
        asked_by=olivia,
        asked_at=timezone.now(),
        due_on=timezone.localdate() + 3 * DAY,
    )

    page = as_olivia_in_french.get(reverse("contacts:detail", args=[maria.pk])).text

    assert f"demandé le {in_french(dt.date(2031, 6, 11), 'MONTH_DAY_FORMAT')} par olivia" in page
    assert f"due le {in_french(dt.date(2031, 6, 14), 'MONTH_DAY_FORMAT')}" in page
    for words in (
        "Demandes",
        "Visites de suivi",
        "Prévoir un suivi",
        "Historique des niveaux",
    ):
        assert words in page
    assert "Aucun suivi prévu." in page
    assert "No asks yet" not in page and "Level history" not in page


def test_moving_a_follow_up_says_its_new_day_in_french(
    as_olivia_in_french: Client, olivia: User, maria: Contact, clock: dt.datetime
) -> None:
    follow_up = FollowUp.objects.create(
        contact=maria,
        planned_for=timezone.localdate() + DAY,
        purpose="Pétition",
        assigned_to=olivia,
    )

    response = as_olivia_in_french.post(
        reverse("contacts:move_follow_up", args=[follow_up.pk]),
        {"planned_for": "2031-06-20"},
        follow=True,
    )

    assert (
        f"Suivi déplacé au {in_french(dt.date(2031, 6, 20), 'MONTH_DAY_FORMAT')}." in response.text
    )


def test_the_notes_an_action_stores_are_in_the_organizations_first_language(
    olivia: User, org: Organization, unit_1204: Unit, maria: Contact, clock: dt.datetime
) -> None:
    """Olivia reads English; her organization works in French first."""
    org.languages = ["fr", "en"]
    org.save(update_fields=["languages"])
    actor = Membership.objects.select_related("organization").get(user=olivia)
    assert actor.language != "fr"
    tamara = make_contact(unit_1204, name="Tamara", owner=olivia)
    meeting = Meeting.objects.create(
        organization=org,
        title="Assemblée de l’immeuble",
        starts_at=timezone.now() + 2 * DAY,
        place="Hall",
    )

    record_visit(
        actor=actor,
        contact=maria,
        outcome=Outcome.NOT_HOME,
        idempotency_key=new_key(),
        companion_contact=tamara,
    )
    invite(actor=actor, meeting=meeting, contacts=[maria])

    assert tamara.visits.get().note == "A cogné aux portes avec nous."
    question = Ask.objects.get(contact=maria, meeting=meeting).question
    day = in_french(dt.date(2031, 6, 13), "MONTH_DAY_FORMAT")
    assert question == f"Venir à «\u00a0Assemblée de l’immeuble\u00a0» le {day}\u00a0?"


def test_the_talked_form_of_a_resident_added_on_the_phone_names_them_as_the_outbox_expects(
    as_olivia_in_french: Client, maria: Contact
) -> None:
    """The phone's outbox puts the resident's name in place of its own French words for
    "the resident you added": the page must use exactly those."""
    page = as_olivia_in_french.get(reverse("contacts:talk_new", args=["k" * 32])).text

    assert "Parlé avec le·la résident·e ajouté·e" in page
    assert 'data-outbox="le·la résident·e ajouté·e"' in page


def test_the_next_visit_day_abbreviates_the_month_as_french_does(
    as_olivia_in_french: Client, maria: Contact, clock: dt.datetime
) -> None:
    """Typed for January: « janv. », never the English "Jan"."""
    january = dt.date(clock.year + 1, 1, 30)
    page = as_olivia_in_french.post(
        reverse("contacts:talk", args=[maria.pk]),
        {"key": new_key(), "level": Level.NEW, "follow_up_on": january.isoformat()},
    ).text

    assert f"<strong>{in_french(january, 'D')} 30 janv.</strong>" in page
    assert " Jan<" not in page
