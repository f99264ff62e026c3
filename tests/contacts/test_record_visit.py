"""record_visit keeps a contact's clocks right whatever order the knocks arrive in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from buildings.models import Unit
from contacts.actions import record_visit
from contacts.models import Contact, FollowUp, Outcome, Status, Visit
from organizing.models import Organization
from tests.makers import make_building, make_contact, make_unit, new_key

pytestmark = pytest.mark.usefixtures("clock")  # today is a fixed date: see `clock`

DAY = dt.timedelta(days=1)


def knock(
    contact: Contact | None,
    by: User,
    outcome: Outcome,
    *,
    when: dt.datetime | None = None,
    unit: Unit | None = None,
    key: str | None = None,
) -> tuple[Visit, bool]:
    return record_visit(
        actor=by.membership,
        contact=contact,
        unit=unit,
        outcome=outcome,
        happened_at=when,
        idempotency_key=key or new_key(),
    )


def fresh(contact: Contact) -> Contact:
    return Contact.objects.get(pk=contact.pk)


def test_a_conversation_starts_the_clock_and_clears_the_attempts(
    maria: Contact, olivia: User
) -> None:
    now = timezone.now()
    knock(maria, olivia, Outcome.NOT_HOME, when=now - 3 * DAY)
    knock(maria, olivia, Outcome.NOT_HOME, when=now - 2 * DAY)
    assert fresh(maria).attempts_since_conversation == 2

    knock(maria, olivia, Outcome.CONVERSATION, when=now - DAY)

    maria = fresh(maria)
    assert maria.last_conversation_at == now - DAY
    assert maria.last_attempt_at == now - DAY
    assert maria.attempts_since_conversation == 0


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome.NOT_HOME,
        Outcome.COME_BACK,
        Outcome.REFUSED,
        Outcome.MOVED_OUT,
        Outcome.DO_NOT_CONTACT,
    ],
)
def test_an_attempt_without_conversation_is_counted_and_leaves_the_clock(
    maria: Contact, olivia: User, outcome: Outcome
) -> None:
    talked_at = timezone.now() - 10 * DAY
    knock(maria, olivia, Outcome.CONVERSATION, when=talked_at)

    knock(maria, olivia, outcome, when=talked_at + DAY)

    maria = fresh(maria)
    assert maria.last_conversation_at == talked_at
    assert maria.last_attempt_at == talked_at + DAY
    assert maria.attempts_since_conversation == 1


def test_a_late_conversation_never_moves_the_last_conversation_backwards(
    maria: Contact, olivia: User, omar: User
) -> None:
    now = timezone.now()
    knock(maria, olivia, Outcome.CONVERSATION, when=now - DAY)

    # Omar's phone was offline for a week; his older conversation arrives now.
    knock(maria, omar, Outcome.CONVERSATION, when=now - 7 * DAY)

    maria = fresh(maria)
    assert maria.last_conversation_at == now - DAY
    assert maria.last_attempt_at == now - DAY


def test_a_late_not_home_from_before_the_last_conversation_is_not_counted(
    maria: Contact, olivia: User
) -> None:
    now = timezone.now()
    knock(maria, olivia, Outcome.CONVERSATION, when=now - DAY)

    knock(maria, olivia, Outcome.NOT_HOME, when=now - 5 * DAY)

    maria = fresh(maria)
    assert maria.attempts_since_conversation == 0
    assert maria.last_attempt_at == now - DAY
    assert maria.visits.count() == 2


def test_a_late_conversation_recounts_the_attempts_after_it(maria: Contact, olivia: User) -> None:
    now = timezone.now()
    for days_ago in (6, 4, 2):
        knock(maria, olivia, Outcome.NOT_HOME, when=now - days_ago * DAY)

    knock(maria, olivia, Outcome.CONVERSATION, when=now - 5 * DAY)

    maria = fresh(maria)
    assert maria.last_conversation_at == now - 5 * DAY
    assert maria.attempts_since_conversation == 2


def test_moved_out_ends_the_tie_to_the_unit_and_marks_the_contact_moved(
    maria: Contact, olivia: User, unit_1204: Unit
) -> None:
    visit, _ = knock(maria, olivia, Outcome.MOVED_OUT)

    maria = fresh(maria)
    assert maria.status == Status.MOVED
    assert maria.unit is None
    assert visit.unit == unit_1204  # the visit still says where it happened


def test_a_late_moved_out_does_not_undo_a_later_conversation(maria: Contact, olivia: User) -> None:
    now = timezone.now()
    knock(maria, olivia, Outcome.CONVERSATION, when=now - DAY)

    knock(maria, olivia, Outcome.MOVED_OUT, when=now - 30 * DAY)

    maria = fresh(maria)
    assert maria.status == Status.ACTIVE
    assert maria.unit is not None


def test_do_not_contact_is_honoured_at_once(maria: Contact, olivia: User) -> None:
    knock(maria, olivia, Outcome.DO_NOT_CONTACT)

    assert fresh(maria).status == Status.DO_NOT_CONTACT


def test_a_repeated_key_records_once(maria: Contact, olivia: User) -> None:
    first, created = knock(maria, olivia, Outcome.NOT_HOME, key="phone-made-key-1")
    again, created_again = knock(maria, olivia, Outcome.NOT_HOME, key="phone-made-key-1")

    assert created and not created_again
    assert again.pk == first.pk
    assert Visit.objects.count() == 1
    assert fresh(maria).attempts_since_conversation == 1


def test_the_same_key_in_another_organization_is_another_visit(
    maria: Contact, olivia: User, xavier: User, other_org: Organization
) -> None:
    their_unit = make_unit(make_building(other_org), "101")
    knock(maria, olivia, Outcome.NOT_HOME, key="shared-key-1")

    _, created = knock(None, xavier, Outcome.NOT_HOME, unit=their_unit, key="shared-key-1")

    assert created
    assert Visit.objects.count() == 2


def test_a_visit_with_neither_contact_nor_unit_is_refused(olivia: User) -> None:
    with pytest.raises(ValidationError) as error:
        knock(None, olivia, Outcome.NOT_HOME)

    assert "needs a contact or a unit" in str(error.value)
    assert Visit.objects.count() == 0


def test_a_contact_of_another_organization_is_refused(
    olivia: User, other_org: Organization
) -> None:
    stranger = make_contact(make_unit(make_building(other_org), "101"))

    with pytest.raises(ValidationError, match="not in your organization"):
        knock(stranger, olivia, Outcome.CONVERSATION)

    assert Visit.objects.count() == 0
    assert fresh(stranger).last_conversation_at is None


def test_a_unit_of_another_organization_is_refused(olivia: User, other_org: Organization) -> None:
    their_unit = make_unit(make_building(other_org), "101")

    with pytest.raises(ValidationError, match="not in your organization"):
        knock(None, olivia, Outcome.NOT_HOME, unit=their_unit)

    assert Visit.objects.count() == 0


def test_a_visit_in_the_future_is_refused(maria: Contact, olivia: User) -> None:
    with pytest.raises(ValidationError, match="future"):
        knock(maria, olivia, Outcome.CONVERSATION, when=timezone.now() + DAY)

    assert fresh(maria).last_conversation_at is None


def test_a_malformed_key_is_refused(maria: Contact, olivia: User) -> None:
    with pytest.raises(ValidationError, match="submission key"):
        knock(maria, olivia, Outcome.NOT_HOME, key="x y")

    assert Visit.objects.count() == 0


def test_a_conversation_completes_the_follow_ups_that_were_due(
    maria: Contact, olivia: User
) -> None:
    today = timezone.localdate()
    overdue = FollowUp.objects.create(
        contact=maria, planned_for=today - 2 * DAY, assigned_to=olivia, purpose="Meeting RSVP"
    )
    later = FollowUp.objects.create(
        contact=maria, planned_for=today + 5 * DAY, assigned_to=olivia, purpose="Floor meeting"
    )

    knock(maria, olivia, Outcome.NOT_HOME)
    overdue.refresh_from_db()
    assert overdue.done_by is None

    visit, _ = knock(maria, olivia, Outcome.CONVERSATION)

    overdue.refresh_from_db()
    later.refresh_from_db()
    assert overdue.done_by == visit
    assert later.done_by is None


def test_a_door_knock_on_a_unit_moves_the_unit_clock_forward_only(
    olivia: User, unit_1204: Unit
) -> None:
    now = timezone.now()
    knock(None, olivia, Outcome.CONVERSATION, unit=unit_1204, when=now - DAY)
    knock(None, olivia, Outcome.NOT_HOME, unit=unit_1204, when=now - 3 * DAY)

    unit_1204.refresh_from_db()
    assert unit_1204.last_conversation_at == now - DAY
    assert unit_1204.last_attempt_at == now - DAY


def test_a_contact_visit_is_placed_in_the_contacts_unit(
    maria: Contact, olivia: User, unit_1204: Unit
) -> None:
    visit, _ = knock(maria, olivia, Outcome.CONVERSATION)

    unit_1204.refresh_from_db()
    assert visit.unit == unit_1204
    assert unit_1204.last_conversation_at == visit.happened_at
