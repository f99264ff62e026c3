"""Forms of the admins' set-up screens: buildings, the unit generator, turf, owners, CSV."""

from __future__ import annotations

import functools
import re
import zoneinfo
from typing import Any

from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone_location
from django import forms
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from buildings.models import HIGHEST_FLOOR, LOWEST_FLOOR, Building, floor_from_label
from organizing.models import Organization

# Basements to penthouses; a typo like "1-120" is caught by the unit limit below.
MAX_NEW_UNITS = 2_000
IMPORT_MAX_BYTES = 5 * 1024 * 1024


def members_of(organization: Organization) -> QuerySet[User]:
    """The users who can have turf: active members of the organization, any role."""
    return User.objects.filter(
        membership__organization=organization, membership__active=True
    ).order_by("first_name", "username")


class MemberChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.first_name or obj.username} ({obj.membership.get_role_display()})"


class BuildingForm(forms.ModelForm):
    organizers = MemberChoiceField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Organizers (turf)"),
    )

    class Meta:
        model = Building
        fields = [
            "name",
            "street_address",
            "city",
            "postal_code",
            "floors",
            "landlord",
            "access_notes",
            "notes",
        ]
        widgets = {
            "access_notes": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["organizers"].queryset = members_of(organization).select_related(  # type: ignore[attr-defined]
            "membership"
        )
        if self.instance.pk and "organizers" not in self.initial:
            self.initial["organizers"] = list(
                self.instance.turf.values_list("organizer_id", flat=True)
            )

    def clean_name(self) -> str:
        # The constraint is per organization, which is not a field of this form, so Django's
        # own constraint validation skips it: checked here instead.
        name: str = self.cleaned_data["name"].strip()
        taken = Building.objects.filter(organization=self.organization, name__iexact=name)
        if taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Your organization already has a building of that name."))
        return name

    def clean_floors(self) -> int:
        floors: int = self.cleaned_data["floors"]
        if self.instance.pk:
            higher = self.instance.units.filter(floor__gt=floors).order_by("-floor").first()
            if higher is not None:
                raise forms.ValidationError(
                    _(
                        "Unit %(label)s is on floor %(floor)s: the building can't have fewer "
                        "floors than that."
                    )
                    % {"label": higher.label, "floor": higher.floor}
                )
        return floors


def too_many(count: int) -> str:
    return _("That makes %(count)s units; at most %(limit)s can be added at once.") % {
        "count": number_format(count, force_grouping=True),
        "limit": number_format(MAX_NEW_UNITS, force_grouping=True),
    }


# "1-12", "1 to 12", or with an en dash as word processors write it.
RANGE = re.compile(r"^\s*(-?\w+)\s*(?:-|\u2013|to)\s*(-?\w+)\s*$")
FLOOR_LINE = re.compile(r"^\s*(-?\d+)\s*:(.*)$")


class UnitGeneratorForm(forms.Form):
    """Doors to add, as ranges ("floors 1-12, units 01-08") or as pasted labels.

    `cleaned_data["doors"]` is the list of (floor, label) asked for, in order. With
    `top_floor`, floors may be left blank: every floor from 1 to the top one.
    """

    floors = forms.CharField(
        label=_("Which floors"),
        required=False,
        max_length=20,
        help_text=_('Such as "1-12", or "0-4" with a ground floor.'),
    )
    units = forms.CharField(
        label=_("Units on each floor"),
        required=False,
        max_length=20,
        help_text=_('Such as "01-08" (101 to 1208) or "A-F" (1A to 12F).'),
    )
    labels = forms.CharField(
        label=_("Or paste labels"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "14: PH1 PH2\n1301 1302 1303"}),
        help_text=_(
            'One floor a line, like "14: PH1 PH2". Numbered doors like 1301 find their floor '
            "themselves."
        ),
    )

    def __init__(self, *args: Any, top_floor: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.top_floor = top_floor
        if top_floor:
            self.fields["floors"].widget.attrs["placeholder"] = f"1-{top_floor}"

    @property
    def wants_units(self) -> bool:
        data = self.data
        return any(str(data.get(self.add_prefix(name), "")).strip() for name in self.fields)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        floors, units, labels = (
            data.get("floors", ""),
            data.get("units", ""),
            data.get("labels", ""),
        )
        if labels and (floors or units):
            raise forms.ValidationError(_("Give floors and units, or paste labels, not both."))
        try:
            if labels:
                doors = self._pasted(labels)
            elif units:
                doors = self._ranges(floors, units)
            elif floors:
                raise forms.ValidationError(
                    {"units": _('Say which units each floor has, like "01-08".')}
                )
            else:
                doors = []
        except forms.ValidationError as error:
            self.add_error(None, error)
            return data
        if len(doors) > MAX_NEW_UNITS:
            self.add_error(None, too_many(len(doors)))
        seen: dict[str, tuple[int, str]] = {}
        for floor, label in doors:
            if len(label) > 20:
                self.add_error(
                    None, _('"%(label)s…" is longer than 20 characters.') % {"label": label[:24]}
                )
                return data
            if not LOWEST_FLOOR <= floor <= HIGHEST_FLOOR:
                self.add_error(
                    None,
                    _("Floor %(floor)s of %(label)s? Floors go from -5 to 200.")
                    % {"floor": floor, "label": label},
                )
                return data
            twin_floor, twin = seen.setdefault(label.lower(), (floor, label))
            if twin != label:
                self.add_error(
                    None,
                    _(
                        '"%(twin)s" and "%(label)s" would be the same door: labels can\'t '
                        "differ only in upper and lower case."
                    )
                    % {"twin": twin, "label": label},
                )
                return data
            if twin_floor != floor:
                self.add_error(
                    None,
                    _(
                        '"%(label)s" would be made twice, on floors %(first)s and %(floor)s; '
                        'try units with a leading zero, like "01-12".'
                    )
                    % {"label": label, "first": twin_floor, "floor": floor},
                )
                return data
        # A label pasted twice is one door.
        doors = list(dict.fromkeys(doors))
        data["doors"] = doors
        return data

    def _ranges(self, floors: str, units: str) -> list[tuple[int, str]]:
        if floors:
            low, high, _width = _range(floors, "floors")
            if not (isinstance(low, int) and isinstance(high, int)):
                raise forms.ValidationError({"floors": _('Floors are numbers, like "1-12".')})
        elif self.top_floor:
            low, high = 1, self.top_floor
        else:
            raise forms.ValidationError({"floors": _('Which floors? Like "1-12".')})
        first, last, width = _range(units, "units")
        numbered = isinstance(first, int) and isinstance(last, int)
        codes = (
            range(int(first), int(last) + 1)
            if numbered
            else range(ord(str(first)), ord(str(last)) + 1)
        )
        # Counted before the doors are listed: "1-9999999999" would list them all first.
        count = (high - low + 1) * (codes.stop - codes.start)
        if count > MAX_NEW_UNITS:
            raise forms.ValidationError(too_many(count))
        doors = [f"{n:0{width}d}" if numbered else chr(n) for n in codes]
        return [(floor, f"{floor}{door}") for floor in range(low, high + 1) for door in doors]

    def _pasted(self, text: str) -> list[tuple[int, str]]:
        doors = []
        for line in text.splitlines():
            match = FLOOR_LINE.match(line)
            floor = int(match.group(1)) if match else None
            for label in re.split(r"[\s,;]+", match.group(2) if match else line):
                if not label:
                    continue
                door_floor = floor if floor is not None else floor_from_label(label)
                if door_floor is None:
                    raise forms.ValidationError(
                        {
                            "labels": _(
                                'Which floor is %(label)s on? Write its line as "3: %(label)s".'
                            )
                            % {"label": label}
                        }
                    )
                doors.append((door_floor, label))
        return doors


def _range(text: str, field: str) -> tuple[int | str, int | str, int]:
    """ "1-12" → (1, 12, 1); "01-08" → (1, 8, 2), the width to pad to; "A-F" → ("A", "F", 1);
    "3" → (3, 3, 1)."""
    text = text.strip()
    match = RANGE.match(text)
    ends = [match.group(1), match.group(2)] if match else [text, text]
    values: list[int | str] = []
    for end in ends:
        if re.fullmatch(r"-?\d+", end):
            values.append(int(end))
        elif re.fullmatch(r"[A-Za-z]", end):
            values.append(end)
        else:
            raise forms.ValidationError(
                {field: _('"%(text)s" is not a range like "1-12" or "A-F".') % {"text": text}}
            )
    low, high = values
    if isinstance(low, int) != isinstance(high, int):
        raise forms.ValidationError(
            {field: _('"%(text)s": numbers at both ends, or letters.') % {"text": text}}
        )
    if isinstance(low, str) and low.isupper() != str(high).isupper():
        raise forms.ValidationError(
            {field: _('"%(text)s": use the same case at both ends.') % {"text": text}}
        )
    if low > high:  # type: ignore[operator]
        raise forms.ValidationError(
            {field: _('"%(text)s" should go from low to high, like "1-12".') % {"text": text}}
        )
    width = len(ends[0]) if ends[0].startswith("0") else 1
    return low, high, width


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={"required": _("Choose a CSV file to import.")},
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        size = upload.size or 0
        if size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _(
                    "The file is %(size)s MB; the limit is %(limit)s MB. Split it into smaller "
                    "files and import them one after the other."
                )
                % {
                    "size": number_format(size / 1024 / 1024, 1),
                    "limit": IMPORT_MAX_BYTES // 1024 // 1024,
                }
            )
        return upload


class ConfirmImportForm(forms.Form):
    token = forms.RegexField(regex=r"^[A-Za-z0-9_-]{16,64}$", widget=forms.HiddenInput)
    # What the preview promised, so that a changed database is shown again, not imported.
    expected = forms.CharField(max_length=100, widget=forms.HiddenInput)


class ExportForm(forms.Form):
    building = forms.ModelChoiceField(
        queryset=Building.objects.none(),
        required=False,
        empty_label=_("All buildings"),
        label=_("Building"),
    )
    everyone = forms.BooleanField(
        label=_("Include moved, archived and do-not-contact residents"), required=False
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["building"].queryset = Building.objects.filter(  # type: ignore[attr-defined]
            organization=organization
        )


OWNER_NOBODY = "nobody"


class OwnerFilterForm(forms.Form):
    building = forms.ModelChoiceField(
        queryset=Building.objects.none(),
        required=False,
        empty_label=_("All buildings"),
        label=_("Building"),
    )
    owner = forms.ChoiceField(required=False, label=_("Owner"))
    orphaned = forms.BooleanField(label=_("Only orphaned"), required=False)

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["building"].queryset = Building.objects.filter(  # type: ignore[attr-defined]
            organization=organization, archived=False
        )
        # Former members too: their contacts are the ones most in need of a new owner.
        owners = User.objects.filter(membership__organization=organization).order_by(
            "first_name", "username"
        )
        self.fields["owner"].choices = [  # type: ignore[attr-defined]
            ("", _("Any owner")),
            (OWNER_NOBODY, _("Nobody")),
            *((str(u.pk), u.first_name or u.username) for u in owners),
        ]


def time_zone_choices() -> list[tuple[str, str]]:
    """Canada's zones first, where the organizations are; then every other, each named by
    its city and country in the page's language (CLDR, through Babel)."""
    return _zones(get_language() or settings.LANGUAGE_CODE)


@functools.cache
def _zones(language: str) -> list[tuple[str, str]]:
    locale = Locale.parse(translation.to_locale(language))
    territories = get_global("zone_territories")
    canadian = [
        "America/Toronto",
        "America/Halifax",
        "America/St_Johns",
        "America/Winnipeg",
        "America/Regina",
        "America/Edmonton",
        "America/Vancouver",
    ]
    others = sorted(zoneinfo.available_timezones() - set(canadian) - {"localtime"})

    def name(zone: str) -> str:
        city = get_timezone_location(zone, locale, return_city=True)
        territory = territories.get(zone, "")
        # "001" is the world and "ZZ" nowhere: an Etc/ zone, named by its offset alone.
        known = territory not in ("", "001", "ZZ")
        country = locale.territories.get(territory, "") if known else ""
        return f"{city} ({country})" if country and country != city else city

    return [(zone, name(zone)) for zone in canadian + others]


class OrganizationForm(forms.Form):
    """The organization's working languages, its first one its default, and its time zone."""

    first_language = forms.ChoiceField(
        label=_("Default language"),
        choices=settings.LANGUAGES,
        help_text=_("What a member reads when their browser asks for none of the languages."),
    )
    languages = forms.MultipleChoiceField(
        label=_("Working languages"),
        choices=settings.LANGUAGES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("The languages members may choose at the foot of each page."),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        help_text=_("Where the organization's days begin and end: dates, Today, the lapses."),
    )

    @staticmethod
    def initial_for(organization: Organization) -> dict[str, Any]:
        working = organization.working_languages
        return {
            "first_language": working[0],
            "languages": working,
            "time_zone": organization.time_zone,
        }

    def working_languages(self) -> list[str]:
        """The default first, then the others ticked, in the settings' order."""
        first = self.cleaned_data["first_language"]
        others = [code for code in self.cleaned_data["languages"] if code != first]
        return [first, *others]
