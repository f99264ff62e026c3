from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from organizing.models import Membership, Organization

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class BuildingQuerySet(models.QuerySet["Building"]):
    def visible_to(self, membership: Membership) -> BuildingQuerySet:
        """Committee and admins see the whole organization; an organizer sees their turf."""
        qs = self.filter(organization_id=membership.organization_id)
        if not membership.sees_whole_organization:
            qs = qs.filter(turf__organizer_id=membership.user_id)
        return qs


class Building(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="buildings"
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    street_address = models.CharField(max_length=300, verbose_name=_("street address"))
    city = models.CharField(max_length=120, blank=True, verbose_name=_("city"))
    postal_code = models.CharField(max_length=20, blank=True, verbose_name=_("postal code"))
    floors = models.PositiveSmallIntegerField(
        default=1,
        help_text=_("Number of floors above ground, for the floor grid."),
        verbose_name=_("floors"),
    )
    access_notes = models.TextField(
        blank=True,
        help_text=_("Buzzer code, locked front door, which stairwell is open."),
        verbose_name=_("access notes"),
    )
    landlord = models.CharField(_("landlord or manager"), max_length=200, blank=True)
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    archived = models.BooleanField(default=False, verbose_name=_("archived"))
    organizers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Turf",
        related_name="turf_buildings",
        blank=True,
        verbose_name=_("organizers"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BuildingQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("name"),
                name="building_name_unique_per_organization",
                violation_error_message=_("Your organization already has a building of that name."),
            ),
            models.CheckConstraint(condition=models.Q(floors__gte=1), name="building_has_floors"),
        ]

    def __str__(self) -> str:
        return self.name


class Turf(models.Model):
    """An organizer assigned to a building."""

    building = models.ForeignKey(
        Building, on_delete=models.CASCADE, related_name="turf", verbose_name=_("building")
    )
    organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="turf",
        verbose_name=_("organizer"),
    )
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("building", "organizer", name="turf_unique_assignment")
        ]

    def __str__(self) -> str:
        return f"{self.organizer} → {self.building}"

    def clean(self) -> None:
        organizer: User = self.organizer
        membership = Membership.objects.filter(user=organizer, active=True).first()
        if membership is None or membership.organization_id != self.building.organization_id:
            raise ValidationError(
                {
                    "organizer": _(
                        "Only active members of the building's organization can have turf."
                    )
                }
            )


# The floors a building can have, basements included.
LOWEST_FLOOR, HIGHEST_FLOOR = -5, 200


def floor_from_label(label: str) -> int | None:
    """The floor a numbered door gives away: 1204 is on floor 12, 305 on floor 3.
    Other labels (2A, PH1, 12) don't say, and get None."""
    if label.isdigit() and len(label) >= 3:
        return int(label[:-2])
    return None


class UnitQuerySet(models.QuerySet["Unit"]):
    def visible_to(self, membership: Membership) -> UnitQuerySet:
        return self.filter(building__in=Building.objects.visible_to(membership))


class Unit(models.Model):
    building = models.ForeignKey(
        Building, on_delete=models.CASCADE, related_name="units", verbose_name=_("building")
    )
    floor = models.SmallIntegerField(
        help_text=_("0 for the ground floor, negative for basements."), verbose_name=_("floor")
    )
    label = models.CharField(
        max_length=20, help_text=_('The door\'s label, such as "1204".'), verbose_name=_("label")
    )
    do_not_knock = models.BooleanField(default=False, verbose_name=_("do not knock"))
    vacant = models.BooleanField(default=False, verbose_name=_("vacant"))
    # Kept right by contacts.actions.record_visit, so the floor grid needs no aggregation.
    last_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_conversation_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UnitQuerySet.as_manager()
    # The building as loaded, for save() to see a door moved to another building.
    _loaded_building_id: int | None

    class Meta:
        ordering = ["building", "floor", "label"]
        constraints = [
            models.UniqueConstraint(
                "building",
                Lower("label"),
                name="unit_label_unique_per_building",
                violation_error_message=_("This building already has a unit with that label."),
            ),
        ]
        indexes = [models.Index(fields=["building", "floor"], name="unit_building_floor")]

    def __str__(self) -> str:
        return f"{self.building.name} #{self.label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A door moved to another building (in Django's admin) takes its residents'
        building along: contacts carry their unit's building (contacts.Contact.building)."""
        moved = not self._state.adding and self.building_id != getattr(
            self, "_loaded_building_id", None
        )
        super().save(*args, **kwargs)
        if moved:
            self.residents.update(building_id=self.building_id)
        self._loaded_building_id = self.building_id

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Unit:
        unit = super().from_db(*args, **kwargs)
        unit._loaded_building_id = unit.__dict__.get("building_id")
        return unit

    def clean(self) -> None:
        self.label = self.label.strip()
        if self.building_id and self.floor > self.building.floors:
            message = ngettext(
                "%(building)s has %(floors)s floor.",
                "%(building)s has %(floors)s floors.",
                self.building.floors,
            )
            raise ValidationError(
                {
                    "floor": message
                    % {"building": self.building.name, "floors": self.building.floors}
                }
            )
