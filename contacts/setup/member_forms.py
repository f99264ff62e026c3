from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from buildings.models import Building
from organizing.models import Organization, Role


class AddMemberForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=150,
        error_messages={"required": _("Give the person's email address.")},
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=150,
        required=False,
        help_text=_("How they are shown to others."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.ORGANIZER)

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class MemberTurfForm(forms.Form):
    buildings = forms.ModelMultipleChoiceField(
        queryset=Building.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Buildings (turf)"),
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["buildings"].queryset = Building.objects.filter(  # type: ignore[attr-defined]
            organization=organization, archived=False
        ).order_by("name")
