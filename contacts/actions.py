"""Operations that span several models. Views and tasks call these; nothing else writes
visits."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from buildings.models import Unit
from contacts.models import Channel, Contact, FollowUp, Outcome, Status, Visit
from organizing.models import Membership

# Phones' clocks drift; a knock a few minutes "in the future" is still a real knock.
CLOCK_SKEW = dt.timedelta(minutes=10)


@transaction.atomic
def record_visit(
    *,
    member: Membership,
    outcome: Outcome,
    idempotency_key: str,
    contact: Contact | None = None,
    unit: Unit | None = None,
    channel: Channel = Channel.DOOR,
    happened_at: dt.datetime | None = None,
    note: str = "",
) -> tuple[Visit, bool]:
    """Record one contact attempt and keep the contact's and unit's clocks right.

    Returns the visit and whether it was created: a key seen before returns the visit
    already recorded with it, and changes nothing.

    1. Refuse what can't be true: no contact and no unit, objects of another
       organization, a time in the future.
    2. Insert the visit; the unique (organization, key) constraint settles a race between
       two submissions of the same knock.
    3. Move the unit's and contact's clocks forward only: a visit that arrives late never
       moves "last conversation" backwards. Attempts since the last conversation are
       recounted, so a late "not home" from before it is not counted.
    4. A conversation completes the open follow-ups that were due by then; "moved out"
       ends the tie to the unit and "do not contact" is honoured at once.
    """
    organization_id = member.organization_id
    happened_at = happened_at or timezone.now()
    if timezone.is_naive(happened_at):
        raise ValueError("happened_at must be an aware datetime")

    errors: dict[str, str] = {}
    if contact is None and unit is None:
        errors["contact"] = "A visit needs a contact or a unit."
    if contact is not None and contact.organization_id != organization_id:
        errors["contact"] = "That contact is not in your organization."
    if unit is not None and unit.building.organization_id != organization_id:
        errors["unit"] = "That unit is not in your organization."
    if happened_at > timezone.now() + CLOCK_SKEW:
        errors["happened_at"] = "A visit can't be recorded in the future."
    if errors:
        raise ValidationError(errors)
    unit_id = unit.pk if unit is not None else contact.unit_id if contact is not None else None

    visit = Visit(
        organization_id=organization_id,
        contact=contact,
        unit_id=unit_id,
        organizer_id=member.user_id,
        channel=channel,
        outcome=outcome,
        happened_at=happened_at,
        note=note.strip(),
        idempotency_key=idempotency_key,
    )
    # Field validation only: the database enforces the constraints in the INSERT below.
    visit.clean_fields(exclude=["organization", "contact", "unit", "organizer"])
    existing = Visit.objects.filter(
        organization_id=organization_id, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            visit.save()
    except IntegrityError:
        # Another request with the same key committed between our look-up and insert.
        return Visit.objects.get(
            organization_id=organization_id, idempotency_key=idempotency_key
        ), False

    talked = outcome == Outcome.CONVERSATION
    if unit_id is not None:
        _advance(Unit.objects.filter(pk=unit_id), "last_attempt_at", happened_at)
        if talked:
            _advance(Unit.objects.filter(pk=unit_id), "last_conversation_at", happened_at)
    if contact is not None:
        _update_contact(contact, visit)
    return visit, True


def _advance(queryset: object, field: str, moment: dt.datetime) -> None:
    """Set a timestamp only where it is empty or older, in one UPDATE, so that two
    concurrent visits can't move it backwards."""
    queryset.filter(  # type: ignore[attr-defined]
        Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": moment})
    ).update(**{field: moment})


def _update_contact(contact: Contact, visit: Visit) -> None:
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    talked = visit.outcome == Outcome.CONVERSATION
    if locked.last_attempt_at is None or visit.happened_at > locked.last_attempt_at:
        locked.last_attempt_at = visit.happened_at
    superseded = (
        locked.last_conversation_at is not None and visit.happened_at < locked.last_conversation_at
    )
    if talked and not superseded:
        locked.last_conversation_at = visit.happened_at
    since = Visit.objects.filter(contact=locked).exclude(outcome=Outcome.CONVERSATION)
    if locked.last_conversation_at is not None:
        since = since.filter(happened_at__gt=locked.last_conversation_at)
    locked.attempts_since_conversation = since.count()

    if visit.outcome == Outcome.DO_NOT_CONTACT:
        # Honoured whenever it was said: a later knock does not undo a refusal of contact.
        locked.status = Status.DO_NOT_CONTACT
    elif (
        visit.outcome == Outcome.MOVED_OUT
        and not superseded
        # A contact who already lives elsewhere keeps that new home.
        and locked.unit_id in (None, visit.unit_id)
    ):
        locked.unit_id = None
        if locked.status == Status.ACTIVE:
            locked.status = Status.MOVED
    locked.save(
        update_fields=[
            "last_attempt_at",
            "last_conversation_at",
            "attempts_since_conversation",
            "status",
            "unit",
            "updated_at",
        ]
    )
    if talked:
        FollowUp.objects.open().filter(
            contact=locked, planned_for__lte=timezone.localdate(visit.happened_at)
        ).update(done_by=visit)
    # The caller's instance reflects what was saved.
    for field in ("last_attempt_at", "last_conversation_at", "attempts_since_conversation"):
        setattr(contact, field, getattr(locked, field))
    contact.status, contact.unit_id = locked.status, locked.unit_id
