"""CSV export of contacts, for the committee and admins, each export logged.

Written by contacts.exports, which keeps cells from running as formulas. Every cell is in
words, as the screens say it. A do-not-contact resident's phone and email are left out, so a
phone bank made from the file can't reach them, and an erased person is in no export.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from buildings.models import Building
from contacts.exports import csv_lines, log_export, phone_cell
from contacts.languages import language_name
from contacts.models import Contact, LapseFlag, Level, Status
from organizing.models import Membership

HEADER = [
    "building",
    "unit",
    "floor",
    "name",
    "phone",
    "email",
    "language",
    "level",
    "status",
    "owner",
    "last_conversation",
    "attempts_since_conversation",
    "lapse",
]
LEVEL_NAMES = dict(Level.choices)
STATUS_NAMES = dict(Status.choices)
LAPSE_NAMES = dict(LapseFlag.choices)


def contacts_to_export(
    *, actor: Membership, building: Building | None = None, everyone: bool = False
) -> QuerySet[Contact]:
    contacts = Contact.objects.filter(organization_id=actor.organization_id).exclude(
        status=Status.ERASED
    )
    if building is not None:
        contacts = contacts.filter(unit__building=building)
    if not everyone:
        contacts = contacts.filter(status=Status.ACTIVE)
    return contacts


def export_contacts(
    *, actor: Membership, contacts: QuerySet[Contact], filters: str
) -> Iterator[str]:
    """Log the export (who, when, which filters, how many rows) and return the lines of CSV
    to send, header first. The rows are read in chunks as they are written."""
    log_export(actor=actor, what="contacts", filters=filters, rows=contacts.count())
    return csv_lines(chain([HEADER], _rows(contacts)))


def _rows(contacts: QuerySet[Contact]) -> Iterator[list[object]]:
    values = contacts.order_by(
        "unit__building__name", "unit__floor", "unit__label", "name", "pk"
    ).values_list(
        "unit__building__name",
        "unit__label",
        "unit__floor",
        "name",
        "phone",
        "email",
        "language",
        "level",
        "status",
        "owner__username",
        "owner__first_name",
        "owner__last_name",
        "last_conversation_at",
        "attempts_since_conversation",
        "lapse_flag",
    )
    for row in values.iterator(chunk_size=2_000):
        yield _cells(row)


def _cells(row: tuple[Any, ...]) -> list[object]:
    (building, unit, floor, name, phone, email, language, level, status) = row[:9]
    (owner, first_name, last_name, last_conversation, attempts, lapse) = row[9:]
    if status == Status.DO_NOT_CONTACT:
        phone = email = ""
    when = timezone.localtime(last_conversation) if last_conversation else None
    return [
        building,
        unit,
        floor,
        name,
        phone_cell(phone) if phone else "",
        email,
        language_name(language) if language else "",
        LEVEL_NAMES.get(level, level),
        STATUS_NAMES.get(status, status),
        # As organizing.models.display_name says it, without loading the user.
        f"{first_name} {last_name}".strip() or owner or "",
        when.strftime("%Y-%m-%d %H:%M") if when else "",
        attempts,
        LAPSE_NAMES.get(lapse, lapse),
    ]
