"""Knocks made without a signal and sent later by the phone's outbox."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from buildings.models import Building, Turf, Unit
from contacts.actions import reassign_contacts, record_visit
from contacts.models import Ask, Contact, FollowUp, Outcome, Status, Visit
from organizing.models import Organization
from tests.makers import make_building, make_contact, make_unit, new_key

pytestmark = pytest.mark.usefixtures("clock")  # today is a fixed date: see `clock`

REPLAY = {"X-Doorstep-Replay": "1", "Accept": "application/json"}
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@pytest.fixture
def as_olivia(olivia: User) -> Client:
    client = Client()
    client.force_login(olivia)
    return client


def knock_url(unit: Unit) -> str:
    return reverse("buildings:knock", args=[unit.building_id, unit.pk])


def queued(
    contact: Contact, outcome: str, when: dt.datetime, key: str = "outbox-key-0001"
) -> dict[str, str]:
    """What outbox.js sends: the page's form fields, plus when the knock happened."""
    return {
        "contact": str(contact.pk),
        "owner": str(contact.owner_id),
        f"c{contact.pk}-outcome": outcome,
        f"c{contact.pk}-key": key,
        "happened_at": when.isoformat(),
    }


def test_a_knock_sent_hours_late_keeps_the_time_it_happened(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    when = timezone.now() - 3 * HOUR

    response = as_olivia.post(knock_url(unit_1204), queued(maria, "not_home", when), headers=REPLAY)

    assert response.json() == {
        "status": "recorded",
        "message": "Not home: Maria Lopez.",
        "needs_look": "",
    }
    visit = Visit.objects.get()
    assert visit.happened_at == when and visit.recorded_at > when
    assert Contact.objects.get(pk=maria.pk).last_attempt_at == when


def test_a_late_conversation_never_moves_the_last_conversation_backwards(
    as_olivia: Client, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.CONVERSATION,
        idempotency_key=new_key(),
    )
    talked_at = Contact.objects.get(pk=maria.pk).last_conversation_at
    late = {
        "key": "outbox-talk-0001",
        "unit": str(maria.unit_id),
        "channel": "door",
        "note": "Talked in the hall",
        "level": "2",
        "happened_at": (timezone.now() - 5 * HOUR).isoformat(),
    }

    as_olivia.post(reverse("contacts:talk", args=[maria.pk]), late, headers=REPLAY)

    assert Contact.objects.get(pk=maria.pk).last_conversation_at == talked_at


def test_the_same_outbox_replayed_twice_records_nothing_new(
    as_olivia: Client, maria: Contact, unit_1204: Unit, riverside: Building
) -> None:
    doors = [make_unit(riverside, label) for label in ("1201", "1202")]
    when = timezone.now() - HOUR
    outbox = [
        (knock_url(unit_1204), queued(maria, "not_home", when)),
        (
            reverse("buildings:bulk_not_home", args=[riverside.pk]),
            {
                "units": [str(d.pk) for d in doors],
                "key": "outbox-bulk-0001",
                "happened_at": when.isoformat(),
            },
        ),
    ]

    first = [as_olivia.post(url, data, headers=REPLAY).json()["status"] for url, data in outbox]
    second = [as_olivia.post(url, data, headers=REPLAY).json()["status"] for url, data in outbox]

    assert first == ["recorded", "recorded"] and second == ["duplicate", "duplicate"]
    assert Visit.objects.count() == 3
    assert set(Visit.objects.values_list("happened_at", flat=True)) == {when}


def test_a_knock_on_someone_who_moved_meanwhile_is_recorded_and_needs_a_look(
    as_olivia: Client, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    data = queued(maria, "not_home", timezone.now() - 2 * HOUR)
    record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.MOVED_OUT,
        idempotency_key=new_key(),
    )

    answer = as_olivia.post(knock_url(unit_1204), data, headers=REPLAY).json()

    assert answer["status"] == "recorded"
    assert "no longer lives in 1204" in answer["needs_look"]
    assert Visit.objects.filter(needs_look__contains="no longer lives").count() == 1
    assert "Knocks sent late that need a look" in as_olivia.get(reverse("home")).content.decode()


def test_a_knock_on_someone_reassigned_meanwhile_is_recorded_and_needs_a_look(
    as_olivia: Client, cora: User, maria: Contact, unit_1204: Unit
) -> None:
    data = queued(maria, "come_back", timezone.now() - HOUR)
    Contact.objects.filter(pk=maria.pk).update(owner=cora)

    answer = as_olivia.post(knock_url(unit_1204), data, headers=REPLAY).json()

    assert answer["status"] == "recorded"
    assert "handed to another organizer" in answer["needs_look"]


def test_a_knock_for_a_deleted_unit_is_answered_404_so_the_phone_keeps_it(
    as_olivia: Client, riverside: Building
) -> None:
    unit = make_unit(riverside, "1208")
    url = knock_url(unit)
    unit.delete()

    response = as_olivia.post(
        url, {"door-outcome": "not_home", "door-key": "outbox-key-0009"}, headers=REPLAY
    )

    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_a_knock_whose_session_expired_is_sent_to_log_in_and_not_recorded(
    maria: Contact, unit_1204: Unit
) -> None:
    response = Client().post(
        knock_url(unit_1204), queued(maria, "not_home", timezone.now()), headers=REPLAY
    )

    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Visit.objects.exists()


def test_a_knock_older_than_thirty_days_is_refused_with_a_reason(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    data = queued(maria, "not_home", timezone.now() - dt.timedelta(days=31))

    response = as_olivia.post(knock_url(unit_1204), data, headers=REPLAY)

    assert response.status_code == 422
    assert "more than 30 days old" in response.json()["message"]
    assert not Visit.objects.exists()


@pytest.mark.parametrize("view", ["buildings:knock", "contacts:talk"])
def test_a_time_past_the_last_day_a_calendar_has_is_refused_not_a_500(
    as_olivia: Client, maria: Contact, unit_1204: Unit, view: str
) -> None:
    """Year 9999's last second at -23:59 is a moment with no local day (found by the
    fuzzer: OverflowError while working out the day of a conversation)."""
    if view == "buildings:knock":
        args = [unit_1204.building_id, unit_1204.pk]
        data = queued(maria, "not_home", timezone.now())
    else:
        args = [maria.pk]
        data = {"key": "outbox-talk-0001", "unit": str(maria.unit_id), "channel": "door"}
        data |= {"note": "Talked in the hall", "level": "2"}
    data["happened_at"] = "9999-12-31T23:59:59-23:59"

    response = as_olivia.post(reverse(view, args=args), data, headers=REPLAY)

    assert response.status_code == 422
    assert "can't be recorded in the future" in response.content.decode()
    assert not Visit.objects.exists()


def test_the_pages_kept_offline_are_the_organizers_turf_and_own_contacts(
    as_olivia: Client, olivia: User, maria: Contact, unit_1204: Unit, maple: Building
) -> None:
    theirs = make_contact(make_unit(maple, "1A", floor=1), owner=None, name="Not hers")

    answer = as_olivia.get(reverse("offline_pages")).json()
    urls = [url for url, _version in answer["pages"]]

    assert answer["idle_minutes"] == 120  # offline, shown no longer than a session lasts
    assert reverse("home") in urls
    assert reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]) in urls
    assert reverse("contacts:detail", args=[maria.pk]) in urls
    assert reverse("buildings:detail", args=[maple.pk]) not in urls
    assert reverse("contacts:detail", args=[theirs.pk]) not in urls


def test_the_service_worker_is_served_from_the_root(client: Client) -> None:
    response = client.get("/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b'addEventListener("fetch"' in response.content


def test_the_pages_link_the_manifest_and_the_outbox(as_olivia: Client, maria: Contact) -> None:
    page = as_olivia.get(reverse("home")).content.decode()

    assert "manifest.webmanifest" in page and "js/outbox.js" in page
    assert 'name="doorstep-rendered-at"' in page


def test_moved_contacts_are_not_kept_offline(as_olivia: Client, maria: Contact) -> None:
    Contact.objects.filter(pk=maria.pk).update(status=Status.MOVED)

    urls = [url for url, _version in as_olivia.get(reverse("offline_pages")).json()["pages"]]

    assert reverse("contacts:detail", args=[maria.pk]) not in urls


def talk_url(contact: Contact) -> str:
    return reverse("contacts:talk", args=[contact.pk])


def replayed_talk(when: dt.datetime) -> dict[str, str]:
    return {
        "key": "outbox-talk-0042",
        "channel": "door",
        "note": "Said yes to the meeting",
        "level": "3",
        "happened_at": when.isoformat(),
    }


@pytest.fixture
def not_hers(maple: Building) -> Contact:
    """A resident of Omar's building, owned by nobody: never on Olivia's turf."""
    return make_contact(make_unit(maple, "1A", floor=1), owner=None, name="Rosa Quintero")


def test_the_replay_header_shows_no_page_of_a_contact_off_the_turf(
    as_olivia: Client, not_hers: Contact
) -> None:
    response = as_olivia.get(talk_url(not_hers), headers=REPLAY)

    assert response.status_code == 404
    assert "Rosa Quintero" not in response.content.decode()


def test_a_replay_for_a_contact_never_on_the_turf_records_nothing(
    as_olivia: Client, not_hers: Contact, unit_1204: Unit
) -> None:
    when = timezone.now() - HOUR

    talked = as_olivia.post(talk_url(not_hers), replayed_talk(when), headers=REPLAY)
    # Named in a knock on a door of her own turf, as a forged outbox would.
    knocked = as_olivia.post(
        knock_url(unit_1204), queued(not_hers, "do_not_contact", when), headers=REPLAY
    )

    assert talked.status_code == knocked.status_code == 404
    assert "Rosa Quintero" not in talked.content.decode() + knocked.content.decode()
    assert not Visit.objects.exists()
    assert Contact.objects.get(pk=not_hers.pk).status == Status.ACTIVE


def test_a_conversation_sent_after_the_contact_was_handed_on_keeps_only_the_conversation(
    as_olivia: Client, cora: User, omar: User, maria: Contact, unit_1204: Unit, maple: Building
) -> None:
    data = replayed_talk(timezone.now() - 2 * HOUR) | {
        "unit": str(unit_1204.pk),
        "level": "5",
        "ask": "Will you chair the meeting?",
        "ask_due_on": (timezone.localdate() + DAY).isoformat(),
        "follow_up_on": timezone.localdate().isoformat(),
        "follow_up_purpose": "Hear her answer",
    }
    # Meanwhile the committee moved her into Omar's building and gave her to him.
    maria.unit = make_unit(maple, "3C", floor=3)
    maria.save()
    reassign_contacts(actor=cora.membership, contacts=[maria], to_owner=omar)

    answer = as_olivia.post(talk_url(maria), data, headers=REPLAY).json()

    assert answer["status"] == "recorded"
    assert "not the level, ask or next visit" in answer["needs_look"]
    visit = Visit.objects.get()
    assert visit.contact == maria and visit.note == "Said yes to the meeting"
    assert visit.unit == unit_1204  # the door where they talked, not where she lives now
    maria.refresh_from_db()
    assert maria.level != 5 and maria.last_conversation_at == visit.happened_at
    assert not Ask.objects.exists() and not FollowUp.objects.exists()
    today = as_olivia.get(reverse("home")).content.decode()
    # Neither the follow-up nor her new building: "3C" alone could be in the CSRF token.
    assert "Maple Court" not in today and "Hear her answer" not in today


def test_a_turf_given_today_reaches_nobody_who_left_it_before(
    as_olivia: Client, olivia: User, omar: User, org: Organization, maple: Building
) -> None:
    rosa = make_contact(make_unit(maple, "1A", floor=1), owner=omar, name="Rosa Quintero")
    rosa.unit = make_unit(make_building(org, name="Elm House"), "7B", floor=7)
    rosa.save()
    Contact.history.filter(id=rosa.pk).update(history_date=timezone.now() - 10 * DAY)
    Turf.objects.create(building=maple, organizer=olivia)  # today: she never saw Rosa
    door = make_unit(maple, "2A", floor=2)

    knocked = as_olivia.post(
        knock_url(door), queued(rosa, "not_home", timezone.now()), headers=REPLAY
    )
    talked = as_olivia.post(talk_url(rosa), replayed_talk(timezone.now()), headers=REPLAY)

    assert knocked.status_code == talked.status_code == 404
    assert not Visit.objects.exists()


def test_a_contact_who_left_the_turf_over_thirty_days_ago_is_out_of_replay_reach(
    as_olivia: Client, maria: Contact, maple: Building
) -> None:
    maria.unit = make_unit(maple, "3C", floor=3)
    maria.owner = None
    maria.save()
    long_ago = timezone.now() - dt.timedelta(days=40)
    Contact.history.filter(id=maria.pk).update(history_date=long_ago)

    response = as_olivia.post(talk_url(maria), replayed_talk(timezone.now() - HOUR), headers=REPLAY)

    assert response.status_code == 404
    assert not Visit.objects.exists()


def versions(client: Client) -> dict[str, str]:
    return dict(client.get(reverse("offline_pages")).json()["pages"])


def test_a_page_kept_offline_changes_version_only_when_what_it_shows_changes(
    as_olivia: Client, olivia: User, maria: Contact, unit_1204: Unit, riverside: Building
) -> None:
    neighbour_door = make_unit(riverside, "1205")
    unit_page = reverse("buildings:unit", args=[riverside.pk, unit_1204.pk])
    neighbour_page = reverse("buildings:unit", args=[riverside.pk, neighbour_door.pk])
    before = versions(as_olivia)
    assert versions(as_olivia) == before  # asked twice, nothing changed

    record_visit(
        actor=olivia.membership,
        contact=maria,
        unit=unit_1204,
        outcome=Outcome.NOT_HOME,
        idempotency_key=new_key(),
    )
    after = versions(as_olivia)

    assert after[unit_page] != before[unit_page]
    assert (
        after[reverse("buildings:detail", args=[riverside.pk])]
        != before[reverse("buildings:detail", args=[riverside.pk])]
    )
    assert (
        after[reverse("contacts:detail", args=[maria.pk])]
        != before[reverse("contacts:detail", args=[maria.pk])]
    )
    assert after[neighbour_page] == before[neighbour_page]  # the phone fetches only this door


def test_the_talked_form_of_every_resident_on_the_turf_is_kept(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    urls = versions(as_olivia)

    assert f"{reverse('contacts:talk', args=[maria.pk])}?unit={unit_1204.pk}" in urls
    assert reverse("contacts:talk_new", args=["new"]) in urls


def test_the_list_of_pages_asked_again_unchanged_is_answered_304(
    as_olivia: Client, maria: Contact
) -> None:
    first = as_olivia.get(reverse("offline_pages"))

    again = as_olivia.get(reverse("offline_pages"), headers={"If-None-Match": first["ETag"]})

    assert first.status_code == 200 and first["Cache-Control"] == "private, no-cache"
    assert again.status_code == 304 and again.content == b""


def test_the_list_of_pages_costs_the_same_queries_for_a_bigger_turf(
    as_olivia: Client, maria: Contact, riverside: Building, olivia: User
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        as_olivia.get(reverse("offline_pages"))
    for label in ("1301", "1302", "1303"):
        make_contact(make_unit(riverside, label), owner=olivia, name=f"Resident {label}")
    with CaptureQueriesContext(connection) as bigger:
        as_olivia.get(reverse("offline_pages"))

    assert len(bigger) == len(small)


def test_a_resident_added_offline_and_talked_to_offline_arrive_as_one_person_with_one_talk(
    as_olivia: Client, unit_1204: Unit
) -> None:
    resident_key = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    add = reverse("buildings:new_resident", args=[unit_1204.building_id, unit_1204.pk])
    talk = reverse("contacts:talk_new", args=[resident_key])
    when = timezone.now() - 2 * HOUR
    resident = {"name": "Ana Sousa", "phone": "", "language": "pt", "key": resident_key}
    conversation = replayed_talk(when + dt.timedelta(minutes=5)) | {"unit": str(unit_1204.pk)}

    for _ in range(2):  # the whole outbox sent twice: from two tabs, or a retry
        added = as_olivia.post(add, resident | {"happened_at": when.isoformat()}, headers=REPLAY)
        talked = as_olivia.post(talk, conversation, headers=REPLAY)
        assert added.status_code == 200 and talked.status_code == 200

    ana = Contact.objects.get(name="Ana Sousa")
    assert ana.unit == unit_1204 and ana.level == 3
    assert list(ana.visits.values_list("outcome", "note")) == [
        (Outcome.CONVERSATION, "Said yes to the meeting")
    ]
    assert talked.json()["status"] == "duplicate"


def test_a_talk_for_a_resident_the_server_never_got_is_refused_404_and_kept(
    as_olivia: Client, unit_1204: Unit
) -> None:
    talk = reverse("contacts:talk_new", args=["f" * 32])

    answer = as_olivia.post(talk, replayed_talk(timezone.now()), headers=REPLAY)

    assert answer.status_code == 404
    assert not Visit.objects.exists()


def test_the_talked_form_of_a_resident_added_on_the_phone_is_one_page_for_all(
    as_olivia: Client, unit_1204: Unit
) -> None:
    page = as_olivia.get(reverse("contacts:talk_new", args=["new"]))

    assert page.status_code == 200
    assert "Talked with the resident you added" in page.content.decode()
    assert 'data-outbox="the resident you added"' in page.content.decode()


def test_a_resident_of_another_organization_is_not_found_by_their_key(
    as_olivia: Client, other_org: Organization
) -> None:
    theirs = make_contact(
        make_unit(make_building(other_org, name="Elsewhere"), "1A", floor=1), name="Not ours"
    )
    Contact.objects.filter(pk=theirs.pk).update(submission_key="b" * 32)

    page = as_olivia.get(reverse("contacts:talk_new", args=["b" * 32]))
    replay = as_olivia.post(
        reverse("contacts:talk_new", args=["b" * 32]),
        replayed_talk(timezone.now()),
        headers=REPLAY,
    )

    assert "Not ours" not in page.content.decode()
    assert replay.status_code == 404
    assert not Visit.objects.exists()


def test_a_conversation_sent_days_late_counts_its_dates_from_the_day_it_happened(
    as_olivia: Client, maria: Contact
) -> None:
    """Talked on Monday with no signal, sent on Thursday: "in a week" is the Monday after,
    the proposed visit counts from Monday, and a date picked for Tuesday is not refused as
    past."""
    monday = timezone.now() - 3 * DAY
    week_later = {**replayed_talk(monday), "ask": "Come to the meeting?", "ask_due": "7"}
    picked = {
        **replayed_talk(monday),
        "key": "outbox-talk-0043",
        "ask": "Sign the petition?",
        "ask_due": "pick",
        "ask_due_on": (timezone.localdate(monday) + DAY).isoformat(),
    }

    sent = as_olivia.post(talk_url(maria), week_later, headers=REPLAY)
    sent_picked = as_olivia.post(talk_url(maria), picked, headers=REPLAY)

    assert sent.json()["status"] == "recorded"
    assert sent_picked.json()["status"] == "recorded"
    monday_day = timezone.localdate(monday)
    dues = dict(Ask.objects.values_list("question", "due_on"))
    assert dues == {
        "Come to the meeting?": monday_day + 7 * DAY,
        "Sign the petition?": monday_day + DAY,
    }
    # Level 3 is due two weeks (21 days, less three of warning) after Monday's talk.
    visit = FollowUp.objects.order_by("pk").first()
    assert visit is not None and visit.planned_for == monday_day + 18 * DAY
