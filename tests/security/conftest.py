"""Two organizations with a little of everything.

Ours is Eastside, with the personas of tests/conftest.py. Westside is Xavier's: Wendy
organizes Westside Hall and owns Walter, who lives in 0301. Their ids are what a hostile
form sends, and every row of theirs must come out of each test exactly as it went in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.actions import record_visit
from contacts.models import Answer, Ask, Contact, FollowUp, Meeting, Outcome
from organizing.invitations import hash_of
from organizing.models import Invitation, Organization, Role
from tests.makers import make_building, make_contact, make_member, make_unit, new_key


@dataclass(frozen=True)
class Ground:
    """One organization's objects that URLs and forms name by id."""

    organization: Organization
    building: Building
    unit: Unit
    contact: Contact
    follow_up: FollowUp
    ask: Ask
    visit_id: int
    membership_id: int
    # The key a phone made for a resident it added: the Talked form finds them by it.
    contact_key: str
    meeting: Meeting
    invitation: Invitation
    # The link of the invitation's email.
    invitation_token: str

    def url_keys(self) -> dict[str, str]:
        return {"key": self.contact_key, "token": self.invitation_token}

    def url_ids(self) -> dict[str, int]:
        return {
            "building_id": self.building.pk,
            "unit_id": self.unit.pk,
            "contact_id": self.contact.pk,
            "follow_up_id": self.follow_up.pk,
            "ask_id": self.ask.pk,
            "visit_id": self.visit_id,
            "membership_id": self.membership_id,
            "meeting_id": self.meeting.pk,
            "invitation_id": self.invitation.pk,
        }


def ground(organizer: User, contact: Contact, membership_id: int) -> Ground:
    assert contact.unit is not None
    today = timezone.localdate()
    follow_up = FollowUp.objects.create(
        contact=contact, planned_for=today, assigned_to=organizer, purpose="RSVP"
    )
    ask = Ask.objects.create(contact=contact, question="Meeting?", asked_by=organizer, due_on=today)
    contact_key = f"phone{contact.pk:027d}"
    Contact.objects.filter(pk=contact.pk).update(submission_key=contact_key)
    visit, _ = record_visit(
        actor=organizer.membership,
        contact=contact,
        outcome=Outcome.NOT_HOME,
        idempotency_key=new_key(),
    )
    # A meeting tonight, with the contact invited and a yes.
    meeting = Meeting.objects.create(
        organization=contact.organization,
        title="Tenants' meeting",
        starts_at=timezone.now() + dt.timedelta(hours=2),
        place="Lobby",
        created_by=organizer,
    )
    Ask.objects.create(
        contact=contact,
        meeting=meeting,
        question="Come?",
        asked_by=organizer,
        due_on=today,
        answer=Answer.YES,
    )
    invitation_token = f"invitation-{contact.organization.slug}"
    invitation = Invitation.objects.create(
        organization=contact.organization,
        email=f"invited@{contact.organization.slug}.example.org",
        token_hash=hash_of(invitation_token),
        sent_at=timezone.now(),
        expires_at=timezone.now() + dt.timedelta(days=7),
    )
    return Ground(
        organization=contact.organization,
        building=contact.unit.building,
        unit=contact.unit,
        contact=contact,
        follow_up=follow_up,
        ask=ask,
        visit_id=visit.pk,
        membership_id=membership_id,
        contact_key=contact_key,
        meeting=meeting,
        invitation=invitation,
        invitation_token=invitation_token,
    )


@pytest.fixture(autouse=True)
def var_dir(settings: Any, tmp_path: Path) -> Path:
    """Uploads waiting for confirmation go here, not into the project's var/."""
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def ours(
    olivia: User, omar: User, cora: User, ada: User, maria: Contact, maple: Building
) -> Ground:
    """Olivia's visit (so that she may undo it), and Omar's membership for the admin screens."""
    make_contact(make_unit(maple, "301"), owner=omar, name="Maya Chen")
    return ground(olivia, maria, omar.membership.pk)


@pytest.fixture
def theirs(other_org: Organization, xavier: User) -> Ground:
    wendy = make_member(other_org, "wendy", Role.ORGANIZER)
    hall = make_building(other_org, name="Westside Hall", organizers=(wendy,))
    walter = make_contact(make_unit(hall, "0301", floor=3), owner=wendy, name="Walter White")
    return ground(wendy, walter, wendy.membership.pk)
