"""Each language's way of writing dates (FORMAT_MODULE_PATH), and the formats of ours that
Django does not name."""

from __future__ import annotations

from django.utils.formats import get_format_modules
from django.utils.translation import pgettext_lazy

# Django's French abbreviates two months otherwise than CLDR (and Babel's names on our pages)
# and the Office québécois de la langue française: « jan. » and « fév. ». Marked here, our
# catalogue's « janv. » and « févr. » replace them wherever a date is written with N.
MONTHS_AS_FRENCH_ABBREVIATES_THEM = [
    pgettext_lazy("abbrev. month", "Jan."),
    pgettext_lazy("abbrev. month", "Feb."),
]


def our_format(name: str) -> str:
    """A format of ours, e.g. SHORT_DAY_FORMAT, as the active language's module writes it
    (Django's get_format knows only its own names)."""
    for module in get_format_modules():
        if value := getattr(module, name, None):
            return str(value)
    raise LookupError(f"no language writes {name}")
