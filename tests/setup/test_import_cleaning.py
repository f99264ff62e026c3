"""Ada imports the files people really have: residents who speak Chinese, Somali or Tigrinya,
names saved with decomposed accents, rows cut short, cells no one meant to type. Nobody is
dropped for their language, and nothing is stored two ways."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from buildings.models import Building
from contacts.models import Contact
from contacts.setup.imports import ImportRefused, import_residents, plan_import
from organizing.models import Organization

HEADER = "building,address,unit,floor,name,phone,language,owner"


@pytest.fixture(autouse=True)
def var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def as_ada(ada: User) -> Client:
    client = Client()
    client.force_login(ada)
    return client


def csv_of(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *rows, ""]).encode()


def upload(client: Client, data: bytes) -> Any:
    file = SimpleUploadedFile("residents.csv", data, content_type="text/csv")
    return client.post(reverse("setup:import"), {"file": file})


def confirm(client: Client, preview: Any) -> Any:
    form = preview.context["confirm"]
    return client.post(reverse("setup:import_confirm"), dict(form.initial), follow=True)


def messages(plan: Any) -> list[tuple[int, str]]:
    return [(error.line, error.message) for error in plan.errors]


def test_ten_thousand_residents_of_whom_one_in_six_speaks_chinese_are_all_imported(
    ada: User, org: Organization
) -> None:
    rows = []
    for n in range(10_000):
        floor, door = divmod(n // 2, 20)
        language = ("zh", "中文", "es", "so", "Tagalog", "yue")[n % 6] if n % 6 == 0 else "en"
        address = "1 Long Street" if n == 0 else ""
        rows.append(f"Tower,{address},{floor + 1}{door:02d},,Resident {n},,{language},")

    plan = import_residents(actor=ada.membership, data=csv_of(*rows))

    assert (plan.errors, plan.warnings) == ([], [])
    assert Contact.objects.filter(organization=org).count() == 10_000
    assert Contact.objects.filter(language="zh").count() == 1_667


def test_an_unknown_language_leaves_the_language_blank_and_says_so_in_the_preview(
    as_ada: Client, org: Organization
) -> None:
    data = csv_of(
        "Oak Hall,1 Oak St,101,1,Ana,,Elvish,",
        "Oak Hall,,102,1,Bo,,42,",
        "Oak Hall,,103,1,Cy,,😀,",
        f"Oak Hall,,104,1,Di,,{'x' * 10_000},",
        "Oak Hall,,105,1,Ed,,Soomaali,",
    )

    preview = upload(as_ada, data)

    plan = preview.context["plan"]
    assert plan.errors == []
    assert [w.line for w in plan.warnings] == [2, 3, 4, 5]
    page = preview.content.decode()
    assert (
        "<strong>Line 2:</strong> language: Unknown language &quot;Elvish&quot;, left blank" in page
    )
    assert "x" * 41 not in page
    done = confirm(as_ada, preview).content.decode()
    assert (
        "Imported 5 residents, 5 units, 1 building. 4 residents were imported with the "
        "language left blank: the file&#x27;s was unknown."
    ) in done
    languages = dict(Contact.objects.values_list("name", "language"))
    assert languages == {"Ana": "", "Bo": "", "Cy": "", "Di": "", "Ed": "so"}


def test_a_row_cut_short_is_an_error_with_its_line_and_nothing_of_it_is_imported(
    ada: User, org: Organization
) -> None:
    data = csv_of("Oak Hall,1 Oak St,101,1,Ana,,,", "Oak Hall,,102,1")

    plan = import_residents(actor=ada.membership, data=data)

    assert messages(plan) == [
        (
            3,
            "The row has 4 cells but the header names 8 columns: is the line cut off? Fill in "
            "the row, leaving blank cells blank.",
        )
    ]
    assert [u.label for u in Building.objects.get().units.all()] == ["101"]


def test_names_saved_with_decomposed_accents_or_doubled_spaces_are_the_same_residents(
    ada: User, org: Organization
) -> None:
    first = csv_of("Tour  Émile,1 rue Nord,101,1,José  Núñez,,,", "Tour Émile,,102,1,Zoë,,,")
    import_residents(actor=ada.membership, data=first)
    decomposed = unicodedata.normalize(
        "NFD", "\n".join([HEADER, "tour émile,,101,1,josé núñez,,,", "Tour   Émile,,102,1,ZOË,,,"])
    ).encode()

    plan = plan_import(organization=org, data=decomposed)

    assert (plan.errors, plan.new_buildings, plan.new_residents) == ([], {}, [])
    assert plan.already_there == 2
    assert list(Building.objects.values_list("name", flat=True)) == ["Tour Émile"]
    names = set(Contact.objects.values_list("name", flat=True))
    assert names == {"José Núñez", "Zoë"}
    assert all(unicodedata.is_normalized("NFC", name) for name in names)


def test_a_hundred_thousand_character_name_gets_one_message(ada: User, org: Organization) -> None:
    data = csv_of(f"Oak Hall,1 Oak St,101,1,{'A' * 100_000},,es,")

    plan = import_residents(actor=ada.membership, data=data)

    assert len(plan.errors) == 1
    assert plan.errors[0].message.startswith("name: Ensure this value has at most 200 characters")
    assert not Contact.objects.exists()


def test_a_phone_number_in_the_name_column_is_an_error(ada: User, org: Organization) -> None:
    plan = import_residents(
        actor=ada.membership, data=csv_of("Oak Hall,1 Oak St,101,1,(555) 019-8844,,,")
    )

    assert messages(plan) == [
        (2, "name: This looks like a phone number, not a name: put it in the phone field.")
    ]
    assert not Contact.objects.exists()


def test_direction_controls_are_taken_out_of_names(ada: User, org: Organization) -> None:
    data = csv_of("\u202eOak Hall,1 Oak St,101,1,Ana\u202e Sousa\u2066,,,")

    plan = import_residents(actor=ada.membership, data=data)

    assert plan.errors == []
    assert list(Contact.objects.values_list("name", "unit__building__name")) == [
        ("Ana Sousa", "Oak Hall")
    ]


def test_a_file_with_a_nul_byte_is_refused_whole(ada: User, org: Organization) -> None:
    data = csv_of("Oak Hall,1 Oak St,101,1,Ana,,,", "Oak Hall,,102,1,B\x00o,,,")

    with pytest.raises(ImportRefused, match="Line 3 holds a NUL character"):
        import_residents(actor=ada.membership, data=data)

    assert not Building.objects.exists() and not Contact.objects.exists()


def test_the_import_counts_in_the_right_plural_forms(as_ada: Client, org: Organization) -> None:
    one = confirm(as_ada, upload(as_ada, csv_of("Oak Hall,1 Oak St,101,1,Ana,,,")))
    assert "Imported 1 resident, 1 unit, 1 building." in one.content.decode()

    data = csv_of(
        "Oak Hall,,101,1,Ana,,,",
        "Oak Hall,,102,1,Bo,,,",
        "Oak Hall,,103,1,Cy,,,",
        "Elm Court,2 Elm St,101,1,Di,,,",
        "Nowhere,,1,1,Ed,,,",
    )
    two = confirm(as_ada, upload(as_ada, data)).content.decode()
    assert "Imported 3 residents, 3 units, 1 building." in two
    assert "1 resident was already in Doorstep. 1 row with errors was left out." in two
