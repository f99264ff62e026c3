"""Changing a meeting called before (issue #20): the committee moves it, renames it, changes
its buildings; its invitations follow the new date, so the owner's warnings and the lapse
do too. Moving it into the past, or moving one that has begun, is refused with the input
kept and nothing saved.

Olivia organizes Riverside and owns Maria; Cora is on the committee; Xavier is from another
organization."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from buildings.models import Building
from contacts.actions import invite
from contacts.lapse.due import to_confirm
from contacts.models import Answer, Ask, Contact, Meeting
from organizing.models import Organization
from tests.makers import make_building

pytestmark = pytest.mark.usefixtures("clock")

DAY = dt.timedelta(days=1)
MINUTES = "%Y-%m-%dT%H:%M"


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def meeting(org: Organization, riverside: Building) -> Meeting:
    meeting = Meeting.objects.create(
        organization=org,
        title="Rent strike vote",
        starts_at=(timezone.localtime() + 5 * DAY).replace(hour=19, minute=0, second=0),
        place="Riverside lobby",
        purpose="Vote on the strike",
    )
    meeting.buildings.set([riverside])
    return meeting


def form_of(meeting: Meeting, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": meeting.title,
        "starts_at": timezone.localtime(meeting.starts_at).strftime(MINUTES),
        "place": meeting.place,
        "buildings": [b.pk for b in meeting.buildings.all()],
        "language": meeting.language,
        "purpose": meeting.purpose,
    }
    return data | changes


def edit_url(meeting: Meeting) -> str:
    return reverse("committee:edit_meeting", args=[meeting.pk])


def test_the_committee_sees_the_meeting_in_the_form(cora: User, meeting: Meeting) -> None:
    page = client_of(cora).get(edit_url(meeting)).content.decode()

    assert "Change the meeting" in page
    assert 'value="Rent strike vote"' in page and 'value="Riverside lobby"' in page
    starts = timezone.localtime(meeting.starts_at).strftime(MINUTES)
    assert f'value="{starts}"' in page
    detail = client_of(cora).get(reverse("meetings:detail", args=[meeting.pk])).content.decode()
    assert edit_url(meeting) in detail


def test_the_committee_changes_a_meeting_and_its_invitations_follow_the_new_date(
    cora: User, olivia: User, meeting: Meeting, maria: Contact, maple: Building
) -> None:
    invite(actor=olivia.membership, meeting=meeting, contacts=[maria])  # type: ignore[attr-defined]
    later = timezone.localtime(meeting.starts_at) + 3 * DAY
    as_cora = client_of(cora)

    response = as_cora.post(
        edit_url(meeting),
        form_of(
            meeting,
            title="Strike vote",
            starts_at=later.strftime(MINUTES),
            place="Maple Court hall",
            buildings=[maple.pk],
            language="fr",
            purpose="Vote",
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("meetings:detail", args=[meeting.pk])
    meeting.refresh_from_db()
    assert (meeting.title, meeting.place, meeting.language, meeting.purpose) == (
        "Strike vote",
        "Maple Court hall",
        "fr",
        "Vote",
    )
    assert timezone.localtime(meeting.starts_at).strftime(MINUTES) == later.strftime(MINUTES)
    assert list(meeting.buildings.all()) == [maple]
    invitation = Ask.objects.get(meeting=meeting)
    assert invitation.due_on == later.date() - DAY
    assert invitation.question == f"Come to “Strike vote” on {later:%b} {later.day}?"
    assert invitation.history.count() == 2  # the change is in the trail
    page = as_cora.get(response["Location"]).content.decode()
    assert "Meeting “Strike vote” changed. 1 invitation updated to match." in page


def test_a_yes_is_reminded_two_days_before_the_new_date_not_the_old_one(
    cora: User, olivia: User, meeting: Meeting, maria: Contact
) -> None:
    invite(actor=olivia.membership, meeting=meeting, contacts=[maria])  # type: ignore[attr-defined]
    Ask.objects.filter(meeting=meeting).update(answer=Answer.YES)
    old = meeting.starts_at
    later = timezone.localtime(old) + 7 * DAY
    client_of(cora).post(edit_url(meeting), form_of(meeting, starts_at=later.strftime(MINUTES)))

    membership = olivia.membership  # type: ignore[attr-defined]
    assert not to_confirm(membership, old - DAY)
    assert [line.contact for line in to_confirm(membership, later - DAY)] == [maria]


def test_an_answer_already_given_keeps_its_date(
    cora: User, olivia: User, meeting: Meeting, maria: Contact
) -> None:
    invite(actor=olivia.membership, meeting=meeting, contacts=[maria])  # type: ignore[attr-defined]
    Ask.objects.filter(meeting=meeting).update(answer=Answer.NO)
    due_before = Ask.objects.get().due_on
    later = timezone.localtime(meeting.starts_at) + 3 * DAY

    client_of(cora).post(edit_url(meeting), form_of(meeting, starts_at=later.strftime(MINUTES)))

    assert Ask.objects.get().due_on == due_before


def test_moving_a_meeting_into_the_past_is_refused_with_the_input_kept(
    cora: User, olivia: User, meeting: Meeting, maria: Contact
) -> None:
    invite(actor=olivia.membership, meeting=meeting, contacts=[maria])  # type: ignore[attr-defined]
    asked = Ask.objects.values_list("question", "due_on").get()
    yesterday = timezone.localtime() - DAY

    response = client_of(cora).post(
        edit_url(meeting),
        form_of(meeting, title="Strike vote", starts_at=yesterday.strftime(MINUTES)),
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert "A meeting can&#x27;t be moved into the past." in page
    assert 'value="Strike vote"' in page
    assert f'value="{yesterday.strftime(MINUTES)}"' in page
    # The page's heading still names the meeting as it is: nothing was saved.
    assert "Rent strike vote</a> \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} Change" in page
    meeting.refresh_from_db()
    assert meeting.title == "Rent strike vote" and meeting.starts_at > timezone.now()
    assert Ask.objects.values_list("question", "due_on").get() == asked


def test_moving_a_meeting_to_the_year_2205_is_refused(cora: User, meeting: Meeting) -> None:
    when = timezone.localtime(meeting.starts_at)
    response = client_of(cora).post(
        edit_url(meeting), form_of(meeting, starts_at=when.replace(year=2205).strftime(MINUTES))
    )

    assert response.status_code == 422
    assert "more than two years ahead" in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.starts_at == when


def test_a_meeting_that_has_begun_keeps_its_time_but_its_title_can_be_fixed(
    cora: User, org: Organization
) -> None:
    begun = Meeting.objects.create(
        organization=org,
        title="Tenants meting",
        starts_at=(timezone.localtime() - DAY).replace(second=0, microsecond=0),
        place="Lobby",
    )
    tomorrow = timezone.localtime() + DAY

    moved = client_of(cora).post(
        edit_url(begun), form_of(begun, starts_at=tomorrow.strftime(MINUTES))
    )
    fixed = client_of(cora).post(edit_url(begun), form_of(begun, title="Tenants' meeting"))

    assert moved.status_code == 422
    assert "The meeting has begun: its time can&#x27;t be changed." in moved.content.decode()
    assert fixed.status_code == 302
    begun.refresh_from_db()
    assert begun.title == "Tenants' meeting" and begun.starts_at < timezone.now()


def test_a_meeting_with_no_title_is_refused_and_nothing_is_saved(
    cora: User, meeting: Meeting
) -> None:
    response = client_of(cora).post(edit_url(meeting), form_of(meeting, title="", place="Hall"))

    assert response.status_code == 422
    assert 'value="Hall"' in response.content.decode()
    meeting.refresh_from_db()
    assert (meeting.title, meeting.place) == ("Rent strike vote", "Riverside lobby")


def test_another_organizations_building_is_refused(
    cora: User, meeting: Meeting, other_org: Organization
) -> None:
    theirs = make_building(other_org, name="Elsewhere")

    response = client_of(cora).post(edit_url(meeting), form_of(meeting, buildings=[theirs.pk]))

    assert response.status_code == 422
    assert list(meeting.buildings.values_list("name", flat=True)) == ["Riverside Towers"]


def test_an_organizer_may_not_change_a_meeting(olivia: User, meeting: Meeting) -> None:
    client = client_of(olivia)

    assert client.get(edit_url(meeting)).status_code == 403
    assert client.post(edit_url(meeting), form_of(meeting, title="Ours")).status_code == 403
    meeting.refresh_from_db()
    assert meeting.title == "Rent strike vote"
    detail = client.get(reverse("meetings:detail", args=[meeting.pk])).content.decode()
    assert edit_url(meeting) not in detail


def test_an_outsider_cannot_find_the_meeting(xavier: User, meeting: Meeting) -> None:
    response = client_of(xavier).post(edit_url(meeting), form_of(meeting, title="Theirs"))

    assert response.status_code == 404
    meeting.refresh_from_db()
    assert meeting.title == "Rent strike vote"
