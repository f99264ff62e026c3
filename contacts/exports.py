"""What every CSV export of contacts shares: the cells kept from running as formulas, the
writer, and the log of who took the data out.

Cells a spreadsheet would read as a formula (=HYPERLINK(...), +, -, @, a tab or a carriage
return at the start) get a leading apostrophe, as OWASP recommends for CSV injection: the
spreadsheet then shows the text and runs nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from contacts.models import ExportLog
from organizing.models import Membership

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """The cell as text, with an apostrophe before what a spreadsheet would run."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """csv.writer writes into this and gets back the line, so lines can be streamed."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Each row as a line of CSV, every cell made spreadsheet-safe; read as it is written."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([spreadsheet_safe(value) for value in row])


def log_export(*, actor: Membership, what: str, filters: str, rows: int) -> ExportLog:
    return ExportLog.objects.create(
        organization_id=actor.organization_id,
        user_id=actor.user_id,
        what=what,
        filters=filters[:500],
        rows=rows,
    )
