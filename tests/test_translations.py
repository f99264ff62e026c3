"""The catalogues: every string of the source translated, none fuzzy, no placeholder lost.

A French page with an English sentence in it, or a sentence whose %(name)s went missing in
translation (which Django would show as "%(name)s" or fail on), is a bug these find before a
member does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
# %(name)s, %s, %d and %%, and {name} in python-brace-format strings.
PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")
BRACE = re.compile(r"\{[^{}]*\}")


def catalogue(language: str) -> Catalog:
    with (ROOT / "locale" / language / "LC_MESSAGES" / "django.po").open("rb") as source:
        return read_po(source, locale=language)


def placeholders(text: str, message: Message) -> list[str]:
    found = PERCENT.findall(text) if "python-format" in message.flags else []
    if "python-brace-format" in message.flags:
        found += BRACE.findall(text)
    return sorted(found)


def entries(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_entry_is_translated_and_none_is_a_guess(language: str) -> None:
    catalog = catalogue(language)
    assert not catalog.fuzzy, "the catalogue's header is marked fuzzy"
    untranslated = [message.id for message in entries(catalog) if not all(forms_of(message.string))]
    fuzzy = [message.id for message in entries(catalog) if message.fuzzy]
    assert untranslated == [], f"{len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy, e.g. {fuzzy[:5]}"
    assert list(catalog.obsolete) == []


def forms_of(value: object) -> list[str]:
    """A message's text, or each of its plural forms."""
    forms = value if isinstance(value, (tuple, list)) else [value]
    return [form if isinstance(form, str) else "" for form in forms]


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_every_placeholder(language: str) -> None:
    broken = []
    for message in entries(catalogue(language)):
        originals = forms_of(message.id)
        if len(originals) == 2:
            singular, plural = (placeholders(text, message) for text in originals)
            allowed = set(singular) | set(plural)
            needed = set(plural) - {"%(count)s", "%(counter)s", "%d", "{count}"}
            for form in forms_of(message.string):
                found = set(placeholders(form, message))
                # A singular may spell its number out ("un contact"), never invent one.
                if not found <= allowed or not needed <= found:
                    broken.append((originals[0], form))
        else:
            (translation,) = forms_of(message.string)[:1] or [""]
            if placeholders(originals[0], message) != placeholders(translation, message):
                broken.append((originals[0], translation))
    assert broken == []


def test_a_broken_placeholder_is_caught() -> None:
    """The check above can fail: a translation that drops a name is refused."""
    message = Message("Hello %(name)s", "Bonjour", flags={"python-format"})
    assert placeholders("Hello %(name)s", message) != placeholders("Bonjour", message)


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext")
@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_of_the_source_is_in_the_catalogue(language: str, tmp_path: Path) -> None:
    """What `make messages` would extract today is what the committed catalogue holds: a
    string marked for translation and not yet in it fails here, with its text."""
    for name in ("manage.py", "organizing", "contacts", "buildings", "templates"):
        source = ROOT / name
        target = tmp_path / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    (tmp_path / "locale" / language / "LC_MESSAGES").mkdir(parents=True)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", language, "--no-location"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "organizing.settings"}
        | {"PYTHONPATH": str(tmp_path)},
    )
    fresh = tmp_path / "locale" / language / "LC_MESSAGES" / "django.po"
    with fresh.open("rb") as extracted_po:
        extracted = {message.id for message in entries(read_po(extracted_po, locale=language))}
    committed = {message.id for message in entries(catalogue(language))}
    assert sorted(map(str, extracted - committed)) == []
    assert sorted(map(str, committed - extracted)) == []
