"""The audit trail of a contact, and erasing a contact on request.

The trail merges what django-simple-history kept of the contact, its visits and asks with
the level and owner changes that have their own tables, newest first, each with who made
it. Notes are shown as "note changed", never as text: the trail is for who did what.

Erasure keeps the contact's row and its visits, so that building and organizer figures
stay right, and removes everything that says who the person is: name, phone, email,
language, notes, snooze reason, the notes of visits, the questions of asks, the purposes of
follow-ups, and every historical copy of them. What remains is that contact #N was erased,
by whom and when (an Erasure row), and the trail of it without the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import (
    Ask,
    Contact,
    Erasure,
    FollowUp,
    LapseEpisode,
    LapseFlag,
    Status,
    Visit,
)
from organizing.models import Membership, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ERASED = "(erased)"
# Fields whose values are the person's words or identity: the trail says they changed.
PRIVATE = {"name", "phone", "email", "notes", "consent_note", "note", "question", "snooze_reason"}
LABELS = {"+": "added", "~": "changed", "-": "deleted"}
TRAIL_LENGTH = 100


@dataclass
class Entry:
    at: datetime
    who: User | None
    what: str
    changes: list[str] = field(default_factory=list)


def _changes(record: Any) -> list[str]:
    previous = record.prev_record
    if previous is None:
        return []
    changes = []
    for change in record.diff_against(previous).changes:
        name = record.instance_type._meta.get_field(change.field).verbose_name
        if change.field in PRIVATE:
            changes.append(f"{name} changed")
        else:
            changes.append(
                f"{name}: {_shown(record, change.field, change.old)} → "
                f"{_shown(record, change.field, change.new)}"
            )
    return changes


def _shown(record: Any, name: str, value: object) -> str:
    model_field = record.instance_type._meta.get_field(name)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    return "—" if value in (None, "") else str(value)


def audit_trail(contact: Contact) -> list[Entry]:
    """Who changed what about this contact, newest first (at most TRAIL_LENGTH entries)."""
    entries: list[Entry] = []
    for record in contact.history.select_related("history_user")[:TRAIL_LENGTH]:
        what = f"Contact {LABELS[record.history_type]}"
        if record.history_change_reason:
            what += f" ({record.history_change_reason})"
        entries.append(Entry(record.history_date, record.history_user, what, _changes(record)))
    visits = Visit.history.filter(contact_id=contact.pk).select_related("history_user")
    for record in visits[:TRAIL_LENGTH]:
        what = f"Visit {LABELS[record.history_type]}: {record.get_outcome_display()}"
        what += f", {record.happened_at:%b %-d %H:%M}"
        entries.append(Entry(record.history_date, record.history_user, what, _changes(record)))
    asks = Ask.history.filter(contact_id=contact.pk).select_related("history_user")
    for record in asks[:TRAIL_LENGTH]:
        what = f"Ask {LABELS[record.history_type]}: {record.get_answer_display().lower()}"
        entries.append(Entry(record.history_date, record.history_user, what, _changes(record)))
    for change in contact.level_changes.select_related("changed_by"):
        entries.append(
            Entry(
                change.changed_at,
                change.changed_by,
                f"Level: {change.get_from_level_display()} → {change.get_to_level_display()}",
            )
        )
    for owner in contact.owner_changes.select_related("changed_by", "from_owner", "to_owner"):
        entries.append(
            Entry(
                owner.changed_at,
                owner.changed_by,
                f"Owner: {owner.from_owner or 'nobody'} → {owner.to_owner or 'nobody'}",
            )
        )
    for erasure in Erasure.objects.filter(contact_number=contact.pk).select_related("erased_by"):
        entries.append(Entry(erasure.erased_at, erasure.erased_by, "Personal data erased"))
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:TRAIL_LENGTH]


@transaction.atomic
def erase_contact(*, member: Membership, contact: Contact) -> Erasure:
    """Erase what identifies `contact`, everywhere it is kept. Admins only."""
    if member.role != Role.ADMIN or not member.active:
        raise PermissionDenied("Only admins erase contacts.")
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    if locked.organization_id != member.organization_id:
        raise ValidationError("That contact is not in your organization.")
    if locked.status == Status.ERASED:
        raise ValidationError("This contact has been erased already.")
    now = timezone.now()

    Visit.objects.filter(contact=locked).update(note="", needs_look="")
    Ask.objects.filter(contact=locked).update(question=ERASED)
    FollowUp.objects.filter(contact=locked).update(purpose=ERASED, cancel_reason="")
    LapseEpisode.objects.filter(contact=locked, resolved_at__isnull=True).update(resolved_at=now)
    # Every copy the trail kept of the person's data goes; the erasure itself stays.
    Contact.history.filter(id=locked.pk).delete()
    Visit.history.filter(contact_id=locked.pk).delete()
    Ask.history.filter(contact_id=locked.pk).delete()

    locked.name = f"Erased resident #{locked.pk}"
    locked.phone = locked.email = locked.language = ""
    locked.notes = locked.consent_note = ""
    locked.snoozed_until, locked.snooze_reason = None, ""
    locked.status = Status.ERASED
    locked.lapse_flag = LapseFlag.OK
    locked.orphaned = False
    locked._history_user = member.user  # type: ignore[attr-defined]
    locked._change_reason = "erased on request"  # type: ignore[attr-defined]
    locked.save()
    return Erasure.objects.create(
        organization_id=member.organization_id,
        contact=locked,
        contact_number=locked.pk,
        erased_by=member.user,
        erased_at=now,
    )
