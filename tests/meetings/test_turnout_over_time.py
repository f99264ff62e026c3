"""Turnout over time on the committee's dashboard (issue #20, Build 4): invited, said yes
and came for each of the recent meetings, drawn as bars that read without colour, with the
figures in a table.

Olivia organizes Riverside; Cora is on the committee; Xavier's organization holds its own
meetings, which Cora must never see."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from buildings.models import Unit
from contacts.actions import add_walk_in, mark_present
from contacts.models import Answer, Ask, Meeting
from organizing.models import Organization
from tests.makers import make_building, make_contact, make_unit, new_key

pytestmark = pytest.mark.usefixtures("clock")

DAY = dt.timedelta(days=1)
DASHBOARD = reverse("committee:dashboard")


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def held(
    organization: Organization,
    unit: Unit,
    *,
    days_ago: int,
    title: str,
    answers: tuple[str, ...],
    came: int,
    actor: User,
    walk_ins: int = 0,
) -> Meeting:
    """A meeting held `days_ago`, with an invitation for each answer and the first `came`
    of the invited present."""
    meeting = Meeting.objects.create(
        organization=organization,
        title=title,
        starts_at=timezone.now() - days_ago * DAY,
        place="Lobby",
    )
    invited = []
    for n, answer in enumerate(answers):
        contact = make_contact(unit, name=f"{title} guest {n}")
        Ask.objects.create(
            contact=contact,
            meeting=meeting,
            question="Come?",
            due_on=timezone.localdate(),
            answer=answer,
        )
        invited.append(contact)
    member = actor.membership  # type: ignore[attr-defined]
    for contact in invited[:came]:
        mark_present(
            actor=member,
            meeting=meeting,
            contact=contact,
            idempotency_key=new_key(),
            happened_at=meeting.starts_at,
        )
    for n in range(walk_ins):
        add_walk_in(
            actor=member,
            meeting=meeting,
            name=f"{title} walk-in {n}",
            phone="",
            submission_key=new_key(),
        )
    return meeting


def figures(page: str) -> list[tuple[str, ...]]:
    """The rows of the turnout table, as text."""
    table = page.split('id="turnout-heading"')[1].split("</table>")[0].split("<tbody>")[1]
    rows = table.split("<tr>")[1:]
    return [tuple(cell.split(">", 1)[1] for cell in row.split("</td>")[:-1]) for row in rows]


def test_the_dashboard_shows_invited_yes_and_came_for_each_meeting_held(
    cora: User, olivia: User, org: Organization, unit_1204: Unit
) -> None:
    Y, N, M = Answer.YES, Answer.NO, Answer.MAYBE
    held(org, unit_1204, days_ago=20, title="October", answers=(Y, Y, N, M), came=1, actor=olivia)
    held(
        org,
        unit_1204,
        days_ago=6,
        title="November",
        answers=(Y, Y, Y),
        came=3,
        walk_ins=2,
        actor=olivia,
    )
    # Not held yet: no turnout to show.
    Meeting.objects.create(
        organization=org, title="Coming", starts_at=timezone.now() + DAY, place="Lobby"
    )

    page = client_of(cora).get(DASHBOARD).content.decode()

    assert "Turnout, last 2 meetings" in page
    october, november = figures(page)
    assert october[1:] == ("4", "2", "1")
    assert november[1:] == ("3", "3", "5")  # walk-ins came too
    assert october[0].startswith("October, ") and november[0].startswith("November, ")
    assert "Coming" not in page.split('id="turnout-heading"')[1].split("</section>")[0]
    # The chart says the same to a screen reader, oldest first.
    chart = page.split('class="chart turnout"')[1].split("</svg>")[0]
    description = chart.split("<desc")[1].split("</desc>")[0]
    assert "October" in description.split("November")[0]
    assert "4 invited, 2 said yes, 1 came" in description
    assert "3 invited, 3 said yes, 5 came" in description


def test_the_chart_keeps_the_last_twelve_meetings(
    cora: User, olivia: User, org: Organization, unit_1204: Unit
) -> None:
    for n in range(14):
        held(
            org,
            unit_1204,
            days_ago=100 - n * 7,
            title=f"Meeting {n:02d}",
            answers=(),
            came=0,
            actor=olivia,
        )

    rows = figures(client_of(cora).get(DASHBOARD).content.decode())

    assert [row[0].split(",")[0] for row in rows] == [f"Meeting {n:02d}" for n in range(2, 14)]


def test_another_organizations_meetings_are_not_in_the_chart(
    cora: User, org: Organization, other_org: Organization, unit_1204: Unit, xavier: User
) -> None:
    elsewhere = make_unit(make_building(other_org, name="Elsewhere"), "101")
    held(
        other_org,
        elsewhere,
        days_ago=3,
        title="Their meeting",
        answers=(Answer.YES,),
        came=1,
        actor=xavier,
    )

    page = client_of(cora).get(DASHBOARD).content.decode()

    assert "Their meeting" not in page
    assert "No meeting has been held yet." in page


def test_an_organizer_does_not_see_the_turnout_chart(olivia: User) -> None:
    assert client_of(olivia).get(DASHBOARD).status_code == 403


def test_the_turnout_chart_costs_the_same_queries_however_many_meetings_and_guests(
    cora: User, olivia: User, org: Organization, unit_1204: Unit
) -> None:
    def queries() -> int:
        # Logged in first: what is counted is the dashboard, not the login's own queries.
        client = client_of(cora)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(DASHBOARD).status_code == 200
        return sum(
            "django_session" not in q["sql"] and not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
            for q in captured.captured_queries
        )

    held(org, unit_1204, days_ago=2, title="First", answers=(Answer.YES,), came=1, actor=olivia)
    queries()  # the organization's rules are read once, then kept (Rules.of)
    one = queries()
    for n in range(13):
        held(
            org,
            unit_1204,
            days_ago=3 + n,
            title=f"M{n}",
            answers=(Answer.YES, Answer.NO, Answer.MAYBE),
            came=2,
            walk_ins=1,
            actor=olivia,
        )
    many = queries()

    assert one == many
