"""CSV import of buildings, units and residents.

Python's csv module reads the file and a Django form checks each row. The whole file is
planned in memory against three queries (the organization's buildings, units and residents),
so the preview costs the same whatever is already in the database and writes nothing.

1. `read_rows` decodes the bytes (UTF-8 with or without a byte-order mark, or UTF-16 as
   Excel's "Unicode text" writes it), takes the delimiter (comma, semicolon or tab) from the
   header line and checks the header. A file it can't read is refused whole, with a message
   saying why: `ImportRefused`.
2. `plan_import` checks every row and returns a `Plan`: what would be created, what is
   already there, and every row error with its line number. A row with an error is left out
   whole; the other rows don't depend on it.
3. `import_residents` plans again, under a lock on the organization so that two imports (or
   an import and the unit generator) run one after the other, and creates what the plan says
   in one transaction: nothing is ever partly imported.

A resident is known by building name, unit label and name, all without regard to case and
normalised as contacts.text does (so stored), so importing the same file again, even as
another tool saved it, creates nothing new. Existing buildings, units and residents
are never changed: what organizers have learned at the door wins over a spreadsheet.

The uploaded file waits between the preview and the confirmation in the "imports" storage
(settings.STORAGES: a folder under VAR_DIR unless one shared by every web server is set),
named by a random token and by the organization and user who uploaded it: another user's
token finds nothing.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from buildings.models import HIGHEST_FLOOR, LOWEST_FLOOR, Building, Unit, floor_from_label
from contacts.forms import NameField, OneLineField
from contacts.languages import language_code
from contacts.models import Contact, phone_validator, set_buildings
from contacts.text import BIDI_CONTROLS, name_key
from organizing.models import Membership, Organization

MAX_ROWS = 20_000
PENDING_FOR = dt.timedelta(hours=6)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Column:
    name: str
    help: str | Promise
    aliases: tuple[str, ...] = ()


COLUMNS = [
    Column("building", gettext_lazy("The building's name. Required on every row.")),
    Column(
        "address",
        gettext_lazy(
            "Street address. Needed on the first row of a building Doorstep doesn't have "
            "yet; ignored for buildings it has."
        ),
        ("street_address", "street"),
    ),
    Column("city", gettext_lazy("For a new building; optional."), ("town",)),
    Column(
        "postal_code",
        gettext_lazy("For a new building; optional."),
        ("zip", "zip_code", "postcode"),
    ),
    Column(
        "unit",
        gettext_lazy("The door's label, like 1204 or 2A."),
        ("unit_label", "apartment", "apt"),
    ),
    Column(
        "floor",
        gettext_lazy(
            "The unit's floor; may be left blank for labels that start with it (1204 is on "
            "floor 12, 305 on floor 3)."
        ),
    ),
    Column(
        "name",
        gettext_lazy(
            'The resident\'s name, or a description like "woman in 1204". Leave blank to '
            "add the unit alone."
        ),
        ("resident", "resident_name"),
    ),
    Column(
        "phone",
        gettext_lazy("7 to 20 digits; spaces, dashes, dots, brackets and a leading + allowed."),
    ),
    Column("email", gettext_lazy("An email address.")),
    Column(
        "language",
        gettext_lazy("Preferred language: a code like es or a name like Spanish."),
    ),
    Column(
        "owner",
        gettext_lazy("The organizer responsible: their username or email in Doorstep."),
    ),
    Column("notes", gettext_lazy("Anything else worth knowing.")),
]
ALIASES = {alias: c.name for c in COLUMNS for alias in (c.name, *c.aliases)}
# How much of a cell a message quotes: a 100,000-character cell is not repeated back.
QUOTED = 40


class ImportRefused(Exception):
    """The whole file is refused; the message says why and what to do."""


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


def quoted(value: str) -> str:
    return f'"{value[:QUOTED]}…"' if len(value) > QUOTED else f'"{value}"'


def grouped(number: int) -> str:
    """2,000 in English, 2 000 in French."""
    return number_format(number, force_grouping=True)


def read_rows(data: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The ignored column names and the non-blank rows as (line number, {column: value}),
    or ImportRefused. Line numbers are the file's, the header being line 1, so a spreadsheet
    shows the same number."""
    text = _decode(data)
    first_line = next((line for line in io.StringIO(text) if line.strip()), "")
    hint = re.fullmatch(r"sep=(.)\s*", first_line)
    if hint:
        # Excel's hint on the first line; left blank so that line numbers stay the file's.
        delimiter, text = hint.group(1), "\n" + text.partition("\n")[2]
    else:
        delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise ImportRefused(_("The file has no rows."))
        names = _header(header, reader.line_num)
        ignored = [original for original, name in names if name and name not in ALIASES]
        columns = [ALIASES.get(name, "") for _, name in names]
        # The header may end in blank cells; a row must reach its last named column.
        named = max(i + 1 for i, (original, _) in enumerate(names) if original)
        line = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(rows) == MAX_ROWS:
                    raise ImportRefused(
                        _(
                            "The file has more than %(rows)s rows; split it into smaller "
                            "files and import them one after the other."
                        )
                        % {"rows": grouped(MAX_ROWS)}
                    )
                extra = [c for c in cells[len(columns) :] if c.strip()]
                values = {col: cell for col, cell in zip(columns, cells, strict=False) if col}
                if extra or len(cells) < named:
                    values["__cells__"] = f"{len(cells)}/{named}"
                rows.append((line, values))
            line = reader.line_num + 1
    except csv.Error as error:
        raise ImportRefused(
            _("Line %(line)s can't be read as CSV (%(error)s). Is this a CSV file?")
            % {"line": reader.line_num, "error": error}
        ) from error
    return ignored, rows


def _decode(data: bytes) -> str:
    if not data.strip():
        raise ImportRefused(_("The file is empty."))
    if data.startswith(b"PK\x03\x04"):
        raise ImportRefused(
            _(
                "This looks like an Excel workbook, not a CSV file. In Excel choose File > "
                "Save As > CSV UTF-8, or in LibreOffice Save As > Text CSV, then upload that "
                "file."
            )
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise ImportRefused(
                _(
                    "Line %(line)s is not UTF-8 text. Save the file as CSV UTF-8 (Excel) or "
                    "with the Unicode (UTF-8) character set (LibreOffice), then upload it again."
                )
                % {"line": line}
            ) from error
    # Text never holds a NUL; PostgreSQL refuses one, so it would fail the whole import.
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportRefused(
            _(
                "Line %(line)s holds a NUL character, which text never has: the file is "
                "damaged or not a CSV file. Save it again as CSV UTF-8 and upload that file."
            )
            % {"line": line}
        )
    return text


def _header(cells: list[str], line: int) -> list[tuple[str, str]]:
    names = [(cell.strip(), re.sub(r"[\s-]+", "_", cell.strip().lower())) for cell in cells]
    known = [ALIASES.get(name) for _, name in names]
    if "building" not in known:
        shown = ", ".join(cell.strip() for cell in cells)
        raise ImportRefused(
            _(
                "Line %(line)s should name the columns, with at least building (see the "
                'sample file); it reads "%(header)s". Columns are separated by commas, '
                "semicolons or tabs."
            )
            % {"line": line, "header": shown[:100]}
        )
    for name in {k for k in known if k and known.count(k) > 1}:
        raise ImportRefused(
            _('The column "%(name)s" appears twice in the header (line %(line)s).')
            % {"name": name, "line": line}
        )
    return names


# What a resident's detail given without their name says, per column.
NEEDS_A_NAME = {
    "phone": gettext_lazy("A phone needs the resident's name."),
    "email": gettext_lazy("An email needs the resident's name."),
    "language": gettext_lazy("A language needs the resident's name."),
    "owner": gettext_lazy("An owner needs the resident's name."),
    "notes": gettext_lazy("Notes need the resident's name."),
}


class RowForm(forms.Form):
    building = OneLineField(max_length=200)
    address = OneLineField(max_length=300, required=False)
    city = OneLineField(max_length=120, required=False)
    postal_code = OneLineField(max_length=20, required=False)
    unit = OneLineField(max_length=20, required=False)
    floor = forms.IntegerField(required=False, min_value=LOWEST_FLOOR, max_value=HIGHEST_FLOOR)
    name = NameField(max_length=200, required=False)
    phone = forms.CharField(max_length=30, required=False, validators=[phone_validator])
    email = forms.EmailField(max_length=254, required=False)
    language = forms.CharField(required=False)
    owner = forms.CharField(required=False)
    notes = forms.CharField(max_length=2000, required=False)

    def __init__(self, data: dict[str, str], *, owners: dict[str, int]) -> None:
        # Django deep-copies a form's fields for each instance, so that rendering one form
        # can't change another. These forms are only validated, never rendered, and the
        # copies were half the time of a 10,000-row import: every row shares the fields.
        self.base_fields = {}  # type: ignore[misc]
        super().__init__(data)
        self.fields = type(self).base_fields
        self.owners = owners
        # Said in the preview of a row imported all the same.
        self.warning = ""

    def clean_language(self) -> str:
        """An unknown language is left blank, not a reason to leave the resident out."""
        value: str = self.cleaned_data["language"]
        code = language_code(value) if value else ""
        if code is None:
            self.warning = _(
                "language: Unknown language %(value)s, left blank: use a code like so or a "
                "name like Somali or Soomaali."
            ) % {"value": quoted(value)}
            return ""
        return code

    def clean_notes(self) -> str:
        notes: str = self.cleaned_data["notes"]
        return unicodedata.normalize("NFC", BIDI_CONTROLS.sub("", notes))

    def clean_owner(self) -> int | None:
        value: str = self.cleaned_data["owner"]
        if not value:
            return None
        owner = self.owners.get(value.lower())
        if owner is None:
            raise forms.ValidationError(
                _("No active member of your organization has the username or email %(value)s.")
                % {"value": quoted(value)}
            )
        return owner

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        resident_fields = ("phone", "email", "language", "owner", "notes")
        about_resident = [name for name in resident_fields if data.get(name)]
        # A name with an error of its own already has its message.
        if about_resident and not data.get("name") and "name" not in self.errors:
            self.add_error("name", NEEDS_A_NAME[about_resident[0]])
        if data.get("name") and not data.get("unit"):
            self.add_error("unit", _("A resident needs the unit they live in."))
        return data


@dataclass
class BuildingSummary:
    name: str
    new: bool
    new_units: int = 0
    new_residents: int = 0
    already_there: int = 0


@dataclass
class Plan:
    """What an import would do. Nothing in it is saved until `save()`."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    # Rows imported all the same, with what was left out of them.
    warnings: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    summaries: dict[str, BuildingSummary] = field(default_factory=dict)
    already_there: int = 0
    new_buildings: dict[str, Building] = field(default_factory=dict)
    new_units: dict[tuple[str, str], Unit] = field(default_factory=dict)
    new_residents: list[Contact] = field(default_factory=list)
    saved: bool = False

    @property
    def rows_with_errors(self) -> int:
        return len({error.line for error in self.errors})

    @property
    def fingerprint(self) -> str:
        """Changes whenever what would be imported changes."""
        return "-".join(
            str(n)
            for n in (
                len(self.new_buildings),
                len(self.new_units),
                len(self.new_residents),
                len(self.errors),
                self.already_there,
            )
        )

    @property
    def has_work(self) -> bool:
        return bool(self.new_buildings or self.new_units or self.new_residents)

    def save(self) -> None:
        """Create the buildings, then their units, then the residents. A unit holds its
        building and a resident its unit as objects, so the keys assigned by each INSERT
        reach the rows of the next."""
        for key, building in self.new_buildings.items():
            floors = [unit.floor for (b, _), unit in self.new_units.items() if b == key]
            building.floors = max([1, *floors])
        Building.objects.bulk_create(self.new_buildings.values())
        Unit.objects.bulk_create(self.new_units.values(), batch_size=2_000)
        set_buildings(self.new_residents)
        Contact.objects.bulk_create(self.new_residents, batch_size=2_000)
        # bulk_create sends no signals: the audit trail gets its "added" rows here, by the
        # admin the middleware saw.
        Contact.history.bulk_history_create(
            self.new_residents, batch_size=2_000, default_change_reason="imported"
        )
        self.saved = True


class Planner:
    """Checks rows one after the other against the database and the rows before them."""

    def __init__(self, organization: Organization) -> None:
        self.organization = organization
        self.plan = Plan()
        self.buildings = {
            name_key(b.name): b
            for b in Building.objects.filter(organization=organization).only(
                "id", "name", "floors", "archived"
            )
        }
        self.units = {
            (building_id, label.lower()): (label, floor, pk)
            for building_id, label, floor, pk in Unit.objects.filter(
                building__organization=organization
            ).values_list("building_id", "label", "floor", "id")
        }
        self.residents = {
            (unit_id, name_key(name))
            for unit_id, name in Contact.objects.filter(
                organization=organization, unit__isnull=False
            ).values_list("unit_id", "name")
        }
        self.owners: dict[str, int] = {}
        for user_id, username, email in Membership.objects.filter(
            organization=organization, active=True
        ).values_list("user_id", "user__username", "user__email"):
            self.owners[username.lower()] = user_id
            if email:
                self.owners.setdefault(email.lower(), user_id)
        # Where each planned unit and resident first appeared, and which line failed to
        # create a building, for messages that point at the right line.
        self.unit_lines: dict[tuple[str, str], int] = {}
        self.resident_lines: dict[tuple[str, str, str], int] = {}
        self.failed_buildings: dict[str, int] = {}
        # What the row being checked leaves out, said in the preview.
        self.warning = ""

    def row(self, line: int, values: dict[str, str]) -> None:
        self.plan.rows += 1
        errors = self._check(line, values)
        self.plan.errors.extend(RowError(line, message) for message in errors)
        if not errors and self.warning:
            self.plan.warnings.append(RowError(line, self.warning))

    def _check(self, line: int, values: dict[str, str]) -> list[str]:
        if "__cells__" in values:
            cells, columns = values["__cells__"].split("/")
            if int(cells) < int(columns):
                return [
                    _(
                        "The row has %(cells)s cells but the header names %(columns)s columns: "
                        "is the line cut off? Fill in the row, leaving blank cells blank."
                    )
                    % {"cells": cells, "columns": columns}
                ]
            return [
                _(
                    "The row has %(cells)s cells but the header names %(columns)s columns. A "
                    "value with a comma or semicolon in it needs quotes around it."
                )
                % {"cells": cells, "columns": columns}
            ]
        form = RowForm(values, owners=self.owners)
        self.warning = ""
        if not form.is_valid():
            if values.get("address", "").strip():
                key = name_key(values.get("building", ""))
                self.failed_buildings.setdefault(key, line)
            return [
                f"{'' if name == '__all__' else name + ': '}{message}"
                for name, messages in form.errors.items()
                for message in messages
            ]
        data = form.cleaned_data
        self.warning = form.warning
        name: str = data["building"]
        bkey = name_key(name)

        # The building: one we have, one an earlier row creates, or a new one.
        building = self.buildings.get(bkey) or self.plan.new_buildings.get(bkey)
        creates_building = building is None
        if building is None:
            if not data["address"]:
                if bkey in self.failed_buildings:
                    return [
                        _(
                            'Building "%(name)s" would be created by line %(line)s, which has '
                            "an error; fix that line."
                        )
                        % {"name": name, "line": self.failed_buildings[bkey]}
                    ]
                return [
                    _(
                        'Unknown building "%(name)s". Check the spelling, or give its street '
                        "address in the address column to create it."
                    )
                    % {"name": name}
                ]
            building = Building(
                organization=self.organization,
                name=name,
                street_address=data["address"],
                city=data["city"],
                postal_code=data["postal_code"],
            )
        elif building.archived:
            return [
                _('Building "%(name)s" is archived; restore it before importing into it.')
                % {"name": building.name}
            ]

        # The unit: one we have, one an earlier row creates, or a new one.
        label: str = data["unit"]
        floor: int | None = data["floor"]
        ukey = label.lower()
        existing = self.units.get((building.pk, ukey)) if building.pk else None
        planned = self.plan.new_units.get((bkey, ukey))
        unit: Unit | None = None
        unit_id: int | None = None
        if not label:
            pass
        elif existing is not None:
            known_label, known_floor, unit_id = existing
            if known_label != label:
                return [
                    _(
                        'Duplicate unit: "%(label)s" is unit %(known)s of %(building)s, '
                        "written in another case. Write it the same way."
                    )
                    % {"label": label, "known": known_label, "building": building.name}
                ]
            if floor is not None and floor != known_floor:
                return [
                    _(
                        "Duplicate unit: %(building)s already has %(label)s on floor "
                        "%(known)s, not %(floor)s."
                    )
                    % {
                        "building": building.name,
                        "label": label,
                        "known": known_floor,
                        "floor": floor,
                    }
                ]
        elif planned is not None:
            unit = planned
            first = self.unit_lines[(bkey, ukey)]
            if unit.label != label:
                return [
                    _(
                        'Duplicate unit: "%(label)s" is unit %(known)s of line %(line)s, '
                        "written in another case. Write it the same way."
                    )
                    % {"label": label, "known": unit.label, "line": first}
                ]
            if floor is not None and floor != unit.floor:
                return [
                    _(
                        "Duplicate unit: line %(line)s puts %(label)s on floor %(known)s, "
                        "this line on floor %(floor)s."
                    )
                    % {"line": first, "label": label, "known": unit.floor, "floor": floor}
                ]
        else:
            floor = floor if floor is not None else floor_from_label(label)
            if floor is None:
                return [
                    _("floor: Which floor is unit %(label)s on? Fill in the floor column.")
                    % {"label": label}
                ]
            if not creates_building and building.pk and floor > building.floors:
                return [
                    ngettext(
                        "floor: %(building)s has %(floors)s floor; unit %(label)s is on floor "
                        "%(floor)s. Change the building's floors first if that's right.",
                        "floor: %(building)s has %(floors)s floors; unit %(label)s is on floor "
                        "%(floor)s. Change the building's floors first if that's right.",
                        building.floors,
                    )
                    % {
                        "building": building.name,
                        "floors": building.floors,
                        "label": label,
                        "floor": floor,
                    }
                ]
            unit = Unit(building=building, label=label, floor=floor)

        # The resident: known already, named twice in the file, or new.
        resident: Contact | None = None
        if data["name"]:
            rkey = name_key(data["name"])
            if unit_id is not None and (unit_id, rkey) in self.residents:
                self.plan.already_there += 1
                self._summary(building, creates_building).already_there += 1
            elif (bkey, ukey, rkey) in self.resident_lines:
                return [
                    _("Duplicate resident: %(name)s in %(label)s is already on line %(line)s.")
                    % {
                        "name": data["name"],
                        "label": label,
                        "line": self.resident_lines[(bkey, ukey, rkey)],
                    }
                ]
            else:
                resident = Contact(
                    organization=self.organization,
                    name=data["name"],
                    phone=data["phone"],
                    email=data["email"],
                    language=data["language"],
                    owner_id=data["owner"],
                    notes=data["notes"],
                )
                if unit is not None:
                    resident.unit = unit  # saved just before the residents, with its key
                else:
                    resident.unit_id = unit_id

        # Every check passed: the row is in the plan.
        summary = self._summary(building, creates_building)
        if creates_building:
            self.plan.new_buildings[bkey] = building
        if unit is not None and planned is None:
            self.plan.new_units[(bkey, ukey)] = unit
            self.unit_lines[(bkey, ukey)] = line
            summary.new_units += 1
        if resident is not None:
            self.plan.new_residents.append(resident)
            self.resident_lines[(bkey, ukey, name_key(resident.name))] = line
            summary.new_residents += 1
        return []

    def _summary(self, building: Building, new: bool) -> BuildingSummary:
        return self.plan.summaries.setdefault(
            name_key(building.name), BuildingSummary(building.name, new=new)
        )


def plan_import(*, organization: Organization, data: bytes) -> Plan:
    """The dry run: every row checked, nothing written. ImportRefused for an unreadable file."""
    ignored, rows = read_rows(data)
    planner = Planner(organization)
    planner.plan.ignored_columns = ignored
    for line, values in rows:
        planner.row(line, values)
    return planner.plan


@transaction.atomic
def import_residents(*, actor: Membership, data: bytes, expected: str | None = None) -> Plan:
    """Plan the file again under a lock on the organization, and create what it says.

    Rows with errors are left out; everything else is created in this one transaction.
    With `expected`, the fingerprint of the plan the admin saw, nothing is saved when the
    plan has changed since (`plan.saved` is then False): the admin sees it again instead."""
    Organization.objects.select_for_update().only("pk").get(pk=actor.organization_id)
    plan = plan_import(organization=actor.organization, data=data)
    if expected is None or plan.fingerprint == expected:
        plan.save()
    return plan


# The uploaded file between the preview and the confirmation.


def _pending_name(actor: Membership, token: str) -> str:
    if not TOKEN.match(token):
        raise ValueError("not an import token")
    return f"{actor.organization_id}-{actor.user_id}-{token}.csv"


def _expired(storage: Storage, name: str) -> bool:
    return storage.get_modified_time(name) < timezone.now() - PENDING_FOR


def keep_upload(*, actor: Membership, data: bytes) -> str:
    """Keep an uploaded file for its confirmation and return its token. Files older than
    PENDING_FOR are removed on the way: they hold personal data nobody is going to import."""
    storage = storages["imports"]
    token = secrets.token_urlsafe(24)
    name = _pending_name(actor, token)
    storage.save(name, ContentFile(data))
    for old in storage.listdir("")[1]:
        try:
            if old.endswith(".csv") and _expired(storage, old):
                storage.delete(old)
        except FileNotFoundError:
            continue  # another server removed it first
    return token


def pending_upload(*, actor: Membership, token: str) -> bytes | None:
    """The file this member uploaded with this token, or None when it was imported,
    cancelled, expired, or belongs to someone else."""
    storage = storages["imports"]
    try:
        name = _pending_name(actor, token)
        if _expired(storage, name):
            return None
        with storage.open(name) as file:
            return file.read()
    except (ValueError, FileNotFoundError):
        return None


def discard_upload(*, actor: Membership, token: str) -> None:
    try:
        storages["imports"].delete(_pending_name(actor, token))
    except ValueError:
        return
