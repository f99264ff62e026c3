"""Every URL of the project, asked by every persona: the answer each must get.

A new URL pattern that is not in MATRIX fails `test_every_url_is_in_the_matrix`, so nobody
adds a view without deciding who may use it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.actions import record_visit
from contacts.models import Ask, Contact, FollowUp, Meeting, Outcome
from organizing.invitations import hash_of
from organizing.models import Invitation
from tests.makers import new_key

PERSONAS = ["anonymous", "olivia", "omar", "cora", "ada", "xavier"]
OK, LOGIN, FORBIDDEN, NOT_FOUND = "ok", "login", "403", "404"


def answers(
    anonymous: str, olivia: str, omar: str, cora: str, ada: str, xavier: str
) -> dict[str, str]:
    return dict(zip(PERSONAS, [anonymous, olivia, omar, cora, ada, xavier], strict=True))


PUBLIC = answers(OK, OK, OK, OK, OK, OK)
# Pages about the member's own organization: the outsider sees theirs, never ours.
MEMBER = answers(LOGIN, OK, OK, OK, OK, OK)
# Olivia's turf and her contacts; Omar organizes elsewhere in the organization.
TURF = answers(LOGIN, OK, NOT_FOUND, OK, OK, NOT_FOUND)
ORGANIZATION_OBJECT = answers(LOGIN, OK, OK, OK, OK, NOT_FOUND)
COMMITTEE = answers(LOGIN, FORBIDDEN, FORBIDDEN, OK, OK, OK)
COMMITTEE_OBJECT = answers(LOGIN, FORBIDDEN, FORBIDDEN, OK, OK, NOT_FOUND)
ADMIN = answers(LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK)
ADMIN_OBJECT = answers(LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, NOT_FOUND)

MATRIX: dict[str, dict[str, str]] = {
    "healthz": PUBLIC,
    "service_worker": PUBLIC,
    "login": PUBLIC,
    "logout": PUBLIC,
    # The footer's language switcher: anyone, for the login page too.
    "language": PUBLIC,
    # The outbox's words in a language: the same for everyone, nothing of anyone's.
    "outbox_words": PUBLIC,
    "password_reset": PUBLIC,
    "password_reset_done": PUBLIC,
    "password_reset_confirm": PUBLIC,
    "password_reset_complete": PUBLIC,
    # An invitation's link: whoever holds it (organizing/invitations.py).
    "invitation": PUBLIC,
    # Setting up a code from a phone app is for committee and admins.
    "two_factor": COMMITTEE,
    "two_factor_setup": COMMITTEE,
    "two_factor_off": COMMITTEE,
    # Asked of whoever has a device; anyone else is sent on.
    "two_factor_verify": MEMBER,
    "home": MEMBER,
    "offline_pages": MEMBER,
    "buildings:list": MEMBER,
    "buildings:knocking_with": MEMBER,
    "buildings:detail": TURF,
    "buildings:bulk_not_home": TURF,
    "buildings:bulk_undo": TURF,
    "buildings:unit": TURF,
    "buildings:knock": TURF,
    "buildings:new_resident": TURF,
    "contacts:detail": TURF,
    "contacts:talk": TURF,
    # The Talked form of a resident the phone added: one page for any key, naming nobody.
    # Its POST finds the resident by the key within the member's turf (test_offline_replay).
    "contacts:talk_new": MEMBER,
    "contacts:log_visit": TURF,
    "contacts:new_follow_up": TURF,
    "contacts:move_follow_up": TURF,
    "contacts:cancel_follow_up": TURF,
    "contacts:answer_ask": TURF,
    # Anyone in the organization reaches it; only the knock's organizer can undo it.
    "contacts:undo": ORGANIZATION_OBJECT,
    "committee:dashboard": COMMITTEE,
    "committee:reassign": COMMITTEE,
    "committee:export": COMMITTEE,
    "committee:settings": COMMITTEE,
    "committee:snooze": COMMITTEE_OBJECT,
    # Committee and admins call meetings, change them and close their attendance; every
    # member sees them, invites the residents they see, and takes the attendance at the door.
    "committee:new_meeting": COMMITTEE,
    "committee:close_meeting": COMMITTEE_OBJECT,
    "committee:edit_meeting": COMMITTEE_OBJECT,
    "meetings:list": MEMBER,
    "meetings:detail": ORGANIZATION_OBJECT,
    "meetings:invite": ORGANIZATION_OBJECT,
    "meetings:attendance": ORGANIZATION_OBJECT,
    "meetings:attend": ORGANIZATION_OBJECT,
    "meetings:walk_in": ORGANIZATION_OBJECT,
    "setup:buildings": ADMIN,
    "setup:new": ADMIN,
    "setup:owners": ADMIN,
    "setup:import": ADMIN,
    "setup:import_confirm": ADMIN,
    "setup:import_cancel": ADMIN,
    "setup:import_sample": ADMIN,
    "setup:organization": ADMIN,
    "setup:export": answers(LOGIN, FORBIDDEN, FORBIDDEN, OK, OK, OK),
    "setup:edit": ADMIN_OBJECT,
    "setup:archive": ADMIN_OBJECT,
    "setup:units": ADMIN_OBJECT,
    "members:list": ADMIN,
    "members:add": ADMIN,
    "members:invitation_resend": ADMIN_OBJECT,
    "members:invitation_cancel": ADMIN_OBJECT,
    "members:detail": ADMIN_OBJECT,
    "members:role": ADMIN_OBJECT,
    "members:turf": ADMIN_OBJECT,
    "members:deactivate": ADMIN_OBJECT,
    "members:reactivate": ADMIN_OBJECT,
    "members:password_link": ADMIN_OBJECT,
    "members:two_factor_reset": ADMIN_OBJECT,
    "audit:log": ADMIN,
    "audit:erase": ADMIN_OBJECT,
}


def url_names() -> Iterator[str]:
    """Every named URL of ours; Django's admin has its own staff-only checks."""

    def walk(patterns: list[URLPattern | URLResolver], namespace: str) -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name == "admin":
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner)
            else:
                assert pattern.name, f"unnamed URL pattern {pattern.pattern}"
                yield namespace + pattern.name

    return walk(get_resolver().url_patterns, "")


def test_every_url_is_in_the_matrix() -> None:
    assert sorted(url_names()) == sorted(MATRIX)


@pytest.fixture
def ids(
    olivia: User, omar: User, maria: Contact, unit_1204: Unit, riverside: Building
) -> dict[str, int | str]:
    """Objects of Olivia's: what every URL with an id is asked about."""
    follow_up = FollowUp.objects.create(
        contact=maria, planned_for=timezone.localdate(), assigned_to=olivia, purpose="RSVP"
    )
    ask = Ask.objects.create(
        contact=maria, question="Meeting?", asked_by=olivia, due_on=timezone.localdate()
    )
    visit, _ = record_visit(
        actor=olivia.membership, contact=maria, outcome=Outcome.NOT_HOME, idempotency_key=new_key()
    )
    meeting = Meeting.objects.create(
        organization=maria.organization,
        title="Tenants' meeting",
        starts_at=timezone.now() - dt.timedelta(hours=1),
        place="Lobby",
    )
    invitation = Invitation.objects.create(
        organization=maria.organization,
        email="invited@example.org",
        token_hash=hash_of("matrix-invitation"),
        sent_at=timezone.now(),
        expires_at=timezone.now() + dt.timedelta(days=7),
    )
    return {
        "meeting_id": meeting.pk,
        "building_id": riverside.pk,
        "unit_id": unit_1204.pk,
        "contact_id": maria.pk,
        "follow_up_id": follow_up.pk,
        "ask_id": ask.pk,
        "visit_id": visit.pk,
        "membership_id": omar.membership.pk,
        "key": maria.submission_key or "maria0000000000000000000000000000",
        "invitation_id": invitation.pk,
        "token": "matrix-invitation",
    }


def ask(client: Client, name: str, ids: dict[str, int | str]) -> tuple[int, str]:
    """GET the URL filled with Olivia's ids; a POST-only view is POSTed empty instead."""
    candidates: list[dict[str, object]] = [
        {},
        {"building_id": ids["building_id"], "unit_id": ids["unit_id"]},
        {"uidb64": "MQ", "token": "not-a-token"},
        {"language": "fr"},
    ]
    candidates += [{key: value} for key, value in ids.items()]
    for kwargs in candidates:
        try:
            url = reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
        response = client.get(url)
        if response.status_code == 405:
            response = client.post(url, {})
        return response.status_code, response.get("Location", "")
    raise AssertionError(f"no ids fit {name}")


@pytest.mark.parametrize("name", sorted(MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_gets_the_expected_answer(
    request: pytest.FixtureRequest,
    persona: str,
    name: str,
    ids: dict[str, int | str],
    xavier: User,
    cora: User,
    ada: User,
) -> None:
    client = Client()
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))

    status, location = ask(client, name, ids)

    expected = MATRIX[name][persona]
    if expected == LOGIN:
        assert status == 302 and location.startswith(reverse("login")), (status, location)
    elif expected == OK:
        assert status < 500 and status not in (403, 404), status
        assert not location.startswith(reverse("login")) or name in ("logout", "login"), location
    else:
        assert status == int(expected), status
