"""Small helpers that make the objects tests talk about."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.contrib.auth.models import User
from django.db.models import F, Q
from django.utils import timezone

from buildings.models import Building, Turf, Unit
from contacts.models import Contact, LapseFlag, LapseReason, Outcome, Visit
from organizing.models import Membership, Organization, Role

_serial = itertools.count(1)


def make_member(organization: Organization, username: str, role: Role = Role.ORGANIZER) -> User:
    user = User.objects.create_user(username, f"{username}@example.org", "correct horse 42")
    Membership.objects.create(user=user, organization=organization, role=role)
    return user


def make_building(
    organization: Organization, *, organizers: tuple[User, ...] = (), **fields: Any
) -> Building:
    fields.setdefault("name", f"Building {next(_serial)}")
    fields.setdefault("street_address", "1 Main Street")
    fields.setdefault("floors", 12)
    building = Building.objects.create(organization=organization, **fields)
    for organizer in organizers:
        Turf.objects.create(building=building, organizer=organizer)
    return building


def make_unit(building: Building, label: str = "1204", floor: int | None = None) -> Unit:
    floor = floor if floor is not None else int(label[:-2] or 0)
    return Unit.objects.create(building=building, label=label, floor=floor)


def make_contact(unit: Unit, *, owner: User | None = None, **fields: Any) -> Contact:
    fields.setdefault("name", "Maria Lopez")
    return Contact.objects.create(
        organization=unit.building.organization, unit=unit, owner=owner, **fields
    )


def mark_lapsed(
    contact: Contact,
    *,
    since: dt.datetime | None = None,
    reason: LapseReason = LapseReason.NO_CONVERSATION,
    escalated: bool = False,
) -> None:
    """Give a contact an open lapse, as the hourly job would (contacts.lapse.job)."""
    since = since or timezone.now()
    Contact.objects.filter(pk=contact.pk).update(
        lapse_flag=LapseFlag.ESCALATED if escalated else LapseFlag.LAPSED,
        lapse_started_at=since,
        lapse_reason=reason,
        lapse_level=F("level"),
        lapse_escalated_at=timezone.now() if escalated else None,
    )


def new_key() -> str:
    return f"test-key-{next(_serial):08d}"


def make_conversation(contact: Contact, organizer: User, happened_at: dt.datetime) -> Visit:
    """A conversation as stored, written straight in: the contact's clocks are not moved
    (for what is counted from the visits, as the weekly counts and the pace are)."""
    return Visit.objects.create(
        organization=contact.organization,
        contact=contact,
        unit=contact.unit,
        organizer=organizer,
        outcome=Outcome.CONVERSATION,
        idempotency_key=new_key(),
        happened_at=happened_at,
    )


def misplaced_contacts() -> list[Contact]:
    """Contacts whose building (Contact.building) is not their unit's, or who have a
    building and no unit: there should be none, whatever wrote them."""
    return list(
        Contact.objects.filter(
            Q(unit__isnull=True, building__isnull=False)
            | Q(unit__isnull=False, building__isnull=True)
            | (Q(unit__isnull=False) & ~Q(building_id=F("unit__building_id")))
        )
    )
