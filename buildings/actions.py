"""The writes of buildings: units added in bulk, turf given from either side, a building
created with its doors. Each checks that what it is handed is the acting member's
organization's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from buildings.models import Building, Turf, Unit
from organizing.models import Membership, Organization

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# (floor, label) of each door to add.
Doors = list[tuple[int, str]]


def _lock_organization(actor: Membership) -> None:
    """Imports and the unit generator of one organization run one after the other: each
    reads the labels that exist, then inserts the rest."""
    Organization.objects.select_for_update().only("pk").get(pk=actor.organization_id)


@transaction.atomic
def add_units(*, actor: Membership, building: Building, doors: Doors) -> list[Unit]:
    """Add the doors the building doesn't have yet; the ones it has (whatever the case of
    their label) stay as they are, residents, visits and all. A door above the top floor
    raises the building's floors. Returns the units created."""
    if building.organization_id != actor.organization_id:
        raise ValidationError(_("That building is not in your organization."))
    _lock_organization(actor)
    have = {label.lower() for label in building.units.values_list("label", flat=True)}
    new = [
        Unit(building=building, floor=floor, label=label)
        for floor, label in doors
        if label.lower() not in have
    ]
    top = max((unit.floor for unit in new), default=building.floors)
    if top > building.floors:
        Building.objects.filter(pk=building.pk).update(floors=top)
        building.floors = top
    return Unit.objects.bulk_create(new)


def _check_members(actor: Membership, users: Iterable[User]) -> set[int]:
    wanted = {user.pk for user in users}
    active = set(
        Membership.objects.filter(
            organization_id=actor.organization_id, active=True, user_id__in=wanted
        ).values_list("user_id", flat=True)
    )
    if wanted - active:
        raise ValidationError(_("Only active members of your organization can have turf."))
    return wanted


@transaction.atomic
def set_building_turf(*, actor: Membership, building: Building, organizers: Iterable[User]) -> None:
    """The building's organizers become exactly these."""
    if building.organization_id != actor.organization_id:
        raise ValidationError(_("That building is not in your organization."))
    wanted = _check_members(actor, organizers)
    building.turf.exclude(organizer_id__in=wanted).delete()
    have = set(building.turf.values_list("organizer_id", flat=True))
    Turf.objects.bulk_create(Turf(building=building, organizer_id=pk) for pk in wanted - have)


@transaction.atomic
def set_organizer_turf(
    *, actor: Membership, organizer: User, buildings: Iterable[Building]
) -> None:
    """The organizer's buildings become exactly these (the other side of the same turf)."""
    _check_members(actor, [organizer])
    wanted = {b.pk for b in buildings if b.organization_id == actor.organization_id}
    if len(wanted) != len({b.pk for b in buildings}):
        raise ValidationError(_("Some of those buildings are not in your organization."))
    turf = Turf.objects.filter(organizer=organizer)
    turf.exclude(building_id__in=wanted).delete()
    have = set(turf.values_list("building_id", flat=True))
    Turf.objects.bulk_create(Turf(building_id=pk, organizer=organizer) for pk in wanted - have)


@transaction.atomic
def create_building(
    *, actor: Membership, building: Building, organizers: Iterable[User], doors: Doors
) -> list[Unit]:
    """A new building with its organizers and, in the same transaction, its units."""
    building.organization_id = actor.organization_id
    building.save()
    set_building_turf(actor=actor, building=building, organizers=organizers)
    return add_units(actor=actor, building=building, doors=doors)
