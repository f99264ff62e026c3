"""A contact carries its unit's building, so that the hourly job counts each building's
contacts without joining every contact to its unit. Whatever sets a contact's unit sets the
building with it: none of them may leave a contact in one building's unit and another's
count."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bench import lapses
from bench.generate import generate
from buildings.models import Building, Unit
from contacts.actions import record_visit, undo_visit
from contacts.models import Contact, LapseFlag, Outcome, set_buildings
from contacts.privacy.erasure import erase_contact
from contacts.setup.imports import import_residents
from organizing.models import Organization
from tests.makers import make_contact, make_unit, mark_lapsed, misplaced_contacts, new_key


def building_of(contact: Contact) -> int | None:
    return Contact.objects.values_list("building_id", flat=True).get(pk=contact.pk)


@pytest.fixture
def maple_101(maple: Building) -> Unit:
    return make_unit(maple, "101")


def test_a_resident_added_to_a_unit_is_in_its_building(maria: Contact, riverside: Building) -> None:
    assert building_of(maria) == riverside.pk
    assert misplaced_contacts() == []


def test_a_contact_saved_in_another_unit_moves_building_however_the_unit_is_set(
    maria: Contact, maple: Building, maple_101: Unit, unit_1204: Unit, riverside: Building
) -> None:
    maria.unit = maple_101
    maria.save()
    assert building_of(maria) == maple.pk

    maria = Contact.objects.get(pk=maria.pk)
    maria.unit_id = unit_1204.pk
    maria.save(update_fields=["unit"])
    assert building_of(maria) == riverside.pk

    maria.unit = None
    maria.save()
    assert building_of(maria) is None
    assert misplaced_contacts() == []


def test_saving_a_contact_without_moving_it_looks_no_unit_up(maria: Contact) -> None:
    maria = Contact.objects.get(pk=maria.pk)
    maria.name = "Maria López"

    with CaptureQueriesContext(connection) as captured:
        maria.save(update_fields=["name"])
        maria.save()

    assert not [q for q in captured.captured_queries if Unit._meta.db_table in q["sql"]]
    assert misplaced_contacts() == []


def test_a_knock_that_finds_the_contact_moved_out_takes_the_building_and_undo_gives_it_back(
    maria: Contact, olivia: User, riverside: Building
) -> None:
    visit, _ = record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.MOVED_OUT,
        idempotency_key=new_key(),
    )
    assert building_of(maria) is None

    undo_visit(actor=olivia.membership, visit=visit)

    assert building_of(maria) == riverside.pk
    assert misplaced_contacts() == []


def test_an_erased_person_is_in_no_building(maria: Contact, ada: User) -> None:
    erase_contact(actor=ada.membership, contact=maria)

    assert building_of(maria) is None
    assert misplaced_contacts() == []


def test_residents_created_in_bulk_are_in_their_units_buildings(
    org: Organization, unit_1204: Unit, maple_101: Unit
) -> None:
    with_unit = Contact(organization=org, unit=maple_101, name="Held")
    by_key = Contact(organization=org, unit_id=unit_1204.pk, name="By key")
    nowhere = Contact(organization=org, name="Nowhere")

    set_buildings([with_unit, by_key, nowhere])
    Contact.objects.bulk_create([with_unit, by_key, nowhere])

    assert [building_of(c) for c in (with_unit, by_key, nowhere)] == [
        maple_101.building_id,
        unit_1204.building_id,
        None,
    ]
    assert misplaced_contacts() == []


def test_residents_moved_in_bulk_or_by_move_to_change_building(
    maria: Contact, unit_1204: Unit, maple_101: Unit
) -> None:
    neighbour = make_contact(unit_1204, name="Neighbour")

    maria.unit = maple_101
    set_buildings([maria])
    Contact.objects.bulk_update([maria], ["unit", "building"])
    assert building_of(maria) == maple_101.building_id

    Contact.objects.filter(pk=neighbour.pk).move_to(maple_101)
    assert building_of(neighbour) == maple_101.building_id
    Contact.objects.filter(pk=neighbour.pk).move_to(None)
    assert building_of(neighbour) is None
    assert misplaced_contacts() == []


def test_a_door_moved_to_another_building_takes_its_residents_along(
    maria: Contact, unit_1204: Unit, maple: Building
) -> None:
    unit = Unit.objects.get(pk=unit_1204.pk)
    unit.building = maple
    unit.save()

    assert building_of(maria) == maple.pk
    assert misplaced_contacts() == []


def test_the_residents_of_a_deleted_unit_or_building_are_in_none(
    maria: Contact, unit_1204: Unit, riverside: Building, maple_101: Unit
) -> None:
    elsewhere = make_contact(maple_101, name="Elsewhere")

    unit_1204.delete()
    assert building_of(maria) is None
    maple_101.building.delete()
    assert building_of(elsewhere) is None

    assert misplaced_contacts() == []


def test_a_csv_import_puts_residents_of_new_and_known_units_in_their_buildings(
    ada: User, org: Organization, unit_1204: Unit, settings: Any, tmp_path: Any
) -> None:
    settings.VAR_DIR = tmp_path
    data = "\n".join(
        [
            "building,address,unit,floor,name",
            "Riverside Towers,,1204,,Known Door",
            "Riverside Towers,,1205,,New Door",
            "Oak Hall,5 Oak Street,101,,New Building",
            "",
        ]
    ).encode()

    plan = import_residents(actor=ada.membership, data=data)

    assert plan.saved
    placed = dict(Contact.objects.values_list("name", "building__name"))
    assert placed == {
        "Known Door": "Riverside Towers",
        "New Door": "Riverside Towers",
        "New Building": "Oak Hall",
    }
    assert misplaced_contacts() == []


def change_in_admin(
    settings: Any, admin: User, contact: Contact, **changes: Any
) -> tuple[Client, str, dict[str, Any]]:
    """A superuser's client, the contact's change page in Django's admin, and the form as
    the page fills it, with `changes`."""
    settings.OTP_REQUIRED_ROLES = []
    User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    form = client.get(url).context["adminform"].form
    data = {
        name: "" if value is None else value
        for name, value in form.initial.items()
        if name in form.fields
    }
    data |= {
        "unit": contact.unit_id,
        "owner": contact.owner_id or "",
        "organization": contact.organization_id,
        "created_at_0": timezone.localtime(contact.created_at).strftime("%Y-%m-%d"),
        "created_at_1": timezone.localtime(contact.created_at).strftime("%H:%M:%S"),
        "level_changes-TOTAL_FORMS": 0,
        "level_changes-INITIAL_FORMS": 0,
        **changes,
    }
    return client, url, data


def test_a_contact_moved_in_djangos_admin_changes_building(
    settings: Any, ada: User, maria: Contact, maple_101: Unit
) -> None:
    client, url, data = change_in_admin(settings, ada, maria, unit=maple_101.pk)

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert building_of(maria) == maple_101.building_id
    assert misplaced_contacts() == []


def test_a_contact_changed_in_djangos_admin_keeps_what_the_job_wrote_meanwhile(
    settings: Any, ada: User, maria: Contact
) -> None:
    """The admin saves the fields it changed: the flag and the open lapse the job wrote
    after the admin's copy was read stay."""
    client, url, data = change_in_admin(settings, ada, maria, name="Maria L.")
    job_ran: list[bool] = []

    def job_first(execute: Any, sql: str, *args: Any) -> Any:
        if sql.startswith('UPDATE "contacts_contact" SET') and not job_ran:
            job_ran.append(True)
            mark_lapsed(maria)
        return execute(sql, *args)

    with connection.execute_wrapper(job_first):
        response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert job_ran
    saved = Contact.objects.get(pk=maria.pk)
    assert saved.name == "Maria L."
    assert saved.lapse_flag == LapseFlag.LAPSED and saved.open_lapse is not None


@pytest.mark.django_db(transaction=True)
def test_the_benchmarks_generator_puts_every_resident_in_their_units_building() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL; run it through `make test`")
    generated = generate(
        "Bench Check",
        buildings=2,
        floors=5,
        units_per_floor=10,
        contacts=1000,
        visits=1000,
        organizers=2,
    )
    lapses.mix([generated.organization.pk], timezone.now())

    assert Contact.objects.filter(unit__isnull=True).count() > 10  # 3% moved out
    assert misplaced_contacts() == []
