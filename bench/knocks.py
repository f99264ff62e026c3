"""Recording a knock against the floor: a bare INSERT of the same row."""

from __future__ import annotations

import itertools
import random

from django.contrib.auth.models import User

from buildings.models import Building, Turf, Unit
from contacts.actions import record_visit
from contacts.models import Contact, Outcome, Visit, set_buildings
from organizing.models import Membership, Organization, Role

REPEAT = 400


def run() -> list[tuple[str, list[float]]]:
    from bench.__main__ import timed

    organization = Organization.objects.create(name="Bench Union", slug="bench-knocks")
    user = User.objects.create_user("bench-organizer")
    actor = Membership.objects.create(user=user, organization=organization, role=Role.ORGANIZER)
    building = Building.objects.create(
        organization=organization, name="Bench Towers", street_address="1 Bench St", floors=12
    )
    Turf.objects.create(building=building, organizer=user)
    units = Unit.objects.bulk_create(
        Unit(building=building, floor=floor, label=f"{floor}{n:02d}")
        for floor in range(1, 13)
        for n in range(1, 9)
    )
    residents = [
        Contact(organization=organization, unit=unit, name=f"Resident {unit.label}", owner=user)
        for unit in units
    ]
    set_buildings(residents)
    contacts = Contact.objects.bulk_create(residents)
    rng = random.Random(7)
    keys = (f"bench-{n:08d}" for n in itertools.count())

    def bare_insert() -> None:
        contact = rng.choice(contacts)
        Visit.objects.create(
            organization=organization,
            contact=contact,
            unit_id=contact.unit_id,
            organizer=user,
            outcome=Outcome.NOT_HOME,
            idempotency_key=next(keys),
        )

    def knock() -> None:
        record_visit(
            actor=actor,
            contact=rng.choice(contacts),
            outcome=rng.choice([Outcome.NOT_HOME, Outcome.CONVERSATION]),
            idempotency_key=next(keys),
        )

    def replay() -> None:
        record_visit(
            actor=actor,
            contact=contacts[0],
            outcome=Outcome.NOT_HOME,
            idempotency_key="bench-replayed-key",
        )

    return [
        ("baseline: bare Visit INSERT", timed(bare_insert, REPEAT)),
        ("record_visit (new knock)", timed(knock, REPEAT)),
        ("record_visit (replayed key)", timed(replay, REPEAT)),
    ]
