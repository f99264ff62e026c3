"""Forms more than one audience's screens read. contacts.actions says what a valid change is;
these read the input."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.languages import language_code, language_name, most_used
from contacts.models import Contact, Status
from contacts.text import not_a_phone, one_line
from organizing.models import Organization, Role

# Plans further ahead than this are typing slips (a year of 2205, 9999-12-31), and a date
# near the calendar's end would overflow wherever a day is added to it.
HORIZON = dt.timedelta(days=2 * 365)


def within_horizon(day: dt.date | None) -> None:
    if day is not None and day > timezone.localdate() + HORIZON:
        raise forms.ValidationError(
            _("That date is more than two years ahead (%(day)s): check the year.")
            % {"day": date_format(day, "DATE_FORMAT")}
        )


class ReassignForm(forms.Form):
    """Contacts to hand to another organizer, and to whom: the ticked ones, or, where a screen
    offers it, every one its filters match. Only `contacts` may be ticked, and only an active
    organizer of the organization may take them."""

    # Before `contacts`, so that clean_contacts knows whether they were all chosen.
    everyone = forms.BooleanField(required=False)
    # How many the filters matched when the page was shown: "all 40" must not become 41.
    expected = forms.IntegerField(required=False, widget=forms.HiddenInput)
    contacts = forms.ModelMultipleChoiceField(
        queryset=Contact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": gettext_lazy("Some of the ticked contacts are no longer listed."),
            "invalid_pk_value": gettext_lazy("Those contacts could not be read; tick them again."),
        },
    )
    to_owner = forms.ModelChoiceField(
        label=gettext_lazy("New owner"),
        queryset=User.objects.none(),
        empty_label=gettext_lazy("Choose an organizer"),
        error_messages={
            "required": gettext_lazy("Choose the organizer who takes them over."),
            "invalid_choice": gettext_lazy(
                "Contacts can only go to an active organizer of your organization."
            ),
        },
    )

    def __init__(
        self,
        *args: Any,
        organization: Organization,
        contacts: QuerySet[Contact],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.matching = contacts
        self.fields["contacts"].queryset = contacts  # type: ignore[attr-defined]
        to_owner: Any = self.fields["to_owner"]
        to_owner.queryset = User.objects.filter(
            membership__organization=organization,
            membership__role=Role.ORGANIZER,
            membership__active=True,
        ).order_by("first_name", "username")
        to_owner.label_from_instance = lambda user: user.first_name or user.username

    def clean_contacts(self) -> QuerySet[Contact]:
        contacts: QuerySet[Contact] = self.cleaned_data["contacts"]
        if not contacts and not self.cleaned_data.get("everyone"):
            raise forms.ValidationError(_("Tick at least one contact to reassign."))
        return contacts

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("everyone"):
            now = self.matching.count()
            if data.get("expected") != now:
                raise forms.ValidationError(
                    _(
                        "The list changed since it was shown: %(count)s contacts match now. "
                        "Check it and try again."
                    )
                    % {"count": now}
                )
        return data


class LanguageInput(forms.TextInput):
    """A text box for a language that suggests the organization's most used ones. A
    datalist of a few, not a select of every language CLDR names: that would weigh 26 kB
    on each unit page, and a phone keeps the unit pages of its whole turf."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"autocomplete": "off", **(attrs or {})})
        self.suggestions: list[str] = []

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        list_id = f"{(attrs or {}).get('id') or name}-suggestions"
        box = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}">', ((s,) for s in self.suggestions))
        return format_html('{}<datalist id="{}">{}</datalist>', box, list_id, options)


class LanguageField(forms.CharField):
    """A resident's language, written as its code or its name in English, French or the
    language itself ("so", "Somali", "Soomaali"); cleaned to its ISO 639 code."""

    widget = LanguageInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", gettext_lazy("Language"))
        kwargs.setdefault("required", False)
        # The longest name CLDR gives a language has 31 characters.
        kwargs.setdefault("max_length", 60)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""
        if not text:
            return ""
        code = language_code(text)
        if code is None:
            raise forms.ValidationError(
                _(
                    "Unknown language: write its name, like Somali or Soomaali, or its code, "
                    "like so."
                ),
                code="unknown_language",
            )
        return code

    def suggest_most_used(self, organization: Organization) -> None:
        """Suggest the languages the organization's residents speak most."""
        residents = Contact.objects.filter(organization=organization, status=Status.ACTIVE)
        codes = most_used(organization.pk, residents)
        self.widget.suggestions = [language_name(code) for code in codes]  # type: ignore[attr-defined]


class OneLineField(forms.CharField):
    """A line of text as contacts.text.one_line makes it: NFC, no invisible controls, single
    spaces. Checked for length once normalised, so a name padded with spaces still fits."""

    def to_python(self, value: Any) -> str:
        return one_line(super().to_python(value) or "")


class NameField(OneLineField):
    """A resident's name, or a description like "woman in 1204", but not a phone number."""

    default_validators = [not_a_phone]
