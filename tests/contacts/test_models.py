from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.models import Ask, Contact, FollowUp, LapseThreshold, Level, LevelChange
from organizing.models import Organization
from tests.makers import make_building, make_unit

pytestmark = pytest.mark.usefixtures("clock")  # today is a fixed date: see `clock`


def test_every_organization_starts_with_the_default_lapse_thresholds(org: Organization) -> None:
    days = LapseThreshold.days_by_level([org.pk])[org.pk]

    assert days == {
        Level.LEADER: 7,
        Level.ACTIVE: 14,
        Level.SUPPORTER: 21,
        Level.CONTACT: 45,
        Level.NEW: 60,
    }


def test_a_threshold_of_zero_days_is_refused(org: Organization) -> None:
    threshold = LapseThreshold(organization=org, level=Level.LEADER, days=0)

    with pytest.raises(ValidationError, match="at least one day"):
        threshold.full_clean()


def test_level_changes_are_kept_with_who_and_when(maria: Contact, olivia: User, cora: User) -> None:
    maria.set_level(Level.ACTIVE, by=olivia)
    maria.set_level(Level.LEADER, by=cora)
    maria.set_level(Level.LEADER, by=cora)  # no change, no history row

    history = list(LevelChange.objects.filter(contact=maria).order_by("changed_at"))
    assert [(c.from_level, c.to_level, c.changed_by) for c in history] == [
        (Level.NEW, Level.ACTIVE, olivia),
        (Level.ACTIVE, Level.LEADER, cora),
    ]
    assert Contact.objects.get(pk=maria.pk).level == Level.LEADER


@pytest.mark.parametrize("level", [0, 6])
def test_a_level_outside_one_to_five_is_refused(maria: Contact, olivia: User, level: int) -> None:
    with pytest.raises(ValidationError, match="between 1"):
        maria.set_level(level, by=olivia)

    maria.level = level
    with pytest.raises(ValidationError):
        maria.full_clean()
    assert not LevelChange.objects.exists()


def test_the_database_refuses_a_level_of_six_too(maria: Contact) -> None:
    with pytest.raises(IntegrityError):
        Contact.objects.filter(pk=maria.pk).update(level=6)


def test_a_contact_in_a_unit_of_another_organization_is_refused(
    org: Organization, other_org: Organization
) -> None:
    their_unit = make_unit(make_building(other_org), "101")
    contact = Contact(organization=org, unit=their_unit, name="Someone")

    with pytest.raises(ValidationError, match="another organization"):
        contact.full_clean()


def test_an_owner_from_another_organization_is_refused(unit_1204: Unit, xavier: User) -> None:
    contact = Contact(
        organization=unit_1204.building.organization, unit=unit_1204, name="Ana", owner=xavier
    )

    with pytest.raises(ValidationError, match="active member of this organization"):
        contact.full_clean()


def test_an_ask_due_before_it_was_asked_is_refused(maria: Contact, olivia: User) -> None:
    ask = Ask(
        contact=maria,
        question="Come to Thursday's meeting?",
        asked_by=olivia,
        due_on=timezone.localdate() - dt.timedelta(days=1),
    )

    with pytest.raises(ValidationError, match="due before it was asked"):
        ask.full_clean()


def test_a_follow_up_planned_in_the_past_is_refused(maria: Contact, olivia: User) -> None:
    follow_up = FollowUp(
        contact=maria,
        planned_for=timezone.localdate() - dt.timedelta(days=1),
        assigned_to=olivia,
        purpose="Check on the repair",
    )

    with pytest.raises(ValidationError, match="in the past"):
        follow_up.full_clean()


def test_a_follow_up_is_not_cancelled_without_a_reason(maria: Contact, olivia: User) -> None:
    follow_up = FollowUp.objects.create(
        contact=maria, planned_for=timezone.localdate(), assigned_to=olivia, purpose="RSVP"
    )

    with pytest.raises(ValidationError, match="Say why"):
        follow_up.cancel("  ")
    follow_up.refresh_from_db()
    assert follow_up.cancelled_at is None

    follow_up.cancel("She moved to the other building")
    assert FollowUp.objects.open().count() == 0


def test_unit_labels_are_unique_per_building_ignoring_case(
    riverside: Building, maple: Building
) -> None:
    make_unit(riverside, "12a", floor=12)

    duplicate = Unit(building=riverside, label="12A", floor=12)
    with pytest.raises(ValidationError, match="already has a unit"):
        duplicate.full_clean()

    make_unit(maple, "12A", floor=3)  # another building may have it
    with pytest.raises(IntegrityError):
        Unit.objects.create(building=riverside, label="12A", floor=12)
