"""Any file at all, previewed and then imported: never a 500, and what is imported lands in
Ada's organization, owned by its members, whatever the file says about Westside."""

from __future__ import annotations

import csv
import io

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from contacts.setup.imports import ALIASES
from tests.security.conftest import Ground
from tests.security.guard import assert_organizations_kept_apart, crossings, rolled_back, rows_of
from tests.security.strategies import FUZZ, INJECTIONS, ODD_TEXT

CELLS = st.one_of(
    # Buildings, units, owners and languages of ours and of Westside's, in any case.
    st.sampled_from(["Riverside Towers", "RIVERSIDE TOWERS", "Westside Hall", "New Hall", ""]),
    st.sampled_from(["1204", "0301", "301", "PH1", "2a", "2A", "12 04"]),
    st.integers(-10, 300).map(str),
    st.sampled_from(["olivia", "OLIVIA", "omar@example.org", "wendy", "xavier", "ada"]),
    st.sampled_from(["es", "Spanish", "xx", "555 010 1234", "+1 (555) 010-1234"]),
    st.emails().map(str),
    st.text(max_size=30),
    st.sampled_from(INJECTIONS + ODD_TEXT),
    st.integers(201, 3_000).map(lambda n: "x" * n),
)
COLUMNS = st.one_of(st.sampled_from(sorted(ALIASES)), st.text(max_size=12))


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A spreadsheet saved as CSV: any of our columns, in any order, with any cells."""
    header = draw(st.lists(COLUMNS, min_size=1, max_size=8))
    if draw(st.booleans()):
        header.insert(0, "building")
    width = len(header)
    rows = draw(st.lists(st.lists(CELLS, min_size=width - 1, max_size=width + 1), max_size=8))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    if draw(st.booleans()):
        text = f"sep={delimiter}\n" + text
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(encoding, errors="surrogatepass")


def test_no_file_answers_500_or_imports_outside_the_organization(
    ada: User, ours: Ground, theirs: Ground
) -> None:
    before = rows_of(theirs.organization)
    assert crossings() == []

    @FUZZ
    @given(data=st.one_of(csv_files(), st.binary(max_size=200)))
    def fuzz(data: bytes) -> None:
        with rolled_back():
            client = Client()
            client.force_login(ada)
            upload = SimpleUploadedFile("people.csv", data, content_type="text/csv")

            preview = client.post(reverse("setup:import"), {"file": upload})

            assert preview.status_code < 500
            if "confirm" in (preview.context or {}):
                confirm = preview.context["confirm"]
                response = client.post(reverse("setup:import_confirm"), confirm.initial)
                assert response.status_code < 500
            assert_organizations_kept_apart(theirs.organization, before)

    fuzz()
