"""Meetings (issue #20): calling one, inviting a list, taking attendance at the door on a
phone (offline too), turnout, and the follow-ups of those who said yes and did not come.

Olivia organizes Riverside and owns Maria; Omar organizes Maple Court; Cora is on the
committee; Xavier is from another organization and must be refused everything."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.actions import (
    MISSED_THE_MEETING,
    close_attendance,
    close_past_meetings,
    invite,
    mark_present,
)
from contacts.lapse.digests import owner_digest
from contacts.models import (
    Answer,
    Ask,
    Attendance,
    Channel,
    Contact,
    FollowUp,
    Level,
    Meeting,
    Outcome,
    Status,
    Visit,
)
from organizing.models import Organization
from tests.makers import make_building, make_contact, make_unit, mark_lapsed, new_key

pytestmark = pytest.mark.usefixtures("clock")  # today is a fixed date: see `clock`

REPLAY = {"X-Doorstep-Replay": "1", "Accept": "application/json"}
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_meeting(organization: Organization, *, starts_in: dt.timedelta = 2 * DAY) -> Meeting:
    return Meeting.objects.create(
        organization=organization,
        title="Riverside tenants' meeting",
        starts_at=timezone.now() + starts_in,
        place="Riverside lobby",
    )


@pytest.fixture
def meeting(org: Organization) -> Meeting:
    return make_meeting(org)


@pytest.fixture
def tonight(org: Organization) -> Meeting:
    """A meeting that started an hour ago: attendance is being taken."""
    return make_meeting(org, starts_in=-HOUR)


def residents(unit: Unit, owner: User, count: int, **fields: object) -> list[Contact]:
    return [make_contact(unit, owner=owner, name=f"Tenant {n:03d}", **fields) for n in range(count)]


# Calling a meeting


def test_the_committee_calls_a_meeting_for_some_buildings(
    cora: User, riverside: Building, maple: Building
) -> None:
    when = timezone.localtime() + 3 * DAY
    response = client_of(cora).post(
        reverse("committee:new_meeting"),
        {
            "title": "Rent strike vote",
            "starts_at": when.strftime("%Y-%m-%dT%H:%M"),
            "place": "Riverside lobby",
            "buildings": [riverside.pk],
            "language": "es",
            "purpose": "Vote on the strike",
        },
    )

    meeting = Meeting.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("meetings:detail", args=[meeting.pk])
    assert list(meeting.buildings.all()) == [riverside]
    assert meeting.created_by == cora
    page = client_of(cora).get(response["Location"]).content.decode()
    assert "Rent strike vote" in page and "Riverside Towers" in page


def test_a_meeting_in_the_past_is_refused_with_the_input_kept(cora: User) -> None:
    yesterday = timezone.localtime() - DAY
    response = client_of(cora).post(
        reverse("committee:new_meeting"),
        {
            "title": "Rent strike vote",
            "starts_at": yesterday.strftime("%Y-%m-%dT%H:%M"),
            "place": "Riverside lobby",
        },
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert "A new meeting can&#x27;t be in the past." in page
    assert 'value="Rent strike vote"' in page and 'value="Riverside lobby"' in page
    assert not Meeting.objects.exists()


def test_a_meeting_years_ahead_is_refused_as_a_slip_of_the_year(cora: User) -> None:
    slip = (timezone.localtime() + 3 * 365 * DAY).strftime("%Y-%m-%dT%H:%M")
    response = client_of(cora).post(
        reverse("committee:new_meeting"),
        {"title": "Rent strike vote", "starts_at": slip, "place": "Riverside lobby"},
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert "more than two years ahead" in page and "check the year" in page
    assert f'value="{slip}"' in page and 'value="Rent strike vote"' in page
    assert not Meeting.objects.exists()


def test_an_organizer_may_not_call_a_meeting(olivia: User) -> None:
    response = client_of(olivia).get(reverse("committee:new_meeting"))

    assert response.status_code == 403


def test_a_meeting_for_another_organizations_building_is_refused(
    cora: User, other_org: Organization
) -> None:
    theirs = make_building(other_org, name="Westside Hall")
    response = client_of(cora).post(
        reverse("committee:new_meeting"),
        {
            "title": "x",
            "starts_at": (timezone.localtime() + DAY).strftime("%Y-%m-%dT%H:%M"),
            "place": "y",
            "buildings": [theirs.pk],
        },
    )

    assert response.status_code == 422
    assert not Meeting.objects.exists()


def test_organizers_list_their_organizations_meetings_and_no_one_elses(
    olivia: User, xavier: User, meeting: Meeting, other_org: Organization
) -> None:
    make_meeting(other_org).__class__.objects.filter(organization=other_org).update(
        title="Westside secret"
    )

    page = client_of(olivia).get(reverse("meetings:list")).content.decode()

    assert "Riverside tenants&#x27; meeting" in page
    assert "Westside secret" not in page
    assert client_of(xavier).get(reverse("meetings:detail", args=[meeting.pk])).status_code == 404


# Invitations are asks


def test_inviting_a_building_asks_each_active_resident_once(
    olivia: User, meeting: Meeting, unit_1204: Unit, maria: Contact
) -> None:
    others = residents(unit_1204, olivia, 3)
    refused = make_contact(unit_1204, owner=olivia, name="Rosa", status=Status.DO_NOT_CONTACT)
    url = reverse("meetings:invite", args=[meeting.pk])
    as_olivia = client_of(olivia)

    first = as_olivia.post(url, {"building": unit_1204.building_id}, follow=True)
    again = as_olivia.post(url, {"building": unit_1204.building_id}, follow=True)

    invited = Ask.objects.filter(meeting=meeting)
    assert sorted(invited.values_list("contact_id", flat=True)) == sorted(
        c.pk for c in [maria, *others]
    )
    assert not refused.asks.exists()
    assert "Invited 4. 1 left out: do not contact, moved or archived." in first.content.decode()
    assert "Invited 0. 4 already invited." in again.content.decode()
    ask = invited.get(contact=maria)
    assert ask.answer == Answer.PENDING
    assert ask.due_on == timezone.localdate(meeting.starts_at) - DAY
    assert ask.question.startswith("Come to “Riverside tenants' meeting”")


def test_inviting_by_level_and_owner_narrows_the_list(
    cora: User, olivia: User, omar: User, meeting: Meeting, unit_1204: Unit, maple: Building
) -> None:
    leader = make_contact(unit_1204, owner=olivia, name="Tamara", level=Level.LEADER)
    make_contact(unit_1204, owner=olivia, name="New one", level=Level.NEW)
    make_contact(make_unit(maple, "301"), owner=omar, name="Omar's leader", level=Level.LEADER)

    client_of(cora).post(
        reverse("meetings:invite", args=[meeting.pk]),
        {"level": Level.LEADER, "owner": olivia.pk},
    )

    assert list(Ask.objects.filter(meeting=meeting).values_list("contact", flat=True)) == [
        leader.pk
    ]


def test_an_organizer_invites_only_the_residents_they_see(
    olivia: User, omar: User, meeting: Meeting, maple: Building
) -> None:
    make_contact(make_unit(maple, "301"), owner=omar, name="Maya")

    client_of(olivia).post(reverse("meetings:invite", args=[meeting.pk]), {"building": maple.pk})

    assert not Ask.objects.filter(meeting=meeting).exists()


def test_an_invitation_without_a_list_is_refused(olivia: User, meeting: Meeting) -> None:
    response = client_of(olivia).post(
        reverse("meetings:invite", args=[meeting.pk]), {}, follow=True
    )

    assert "Choose a building, a level or an owner to invite." in response.content.decode()
    assert not Ask.objects.exists()


def test_a_contact_of_another_organization_is_never_invited(
    olivia: User, meeting: Meeting, other_org: Organization
) -> None:
    walter = make_contact(make_unit(make_building(other_org), "0301", floor=3), name="Walter")

    with pytest.raises(Exception, match="Only residents of your organization"):
        invite(actor=olivia.membership, meeting=meeting, contacts=[walter])

    assert not Ask.objects.exists()


def test_nobody_is_invited_to_a_meeting_that_is_over(
    olivia: User, tonight: Meeting, maria: Contact
) -> None:
    with pytest.raises(Exception, match="This meeting is over"):
        invite(actor=olivia.membership, meeting=tonight, contacts=[maria])


def test_maybe_is_an_answer_to_an_invitation(
    olivia: User, meeting: Meeting, maria: Contact
) -> None:
    invite(actor=olivia.membership, meeting=meeting, contacts=[maria])
    ask = Ask.objects.get(meeting=meeting)

    client_of(olivia).post(reverse("contacts:answer_ask", args=[ask.pk]), {"answer": "maybe"})

    ask.refresh_from_db()
    assert ask.answer == Answer.MAYBE and ask.answered_at is not None


# Attendance on a phone


def attend(client: Client, meeting: Meeting, contact: Contact, key: str, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("meetings:attend", args=[meeting.pk]),
        {"contact": contact.pk, "key": key},
        headers=headers,
    )


def test_a_tap_marks_present_and_is_a_conversation_on_the_meeting_channel(
    olivia: User, tonight: Meeting, maria: Contact
) -> None:
    Ask.objects.create(
        contact=maria, meeting=tonight, question="Come?", due_on=timezone.localdate()
    )
    mark_lapsed(maria)

    response = attend(client_of(olivia), tonight, maria, new_key(), HX_Request="true")

    assert response.status_code == 200
    assert "Came ✓" in response.content.decode()
    attendance = Attendance.objects.get()
    assert (attendance.contact, attendance.walk_in) == (maria, False)
    assert attendance.visit.channel == Channel.MEETING
    assert attendance.visit.outcome == Outcome.CONVERSATION
    maria.refresh_from_db()
    assert maria.last_conversation_at == attendance.visit.happened_at
    assert maria.lapse_flag == "ok"


def test_a_double_tap_and_a_second_phone_are_one_attendance(
    olivia: User, cora: User, tonight: Meeting, maria: Contact
) -> None:
    Ask.objects.create(
        contact=maria, meeting=tonight, question="Come?", due_on=timezone.localdate()
    )
    key = new_key()

    attend(client_of(olivia), tonight, maria, key)
    attend(client_of(olivia), tonight, maria, key)
    second_phone = attend(client_of(cora), tonight, maria, new_key(), **REPLAY)

    assert second_phone.json()["status"] == "duplicate"
    assert Attendance.objects.count() == 1
    assert Visit.objects.filter(channel=Channel.MEETING).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_phones_marking_at_the_same_moment_record_once(
    olivia: User, omar: User, tonight: Meeting, maria: Contact
) -> None:
    barrier = threading.Barrier(2)

    def tap(user: User) -> None:
        barrier.wait()
        try:
            mark_present(
                actor=user.membership, meeting=tonight, contact=maria, idempotency_key=new_key()
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=tap, args=(u,)) for u in (olivia, omar)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Attendance.objects.count() == 1
    assert Visit.objects.filter(channel=Channel.MEETING).count() == 1


def test_attendance_sent_later_by_the_outbox_keeps_its_time_and_answers_json(
    olivia: User, tonight: Meeting, maria: Contact
) -> None:
    Ask.objects.create(
        contact=maria, meeting=tonight, question="Come?", due_on=timezone.localdate()
    )
    when = timezone.now() - 30 * dt.timedelta(minutes=1)
    data = {"contact": maria.pk, "key": "outbox-key-0001", "happened_at": when.isoformat()}
    url = reverse("meetings:attend", args=[tonight.pk])

    first = client_of(olivia).post(url, data, headers=REPLAY)
    again = client_of(olivia).post(url, data, headers=REPLAY)

    assert first.json()["status"] == "recorded"
    assert again.json()["status"] == "duplicate"
    assert Attendance.objects.get().visit.happened_at == when


def test_an_outsider_cannot_mark_anyone_present(
    xavier: User, tonight: Meeting, maria: Contact
) -> None:
    response = attend(client_of(xavier), tonight, maria, new_key())

    assert response.status_code == 404
    assert not Attendance.objects.exists()


def test_a_contact_of_another_organization_cannot_be_marked_present(
    olivia: User, tonight: Meeting, other_org: Organization
) -> None:
    walter = make_contact(make_unit(make_building(other_org), "0301", floor=3), name="Walter")

    response = attend(client_of(olivia), tonight, walter, new_key())

    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_a_walk_in_found_by_search_is_marked_as_a_walk_in(
    olivia: User, tonight: Meeting, maria: Contact
) -> None:
    as_olivia = client_of(olivia)
    page = as_olivia.get(reverse("meetings:attendance", args=[tonight.pk]), {"q": "mari"})
    assert "Maria Lopez" in page.content.decode()

    attend(as_olivia, tonight, maria, new_key())

    assert Attendance.objects.get().walk_in is True


def test_a_walk_in_search_with_a_nul_character_finds_by_the_rest_not_a_500(
    olivia: User, tonight: Meeting, maria: Contact
) -> None:
    """PostgreSQL text can't hold NUL (found by the fuzzer: DataError, a 500)."""
    url = reverse("meetings:attendance", args=[tonight.pk])

    page = client_of(olivia).get(url, {"q": "ma\x00ri"})

    assert page.status_code == 200
    assert "Maria Lopez" in page.content.decode()


def test_a_new_walk_in_is_added_as_a_resident_and_marked_present_once(
    olivia: User, tonight: Meeting
) -> None:
    url = reverse("meetings:walk_in", args=[tonight.pk])
    data = {"key": "walk-in-key-0001", "name": "Man from 702", "phone": ""}

    client_of(olivia).post(url, data)
    again = client_of(olivia).post(url, data, headers=REPLAY)

    assert again.json()["status"] == "duplicate"
    walk_in = Contact.objects.get(name="Man from 702")
    assert walk_in.owner == olivia
    assert Attendance.objects.get().contact == walk_in
    assert Attendance.objects.get().walk_in is True


def test_a_walk_in_with_no_name_is_refused_and_nothing_is_saved(
    olivia: User, tonight: Meeting
) -> None:
    response = client_of(olivia).post(
        reverse("meetings:walk_in", args=[tonight.pk]),
        {"key": "walk-in-key-0002", "name": "  ", "phone": "555 010 1234"},
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert "Give the walk-in&#x27;s name, or a description." in page
    assert 'value="555 010 1234"' in page
    assert not Contact.objects.exists() and not Attendance.objects.exists()


def test_nobody_is_marked_present_once_the_attendance_is_closed(
    olivia: User, tonight: Meeting, maria: Contact
) -> None:
    close_attendance(meeting=tonight)

    response = attend(client_of(olivia), tonight, maria, new_key(), **REPLAY)

    assert response.status_code == 422
    assert response.json()["message"] == "The attendance of this meeting is closed."
    assert not Visit.objects.exists()


def test_the_attendance_page_costs_the_same_for_300_invited(
    olivia: User,
    tonight: Meeting,
    unit_1204: Unit,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    people = residents(unit_1204, olivia, 300)
    Ask.objects.bulk_create(
        Ask(contact=c, meeting=tonight, question="Come?", due_on=timezone.localdate())
        for c in people
    )
    for person in people[:5]:
        mark_present(
            actor=olivia.membership, meeting=tonight, contact=person, idempotency_key=new_key()
        )
    as_olivia = client_of(olivia)

    # The invited she sees and, apart, how many are invited in all: each one query.
    with django_assert_max_num_queries(11):
        response = as_olivia.get(reverse("meetings:attendance", args=[tonight.pk]))
    sent = as_olivia.get(
        reverse("meetings:attendance", args=[tonight.pk]), headers={"Accept-Encoding": "gzip"}
    )

    page = response.content.decode()
    assert page.count("Came ✓") == 5
    assert page.count('name="contact"') == 295
    # What a phone downloads on a weak signal, compressed as the server sends it.
    assert sent["Content-Encoding"] == "gzip"
    assert len(sent.content) < 30 * 1024, len(sent.content)


# Turnout, and the no-shows


@pytest.fixture
def past_meeting(
    olivia: User, omar: User, unit_1204: Unit, maple: Building
) -> tuple[Meeting, dict[str, Contact]]:
    """Held yesterday: Maria and Ana said yes and came; Bea said yes and did not; Carl said
    no; Omar's Maya said yes and did not; Walk-in Wu came uninvited."""
    meeting = make_meeting(olivia.membership.organization, starts_in=-DAY)
    people = {
        name: make_contact(unit, owner=owner, name=name)
        for name, unit, owner in [
            ("Maria", unit_1204, olivia),
            ("Ana", unit_1204, olivia),
            ("Bea", unit_1204, olivia),
            ("Carl", unit_1204, olivia),
            ("Maya", make_unit(maple, "301"), omar),
            ("Wu", unit_1204, olivia),
        ]
    }
    for name, answer in [
        ("Maria", Answer.YES),
        ("Ana", Answer.YES),
        ("Bea", Answer.YES),
        ("Carl", Answer.NO),
        ("Maya", Answer.YES),
    ]:
        Ask.objects.create(
            contact=people[name],
            meeting=meeting,
            question="Come?",
            due_on=timezone.localdate() - DAY,
            answer=answer,
        )
    for name in ("Maria", "Ana", "Wu"):
        mark_present(
            actor=olivia.membership,
            meeting=meeting,
            contact=people[name],
            idempotency_key=new_key(),
            happened_at=meeting.starts_at + HOUR,
        )
    return meeting, people


def test_turnout_counts_invited_yes_and_came_by_building_and_owner(
    past_meeting: tuple[Meeting, dict[str, Contact]],
) -> None:
    meeting, _ = past_meeting

    turnout = meeting.turnout()

    total = turnout.total
    assert (total.invited, total.said_yes, total.came, total.walk_ins) == (5, 4, 3, 1)
    assert total.no_shows == 2
    riverside = turnout.by_building["Riverside Towers"]
    assert (riverside.invited, riverside.said_yes, riverside.came) == (4, 3, 3)
    maple = turnout.by_building["Maple Court"]
    assert (maple.invited, maple.said_yes, maple.came) == (1, 1, 0)
    assert (turnout.by_owner["omar"].said_yes, turnout.by_owner["omar"].came) == (1, 0)


def test_the_meeting_page_shows_turnout_in_constant_queries(
    cora: User,
    past_meeting: tuple[Meeting, dict[str, Contact]],
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    meeting, _ = past_meeting
    as_cora = client_of(cora)

    with django_assert_max_num_queries(12):
        page = as_cora.get(reverse("meetings:detail", args=[meeting.pk])).content.decode()

    assert "5 invited" in page and "4 said yes" in page and "3 came" in page
    assert "2 yes did not come" in page


def test_closing_the_attendance_follows_up_each_yes_who_did_not_come(
    cora: User,
    org: Organization,
    olivia: User,
    omar: User,
    past_meeting: tuple[Meeting, dict[str, Contact]],
) -> None:
    meeting, _ = past_meeting
    org.missed_meeting_days = 4
    org.save()

    response = client_of(cora).post(
        reverse("committee:close_meeting", args=[meeting.pk]), follow=True
    )

    assert "2 follow-ups planned" in response.content.decode()
    follow_ups = FollowUp.objects.filter(purpose=MISSED_THE_MEETING).order_by("contact__name")
    assert [(f.contact.name, f.assigned_to) for f in follow_ups] == [
        ("Bea", olivia),
        ("Maya", omar),
    ]
    assert {f.planned_for for f in follow_ups} == {timezone.localdate(meeting.starts_at) + 4 * DAY}


def test_closing_twice_or_by_the_task_too_plans_each_follow_up_once(
    past_meeting: tuple[Meeting, dict[str, Contact]],
) -> None:
    meeting, _ = past_meeting

    assert close_past_meetings() == 2
    assert close_attendance(meeting=meeting) == 0
    call_command("close_meetings")

    assert FollowUp.objects.filter(purpose=MISSED_THE_MEETING).count() == 2


def test_a_meeting_still_going_is_not_closed_by_the_task(tonight: Meeting) -> None:
    close_past_meetings()

    tonight.refresh_from_db()
    assert tonight.closed_at is None


def test_a_coming_meeting_cannot_be_closed(cora: User, meeting: Meeting) -> None:
    response = client_of(cora).post(
        reverse("committee:close_meeting", args=[meeting.pk]), follow=True
    )

    assert "has not started yet" in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.closed_at is None


def test_an_organizer_cannot_close_the_attendance(
    olivia: User, past_meeting: tuple[Meeting, dict[str, Contact]]
) -> None:
    meeting, _ = past_meeting

    response = client_of(olivia).post(reverse("committee:close_meeting", args=[meeting.pk]))

    assert response.status_code == 403
    assert not FollowUp.objects.exists()


# The committee's dashboard and settings


def test_the_dashboard_raises_a_meeting_with_a_poor_turnout_with_its_no_shows(
    cora: User, org: Organization, past_meeting: tuple[Meeting, dict[str, Contact]]
) -> None:
    org.turnout_alarm_percent = 75
    org.save()
    # Those who came said yes to other asks too: only this meeting's yes counts.
    _, people = past_meeting
    for name in ("Maria", "Ana"):
        Ask.objects.create(
            contact=people[name],
            question="Floor captain?",
            due_on=timezone.localdate(),
            answer=Answer.YES,
        )

    page = client_of(cora).get(reverse("committee:dashboard")).content.decode()

    assert "Poor turnout:" in page
    assert "2 of the 4 who said yes came." in page
    assert "Bea</a> (olivia)" in page and "Maya</a> (omar)" in page
    assert "Maria</a>" not in page.split("Did not come:")[1].split("</p>")[0]


def test_a_turnout_at_the_alarm_or_above_is_not_raised(
    cora: User, org: Organization, past_meeting: tuple[Meeting, dict[str, Contact]]
) -> None:
    org.turnout_alarm_percent = 50
    org.save()

    page = client_of(cora).get(reverse("committee:dashboard")).content.decode()

    assert "Poor turnout:" not in page


def test_a_meeting_long_past_is_no_longer_raised(
    cora: User, org: Organization, past_meeting: tuple[Meeting, dict[str, Contact]]
) -> None:
    org.turnout_alarm_percent = 75
    org.save()
    meeting, _ = past_meeting
    Meeting.objects.filter(pk=meeting.pk).update(starts_at=timezone.now() - 15 * DAY)

    page = client_of(cora).get(reverse("committee:dashboard")).content.decode()

    assert "Poor turnout:" not in page


def test_the_committee_sets_the_days_to_follow_up_and_the_turnout_alarm(
    cora: User, org: Organization
) -> None:
    as_cora = client_of(cora)
    form = as_cora.get(reverse("committee:settings")).context["form"]
    data = dict(form.initial)
    data |= {"missed_meeting_days": "5", "turnout_alarm_percent": "70"}

    response = as_cora.post(reverse("committee:settings"), data)

    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.missed_meeting_days, org.turnout_alarm_percent) == (5, 70)


def test_a_follow_up_window_of_zero_days_is_refused(cora: User, org: Organization) -> None:
    as_cora = client_of(cora)
    data = dict(as_cora.get(reverse("committee:settings")).context["form"].initial)
    data["missed_meeting_days"] = "0"

    response = as_cora.post(reverse("committee:settings"), data)

    assert response.status_code == 422
    assert "At least 1 day." in response.content.decode()
    org.refresh_from_db()
    assert org.missed_meeting_days == 3


# Invited at the door, in the Talked form


def talked(contact: Contact, **fields: object) -> dict[str, object]:
    return {
        "key": new_key(),
        "unit": contact.unit_id,
        "channel": Channel.DOOR,
        "note": "Angry about the heat",
        "level": Level.SUPPORTER,
        "drop_follow_up": "on",
    } | fields


def test_a_conversation_invites_to_a_coming_meeting_with_the_answer_given(
    olivia: User, meeting: Meeting, maria: Contact
) -> None:
    as_olivia = client_of(olivia)
    form = as_olivia.get(reverse("contacts:talk", args=[maria.pk])).content.decode()
    assert "Riverside tenants&#x27; meeting" in form

    as_olivia.post(
        reverse("contacts:talk", args=[maria.pk]),
        talked(maria, meeting=meeting.pk, meeting_answer=Answer.YES),
    )
    as_olivia.post(
        reverse("contacts:talk", args=[maria.pk]),
        talked(maria, meeting=meeting.pk, meeting_answer=Answer.MAYBE),
    )

    invitation = Ask.objects.get(meeting=meeting)
    assert invitation.contact == maria
    assert invitation.answer == Answer.MAYBE
    assert maria.visits.count() == 2


def test_the_talked_form_offers_no_meeting_of_another_building_or_past(
    olivia: User, org: Organization, maria: Contact, maple: Building, tonight: Meeting
) -> None:
    elsewhere = make_meeting(org)
    elsewhere.buildings.set([maple])

    form = client_of(olivia).get(reverse("contacts:talk", args=[maria.pk])).content.decode()
    response = client_of(olivia).post(
        reverse("contacts:talk", args=[maria.pk]), talked(maria, meeting=elsewhere.pk)
    )

    assert "Invite to a meeting" not in form
    assert response.status_code == 422
    assert not Visit.objects.exists() and not Ask.objects.exists()


def test_a_conversation_sent_late_after_the_meeting_began_keeps_all_but_the_invitation(
    olivia: User, meeting: Meeting, maria: Contact
) -> None:
    data = talked(maria, meeting=meeting.pk, meeting_answer=Answer.YES)
    data["happened_at"] = (timezone.now() - 2 * HOUR).isoformat()
    # The outbox sends it once the meeting has begun.
    Meeting.objects.filter(pk=meeting.pk).update(starts_at=timezone.now() - HOUR)

    response = client_of(olivia).post(
        reverse("contacts:talk", args=[maria.pk]), data, headers=REPLAY
    )

    assert response.json()["status"] == "recorded"
    assert maria.visits.count() == 1
    assert not Ask.objects.filter(meeting=meeting).exists()


# Reminded to confirm the yeses two days before


def test_today_and_the_digest_remind_the_owner_to_confirm_the_yeses_two_days_before(
    olivia: User, org: Organization, unit_1204: Unit
) -> None:
    soon = make_meeting(org, starts_in=DAY)
    later = make_meeting(org, starts_in=5 * DAY)
    answers = {"Yes Yolanda": Answer.YES, "Maybe Mo": Answer.MAYBE, "No Nadia": Answer.NO}
    for name, answer in answers.items():
        contact = make_contact(unit_1204, owner=olivia, name=name)
        for meeting in (soon, later):
            Ask.objects.create(
                contact=contact,
                meeting=meeting,
                question="Come?",
                due_on=timezone.localdate(),
                answer=answer,
            )

    page = client_of(olivia).get(reverse("home")).content.decode()
    message = owner_digest(olivia.membership, timezone.now())

    section = page.split("Meetings: confirm they are coming")[1].split("</section>")[0]
    assert "Yes Yolanda" in section and "(said yes)" in section
    assert "Maybe Mo" in section and "(said maybe)" in section
    assert "No Nadia" not in section
    assert section.count("confirm they are coming") == 2  # the meeting in 5 days is not
    assert message is not None
    assert message.subject == "Doorstep: 2 to confirm for a meeting"
    assert "Yes Yolanda" in message.body


def test_nobody_to_confirm_for_a_meeting_that_began(
    olivia: User, tonight: Meeting, maria: Contact
) -> None:
    Ask.objects.create(
        contact=maria,
        meeting=tonight,
        question="Come?",
        due_on=timezone.localdate(),
        answer=Answer.YES,
    )

    assert owner_digest(olivia.membership, timezone.now()) is None


def test_maybe_answers_only_an_invitation(olivia: User, maria: Contact) -> None:
    ask = Ask.objects.create(contact=maria, question="Floor captain?", due_on=timezone.localdate())

    response = client_of(olivia).post(
        reverse("contacts:answer_ask", args=[ask.pk]), {"answer": "maybe"}, follow=True
    )

    ask.refresh_from_db()
    assert ask.answer == Answer.PENDING
    assert "maybe, for a meeting" in response.content.decode()
