"""The committee's forms: the lapsed list's filters, snooze, and the lapse settings. The
rules that guard the data live in contacts.actions; these read the input. Reassignment is
contacts.forms.ReassignForm, shared with the admins' owners screen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from buildings.models import Building
from contacts.actions import SNOOZE_AT_MOST
from contacts.forms import within_horizon
from contacts.models import LapseFlag, LapseThreshold, Level, Meeting
from organizing.models import Organization

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# The list shows a contact by its lapse flag, or those orphaned whatever their flag.
ORPHANED = "orphaned"
STATE_CHOICES = [
    ("", _("Lapsed and escalated")),
    *(
        (flag.value, flag.label)
        for flag in (LapseFlag.LAPSED, LapseFlag.ESCALATED, LapseFlag.DUE_SOON)
    ),
    (ORPHANED, _("Needs an owner")),
]

# An option of a select the page draws itself: its value, its label and whether it is chosen.
Option = tuple[str, str, bool]


class LapsedFilterForm(forms.Form):
    """GET filters of the lapsed list. A value that is not a choice is left out.

    The building and owner selects are drawn by the page from `options()`: an
    organization's buildings and members make hundreds of options, and Django's widget
    would draw each with a template of its own."""

    building = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    owner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    level = forms.TypedChoiceField(
        choices=[("", _("Any level")), *Level.choices], coerce=int, required=False, empty_value=None
    )
    state = forms.ChoiceField(choices=STATE_CHOICES, required=False)

    def __init__(
        self,
        data: Any,
        *,
        buildings: Sequence[tuple[int, str]],
        owners: Sequence[tuple[int, str]],
    ) -> None:
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["building"]).choices = [
            ("", _("All buildings")),
            *buildings,
        ]
        cast(forms.ChoiceField, self.fields["owner"]).choices = [("", _("Any owner")), *owners]

    def filters(self) -> dict[str, Any]:
        self.is_valid()
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if value is not None and value != ""
        }

    def options(self, name: str) -> list[Option]:
        """The field's choices as the page writes them, the one in the query string chosen
        (none if it is not a choice, "" when nothing is)."""
        typed = self[name].value()
        chosen = "" if typed is None else str(typed)
        field: Any = self.fields[name]
        options = ((str(value), str(label)) for value, label in field.choices)
        return [(value, label, value == chosen) for value, label in options]


class SnoozeForm(forms.Form):
    """Reads the snooze; contacts.actions.snooze_contact says what a valid one is, so the
    fields are optional here and the browser's `required` is only a first hint."""

    until = forms.DateField(
        label=_("Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "required": True}),
        error_messages={"invalid": _("Enter a date such as 2030-07-01.")},
    )
    reason = forms.CharField(
        label=_("Why"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"required": True, "placeholder": _("Away until June")}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Every row of the list carries this form: no ids, so none appears twice.
        kwargs.setdefault("auto_id", False)
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["until"].widget.attrs.update(
            min=(today + dt.timedelta(days=1)).isoformat(), max=(today + SNOOZE_AT_MOST).isoformat()
        )


# Ordered from the most committed to the least: thresholds must not grow along it.
THRESHOLD_FIELDS = {
    Level.LEADER: "leader",
    Level.ACTIVE: "active",
    Level.SUPPORTER: "supporter",
    Level.CONTACT: "contact",
    Level.NEW: "new",
}
WHO = {
    Level.LEADER: _("a leader"),
    Level.ACTIVE: _("an active member"),
    Level.SUPPORTER: _("a supporter"),
    Level.CONTACT: _("a contact"),
    Level.NEW: _("a new contact"),
}
# Each level's threshold named whole, so that French can give each its own gender.
WHOSE_THRESHOLD = {
    Level.LEADER: _("A leader's threshold"),
    Level.ACTIVE: _("An active member's threshold"),
    Level.SUPPORTER: _("A supporter's threshold"),
    Level.CONTACT: _("A contact's threshold"),
    Level.NEW: _("A new contact's threshold"),
}
# The same, as the second term of a comparison ("longer than ...").
THAN_WHOSE = {
    Level.LEADER: _("than a leader's"),
    Level.ACTIVE: _("than an active member's"),
    Level.SUPPORTER: _("than a supporter's"),
    Level.CONTACT: _("than a contact's"),
    Level.NEW: _("than a new contact's"),
}
MAX_DAYS = 365


def days_field(label: StrOrPromise, help_text: StrOrPromise = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        help_text=help_text,
        min_value=1,
        max_value=MAX_DAYS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "required": _("Give a number of days."),
            "invalid": _("Give a whole number of days."),
            "min_value": _("At least one day."),
            "max_value": _("At most %(limit_value)s days."),
        },
    )


class LapseSettingsForm(forms.Form):
    """Per level, the days without a conversation and the days of warning before; the
    organization's grace and orphan windows and its pace alarm."""

    leader = days_field(_("Leader (level 5)"))
    active = days_field(_("Active (level 4)"))
    supporter = days_field(_("Supporter (level 3)"))
    contact = days_field(_("Contact (level 2)"))
    new = days_field(_("New (level 1)"))
    leader_lead = days_field(_("Warn the owner, days before"))
    active_lead = days_field(_("Warn the owner, days before"))
    supporter_lead = days_field(_("Warn the owner, days before"))
    contact_lead = days_field(_("Warn the owner, days before"))
    new_lead = days_field(_("Warn the owner, days before"))
    grace_days = days_field(
        _("Grace period"), _("Days a contact stays lapsed before the lapse is escalated.")
    )
    orphan_after_days = days_field(
        _("Orphan window"),
        _("Days an owner may record nothing before their contacts are orphaned."),
    )
    pace_alarm_percent = forms.IntegerField(
        label=_("Pace alarm"),
        help_text=_(
            "Alarm the committee when a week's conversations fall this many percent "
            "below the four weeks before."
        ),
        min_value=1,
        max_value=99,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "required": _("Give a share in percent."),
            "invalid": _("Give a whole number of percent."),
            "min_value": _("At least 1 percent."),
            "max_value": _("At most 99 percent."),
        },
    )

    # Blank keeps what was set: a form from before these were on the page still saves.
    missed_meeting_days = forms.IntegerField(
        label=_("Follow up a missed meeting within"),
        help_text=_("Days after a meeting: each yes who did not come gets a follow-up by then."),
        required=False,
        min_value=1,
        max_value=30,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={"min_value": _("At least 1 day."), "max_value": _("At most 30 days.")},
    )
    turnout_alarm_percent = forms.IntegerField(
        label=_("Turnout alarm"),
        help_text=_(
            "Raise a meeting on the dashboard when fewer of those who said yes came, in percent."
        ),
        required=False,
        min_value=1,
        max_value=100,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "min_value": _("At least 1 percent."),
            "max_value": _("At most 100 percent."),
        },
    )

    @staticmethod
    def initial_for(organization: Organization) -> dict[str, int]:
        days, leads = LapseThreshold.settings_by_level([organization.pk])[organization.pk]
        return {
            **{name: days[level] for level, name in THRESHOLD_FIELDS.items()},
            **{f"{name}_lead": leads[level] for level, name in THRESHOLD_FIELDS.items()},
            "grace_days": organization.lapse_grace_days,
            "orphan_after_days": organization.orphan_after_days,
            "pace_alarm_percent": organization.pace_alarm_percent,
            "missed_meeting_days": organization.missed_meeting_days,
            "turnout_alarm_percent": organization.turnout_alarm_percent,
        }

    def levels(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        """Each level's threshold beside its lead time."""
        return [(self[name], self[f"{name}_lead"]) for name in THRESHOLD_FIELDS.values()]

    def window_fields(self) -> list[forms.BoundField]:
        names = (
            "grace_days",
            "orphan_after_days",
            "pace_alarm_percent",
            "missed_meeting_days",
            "turnout_alarm_percent",
        )
        return [self[name] for name in names]

    def days_by_level(self) -> dict[int, int]:
        return {level: self.cleaned_data[name] for level, name in THRESHOLD_FIELDS.items()}

    def lead_days_by_level(self) -> dict[int, int]:
        return {
            level: self.cleaned_data[f"{name}_lead"] for level, name in THRESHOLD_FIELDS.items()
        }

    def clean(self) -> dict[str, Any]:
        """The more someone has stepped up, the sooner they should hear from us: a
        threshold may not grow as the level rises. The leader against the new contact is
        named first, as it is the mistake that drops the people who matter most. A warning
        comes before its threshold runs out, or the contact would be due soon all along."""
        data = super().clean() or {}
        for level, name in THRESHOLD_FIELDS.items():
            days, lead = data.get(name), data.get(f"{name}_lead")
            if days is not None and lead is not None and lead >= days:
                self.add_error(
                    f"{name}_lead",
                    _(
                        "The warning for %(who)s (%(lead)s days) must come before their "
                        "threshold (%(days)s days)."
                    )
                    % {"who": WHO[level], "lead": lead, "days": days},
                )
        days_of = {level: data.get(name) for level, name in THRESHOLD_FIELDS.items()}
        if any(value is None for value in days_of.values()):
            return data
        known = cast(dict[Level, int], days_of)
        if known[Level.LEADER] > known[Level.NEW]:
            self._too_long(Level.LEADER, Level.NEW, known)
        else:
            levels = list(THRESHOLD_FIELDS)
            for higher, lower in pairwise(levels):
                if known[higher] > known[lower]:
                    self._too_long(higher, lower, known)
                    break
        return data

    def _too_long(self, higher: Level, lower: Level, days: dict[Level, int]) -> None:
        self.add_error(
            THRESHOLD_FIELDS[higher],
            _(
                "%(whose)s (%(days)s days) can't be longer %(than_whose)s (%(lower_days)s "
                "days): the more someone has stepped up, the sooner they should hear from us."
            )
            % {
                "whose": WHOSE_THRESHOLD[higher],
                "days": days[higher],
                "than_whose": THAN_WHOSE[lower],
                "lower_days": days[lower],
            },
        )


class MeetingForm(forms.ModelForm):
    """A meeting, new or called before: when and where, for which buildings (none:
    everyone)."""

    class Meta:
        model = Meeting
        fields = ["title", "starts_at", "place", "buildings", "language", "purpose"]
        widgets = {
            "starts_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "buildings": forms.CheckboxSelectMultiple,
            "purpose": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"buildings": _("None chosen: the meeting is for everyone.")}

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.organization = organization
        self.fields["buildings"].queryset = Building.objects.filter(  # type: ignore[attr-defined]
            organization=organization, archived=False
        )

    def clean_starts_at(self) -> dt.datetime:
        """A meeting already called may be moved, but not into the past, and not once it
        has begun: its attendance is being taken, or was. Never more than two years ahead
        (a slip of the year), as every date the app takes."""
        starts_at: dt.datetime = self.cleaned_data["starts_at"]
        within_horizon(timezone.localdate(starts_at))
        meeting = self.instance
        if meeting._state.adding:
            return starts_at
        # The form shows minutes only: the same minute is the time as it was.
        if starts_at == meeting.starts_at.replace(second=0, microsecond=0):
            return meeting.starts_at
        if meeting.is_past:
            raise forms.ValidationError(_("The meeting has begun: its time can't be changed."))
        if starts_at < timezone.now():
            raise forms.ValidationError(_("A meeting can't be moved into the past."))
        return starts_at
