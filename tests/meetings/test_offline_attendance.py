"""Attendance pages kept on the phone (issue #20): the attendance page of each meeting of
today and the next few days is in /offline/pages.json, so a phone that lost its signal in
the hall's basement before opening it still has the list; with a version that changes when
the page would, so the phone fetches it again only then.

Olivia organizes Riverside and owns Maria; Xavier is from another organization."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.actions import mark_present, reassign_contacts, record_visit
from contacts.models import Answer, Ask, Contact, Meeting, Outcome
from organizing.models import Organization
from tests.makers import make_contact, make_unit, new_key

pytestmark = pytest.mark.usefixtures("clock")

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def versions(client: Client) -> dict[str, str]:
    return dict(client.get(reverse("offline_pages")).json()["pages"])


def attendance_url(meeting: Meeting) -> str:
    return reverse("meetings:attendance", args=[meeting.pk])


def meeting_at(organization: Organization, starts_at: dt.datetime, title: str) -> Meeting:
    return Meeting.objects.create(
        organization=organization, title=title, starts_at=starts_at, place="Hall"
    )


def test_the_attendance_pages_of_the_coming_days_are_kept(
    olivia: User, org: Organization, other_org: Organization
) -> None:
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    this_morning = meeting_at(org, midnight + 9 * HOUR, "This morning")
    in_three_days = meeting_at(org, midnight + 3 * DAY + 20 * HOUR, "In three days")
    in_five_days = meeting_at(org, midnight + 5 * DAY, "In five days")
    last_night = meeting_at(org, midnight - 3 * HOUR, "Last night")
    closed = meeting_at(org, midnight + 8 * HOUR, "Closed")
    Meeting.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    theirs = meeting_at(other_org, midnight + 10 * HOUR, "Theirs")

    urls = list(versions(client_of(olivia)))

    assert attendance_url(this_morning) in urls and attendance_url(in_three_days) in urls
    for left_out in (in_five_days, last_night, closed, theirs):
        assert attendance_url(left_out) not in urls
    # Soon needed and few: right after Today, before the turf's many pages.
    assert urls[1:3] == [attendance_url(this_morning), attendance_url(in_three_days)]


def test_a_kept_attendance_page_opens_for_the_member(
    olivia: User, org: Organization, maria: Contact
) -> None:
    meeting = meeting_at(org, timezone.now() + HOUR, "Tonight")
    Ask.objects.create(
        contact=maria, meeting=meeting, question="Come?", due_on=timezone.localdate()
    )
    as_olivia = client_of(olivia)
    assert attendance_url(meeting) in versions(as_olivia)

    page = as_olivia.get(attendance_url(meeting))

    assert page.status_code == 200 and "Maria" in page.content.decode()


def test_the_version_changes_when_the_attendance_page_would(
    olivia: User,
    omar: User,
    cora: User,
    org: Organization,
    maria: Contact,
    unit_1204: Unit,
    maple: Building,
) -> None:
    meeting = meeting_at(org, timezone.now() + HOUR, "Tonight")
    invitation = Ask.objects.create(
        contact=maria, meeting=meeting, question="Come?", due_on=timezone.localdate()
    )
    neighbour = make_contact(unit_1204, owner=olivia, name="Neighbour")
    as_olivia = client_of(olivia)
    url = attendance_url(meeting)
    seen = [versions(as_olivia)[url]]
    assert versions(as_olivia)[url] == seen[0]  # asked twice, nothing changed

    # Someone not invited is talked to: not on this page.
    record_visit(
        actor=olivia.membership,  # type: ignore[attr-defined]
        contact=neighbour,
        unit=unit_1204,
        outcome=Outcome.NOT_HOME,
        idempotency_key=new_key(),
    )
    assert versions(as_olivia)[url] == seen[0]

    invitation.answer, invitation.answered_at = Answer.YES, timezone.now() + HOUR
    invitation.save()
    seen.append(versions(as_olivia)[url])
    Ask.objects.create(
        contact=neighbour, meeting=meeting, question="Come?", due_on=timezone.localdate()
    )
    seen.append(versions(as_olivia)[url])
    mark_present(
        actor=olivia.membership,  # type: ignore[attr-defined]
        meeting=meeting,
        contact=maria,
        idempotency_key=new_key(),
    )
    seen.append(versions(as_olivia)[url])
    maria.name = "Maria Lopez"
    maria.save()
    seen.append(versions(as_olivia)[url])
    Meeting.objects.filter(pk=meeting.pk).update(place="Lobby")
    seen.append(versions(as_olivia)[url])
    # Someone invited from another building is handed to her: now on her list.
    elsewhere = make_contact(make_unit(maple, "301"), owner=omar, name="Maya")
    Ask.objects.create(
        contact=elsewhere, meeting=meeting, question="Come?", due_on=timezone.localdate()
    )
    seen.append(versions(as_olivia)[url])
    reassign_contacts(actor=cora.membership, contacts=[elsewhere], to_owner=olivia)  # type: ignore[attr-defined]
    seen.append(versions(as_olivia)[url])

    assert len(set(seen)) == len(seen)


def test_an_outsider_is_never_given_our_attendance_pages(xavier: User, org: Organization) -> None:
    meeting = meeting_at(org, timezone.now() + HOUR, "Tonight")

    assert attendance_url(meeting) not in versions(client_of(xavier))


def test_the_list_costs_the_same_queries_with_more_meetings_and_guests(
    olivia: User, org: Organization, unit_1204: Unit
) -> None:
    as_olivia = client_of(olivia)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert as_olivia.get(reverse("offline_pages")).status_code == 200
        return len(captured)

    meeting_at(org, timezone.now() + HOUR, "Tonight")
    one = queries()
    for n in range(4):
        meeting = meeting_at(org, timezone.now() + n * DAY + 2 * HOUR, f"Meeting {n}")
        for m in range(5):
            guest = make_contact(unit_1204, name=f"Guest {n}-{m}")
            Ask.objects.create(
                contact=guest, meeting=meeting, question="Come?", due_on=timezone.localdate()
            )
    more = queries()

    assert one == more
