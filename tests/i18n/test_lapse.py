"""The lapse in French: Olivia reads her digest in French while Omar reads his in English,
each email in its recipient's language and their organization's time zone, and the lapse's
words on a page and in the chart in the reader's language."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from buildings.models import Unit
from contacts.committee.charts import Point
from contacts.lapse.digests import (
    send_committee_digests,
    send_orphan_digests,
    send_owner_digests,
)
from contacts.lapse.job import flag_lapsed
from contacts.lapse.rule import Rules, with_clocks
from contacts.models import Ask, Contact, LapseFlag, Level
from organizing.i18n import local_to
from organizing.models import Organization
from tests.lapse.test_digests import html_of, lapsed_contact, sent_to, talk
from tests.makers import make_contact

pytestmark = pytest.mark.usefixtures("clock")  # Wednesday 11 June 2031, noon in Toronto


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """A French page leaves French active in the thread: the tests after these start in
    the default language, as a new process does."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


DAY = dt.timedelta(days=1)
NBSP = "\u00a0"
APOSTROPHE = "\u2019"
# Words of the digests' English that French never uses: one of them in a French digest is
# a sentence left untranslated.
ENGLISH = set(
    re.findall(
        r"[a-z]+",
        """hello due soon lapsed lapse since every days day owner nobody the of and week talk
    them before first only resets clock knocks home counted but keep anyone touch escalated
    escalations rate not snoozed orphaned need needs an at who is no lately
    recorded left more open dashboard fell pace against fewer with members leaders lapses
    confirm coming said yes maybe answer planned you never talked added reassign hand
    organizer grace period up this meetings name where""",
    )
)


def in_french(*users: User) -> None:
    for user in users:
        user.membership.language = "fr"
        user.membership.save(update_fields=["language"])


def in_language(language: str, day: dt.date) -> str:
    with translation.override(language):
        return date_format(day, "MONTH_DAY_FORMAT")


def english_words(message: EmailMessage, *data: str) -> set[str]:
    """The English words left in both bodies once the data (names, places, addresses) is
    taken out."""
    text = f"{message.subject}\n{message.body}\n{html_of(message)}"
    text = re.sub(r"<[^>]+>|https?://\S+", " ", text)
    for value in data:
        text = text.replace(value, " ")
    return set(re.findall(r"[a-z]+", text.lower())) & ENGLISH


@pytest.fixture
def tamara(unit_1204: Unit, olivia: User) -> Contact:
    """A leader talked to five days ago: due soon, her threshold runs out on Friday."""
    contact = make_contact(unit_1204, owner=olivia, name="Tamara Okafor", level=Level.LEADER)
    talk(contact, olivia, timezone.now() - 5 * DAY)
    return contact


def test_olivia_gets_her_digest_in_french_and_omar_his_in_english(
    tamara: Contact, unit_1204: Unit, olivia: User, omar: User
) -> None:
    in_french(olivia)
    lapsed_contact(unit_1204, omar, "Oscar Ruiz", level=Level.LEADER)
    flag_lapsed()

    assert send_owner_digests() == 2

    [french] = sent_to(olivia)
    assert french.subject == f"Doorstep{NBSP}: 1 bientôt dû"
    assert french.body.startswith(f"Bonjour olivia,\n\nBIENTÔT DÛ{NBSP}: PARLEZ-LEUR AVANT LA DATE")
    talked_on = in_language("fr", dt.date(2031, 6, 6))
    assert (
        f"aucune conversation depuis le {talked_on} (leader{NBSP}: au plus 7 jours)" in french.body
    )
    assert "Seule une conversation remet le compteur à zéro" in french.body
    assert '<html lang="fr">' in html_of(french)
    assert english_words(french, "Tamara Okafor", "Riverside Towers", "Eastside Tenants") == set()

    [english] = sent_to(omar)
    assert english.subject == "Doorstep: 1 lapsed"
    assert english.body.startswith("Hello omar,\n\nLAPSED: TALK TO THEM FIRST\n")
    assert "never talked to, added Mar 13 (leader: every 7 days)" in english.body
    assert '<html lang="en">' in html_of(english)


def test_a_french_digest_counts_in_french_and_writes_a_percentage_the_french_way(
    unit_1204: Unit, olivia: User, cora: User, ada: User
) -> None:
    in_french(cora)
    lapsed_contact(unit_1204, olivia, "Maria Lopez", level=Level.ACTIVE)
    flag_lapsed(now=timezone.now() - 9 * DAY)  # Maria lapsed nine days ago
    make_contact(unit_1204, owner=olivia, name="Fiona Fine")
    talk(Contact.objects.get(name="Fiona Fine"), olivia, timezone.now() - DAY)
    flag_lapsed()

    assert send_committee_digests() == 2

    [french] = sent_to(cora)
    assert french.subject == f"Doorstep{NBSP}: la semaine du 9 juin"
    assert (
        f"Taux de décrochage{NBSP}: 50{NBSP}% (1 décroché sur 2 contacts actifs non mis en pause)"
    ) in french.body
    assert "Décroché depuis 9 jours" in french.body
    assert f"<strong>50{NBSP}%</strong>" in html_of(french)
    assert (
        english_words(french, "Maria Lopez", "Riverside Towers", "Eastside Tenants", "olivia")
        == set()
    )
    [english] = sent_to(ada)
    assert english.subject == "Doorstep: the week of 09 June"
    assert "Lapse rate: 50% (1 lapsed of 2 active contacts not snoozed)" in english.body
    assert "Lapsed 9 days" in english.body


def test_each_committee_member_reads_the_same_list_of_contacts_needing_an_owner_in_their_language(
    unit_1204: Unit, cora: User, ada: User
) -> None:
    in_french(cora)
    make_contact(unit_1204, name="Woman in 1204", level=Level.LEADER)
    make_contact(unit_1204, name="Man in 1204", level=Level.LEADER)

    assert send_orphan_digests() == 2

    [french] = sent_to(cora)
    assert french.subject == f"Doorstep{NBSP}: 2 contacts ont besoin d{APOSTROPHE}un·e responsable"
    assert f"Riverside Towers, 1204{NBSP}; responsable{NBSP}: personne" in french.body
    assert (
        english_words(
            french, "Woman in 1204", "Man in 1204", "Riverside Towers", "Eastside Tenants"
        )
        == set()
    )
    [english] = sent_to(ada)
    assert english.subject == "Doorstep: 2 contacts need an owner"
    assert "Riverside Towers, 1204; owner: nobody" in english.body


def test_a_digest_counts_days_in_its_organizations_time_zone_as_its_pages_do(
    org: Organization, unit_1204: Unit, olivia: User
) -> None:
    """Tamara was talked to at 1:30 on Friday the 6th in Toronto: 22:30 on Thursday the 5th
    in Vancouver, so a Vancouver union's seven days run out on Thursday the 12th."""
    org.time_zone = "America/Vancouver"
    org.save(update_fields=["time_zone"])
    tamara = make_contact(unit_1204, owner=olivia, name="Tamara Okafor", level=Level.LEADER)
    talk(tamara, olivia, timezone.make_aware(dt.datetime(2031, 6, 6, 1, 30)))
    flag_lapsed()

    assert send_owner_digests() == 1

    [digest] = mail.outbox
    assert "* Thu: no conversation since Jun 5 (leader: every 7 days)" in digest.body
    client = Client()
    client.force_login(olivia)
    today = client.get(reverse("home")).content.decode()
    assert "Thu: no conversation since Jun 5 (leader: every 7 days)" in today


def test_the_hourly_job_counts_an_organizations_days_in_its_time_zone_as_its_pages_do(
    org: Organization, unit_1204: Unit, olivia: User
) -> None:
    """At 1:00 on Thursday in Toronto it is still 22:00 on Wednesday in Vancouver: for a
    Vancouver union, an ask due on Wednesday has not run out yet."""
    org.time_zone = "America/Vancouver"
    org.save(update_fields=["time_zone"])
    tamara = make_contact(unit_1204, owner=olivia, name="Tamara Okafor", level=Level.LEADER)
    talk(tamara, olivia, timezone.now() - DAY)
    Ask.objects.create(
        contact=tamara, question="Floor captain?", asked_by=olivia, due_on=dt.date(2031, 6, 11)
    )
    late = timezone.make_aware(dt.datetime(2031, 6, 12, 1))

    flag_lapsed(now=late)

    tamara.refresh_from_db()
    assert tamara.lapse_flag == LapseFlag.DUE_SOON
    with local_to(org):  # as member_required dates the pages
        read = Rules.of(org).read(with_clocks(Contact.objects.filter(pk=tamara.pk)).get(), late)
    assert read.flag == LapseFlag.DUE_SOON


def test_a_french_member_reads_a_contacts_lapse_state_in_french(
    tamara: Contact, olivia: User, client: Client
) -> None:
    in_french(olivia)
    client.force_login(olivia)

    page = client.get(reverse("contacts:detail", args=[tamara.pk])).content.decode()

    assert "Bientôt dû, décroche le ven" in page
    assert "Due soon" not in page


def test_the_lapse_rate_chart_writes_weeks_and_shares_in_the_readers_language() -> None:
    with translation.override("en"):
        week = Point(label="2031-06-09", value=0.25)
        assert (week.label, week.percent) == ("Jun 9", "25%")
    with translation.override("fr"):
        week = Point(label="2031-06-09", value=0.25)
        assert week.percent == f"25{NBSP}%"
    assert week.label.startswith("9 ") and week.label == in_language("fr", dt.date(2031, 6, 9))
