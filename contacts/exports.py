"""What every CSV export of contacts shares: the cells kept from running as formulas, the
writer, and the log of who took the data out.

Cells a spreadsheet would read as a formula (=HYPERLINK(...), +, -, @, a tab or a carriage
return at the start) get a leading apostrophe, as OWASP recommends for CSV injection: the
spreadsheet then shows the text and runs nothing.

A phone number would be defaced by that apostrophe (LibreOffice and a plain-text reader show
it) and, left as it is, "+1 514 555 0100" is a formula to Excel, LibreOffice and Google
Sheets (#NULL!, Err:509, #ERROR!) and "5145550100" a number (leading zeros lost, 5.15E+09).
So the phone column is written as `phone_cell` makes it: every digit and the "+" kept, the
country code in brackets, "(+1) 514 555 0100", as numbers are commonly written; the cell
then starts with no formula character, and its spaces (between groups that are not three
digits long, so no locale takes them for thousands) keep every spreadsheet from reading it
as a number. The three open it as the text it is, and a phone dials it.

The words in the cells (levels, states, languages) are in the exporting member's language.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from django.utils import timezone, translation

from contacts.models import PHONE_PATTERN, ExportLog
from organizing.models import Membership

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PHONE = re.compile(PHONE_PATTERN)
# A North American number: the product's cities, where most of the phones are.
NANP = re.compile(r"1?([2-9][0-9]{2})([0-9]{3})([0-9]{4})")


def spreadsheet_safe(value: object) -> str:
    """The cell as text, with an apostrophe before what a spreadsheet would run."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def phone_cell(phone: str) -> str:
    """A stored phone number as a spreadsheet keeps it: text, every digit in place.

    1. "+CC rest": the country code (the digits before the first separator, or 1 for a
       North American number written without separators) goes in brackets, "(+CC) rest";
       another number written without separators reads "(+) 442071234567".
    2. Digits alone (a spreadsheet's number): a North American number is grouped 3-3-4
       ("1 514 555 0100" with its 1); any other is split by a space in the middle,
       "02071 234567", which keeps its leading zero.
    3. Anything else (brackets, dashes, dots, spaces within) is already text everywhere.
    What does not look like a phone is only made spreadsheet-safe.
    """
    phone = phone.strip()
    if not PHONE.fullmatch(phone):
        return spreadsheet_safe(phone)
    digits = re.sub(r"[^0-9]", "", phone)
    if phone.startswith("+"):
        code = re.match(r"\+([0-9]{1,3})[ ().-]+(.+)", phone)
        if code:
            return f"(+{code.group(1)}) {code.group(2)}"
        if (nanp := NANP.fullmatch(digits)) and len(digits) == 11:
            return "(+1) " + " ".join(nanp.groups())
        # A country code's length can't be told without a numbering plan: none is guessed.
        return f"(+) {digits}"
    if phone.isdigit():
        if (nanp := NANP.fullmatch(digits)) and len(digits) in (10, 11):
            grouped = " ".join(nanp.groups())
            return f"1 {grouped}" if len(digits) == 11 else grouped
        middle = len(digits) // 2
        return f"{digits[:middle]} {digits[middle:]}"
    return phone


class _Echo:
    """csv.writer writes into this and gets back the line, so lines can be streamed."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Each row as a line of CSV, every cell made spreadsheet-safe; read as it is written.

    Written in the language and time zone active now, the exporting member's: a streamed
    response reads the rows after the view has returned, when the request's zone is gone,
    and its words (levels, states, languages) and times are read then."""
    language, zone = translation.get_language(), timezone.get_current_timezone()
    writer = csv.writer(_Echo())
    cells = iter(rows)

    def lines() -> Iterator[str]:
        while True:
            # Not across the yield: the reader's own code runs between two lines.
            with translation.override(language), timezone.override(zone):
                row = next(cells, None)
                if row is None:
                    return
                line: str = writer.writerow([spreadsheet_safe(value) for value in row])
            yield line

    return lines()


def log_export(*, actor: Membership, what: str, filters: str, rows: int) -> ExportLog:
    return ExportLog.objects.create(
        organization_id=actor.organization_id,
        user_id=actor.user_id,
        what=what,
        filters=filters[:500],
        rows=rows,
    )
