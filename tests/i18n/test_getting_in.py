"""Getting in, two-factor, faults, the page frame and the phone's words, for a member who
reads French: Olivia (organizer) and Cora (committee) chose French; Omar kept English."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from buildings.models import Unit
from contacts.field import doors
from contacts.models import Contact
from organizing.accounts import email_password_link
from organizing.actions import change_role
from organizing.models import Membership, Role
from organizing.outbox_words import WORDS
from tests.organizing.test_accounts import PASSWORD

NBSP = "\u00a0"


def reads_french(*users: User) -> None:
    Membership.objects.filter(user__in=users).update(language="fr")


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_olivia(olivia: User) -> Client:
    reads_french(olivia)
    return client_of(olivia)


@pytest.fixture
def as_cora(cora: User) -> Client:
    reads_french(cora)
    return client_of(cora)


def test_the_login_page_speaks_the_browsers_french(client: Client) -> None:
    page = client.get(reverse("login"), headers={"Accept-Language": "fr-CA,fr;q=0.9"})

    text = page.content.decode()
    assert '<html lang="fr">' in text
    assert "<h1>Se connecter</h1>" in text
    assert "Nom d’utilisateur·rice" in text
    assert f"Mot de passe oublié, ou jamais choisi{NBSP}?" in text


def test_a_wrong_password_is_refused_in_french(client: Client, olivia: User) -> None:
    response = client.post(
        reverse("login"),
        {"username": "olivia", "password": "wrong"},
        headers={"Accept-Language": "fr"},
    )

    assert "Saisissez un nom d’utilisateur et un mot de passe valides" in response.content.decode()


def test_a_french_members_frame_is_in_french_and_carries_nothing_more_than_an_english_one(
    as_olivia: Client,
) -> None:
    """The outbox asks for its words itself: a French page weighs what an English one does
    but for its own words."""
    text = as_olivia.get(reverse("home")).content.decode()

    for words in ("Aujourd’hui", "Immeubles", "Assemblées", "Déconnexion"):
        assert f">{words}<" in text
    assert ">Today</a>" not in text
    assert '<html lang="fr">' in text
    assert "/words/" not in text


def test_an_english_page_loads_no_words(omar: User) -> None:
    text = client_of(omar).get(reverse("home")).content.decode()

    assert ">Today</a>" in text
    assert "/words/" not in text


def test_the_outbox_words_are_french_and_asked_again_only_with_their_digest(
    client: Client,
) -> None:
    url = reverse("outbox_words", args=["fr"])
    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Cache-Control"] == "public, max-age=3600"
    words = response.json()
    assert words["%(items)s waiting to send (no signal)."] == (
        "%(items)s en attente d’envoi (pas de réseau)."
    )
    assert words["%(count)s knock"] == ["%(count)s visite", "%(count)s visite", "%(count)s visites"]
    again = client.get(url, headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get(reverse("outbox_words", args=["en"])).json()["Knock"] == "Knock"
    assert client.get(reverse("outbox_words", args=["xx"])).status_code == 404


def test_two_factor_is_set_up_in_french_and_a_bad_code_is_refused_in_french(
    as_cora: Client,
) -> None:
    status = as_cora.get(reverse("two_factor")).content.decode()
    assert "<h1>Double authentification</h1>" in status
    assert "Désactivée." in status

    setup = as_cora.get(reverse("two_factor_setup")).content.decode()
    assert f"Impossible de scanner{NBSP}? Tapez plutôt cette clé" in setup

    short = as_cora.post(reverse("two_factor_setup"), {"code": "12"})
    assert short.status_code == 422
    assert "Le code, ce sont les 6 chiffres que votre appli affiche" in short.content.decode()

    wrong = as_cora.post(reverse("two_factor_setup"), {"code": "000000"})
    assert f"Ce code n’a pas fonctionné{NBSP}:" in wrong.content.decode()


def test_a_password_link_is_written_in_its_recipients_language(olivia: User, omar: User) -> None:
    reads_french(olivia)

    with translation.override("en"):
        email_password_link(olivia, invite=False)
    with translation.override("fr"):
        email_password_link(omar, invite=False)

    french, english = mail.outbox
    assert french.subject == "Choisissez votre mot de passe Doorstep"
    assert f"Votre nom d’utilisateur·rice{NBSP}: olivia" in french.body
    assert isinstance(french, EmailMultiAlternatives)
    html = str(french.alternatives[0][0])
    assert '<html lang="fr">' in html and "Choisir votre mot de passe</a>" in html
    assert english.subject == "Set your Doorstep password"
    assert "Your username is: omar" in english.body


def test_the_last_admin_is_refused_in_a_whole_french_sentence(ada: User) -> None:
    membership = ada.membership  # type: ignore[attr-defined]

    with translation.override("fr"), pytest.raises(ValidationError) as refused:
        change_role(actor=membership, membership=membership, role=Role.ORGANIZER)

    assert refused.value.messages == [
        f"ada est le·la dernier·ère admin et ne peut pas changer de rôle{NBSP}: "
        "nommez d’abord quelqu’un d’autre admin."
    ]


def test_too_many_at_once_is_said_in_french(db: None, client: Client, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "1/m"}
    french = {"Accept-Language": "fr"}
    client.post(reverse("login"), {"username": "x", "password": "y"}, headers=french)

    page = client.post(reverse("login"), {"username": "x", "password": "y"}, headers=french)
    replay = client.post(reverse("login"), {}, headers=french | {"Accept": "application/json"})

    assert page.status_code == 429
    assert "<h1>Trop de demandes à la fois</h1>" in page.content.decode()
    assert "Réessayez dans" in page.content.decode()
    assert replay.json()["message"].startswith(f"Trop de demandes à la fois{NBSP}: réessayez dans")


def test_a_fault_is_answered_in_french(
    as_olivia: Client, maria: Contact, unit_1204: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(doors, "record_visit", fail)
    url = reverse("buildings:knock", args=[unit_1204.building_id, unit_1204.pk])
    knock = {
        "contact": str(maria.pk),
        "owner": str(maria.owner_id),
        f"c{maria.pk}-outcome": "not_home",
        f"c{maria.pk}-key": "phone-key-0001",
    }

    page = as_olivia.post(url, knock)
    replay = as_olivia.post(url, knock, headers={"Accept": "application/json"})

    assert page.status_code == 503
    assert "<h1>Réessayez dans un instant</h1>" in page.content.decode()
    assert '<html lang="fr">' in page.content.decode()
    assert replay.json()["message"].startswith("Doorstep n’a pas pu terminer pour l’instant.")


def test_every_sentence_the_outbox_writes_has_its_french() -> None:
    """A sentence added to outbox.js without its entry in outbox_words.py would stay English
    on a French phone: every literal the script translates is one of the words."""
    source = (Path(__file__).parents[2] / "static" / "js" / "outbox.js").read_text()
    literals = re.findall(r"""\bt\((["'])(.+?)\1""", source)
    reasons = re.findall(r'"(no signal|Doorstep did not answer yet|sending)"', source)
    written = {text for _quote, text in literals}
    written |= {f"%(items)s waiting to send ({reason})." for reason in reasons}

    assert len(written) > 20
    assert written - set(WORDS) == set()


def test_a_locked_out_login_is_explained_in_french(olivia: User) -> None:
    client = Client(headers={"Accept-Language": "fr"})
    for _ in range(5):
        client.post(reverse("login"), {"username": "olivia", "password": "wrong password"})

    locked = client.post(reverse("login"), {"username": "olivia", "password": PASSWORD})

    page = locked.content.decode()
    assert locked.status_code == 429
    assert "<h1>Connexion bloquée pour l’instant</h1>" in page
    assert "La connexion est bloquée ici pendant 15 minutes." in page
    assert "Choisissez-en un nouveau par courriel</a>" in page
