"""Every page of each role, in French: no English interface word left.

Each member's page is asked in French for every URL the permission matrix lists as open to
them. The visible text (and what a screen reader says: labels, titles, placeholders) is read
with the data taken out (names, addresses, notes: whatever the database holds), and any word
left that only English uses fails the test with the page and the words.

What counts as an English word: a word of the English catalogue (the msgids) that no French
translation uses, and common English words besides. "Contact" or "message" are French too;
"the", "knock" and "building" are not.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel import Locale
from babel.dates import get_timezone_location
from babel.messages.pofile import read_po
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.test import Client
from django.urls import NoReverseMatch, reverse

from organizing.models import Membership
from tests.organizing.test_permission_matrix import MATRIX, OK, ids  # noqa: F401 (fixture)

WORD = re.compile(r"[A-Za-zÀ-ÿ’'][A-Za-zÀ-ÿ’'-]*")
# Common English words, whether or not the catalogue uses them today.
# Not listed: words French writes too (on, date, notes, page, file, due, signal, me, sent).
COMMON = set(
    """the and of to with for your you this that these those is are was were has have had be
    been not no yes all any each every from by at or if then than when where who what which
    why how there here their they them our we us it its my he she his her him new edit
    delete remove save cancel back next previous add show hide open closed close undo done
    search name phone email language floor door doors week weeks day days month months
    year ago soon overdue never nothing more less today yesterday tomorrow building
    buildings unit units resident residents knock knocks knocked talked home owner owners
    meeting meetings invited came settings export import members member level levels lapsed
    lapse follow followup follow-up follow-ups asks ask asked answer maybe leader leaders
    organizer organizers committee dashboard turnout log out login password sign setup
    none some only also just about after before since until up down off left right
    first last list lists row rows send waiting offline
    online keep kept people person contact's choose pick time""".split()  # noqa: SIM905
)
# The brand, and words both languages write alike that a catalogue might not show.
ALLOWED = {"doorstep", "ok", "email", "e-mail", "leader", "leaders", "admin", "csv", "sms"}
PERSONAS = ["olivia", "cora", "ada"]
SAID_ALOUD = ("aria-label", "title", "placeholder", "alt")


def catalogue_words() -> tuple[set[str], set[str]]:
    path = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale="fr")
    english: set[str] = set()
    french: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        for text in texts(message.id):
            english |= {w.lower() for w in WORD.findall(strip_markup(text))}
        for text in texts(message.string):
            french |= {w.lower() for w in WORD.findall(strip_markup(text))}
    return english, french


def texts(value: object) -> list[str]:
    """A message's text, or each of its plural forms."""
    forms = value if isinstance(value, (tuple, list)) else [value]
    return [form for form in forms if isinstance(form, str)]


def strip_markup(text: str) -> str:
    """A msgid's placeholders and tags are not words."""
    return re.sub(r"%\([^)]*\)[sd]|%[sd]|\{[^}]*\}|<[^>]*>", " ", text)


class Reader(HTMLParser):
    """The text a member reads or hears on a page: not scripts, styles or another language."""

    # <code> is machine text, not words: a two-factor key grouped by four can end in "by".
    SKIPPED = {"script", "style", "template", "code"}

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []

    def skipping(self) -> bool:
        return any(skip for _tag, skip in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        other_language = bool(found.get("lang")) and found.get("lang") != self.language
        void = tag in {"input", "img", "meta", "link", "br", "hr", "area", "source"}
        if not void:
            self.stack.append((tag, tag in self.SKIPPED or other_language))
        if self.skipping() or other_language:
            return
        for name in SAID_ALOUD:
            if found.get(name):
                self.parts.append(found[name] or "")
        if tag == "input" and found.get("type") in ("submit", "button") and found.get("value"):
            self.parts.append(found["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.skipping():
            self.parts.append(data)


def names_in_french() -> set[str]:
    """Proper names from CLDR, in French: the languages a resident speaks, the countries and
    cities of the time zones. Data: "franconien du Main" holds no English word."""
    locale = Locale.parse("fr")
    names = set(locale.languages.values()) | set(locale.territories.values())
    for zone in zoneinfo.available_timezones() - {"localtime", "Factory"}:
        names.add(get_timezone_location(zone, locale, return_city=True))
    return names


def data_strings() -> list[str]:
    """Every text value the database holds (names, addresses, notes, titles, usernames), and
    the proper names of CLDR's lists."""
    values: set[str] = names_in_french()
    for model in apps.get_models():
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, (models.CharField, models.TextField))
        ]
        if not fields:
            continue
        for row in model._base_manager.values_list(*fields):
            values |= {value for value in row if isinstance(value, str) and value.strip()}
    return sorted(values, key=len, reverse=True)


@functools.cache
def data_pattern(data: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(value) for value in data) or "(?!)"
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def english_left(html: str, english: set[str], data: list[str], language: str = "fr") -> set[str]:
    reader = Reader(language)
    reader.feed(html)
    text = "\n".join(reader.parts)
    # Whole values only: a username like "ad" must not cut a French word into English.
    text = data_pattern(tuple(data)).sub(" ", text)
    words = (w.lower().strip("'’-") for w in WORD.findall(text))
    return {w for w in words if len(w) > 1 and w in english}


def get_urls(name: str, ids: dict[str, int | str]) -> str | None:  # noqa: F811
    candidates: list[dict[str, object]] = [
        {},
        {"building_id": ids["building_id"], "unit_id": ids["unit_id"]},
        {"uidb64": "MQ", "token": "not-a-token"},
        {"language": "fr"},
        {"token": "not-a-token"},
    ]
    candidates += [{key: value} for key, value in ids.items()]
    for kwargs in candidates:
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_of_each_role_speaks_french(
    request: pytest.FixtureRequest,
    persona: str,
    ids: dict[str, int | str],  # noqa: F811
    cora: User,
    ada: User,
) -> None:
    member: User = request.getfixturevalue(persona)
    Membership.objects.filter(user=member).update(language="fr")
    # The member's browser asks for French too, as the login page did: the pages anyone may
    # see (a password reset) follow the browser, a member's follow their profile.
    client = Client(HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9")
    client.force_login(member)
    catalogue_english, french = catalogue_words()
    english = (catalogue_english | COMMON) - french - ALLOWED
    data = data_strings()

    pages = 0
    found: dict[str, set[str]] = {}
    for name, answers in sorted(MATRIX.items()):
        if answers[persona] != OK or name in ("logout", "language"):
            continue
        url = get_urls(name, ids)
        assert url is not None, name
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        pages += 1
        assert response["Content-Language"] == "fr", url
        if words := english_left(response.content.decode(), english, data):
            found[url] = words
    assert pages >= 5
    assert found == {}, "\n".join(f"{url}: {' '.join(sorted(w))}" for url, w in found.items())


def test_an_english_page_is_caught(olivia: User) -> None:
    """The reader can fail: the same page in English is full of English words."""
    catalogue_english, french = catalogue_words()
    english = (catalogue_english | COMMON) - french - ALLOWED
    client = Client()
    client.force_login(olivia)
    response = client.get(reverse("home"))
    assert {"today", "buildings"} <= english_left(response.content.decode(), english, [], "en")
