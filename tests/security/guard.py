"""What must hold after any request, however hostile: another organization's rows are as
they were, and no row links two organizations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q, QuerySet

from buildings.models import Building, Turf, Unit
from contacts.models import (
    Ask,
    Attendance,
    Contact,
    ExportLog,
    FollowUp,
    LapseEpisode,
    LapseThreshold,
    LevelChange,
    Meeting,
    OwnerChange,
    Visit,
)
from organizing.models import Membership, Organization

Rows = list[dict[str, Any]]


def _rows(queryset: QuerySet[Any]) -> Rows:
    return list(queryset.order_by("pk").values())


def rows_of(organization: Organization) -> dict[str, Rows]:
    """Every row that belongs to the organization, and the accounts without one."""
    org = organization
    return {
        "organization": _rows(Organization.objects.filter(pk=org.pk)),
        "memberships": _rows(Membership.objects.filter(organization=org)),
        "users": _rows(User.objects.filter(membership__organization=org)),
        "users without an organization": _rows(User.objects.filter(membership=None)),
        "buildings": _rows(Building.objects.filter(organization=org)),
        "turf": _rows(Turf.objects.filter(Q(building__organization=org))),
        "units": _rows(Unit.objects.filter(building__organization=org)),
        "contacts": _rows(Contact.objects.filter(organization=org)),
        "visits": _rows(Visit.objects.filter(organization=org)),
        "asks": _rows(Ask.objects.filter(contact__organization=org)),
        "follow-ups": _rows(FollowUp.objects.filter(contact__organization=org)),
        "level changes": _rows(LevelChange.objects.filter(contact__organization=org)),
        "owner changes": _rows(OwnerChange.objects.filter(contact__organization=org)),
        "lapse episodes": _rows(LapseEpisode.objects.filter(organization=org)),
        "thresholds": _rows(LapseThreshold.objects.filter(organization=org)),
        "export logs": _rows(ExportLog.objects.filter(organization=org)),
        "meetings": _rows(Meeting.objects.filter(organization=org)),
        "attendances": _rows(Attendance.objects.filter(meeting__organization=org)),
    }


def _member_elsewhere(user_path: str, organization_path: str) -> Q:
    """The user at `user_path` is set and is not a member of the organization at
    `organization_path`."""
    return Q(**{f"{user_path}__isnull": False}) & ~Q(
        **{f"{user_path}__membership__organization": F(organization_path)}
    )


CROSSINGS: dict[str, tuple[type[Any], Q]] = {
    "a contact in another organization's unit": (
        Contact,
        Q(unit__isnull=False) & ~Q(unit__building__organization=F("organization")),
    ),
    "a contact owned by someone of another organization": (
        Contact,
        _member_elsewhere("owner", "organization"),
    ),
    "a visit to another organization's contact": (
        Visit,
        Q(contact__isnull=False) & ~Q(contact__organization=F("organization")),
    ),
    "a visit to another organization's unit": (
        Visit,
        Q(unit__isnull=False) & ~Q(unit__building__organization=F("organization")),
    ),
    "a visit by someone of another organization": (
        Visit,
        _member_elsewhere("organizer", "organization"),
    ),
    "turf given to someone of another organization": (
        Turf,
        ~Q(organizer__membership__organization=F("building__organization")),
    ),
    "a follow-up assigned to someone of another organization": (
        FollowUp,
        _member_elsewhere("assigned_to", "contact__organization"),
    ),
    "an ask by someone of another organization": (
        Ask,
        _member_elsewhere("asked_by", "contact__organization"),
    ),
    "a contact handed to someone of another organization": (
        OwnerChange,
        _member_elsewhere("to_owner", "contact__organization"),
    ),
    "a hand-over by someone of another organization": (
        OwnerChange,
        _member_elsewhere("changed_by", "contact__organization"),
    ),
    "a level changed by someone of another organization": (
        LevelChange,
        _member_elsewhere("changed_by", "contact__organization"),
    ),
    "an export logged for someone of another organization": (
        ExportLog,
        _member_elsewhere("user", "organization"),
    ),
    "an invitation to another organization's meeting": (
        Ask,
        Q(meeting__isnull=False) & ~Q(meeting__organization=F("contact__organization")),
    ),
    "an attendance of another organization's contact": (
        Attendance,
        ~Q(contact__organization=F("meeting__organization")),
    ),
    "a meeting for another organization's building": (
        Meeting,
        Q(buildings__isnull=False) & ~Q(buildings__organization=F("organization")),
    ),
    "a lapse episode of another organization's contact": (
        LapseEpisode,
        ~Q(contact__organization=F("organization")),
    ),
}


def crossings() -> list[str]:
    """What links two organizations; empty when nothing does."""
    return [
        f"{what}: {list(model.objects.filter(condition).values_list('pk', flat=True))}"
        for what, (model, condition) in CROSSINGS.items()
        if model.objects.filter(condition).exists()
    ]


def assert_organizations_kept_apart(theirs: Organization, before: dict[str, Rows]) -> None:
    """Nothing of theirs changed since `before`, and nothing links two organizations."""
    after = rows_of(theirs)
    assert [name for name in before if before[name] != after[name]] == []
    assert crossings() == []


@contextmanager
def rolled_back() -> Iterator[None]:
    """One example's writes, undone before the next example: Hypothesis runs many in one
    test, and the test's database fixtures are set up once for all of them."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
