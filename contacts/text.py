"""Names as people type them, made one way before they are compared or stored.

The same name can arrive as different code points: "é" as one (most tools) or as "e" and
an accent (some Mac tools), with doubled or odd spaces, or with invisible direction
controls pasted from a message. Unnormalised, it is two residents, and a right-to-left
override can show a name backwards on the page and in a spreadsheet.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

# Unicode's bidirectional formatting characters: embeddings, overrides, isolates, marks.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Other invisible controls (C0 and C1, zero width): a name never holds them.
OTHER_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200b\ufeff]")
PHONE_ONLY = re.compile(r"\+?[\d ().-]+")


def one_line(text: str) -> str:
    """`text` in NFC, without invisible controls, its spaces collapsed to single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = OTHER_CONTROLS.sub(" ", BIDI_CONTROLS.sub("", text))
    return " ".join(text.split())


def name_key(name: str) -> str:
    """What makes two names the same name: normalised, in any case."""
    return one_line(name).casefold()


def not_a_phone(name: str) -> None:
    """A name field holding a phone number: the number belongs in the phone field, where it
    is checked and can be withheld from a do-not-contact's export."""
    if PHONE_ONLY.fullmatch(name) and sum(c.isdigit() for c in name) >= 7:
        raise ValidationError(
            gettext("This looks like a phone number, not a name: put it in the phone field."),
            code="phone_in_name",
        )
