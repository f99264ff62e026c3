"""Ada sets up the ground: buildings, the unit generator, turf from the building's side,
owners in bulk, and the export the committee may take too. Olivia (organizer) and Cora
(committee) are refused the admin screens; Xavier, admin elsewhere, finds none of ours."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from buildings.models import Building, Unit
from contacts.actions import record_visit
from contacts.models import Contact, ExportLog, Level, Outcome, OwnerChange, Status
from organizing.models import Organization
from tests.makers import make_building, make_contact, make_unit, new_key

HTMX = {"HX-Request": "true"}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_ada(ada: User) -> Client:
    return client_for(ada)


def building_fields(**fields: Any) -> dict[str, Any]:
    return {"name": "Oak Hall", "street_address": "1 Oak Street", "floors": "12"} | fields


# Who may do what


ADMIN_PAGES = [
    ("setup:buildings", ()),
    ("setup:new", ()),
    ("setup:edit", ("building",)),
    ("setup:units", ("building",)),
    ("setup:owners", ()),
    ("setup:import", ()),
    ("setup:import_sample", ()),
]


def admin_urls(building: Building) -> list[str]:
    return [reverse(name, args=[building.pk] if args else []) for name, args in ADMIN_PAGES]


@pytest.mark.parametrize("persona", ["olivia", "cora"])
def test_organizers_and_the_committee_get_403_on_admin_screens(
    request: pytest.FixtureRequest, persona: str, riverside: Building
) -> None:
    client = client_for(request.getfixturevalue(persona))

    for url in admin_urls(riverside):
        assert client.get(url).status_code == 403, url
    for name in ("setup:archive", "setup:units", "setup:edit"):
        assert client.post(reverse(name, args=[riverside.pk])).status_code == 403
    assert client.post(reverse("setup:new"), building_fields()).status_code == 403
    assert not Building.objects.filter(name="Oak Hall").exists()


def test_the_outsider_gets_404_for_our_buildings_and_sees_none_in_his_list(
    xavier: User, riverside: Building
) -> None:
    client = client_for(xavier)

    for name in ("setup:edit", "setup:units"):
        assert client.get(reverse(name, args=[riverside.pk])).status_code == 404
    response = client.post(reverse("setup:archive", args=[riverside.pk]), {"archived": "1"})
    assert response.status_code == 404
    assert "Riverside" not in client.get(reverse("setup:buildings")).content.decode()
    riverside.refresh_from_db()
    assert not riverside.archived


def test_anonymous_visitors_are_sent_to_log_in(riverside: Building) -> None:
    for url in admin_urls(riverside):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_committee_may_export_and_organizers_may_not(
    cora: User, olivia: User, maria: Contact
) -> None:
    assert client_for(cora).get(reverse("setup:export")).status_code == 200
    assert client_for(olivia).get(reverse("setup:export")).status_code == 403
    assert client_for(olivia).post(reverse("setup:export")).status_code == 403
    assert not ExportLog.objects.exists()


# The buildings list


def test_the_list_finds_buildings_by_name_or_address(
    as_ada: Client, org: Organization, riverside: Building
) -> None:
    make_building(org, name="Maple Court", street_address="44 Maple Avenue")

    by_name = as_ada.get(reverse("setup:buildings"), {"q": "river"}).content.decode()
    by_address = as_ada.get(reverse("setup:buildings"), {"q": "maple ave"}).content.decode()

    assert "Riverside Towers" in by_name and "Maple Court" not in by_name
    assert "Maple Court" in by_address and "Riverside Towers" not in by_address


def test_the_list_counts_units_residents_and_names_organizers(
    as_ada: Client, maria: Contact, riverside: Building
) -> None:
    make_unit(riverside, "1205")

    page = as_ada.get(reverse("setup:buildings")).content.decode()

    assert "2 units · 1 resident · olivia" in page


def test_the_search_answers_htmx_with_the_results_alone(
    as_ada: Client, riverside: Building
) -> None:
    response = as_ada.get(reverse("setup:buildings"), {"q": "river"}, headers=HTMX)

    page = response.content.decode()
    assert page.lstrip().startswith('<section id="results">')
    assert "Riverside Towers" in page and "<html" not in page


def test_archived_buildings_are_listed_apart(as_ada: Client, riverside: Building) -> None:
    Building.objects.filter(pk=riverside.pk).update(archived=True)

    assert "Riverside" not in as_ada.get(reverse("setup:buildings")).content.decode()
    archived = as_ada.get(reverse("setup:buildings"), {"archived": "1"}).content.decode()
    assert "Riverside Towers" in archived


def test_the_list_costs_the_same_queries_with_more_buildings_units_and_residents(
    as_ada: Client, org: Organization, olivia: User, maria: Contact
) -> None:
    with CaptureQueriesContext(connection) as small:
        assert as_ada.get(reverse("setup:buildings")).status_code == 200

    for n in range(12):
        building = make_building(org, name=f"Block {n}", organizers=(olivia,))
        for label in ("101", "102"):
            make_contact(make_unit(building, label), owner=olivia, name=f"R {n} {label}")
    with CaptureQueriesContext(connection) as large:
        as_ada.get(reverse("setup:buildings"))

    assert len(large) == len(small)


# Creating and editing a building


def test_a_building_is_created_with_its_organizers(
    as_ada: Client, org: Organization, olivia: User, omar: User
) -> None:
    response = as_ada.post(reverse("setup:new"), building_fields(organizers=[olivia.pk, omar.pk]))

    building = Building.objects.get(name="Oak Hall")
    assert response.status_code == 302
    assert response["Location"] == reverse("setup:units", args=[building.pk])
    assert building.organization == org
    assert set(building.organizers.all()) == {olivia, omar}


def test_a_building_name_the_organization_has_in_another_case_is_refused(
    as_ada: Client, riverside: Building
) -> None:
    response = as_ada.post(reverse("setup:new"), building_fields(name="RIVERSIDE towers"))

    assert response.status_code == 422
    assert "already has a building of that name" in response.content.decode()


def test_another_organizations_member_cannot_be_given_turf(as_ada: Client, xavier: User) -> None:
    response = as_ada.post(reverse("setup:new"), building_fields(organizers=[xavier.pk]))

    assert response.status_code == 422
    assert not Building.objects.filter(name="Oak Hall").exists()


def test_a_12_by_8_building_is_previewed_then_created_with_its_96_units(
    as_ada: Client, org: Organization
) -> None:
    fields = building_fields(**{"units-units": "01-08"})

    preview = as_ada.post(reverse("setup:new"), fields)

    page = preview.content.decode()
    assert "96 new units" in page and "Create building with 96 units" in page
    assert not Building.objects.filter(name="Oak Hall").exists()

    digest = preview.context["preview"]["digest"]
    created = as_ada.post(reverse("setup:new"), fields | {"confirm": "1", "previewed": digest})

    building = Building.objects.get(name="Oak Hall")
    assert created["Location"] == reverse("setup:edit", args=[building.pk])
    labels = list(building.units.order_by("floor", "label").values_list("label", flat=True))
    assert len(labels) == 96
    assert labels[:3] == ["101", "102", "103"] and labels[-1] == "1208"
    assert building.units.get(label="1208").floor == 12


def test_a_confirmation_of_units_that_were_not_previewed_previews_them_first(
    as_ada: Client,
) -> None:
    preview = as_ada.post(reverse("setup:new"), building_fields(**{"units-units": "01-08"}))
    changed = building_fields(**{"units-units": "01-10"})

    response = as_ada.post(
        reverse("setup:new"),
        changed | {"confirm": "1", "previewed": preview.context["preview"]["digest"]},
    )

    assert "120 new units" in response.content.decode()
    assert "The units changed since the preview" in response.content.decode()
    assert not Building.objects.filter(name="Oak Hall").exists()


def test_the_new_building_form_answers_htmx_with_the_form_and_redirects_the_page(
    as_ada: Client,
) -> None:
    fields = building_fields(**{"units-units": "A-D"})

    preview = as_ada.post(reverse("setup:new"), fields, headers=HTMX)

    assert preview.content.decode().lstrip().startswith('<form id="building-form"')
    digest = preview.context["preview"]["digest"]
    created = as_ada.post(
        reverse("setup:new"), fields | {"confirm": "1", "previewed": digest}, headers=HTMX
    )
    building = Building.objects.get(name="Oak Hall")
    assert created["HX-Redirect"] == reverse("setup:edit", args=[building.pk])
    assert building.units.count() == 48


def test_editing_a_building_sets_its_organizers_from_the_buildings_side(
    as_ada: Client, riverside: Building, olivia: User, omar: User
) -> None:
    fields = building_fields(name="Riverside Towers", organizers=[omar.pk], city="Eastside")

    response = as_ada.post(reverse("setup:edit", args=[riverside.pk]), fields)

    assert response.status_code == 302
    riverside.refresh_from_db()
    assert riverside.city == "Eastside"
    assert list(riverside.organizers.all()) == [omar]


def test_a_building_cannot_have_fewer_floors_than_its_units(
    as_ada: Client, riverside: Building, unit_1204: Unit
) -> None:
    fields = building_fields(name="Riverside Towers", floors="10")

    response = as_ada.post(reverse("setup:edit", args=[riverside.pk]), fields)

    assert response.status_code == 422
    assert "Unit 1204 is on floor 12" in response.content.decode()


def test_an_archived_building_leaves_the_organizers_list_and_can_be_restored(
    as_ada: Client, olivia: User, riverside: Building, maria: Contact
) -> None:
    as_ada.post(reverse("setup:archive", args=[riverside.pk]), {"archived": "1"})

    riverside.refresh_from_db()
    assert riverside.archived
    olivias = client_for(olivia).get(reverse("buildings:list")).content.decode()
    assert "Riverside" not in olivias
    assert Contact.objects.filter(pk=maria.pk).exists()

    as_ada.post(reverse("setup:archive", args=[riverside.pk]), {"archived": "0"})
    riverside.refresh_from_db()
    assert not riverside.archived


# The unit generator


def test_the_generator_previews_then_adds_only_the_doors_the_building_lacks(
    as_ada: Client, olivia: User, riverside: Building, maria: Contact, unit_1204: Unit
) -> None:
    record_visit(
        actor=olivia.membership, contact=maria, outcome=Outcome.NOT_HOME, idempotency_key=new_key()
    )
    make_unit(riverside, "12b", floor=12)
    url = reverse("setup:units", args=[riverside.pk])
    fields = {"labels": "12: 1203 1204 12B 12C"}

    preview = as_ada.post(url, fields)

    page = preview.content.decode()
    assert "2 new units, 2 already there" in page
    assert riverside.units.count() == 2

    done = as_ada.post(
        url, fields | {"confirm": "1", "previewed": preview.context["preview"]["digest"]}
    )

    assert done.status_code == 302
    assert sorted(riverside.units.values_list("label", flat=True)) == [
        "1203",
        "1204",
        "12C",
        "12b",
    ]
    unit_1204.refresh_from_db()
    assert unit_1204.last_attempt_at is not None
    assert Contact.objects.get(pk=maria.pk).unit == unit_1204


def test_pasted_labels_find_their_floor_or_say_which_line_needs_one(
    as_ada: Client, maple: Building
) -> None:
    url = reverse("setup:units", args=[maple.pk])

    good = as_ada.post(url, {"labels": "101, 102\n4: PH1 PH2"})
    bad = as_ada.post(url, {"labels": "101 A3"})

    floors = good.context["preview"]["floors"]
    assert floors == [(4, [("PH1", True), ("PH2", True)]), (1, [("101", True), ("102", True)])]
    assert bad.status_code == 422
    assert "Which floor is A3 on? Write its line as &quot;3: A3&quot;." in bad.content.decode()


def test_labels_that_differ_only_in_case_are_refused(as_ada: Client, maple: Building) -> None:
    response = as_ada.post(reverse("setup:units", args=[maple.pk]), {"labels": "1: 1a 1A"})

    assert response.status_code == 422
    assert "would be the same door" in response.content.decode()


def test_ambiguous_ranges_are_refused_with_a_way_out(as_ada: Client, riverside: Building) -> None:
    url = reverse("setup:units", args=[riverside.pk])

    response = as_ada.post(url, {"floors": "1-12", "units": "1-12"})

    page = response.content.decode()
    assert "&quot;111&quot; would be made twice, on floors 1 and 11" in page
    assert not riverside.units.exists()


def test_too_many_units_at_once_are_refused(as_ada: Client, riverside: Building) -> None:
    response = as_ada.post(
        reverse("setup:units", args=[riverside.pk]), {"floors": "1-100", "units": "01-30"}
    )

    assert "That makes 3,000 units; at most 2,000 can be added at once." in (
        response.content.decode()
    )


def test_doors_above_the_top_floor_raise_the_buildings_floors(
    as_ada: Client, maple: Building
) -> None:
    url = reverse("setup:units", args=[maple.pk])
    preview = as_ada.post(url, {"labels": "5: 5A"})

    as_ada.post(
        url, {"labels": "5: 5A", "confirm": "1", "previewed": preview.context["preview"]["digest"]}
    )

    maple.refresh_from_db()
    assert maple.floors == 5


def test_the_generator_answers_htmx_with_its_form(as_ada: Client, maple: Building) -> None:
    response = as_ada.post(
        reverse("setup:units", args=[maple.pk]), {"floors": "1-3", "units": "A-B"}, headers=HTMX
    )

    page = response.content.decode()
    assert page.lstrip().startswith('<form id="generator"')
    assert "6 new units" in page


# Owners in bulk


def test_ticked_contacts_change_owner_and_the_change_is_kept(
    as_ada: Client, ada: User, olivia: User, omar: User, maria: Contact, unit_1204: Unit
) -> None:
    ana = make_contact(unit_1204, owner=olivia, name="Ana")
    make_contact(unit_1204, owner=olivia, name="Bo")

    response = as_ada.post(
        reverse("setup:owners"), {"contacts": [maria.pk, ana.pk], "to_owner": omar.pk}
    )

    assert response.status_code == 302
    assert set(Contact.objects.filter(owner=omar).values_list("name", flat=True)) == {
        "Maria Lopez",
        "Ana",
    }
    assert Contact.objects.get(name="Bo").owner == olivia
    change = OwnerChange.objects.get(contact=maria)
    assert (change.from_owner, change.to_owner, change.changed_by) == (olivia, omar, ada)


def test_every_contact_the_filters_match_changes_owner_at_once(
    as_ada: Client, olivia: User, omar: User, riverside: Building, maple: Building
) -> None:
    for n in range(30):
        make_contact(make_unit(riverside, f"{n + 100}"), owner=olivia, name=f"R{n}")
    kept = make_contact(make_unit(maple, "301"), owner=olivia, name="Elsewhere")
    url = reverse("setup:owners") + f"?building={riverside.pk}&owner={olivia.pk}"

    as_ada.post(url, {"everyone": "1", "expected": "30", "to_owner": omar.pk})

    assert Contact.objects.filter(owner=omar).count() == 30
    assert OwnerChange.objects.count() == 30
    kept.refresh_from_db()
    assert kept.owner == olivia


def test_all_matching_is_refused_when_the_list_changed_since_it_was_shown(
    as_ada: Client, olivia: User, omar: User, maria: Contact
) -> None:
    response = as_ada.post(
        reverse("setup:owners"), {"everyone": "1", "expected": "7", "to_owner": omar.pk}
    )

    assert response.status_code == 422
    assert "1 contacts match now" in response.content.decode()
    assert not OwnerChange.objects.exists()


def test_contacts_go_only_to_an_active_organizer_of_the_organization(
    as_ada: Client, cora: User, xavier: User, maria: Contact
) -> None:
    for to_owner in (cora, xavier):
        response = as_ada.post(
            reverse("setup:owners"), {"contacts": [maria.pk], "to_owner": to_owner.pk}
        )
        assert response.status_code == 422
    assert not OwnerChange.objects.exists()


def test_another_organizations_contacts_cannot_be_ticked(
    as_ada: Client, omar: User, other_org: Organization
) -> None:
    theirs = make_contact(make_unit(make_building(other_org), "101"), name="Theirs")

    response = as_ada.post(reverse("setup:owners"), {"contacts": [theirs.pk], "to_owner": omar.pk})

    assert response.status_code == 422
    theirs.refresh_from_db()
    assert theirs.owner is None


def test_orphaned_contacts_can_be_listed_alone(
    as_ada: Client, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    make_contact(unit_1204, name="Nobody's", owner=None)
    Contact.objects.filter(name="Nobody's").update(orphaned=True)

    page = as_ada.get(reverse("setup:owners"), {"orphaned": "on"}).content.decode()

    assert "Nobody&#x27;s" in page and "Maria Lopez" not in page


def test_the_owners_list_costs_the_same_queries_with_more_contacts(
    as_ada: Client, olivia: User, riverside: Building, maria: Contact
) -> None:
    with CaptureQueriesContext(connection) as small:
        assert as_ada.get(reverse("setup:owners")).status_code == 200

    for n in range(40):
        make_contact(make_unit(riverside, f"{n + 100}"), owner=olivia, name=f"R{n}")
    with CaptureQueriesContext(connection) as large:
        as_ada.get(reverse("setup:owners"))

    assert len(large) == len(small)


# The export


def export(client: Client, **fields: Any) -> list[list[str]]:
    response = client.post(reverse("setup:export"), fields)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[attr-defined]
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_committee_exports_contacts_with_last_conversation_level_and_owner(
    cora: User, olivia: User, maria: Contact
) -> None:
    maria.set_level(Level.LEADER, by=olivia)
    record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.CONVERSATION,
        idempotency_key=new_key(),
    )

    rows = export(client_for(cora))

    header, maria_row = rows
    row = dict(zip(header, maria_row, strict=True))
    assert row["name"] == "Maria Lopez" and row["unit"] == "1204"
    assert row["level"] == "Leader" and row["owner"] == "olivia"
    assert row["last_conversation"].startswith(str(maria.visits.get().happened_at.year))
    log = ExportLog.objects.get()
    assert (log.user, log.rows, log.what) == (cora, 1, "contacts")
    assert log.filters == "all buildings; active only"


def test_exported_cells_that_a_spreadsheet_would_run_are_neutralised(
    as_ada: Client, unit_1204: Unit
) -> None:
    make_contact(unit_1204, name='=HYPERLINK("http://evil.example","click")', notes="")
    make_contact(unit_1204, name="@SUM(1+1)", phone="+1 555 010 1234")

    rows = export(as_ada)

    names = sorted(row[3] for row in rows[1:])
    assert names == ['\'=HYPERLINK("http://evil.example","click")', "'@SUM(1+1)"]
    # A phone is text to a spreadsheet, with its digits and its plus (contacts/exports.py).
    assert "(+1) 555 010 1234" in [row[4] for row in rows[1:]]


def test_do_not_contact_residents_are_exported_without_phone_or_email(
    as_ada: Client, unit_1204: Unit
) -> None:
    make_contact(
        unit_1204,
        name="Refused",
        phone="555 010 1234",
        email="r@example.org",
        status=Status.DO_NOT_CONTACT,
    )

    active_only = export(as_ada)
    everyone = export(as_ada, everyone="on")

    assert len(active_only) == 1
    assert everyone[1][3:6] == ["Refused", "", ""]


def test_an_export_of_one_building_holds_only_its_residents(
    as_ada: Client, maria: Contact, maple: Building
) -> None:
    make_contact(make_unit(maple, "301"), name="Maple resident")

    rows = export(as_ada, building=maple.pk)

    assert [row[3] for row in rows[1:]] == ["Maple resident"]
    assert ExportLog.objects.get().filters == "building=Maple Court; active only"


def test_the_outsider_exports_nothing_of_ours(
    xavier: User, maria: Contact, riverside: Building
) -> None:
    client = client_for(xavier)

    assert len(export(client)) == 1
    response = client.post(reverse("setup:export"), {"building": riverside.pk})
    assert response.status_code == 422


def test_the_export_page_lists_recent_exports(as_ada: Client, cora: User, maria: Contact) -> None:
    export(client_for(cora))

    page = as_ada.get(reverse("setup:export")).content.decode()

    assert "cora · 1 row · all buildings · active only" in page
