"""No personal data in logs: contacts are tenants who can be hurt by a leak.

Code logs ids, never names, phones, emails or notes. This filter is the safety net for
what slips through (an exception message quoting a form value, a library logging an
address): email addresses and phone-like numbers are replaced before any handler
writes the record.
"""

from __future__ import annotations

import logging
import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE_LIKE = re.compile(r"(?<![\w/])\+?\d[\d ().-]{6,}\d(?![\w/])")
# Fewer digits than a phone number has: a status code and a size, a count, a year.
PHONE_DIGITS = 9


# A timestamp (2026-11-28 15:59:53) has a phone's digits but is not one.
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d(?:[ T]\d\d)?$")


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    if TIMESTAMP.match(text):
        return text
    return "[phone]" if sum(c.isdigit() for c in text) >= PHONE_DIGITS else text


def redact(text: str) -> str:
    return PHONE_LIKE.sub(_phone, EMAIL.sub("[email]", text))


class RedactPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # The traceback's last line repeats the exception's message.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class ForbiddenInOneLine(logging.Filter):
    """A 403 is an answer, not a fault: Django's one line ("Forbidden (Permission denied):
    /path") is kept, the traceback it attaches is not."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
