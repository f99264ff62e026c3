"""The committee's screens, meetings and privacy in French (issue #21).

Cora is on the committee and Ada is the admin of Eastside Tenants; both read French on
their profiles. Olivia organizes Riverside, where Maria lives in 1204. Each test reads what a
French member sees on the page: the words, the plurals, the dates and the messages."""

# French is written with its typographic apostrophe.

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from buildings.models import Unit
from contacts.models import Answer, Ask, Contact, Level, Meeting
from contacts.privacy.erasure import erase_contact
from organizing.models import Membership, Organization
from tests.makers import make_contact, mark_lapsed, new_key

pytestmark = pytest.mark.usefixtures("clock")

DAY = dt.timedelta(days=1)
NBSP = "\u00a0"
DASHBOARD = reverse("committee:dashboard")
SETTINGS = reverse("committee:settings")


def in_french(user: User) -> Client:
    Membership.objects.filter(user=user).update(language="fr")
    client = Client()
    client.force_login(user)
    return client


def meeting_with_guests(unit: Unit, *, days_ago: int, answers: tuple[str, ...]) -> Meeting:
    meeting = Meeting.objects.create(
        organization=unit.building.organization,
        title="Assemblée du bail",
        starts_at=timezone.now() - days_ago * DAY,
        place="Hall",
    )
    for n, answer in enumerate(answers):
        Ask.objects.create(
            contact=make_contact(unit, name=f"Invitée {n}"),
            meeting=meeting,
            question="Viendrez-vous?",
            due_on=timezone.localdate(),
            answer=answer,
        )
    return meeting


def test_cora_reads_the_dashboard_in_french(cora: User, maria: Contact) -> None:
    mark_lapsed(maria, since=timezone.now() - 3 * DAY)

    page = in_french(cora).get(DASHBOARD).content.decode()

    assert "<h1>Tableau de bord du décrochage</h1>" in page
    assert "Qui a besoin de quelqu’un" in page
    assert "Pas de conversation à temps" in page
    assert 'aria-label="Cocher Maria Lopez"' in page
    assert "Mettre Maria Lopez en pause" in page
    assert "Aucune assemblée n’a encore eu lieu." in page
    assert "Lapse dashboard" not in page and "Who needs someone" not in page


def test_a_snooze_is_confirmed_in_french_with_a_french_date(cora: User, maria: Contact) -> None:
    mark_lapsed(maria)
    client = in_french(cora)
    until = timezone.localdate() + 20 * DAY  # July 1st, 2031

    response = client.post(
        reverse("committee:snooze", args=[maria.pk]),
        {"until": until.isoformat(), "reason": "En voyage"},
        follow=True,
    )

    # The day before the month, as French writes it (the month's abbreviation is the
    # formats' business: organizing/formats/fr).
    snoozed = f"Maria Lopez en pause jusqu’au 1 [A-Za-zé]+\\.?{NBSP}: En voyage\\."
    assert re.search(snoozed, response.content.decode())


def test_the_lapsed_export_has_french_headers(cora: User, maria: Contact) -> None:
    mark_lapsed(maria)

    response = in_french(cora).get(reverse("committee:export"))

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["Nom", "Immeuble", "Logement", "Niveau", "Responsable"]
    assert rows[1][0] == "Maria Lopez" and rows[1][6] == "non"


def test_a_bad_threshold_is_refused_in_french(cora: User) -> None:
    client = in_french(cora)
    data = {
        "leader": 50,
        "active": 10,
        "supporter": 20,
        "contact": 30,
        "new": 45,
        "leader_lead": 2,
        "active_lead": 3,
        "supporter_lead": 3,
        "contact_lead": 4,
        "new_lead": 5,
        "grace_days": 3,
        "orphan_after_days": 21,
        "pace_alarm_percent": 0,
    }

    page = client.post(SETTINGS, data).content.decode()

    assert "<h1>Réglages du décrochage</h1>" in page
    assert "Rien n’a été enregistré" in page
    assert (
        "Le seuil d’un·e leader (50 jours) ne peut pas dépasser celui d’un nouveau contact" in page
    )
    assert "Au moins 1 pour cent." in page
    assert "Avertir le ou la responsable, jours avant" in page


def test_a_past_meeting_tells_its_turnout_in_french(
    cora: User, olivia: User, unit_1204: Unit
) -> None:
    meeting = meeting_with_guests(unit_1204, days_ago=1, answers=(Answer.YES, Answer.YES))

    page = in_french(cora).get(reverse("meetings:detail", args=[meeting.pk])).content.decode()

    # The clock's Wednesday June 11, 2031 at noon, a day before: Tuesday June 10.
    assert re.search(r"mardi 10 [A-Za-z]+\.?, 12 h 00", page)
    assert "2 invité·e·s" in page and "2 ont dit oui" in page and "0 venu·e" in page
    assert "2 oui absent·e·s" in page
    assert "Clore les présences et faire le suivi des absent·e·s" in page


def test_attendance_is_taken_in_french(olivia: User, unit_1204: Unit) -> None:
    meeting = meeting_with_guests(unit_1204, days_ago=0, answers=(Answer.YES,))
    guest = Ask.objects.get(meeting=meeting).contact
    client = in_french(olivia)
    url = reverse("meetings:attendance", args=[meeting.pk])

    page = client.get(url).content.decode()
    assert "<h1>Qui est venu</h1>" in page and "ont dit oui" in page
    assert "Quelqu’un de nouveau" in page

    response = client.post(
        reverse("meetings:attend", args=[meeting.pk]),
        {"key": new_key(), "contact": guest.pk},
        follow=True,
    )
    assert "Invitée 0 est venu·e." in response.content.decode()


def test_ada_erases_a_person_and_reads_the_audit_in_french(ada: User, maria: Contact) -> None:
    client = in_french(ada)

    form = client.get(reverse("audit:erase", args=[maria.pk])).content.decode()
    assert f"Effacer Maria Lopez{NBSP}?" in form
    assert "Je comprends" in form

    response = client.post(
        reverse("audit:erase", args=[maria.pk]), {"confirm": "erase"}, follow=True
    )

    page = response.content.decode()
    assert f"Contact nº{NBSP}{maria.pk} effacé." in page
    assert "<h2>Effacements</h2>" in page
    assert f"contact nº{NBSP}{maria.pk} effacé par ada" in page
    assert "Erasures" not in page


def test_an_erasure_writes_its_markers_in_the_organizations_language(
    ada: User, org: Organization, unit_1204: Unit, maria: Contact
) -> None:
    """Everyone reads the same rows: the markers follow the organization, not the admin
    who erased (who reads English here)."""
    org.languages = ["fr", "en"]
    org.save()
    neighbour = make_contact(unit_1204, name="Rosa", level=Level.NEW)
    Contact.objects.filter(pk=neighbour.pk).update(notes="Voisine de Maria Lopez")

    erase_contact(actor=Membership.objects.get(user=ada), contact=maria)

    assert Contact.objects.get(pk=maria.pk).name == "Contact effacé"
    assert Contact.objects.get(pk=neighbour.pk).notes == "Voisine de [effacé]"


def test_exports_made_in_english_read_in_french_on_the_audit_and_export_pages(
    cora: User, ada: User, maria: Contact
) -> None:
    """The log stores what was exported in no one's language; each reader reads it in
    theirs, names of buildings and owners as they are."""
    mark_lapsed(maria, escalated=True)
    english = Client()
    english.force_login(cora)
    building = maria.unit.building  # type: ignore[union-attr]
    english.get(
        reverse("committee:export"),
        {"building": building.pk, "level": Level.NEW, "state": "escalated"},
    )
    english.post(reverse("setup:export"), {"building": ""})

    audit = in_french(ada).get(reverse("audit:log")).content.decode()
    exports = in_french(ada).get(reverse("setup:export")).content.decode()

    committee_line = (
        f"contacts décrochés · 1 ligne · immeuble{NBSP}: Riverside Towers · "
        f"niveau{NBSP}: Nouveau·elle · état{NBSP}: Signalé·e"
    )
    assert committee_line in audit
    assert "cora · contacts · 1 ligne · tous les immeubles · personnes actives seulement" in audit
    assert "tous les immeubles · personnes actives seulement" in exports
    assert "lapsed contacts" not in audit and "active only" not in exports
