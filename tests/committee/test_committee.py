"""Cora at the committee's weekly meeting: who is lapsed, who owns them, what to do.

Olivia and Omar organize and must be refused every committee screen. Xavier, an admin of
another organization, sees his own dashboard and never one of our names; our contact ids
are not found for him.

The page counts days, weeks from Monday and dates of the organization's time zone, so the
clock of every test here starts on a Wednesday at noon: no midnight and no Monday passes
between setting a test up and reading the page.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from time_machine import TimeMachineFixture

from buildings.models import Building, Unit
from contacts.actions import record_visit
from contacts.lapse.job import flag_lapsed
from contacts.lapse.summary import local_monday
from contacts.models import (
    Answer,
    Ask,
    Contact,
    ExportLog,
    FollowUp,
    LapseEpisode,
    LapseFlag,
    LapseSummary,
    LapseThreshold,
    Level,
    Outcome,
    OwnerChange,
)
from organizing.models import Organization, Role
from tests.makers import (
    make_building,
    make_contact,
    make_member,
    make_unit,
    mark_lapsed,
    new_key,
)

DAY = dt.timedelta(days=1)
HTMX = {"HX-Request": "true"}
DASHBOARD = reverse("committee:dashboard")
REASSIGN = reverse("committee:reassign")
EXPORT = reverse("committee:export")
SETTINGS = reverse("committee:settings")
WEDNESDAY_NOON = timezone.make_aware(dt.datetime(2031, 3, 12, 12))


@pytest.fixture(autouse=True)
def wednesday_noon(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(WEDNESDAY_NOON, tick=True)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_cora(cora: User) -> Client:
    return client_for(cora)


def ago(days: float) -> dt.datetime:
    return timezone.now() - days * DAY


def talk(contact: Contact, by: User, days_ago: float, note: str = "") -> None:
    record_visit(
        actor=by.membership,
        contact=contact,
        outcome=Outcome.CONVERSATION,
        happened_at=ago(days_ago),
        note=note,
        idempotency_key=new_key(),
    )


def knock(contact: Contact, by: User, days_ago: float) -> None:
    record_visit(
        actor=by.membership,
        contact=contact,
        outcome=Outcome.NOT_HOME,
        happened_at=ago(days_ago),
        idempotency_key=new_key(),
    )


def resident(
    unit: Unit, owner: User | None, name: str, level: int, added_days_ago: int = 120
) -> Contact:
    return make_contact(unit, owner=owner, name=name, level=level, created_at=ago(added_days_ago))


def snooze_url(contact: Contact) -> str:
    return reverse("committee:snooze", args=[contact.pk])


def fresh(contact: Contact) -> Contact:
    return Contact.objects.get(pk=contact.pk)


@pytest.fixture
def lapsed_people(riverside: Building, maple: Building, olivia: User, omar: User) -> dict:
    """Four lapsed contacts of different severity, one who is fine, one due soon."""
    people = {
        "ana": resident(make_unit(riverside, "301"), olivia, "Ana Leader", Level.LEADER),
        "bo": resident(make_unit(riverside, "302"), olivia, "Bo Leader", Level.LEADER),
        "cy": resident(make_unit(maple, "1A", floor=1), omar, "Cy Supporter", Level.SUPPORTER),
        "di": resident(make_unit(maple, "1B", floor=1), omar, "Di Newcomer", Level.NEW),
        "ed": resident(make_unit(riverside, "303"), olivia, "Ed Fine", Level.LEADER),
        "fay": resident(make_unit(riverside, "304"), olivia, "Fay Soon", Level.LEADER),
    }
    # Leader threshold 7 days: Ana is 3 days overdue and was knocked for twice since.
    talk(people["ana"], olivia, days_ago=10, note="Wants to chair the meeting")
    knock(people["ana"], olivia, days_ago=5)
    knock(people["ana"], olivia, days_ago=2)
    # Bo is 13 days overdue and nobody tried since.
    talk(people["bo"], olivia, days_ago=20, note="Worried about the rent hike")
    # A supporter (21 days) 19 days overdue: less severe than any leader.
    talk(people["cy"], omar, days_ago=40)
    # A new contact (60 days) added 120 days ago and never talked to.
    talk(people["ed"], olivia, days_ago=1)
    talk(people["fay"], olivia, days_ago=6)
    flag_lapsed()
    return people


def names_in_order(page: str, names: list[str]) -> list[str]:
    return sorted(names, key=page.index)


# The lapsed list


def test_the_lapsed_list_puts_the_highest_level_first_then_the_longest_overdue(
    as_cora: Client, lapsed_people: dict
) -> None:
    page = as_cora.get(DASHBOARD).content.decode()

    listed = ["Ana Leader", "Bo Leader", "Cy Supporter", "Di Newcomer"]
    assert all(name in page for name in listed)
    assert names_in_order(page, listed) == [
        "Bo Leader",
        "Ana Leader",
        "Cy Supporter",
        "Di Newcomer",
    ]
    assert "Ed Fine" not in page
    assert "Fay Soon" not in page


def test_a_row_tells_tried_n_times_apart_from_nobody_tried_and_shows_the_last_note(
    as_cora: Client, lapsed_people: dict
) -> None:
    page = as_cora.get(DASHBOARD).content.decode()

    ana = page[page.index("Ana Leader") : page.index("Cy Supporter")]
    bo = page[page.index("Bo Leader") : page.index("Ana Leader")]
    assert "tried 2 times since" in ana and "10 days ago" in ana
    assert "Wants to chair the meeting" in ana
    assert "no attempt since" in bo and "13 days overdue" in bo
    assert "Worried about the rent hike" in bo
    di = page[page.index("Di Newcomer") :]
    assert "never" in di and "Never talked" in di


def test_the_list_shows_open_asks_and_marks_the_escalated(
    as_cora: Client, lapsed_people: dict, olivia: User
) -> None:
    bo = lapsed_people["bo"]
    Ask.objects.create(contact=bo, question="Floor captain?", asked_by=olivia, due_on=ago(3))
    Ask.objects.create(contact=bo, question="Meeting?", asked_by=olivia, due_on=ago(1))
    Contact.objects.filter(pk=bo.pk).update(lapse_started_at=ago(10))
    flag_lapsed()

    page = as_cora.get(DASHBOARD).content.decode()

    row = page[page.index("Bo Leader") : page.index("Ana Leader")]
    assert "Escalated" in row
    assert re.search(r'data-label="Open asks">2<', row)


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_the_filters_narrow_the_list_by_building_owner_level_and_state(
    as_cora: Client, lapsed_people: dict, maple: Building, omar: User, headers: dict
) -> None:
    Contact.objects.filter(pk=lapsed_people["bo"].pk).update(lapse_started_at=ago(10))
    flag_lapsed()

    def shown(**params: str | int) -> set[str]:
        page = as_cora.get(DASHBOARD, params, headers=headers).content.decode()
        return {name for name in ("Ana", "Bo", "Cy", "Di", "Ed", "Fay") if f"{name} " in page}

    assert shown(building=maple.pk) == {"Cy", "Di"}
    assert shown(owner=omar.pk) == {"Cy", "Di"}
    assert shown(level=Level.LEADER) == {"Ana", "Bo"}
    assert shown(state="escalated") == {"Bo"}
    assert shown(state="lapsed") == {"Ana", "Cy", "Di"}
    assert shown(state="due_soon") == {"Fay"}
    assert shown(level=Level.LEADER, owner=omar.pk) == set()
    # A value that is not a choice is ignored rather than an error.
    assert shown(building="nonsense") == {"Ana", "Bo", "Cy", "Di"}


def test_the_building_and_owner_filters_show_what_was_chosen(
    as_cora: Client, lapsed_people: dict, maple: Building
) -> None:
    page = as_cora.get(DASHBOARD, {"building": maple.pk}).content.decode()

    assert f'<option value="{maple.pk}" selected>Maple Court</option>' in page
    assert '<option value="" selected>All buildings</option>' not in page
    assert '<option value="" selected>Any owner</option>' in page


def test_a_filter_by_htmx_gets_only_the_list(as_cora: Client, lapsed_people: dict) -> None:
    page = as_cora.get(DASHBOARD, {"level": Level.LEADER}, headers=HTMX).content.decode()

    assert page.lstrip().startswith('<div id="lapsed">')
    assert "Bo Leader" in page and "Lapse rate" not in page


def test_the_orphaned_filter_shows_contacts_nobody_owns(
    as_cora: Client, riverside: Building
) -> None:
    resident(make_unit(riverside, "501"), None, "Nobody's Neighbour", Level.CONTACT, 1)
    flag_lapsed()

    page = as_cora.get(DASHBOARD, {"state": "orphaned"}).content.decode()

    assert "Nobody&#x27;s Neighbour" in page
    assert "orphaned" in page


def test_the_list_is_paginated_fifty_to_a_page(
    as_cora: Client, riverside: Building, olivia: User
) -> None:
    for n in range(55):
        resident(make_unit(riverside, f"9{n:02d}", floor=9), olivia, f"Neighbour {n:02d}", 1)
    flag_lapsed()

    first = as_cora.get(DASHBOARD).content.decode()
    second = as_cora.get(DASHBOARD, {"page": 2}, headers=HTMX).content.decode()

    assert first.count('name="contacts"') == 50
    assert second.count('name="contacts"') == 5
    assert "page 2 of 2" in second


# The figures, the tables and the chart


def test_the_headline_figures_count_lapse_rate_leaders_conversations_asks_and_orphans(
    as_cora: Client, riverside: Building, olivia: User, maria: Contact
) -> None:
    maria.set_level(Level.LEADER, by=olivia)
    lapsed = resident(make_unit(riverside, "601"), olivia, "Lapsed Leader", Level.LEADER)
    talk(lapsed, olivia, days_ago=20)
    resident(make_unit(riverside, "602"), None, "Unowned", Level.CONTACT, 1)
    snoozed = resident(make_unit(riverside, "603"), olivia, "Snoozed", Level.NEW)
    Contact.objects.filter(pk=snoozed.pk).update(
        snoozed_until=timezone.localdate() + 5 * DAY, snooze_reason="Away"
    )
    this_monday = local_monday(timezone.now())
    for at in (timezone.now(), this_monday - dt.timedelta(hours=1), this_monday - 8 * DAY):
        record_visit(
            actor=olivia.membership,
            contact=maria,
            outcome=Outcome.CONVERSATION,
            happened_at=at,
            idempotency_key=new_key(),
        )
    Ask.objects.create(contact=maria, question="Meeting?", asked_by=olivia, due_on=ago(2))
    Ask.objects.create(
        contact=maria, question="Captain?", asked_by=olivia, due_on=ago(2), answer=Answer.YES
    )
    flag_lapsed()
    maria.refresh_from_db()
    talk(maria, olivia, days_ago=0)  # the overdue ask lapsed her; a conversation clears it

    page = as_cora.get(DASHBOARD).content.decode()
    figures = re.sub(r"\s+", " ", page[page.index('class="figures"') : page.index("</dl>")])

    # Counted: Maria, the lapsed leader and the unowned contact; the snoozed one is not.
    assert "<strong>33%</strong> <span>1 of 3 active contacts" in figures
    assert "<strong>1 of 2</strong> <span>within their 7 days; 1 not" in figures
    assert "<strong>2</strong> <span>last week 1</span>" in figures
    assert ">1</a></strong> <span>nobody, or an owner who left or went quiet" in figures
    assert "<strong>1</strong> <span>pending past their date" in figures


def test_the_building_and_organizer_tables_count_contacts_reached_leaders_and_lapsed(
    as_cora: Client, lapsed_people: dict, riverside: Building, maple: Building
) -> None:
    page = re.sub(r"\s+", " ", as_cora.get(DASHBOARD).content.decode())

    buildings = page[page.index('id="buildings-heading"') : page.index('id="organizers-heading"')]
    # Riverside: Ana, Bo, Ed, Fay active; Ed and Fay reached in time; four leaders.
    assert re.search(
        r"Riverside Towers</a></td> <td class=\"num\">4</td> <td class=\"num\">50%</td> "
        r"<td class=\"num\">4</td>",
        buildings,
    )
    organizers = page[page.index('id="organizers-heading"') :]
    assert re.search(r"omar</a></td> <td class=\"num\">2</td> <td class=\"num\">2</td>", organizers)
    assert re.search(
        r"olivia</a></td> <td class=\"num\">4</td> <td class=\"num\">2</td> <td>\w{3} \d+</td>",
        organizers,
    )


def test_the_tables_say_who_left_and_who_recorded_nothing_and_show_names_as_typed(
    as_cora: Client, lapsed_people: dict, org: Organization, riverside: Building, omar: User
) -> None:
    Building.objects.filter(pk=riverside.pk).update(name="<b>Riverside</b> & Sons")
    User.objects.filter(pk=omar.pk).update(first_name="<i>Omar</i>")
    omar.membership.active = False
    omar.membership.save()
    make_member(org, "nadia", Role.ORGANIZER)
    flag_lapsed()

    page = re.sub(r"\s+", " ", as_cora.get(DASHBOARD).content.decode())

    buildings = page[page.index('id="buildings-heading"') : page.index('id="organizers-heading"')]
    assert '&lt;b&gt;Riverside&lt;/b&gt; &amp; Sons</a></td> <td class="num">4</td>' in buildings
    organizers = page[page.index('id="organizers-heading"') :]
    # Omar left but still owns two contacts; Nadia owns none yet and has recorded nothing.
    assert re.search(
        r"&lt;i&gt;Omar&lt;/i&gt;</a> <span class=\"badge\">left</span></td> "
        r"<td class=\"num\">2</td> <td class=\"num\">2</td> <td>\w{3} \d+</td>",
        organizers,
    )
    assert (
        'nadia</a></td> <td class="num">0</td> <td class="num">0</td> '
        '<td><span class="muted">nothing recorded</span></td>'
    ) in organizers
    assert "<b>" not in page and "<i>Omar" not in page


def test_a_conversation_takes_a_contact_off_the_list_and_the_lapse_rate_at_once(
    as_cora: Client, lapsed_people: dict, olivia: User
) -> None:
    talk(lapsed_people["bo"], olivia, days_ago=0)

    page = re.sub(r"\s+", " ", as_cora.get(DASHBOARD).content.decode())

    assert "Bo Leader" not in page
    # Three of the six counted at the last hourly check are lapsed now.
    assert "<strong>50%</strong> <span>3 of 6 active contacts" in page
    # The tables are as the hourly check left them, and the page says so.
    organizers = page[page.index('id="organizers-heading"') :]
    assert re.search(
        r"olivia</a></td> <td class=\"num\">4</td> <td class=\"num\">2</td>", organizers
    )
    assert "as of the hourly check at" in page


def test_conversations_are_counted_afresh_when_the_last_check_was_in_an_earlier_week(
    as_cora: Client, maria: Contact, olivia: User
) -> None:
    talk(maria, olivia, days_ago=0)
    flag_lapsed()
    LapseSummary.objects.filter(organization=maria.organization).update(
        taken_at=ago(8), conversations_this_week=99, conversations_last_week=99
    )

    page = re.sub(r"\s+", " ", as_cora.get(DASHBOARD).content.decode())

    assert "<strong>1</strong> <span>last week 0</span>" in page


def test_before_the_first_hourly_check_the_page_says_the_figures_will_follow(
    as_cora: Client, riverside: Building, olivia: User
) -> None:
    resident(make_unit(riverside, "701"), olivia, "Not Yet Checked", Level.LEADER)

    page = as_cora.get(DASHBOARD).content.decode()

    assert "appear after the first hourly check" in page
    assert "Riverside Towers" in page


def test_the_chart_draws_twelve_weeks_of_the_lapse_rate_as_svg(
    as_cora: Client, lapsed_people: dict
) -> None:
    # One lapse that opened three weeks ago and ended a week later.
    LapseEpisode.objects.create(
        organization=lapsed_people["ed"].organization,
        contact=lapsed_people["ed"],
        started_at=ago(21),
        resolved_at=ago(14),
        reason="no_conversation",
        level=Level.LEADER,
    )

    page = as_cora.get(DASHBOARD).content.decode()
    svg = page[page.index("<svg") : page.index("</svg>")]

    assert svg.count("<circle") == 12
    assert "<title" in svg and "Weekly lapse rate" in svg
    assert 'role="img"' in svg
    # Six contacts are counted; four lapsed now: 67%, shown in the figures too.
    assert "67%" in svg.split("<desc")[1]
    assert '<th scope="col">Lapse rate</th>' in page


def test_the_dashboard_costs_the_same_number_of_queries_as_data_grows(
    as_cora: Client, riverside: Building, maple: Building, olivia: User, omar: User, org
) -> None:
    def populate(start: int, count: int) -> None:
        building = make_building(org, name=f"Block {start}", organizers=(olivia,))
        organizer = make_member(org, f"organizer{start}", Role.ORGANIZER)
        for n in range(start, start + count):
            owner = (olivia, omar, organizer)[n % 3]
            unit = make_unit(building, f"{n % 9 + 1}{n:03d}", floor=n % 9 + 1)
            contact = resident(unit, owner, f"Resident {n}", n % 5 + 1)
            talk(contact, owner, days_ago=n % 50 + 8, note=f"Note {n}")
            knock(contact, owner, days_ago=n % 7)
            Ask.objects.create(contact=contact, question="Meeting?", asked_by=owner, due_on=ago(1))
        flag_lapsed()

    def queries(headers: dict) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert as_cora.get(DASHBOARD, headers=headers).status_code == 200
        # The session's own reads and writes depend on the middleware, not on this page.
        return sum(
            "django_session" not in q["sql"] and not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
            for q in captured.captured_queries
        )

    populate(0, 4)
    as_cora.get(DASHBOARD)  # the organization's rules are read once, then kept (Rules.of)
    small, small_htmx = queries({}), queries(HTMX)
    # Four more buildings and organizers, ten times the contacts: more rows in both
    # tables, the filters and the list.
    for start in (100, 200, 300, 400):
        populate(start, 10)
    large, large_htmx = queries({}), queries(HTMX)

    assert small == large
    assert small_htmx == large_htmx
    # The user and membership; the hourly job's summary (the chart, the tables and most
    # figures), the live counts of the lapsed, of those who need an owner and of this
    # week's conversations; the members
    # (the filter and the organizer table) and the buildings (the filter and the building
    # table), the list's count and page, and the recent meetings with a poor turnout (their
    # no-shows only when there are some), the turnout of the last meetings held; the
    # thresholds are kept in memory. htmx asks only for the list.
    assert (large, large_htmx) == (12, 6)


# Who may see it


@pytest.mark.parametrize("persona", ["olivia", "omar"])
@pytest.mark.parametrize("headers", [{}, HTMX])
def test_organizers_get_403_on_every_committee_url(
    request: pytest.FixtureRequest, persona: str, headers: dict, maria: Contact, omar: User
) -> None:
    client = client_for(request.getfixturevalue(persona))
    maria_owner = maria.owner_id

    assert client.get(DASHBOARD, headers=headers).status_code == 403
    assert client.get(EXPORT, headers=headers).status_code == 403
    assert client.get(SETTINGS, headers=headers).status_code == 403
    posts = {
        REASSIGN: {"contacts": [maria.pk], "to_owner": omar.pk},
        snooze_url(maria): {"until": str(timezone.localdate() + 5 * DAY), "reason": "Away"},
        SETTINGS: {"leader": 1},
    }
    for url, data in posts.items():
        assert client.post(url, data, headers=headers).status_code == 403
    maria.refresh_from_db()
    assert (maria.owner_id, maria.snoozed_until) == (maria_owner, None)
    assert not ExportLog.objects.exists()


@pytest.mark.parametrize("persona", ["cora", "ada"])
def test_committee_and_admins_see_the_dashboard_and_settings(
    request: pytest.FixtureRequest, persona: str, lapsed_people: dict
) -> None:
    client = client_for(request.getfixturevalue(persona))

    assert "Bo Leader" in client.get(DASHBOARD).content.decode()
    assert client.get(SETTINGS).status_code == 200
    assert client.get(EXPORT).status_code == 200


def test_the_outsider_sees_only_his_own_organization_and_404_for_our_contacts(
    xavier: User, other_org: Organization, lapsed_people: dict
) -> None:
    client = client_for(xavier)
    theirs = make_member(other_org, "wanda", Role.ORGANIZER)
    bo = lapsed_people["bo"]

    page = client.get(DASHBOARD).content.decode()
    export = client.get(EXPORT).content.decode()
    reassigned = client.post(REASSIGN, {"contacts": [bo.pk], "to_owner": theirs.pk})
    snoozed = client.post(
        snooze_url(bo), {"until": str(timezone.localdate() + 5 * DAY), "reason": "Away"}
    )

    for name in ("Ana Leader", "Bo Leader", "Riverside", "olivia", "omar"):
        assert name not in page and name not in export
    assert reassigned.status_code == 404
    assert snoozed.status_code == 404
    bo.refresh_from_db()
    assert (bo.owner.username, bo.snoozed_until, bo.lapse_flag) == (
        "olivia",
        None,
        LapseFlag.LAPSED,
    )
    assert not OwnerChange.objects.exists()


# Reassignment


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_cora_reassigns_lapsed_contacts_to_another_organizer_in_one_step(
    as_cora: Client, lapsed_people: dict, olivia: User, omar: User, cora: User, headers: dict
) -> None:
    ana, bo = lapsed_people["ana"], lapsed_people["bo"]
    Contact.objects.filter(pk=ana.pk).update(orphaned=True)

    response = as_cora.post(
        f"{REASSIGN}?level=5", {"contacts": [ana.pk, bo.pk], "to_owner": omar.pk}, headers=headers
    )

    if headers:
        assert response.status_code == 200
        page = response.content.decode()
        assert page.lstrip().startswith('<div id="board">')
        assert "2 contacts reassigned to omar." in page
    else:
        assert response.status_code == 302
        assert response["Location"] == f"{DASHBOARD}?level=5"
    assert {fresh(ana).owner_id, fresh(bo).owner_id} == {omar.pk}
    assert not fresh(ana).orphaned
    history = OwnerChange.objects.order_by("contact_id")
    assert [(c.contact_id, c.from_owner_id, c.to_owner_id, c.changed_by_id) for c in history] == [
        (ana.pk, olivia.pk, omar.pk, cora.pk),
        (bo.pk, olivia.pk, omar.pk, cora.pk),
    ]


def test_the_next_visits_the_old_owner_planned_go_with_the_contact(
    as_cora: Client, lapsed_people: dict, olivia: User, omar: User, cora: User
) -> None:
    ana = lapsed_people["ana"]
    theirs = FollowUp.objects.create(
        contact=ana,
        planned_for=timezone.localdate(),
        purpose="Bring the petition",
        assigned_to=olivia,
        submission_key=new_key(),
    )
    committees = FollowUp.objects.create(
        contact=ana,
        planned_for=timezone.localdate(),
        purpose="Meet the committee",
        assigned_to=cora,
        submission_key=new_key(),
    )

    as_cora.post(REASSIGN, {"contacts": [ana.pk], "to_owner": omar.pk})

    theirs.refresh_from_db()
    committees.refresh_from_db()
    assert theirs.assigned_to == omar and committees.assigned_to == cora
    as_olivia = Client()
    as_olivia.force_login(olivia)
    assert "Bring the petition" not in as_olivia.get(reverse("home")).content.decode()


@pytest.mark.parametrize("target", ["xavier", "cora", "wanda", "nobody"])
@pytest.mark.parametrize("headers", [{}, HTMX])
def test_reassignment_to_anyone_but_an_active_organizer_of_ours_changes_nothing(
    request: pytest.FixtureRequest,
    as_cora: Client,
    lapsed_people: dict,
    other_org: Organization,
    olivia: User,
    target: str,
    headers: dict,
) -> None:
    make_member(other_org, "wanda", Role.ORGANIZER)
    to_owner = {
        "xavier": lambda: request.getfixturevalue("xavier").pk,
        "cora": lambda: request.getfixturevalue("cora").pk,
        "wanda": lambda: User.objects.get(username="wanda").pk,
        "nobody": lambda: "",
    }[target]()
    ana = lapsed_people["ana"]

    response = as_cora.post(REASSIGN, {"contacts": [ana.pk], "to_owner": to_owner}, headers=headers)

    assert response.status_code == (200 if headers else 422)
    page = response.content.decode()
    assert "Nobody was reassigned" in page
    assert "only go to an active organizer" in page or "Choose the organizer" in page
    assert f'value="{ana.pk}" form="reassign" aria-label="Tick Ana Leader" checked' in page
    assert fresh(ana).owner_id == olivia.pk
    assert not OwnerChange.objects.exists()


def test_reassignment_to_an_organizer_who_left_changes_nothing(
    as_cora: Client, lapsed_people: dict, omar: User, olivia: User
) -> None:
    omar.membership.active = False
    omar.membership.save()
    ana = lapsed_people["ana"]

    response = as_cora.post(REASSIGN, {"contacts": [ana.pk], "to_owner": omar.pk})

    assert response.status_code == 422
    assert fresh(ana).owner_id == olivia.pk


def test_reassignment_without_a_ticked_contact_asks_for_one(
    as_cora: Client, lapsed_people: dict, omar: User
) -> None:
    response = as_cora.post(REASSIGN, {"to_owner": omar.pk})

    assert response.status_code == 422
    assert "Tick at least one contact" in response.content.decode()


# Snooze


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_cora_snoozes_a_lapsed_contact_with_a_reason_and_it_leaves_the_list(
    as_cora: Client, lapsed_people: dict, headers: dict
) -> None:
    bo = lapsed_people["bo"]
    until = timezone.localdate() + 30 * DAY

    response = as_cora.post(
        snooze_url(bo), {"until": until.isoformat(), "reason": "In hospital"}, headers=headers
    )

    assert response.status_code == (200 if headers else 302)
    bo = fresh(bo)
    assert (bo.snoozed_until, bo.snooze_reason, bo.lapse_flag) == (
        until,
        "In hospital",
        LapseFlag.OK,
    )
    episode = LapseEpisode.objects.get(contact=bo)
    assert episode.resolved_at is not None and episode.resolved_by is None
    assert fresh(bo).open_lapse is None
    page = (response if headers else as_cora.get(DASHBOARD)).content.decode()
    assert "Bo Leader snoozed until" in page
    assert 'aria-label="Tick Bo Leader"' not in page
    flag_lapsed()
    assert fresh(bo).lapse_flag == LapseFlag.OK
    assert fresh(bo).open_lapse is None
    assert LapseEpisode.objects.filter(contact=bo).count() == 1


@pytest.mark.parametrize(
    ("until", "reason", "error"),
    [
        (30, "", "Say why the contact is snoozed."),
        (None, "Away", "Give the date the snooze ends."),
        (-1, "Away", "The snooze must end after today."),
        (0, "Away", "The snooze must end after today."),
        (91, "Away", "A snooze can last at most 90 days"),
        ("9999-12-31", "Away", "A snooze can last at most 90 days"),
        ("soon", "Away", "Enter a date such as"),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX])
def test_a_snooze_without_a_reason_or_a_good_end_date_changes_nothing(
    as_cora: Client,
    lapsed_people: dict,
    until: int | str | None,
    reason: str,
    error: str,
    headers: dict,
) -> None:
    bo = lapsed_people["bo"]
    day = (
        (timezone.localdate() + until * DAY).isoformat() if isinstance(until, int) else until or ""
    )

    response = as_cora.post(snooze_url(bo), {"until": day, "reason": reason}, headers=headers)

    assert response.status_code == (200 if headers else 422)
    page = response.content.decode()
    assert error in page
    assert "Bo Leader was not snoozed" in page
    if reason:
        assert f'value="{reason}"' in page
    bo = fresh(bo)
    assert (bo.snoozed_until, bo.snooze_reason, bo.lapse_flag) == (None, "", LapseFlag.LAPSED)
    assert bo.open_lapse is not None
    assert not LapseEpisode.objects.filter(contact=bo).exists()


# Export


def test_the_csv_export_has_the_filtered_rows_neutralises_formulas_and_is_logged(
    as_cora: Client, lapsed_people: dict, cora: User, olivia: User
) -> None:
    Contact.objects.filter(pk=lapsed_people["bo"].pk).update(name='=HYPERLINK("x")')
    talk(lapsed_people["ana"], olivia, days_ago=9, note="+1 555 attack")
    mark_lapsed(lapsed_people["ana"])

    response = as_cora.get(EXPORT, {"level": Level.LEADER, "page": 3})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["Name", "Building", "Unit"]
    assert [r[0] for r in rows[1:]] == ['\'=HYPERLINK("x")', "Ana Leader"]
    assert rows[2][-1] == "'+1 555 attack"
    assert rows[2][1:5] == ["Riverside Towers", "301", "Leader", "olivia"]
    log = ExportLog.objects.get()
    assert (log.organization_id, log.user_id, log.what, log.rows) == (
        cora.membership.organization_id,
        cora.pk,
        "lapsed contacts",
        2,
    )
    assert log.filters == "level=5"


def test_an_organizer_may_not_export(olivia: User, lapsed_people: dict) -> None:
    response = client_for(olivia).get(EXPORT)

    assert response.status_code == 403
    assert not ExportLog.objects.exists()


# Lapse settings


def thresholds_of(org: Organization) -> tuple[dict[int, int], dict[int, int]]:
    return LapseThreshold.settings_by_level([org.pk])[org.pk]


VALID = {
    "leader": 5,
    "active": 10,
    "supporter": 20,
    "contact": 30,
    "new": 45,
    "leader_lead": 2,
    "active_lead": 3,
    "supporter_lead": 3,
    "contact_lead": 4,
    "new_lead": 5,
    "grace_days": 3,
    "orphan_after_days": 21,
    "pace_alarm_percent": 30,
}


def test_cora_sets_the_thresholds_and_windows(as_cora: Client, org: Organization) -> None:
    form = as_cora.get(SETTINGS).content.decode()
    assert 'name="leader" value="7"' in form and 'name="leader_lead" value="2"' in form

    response = as_cora.post(SETTINGS, VALID)

    assert response.status_code == 302
    assert thresholds_of(org) == (
        {5: 5, 4: 10, 3: 20, 2: 30, 1: 45},
        {5: 2, 4: 3, 3: 3, 2: 4, 1: 5},
    )
    org.refresh_from_db()
    assert (org.lapse_grace_days, org.orphan_after_days, org.pace_alarm_percent) == (3, 21, 30)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"leader": 0}, "At least one day"),
        ({"new": -5}, "At least one day"),
        ({"grace_days": 0}, "At least one day"),
        ({"leader": 50}, "A leader&#x27;s threshold (50 days) can&#x27;t be longer than a new"),
        ({"active": 25}, "An active member&#x27;s threshold (25 days) can&#x27;t be longer"),
        ({"leader_lead": 5}, "The warning for a leader (5 days) must come before their threshold"),
        ({"new_lead": 0}, "At least one day"),
        ({"active_lead": -1}, "At least one day"),
        ({"pace_alarm_percent": 0}, "At least 1 percent."),
        ({"pace_alarm_percent": 100}, "At most 99 percent."),
        ({"leader": ""}, "Give a number of days."),
    ],
)
def test_bad_thresholds_are_refused_and_nothing_changes(
    as_cora: Client, org: Organization, changes: dict, error: str
) -> None:
    before = thresholds_of(org)

    response = as_cora.post(SETTINGS, VALID | changes)

    assert response.status_code == 422
    page = response.content.decode()
    assert error in page
    assert "Nothing was saved" in page
    field, value = next(iter(changes.items()))
    assert f'name="{field}" value="{value}"' in page or value == ""
    assert thresholds_of(org) == before
    org.refresh_from_db()
    assert (org.lapse_grace_days, org.orphan_after_days, org.pace_alarm_percent) == (7, 14, 40)
