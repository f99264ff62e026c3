"""What every CSV export of contacts shares: the cells kept from running as formulas, the
writer, and the log of who took the data out.

Cells a spreadsheet would read as a formula (=HYPERLINK(...), +, -, @, a tab or a carriage
return at the start) get a leading apostrophe, as OWASP recommends for CSV injection: the
spreadsheet then shows the text and runs nothing. A phone number is left as it is: its
digits, spaces, brackets, dots and dashes can call no function, and "+1 514 555 0100" is
how an international number is written.

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


def spreadsheet_safe(value: object) -> str:
    """The cell as text, with an apostrophe before what a spreadsheet would run."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not PHONE.fullmatch(text):
        return "'" + text
    return text


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
