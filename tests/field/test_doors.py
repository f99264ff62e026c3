"""Olivia at the door: Today, the floor grid, the unit page, and the one-tap knocks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.actions import record_visit, update_lapse_settings
from contacts.lapse.job import flag_lapsed
from contacts.models import Ask, Contact, FollowUp, Level, Outcome, Status, Visit
from tests.makers import make_contact, make_unit, new_key

pytestmark = pytest.mark.usefixtures("clock")  # today is a fixed date: see `clock`

DAY = dt.timedelta(days=1)
HTMX = {"HX-Request": "true"}
# A tapped knock's queries, counting the test transaction's savepoints; the session is not
# saved again within a minute of its last save (organizing.faults.RENEW_EVERY).
KNOCK_QUERIES = 15
# The same knock replayed by the phone's outbox: answered in JSON, no residents shown again.
REPLAY_QUERIES = 12


@pytest.fixture
def as_olivia(olivia: User) -> Client:
    client = Client()
    client.force_login(olivia)
    return client


def unit_url(unit: Unit) -> str:
    return reverse("buildings:unit", args=[unit.building_id, unit.pk])


def knock_url(unit: Unit) -> str:
    return reverse("buildings:knock", args=[unit.building_id, unit.pk])


def talk(contact: Contact, by: User, days_ago: int) -> None:
    record_visit(
        actor=by.membership,
        contact=contact,
        outcome=Outcome.CONVERSATION,
        happened_at=timezone.now() - days_ago * DAY,
        idempotency_key=new_key(),
    )


def populate(building: Building, owner: User, count: int, start: int) -> None:
    """More residents, visits and asks, to show page cost does not grow with them."""
    for n in range(start, start + count):
        unit = make_unit(building, f"{n % 12 + 1}{n:02d}", floor=n % 12 + 1)
        contact = make_contact(unit, owner=owner, name=f"Resident {n}", level=n % 5 + 1)
        talk(contact, owner, days_ago=n % 40)
        Ask.objects.create(
            contact=contact, question="Meeting?", asked_by=owner, due_on=timezone.localdate()
        )


# Today


def test_today_shows_follow_ups_due_buildings_and_contacts_about_to_lapse(
    as_olivia: Client, olivia: User, maria: Contact, riverside: Building
) -> None:
    maria.set_level(Level.LEADER, by=olivia)
    talk(maria, olivia, days_ago=6)  # leader threshold 7 days, lead 2 and a day: due soon
    FollowUp.objects.create(
        contact=maria,
        planned_for=timezone.localdate() + 3 * DAY,
        assigned_to=olivia,
        purpose="Meeting RSVP",
    )
    flag_lapsed()

    page = as_olivia.get(reverse("home")).content.decode()

    assert "Riverside Towers" in page
    assert "1 due soon" in page and "0 lapsed" in page
    due_soon = page[page.index("Due soon: talk to them") :]
    talked = timezone.localdate(timezone.now() - 6 * DAY)
    assert "Maria Lopez" in due_soon
    assert f"no conversation since {talked:%b} {talked.day} (leader: every 7 days)" in due_soon


def test_today_counts_a_lapsed_leader(as_olivia: Client, olivia: User, maria: Contact) -> None:
    maria.set_level(Level.LEADER, by=olivia)
    talk(maria, olivia, days_ago=8)
    flag_lapsed()

    page = as_olivia.get(reverse("home")).content.decode()

    assert "1 lapsed" in page
    lapsed = page[page.index("Lapsed: talk to them first") :]
    assert "Maria Lopez" in lapsed and "Lapsed since" in lapsed


def test_today_costs_the_same_queries_with_more_data(
    as_olivia: Client, olivia: User, riverside: Building, maple: Building
) -> None:
    populate(riverside, olivia, 3, start=1)
    as_olivia.get(reverse("home"))  # reads the organization's rules, then kept (Rules.of)
    with CaptureQueriesContext(connection) as small:
        assert as_olivia.get(reverse("home")).status_code == 200

    populate(riverside, olivia, 30, start=10)
    with CaptureQueriesContext(connection) as large:
        as_olivia.get(reverse("home"))

    assert len(large) == len(small)


# The floor grid


def test_the_grid_colours_each_door_by_its_residents(
    as_olivia: Client, olivia: User, maria: Contact, riverside: Building
) -> None:
    talk(maria, olivia, days_ago=50)  # new contact: 60 days, so within threshold
    lapsed = make_contact(
        make_unit(riverside, "1205"), owner=olivia, name="Ana", level=Level.LEADER
    )
    talk(lapsed, olivia, days_ago=9)
    make_unit(riverside, "1206")

    page = as_olivia.get(reverse("buildings:detail", args=[riverside.pk])).content.decode()

    assert 'class="door ok"' in page
    assert 'class="door lapsed"' in page
    assert 'class="door never"' in page
    assert "leader" in page  # the aria-label of 1205


def grid_page(client: Client, building: Building, query: str = "") -> str:
    return client.get(reverse("buildings:detail", args=[building.pk]) + query).content.decode()


def door_html(page: str, label: str) -> str:
    """The <li> of one door on the grid."""
    start = page.rindex("<li", 0, page.index(f'<span class="visually-hidden">{label},'))
    return page[start : page.index("</li>", start)]


def test_each_door_says_its_state_in_words_and_with_a_mark(
    as_olivia: Client, olivia: User, maria: Contact, riverside: Building
) -> None:
    talk(maria, olivia, days_ago=3)
    ana = make_contact(make_unit(riverside, "1205"), owner=olivia, name="Ana", level=Level.LEADER)
    talk(ana, olivia, days_ago=9)

    page = grid_page(as_olivia, riverside)

    assert '<span class="visually-hidden">1204, talked 3 days ago</span>' in page
    assert ", lapsed, talked 9 days ago, leader</span>" in door_html(page, "1205")
    assert "<b>✓</b>" in door_html(page, "1204") and "<b>!!</b>" in door_html(page, "1205")


def test_never_knocked_means_never_knocked_and_the_legend_says_each_state(
    as_olivia: Client, olivia: User, riverside: Building
) -> None:
    knocked_twice = make_unit(riverside, "1206")
    for _ in range(2):
        record_visit(
            actor=olivia.membership,
            unit=knocked_twice,
            outcome=Outcome.NOT_HOME,
            happened_at=timezone.now() - 2 * DAY,
            idempotency_key=new_key(),
        )
    make_contact(make_unit(riverside, "1207"), owner=olivia, name="Bea")
    make_unit(riverside, "1208")

    page = grid_page(as_olivia, riverside)

    assert 'class="door empty"' in door_html(page, "1206")
    assert ", nobody known</span>" in door_html(page, "1206")
    assert ", never knocked</span>" in door_html(page, "1207")
    assert 'class="door never"' in door_html(page, "1208")
    legend = page[page.index('class="legend"') : page.index("</ul>", page.index('class="legend"'))]
    for words in ("Lapsed", "Due soon", "Never knocked", "Not talked to yet", "Talked recently"):
        assert words in legend


def test_doors_knocked_today_are_marked(
    as_olivia: Client, olivia: User, riverside: Building
) -> None:
    today, yesterday = make_unit(riverside, "1201"), make_unit(riverside, "1202")
    for unit, when in ((today, timezone.now()), (yesterday, timezone.now() - DAY)):
        record_visit(
            actor=olivia.membership,
            unit=unit,
            outcome=Outcome.NOT_HOME,
            happened_at=when,
            idempotency_key=new_key(),
        )

    page = grid_page(as_olivia, riverside)

    assert 'class="door empty today"' in door_html(page, "1201")
    assert ", nobody known, knocked today</span>" in door_html(page, "1201")
    assert "today" not in door_html(page, "1202")


def test_the_grid_has_floor_links_and_folds_the_access_notes(
    as_olivia: Client, riverside: Building, unit_1204: Unit
) -> None:
    make_unit(riverside, "301")
    riverside.access_notes = "Buzzer 4471#"
    riverside.save()

    page = grid_page(as_olivia, riverside)

    assert '<a href="#floor-12">12</a><a href="#floor-3">3</a>' in page
    assert 'id="floor-12"' in page and 'id="floor-3"' in page
    assert '<details class="access"><summary>Access notes</summary><p>Buzzer 4471#</p>' in page


def test_only_doors_due_hides_doors_within_threshold(
    as_olivia: Client, olivia: User, maria: Contact, riverside: Building
) -> None:
    talk(maria, olivia, days_ago=1)
    make_unit(riverside, "1206")

    page = as_olivia.get(
        reverse("buildings:detail", args=[riverside.pk]) + "?due=1"
    ).content.decode()

    assert "1206" in page
    assert "1204" not in page


def test_the_grid_answers_htmx_with_the_grid_alone(as_olivia: Client, riverside: Building) -> None:
    response = as_olivia.get(reverse("buildings:detail", args=[riverside.pk]), headers=HTMX)

    assert response.status_code == 200
    assert b'id="grid"' in response.content
    assert b"<html" not in response.content


def test_the_grid_costs_the_same_queries_with_more_doors(
    as_olivia: Client, olivia: User, riverside: Building
) -> None:
    populate(riverside, olivia, 3, start=1)
    url = reverse("buildings:detail", args=[riverside.pk])
    as_olivia.get(url)  # reads the organization's rules, then kept (Rules.of)
    with CaptureQueriesContext(connection) as small:
        as_olivia.get(url)

    populate(riverside, olivia, 30, start=10)
    with CaptureQueriesContext(connection) as large:
        as_olivia.get(url)

    assert len(large) == len(small)


def test_another_organizers_building_and_units_are_404(as_olivia: Client, maple: Building) -> None:
    unit = make_unit(maple, "2B", floor=2)

    assert as_olivia.get(reverse("buildings:detail", args=[maple.pk])).status_code == 404
    assert as_olivia.get(unit_url(unit)).status_code == 404
    assert (
        as_olivia.post(
            knock_url(unit), {"door-outcome": "not_home", "door-key": new_key()}
        ).status_code
        == 404
    )
    assert not Visit.objects.exists()


def test_the_outsider_gets_404_on_the_unit_and_its_knocks(
    xavier: User, maria: Contact, unit_1204: Unit
) -> None:
    client = Client()
    client.force_login(xavier)

    assert client.get(unit_url(unit_1204)).status_code == 404
    response = client.post(
        knock_url(unit_1204),
        {"contact": maria.pk, f"c{maria.pk}-outcome": "not_home", f"c{maria.pk}-key": new_key()},
    )
    assert response.status_code == 404
    assert not Visit.objects.exists()


# The unit page


def test_the_unit_page_shows_what_to_know_before_knocking(
    as_olivia: Client, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.CONVERSATION,
        note="Worried about the heat; will come Thursday",
        happened_at=timezone.now() - 41 * DAY,
        idempotency_key=new_key(),
    )
    record_visit(
        actor=olivia.membership, contact=maria, outcome=Outcome.NOT_HOME, idempotency_key=new_key()
    )
    Ask.objects.create(
        contact=maria,
        question="Meeting RSVP",
        asked_by=olivia,
        due_on=timezone.localdate() + 3 * DAY,
    )

    page = as_olivia.get(unit_url(unit_1204)).content.decode()

    assert "Last conversation 1\xa0month" in page
    assert "Worried about the heat" in page
    assert "Open ask: Meeting RSVP" in page
    assert "tried 1 time since" in page
    for label in (
        "Talked",
        "Not home",
        "Come back later",
        "Refused",
        "Moved out",
        "Do not contact",
    ):
        assert label in page


def test_the_unit_page_costs_the_same_queries_with_more_residents_and_visits(
    as_olivia: Client, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    talk(maria, olivia, days_ago=3)
    Ask.objects.create(contact=maria, question="RSVP", asked_by=olivia, due_on=timezone.localdate())
    as_olivia.get(unit_url(unit_1204))  # counts the organization's languages, kept an hour
    with CaptureQueriesContext(connection) as small:
        as_olivia.get(unit_url(unit_1204))

    for n in range(6):
        neighbour = make_contact(unit_1204, owner=olivia, name=f"Neighbour {n}")
        talk(neighbour, olivia, days_ago=n)
        Ask.objects.create(
            contact=neighbour, question="RSVP", asked_by=olivia, due_on=timezone.localdate()
        )
    with CaptureQueriesContext(connection) as large:
        as_olivia.get(unit_url(unit_1204))

    assert len(large) == len(small)


# One-tap knocks


def knock_data(contact: Contact, outcome: str, key: str | None = None) -> dict[str, object]:
    return {
        "contact": contact.pk,
        f"c{contact.pk}-outcome": outcome,
        f"c{contact.pk}-key": key or new_key(),
    }


def test_do_not_contact_is_apart_from_the_everyday_outcomes(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    page = as_olivia.get(unit_url(unit_1204)).content.decode()

    card = page[page.index("Maria Lopez") : page.index("The door")]
    everyday = card[: card.index('<details class="more">')]
    assert ">Refused</button>" in everyday and "do_not_contact" not in everyday
    more = card[card.index('<details class="more">') :]
    assert '<summary>More</summary><button name="c' in more and ">Do not contact</button>" in more


def test_not_home_records_an_attempt_and_returns_the_residents_in_place(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    response = as_olivia.post(knock_url(unit_1204), knock_data(maria, "not_home"), headers=HTMX)

    assert response.status_code == 200
    assert b"<html" not in response.content
    assert "Not home: Maria Lopez." in response.content.decode()
    assert "Undo" in response.content.decode()
    assert Contact.objects.get(pk=maria.pk).attempts_since_conversation == 1
    # The cards and the door come back; the form to add a resident, perhaps being typed
    # into, is left as it is on the page.
    assert b'<section id="cards">' in response.content
    assert b'name="name"' not in response.content


def test_the_outbox_asks_again_for_the_cards_alone(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    url = reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk])

    cards = as_olivia.get(url, headers=HTMX | {"HX-Target": "cards"}).content.decode()
    # A page kept on a phone from before the cards had their own section asks for all.
    everything = as_olivia.get(url, headers=HTMX | {"HX-Target": "residents"}).content.decode()

    assert cards.lstrip().startswith('<section id="cards">') and "Maria Lopez" in cards
    assert "Add a resident met here" not in cards
    assert everything.lstrip().startswith('<div id="residents">') and "Maria Lopez" in everything
    assert "Add a resident met here" in everything


def test_a_knock_works_without_javascript(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    response = as_olivia.post(knock_url(unit_1204), knock_data(maria, "come_back"), follow=True)

    assert response.redirect_chain[-1][0] == unit_url(unit_1204)
    assert "Come back later: Maria Lopez." in response.content.decode()
    assert Visit.objects.get().outcome == Outcome.COME_BACK


def test_a_double_tap_records_once(as_olivia: Client, maria: Contact, unit_1204: Unit) -> None:
    data = knock_data(maria, "not_home", key="same-page-key-1")

    as_olivia.post(knock_url(unit_1204), data, headers=HTMX)
    second = as_olivia.post(knock_url(unit_1204), data, headers=HTMX)

    assert "Already recorded" in second.content.decode()
    assert Visit.objects.count() == 1


def test_thresholds_the_committee_changes_reach_the_next_page(
    as_olivia: Client, olivia: User, cora: User, maria: Contact, unit_1204: Unit
) -> None:
    """A process keeps each organization's rules in memory (Rules.of); a change of the
    thresholds must still reach the very next page, or the page and the job disagree."""
    talk(maria, olivia, days_ago=50)
    assert "Within threshold" in as_olivia.get(unit_url(unit_1204)).content.decode()

    update_lapse_settings(
        actor=cora.membership,  # type: ignore[attr-defined]
        days_by_level={Level.NEW: 45},
        lead_days_by_level={Level.NEW: 2},
        grace_days=7,
        orphan_after_days=14,
        pace_alarm_percent=40,
    )

    card = as_olivia.get(unit_url(unit_1204)).content.decode()
    assert '<article class="resident lapsed">' in card and "Lapsed" in card


def test_a_knock_costs_a_pinned_number_of_queries_however_long_the_history(
    as_olivia: Client,
    olivia: User,
    maria: Contact,
    unit_1204: Unit,
    django_assert_max_num_queries: Any,
) -> None:
    """Every phone knocks at once on a canvass day: a query more per knock is felt by all.
    The count covers reading the session and the member, the visit, its history, the clocks
    and the residents shown again."""
    for days_ago in range(1, 30):
        talk(maria, olivia, days_ago=days_ago)
    as_olivia.get(unit_url(unit_1204))  # the page the knock is tapped on

    with django_assert_max_num_queries(KNOCK_QUERIES):
        tapped = as_olivia.post(knock_url(unit_1204), knock_data(maria, "not_home"), headers=HTMX)
    with django_assert_max_num_queries(REPLAY_QUERIES):
        replayed = as_olivia.post(
            knock_url(unit_1204),
            knock_data(maria, "come_back"),
            headers={"X-Doorstep-Replay": "1", "Accept": "application/json"},
        )

    assert "Not home: Maria Lopez." in tapped.content.decode()
    assert replayed.json()["status"] == "recorded"
    assert Contact.objects.get(pk=maria.pk).attempts_since_conversation == 2


def test_a_stale_page_after_the_contact_moved_records_nothing(
    as_olivia: Client, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.MOVED_OUT,
        idempotency_key=new_key(),
    )

    response = as_olivia.post(knock_url(unit_1204), knock_data(maria, "not_home"), headers=HTMX)

    assert "no longer lives in 1204; nothing was recorded" in response.content.decode()
    assert Visit.objects.count() == 1


def test_a_door_with_nobody_known_can_be_knocked(as_olivia: Client, riverside: Building) -> None:
    unit = make_unit(riverside, "1207")

    as_olivia.post(knock_url(unit), {"door-outcome": "not_home", "door-key": new_key()})

    unit.refresh_from_db()
    assert unit.last_attempt_at is not None
    assert Visit.objects.get().contact is None


def test_moved_out_takes_the_resident_off_the_unit_page(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    response = as_olivia.post(knock_url(unit_1204), knock_data(maria, "moved_out"), headers=HTMX)

    assert Contact.objects.get(pk=maria.pk).status == Status.MOVED
    assert "Nobody known here yet." in response.content.decode()


# Bulk "Not home"


def test_not_home_on_three_doors_in_one_submission(as_olivia: Client, riverside: Building) -> None:
    units = [make_unit(riverside, label) for label in ("1201", "1202", "1203")]
    url = reverse("buildings:bulk_not_home", args=[riverside.pk])
    data = {"units": [u.pk for u in units], "key": "bulk-key-0001"}

    response = as_olivia.post(url, data, headers=HTMX)
    as_olivia.post(url, data, headers=HTMX)  # resubmitted

    assert "Not home recorded at 1201, 1202, 1203." in response.content.decode()
    assert sorted(Visit.objects.values_list("unit__label", flat=True)) == ["1201", "1202", "1203"]
    assert Visit.objects.filter(outcome=Outcome.NOT_HOME).count() == 3


def test_bulk_refuses_a_door_of_another_building_and_records_nothing(
    as_olivia: Client, riverside: Building, maple: Building
) -> None:
    ours = make_unit(riverside, "1201")
    theirs = make_unit(maple, "1A", floor=1)

    response = as_olivia.post(
        reverse("buildings:bulk_not_home", args=[riverside.pk]),
        {"units": [ours.pk, theirs.pk], "key": "bulk-key-0002"},
        follow=True,
    )

    assert "not in this building" in response.content.decode()
    assert not Visit.objects.exists()


def test_bulk_with_no_door_selected_says_so(as_olivia: Client, riverside: Building) -> None:
    response = as_olivia.post(
        reverse("buildings:bulk_not_home", args=[riverside.pk]),
        {"key": "bulk-key-0003"},
        headers=HTMX,
    )

    assert "Select at least one door." in response.content.decode()


def bulk(client: Client, building: Building, units: list[Unit], **headers: str) -> HttpResponse:
    return client.post(  # type: ignore[return-value]
        reverse("buildings:bulk_not_home", args=[building.pk]) + "?select=1",
        {"units": [u.pk for u in units], "key": new_key()},
        headers=headers,
    )


def test_bulk_not_home_answers_beside_the_lowest_floor_it_knocked(
    as_olivia: Client, riverside: Building
) -> None:
    make_unit(riverside, "1201")
    low = [make_unit(riverside, "201"), make_unit(riverside, "202")]
    make_unit(riverside, "101")

    page = bulk(as_olivia, riverside, low, **HTMX).content.decode()

    note = page.index("Not home recorded at 201, 202.")
    assert page.index('id="floor-2"') < note < page.index('id="floor-1"')
    assert page.count('class="door empty today"') == 2


def test_bulk_not_home_without_javascript_comes_back_to_the_floor_with_the_note(
    as_olivia: Client, riverside: Building
) -> None:
    low = [make_unit(riverside, "201"), make_unit(riverside, "202")]

    response = bulk(as_olivia, riverside, low)
    page = as_olivia.get(response["Location"]).content.decode()

    assert response["Location"].endswith("#floor-2")
    assert "Not home recorded at 201, 202." in page
    assert "Undo" in page


def test_the_undo_of_a_batch_takes_back_exactly_its_knocks(
    as_olivia: Client, olivia: User, riverside: Building, maria: Contact
) -> None:
    batch = [make_unit(riverside, "201"), make_unit(riverside, "202")]
    other = make_unit(riverside, "203")
    record_visit(
        actor=olivia.membership, unit=other, outcome=Outcome.NOT_HOME, idempotency_key=new_key()
    )
    page = bulk(as_olivia, riverside, batch, **HTMX).content.decode()
    visits = page[page.index('name="visits" value="') :].split('"')[3]

    response = as_olivia.post(
        reverse("buildings:bulk_undo", args=[riverside.pk]) + "?select=1",
        {"visits": visits},
        headers=HTMX,
    )

    assert "Undone: Not home at 201, 202." in response.content.decode()
    assert list(Visit.objects.values_list("unit__label", flat=True)) == ["203"]
    assert Unit.objects.get(pk=batch[0].pk).last_attempt_at is None
    assert 'class="door never"' in door_html(response.content.decode(), "201")


def test_another_organizer_cannot_undo_a_batch(
    olivia: User, cora: User, riverside: Building
) -> None:
    units = [make_unit(riverside, "201"), make_unit(riverside, "202")]
    as_olivia = Client()
    as_olivia.force_login(olivia)
    bulk(as_olivia, riverside, units, **HTMX)
    as_cora = Client()
    as_cora.force_login(cora)

    response = as_cora.post(
        reverse("buildings:bulk_undo", args=[riverside.pk]),
        {"visits": ",".join(str(pk) for pk in Visit.objects.values_list("pk", flat=True))},
        follow=True,
    )

    assert "Only the organizer who recorded a knock can undo it." in response.content.decode()
    assert Visit.objects.count() == 2


def test_a_batch_is_not_undone_after_five_minutes(as_olivia: Client, riverside: Building) -> None:
    bulk(as_olivia, riverside, [make_unit(riverside, "201"), make_unit(riverside, "202")])
    Visit.objects.update(recorded_at=timezone.now() - dt.timedelta(minutes=6))

    response = as_olivia.post(
        reverse("buildings:bulk_undo", args=[riverside.pk]),
        {"visits": ",".join(str(pk) for pk in Visit.objects.values_list("pk", flat=True))},
        headers=HTMX,
    )

    assert "first five minutes" in response.content.decode()
    assert Visit.objects.count() == 2


# A resident met at the door


def test_a_resident_met_at_the_door_is_added_once_and_owned_by_the_organizer(
    as_olivia: Client, olivia: User, unit_1204: Unit
) -> None:
    url = reverse("buildings:new_resident", args=[unit_1204.building_id, unit_1204.pk])
    data = {
        "name": "woman in 1204 with twins",
        "phone": "",
        "language": "spanish",
        "key": "resident-key-1",
    }

    response = as_olivia.post(url, data, headers=HTMX)
    as_olivia.post(url, data, headers=HTMX)

    assert "woman in 1204 with twins" in response.content.decode()
    contact = Contact.objects.get(name="woman in 1204 with twins")
    assert contact.owner == olivia and contact.unit == unit_1204 and contact.language == "es"


def test_a_resident_without_a_name_is_refused_and_the_phone_kept(
    as_olivia: Client, unit_1204: Unit
) -> None:
    url = reverse("buildings:new_resident", args=[unit_1204.building_id, unit_1204.pk])

    response = as_olivia.post(url, {"name": " ", "phone": "555 010 7788", "key": "resident-key-2"})

    assert response.status_code == 422
    assert "Give a name or a short description." in response.content.decode()
    assert 'value="555 010 7788"' in response.content.decode()
    assert not Contact.objects.exists()

    # The same through htmx: the form back in place, open, with the error and the number.
    answer = as_olivia.post(
        url, {"name": " ", "phone": "555 010 7788", "key": "resident-key-2"}, headers=HTMX
    ).content.decode()
    assert answer.lstrip().startswith('<div id="residents">')
    assert '<details class="resident" open>' in answer
    assert "Give a name or a short description." in answer
    assert 'value="555 010 7788"' in answer
    assert not Contact.objects.exists()


def test_a_resident_s_language_is_typed_as_a_name_or_code_and_an_unknown_one_refused(
    as_olivia: Client, unit_1204: Unit
) -> None:
    url = reverse("buildings:new_resident", args=[unit_1204.building_id, unit_1204.pk])

    as_olivia.post(url, {"name": "Amal", "language": "ar", "key": "resident-key-3"})
    response = as_olivia.post(url, {"name": "Bo", "language": "Elvish", "key": "resident-key-4"})

    assert Contact.objects.get(name="Amal").language == "ar"
    assert response.status_code == 422
    assert "Unknown language: write its name" in response.content.decode()
    assert not Contact.objects.filter(name="Bo").exists()


# Undo


def test_the_last_knock_can_be_undone_by_whoever_made_it(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    as_olivia.post(knock_url(unit_1204), knock_data(maria, "moved_out"))
    visit = Visit.objects.get()

    response = as_olivia.post(reverse("contacts:undo", args=[visit.pk]), headers=HTMX)

    assert response.status_code == 200
    assert not Visit.objects.exists()
    maria = Contact.objects.get(pk=maria.pk)
    assert maria.status == Status.ACTIVE and maria.unit == unit_1204
    assert maria.attempts_since_conversation == 0


def test_another_organizer_cannot_undo_a_knock(olivia: User, cora: User, maria: Contact) -> None:
    visit, _ = record_visit(
        actor=olivia.membership, contact=maria, outcome=Outcome.NOT_HOME, idempotency_key=new_key()
    )
    client = Client()
    client.force_login(cora)

    response = client.post(reverse("contacts:undo", args=[visit.pk]), headers=HTMX)

    assert response.status_code == 409
    assert Visit.objects.count() == 1


def test_a_knock_is_not_undone_after_five_minutes(
    as_olivia: Client, olivia: User, maria: Contact
) -> None:
    visit, _ = record_visit(
        actor=olivia.membership, contact=maria, outcome=Outcome.NOT_HOME, idempotency_key=new_key()
    )
    Visit.objects.filter(pk=visit.pk).update(recorded_at=timezone.now() - dt.timedelta(minutes=6))

    response = as_olivia.post(reverse("contacts:undo", args=[visit.pk]), headers=HTMX)

    assert "first five minutes" in response.content.decode()
    assert Visit.objects.count() == 1
