"""Each organization's scheduled work keeps its own clock (Organization.time_zone): the
owners' digest at 07:00 where it works, the committee's on its Monday at 07:30, the week's
pace and the committee's weekly chart from its own Monday. Beat fires every quarter hour;
here a Toronto organization and a Vancouver one, three hours behind, are served by the same
firings."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core import mail
from time_machine import TimeMachineFixture

from buildings.models import Building
from contacts.lapse.job import flag_lapsed
from contacts.models import DigestKind, DigestLog, LapseSummary
from contacts.tasks import send_committee_digests_task, send_owner_digests_task, take_paces_task
from organizing.models import Organization, Role
from tests.lapse.test_catching_up import (
    DAY,
    MONDAY,
    TUESDAY,
    at,
    fire,
    lapsed_contact,
    quarter_hours,
    sent_to,
)
from tests.makers import (
    make_building,
    make_contact,
    make_conversation,
    make_member,
    make_unit,
)

# `at` is Toronto's time (settings.TIME_ZONE): Vancouver's 07:00 is Toronto's 10:00.
VANCOUVER_LATER = 3


@pytest.fixture
def vancouver(db: None) -> Organization:
    return Organization.objects.create(
        name="Hastings Tenants", slug="hastings", time_zone="America/Vancouver"
    )


@pytest.fixture
def vera(vancouver: Organization) -> User:
    return make_member(vancouver, "vera", Role.ORGANIZER)


@pytest.fixture
def hastings(vancouver: Organization, vera: User) -> Building:
    return make_building(vancouver, name="Hastings Manor", organizers=(vera,))


def sent_at(sent: dict[dt.datetime, int]) -> list[dt.datetime]:
    return [moment for moment, count in sent.items() if count]


def test_each_organizations_owners_hear_at_7_by_their_own_clock_once(
    olivia: User,
    riverside: Building,
    vera: User,
    hastings: Building,
    time_machine: TimeMachineFixture,
) -> None:
    lapsed_contact(make_unit(riverside, "1204"), olivia, "Maria Lopez", at(TUESDAY, 0))
    lapsed_contact(make_unit(hastings, "301"), vera, "Ana Cruz", at(TUESDAY, 0))

    # From Vancouver's midnight: before it, Vancouver's Monday would still be due.
    sent = fire(
        send_owner_digests_task, quarter_hours(at(TUESDAY, 3), at(TUESDAY + DAY, 0)), time_machine
    )

    assert sent_at(sent) == [at(TUESDAY, 7), at(TUESDAY, 7 + VANCOUVER_LATER)]
    assert len(sent_to(olivia)) == 1 and len(sent_to(vera)) == 1
    # Each for its own Tuesday, which both still were at those hours.
    periods = DigestLog.objects.filter(kind=DigestKind.OWNER_DAILY).values_list("period", flat=True)
    assert sorted(periods) == [TUESDAY, TUESDAY]


def test_a_vancouver_committee_hears_on_its_own_monday_morning(
    cora: User, vancouver: Organization, time_machine: TimeMachineFixture
) -> None:
    victor = make_member(vancouver, "victor", Role.COMMITTEE)

    # From Vancouver's Monday midnight: Toronto's 07:30 is 04:30 there, nothing yet.
    sent = fire(
        send_committee_digests_task, quarter_hours(at(MONDAY, 3), at(MONDAY, 12)), time_machine
    )

    assert sent_at(sent) == [at(MONDAY, 7, 30), at(MONDAY, 7 + VANCOUVER_LATER, 30)]
    assert len(sent_to(cora)) == 1 and len(sent_to(victor)) == 1
    assert mail.outbox[1].to == [victor.email]


def test_the_pace_of_each_organization_is_taken_from_its_own_monday(
    olivia: User,
    riverside: Building,
    vera: User,
    hastings: Building,
    time_machine: TimeMachineFixture,
) -> None:
    lapsed_contact(make_unit(riverside, "1204"), olivia, "Maria Lopez", at(MONDAY, 0))
    lapsed_contact(make_unit(hastings, "301"), vera, "Ana Cruz", at(MONDAY, 0))
    flag_lapsed(now=at(MONDAY, 0, 5))

    sent = fire(take_paces_task, quarter_hours(at(MONDAY, 6), at(MONDAY, 10)), time_machine)

    assert sent_at(sent) == [at(MONDAY, 6, 15), at(MONDAY, 6 + VANCOUVER_LATER, 15)]
    weeks = {s.organization.slug: s.pace["week"] for s in LapseSummary.objects.all()}
    last_week = (MONDAY - 7 * DAY).isoformat()
    assert weeks == {"eastside": last_week, "hastings": last_week}


def test_the_committees_weekly_chart_starts_each_week_on_its_own_monday(
    olivia: User, riverside: Building, vera: User, hastings: Building
) -> None:
    maria = make_contact(make_unit(riverside, "1204"), owner=olivia, name="Maria Lopez")
    ana = make_contact(make_unit(hastings, "301"), owner=vera, name="Ana Cruz")
    # Late on Sunday, each in its own city: Vancouver's 22:00 is Monday 01:00 in Toronto.
    make_conversation(maria, olivia, at(MONDAY - DAY, 22))
    make_conversation(ana, vera, at(MONDAY, 1))

    flag_lapsed(now=at(MONDAY, VANCOUVER_LATER + 1))

    for contact in (maria, ana):
        summary = LapseSummary.objects.get(organization=contact.organization)
        assert (summary.conversations_this_week, summary.conversations_last_week) == (0, 1)
        assert summary.weeks[-1][0] == MONDAY.isoformat()
        assert summary.weeks[-2][0] == (MONDAY - 7 * DAY).isoformat()
