"""The languages residents speak: ISO 639 codes, named as CLDR names them (through Babel).

Django's LANGUAGES are the languages of its own interface: no Tagalog, Somali, Amharic or
Cantonese, and Chinese only as two scripts. Tenants speak any language, so a contact's
language is any ISO 639 code CLDR names, and a person may write it as its code (`zh`,
`yue`), its name in English or in any language of the interface ("Chinese", "chinois"), or
its own name ("中文"). A language is shown by its name in the reader's language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import cache

from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db.models import Count, Model, QuerySet
from django.utils.functional import lazy
from django.utils.translation import get_language

# A language alone: CLDR also names regions and scripts of a language (en_GB, zh_Hant).
ISO_639 = re.compile(r"[a-z]{2,3}")
# How many of an organization's languages are suggested first, and how long that list is
# kept before it is counted again (a count over all the organization's contacts).
MOST_USED = 8
MOST_USED_FOR = 60 * 60

ENGLISH_NAMES: dict[str, str] = {
    code: name for code, name in Locale("en").languages.items() if ISO_639.fullmatch(code)
}


@cache
def names_in(interface: str) -> dict[str, str]:
    """Every language's name in the interface language `interface` (a Django language
    code such as "fr" or "en-us"), English where CLDR has no name in it. Read from CLDR
    once per interface language and process, on first use."""
    local: Mapping[str, str]
    try:
        local = Locale.parse(interface, sep="-").languages
    except (UnknownLocaleError, ValueError):
        local = {}
    return {code: local.get(code) or english for code, english in ENGLISH_NAMES.items()}


def language_name(code: str) -> str:
    """The language's name in the language of the page (or email) being written, or the
    code itself when CLDR has none."""
    return names_in(get_language() or settings.LANGUAGE_CODE).get(code, code)


# The model fields' choices: each name read in the active language when it is shown.
LANGUAGES: list[tuple[str, str]] = [
    (code, lazy(language_name, str)(code))
    for code, _english in sorted(ENGLISH_NAMES.items(), key=lambda item: item[1])
]


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


@cache
def _names() -> dict[str, str]:
    """Every way of writing a language this app accepts, made comparable, to its code:
    its English name, its names in the interface's languages and its own name. Built
    once per process, on first use: reading every language's own CLDR data takes a
    second or two."""
    names: dict[str, str] = {}
    interface = [names_in(code) for code, _name in settings.LANGUAGES]
    for code, english in ENGLISH_NAMES.items():
        try:
            own = Locale.parse(code).languages.get(code)
        except (UnknownLocaleError, ValueError):
            own = None
        for name in (english, *(local.get(code) for local in interface), own):
            if name:
                names.setdefault(_key(name), code)
    # Codes last, so that a code always means its own language.
    names.update({code: code for code in ENGLISH_NAMES})
    return names


def language_code(text: str) -> str | None:
    """The code of the language `text` names (a code, with or without a region or script
    like zh-Hans or pt_BR, or a name in English, in a language of the interface or in the
    language itself), or None."""
    key = _key(text)
    if not key or len(key) > 100:
        return None
    code = _names().get(key)
    if code is None:
        code = _names().get(re.split(r"[-_]", key, maxsplit=1)[0])
    return code


def most_used(organization_id: int, contacts: QuerySet[Model]) -> list[str]:
    """The codes of the languages most of an organization's `contacts` speak, most first.
    Counted once an hour: the order of a list needs no more."""

    def count() -> list[str]:
        rows = (
            contacts.exclude(language="")
            .values("language")
            .annotate(speakers=Count("pk"))
            .order_by("-speakers", "language")[:MOST_USED]
        )
        return [row["language"] for row in rows]

    codes = shared_cache.get_or_set(f"languages:most-used:{organization_id}", count, MOST_USED_FOR)
    return list(codes or [])
