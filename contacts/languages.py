"""The languages residents speak: ISO 639 codes, named as CLDR names them (through Babel).

Django's LANGUAGES are the languages of its own interface: no Tagalog, Somali, Amharic or
Cantonese, and Chinese only as two scripts. Tenants speak any language, so a contact's
language is any ISO 639 code CLDR names, and a person may write it as its code (`zh`,
`yue`), its English or French name ("Chinese", "chinois"), or its own name ("中文").
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from babel import Locale, UnknownLocaleError
from django.core.cache import cache as shared_cache
from django.db.models import Count, Model, QuerySet

# A language alone: CLDR also names regions and scripts of a language (en_GB, zh_Hant).
ISO_639 = re.compile(r"[a-z]{2,3}")
# How many of an organization's languages are suggested first, and how long that list is
# kept before it is counted again (a count over all the organization's contacts).
MOST_USED = 8
MOST_USED_FOR = 60 * 60

ENGLISH_NAMES: dict[str, str] = {
    code: name for code, name in Locale("en").languages.items() if ISO_639.fullmatch(code)
}
LANGUAGES: list[tuple[str, str]] = sorted(ENGLISH_NAMES.items(), key=lambda item: item[1])


def language_name(code: str) -> str:
    """The language's English name, or the code itself when CLDR has none."""
    return ENGLISH_NAMES.get(code, code)


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


@cache
def _names() -> dict[str, str]:
    """Every way of writing a language this app accepts, made comparable, to its code."""
    names: dict[str, str] = {}
    french = Locale("fr").languages
    for code, english in ENGLISH_NAMES.items():
        try:
            own = Locale.parse(code).languages.get(code)
        except (UnknownLocaleError, ValueError):
            own = None
        for name in (english, french.get(code), own):
            if name:
                names.setdefault(_key(name), code)
    # Codes last, so that a code always means its own language.
    names.update({code: code for code in ENGLISH_NAMES})
    return names


def language_code(text: str) -> str | None:
    """The code of the language `text` names (a code, with or without a region or script
    like zh-Hans or pt_BR, or a name in English, French or the language itself), or None."""
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
