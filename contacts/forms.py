"""Forms more than one audience's screens read. contacts.actions says what a valid change is;
these read the input."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet

from contacts.languages import grouped_choices, language_code, most_used
from contacts.models import Contact, Status
from contacts.text import not_a_phone, one_line
from organizing.models import Organization, Role


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
            "invalid_choice": "Some of the ticked contacts are no longer listed.",
            "invalid_pk_value": "Those contacts could not be read; tick them again.",
        },
    )
    to_owner = forms.ModelChoiceField(
        label="New owner",
        queryset=User.objects.none(),
        empty_label="Choose an organizer",
        error_messages={
            "required": "Choose the organizer who takes them over.",
            "invalid_choice": "Contacts can only go to an active organizer of your organization.",
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
            raise forms.ValidationError("Tick at least one contact to reassign.")
        return contacts

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("everyone"):
            now = self.matching.count()
            if data.get("expected") != now:
                raise forms.ValidationError(
                    f"The list changed since it was shown: {now} contacts match now. "
                    "Check it and try again."
                )
        return data


class LanguageField(forms.ChoiceField):
    """A resident's language: chosen in a select that lists the organization's most used
    languages first, or written as a code or a name ("so", "Somali", "Soomaali"), as a phone
    sending a resident added offline may write it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Language")
        kwargs.setdefault("required", False)
        kwargs.setdefault("choices", grouped_choices([]))
        kwargs.setdefault(
            "error_messages",
            {"invalid_choice": "Choose a language from the list, or write its name or code."},
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return (language_code(text) or text) if text else ""

    def put_first(self, organization: Organization) -> None:
        """List the languages the organization's residents speak most first."""
        residents = Contact.objects.filter(organization=organization, status=Status.ACTIVE)
        self.choices = grouped_choices(most_used(organization.pk, residents))


class OneLineField(forms.CharField):
    """A line of text as contacts.text.one_line makes it: NFC, no invisible controls, single
    spaces. Checked for length once normalised, so a name padded with spaces still fits."""

    def to_python(self, value: Any) -> str:
        return one_line(super().to_python(value) or "")


class NameField(OneLineField):
    """A resident's name, or a description like "woman in 1204", but not a phone number."""

    default_validators = [not_a_phone]
