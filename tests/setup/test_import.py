"""Ada imports buildings, units and residents from a spreadsheet: a preview that lists every
row error first, then one transaction; the same file twice adds nothing. Files that can't be
read are refused whole, with a message that says what to do."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from buildings.models import Building, Unit
from contacts.models import Contact
from contacts.setup.imports import (
    ImportRefused,
    RowError,
    import_residents,
    keep_upload,
    plan_import,
)
from organizing.models import Organization, Role
from tests.makers import make_building, make_contact, make_member, make_unit

HEADER = "building,address,unit,floor,name,phone,language,owner"


@pytest.fixture(autouse=True)
def var_dir(settings: Any, tmp_path: Path) -> Path:
    """Uploads waiting for confirmation go here, not into the project's var/."""
    settings.VAR_DIR = tmp_path
    imports = settings.STORAGES["imports"]
    settings.STORAGES = {
        **settings.STORAGES,
        "imports": {**imports, "OPTIONS": {**imports["OPTIONS"], "location": tmp_path / "imports"}},
    }
    return tmp_path


@pytest.fixture
def as_ada(ada: User) -> Client:
    client = Client()
    client.force_login(ada)
    return client


def csv_of(*rows: str, header: str = HEADER, newline: str = "\n") -> bytes:
    return newline.join([header, *rows, ""]).encode()


def sample(buildings: int, floors: int, per_floor: int, residents: int) -> bytes:
    """A spreadsheet as an admin would make it: each building's address on its first row,
    several residents to a unit, the floor given by the label."""
    rows = []
    for b in range(buildings):
        for floor in range(1, floors + 1):
            for door in range(1, per_floor + 1):
                for r in range(residents):
                    first = floor == 1 and door == 1 and r == 0
                    rows.append(
                        f"Tower {b},{f'{b} Long Street' if first else ''},{floor}{door:02d},,"
                        f"Resident {r} of {floor}{door:02d},555 010 {b:02d}{r:02d},es,"
                    )
    return csv_of(*rows)


def upload(client: Client, data: bytes, name: str = "residents.csv") -> Any:
    file = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(reverse("setup:import"), {"file": file})


def confirm(client: Client, preview: Any) -> Any:
    form = preview.context["confirm"]
    return client.post(reverse("setup:import_confirm"), dict(form.initial), follow=True)


def residents(org: Organization) -> int:
    return Contact.objects.filter(organization=org).count()


# A clean import


def test_a_clean_file_of_2000_residents_is_previewed_then_imported_in_one_go(
    as_ada: Client, org: Organization
) -> None:
    data = sample(buildings=4, floors=10, per_floor=25, residents=2)

    with CaptureQueriesContext(connection) as preview_queries:
        preview = upload(as_ada, data)

    assert preview.status_code == 200
    plan = preview.context["plan"]
    assert (plan.rows, plan.errors) == (2000, [])
    assert (len(plan.new_buildings), len(plan.new_units), len(plan.new_residents)) == (
        4,
        1000,
        2000,
    )
    assert "Import 2000 residents, 1000 units, 4 buildings" in preview.content.decode()
    # The dry run writes nothing, and reads what exists in a handful of queries.
    assert residents(org) == 0 and not Building.objects.filter(organization=org).exists()
    assert len(preview_queries) < 15

    with CaptureQueriesContext(connection) as import_queries:
        done = confirm(as_ada, preview)

    assert "Imported 2,000 residents, 1,000 units, 4 buildings." in done.content.decode()
    assert residents(org) == 2000
    assert Unit.objects.filter(building__organization=org).count() == 1000
    tower = Building.objects.get(organization=org, name="Tower 2")
    assert (tower.street_address, tower.floors) == ("2 Long Street", 10)
    resident = Contact.objects.select_related("unit").get(
        name="Resident 1 of 1003", unit__building=tower
    )
    assert resident.unit is not None
    assert (resident.unit.label, resident.unit.floor, resident.language) == ("1003", 10, "es")
    # Buildings, units in batches, residents in batches: not a query per row.
    assert len(import_queries) < 40
    # The audit trail has each resident as added by the admin who imported the file.
    added = Contact.history.filter(organization_id=org.pk, history_type="+")
    assert added.count() == 2000
    assert set(added.values_list("history_user__username", flat=True)) == {"ada"}
    assert not list(Path(settings.VAR_DIR, "imports").iterdir())


def test_importing_the_same_file_again_creates_nothing(
    as_ada: Client, org: Organization, ada: User
) -> None:
    data = sample(buildings=2, floors=3, per_floor=4, residents=2)
    confirm(as_ada, upload(as_ada, data))

    again = upload(as_ada, data)

    plan = again.context["plan"]
    assert (plan.already_there, plan.has_work, plan.errors) == (48, False, [])
    assert "everything in this file is in Doorstep already" in again.content.decode()
    import_residents(actor=ada.membership, data=data)
    assert residents(org) == 48
    assert Unit.objects.filter(building__organization=org).count() == 24


def test_a_resident_is_recognised_whatever_the_case_and_spacing_of_their_name(
    ada: User, org: Organization, riverside: Building, maria: Contact
) -> None:
    plan = plan_import(organization=org, data=csv_of("riverside towers,,1204,,MARIA  lopez,,,"))

    assert (plan.already_there, plan.has_work) == (1, False)


def test_existing_residents_are_never_changed_by_an_import(
    ada: User, org: Organization, riverside: Building, maria: Contact
) -> None:
    Contact.objects.filter(pk=maria.pk).update(phone="555 010 9999")

    import_residents(
        actor=ada.membership, data=csv_of("Riverside Towers,,1204,,Maria Lopez,555 010 1111,,")
    )

    maria.refresh_from_db()
    assert maria.phone == "555 010 9999"
    assert residents(org) == 1


def test_the_sample_file_in_the_repository_imports_cleanly(ada: User, org: Organization) -> None:
    data = (Path(settings.BASE_DIR) / "docs" / "sample-import.csv").read_bytes()

    plan = import_residents(actor=ada.membership, data=data)

    assert plan.errors == []
    assert (len(plan.new_buildings), len(plan.new_units), len(plan.new_residents)) == (2, 6, 5)
    li = Contact.objects.select_related("unit").get(name="Li Wei")
    assert li.unit is not None
    assert (li.unit.label, li.unit.floor, li.language) == ("2A", 2, "zh")
    assert li.notes == "Prefers texts, after 6 pm"


def test_the_sample_file_can_be_downloaded_from_the_import_page(as_ada: Client) -> None:
    response = as_ada.get(reverse("setup:import_sample"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"building,address,")  # type: ignore[attr-defined]
    assert "attachment" in response["Content-Disposition"]


def test_an_owner_is_found_by_username_or_email(ada: User, olivia: User, org: Organization) -> None:
    plan = import_residents(
        actor=ada.membership,
        data=csv_of(
            "Oak Hall,1 Oak St,101,,Ann,,,olivia",
            "Oak Hall,,102,,Bob,,,OLIVIA@example.org",
        ),
    )

    assert plan.errors == []
    assert set(Contact.objects.values_list("owner__username", flat=True)) == {"olivia"}


# Bad input: the whole file refused


def test_a_file_with_a_byte_order_mark_and_windows_line_endings_imports(
    as_ada: Client, org: Organization
) -> None:
    data = "\ufeff".encode() + csv_of(
        "Oak Hall,1 Oak St,101,,Ana Díaz,,es,", "Oak Hall,,102,,Bo Chen,,,", newline="\r\n"
    )

    preview = upload(as_ada, data)

    assert preview.context["plan"].errors == []
    confirm(as_ada, preview)
    assert sorted(Contact.objects.values_list("name", flat=True)) == ["Ana Díaz", "Bo Chen"]
    assert Unit.objects.get(label="101").floor == 1


def test_a_file_with_old_mac_line_endings_imports(org: Organization) -> None:
    plan = plan_import(organization=org, data=csv_of("Oak Hall,1 Oak St,101,,Ana,,,", newline="\r"))

    assert (plan.errors, len(plan.new_residents)) == ([], 1)


def test_excels_unicode_text_in_utf16_with_tabs_imports(org: Organization) -> None:
    text = "building\taddress\tunit\tname\r\nOak Hall\t1 Oak St\t101\tŁucja Nowak\r\n"

    plan = plan_import(organization=org, data=text.encode("utf-16"))

    assert plan.errors == []
    assert plan.new_residents[0].name == "Łucja Nowak"


def test_a_file_separated_by_semicolons_imports_with_commas_inside_values(
    ada: User, org: Organization
) -> None:
    header = "building;address;unit;name;phone"
    data = csv_of('Oak Hall;"1 Oak St, rear";101;"Díaz, Ana";555 010 1234', header=header)

    plan = import_residents(actor=ada.membership, data=data)

    assert plan.errors == []
    assert Building.objects.get(name="Oak Hall").street_address == "1 Oak St, rear"
    assert Contact.objects.get().name == "Díaz, Ana"


def test_excels_separator_hint_on_the_first_line_is_understood(
    ada: User, org: Organization
) -> None:
    data = b"sep=;\r\n" + csv_of("Oak Hall;1 Oak St;101;Ana", header="building;address;unit;name")

    plan = plan_import(organization=org, data=data)

    assert (plan.errors, len(plan.new_residents)) == ([], 1)


def test_a_file_without_a_header_is_refused_and_nothing_is_kept(
    as_ada: Client, org: Organization, var_dir: Path
) -> None:
    response = upload(as_ada, b"Oak Hall,1 Oak St,101,,Ana\nOak Hall,,102,,Bo\n")

    assert response.status_code == 422
    page = response.content.decode()
    assert "Line 1 should name the columns, with at least building" in page
    assert "Oak Hall, 1 Oak St, 101, , Ana" in page
    assert not (var_dir / "imports").exists()


def test_a_20_mb_file_is_refused_with_its_size(as_ada: Client, org: Organization) -> None:
    row = "Oak Hall,1 Oak St,101,,A resident with a rather long description,,,\n"
    data = csv_of() + (row * (20 * 1024 * 1024 // len(row))).encode()

    response = upload(as_ada, data)

    assert response.status_code == 422
    assert "The file is 20.0 MB; the limit is 5 MB." in response.content.decode()
    assert residents(org) == 0


def test_more_than_20000_rows_are_refused(org: Organization) -> None:
    data = csv_of(*(f"Oak Hall,1 Oak St,{n},1,R{n},,," for n in range(20_001)))

    with pytest.raises(ImportRefused, match="more than 20,000 rows"):
        plan_import(organization=org, data=data)


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(
    as_ada: Client, org: Organization
) -> None:
    data = csv_of("Oak Hall,1 Oak St,101,,Ana,,,").replace(b"Ana", "Iñaki".encode("cp1252"))

    response = upload(as_ada, data)

    assert "Line 2 is not UTF-8 text. Save the file as CSV UTF-8" in response.content.decode()


def test_an_excel_workbook_is_refused_with_how_to_save_it_as_csv(
    as_ada: Client, org: Organization
) -> None:
    response = upload(as_ada, b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, name="people.xlsx")

    assert "This looks like an Excel workbook" in response.content.decode()


def test_an_empty_file_is_refused(as_ada: Client, org: Organization) -> None:
    response = upload(as_ada, b"\n\n")

    assert "The file is empty." in response.content.decode()


def test_10000_rows_are_previewed_and_imported(as_ada: Client, org: Organization) -> None:
    """How fast is for `make bench` to say (bench/imports.py holds the target); a test on
    a shared machine only says that a file this size goes through."""
    data = sample(buildings=10, floors=10, per_floor=20, residents=5)

    preview = upload(as_ada, data)

    plan = preview.context["plan"]
    assert (plan.rows, plan.errors) == (10_000, [])
    done = confirm(as_ada, preview)
    assert "Imported 10,000 residents, 2,000 units, 10 buildings." in done.content.decode()
    assert residents(org) == 10_000


# Bad input: row errors, listed with their line numbers


def test_every_row_error_is_listed_with_its_line_number_and_reason(
    as_ada: Client, org: Organization, riverside: Building, unit_1204: Unit
) -> None:
    data = csv_of(
        "Riverside Towers,,1205,,Ana,555 010 1234,es,",  # line 2: fine
        "Nowhere Plaza,,101,,Bo,,,",  # line 3: unknown building
        "Riverside Towers,,1204,3,Cy,,,",  # line 4: 1204 is on floor 12
        "Riverside Towers,,1206,,Di,12,,",  # line 5: bad phone
        "Riverside Towers,,1207,,Ed",  # line 6: cut off
        "Riverside Towers,,1208,,Fay,,,nobody",  # line 7: unknown owner
        "Riverside Towers,,PH,,Gus,,,",  # line 8: no floor
        "Riverside Towers,,1205,,Ana,,,",  # line 9: Ana again
        "Riverside Towers,,,,Hal,,,",  # line 10: a resident without a unit
    )

    preview = upload(as_ada, data)

    plan = preview.context["plan"]
    lines = {error.line: error.message for error in plan.errors}
    assert sorted(lines) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert lines[3].startswith('Unknown building "Nowhere Plaza"')
    assert lines[4] == "Duplicate unit: Riverside Towers already has 1204 on floor 12, not 3."
    assert lines[5].startswith("phone: Enter a phone number")
    assert lines[6].startswith("The row has 5 cells but the header names 8 columns: is the")
    assert "nobody" in lines[7]
    assert lines[8] == "floor: Which floor is unit PH on? Fill in the floor column."
    assert lines[9] == "Duplicate resident: Ana in 1205 is already on line 2."
    assert lines[10] == "unit: A resident needs the unit they live in."
    page = preview.content.decode()
    assert "<strong>Line 3:</strong> Unknown building" in page
    assert "8 rows with errors" in page

    confirm(as_ada, preview)

    assert list(Contact.objects.filter(organization=org).values_list("name", flat=True)) == ["Ana"]


def test_a_bad_or_overlong_email_is_a_row_error_not_a_failed_import(
    ada: User, org: Organization
) -> None:
    header = "building,address,unit,name,email"
    long_email = "a" * 250 + "@example.org"
    data = csv_of(
        "Oak Hall,1 Oak St,101,Ana,ana@example.org",
        "Oak Hall,,102,Bo,bo at example",
        f"Oak Hall,,103,Cy,{long_email}",
        header=header,
    )

    plan = import_residents(actor=ada.membership, data=data)

    assert [(e.line, e.message.split(":")[0]) for e in plan.errors] == [(3, "email"), (4, "email")]
    assert list(Contact.objects.values_list("email", flat=True)) == ["ana@example.org"]


def test_a_unit_label_duplicated_with_another_case_is_an_error_in_the_file(
    ada: User, org: Organization
) -> None:
    data = csv_of("Oak Hall,1 Oak St,2A,2,Ana,,,", "Oak Hall,,2a,2,Bo,,,")

    plan = import_residents(actor=ada.membership, data=data)

    assert plan.errors[0].line == 3
    assert plan.errors[0].message == (
        'Duplicate unit: "2a" is unit 2A of line 2, written in another case. Write it the same way.'
    )
    assert list(Unit.objects.values_list("label", flat=True)) == ["2A"]
    assert list(Contact.objects.values_list("name", flat=True)) == ["Ana"]


def test_a_unit_label_that_exists_in_another_case_is_an_error(
    ada: User, org: Organization, riverside: Building
) -> None:
    make_unit(riverside, "12B", floor=12)

    plan = plan_import(organization=org, data=csv_of("Riverside Towers,,12b,,Bo,,,"))

    assert [e.message for e in plan.errors] == [
        'Duplicate unit: "12b" is unit 12B of Riverside Towers, written in another case. '
        "Write it the same way."
    ]


def test_a_building_is_matched_whatever_the_case_of_its_name(
    ada: User, org: Organization, riverside: Building
) -> None:
    plan = import_residents(actor=ada.membership, data=csv_of("RIVERSIDE towers,,1210,,Ana,,,"))

    assert plan.errors == [] and not plan.new_buildings
    assert Contact.objects.filter(unit__building=riverside).count() == 1


def test_rows_of_a_building_whose_first_row_failed_point_at_that_row(
    org: Organization,
) -> None:
    data = csv_of("Oak Hall,1 Oak St,101,,Ana,bad,,", "Oak Hall,,102,,Bo,,,")

    plan = plan_import(organization=org, data=data)

    assert plan.errors[1] == RowError(
        3, 'Building "Oak Hall" would be created by line 2, which has an error; fix that line.'
    )


def test_a_unit_above_the_top_floor_of_an_existing_building_is_an_error(
    org: Organization, maple: Building
) -> None:
    plan = plan_import(organization=org, data=csv_of("Maple Court,,501,,Ana,,,"))

    assert plan.errors[0].message.startswith(
        "floor: Maple Court has 3 floors; unit 501 is on floor 5."
    )


def test_an_archived_building_takes_no_import(org: Organization, riverside: Building) -> None:
    Building.objects.filter(pk=riverside.pk).update(archived=True)

    plan = plan_import(organization=org, data=csv_of("Riverside Towers,,1210,,Ana,,,"))

    assert "is archived; restore it before importing into it" in plan.errors[0].message


def test_a_row_with_more_cells_than_columns_is_an_error(org: Organization) -> None:
    data = csv_of("Oak Hall,1 Oak St,101,Díaz, Ana", header="building,address,unit,name")

    plan = plan_import(organization=org, data=data)

    assert plan.errors[0].message == (
        "The row has 5 cells but the header names 4 columns. A value with a comma or "
        "semicolon in it needs quotes around it."
    )


def test_columns_doorstep_does_not_know_are_named_in_the_preview(
    as_ada: Client, org: Organization
) -> None:
    preview = upload(
        as_ada, csv_of("Oak Hall,1 Oak St,101,Ana,5", header="building,address,unit,name,phnoe")
    )

    assert preview.context["plan"].ignored_columns == ["phnoe"]
    assert "were ignored: phnoe" in preview.content.decode()


def test_another_organizations_buildings_and_members_are_unknown_here(
    org: Organization, other_org: Organization, xavier: User
) -> None:
    make_building(other_org, name="Westside Arms")

    plan = plan_import(organization=org, data=csv_of("Westside Arms,,101,,Ana,,,xavier"))

    assert [e.message[:40] for e in plan.errors] == ["owner: No active member of your organiza"]


# One transaction, and confirmation only of what was previewed


def test_an_import_that_fails_halfway_leaves_nothing_behind(
    ada: User, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Contact.objects, "bulk_create", fail)

    with pytest.raises(RuntimeError):
        import_residents(actor=ada.membership, data=sample(2, 2, 2, 1))

    assert not Building.objects.filter(organization=org).exists()
    assert not Unit.objects.filter(building__organization=org).exists()


def test_a_change_since_the_preview_shows_the_preview_again_and_imports_nothing(
    as_ada: Client, org: Organization, riverside: Building, unit_1204: Unit
) -> None:
    preview = upload(
        as_ada, csv_of("Riverside Towers,,1204,,Ana,,,", "Riverside Towers,,1205,,Bo,,,")
    )
    make_contact(unit_1204, name="Ana")  # an organizer met her at the door meanwhile

    response = confirm(as_ada, preview)

    assert response.status_code == 409
    assert "changed since the preview, so nothing was imported" in response.content.decode()
    assert response.context["plan"].already_there == 1
    assert not Contact.objects.filter(name="Bo").exists()


@pytest.mark.parametrize("other", ["abe", "xavier"])
def test_nobody_else_can_confirm_adas_upload(
    as_ada: Client, org: Organization, other_org: Organization, other: str
) -> None:
    """Abe is a second admin of Ada's organization; Xavier an admin of another one."""
    preview = upload(as_ada, csv_of("Oak Hall,1 Oak St,101,,Ana,,,"))
    client = Client()
    client.force_login(make_member(org if other == "abe" else other_org, other, Role.ADMIN))

    response = client.post(
        reverse("setup:import_confirm"), dict(preview.context["confirm"].initial), follow=True
    )

    assert "That upload was already imported, cancelled or has expired" in response.content.decode()
    assert not Contact.objects.exists()


def test_a_confirmation_twice_imports_once(as_ada: Client, org: Organization) -> None:
    preview = upload(as_ada, csv_of("Oak Hall,1 Oak St,101,,Ana,,,"))
    confirm(as_ada, preview)

    again = confirm(as_ada, preview)

    assert "already imported, cancelled or has expired" in again.content.decode()
    assert residents(org) == 1


def test_a_cancelled_upload_is_deleted(as_ada: Client, ada: User, var_dir: Path) -> None:
    preview = upload(as_ada, csv_of("Oak Hall,1 Oak St,101,,Ana,,,"))
    assert len(list((var_dir / "imports").iterdir())) == 1

    as_ada.post(reverse("setup:import_cancel"), dict(preview.context["confirm"].initial))

    assert not list((var_dir / "imports").iterdir())


def test_an_upload_nobody_confirmed_is_removed_after_a_few_hours(ada: User, var_dir: Path) -> None:
    keep_upload(actor=ada.membership, data=b"building\n")
    stale = next((var_dir / "imports").iterdir())
    old = time.time() - 7 * 3600
    os.utime(stale, (old, old))

    keep_upload(actor=ada.membership, data=b"building\n")

    assert stale not in list((var_dir / "imports").iterdir())
    assert len(list((var_dir / "imports").iterdir())) == 1


def test_the_upload_waits_in_the_imports_storage_so_web_servers_can_share_it(
    as_ada: Client, org: Organization, settings: Any, var_dir: Path
) -> None:
    # Any storage will do: one in memory stands for an object store the servers share.
    settings.STORAGES = {
        **settings.STORAGES,
        "imports": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    preview = upload(as_ada, csv_of("Oak Hall,1 Oak St,101,,Ana,,,"))
    [waiting] = storages["imports"].listdir("")[1]
    assert waiting.startswith(f"{org.pk}-{as_ada.session['_auth_user_id']}-")

    confirm(as_ada, preview)

    assert residents(org) == 1
    assert storages["imports"].listdir("")[1] == []
    assert not (var_dir / "imports").exists()


@pytest.mark.parametrize("persona", ["olivia", "cora"])
def test_organizers_and_the_committee_cannot_import(
    request: pytest.FixtureRequest, persona: str, org: Organization
) -> None:
    client = Client()
    client.force_login(request.getfixturevalue(persona))
    file = SimpleUploadedFile("r.csv", csv_of("Oak Hall,1 Oak St,101,,Ana,,,"))

    assert client.post(reverse("setup:import"), {"file": file}).status_code == 403
    assert client.get(reverse("setup:import")).status_code == 403
    assert residents(org) == 0
