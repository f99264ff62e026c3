from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from contacts.actions import ASK_AGAIN_AFTER
from contacts.forms import LanguageField, NameField, within_horizon
from contacts.models import (
    Answer,
    Ask,
    Channel,
    Level,
    Outcome,
    idempotency_key_validator,
    phone_validator,
)
from organizing.models import Organization


def new_key() -> str:
    """A submission key, made when the page is rendered: resubmitting the same page sends
    the same key, so the server records once."""
    return uuid.uuid4().hex


class KeyInput(forms.HiddenInput):
    """A form's idempotency key, rendered without an id: no label points at it, and a page
    with two keyed forms (the contact page) would otherwise say id="id_key" twice."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].pop("id", None)
        return context


class KeyedForm(forms.Form):
    key = forms.CharField(widget=KeyInput, validators=[idempotency_key_validator])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("key", new_key())
        super().__init__(*args, **kwargs)


DOOR_OUTCOMES = [
    (Outcome.NOT_HOME, gettext_lazy("Not home")),
    (Outcome.COME_BACK, gettext_lazy("Come back later")),
    (Outcome.REFUSED, gettext_lazy("Refused")),
    (Outcome.MOVED_OUT, gettext_lazy("Moved out")),
    (Outcome.DO_NOT_CONTACT, gettext_lazy("Do not contact")),
]


class KnockForm(KeyedForm):
    """One tap at the door that was not a conversation."""

    outcome = forms.ChoiceField(choices=DOOR_OUTCOMES)


def not_in_past(day: dt.date | None, message: str, today: dt.date | None = None) -> None:
    """Refuse a day before `today` (the day something happened; today by default)."""
    if day is not None and day < (today or timezone.localdate()):
        raise forms.ValidationError(message)
    within_horizon(day)


PICK_A_DATE = "pick"

ASK_DECISIONS = [
    (Answer.PENDING, gettext_lazy("Still waiting")),
    (Answer.YES, gettext_lazy("Yes")),
    (Answer.NO, gettext_lazy("No")),
]
# An invitation may be answered maybe: its owner confirms before the meeting. Any other
# ask stays waiting until it is a yes or a no, so that its lapse still comes.
INVITATION_DECISIONS = [*ASK_DECISIONS[:2], (Answer.MAYBE, gettext_lazy("Maybe")), ASK_DECISIONS[2]]
INVITATION_ANSWERS = [
    (Answer.YES, gettext_lazy("Yes")),
    (Answer.MAYBE, gettext_lazy("Maybe")),
    (Answer.NO, gettext_lazy("No")),
    (Answer.PENDING, gettext_lazy("Will say later")),
]


ASK_DUE_CHOICES = [
    ("3", gettext_lazy("In 3 days")),
    ("7", gettext_lazy("In a week")),
    (PICK_A_DATE, gettext_lazy("Pick a date")),
]


class TalkForm(KeyedForm):
    """What came of a conversation. The note is required: a conversation nobody can read
    about later is no help to the next organizer at that door.

    Made for a thumb: the level is five buttons, the answer's due date a quick choice (a
    date only when "Pick a date"), and the next visit is proposed, kept unless dropped."""

    unit = forms.IntegerField(widget=forms.HiddenInput, required=False)
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"), choices=Channel.choices, initial=Channel.DOOR
    )
    note = forms.CharField(
        label=gettext_lazy("What did you talk about?"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        error_messages={"required": gettext_lazy("Say in a few words what you talked about.")},
    )
    level = forms.TypedChoiceField(
        label=gettext_lazy("Level"), choices=Level.choices, coerce=int, widget=forms.RadioSelect
    )
    ask = forms.CharField(label=pgettext_lazy("noun", "Ask"), max_length=200, required=False)
    ask_due = forms.ChoiceField(
        label=gettext_lazy("Answer due"),
        choices=ASK_DUE_CHOICES,
        required=False,
        widget=forms.RadioSelect,
    )
    ask_due_on = forms.DateField(
        label=gettext_lazy("Answer due on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    follow_up_on = forms.DateField(
        label=gettext_lazy("Another date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    follow_up_purpose = forms.CharField(
        label=gettext_lazy("Purpose"), max_length=200, required=False
    )
    drop_follow_up = forms.BooleanField(label=gettext_lazy("Drop it"), required=False)
    meeting = forms.TypedChoiceField(
        label=gettext_lazy("Invite to a meeting"), coerce=int, required=False, empty_value=None
    )
    meeting_answer = forms.ChoiceField(
        label=gettext_lazy("Coming?"),
        choices=INVITATION_ANSWERS,
        initial=Answer.PENDING,
        required=False,
        widget=forms.RadioSelect,
    )

    def __init__(
        self,
        *args: Any,
        open_asks: Sequence[Ask] = (),
        proposals: Mapping[int, dt.date] | None = None,
        meetings: Sequence[tuple[int, str]] = (),
        today: dt.date | None = None,
        **kwargs: Any,
    ) -> None:
        """A choice for each of the contact's unanswered asks: answered now, or asked again
        with a date (a week from today for one already overdue). `proposals` are the next
        visit's date by level, taken when no other date is given and the visit not dropped.
        `today` is the day of the conversation, which a phone may send days later: "in a
        week" counts from it, and a date is in the past only if it was before it."""
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        self.fields["meeting"].choices = [("", gettext_lazy("No meeting")), *meetings]  # type: ignore[attr-defined]
        self.open_asks = list(open_asks)
        self.proposals = dict(proposals or {})
        again = self.today + ASK_AGAIN_AFTER
        for ask in self.open_asks:
            self.fields[f"open_ask_{ask.pk}"] = forms.ChoiceField(
                label=ask.question,
                choices=INVITATION_DECISIONS if ask.meeting_id else ASK_DECISIONS,
                initial=Answer.PENDING,
                required=False,
                widget=forms.RadioSelect,
            )
            self.fields[f"open_ask_{ask.pk}_due"] = forms.DateField(
                label=_("If still waiting, answer due by"),
                initial=again if ask.due_on <= self.today else ask.due_on,
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}),
            )

    def open_ask_fields(self) -> list[tuple[Ask, forms.BoundField, forms.BoundField]]:
        return [
            (ask, self[f"open_ask_{ask.pk}"], self[f"open_ask_{ask.pk}_due"])
            for ask in self.open_asks
        ]

    def settled_asks(self) -> dict[int, tuple[Answer, dt.date | None]]:
        """What the conversation made of each open ask: an answer, or a new due date."""
        settled = {}
        for ask in self.open_asks:
            answer = self.cleaned_data.get(f"open_ask_{ask.pk}") or Answer.PENDING
            settled[ask.pk] = (Answer(answer), self.cleaned_data.get(f"open_ask_{ask.pk}_due"))
        return settled

    def clean_ask_due_on(self) -> dt.date | None:
        day = self.cleaned_data["ask_due_on"]
        not_in_past(day, _("The answer can't be due in the past."), self.today)
        return day

    def clean_follow_up_on(self) -> dt.date | None:
        day = self.cleaned_data["follow_up_on"]
        not_in_past(day, _("The next visit can't be in the past."), self.today)
        return day

    def chosen_visit(self) -> dt.date | None:
        """The next visit's date as typed, when one was; else it is the level's proposal."""
        try:
            return self.fields["follow_up_on"].clean(self["follow_up_on"].value())
        except forms.ValidationError:
            return None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("ask_due") in ("3", "7"):
            data["ask_due_on"] = self.today + dt.timedelta(days=int(data["ask_due"]))
            self.errors.pop("ask_due_on", None)
        if data.get("drop_follow_up"):
            data["follow_up_on"], data["follow_up_purpose"] = None, ""
            self.errors.pop("follow_up_on", None)
        elif "follow_up_on" not in self.errors and not data.get("follow_up_on"):
            # No other date given: the visit that the level set now calls for. Its purpose is
            # the one the form proposed, in the organizer's language, as if they had kept it.
            data["follow_up_on"] = self.proposals.get(data.get("level", 0))
            if data["follow_up_on"]:
                data["follow_up_purpose"] = data.get("follow_up_purpose") or _("Check in")
        if data.get("ask") and not data.get("ask_due_on") and "ask_due_on" not in self.errors:
            self.add_error("ask_due_on", _("When is the answer due?"))
        if data.get("ask_due_on") and not data.get("ask"):
            self.add_error("ask", _("What was asked?"))
        if data.get("follow_up_on") and not data.get("follow_up_purpose"):
            self.add_error("follow_up_purpose", _("What is the next visit for?"))
        if (
            data.get("follow_up_purpose")
            and not data.get("follow_up_on")
            and "follow_up_on" not in self.errors
        ):
            self.add_error("follow_up_on", _("When is the next visit?"))
        for ask in self.open_asks:
            due = f"open_ask_{ask.pk}_due"
            still_waiting = data.get(f"open_ask_{ask.pk}") in (None, "", Answer.PENDING)
            if still_waiting and data.get(due) is not None and data[due] < self.today:
                self.add_error(
                    due,
                    _("“%(question)s”: the answer can't be due in the past.")
                    % {"question": ask.question},
                )
            elif still_waiting and data.get(due) is not None:
                try:
                    within_horizon(data[due])
                except forms.ValidationError as error:
                    self.add_error(
                        due,
                        _("“%(question)s”: %(problem)s")
                        % {"question": ask.question, "problem": error.messages[0]},
                    )
        return data


class ResidentForm(KeyedForm):
    name = NameField(
        label=gettext_lazy("Name or description"),
        max_length=200,
        help_text=gettext_lazy('A name, or "man with the red door".'),
        error_messages={"required": gettext_lazy("Give a name or a short description.")},
    )
    phone = forms.CharField(
        label=gettext_lazy("Phone"), max_length=30, required=False, validators=[phone_validator]
    )
    language = LanguageField()

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].suggest_most_used(organization)  # type: ignore[attr-defined]


class BulkKnockForm(KeyedForm):
    units = forms.TypedMultipleChoiceField(
        coerce=int, error_messages={"required": gettext_lazy("Select at least one door.")}
    )

    def __init__(self, *args: Any, unit_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["units"].choices = [(pk, pk) for pk in unit_ids]  # type: ignore[attr-defined]
        self.fields["units"].error_messages["invalid_choice"] = gettext_lazy(
            "One of the selected doors is not in this building."
        )


class ContactVisitForm(KeyedForm):
    """A call, a text or a meeting logged from the contact page."""

    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        choices=[c for c in Channel.choices if c[0] != Channel.DOOR],
        initial=Channel.PHONE,
    )
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"), choices=Outcome.choices, initial=Outcome.CONVERSATION
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("outcome") == Outcome.CONVERSATION and not data.get("note"):
            self.add_error("note", gettext_lazy("Say in a few words what you talked about."))
        return data


class FollowUpForm(KeyedForm):
    planned_for = forms.DateField(
        label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    purpose = forms.CharField(label=gettext_lazy("Purpose"), max_length=200)

    def clean_planned_for(self) -> dt.date:
        day = self.cleaned_data["planned_for"]
        not_in_past(day, _("A follow-up can't be planned in the past."))
        return day


class MoveFollowUpForm(forms.Form):
    planned_for = forms.DateField(
        label=gettext_lazy("New date"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_planned_for(self) -> dt.date:
        day = self.cleaned_data["planned_for"]
        not_in_past(day, _("A follow-up can't be moved into the past."))
        return day


class CancelFollowUpForm(forms.Form):
    reason = forms.CharField(
        max_length=200,
        error_messages={"required": gettext_lazy("Say why the follow-up is cancelled.")},
    )


class AttendForm(KeyedForm):
    """One tap at the meeting's door: this person came."""

    contact = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class WalkInForm(KeyedForm):
    """Someone nobody knew, who came to the meeting."""

    name = forms.CharField(
        label=gettext_lazy("Name or description"),
        max_length=200,
        error_messages={"required": gettext_lazy("Give the walk-in's name, or a description.")},
    )
    phone = forms.CharField(
        label=gettext_lazy("Phone"), max_length=30, required=False, validators=[phone_validator]
    )


class InviteForm(forms.Form):
    """Who to invite: the active residents of a building, of a level, or of an owner; any
    two narrow it further."""

    building = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    level = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        choices=[("", gettext_lazy("Any level")), *Level.choices],
    )
    owner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(
        self,
        *args: Any,
        buildings: Sequence[tuple[int, str]],
        owners: Sequence[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["building"].choices = [("", gettext_lazy("Any building")), *buildings]  # type: ignore[attr-defined]
        self.fields["owner"].choices = [("", gettext_lazy("Anyone's")), *owners]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(data.get(name) for name in ("building", "level", "owner")):
            raise forms.ValidationError(
                gettext_lazy("Choose a building, a level or an owner to invite.")
            )
        return data
