"""Erasure of a person on request: what they said and who they are leave the database; the
knocks stay as anonymous counts so the building's figures stay right."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from buildings.models import Building
from contacts.models import (
    Ask,
    Contact,
    Erasure,
    FollowUp,
    Level,
    LevelChange,
    Meeting,
    Status,
    Visit,
)
from contacts.text import one_line
from organizing.i18n import for_organization
from organizing.models import Membership, Organization, Role

# Written into the data in place of what was erased, in the organization's first language:
# every member reads the same rows (see `markers`).
ERASED_NAME = gettext_noop("Erased contact")
ERASED_TEXT = gettext_noop("(erased)")
REDACTED = gettext_noop("[erased]")
ERASED_REASON = gettext_noop("erased on request")
# Shorter names ("Al", "Jo") would redact unrelated words in other people's notes.
SHORTEST_MENTION = 4
# Fewer digits than a phone number has would match a unit, a date or an amount.
PHONE_DIGITS = 7


@dataclass(frozen=True)
class ErasureScope:
    """What an erasure will touch, told to the admin before they confirm."""

    visits: int
    asks: int
    follow_ups: int
    history_rows: int


def _history(contact_id: int) -> list[models.QuerySet]:
    """Every trail row that holds the person or what was said with them, including the
    rows of visits undone and asks or follow-ups since deleted."""
    return [
        Contact.history.filter(id=contact_id),
        Visit.history.filter(contact_id=contact_id),
        Ask.history.filter(contact_id=contact_id),
        FollowUp.history.filter(contact_id=contact_id),
    ]


def erasure_scope(contact: Contact) -> ErasureScope:
    return ErasureScope(
        visits=contact.visits.count(),
        asks=contact.asks.count(),
        follow_ups=contact.follow_ups.count(),
        history_rows=sum(rows.count() for rows in _history(contact.pk)),
    )


@dataclass(frozen=True)
class Markers:
    name: str
    text: str
    redacted: str
    reason: str


def markers(organization: Organization) -> Markers:
    """The erasure's markers in the organization's first language, whoever erases."""
    with for_organization(organization):
        return Markers(
            name=_(ERASED_NAME), text=_(ERASED_TEXT), redacted=_(REDACTED), reason=_(ERASED_REASON)
        )


@transaction.atomic
def erase_contact(*, actor: Membership, contact: Contact) -> Erasure:
    """Erase a person on their request, all or nothing. Admins only.

    1. Lock the contact; refuse another organization's contact or one already erased.
    2. Redact the person's name, phone (however it is written) and email wherever the
       organization's other free text mentions them, buildings' notes and meetings'
       titles, places and purposes included, and in those texts' trail rows, before the
       name is gone.
    3. Blank the notes of their visits and the text of their asks and follow-ups; the
       visits keep unit, time, channel, outcome and organizer, so counts stay right.
    4. Delete their level history and every trail row about them, their visits, asks and
       follow-ups; redact them from Django admin's log.
    5. Blank the contact: no name, phone, email, language, notes, owner or unit; status
       "erased", which no lapse list, digest, count or export includes; any open lapse
       ends now, kept as an episode.
    6. Write one trail row (the blank contact, "erased", by whom) and the Erasure record:
       contact id, organization, who, when, and counts, nothing about the person.
    """
    if actor.role != Role.ADMIN:
        raise PermissionDenied(_("Only an admin can erase a person."))
    locked = (
        Contact.objects.select_for_update()
        .filter(pk=contact.pk, organization_id=actor.organization_id)
        .first()
    )
    if locked is None:
        raise ValidationError(_("That contact is not in your organization."))
    if locked.status == Status.ERASED:
        raise ValidationError(_("This person has already been erased."))
    organization_id = actor.organization_id
    marked = markers(actor.organization)

    mentions = _redact_mentions(locked, organization_id, marked.redacted)

    visits = Visit.objects.filter(contact=locked).update(note="", needs_look="")
    asks = Ask.objects.filter(contact=locked).update(question=marked.text)
    follow_ups = FollowUp.objects.filter(contact=locked).update(purpose=marked.text)
    FollowUp.objects.filter(contact=locked).exclude(cancel_reason="").update(
        cancel_reason=marked.text
    )

    LevelChange.objects.filter(contact=locked).delete()
    history_rows = 0
    for rows in _history(locked.pk):
        history_rows += rows.delete()[0]
    _redact_admin_log(locked, marked.text)

    now = timezone.now()
    locked.end_lapse(at=now)
    locked.name = marked.name
    locked.phone = locked.email = locked.language = ""
    locked.notes = locked.consent_note = locked.snooze_reason = ""
    locked.snoozed_until = None
    locked.submission_key = ""
    locked.owner = None
    locked.unit = None
    locked.level = Level.NEW
    locked.status = Status.ERASED
    locked.orphaned = False
    locked._history_user = actor.user  # type: ignore[attr-defined]
    locked._change_reason = marked.reason  # type: ignore[attr-defined]
    locked.save()

    return Erasure.objects.create(
        organization_id=organization_id,
        contact_id=locked.pk,
        erased_by=actor.user,
        erased_at=now,
        visits=visits,
        asks=asks,
        follow_ups=follow_ups,
        history_rows=history_rows,
        mentions=mentions,
    )


def _redact_mentions(contact: Contact, organization_id: int, redacted: str) -> int:
    """Replace the person's name, phone and email in the organization's other free text
    (other contacts, buildings, visits, asks, follow-ups, meetings) and in those texts'
    trail rows.
    Returns how many live rows named them."""
    mentions = _mentions(contact)
    if mentions is None:
        return 0
    pattern, anchors = mentions
    others = Contact.objects.filter(organization_id=organization_id).exclude(pk=contact.pk)
    # Not other contacts' names: another resident may have the same name.
    contact_text = ["notes", "consent_note", "snooze_reason"]
    in_org = Q(contact__organization_id=organization_id)
    theirs = Q(contact=contact)
    live = [
        (others, contact_text),
        (
            Building.objects.filter(organization_id=organization_id),
            ["notes", "access_notes", "landlord"],
        ),
        (
            Visit.objects.filter(organization_id=organization_id).exclude(theirs),
            ["note", "needs_look"],
        ),
        (Ask.objects.filter(in_org).exclude(theirs), ["question"]),
        (FollowUp.objects.filter(in_org).exclude(theirs), ["purpose", "cancel_reason"]),
        # Meetings keep no trail; invitations are asks and attendances visits, above.
        (Meeting.objects.filter(organization_id=organization_id), ["title", "place", "purpose"]),
    ]
    org_contacts = Contact.objects.filter(organization_id=organization_id).values("pk")
    trail = [
        (Contact.history.filter(organization_id=organization_id), contact_text),
        (Visit.history.filter(organization_id=organization_id), ["note", "needs_look"]),
        (Ask.history.filter(contact_id__in=org_contacts), ["question"]),
        (
            FollowUp.history.filter(contact_id__in=org_contacts),
            ["purpose", "cancel_reason"],
        ),
    ]
    count = sum(_redact(rows, fields, anchors, pattern, redacted) for rows, fields in live)
    for rows, fields in trail:
        _redact(rows, fields, anchors, pattern, redacted)
    return count


def _mentions(contact: Contact) -> tuple[re.Pattern[str], list[str]] | None:
    """A pattern that finds the person's name, email and phone as people write them, and
    for each a piece every mention contains (to find the rows to read), or None.

    The name with any spacing and in any case. The phone by its digits, with or without a
    country code, brackets, spaces, dots or dashes between them: 555-019-8844,
    5550198844, (555) 019-8844, +1 555 019 8844 and 555.019.8844 are one number."""
    patterns, anchors = [], []
    name = one_line(contact.name)
    if len(name) >= SHORTEST_MENTION:
        words = name.split()
        patterns.append(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")
        anchors.append(max(words, key=len))
    email = contact.email.strip()
    if email:
        patterns.append(re.escape(email))
        anchors.append(email)
    digits = re.sub(r"\D", "", contact.phone)
    if len(digits) >= PHONE_DIGITS:
        # The last ten digits are the number within its country (all of North America's).
        national = digits[-10:]
        country = r"(?:\+?\d{1,3}[\s.-]*)?\(?"
        patterns.append(r"(?<!\d)" + country + r"[\s().-]*".join(national) + r"(?!\d)")
        # Every way of writing it above keeps the last four digits together.
        anchors.append(national[-4:])
    if not patterns:
        return None
    return re.compile("|".join(patterns), re.IGNORECASE), anchors


def _redact(
    rows: models.QuerySet,
    fields: list[str],
    anchors: list[str],
    pattern: re.Pattern[str],
    redacted: str,
) -> int:
    """Rewrite the rows that mention the person with an UPDATE each: no trail row is written
    for the redaction itself, since the trail's own copies are redacted the same way."""
    maybe = Q()
    for field in fields:
        for anchor in anchors:
            maybe |= Q(**{f"{field}__icontains": anchor})
    changed = 0
    for row in rows.filter(maybe).only("pk", *fields):
        values = {field: pattern.sub(redacted, getattr(row, field)) for field in fields}
        if any(values[field] != getattr(row, field) for field in fields):
            type(row).objects.filter(pk=row.pk).update(**values)
            changed += 1
    return changed


def _redact_admin_log(contact: Contact, erased_text: str) -> None:
    """Django admin's log keeps each object's name as it was; it must not outlive it."""
    objects = [
        (Contact, [contact.pk]),
        (Ask, list(contact.asks.values_list("pk", flat=True))),
        (FollowUp, list(contact.follow_ups.values_list("pk", flat=True))),
    ]
    for model, pks in objects:
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=[str(pk) for pk in pks],
        ).update(object_repr=erased_text, change_message="")


@receiver(post_delete, sender=Organization)
def forget_organization(sender: object, instance: Organization, **kwargs: object) -> None:
    """Deleting an organization deletes its rows by cascade (each leaving a "deleted" copy in
    the trail), but the trail's copies have no foreign keys to cascade through: they all go
    here, once the cascade is done, so no tenant outlives the organization."""
    contacts = Contact.history.filter(organization_id=instance.pk).values("id")
    Ask.history.filter(contact_id__in=contacts).delete()
    FollowUp.history.filter(contact_id__in=contacts).delete()
    Visit.history.filter(organization_id=instance.pk).delete()
    Contact.history.filter(organization_id=instance.pk).delete()
    Membership.history.filter(organization_id=instance.pk).delete()
