"""Members and invitations in French: Ada (admin) reads French; the invitation email speaks
the inviting organization's first working language, whatever its admin reads; the page the
invited person opens speaks their browser's.

Eastside works in English and French unless a test says otherwise; Xavier is Westside's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import formats, translation

from buildings.models import Building
from contacts.models import Contact
from organizing.models import Invitation, Membership, Organization, Role
from tests.i18n.test_every_page_in_french import (
    ALLOWED,
    COMMON,
    catalogue_words,
    data_strings,
    english_left,
)
from tests.organizing.test_invitations import client_for, invite, link_in, shape

NBSP = "\u00a0"


@pytest.fixture
def as_ada(ada: User) -> Client:
    Membership.objects.filter(user=ada).update(language="fr")
    return client_for(ada)


def english_words_in(html: str) -> set[str]:
    catalogue_english, french = catalogue_words()
    return english_left(html, (catalogue_english | COMMON) - french - ALLOWED, data_strings())


def in_french(when: dt.datetime, name: str) -> str:
    """A date as the French named format writes it."""
    with translation.override("fr"):
        return formats.date_format(when, name)


def works_in(organization: Organization, *languages: str) -> None:
    organization.languages = list(languages)
    organization.save(update_fields=["languages"])


# The admin's pages


def test_the_members_page_speaks_french_with_its_dates_and_counts(
    clock: dt.datetime,
    as_ada: Client,
    olivia: User,
    riverside: Building,
    maria: Contact,
    on_commit: Callable[..., Any],
) -> None:
    invite(as_ada, "nadia@example.org", on_commit)

    page = as_ada.get(reverse("members:list")).content.decode()

    assert "<h1>Membres</h1>" in page
    assert "<summary>Ajouter un·e membre</summary>" in page
    assert "Envoyer l’invitation</button>" in page
    assert "<h2>Invitations en attente</h2>" in page
    # The dates as French writes them, day first (English: "sent Jun 11, expires Jun 18").
    sent = in_french(clock, "MONTH_DAY_FORMAT")
    expires = in_french(clock + dt.timedelta(days=7), "MONTH_DAY_FORMAT")
    assert sent.startswith("11 ") and expires.startswith("18 ")
    assert f"envoyée le {sent}, expire le {expires}" in page
    assert "1 immeuble · 1 contact" in page
    assert english_words_in(page) == set()


def test_an_expired_invitation_says_so_in_french(
    clock: dt.datetime, as_ada: Client, on_commit: Callable[..., Any]
) -> None:
    invite(as_ada, "nadia@example.org", on_commit)
    yesterday = clock - dt.timedelta(days=1)
    Invitation.objects.update(expires_at=yesterday)

    page = as_ada.get(reverse("members:list")).content.decode()

    assert f"expirée le {in_french(yesterday, 'MONTH_DAY_FORMAT')}" in page
    assert "Renvoyer</button>" in page and "Annuler</button>" in page


def test_a_members_page_speaks_french(
    clock: dt.datetime, as_ada: Client, olivia: User, riverside: Building, maria: Contact
) -> None:
    olivia.first_name = "Olivia"
    olivia.save()
    membership = olivia.membership  # type: ignore[attr-defined]

    page = as_ada.get(reverse("members:detail", args=[membership.pk])).content.decode()

    assert f"depuis le {in_french(membership.joined_at, 'DATE_FORMAT')}" in page
    assert "<h2>Territoire</h2>" in page
    assert "<legend>Immeubles que Olivia organise</legend>" in page
    assert "Double authentification désactivée." in page
    assert "1 contact actif à sa charge." in page
    assert "<h2>Désactiver</h2>" in page
    assert english_words_in(page) == set()


def test_a_french_admin_is_answered_in_french_when_changing_a_member(
    as_ada: Client, olivia: User, riverside: Building, maple: Building
) -> None:
    membership = olivia.membership  # type: ignore[attr-defined]
    buildings = {"buildings": [riverside.pk, maple.pk]}

    role = as_ada.post(
        reverse("members:role", args=[membership.pk]), {"role": "committee"}, follow=True
    )
    turf = as_ada.post(reverse("members:turf", args=[membership.pk]), buildings, follow=True)
    link = as_ada.post(reverse("members:password_link", args=[membership.pk]), follow=True)

    assert f"olivia a maintenant le rôle «{NBSP}comité{NBSP}»." in role.content.decode()
    assert f"Territoire de olivia{NBSP}: 2 immeubles." in turf.content.decode()
    assert (
        "Un lien pour choisir un mot de passe est en route vers olivia@example.org."
        in link.content.decode()
    )


def test_a_deactivated_organizers_contacts_and_buildings_are_counted_in_french(
    as_ada: Client, olivia: User, riverside: Building, maria: Contact
) -> None:
    membership = olivia.membership  # type: ignore[attr-defined]

    page = as_ada.post(
        reverse("members:deactivate", args=[membership.pk]), follow=True
    ).content.decode()

    assert "1 contact actif apparaît comme orphelin" in page
    assert f"{riverside.name} n’a plus d’organisateur·rice{NBSP}:" in page
    assert '<small class="pill">désactivé·e</small>' in page


# Adding a member, in French


def test_a_french_admin_is_told_the_invitation_went_in_french(
    as_ada: Client, olivia: User, on_commit: Callable[..., Any]
) -> None:
    sent = invite(as_ada, "nadia@example.org", on_commit).content.decode()
    refused = as_ada.post(reverse("members:add"), {"email": "olivia@example.org", "role": "admin"})

    assert "Invitation envoyée à nadia@example.org." in sent
    assert refused.status_code == 422
    assert "olivia est déjà membre." in refused.content.decode()


def test_in_french_too_every_address_gets_the_same_answer(
    as_ada: Client, xavier: User, on_commit: Callable[..., Any]
) -> None:
    """The French answer tells no more than the English one about accounts elsewhere."""
    User.objects.create_user("kim", "kim@example.org", "correct horse 42")
    addresses = ["new@example.org", "xavier@example.org", "kim@example.org"]
    pages = []
    for email in addresses:
        page = invite(as_ada, email, on_commit).content.decode()
        assert f"Invitation envoyée à {email}." in page
        pages.append(shape(page, email))
        Invitation.objects.filter(email=email).delete()

    assert len(set(pages)) == 1
    assert len({shape(str(message.body), message.to[0]) for message in mail.outbox}) == 1


# The invitation email: the organization's first language, not the admin's


def test_the_invitation_email_speaks_the_organizations_first_language(
    ada: User, org: Organization, on_commit: Callable[..., Any]
) -> None:
    # Ada reads English; Eastside works in French first.
    works_in(org, "fr", "en")

    invite(client_for(ada), "nadia@example.org", on_commit)

    (message,) = mail.outbox
    assert isinstance(message, mail.EmailMultiAlternatives)
    assert message.subject == "Vous êtes invité·e à rejoindre Eastside Tenants sur Doorstep"
    assert f"avec le rôle «{NBSP}organisateur·rice{NBSP}»" in message.body
    assert f"d’ici 7 jours{NBSP}; il ne sert qu’une fois{NBSP}:" in message.body
    html = str(message.alternatives[0][0])
    assert '<html lang="fr">' in html
    assert "Accepter l’invitation</a>" in html


def test_a_french_admin_of_an_english_first_organization_invites_in_english(
    as_ada: Client, org: Organization, on_commit: Callable[..., Any]
) -> None:
    works_in(org, "en", "fr")

    invite(as_ada, "nadia@example.org", on_commit, role=Role.COMMITTEE)

    (message,) = mail.outbox
    assert message.subject == "You're invited to Eastside Tenants on Doorstep"
    assert "as committee. Accept with this link within 7 days" in message.body


# The invitation's page: the browser's language


def test_the_invitation_page_follows_the_browsers_french(
    ada: User, org: Organization, on_commit: Callable[..., Any]
) -> None:
    works_in(org, "en", "fr")
    invite(client_for(ada), "nadia@example.org", on_commit)
    link = link_in(mail.outbox[0])
    french = Client(HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9")

    page = french.get(link).content.decode()
    differ = french.post(
        link, {"name": "Nadia", "password1": "correct horse 42", "password2": "other horse 43"}
    )

    assert (
        f"Eastside Tenants invite nadia@example.org avec le rôle «{NBSP}organisateur·rice{NBSP}»."
        in page
    )
    assert "Rejoindre Eastside Tenants</button>" in page
    assert "Choisissez un mot de passe" in page
    assert english_words_in(page) == set()
    assert differ.status_code == 422
    assert "Les deux mots de passe diffèrent." in differ.content.decode()
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get(link).content.decode()
    assert "Eastside Tenants invites nadia@example.org as organizer." in english


def test_an_invitation_accepted_or_expired_is_explained_in_french(
    ada: User, clock: dt.datetime, on_commit: Callable[..., Any]
) -> None:
    invite(client_for(ada), "nadia@example.org", on_commit)
    link = link_in(mail.outbox[0])
    french = Client(HTTP_ACCEPT_LANGUAGE="fr")
    week = clock + dt.timedelta(days=7)

    with time_machine.travel(week + dt.timedelta(hours=1)):
        expired = french.get(link)
    accepted = french.post(
        link, {"name": "", "password1": "correct horse 42", "password2": "correct horse 42"}
    )
    used = Client(HTTP_ACCEPT_LANGUAGE="fr").get(link)

    assert expired.status_code == 410
    assert (
        f"Cette invitation a expiré le {in_french(week, 'DATE_FORMAT')}. Demandez à un·e admin "
        "de Eastside Tenants d’en envoyer une nouvelle."
    ) in expired.content.decode()
    assert accepted.status_code == 302
    assert used.status_code == 410
    assert "Cette invitation a déjà servi." in used.content.decode()


def test_a_new_member_with_no_password_yet_gets_their_link_in_their_french(
    ada: User, olivia: User, on_commit: Callable[..., Any]
) -> None:
    """The link an admin sends a member who never chose a password is the welcome one, in
    the member's language: Ada reads English, Olivia French."""
    olivia.first_name = "Olivia"
    olivia.set_unusable_password()
    olivia.save()
    Membership.objects.filter(user=olivia).update(language="fr")

    with on_commit():
        client_for(ada).post(reverse("members:password_link", args=[olivia.membership.pk]))  # type: ignore[attr-defined]

    (message,) = mail.outbox
    assert message.subject == f"Bienvenue sur Doorstep{NBSP}: choisissez votre mot de passe"
    assert message.body.startswith("Bonjour Olivia,")
    assert f"nom d’utilisateur·rice{NBSP}: olivia" in message.body
    assert f"utilisez «{NBSP}Mot de passe oublié{NBSP}» sur la page de connexion" in message.body
    assert isinstance(message, mail.EmailMultiAlternatives)
    assert "Choisir votre mot de passe</a>" in str(message.alternatives[0][0])


def test_an_organizations_name_is_written_as_is_in_the_invitations_subject(
    ada: User, org: Organization, on_commit: Callable[..., Any]
) -> None:
    org.name = "Parkdale Tenants & Neighbours"
    org.save(update_fields=["name"])
    works_in(org, "fr", "en")

    invite(client_for(ada), "nadia@example.org", on_commit)

    (message,) = mail.outbox
    assert message.subject == (
        "Vous êtes invité·e à rejoindre Parkdale Tenants & Neighbours sur Doorstep"
    )
