"""Hodan asks to be forgotten. Organizers wrote her name, email and phone, in every way
people write a phone number, into the building's access notes, other residents' notes and
visits, asks and next visits, and edited some of them (so the trail holds older copies).
Ada erases her, and a dump of the whole database holds none of it."""

from __future__ import annotations

import datetime as dt
import io

import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.actions import change_meeting, invite, mark_present, record_visit
from contacts.models import Ask, Contact, FollowUp, Meeting, Outcome
from tests.makers import make_contact, make_unit, new_key

NAME, EMAIL = "Hodan Warsame", "hodan.w@example.net"
PHONES = ["555-019-8844", "5550198844", "(555) 019-8844", "+1 555 019 8844", "555.019.8844"]


def whole_database() -> str:
    """Every object Django knows, as dumpdata writes it, and every cell of every table."""
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    cells = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            cells += [str(cell) for row in cursor.fetchall() for cell in row]
    return dump.getvalue() + "\n".join(cells)


def test_erasing_a_person_removes_every_mention_of_her_from_the_whole_database(
    ada: User, olivia: User, riverside: Building, unit_1204: Unit
) -> None:
    hodan = make_contact(unit_1204, owner=olivia, name=NAME, phone=PHONES[3], email=EMAIL)
    Building.objects.filter(pk=riverside.pk).update(
        access_notes=f"Buzzer key with {NAME} in 201, call {PHONES[0]}",
        notes=f"{NAME.upper()} organises the 3rd floor; {EMAIL}",
    )
    rosa = make_contact(make_unit(riverside, "1205"), owner=olivia, name="Rosa Diaz")
    rosa.notes = f"Cousin of {NAME}, reach her via {PHONES[1]}"
    rosa.save()
    visit, _ = record_visit(
        actor=olivia.membership,
        contact=rosa,
        outcome=Outcome.CONVERSATION,
        idempotency_key=new_key(),
        note=f"Rosa says call {PHONES[2]} first",
    )
    visit.note = f"Rosa says call {PHONES[2]} or {PHONES[4]} first"
    visit.save()  # the trail now holds both notes
    due = timezone.localdate() + dt.timedelta(days=7)
    Ask.objects.create(
        contact=rosa, question=f"Come with {NAME} to the meeting?", asked_by=olivia, due_on=due
    )
    follow_up = FollowUp.objects.create(
        contact=rosa, planned_for=due, assigned_to=olivia, purpose=f"Text {PHONES[4]}"
    )
    follow_up.cancel_reason = f"{NAME} called instead"
    follow_up.save()
    before = whole_database()
    assert NAME in before and EMAIL in before and all(p in before for p in PHONES)

    client = Client()
    client.force_login(ada)
    response = client.post(reverse("audit:erase", args=[hodan.pk]), {"confirm": "erase"})

    assert response.status_code == 302
    after = whole_database().casefold()
    for personal in (NAME, EMAIL, *PHONES):
        assert personal.casefold() not in after, personal
    # What was said around her stays, so the notes still make sense.
    riverside.refresh_from_db()
    assert riverside.access_notes == "Buzzer key with [erased] in 201, call [erased]"
    assert Contact.objects.get(pk=rosa.pk).notes == "Cousin of [erased], reach her via [erased]"


def test_a_short_number_in_a_note_is_not_taken_for_her_phone(
    ada: User, olivia: User, riverside: Building, unit_1204: Unit
) -> None:
    hodan = make_contact(unit_1204, owner=olivia, name=NAME, phone=PHONES[0])
    Building.objects.filter(pk=riverside.pk).update(
        notes="Rent went up 8844 dollars a year; code 019-8844; office 555-019-8845"
    )

    client = Client()
    client.force_login(ada)
    client.post(reverse("audit:erase", args=[hodan.pk]), {"confirm": "erase"})

    riverside.refresh_from_db()
    assert riverside.notes == (
        "Rent went up 8844 dollars a year; code 019-8844; office 555-019-8845"
    )


def test_another_resident_with_the_same_name_keeps_it(
    ada: User, olivia: User, riverside: Building, unit_1204: Unit
) -> None:
    hodan = make_contact(unit_1204, owner=olivia, name=NAME)
    namesake = make_contact(make_unit(riverside, "305"), owner=olivia, name=NAME)

    client = Client()
    client.force_login(ada)
    client.post(reverse("audit:erase", args=[hodan.pk]), {"confirm": "erase"})

    assert Contact.objects.get(pk=namesake.pk).name == NAME


def test_erasing_a_person_removes_her_from_meetings_their_invitations_and_attendance(
    ada: User, olivia: User, riverside: Building, unit_1204: Unit
) -> None:
    """A meeting was called at her place and named after her; Rosa was invited to it
    (the invitation's question carries its title) and came (her visit's note does too),
    and so did Hodan. Then the meeting was changed, so the invitation's trail holds both
    questions."""
    hodan = make_contact(unit_1204, owner=olivia, name=NAME, phone=PHONES[0], email=EMAIL)
    rosa = make_contact(make_unit(riverside, "1205"), owner=olivia, name="Rosa Diaz")
    meeting = Meeting.objects.create(
        organization=riverside.organization,
        title=f"Tea at {NAME}'s",
        starts_at=timezone.now() + dt.timedelta(days=3),
        place=f"{NAME}'s flat, buzz {PHONES[1]}",
        purpose=f"Ask {EMAIL} for the lease; call {PHONES[3]} if the door is locked",
    )
    invite(actor=olivia.membership, meeting=meeting, contacts=[rosa, hodan])
    change_meeting(
        actor=olivia.membership,
        meeting=meeting,
        changes={"title": f"Tea with {NAME.upper()}"},
    )
    meeting.refresh_from_db()
    with time_machine.travel(meeting.starts_at + dt.timedelta(minutes=5)):
        for person in (rosa, hodan):
            mark_present(
                actor=olivia.membership,
                meeting=meeting,
                contact=person,
                idempotency_key=new_key(),
            )
    before = whole_database()
    assert NAME in before and NAME.upper() in before and EMAIL in before
    assert PHONES[1] in before and PHONES[3] in before

    client = Client()
    client.force_login(ada)
    response = client.post(reverse("audit:erase", args=[hodan.pk]), {"confirm": "erase"})

    assert response.status_code == 302
    after = whole_database().casefold()
    for personal in (NAME, EMAIL, PHONES[1], PHONES[3]):
        assert personal.casefold() not in after, personal
    meeting.refresh_from_db()
    assert meeting.title == "Tea with [erased]"
    assert meeting.place == "[erased]'s flat, buzz [erased]"
    assert meeting.purpose == "Ask [erased] for the lease; call [erased] if the door is locked"
    # The turnout still counts her, as an anonymous person who was invited and came.
    assert (meeting.turnout().total.invited, meeting.turnout().total.came) == (2, 2)
    assert Ask.objects.get(contact=rosa).question.startswith("Come to “Tea with [erased]”")
