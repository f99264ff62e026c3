"""The conversation form and the contact page: what came of a talk, and what comes next."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from buildings.models import Unit
from contacts.actions import record_visit
from contacts.lapse.job import flag_lapsed
from contacts.models import (
    Answer,
    Ask,
    Channel,
    Contact,
    FollowUp,
    LapseFlag,
    Level,
    LevelChange,
    Outcome,
    Status,
    Visit,
)
from tests.makers import new_key

pytestmark = pytest.mark.usefixtures("clock")  # today is a fixed date: see `clock`

DAY = dt.timedelta(days=1)


@pytest.fixture
def as_olivia(olivia: User) -> Client:
    client = Client()
    client.force_login(olivia)
    return client


def talk_form(maria: Contact, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "key": new_key(),
        "unit": maria.unit_id,
        "channel": Channel.DOOR,
        "note": "Heat is out again; angry at the landlord",
        "level": Level.ACTIVE,
        "ask": "Floor captain?",
        "ask_due_on": timezone.localdate() + 7 * DAY,
        "follow_up_on": timezone.localdate() + 5 * DAY,
        "follow_up_purpose": "Bring the petition",
    }
    return data | overrides


def test_the_talk_form_proposes_a_next_visit_from_the_threshold(
    as_olivia: Client, maria: Contact
) -> None:
    page = as_olivia.get(reverse("contacts:talk", args=[maria.pk])).content.decode()

    # A new contact: 60 days, less the warning (the 2-day lead time and a day for the digest).
    proposed = timezone.localdate() + 57 * DAY
    assert f'<strong data-level="1" class="now">{proposed:%a} {proposed.day} {proposed:%b}<' in page
    # Tapping "Leader" shows the leader's: 7 days, less the same warning.
    leader = timezone.localdate() + 4 * DAY
    assert f'<strong data-level="5">{leader:%a} {leader.day} {leader:%b}<' in page


def test_the_next_visit_is_the_one_the_level_set_now_calls_for(
    as_olivia: Client, maria: Contact
) -> None:
    data = talk_form(maria, level=Level.LEADER, follow_up_on="", follow_up_purpose="")

    as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data)

    follow_up = FollowUp.objects.get(contact=maria)
    assert follow_up.planned_for == timezone.localdate() + 4 * DAY
    assert follow_up.purpose == "Check in"


def test_a_conversation_records_level_ask_and_follow_up_together(
    as_olivia: Client, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    response = as_olivia.post(
        reverse("contacts:talk", args=[maria.pk]), talk_form(maria), follow=True
    )

    assert response.redirect_chain[-1][0] == reverse(
        "buildings:unit", args=[unit_1204.building_id, unit_1204.pk]
    )
    assert "Conversation with Maria Lopez recorded." in response.content.decode()
    maria = Contact.objects.get(pk=maria.pk)
    assert maria.level == Level.ACTIVE and maria.last_conversation_at is not None
    assert LevelChange.objects.get(contact=maria).changed_by == olivia
    ask = Ask.objects.get(contact=maria)
    assert (ask.question, ask.answer, ask.due_on) == (
        "Floor captain?",
        Answer.PENDING,
        timezone.localdate() + 7 * DAY,
    )
    follow_up = FollowUp.objects.get(contact=maria)
    assert follow_up.purpose == "Bring the petition" and follow_up.assigned_to == olivia


def test_the_talk_form_offers_levels_and_due_dates_as_buttons_and_says_the_next_visit(
    as_olivia: Client, maria: Contact
) -> None:
    page = as_olivia.get(reverse("contacts:talk", args=[maria.pk])).content.decode()

    assert page.count('type="radio" name="level"') == 5
    for choice in ("In 3 days", "In a week", "Pick a date"):
        assert choice in page
    assert "We'll plan a visit on <strong data-level=" in page
    assert "Drop it" in page


@pytest.mark.parametrize(("choice", "days"), [("3", 3), ("7", 7)])
def test_a_quick_due_choice_sets_the_answer_date(
    as_olivia: Client, maria: Contact, choice: str, days: int
) -> None:
    data = talk_form(maria, ask_due=choice, ask_due_on="")

    as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data)

    assert Ask.objects.get(contact=maria).due_on == timezone.localdate() + days * DAY


def test_a_picked_date_is_the_answer_date(as_olivia: Client, maria: Contact) -> None:
    picked = timezone.localdate() + 10 * DAY

    as_olivia.post(
        reverse("contacts:talk", args=[maria.pk]),
        talk_form(maria, ask_due="pick", ask_due_on=picked.isoformat()),
    )

    assert Ask.objects.get(contact=maria).due_on == picked


def test_pick_a_date_without_a_date_asks_for_one(as_olivia: Client, maria: Contact) -> None:
    response = as_olivia.post(
        reverse("contacts:talk", args=[maria.pk]),
        talk_form(maria, ask_due="pick", ask_due_on=""),
    )

    assert response.status_code == 422
    assert "When is the answer due?" in response.content.decode()
    assert not Visit.objects.exists()


def test_the_proposed_visit_is_dropped_in_one_tap(as_olivia: Client, maria: Contact) -> None:
    as_olivia.post(reverse("contacts:talk", args=[maria.pk]), talk_form(maria, drop_follow_up="on"))

    assert Visit.objects.filter(contact=maria, outcome=Outcome.CONVERSATION).exists()
    assert not FollowUp.objects.filter(contact=maria).exists()


def test_a_resubmitted_conversation_records_once(as_olivia: Client, maria: Contact) -> None:
    data = talk_form(maria, key="talk-key-0001")

    as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data)
    as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data)

    assert Visit.objects.count() == 1
    assert Ask.objects.count() == 1 and FollowUp.objects.count() == 1


def test_a_talk_with_nothing_filled_in_is_refused(as_olivia: Client, maria: Contact) -> None:
    response = as_olivia.post(
        reverse("contacts:talk", args=[maria.pk]),
        {"key": new_key(), "unit": maria.unit_id, "channel": "door", "level": Level.NEW},
    )

    assert response.status_code == 422
    assert "Say in a few words what you talked about." in response.content.decode()
    assert not Visit.objects.exists()


def test_an_ask_due_in_the_past_is_refused_and_nothing_is_half_saved(
    as_olivia: Client, maria: Contact
) -> None:
    data = talk_form(maria, ask_due_on=timezone.localdate() - DAY)

    response = as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data)

    page = response.content.decode()
    assert response.status_code == 422
    assert "The answer can&#x27;t be due in the past." in page
    assert "Heat is out again" in page  # the note typed is still there
    assert not Visit.objects.exists() and not Ask.objects.exists()
    assert Contact.objects.get(pk=maria.pk).level == Level.NEW


def test_an_ask_without_a_due_date_is_refused(as_olivia: Client, maria: Contact) -> None:
    response = as_olivia.post(
        reverse("contacts:talk", args=[maria.pk]), talk_form(maria, ask_due_on="")
    )

    assert "When is the answer due?" in response.content.decode()
    assert not Visit.objects.exists()


def test_a_stale_talk_form_after_the_contact_moved_records_nothing(
    as_olivia: Client, olivia: User, maria: Contact
) -> None:
    data = talk_form(maria)
    record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.MOVED_OUT,
        idempotency_key=new_key(),
    )

    response = as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data)

    assert response.status_code == 422
    assert "has moved or changed status since this page was loaded" in response.content.decode()
    assert Visit.objects.filter(outcome=Outcome.CONVERSATION).count() == 0


def test_an_organizer_cannot_talk_to_another_organizers_contact(omar: User, maria: Contact) -> None:
    client = Client()
    client.force_login(omar)

    assert (
        client.post(reverse("contacts:talk", args=[maria.pk]), talk_form(maria)).status_code == 404
    )
    assert not Visit.objects.exists()


def test_the_contact_page_shows_history_and_phone_links(
    as_olivia: Client, olivia: User, maria: Contact
) -> None:
    Contact.objects.filter(pk=maria.pk).update(phone="555 010 1234")
    maria.set_level(Level.SUPPORTER, by=olivia)
    record_visit(
        actor=olivia.membership, contact=maria, outcome=Outcome.NOT_HOME, idempotency_key=new_key()
    )

    page = as_olivia.get(reverse("contacts:detail", args=[maria.pk])).content.decode()

    assert 'href="tel:555 010 1234"' in page and 'href="sms:555 010 1234"' in page
    assert "New → Supporter by olivia" in page
    assert "Not home" in page


def test_no_id_is_said_twice_on_the_pages_of_a_resident(as_olivia: Client, maria: Contact) -> None:
    """Two keyed forms on one page (plan a follow-up, log a call) each carry a hidden key;
    an id on each said id="id_key" twice, which a screen reader's jump-to-id and the
    browser's form lookups get wrong."""
    pages = [
        reverse("contacts:detail", args=[maria.pk]),
        reverse("contacts:talk", args=[maria.pk]),
        reverse("buildings:unit", args=[maria.building_id, maria.unit_id]),
    ]
    for url in pages:
        page = as_olivia.get(url).content.decode()
        ids = re.findall(r'\bid="([^"]+)"', page)
        assert ids and len(ids) == len(set(ids)), (url, sorted(ids))
        assert 'name="key"' in page or f'name="c{maria.pk}-key"' in page


def test_a_phone_call_is_logged_as_a_visit_on_that_channel(
    as_olivia: Client, maria: Contact
) -> None:
    as_olivia.post(
        reverse("contacts:log_visit", args=[maria.pk]),
        {
            "key": new_key(),
            "channel": "phone",
            "outcome": "conversation",
            "note": "Confirmed Thursday",
        },
    )

    visit = Visit.objects.get()
    assert (visit.channel, visit.outcome) == (Channel.PHONE, Outcome.CONVERSATION)
    assert Contact.objects.get(pk=maria.pk).last_conversation_at == visit.happened_at


def test_a_follow_up_is_planned_moved_and_cancelled_with_a_reason(
    as_olivia: Client, maria: Contact
) -> None:
    as_olivia.post(
        reverse("contacts:new_follow_up", args=[maria.pk]),
        {
            "key": "plan-key-0001",
            "planned_for": timezone.localdate() + 3 * DAY,
            "purpose": "Petition",
        },
    )
    follow_up = FollowUp.objects.get()

    as_olivia.post(
        reverse("contacts:move_follow_up", args=[follow_up.pk]),
        {"planned_for": timezone.localdate() + 4 * DAY},
    )
    refused = as_olivia.post(
        reverse("contacts:cancel_follow_up", args=[follow_up.pk]), {"reason": ""}
    )
    follow_up.refresh_from_db()
    assert follow_up.planned_for == timezone.localdate() + 4 * DAY
    assert (
        refused.status_code == 422
        and "Say why the follow-up is cancelled." in refused.content.decode()
    )
    assert follow_up.cancelled_at is None

    as_olivia.post(
        reverse("contacts:cancel_follow_up", args=[follow_up.pk]), {"reason": "Moved away"}
    )
    follow_up.refresh_from_db()
    assert follow_up.cancel_reason == "Moved away" and follow_up.cancelled_at is not None


def test_a_follow_up_cannot_be_planned_in_the_past(as_olivia: Client, maria: Contact) -> None:
    response = as_olivia.post(
        reverse("contacts:new_follow_up", args=[maria.pk]),
        {"key": new_key(), "planned_for": timezone.localdate() - DAY, "purpose": "Petition"},
    )

    assert response.status_code == 422
    assert "can&#x27;t be planned in the past" in response.content.decode()
    assert not FollowUp.objects.exists()


def test_an_ask_is_answered_from_the_contact_page(
    as_olivia: Client, olivia: User, maria: Contact
) -> None:
    ask = Ask.objects.create(
        contact=maria, question="Floor captain?", asked_by=olivia, due_on=timezone.localdate()
    )

    as_olivia.post(reverse("contacts:answer_ask", args=[ask.pk]), {"answer": "yes"})

    ask.refresh_from_db()
    assert ask.answer == Answer.YES and ask.answered_at is not None


def test_the_outsider_cannot_answer_our_asks(xavier: User, olivia: User, maria: Contact) -> None:
    ask = Ask.objects.create(
        contact=maria, question="Floor captain?", asked_by=olivia, due_on=timezone.localdate()
    )
    client = Client()
    client.force_login(xavier)

    assert (
        client.post(reverse("contacts:answer_ask", args=[ask.pk]), {"answer": "no"}).status_code
        == 404
    )
    ask.refresh_from_db()
    assert ask.answer == Answer.PENDING


def test_a_do_not_contact_person_shows_no_way_to_reach_them(
    as_olivia: Client, olivia: User, maria: Contact
) -> None:
    Contact.objects.filter(pk=maria.pk).update(phone="555 010 1234", status=Status.DO_NOT_CONTACT)

    page = as_olivia.get(reverse("contacts:detail", args=[maria.pk])).content.decode()

    assert "Do not contact this person." in page
    assert "tel:" not in page and "Talked" not in page


# A conversation settles the open asks, so the next hourly run does not reopen the lapse


@pytest.fixture
def overdue_ask(maria: Contact, olivia: User) -> Ask:
    """Maria, a leader, said she would think about leading the building committee; the
    answer was due two days ago, and she is lapsed for it."""
    Contact.objects.filter(pk=maria.pk).update(level=Level.LEADER)
    ask = Ask.objects.create(
        contact=maria,
        question="Lead the building committee?",
        asked_by=olivia,
        due_on=timezone.localdate() - 2 * DAY,
    )
    flag_lapsed()
    assert Contact.objects.get(pk=maria.pk).lapse_flag == LapseFlag.LAPSED
    return ask


def test_the_talk_form_shows_each_open_ask_with_its_date(
    as_olivia: Client, maria: Contact, overdue_ask: Ask
) -> None:
    page = as_olivia.get(reverse("contacts:talk", args=[maria.pk])).content.decode()

    assert "Open asks: what did they say?" in page
    assert "Lead the building committee?" in page
    assert f"overdue since {overdue_ask.due_on:%b} {overdue_ask.due_on.day}" in page
    asked_again = timezone.localdate() + 7 * DAY
    assert f'value="{asked_again:%Y-%m-%d}"' in page


def test_an_overdue_ask_left_waiting_is_asked_again_and_the_lapse_does_not_reopen(
    as_olivia: Client, maria: Contact, overdue_ask: Ask
) -> None:
    # The form as it comes: "still waiting", due a week from today.
    data = talk_form(maria, ask="", ask_due_on="", follow_up_on="", follow_up_purpose="")
    data |= {
        f"open_ask_{overdue_ask.pk}": Answer.PENDING,
        f"open_ask_{overdue_ask.pk}_due": timezone.localdate() + 7 * DAY,
    }

    as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data)
    flag_lapsed()

    overdue_ask.refresh_from_db()
    assert overdue_ask.answer == Answer.PENDING
    assert overdue_ask.due_on == timezone.localdate() + 7 * DAY
    assert Contact.objects.get(pk=maria.pk).lapse_flag == LapseFlag.OK


def test_an_ask_answered_in_the_conversation_is_answered(
    as_olivia: Client, maria: Contact, overdue_ask: Ask
) -> None:
    data = talk_form(maria, ask="", ask_due_on="") | {f"open_ask_{overdue_ask.pk}": Answer.YES}

    as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data)

    overdue_ask.refresh_from_db()
    assert overdue_ask.answer == Answer.YES and overdue_ask.answered_at is not None


def test_a_conversation_sent_without_a_choice_asks_an_overdue_ask_again(
    as_olivia: Client, maria: Contact, overdue_ask: Ask
) -> None:
    """A phone's form kept from before the ask, or a replay: the rule decides."""
    as_olivia.post(
        reverse("contacts:talk", args=[maria.pk]), talk_form(maria, ask="", ask_due_on="")
    )
    flag_lapsed()

    overdue_ask.refresh_from_db()
    assert overdue_ask.due_on == timezone.localdate() + 7 * DAY
    assert Contact.objects.get(pk=maria.pk).lapse_flag == LapseFlag.OK


def test_an_ask_asked_again_for_a_past_date_is_refused_and_nothing_is_saved(
    as_olivia: Client, maria: Contact, overdue_ask: Ask
) -> None:
    data = talk_form(maria, ask="", ask_due_on="") | {
        f"open_ask_{overdue_ask.pk}": Answer.PENDING,
        f"open_ask_{overdue_ask.pk}_due": timezone.localdate() - DAY,
    }

    response = as_olivia.post(reverse("contacts:talk", args=[maria.pk]), data)

    page = response.content.decode()
    assert response.status_code == 422
    assert "the answer can&#x27;t be due in the past" in page
    assert "Heat is out again" in page
    assert not Visit.objects.exists()
    overdue_ask.refresh_from_db()
    assert overdue_ask.due_on == timezone.localdate() - 2 * DAY
