from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from buildings.models import Building, Turf, Unit
from contacts.languages import LANGUAGES
from organizing.models import Membership, Organization

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Level(models.IntegerChoices):
    NEW = 1, _("New")
    CONTACT = 2, _("Contact")
    SUPPORTER = 3, _("Supporter")
    ACTIVE = 4, _("Active")
    LEADER = 5, _("Leader")


class Status(models.TextChoices):
    ACTIVE = "active", _("Active")
    MOVED = "moved", _("Moved")
    DO_NOT_CONTACT = "do_not_contact", _("Do not contact")
    ARCHIVED = "archived", _("Archived")
    # Erased on the person's request: the row stays only so that visits still count.
    ERASED = "erased", _("Erased")


class Channel(models.TextChoices):
    DOOR = "door", _("Door")
    PHONE = "phone", _("Phone")
    TEXT = "text", _("Text")
    MEETING = "meeting", _("Meeting")


class Outcome(models.TextChoices):
    CONVERSATION = "conversation", _("Conversation")
    NOT_HOME = "not_home", _("Not home")
    COME_BACK = "come_back", _("Come back later")
    REFUSED = "refused", _("Refused")
    MOVED_OUT = "moved_out", _("Moved out")
    DO_NOT_CONTACT = "do_not_contact", _("Do not contact")


class LapseFlag(models.TextChoices):
    """What the hourly job last found, most urgent last."""

    OK = "ok", _("OK")
    DUE_SOON = "due_soon", _("Due soon")
    LAPSED = "lapsed", _("Lapsed")
    ESCALATED = "escalated", _("Escalated")


class LapseReason(models.TextChoices):
    NO_CONVERSATION = "no_conversation", _("No conversation within the threshold")
    NEVER_TALKED = "never_talked", _("Never talked since being added")
    ASK_OVERDUE = "ask_overdue", _("An ask is past its due date with no answer")
    FOLLOW_UP_MISSED = "follow_up_missed", _("A planned follow-up visit was missed")


class Answer(models.TextChoices):
    PENDING = "pending", _("Pending")
    YES = "yes", _("Yes")
    NO = "no", _("No")
    # An answer all the same: the owner confirms it before the day (the meeting's list).
    MAYBE = "maybe", _("Maybe")


DEFAULT_THRESHOLD_DAYS: dict[int, int] = {
    Level.LEADER: 7,
    Level.ACTIVE: 14,
    Level.SUPPORTER: 21,
    Level.CONTACT: 45,
    Level.NEW: 60,
}
# Every level's owner is told two days ahead by default; the committee may give more.
DEFAULT_LEAD_DAYS: dict[int, int] = dict.fromkeys(DEFAULT_THRESHOLD_DAYS, 2)
level_in_range = Q(level__gte=Level.NEW, level__lte=Level.LEADER)
# Active contacts who need an owner: nobody owns them, or their owner left or has gone
# quiet (the job's orphan mark, set at once when an owner is deactivated).
needs_an_owner = Q(status=Status.ACTIVE) & (Q(orphaned=True) | Q(owner__isnull=True))
# Active contacts on the committee's list: what its partial indexes cover.
flagged = Q(status=Status.ACTIVE, lapse_flag__in=[LapseFlag.LAPSED, LapseFlag.ESCALATED])
# A lapse is open exactly when the flag says lapsed or escalated, and escalated exactly
# when the flag says so: one open lapse for a lapsed contact, by construction.
open_lapse_agrees_with_flag = (
    Q(lapse_flag=LapseFlag.LAPSED, lapse_escalated_at=None)
    | Q(lapse_flag=LapseFlag.ESCALATED, lapse_escalated_at__isnull=False)
) & Q(lapse_started_at__isnull=False, lapse_level__isnull=False) & ~Q(lapse_reason="") | Q(
    lapse_flag__in=[LapseFlag.OK, LapseFlag.DUE_SOON],
    lapse_started_at=None,
    lapse_reason="",
    lapse_level=None,
    lapse_escalated_at=None,
)

PHONE_PATTERN = r"^\+?[0-9 ().-]{7,20}$"
phone_validator = RegexValidator(
    PHONE_PATTERN, _("Enter a phone number of 7 to 20 digits, like 555 010 1234.")
)
idempotency_key_validator = RegexValidator(
    r"^[A-Za-z0-9_-]{8,64}$", _("The submission key must be 8 to 64 letters, digits, - or _.")
)


def unit_gone(collector: Any, field: Any, sub_objs: Any, using: str) -> None:
    """A resident of a deleted unit lives nowhere now: neither the unit nor its building
    stays on the contact (see Contact.building)."""
    # The building first: sub_objs finds the residents by their unit, which the other
    # update empties.
    collector.add_field_update(field.model._meta.get_field("building"), None, sub_objs)
    collector.add_field_update(field, None, sub_objs)


# As Django's SET_NULL: the residents are updated in one statement, not loaded.
unit_gone.lazy_sub_objs = True  # type: ignore[attr-defined]


def set_buildings(contacts: Iterable[Contact]) -> None:
    """Set each contact's building from its unit: from the unit the contact holds, else
    looked up for all of them in one query. For bulk_create and bulk_update, which write
    the building only when it is set (Contact.save sets it itself)."""
    unplaced: dict[int, list[Contact]] = {}
    for contact in contacts:
        unit: Unit | None = Contact.unit.field.get_cached_value(contact, None)  # type: ignore[assignment]
        # A unit saved after it was given to the contact (as a CSV import does) has a key
        # that only the unit holds until the contact is saved.
        if unit is not None and contact.unit_id in (None, unit.pk):
            contact.building_id = unit.building_id
        elif contact.unit_id is None:
            contact.building_id = None
        else:
            unplaced.setdefault(contact.unit_id, []).append(contact)
    for unit_id, building_id in Unit.objects.filter(pk__in=unplaced).values_list(
        "pk", "building_id"
    ):
        for contact in unplaced.pop(unit_id):
            contact.building_id = building_id
    for contact in chain.from_iterable(unplaced.values()):
        contact.building_id = None


class ContactQuerySet(models.QuerySet["Contact"]):
    def move_to(self, unit: Unit | None) -> int:
        """Move these contacts into `unit` (or out of any, with None), building and all:
        the set-based writer of Contact.building, as save() is for one contact."""
        return self.update(unit=unit, building_id=unit.building_id if unit else None)

    def visible_to(self, membership: Membership) -> ContactQuerySet:
        """Committee and admins see the organization; an organizer sees the contacts they
        own and the residents of their turf."""
        qs = self.filter(organization_id=membership.organization_id)
        if not membership.sees_whole_organization:
            turf = Building.objects.visible_to(membership).values("pk")
            qs = qs.filter(Q(owner_id=membership.user_id) | Q(unit__building__in=turf))
        return qs

    def replayable_by(self, membership: Membership, since: dt.datetime) -> ContactQuerySet:
        """What the phone's outbox may still send for: what the member sees now, or a
        contact the trail shows was theirs at some moment since `since` (owned by them, or
        living in a building that was on their turf then), moved or handed on meanwhile.

        Each row of the trail was in force from its own time until the next row's. A turf
        given today reaches nobody who had left that building before today."""
        if membership.sees_whole_organization:
            return self.visible_to(membership)
        user_id = membership.user_id
        turf = Building.objects.visible_to(membership).values("pk")
        trail = Contact.history.model.objects  # type: ignore[attr-defined]
        later = trail.filter(id=OuterRef("id")).filter(
            Q(history_date__gt=OuterRef("history_date"))
            | Q(history_date=OuterRef("history_date"), history_id__gt=OuterRef("history_id"))
        )
        rows = trail.filter(id=OuterRef("pk")).annotate(
            until=Coalesce(
                Subquery(later.order_by("history_date", "history_id").values("history_date")[:1]),
                Value(timezone.now()),
            )
        )
        on_turf_then = Turf.objects.filter(
            organizer_id=user_id,
            building_id=OuterRef("unit__building_id"),
            assigned_at__lt=OuterRef("until"),
        )
        was_theirs = rows.filter(until__gt=since).filter(Q(owner_id=user_id) | Exists(on_turf_then))
        return self.filter(organization_id=membership.organization_id).filter(
            Q(owner_id=user_id) | Q(unit__building__in=turf) | Exists(was_theirs)
        )


class Contact(models.Model):
    # Every index of a contact is written again when its lapse flag moves (the flag is
    # indexed, so no update of it is HOT), and the job's first run moves the flags of a
    # quarter of the contacts: so a contact keeps few indexes, and a foreign key has its
    # own only where none of Meta.indexes begins with its column.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="contacts", db_index=False
    )
    unit = models.ForeignKey(
        Unit,
        on_delete=unit_gone,
        null=True,
        blank=True,
        related_name="residents",
        db_index=False,
        verbose_name=_("unit"),
    )
    # The unit's building, denormalised so that the hourly job's pass over every contact
    # (contacts.lapse.job) counts each building's contacts without joining a million contacts
    # to their units. Kept right wherever a contact's unit is set: save(), the queryset's
    # move_to, set_buildings before a bulk_create or bulk_update, a unit's deletion
    # (unit_gone) and a unit moved to another building (Unit.save); raw SQL writers set it
    # themselves.
    # Not indexed: read only by that pass, which reads every contact anyway, and by a
    # building's deletion, which finds them without.
    building = models.ForeignKey(
        Building,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        db_index=False,
    )
    name = models.CharField(
        _("name or description"), max_length=200, help_text=_('A name, or "woman in 1204".')
    )
    phone = models.CharField(
        max_length=30, blank=True, validators=[phone_validator], verbose_name=_("phone")
    )
    email = models.EmailField(blank=True, verbose_name=_("email"))
    language = models.CharField(
        _("preferred language"), max_length=10, blank=True, choices=LANGUAGES
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_contacts",
        help_text=_("The organizer responsible for this relationship."),
        db_index=False,
        verbose_name=_("owner"),
    )
    level = models.PositiveSmallIntegerField(
        choices=Level.choices, default=Level.NEW, verbose_name=_("level")
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status")
    )
    consent_note = models.TextField(
        blank=True,
        help_text=_("What the person agreed to: calls, texts, being listed."),
        verbose_name=_("consent note"),
    )
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True)
    # The key of the form that added this contact: a resubmission finds it again.
    submission_key = models.CharField(max_length=64, blank=True, editable=False)
    # The contact who brought this one in: met at a door she knocked with us.
    brought_in_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="brought_in",
        db_index=False,
        verbose_name=_("brought in by"),
    )

    # Set by the hourly job (contacts.lapse.flag_lapsed); a conversation clears it at once.
    lapse_flag = models.CharField(
        max_length=10,
        choices=LapseFlag.choices,
        default=LapseFlag.OK,
        editable=False,
        verbose_name=_("lapse flag"),
    )
    # The lapse open now, set with the flag (lapsed or escalated exactly while it is open),
    # and kept as a LapseEpisode when it ends (end_lapse). On the contact's row, so that a
    # contact lapses in one write: the job's first run finds a quarter of them lapsed.
    lapse_started_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("lapse started at")
    )
    lapse_reason = models.CharField(
        max_length=20,
        choices=LapseReason.choices,
        blank=True,
        editable=False,
        verbose_name=_("lapse reason"),
    )
    lapse_level = models.PositiveSmallIntegerField(
        _("level when it lapsed"), choices=Level.choices, null=True, blank=True, editable=False
    )
    lapse_escalated_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("lapse escalated at")
    )
    orphaned = models.BooleanField(
        default=False,
        editable=False,
        help_text=_("The owner left, or has recorded nothing for a while, or there is none."),
        verbose_name=_("orphaned"),
    )
    snoozed_until = models.DateField(null=True, blank=True, verbose_name=_("snoozed until"))
    snooze_reason = models.CharField(max_length=200, blank=True, verbose_name=_("snooze reason"))

    # Denormalised, kept right only by contacts.actions.record_visit.
    last_conversation_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("last conversation at")
    )
    last_attempt_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("last attempt at")
    )
    attempts_since_conversation = models.PositiveIntegerField(
        default=0, editable=False, verbose_name=_("attempts since conversation")
    )

    objects = ContactQuerySet.as_manager()
    # The unit and building as loaded or last saved, for save() to see the unit change.
    _placed: tuple[Any, Any]
    # Who changed what a person can see on the page. The clocks and flags the app derives
    # itself (and rewrites on every knock or hourly run) are left out of the trail.
    history = HistoricalRecords(
        excluded_fields=[
            "updated_at",
            "submission_key",
            "lapse_flag",
            "lapse_started_at",
            "lapse_reason",
            "lapse_level",
            "lapse_escalated_at",
            "orphaned",
            "last_conversation_at",
            "last_attempt_at",
            "attempts_since_conversation",
            "building",
        ]
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=level_in_range,
                name="contact_level_1_to_5",
                violation_error_message=_("Level must be between 1 (new) and 5 (leader)."),
            ),
            models.UniqueConstraint(
                "organization",
                "submission_key",
                condition=~Q(submission_key=""),
                name="contact_submission_key_unique_per_organization",
            ),
            models.CheckConstraint(
                condition=Q(snoozed_until__isnull=True) | ~Q(snooze_reason=""),
                name="contact_snooze_needs_reason",
                violation_error_message=_("A snooze needs a reason."),
            ),
            models.CheckConstraint(
                condition=open_lapse_agrees_with_flag, name="contact_open_lapse_agrees_with_flag"
            ),
        ]
        indexes = [
            # The people a contact brought in, on her page; few contacts have one.
            models.Index(
                fields=["brought_in_by"],
                condition=Q(brought_in_by__isnull=False),
                name="contact_brought_in_by",
            ),
            # Each also stands for its first column's foreign key (see `organization`).
            models.Index(fields=["owner", "status"], name="contact_owner_status"),
            # The lapsed list by state, and the dashboard's live count of the lapsed (active,
            # not snoozed) off the index alone.
            models.Index(
                fields=["organization", "lapse_flag", "status", "snoozed_until"],
                name="contact_org_flag_snooze",
            ),
            # The dashboard's live count of those who need an owner, off the index alone.
            models.Index(
                fields=["organization"], condition=needs_an_owner, name="contact_needs_owner"
            ),
            models.Index(fields=["unit", "status"], name="contact_unit_status"),
            # The committee's list of the lapsed, most severe first (see
            # contacts.committee.lapsed_contacts): a page of it is read off this index.
            models.Index(
                F("organization"),
                F("level").desc(),
                Coalesce("last_conversation_at", "created_at"),
                F("name"),
                F("id"),
                condition=flagged,
                name="contact_flagged_by_severity",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saved with the building of its unit, whenever the unit is saved: looked up only
        when the unit changed since the contact was loaded and is not at hand."""
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            update_fields = kwargs["update_fields"] = set(update_fields)
        if update_fields is None or {"unit", "unit_id"} & update_fields:
            unit, building = getattr(self, "_placed", (models.DEFERRED, models.DEFERRED))
            if self.unit_id != unit or building is models.DEFERRED:
                set_buildings([self])
            if update_fields is not None:
                update_fields.add("building")
        super().save(*args, **kwargs)
        self._placed = self._placement()

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Contact:
        contact = super().from_db(*args, **kwargs)
        contact._placed = contact._placement()
        return contact

    def _placement(self) -> tuple[Any, Any]:
        """The unit and building as loaded or saved (DEFERRED where not loaded)."""
        return self.__dict__.get("unit_id", models.DEFERRED), self.__dict__.get(
            "building_id", models.DEFERRED
        )

    def clean(self) -> None:
        if self.unit is not None and self.unit.building.organization_id != self.organization_id:
            raise ValidationError({"unit": _("That unit belongs to another organization.")})
        if self.owner_id:
            owner_org = (
                Membership.objects.filter(user_id=self.owner_id, active=True)
                .values_list("organization_id", flat=True)
                .first()
            )
            if owner_org != self.organization_id:
                raise ValidationError(
                    {"owner": _("The owner must be an active member of this organization.")}
                )

    def set_level(self, level: int, *, by: User) -> LevelChange | None:
        """Change the level and keep who changed it from what, and when."""
        if level not in Level.values:
            raise ValidationError({"level": _("Level must be between 1 (new) and 5 (leader).")})
        if level == self.level:
            return None
        change = LevelChange.objects.create(
            contact=self, from_level=self.level, to_level=level, changed_by=by
        )
        self.level = level
        self._history_user = by  # type: ignore[attr-defined]
        self.save(update_fields=["level", "updated_at"])
        return change

    @property
    def open_lapse(self) -> LapseEpisode | None:
        """The lapse open now, as the episode it is kept as when it ends; None if none is."""
        if self.lapse_started_at is None or self.lapse_level is None:
            return None
        return LapseEpisode(
            organization_id=self.organization_id,
            contact=self,
            started_at=self.lapse_started_at,
            reason=self.lapse_reason,
            level=self.lapse_level,
            escalated_at=self.lapse_escalated_at,
        )

    def end_lapse(self, *, at: dt.datetime, by: Visit | None = None) -> dict[str, Any]:
        """End the open lapse, if there is one: keep it as an episode, resolved at `at` (by
        a conversation, `by`), and clear it and the flag on this instance. Returns the
        fields to write, for the caller to save with the rest of its change; the row must
        be locked (select_for_update), as the job's writes wait on it."""
        episode = self.open_lapse
        if episode is not None:
            episode.resolved_at, episode.resolved_by = at, by
            episode.save()
        cleared = {
            "lapse_flag": LapseFlag.OK,
            "lapse_started_at": None,
            "lapse_reason": "",
            "lapse_level": None,
            "lapse_escalated_at": None,
        }
        for field, value in cleared.items():
            setattr(self, field, value)
        return cleared


class LevelChange(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="level_changes")
    from_level = models.PositiveSmallIntegerField(
        choices=Level.choices, verbose_name=_("from level")
    )
    to_level = models.PositiveSmallIntegerField(choices=Level.choices, verbose_name=_("to level"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(default=timezone.now, verbose_name=_("changed at"))

    class Meta:
        ordering = ["-changed_at"]
        indexes = [models.Index(fields=["contact", "changed_at"], name="level_change_contact_at")]

    def __str__(self) -> str:
        return f"{self.contact}: {self.from_level} → {self.to_level}"


class Visit(models.Model):
    """One contact attempt. Record it only through contacts.actions.record_visit."""

    # The foreign keys' own indexes are left out: each is the first column of one in
    # Meta, and a knock writes every index of the largest table.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="visits",
        db_index=False,
        verbose_name=_("contact"),
    )
    # A unit with history can't be deleted on its own (mark it vacant or archive the
    # building); deleting the whole organization still removes its visits.
    unit = models.ForeignKey(
        Unit,
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="visits",
        db_index=False,
        verbose_name=_("unit"),
    )
    organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="visits",
        db_index=False,
        verbose_name=_("organizer"),
    )
    channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.DOOR, verbose_name=_("channel")
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices, verbose_name=_("outcome"))
    happened_at = models.DateTimeField(default=timezone.now, verbose_name=_("happened at"))
    recorded_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True, verbose_name=_("note"))
    idempotency_key = models.CharField(max_length=64, validators=[idempotency_key_validator])
    # Set when a knock sent late from a phone met a changed world (the contact had moved or
    # been handed to someone else): recorded all the same, and shown to its organizer.
    needs_look = models.CharField(max_length=200, blank=True, verbose_name=_("needs look"))
    # Knocking together: who came along, a member or a contact (a leader knocking with
    # us, for whom it counts as a conversation: contacts.actions.record_visit).
    companion = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("companion"),
    )
    companion_contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="knocks_joined",
        db_index=False,
        verbose_name=_("companion contact"),
    )

    history = HistoricalRecords(excluded_fields=["recorded_at", "idempotency_key"])

    class Meta:
        ordering = ["-happened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(contact__isnull=False) | Q(unit__isnull=False),
                name="visit_has_contact_or_unit",
                violation_error_message=_("A visit needs a contact or a unit."),
            ),
            models.UniqueConstraint(
                "organization",
                "idempotency_key",
                name="visit_idempotency_key_unique_per_organization",
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "happened_at"], name="visit_contact_happened"),
            models.Index(fields=["unit", "happened_at"], name="visit_unit_happened"),
            models.Index(fields=["organizer", "happened_at"], name="visit_organizer_happened"),
            # Conversations this week and last: counted by the hourly job
            # (contacts.lapse.summary) by when they happened, and by the dashboard among those
            # recorded since.
            models.Index(
                # recorded_at too, so that they are counted off the index alone.
                fields=["organization", "happened_at", "recorded_at"],
                condition=Q(outcome=Outcome.CONVERSATION),
                name="visit_org_conversation",
            ),
            models.Index(
                fields=["organization", "recorded_at"],
                condition=Q(outcome=Outcome.CONVERSATION),
                name="visit_org_talk_recorded",
            ),
            # The doors a contact helped knock, on her page; few visits have one.
            models.Index(
                fields=["companion_contact", "happened_at"],
                condition=Q(companion_contact__isnull=False),
                name="visit_companion_contact",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} at {self.happened_at:%Y-%m-%d %H:%M}"


class Ask(models.Model):
    """A commitment asked for at the door, with a date the answer is due back."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="asks", verbose_name=_("contact")
    )
    question = models.CharField(
        _("what was asked"), max_length=200, help_text=_('Such as "floor captain?"')
    )
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("asked by"),
    )
    asked_at = models.DateTimeField(default=timezone.now, verbose_name=_("asked at"))
    due_on = models.DateField(_("answer due"))
    answer = models.CharField(
        max_length=10, choices=Answer.choices, default=Answer.PENDING, verbose_name=_("answer")
    )
    answered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("answered at"))
    # An invitation: the ask's subject is this meeting ("come to Thursday's meeting").
    meeting = models.ForeignKey(
        "Meeting",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations",
        verbose_name=_("meeting"),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["due_on"]
        constraints = [
            # Invited twice is invited once.
            models.UniqueConstraint(
                "meeting",
                "contact",
                condition=Q(meeting__isnull=False),
                name="ask_one_invitation_per_meeting",
            )
        ]
        indexes = [
            models.Index(fields=["contact", "answer", "due_on"], name="ask_contact_answer_due")
        ]

    def __str__(self) -> str:
        return self.question

    def clean(self) -> None:
        if self.due_on and self.asked_at and self.due_on < timezone.localdate(self.asked_at):
            raise ValidationError({"due_on": _("The answer can't be due before it was asked.")})

    def record_answer(self, answer: str) -> None:
        self.answer = answer
        self.answered_at = None if answer == Answer.PENDING else timezone.now()
        self.save(update_fields=["answer", "answered_at"])


class FollowUpQuerySet(models.QuerySet["FollowUp"]):
    def open(self) -> FollowUpQuerySet:
        return self.filter(done_by__isnull=True, cancelled_at__isnull=True)


class FollowUp(models.Model):
    """The next visit planned with a contact: done by a conversation, or cancelled."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("contact")
    )
    planned_for = models.DateField(verbose_name=_("planned for"))
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="follow_ups",
        verbose_name=_("assigned to"),
    )
    purpose = models.CharField(max_length=200, verbose_name=_("purpose"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    done_by = models.ForeignKey(
        Visit,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="completed",
        verbose_name=_("done by"),
    )
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    cancel_reason = models.CharField(max_length=200, blank=True, verbose_name=_("cancel reason"))
    submission_key = models.CharField(max_length=64, blank=True, editable=False)

    objects = FollowUpQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["submission_key"])

    class Meta:
        ordering = ["planned_for"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True) | ~Q(cancel_reason=""),
                name="follow_up_cancel_needs_reason",
                violation_error_message=_("Say why the follow-up is cancelled."),
            ),
            models.UniqueConstraint(
                "contact",
                "submission_key",
                condition=~Q(submission_key=""),
                name="follow_up_submission_key_unique_per_contact",
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "planned_for"], name="follow_up_contact_planned")
        ]

    def __str__(self) -> str:
        return f"{self.purpose} on {self.planned_for}"

    def clean(self) -> None:
        if self._state.adding and self.planned_for and self.planned_for < timezone.localdate():
            raise ValidationError({"planned_for": _("A follow-up can't be planned in the past.")})

    def cancel(self, reason: str) -> None:
        if not reason.strip():
            raise ValidationError({"cancel_reason": _("Say why the follow-up is cancelled.")})
        self.cancelled_at = timezone.now()
        self.cancel_reason = reason.strip()
        self.save(update_fields=["cancelled_at", "cancel_reason"])


class LapseThreshold(models.Model):
    """Days without a conversation before a contact of this level counts as lapsed."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="lapse_thresholds"
    )
    level = models.PositiveSmallIntegerField(choices=Level.choices, verbose_name=_("level"))
    days = models.PositiveSmallIntegerField(verbose_name=_("days"))
    lead_days = models.PositiveSmallIntegerField(
        default=2,
        help_text=_("Days before a lapse that the owner is told, at the least."),
        verbose_name=_("lead days"),
    )

    class Meta:
        ordering = ["organization", "-level"]
        constraints = [
            models.UniqueConstraint("organization", "level", name="threshold_unique_per_level"),
            models.CheckConstraint(
                condition=Q(days__gte=1),
                name="threshold_days_positive",
                violation_error_message=_("A threshold is at least one day."),
            ),
            models.CheckConstraint(condition=level_in_range, name="threshold_level_1_to_5"),
            models.CheckConstraint(
                condition=Q(lead_days__gte=1, lead_days__lt=F("days")),
                name="threshold_lead_within_threshold",
                violation_error_message=_(
                    "The lead time is at least a day and shorter than the threshold."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()}: {self.days} days"

    @classmethod
    def settings_by_level(
        cls, organization_ids: Iterable[int]
    ) -> dict[int, tuple[dict[int, int], dict[int, int]]]:
        """Each organization's days and lead days for every level: what its committee set,
        else the default. A row exists only for a level the committee has saved."""
        ids = list(organization_ids)
        settings = {pk: (dict(DEFAULT_THRESHOLD_DAYS), dict(DEFAULT_LEAD_DAYS)) for pk in ids}
        rows = cls.objects.filter(organization_id__in=ids).values_list(
            "organization_id", "level", "days", "lead_days"
        )
        for organization_id, level, days, lead_days in rows:
            settings[organization_id][0][level] = days
            settings[organization_id][1][level] = lead_days
        return settings

    @classmethod
    def days_by_level(cls, organization_ids: Iterable[int]) -> dict[int, dict[int, int]]:
        return {pk: days for pk, (days, _) in cls.settings_by_level(organization_ids).items()}


@receiver([post_save, post_delete], sender=LapseThreshold)
def count_rules_change(
    sender: type[LapseThreshold], instance: LapseThreshold, **kwargs: Any
) -> None:
    """Tell every process that kept this organization's rules in memory that they changed.
    Thresholds are saved one by one (contacts.actions.set_thresholds, the admin): a bulk
    write or QuerySet.update() would have to count up the version itself."""
    Organization.objects.filter(pk=instance.organization_id).update(
        lapse_rules_version=F("lapse_rules_version") + 1
    )


class OwnerChange(models.Model):
    """A contact handed from one organizer to another, kept so the history can be trusted."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="owner_changes")
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.contact}: {self.from_owner} → {self.to_owner}"


class LapseEpisode(models.Model):
    """One time a contact was dropped and picked up again: when, why, at what level, and
    what ended it. The lapse open now is on the contact's row (Contact.lapse_started_at
    and the rest; Contact.open_lapse) and is kept here when it ends (Contact.end_lapse),
    so that opening one costs no row of its own."""

    # No index of the organization's own: read with the whole table (the weekly lapse
    # rate), or when an organization is deleted.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="lapse_episodes")
    started_at = models.DateTimeField()
    reason = models.CharField(max_length=20, choices=LapseReason.choices)
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField()
    resolved_by = models.ForeignKey(
        Visit, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # For a visit's undoing (SET_NULL), among the episodes a conversation ended.
            models.Index(
                fields=["resolved_by"],
                condition=Q(resolved_by__isnull=False),
                name="episode_resolved_by",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} lapsed {self.started_at:%Y-%m-%d} ({self.get_reason_display()})"


class LapseSummary(models.Model):
    """What the hourly job (contacts.lapse.flag_lapsed) counted for an organization's
    dashboard, as of `taken_at`: the figures that take a pass over every contact."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    taken_at = models.DateTimeField()
    counted = models.PositiveIntegerField(default=0)
    due_soon = models.PositiveIntegerField(default=0)
    leaders = models.PositiveIntegerField(default=0)
    leaders_reached = models.PositiveIntegerField(default=0)
    orphaned = models.PositiveIntegerField(default=0)
    asks_overdue = models.PositiveIntegerField(default=0)
    # Conversations recorded by `taken_at`, in its week and the week before.
    conversations_this_week = models.PositiveIntegerField(default=0)
    conversations_last_week = models.PositiveIntegerField(default=0)
    # {building id: [counted, reached in time, leaders]}
    buildings = models.JSONField(default=dict)
    # {owner's user id: [active contacts owned, of them lapsed or escalated]}
    owners = models.JSONField(default=dict)
    # [[the week's label, the lapse rate at its end]], oldest first
    weeks = models.JSONField(default=list)
    # The last full week's pace (contacts.lapse.pace.Pace.as_summary), worked out once a week.
    pace = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"{self.organization} as of {self.taken_at:%Y-%m-%d %H:%M}"


# An export's kind and filters are stored in no one's language (contacts.exports.log_export)
# and shown in the reader's: these are the words for what is stored.
EXPORT_KINDS = {"contacts": _("contacts"), "lapsed contacts": _("lapsed contacts")}
EXPORT_FILTER_WORDS = {
    "all buildings": _("all buildings"),
    "active only": _("active only"),
    "everyone": _("moved, archived and do-not-contact residents included"),
}
EXPORT_FILTER_NAMES = {
    "building": _("building"),
    "owner": _("owner"),
    "level": _("level"),
    "state": _("state"),
}


class ExportLog(models.Model):
    """Who took personal data out of the app, and when."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    what = models.CharField(max_length=100)
    filters = models.CharField(max_length=500, blank=True)
    rows = models.PositiveIntegerField()
    exported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-exported_at"]

    def __str__(self) -> str:
        return f"{self.what} by {self.user} at {self.exported_at:%Y-%m-%d %H:%M}"

    @property
    def what_in_words(self) -> str:
        return str(EXPORT_KINDS.get(self.what, self.what))

    @property
    def filters_in_words(self) -> str:
        """ "building: Maple Court · active only", in the reader's language. The setup's
        export stores "building=Maple Court; active only", the committee's its list's query
        string ("level=5&state=escalated"); anything else is shown as stored."""
        parts = []
        for part in filter(None, re.split(r"; |&", self.filters)):
            name, equals, value = part.partition("=")
            if part in EXPORT_FILTER_WORDS:
                parts.append(str(EXPORT_FILTER_WORDS[part]))
            elif equals and name in EXPORT_FILTER_NAMES:
                if name == "level" and value.isdecimal() and int(value) in Level.values:
                    value = str(Level(int(value)).label)
                elif name == "state" and value in LapseFlag.values:
                    value = str(LapseFlag(value).label)
                elif name == "state" and value == "orphaned":
                    value = str(_("Needs an owner"))
                parts.append(
                    _("%(name)s: %(value)s") % {"name": EXPORT_FILTER_NAMES[name], "value": value}
                )
            else:
                parts.append(part)
        return " · ".join(parts)


class Erasure(models.Model):
    """That a person was erased on request: who did it and when, and nothing about them.

    The contact id is a plain number, not a key: the record must outlive the row and must
    not lead back to anything the person said or was."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    contact_id = models.PositiveBigIntegerField()
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    erased_at = models.DateTimeField(default=timezone.now)
    # What was scrubbed, as counts, so an admin can see the erasure reached everything.
    visits = models.PositiveIntegerField(default=0)
    asks = models.PositiveIntegerField(default=0)
    follow_ups = models.PositiveIntegerField(default=0)
    history_rows = models.PositiveIntegerField(
        default=0, help_text=_("Rows of the audit trail that held the person's data.")
    )
    mentions = models.PositiveIntegerField(
        default=0, help_text=_("Other notes that named the person, now redacted.")
    )

    class Meta:
        ordering = ["-erased_at"]
        indexes = [models.Index(fields=["organization", "erased_at"], name="erasure_org_erased")]

    def __str__(self) -> str:
        return f"Contact #{self.contact_id} erased at {self.erased_at:%Y-%m-%d %H:%M}"


class DigestKind(models.TextChoices):
    OWNER_DAILY = "owner_daily", _("Owner's daily digest")
    COMMITTEE_DAILY = "committee_daily", _("Committee's daily list of contacts needing an owner")
    COMMITTEE_WEEKLY = "committee_weekly", _("Committee's weekly digest")


class DigestLog(models.Model):
    """One digest per person per period: the row is claimed in the transaction that sends
    the email, so overlapping runs send it once and a run that dies before sending leaves
    it to the next (contacts.lapse.digests). A row is a period done: the email sent, or
    nothing to tell when it was due."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=DigestKind.choices)
    period = models.DateField(help_text=_("The day, or the Monday of the week."))
    done_at = models.DateTimeField(default=timezone.now)
    emailed = models.BooleanField(
        default=True, help_text=_("False when there was nothing to tell: no email that period.")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint("membership", "kind", "period", name="one_digest_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.membership} ({self.period})"


class MeetingQuerySet(models.QuerySet["Meeting"]):
    def visible_to(self, membership: Membership) -> MeetingQuerySet:
        """Every member of the organization sees its meetings: organizers invite to them
        and take attendance at the door."""
        return self.filter(organization_id=membership.organization_id)

    def poor_turnout(self, organization: Organization, since: dt.datetime) -> list[Meeting]:
        """The organization's meetings held since `since` to which fewer of those who said
        yes came than its turnout alarm: each with `said_yes`, `yes_came` and the
        `no_shows` (their owners loaded). Two queries."""
        said_yes = Q(invitations__answer=Answer.YES)
        yes = Ask.objects.filter(
            meeting=OuterRef("meeting"), contact=OuterRef("contact"), answer=Answer.YES
        )
        came = (
            Attendance.objects.filter(meeting=OuterRef("pk"))
            .filter(Exists(yes))
            .values("meeting")
            .annotate(n=models.Count("pk"))
            .values("n")
        )
        meetings = list(
            self.filter(
                organization=organization, starts_at__gte=since, starts_at__lt=timezone.now()
            )
            .annotate(
                said_yes=models.Count("invitations", filter=said_yes),
                yes_came=Coalesce(Subquery(came), 0),
            )
            .filter(said_yes__gt=0)
            .order_by("-starts_at")
        )
        alarm = organization.turnout_alarm_percent
        raised: list[Meeting] = [
            m
            for m in meetings
            if m.yes_came * 100 < alarm * m.said_yes  # type: ignore[attr-defined]
        ]
        no_shows = (
            Ask.objects.filter(meeting__in=raised, answer=Answer.YES)
            .exclude(contact__attendances__meeting=F("meeting"))
            .exclude(contact__status=Status.ERASED)
            .select_related("contact__owner")
            .order_by("contact__name")
        )
        by_meeting: dict[int, list[Contact]] = {m.pk: [] for m in raised}
        for ask in no_shows:
            by_meeting[ask.meeting_id].append(ask.contact)  # type: ignore[index]
        for meeting in raised:
            meeting.no_shows = by_meeting[meeting.pk]  # type: ignore[attr-defined]
        return raised

    def turnout_over_time(self, organization: Organization, *, last: int) -> list[Meeting]:
        """The organization's `last` meetings that have begun, oldest first, each with
        `invited`, `said_yes` and `came` (walk-ins too), counted as `turnout` counts them.
        One query: each count is its own
        subquery, so a meeting of 300 invited and 300 present is not 90,000 joined rows."""

        def count(rows: models.QuerySet[Any]) -> Coalesce:
            tally = rows.values("meeting").annotate(n=models.Count("pk")).values("n")
            return Coalesce(Subquery(tally), 0)

        invited = Ask.objects.filter(meeting=OuterRef("pk"))
        recent = (
            self.filter(organization=organization, starts_at__lt=timezone.now())
            .annotate(
                invited=count(invited),
                said_yes=count(invited.filter(answer=Answer.YES)),
                came=count(Attendance.objects.filter(meeting=OuterRef("pk"))),
            )
            .order_by("-starts_at", "-pk")[:last]
        )
        return list(reversed(recent))


class Meeting(models.Model):
    """An organization's gathering. Inviting is an ask (Ask.meeting); coming is a visit
    on the meeting channel (Attendance.visit)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="meetings", db_index=False
    )
    title = models.CharField(max_length=200, verbose_name=_("title"))
    starts_at = models.DateTimeField(_("when"))
    place = models.CharField(_("where"), max_length=200)
    # None chosen is a meeting for everyone.
    buildings = models.ManyToManyField(
        Building, blank=True, related_name="meetings", verbose_name=_("buildings")
    )
    language = models.CharField(
        max_length=10, blank=True, choices=LANGUAGES, verbose_name=_("language")
    )
    purpose = models.TextField(blank=True, verbose_name=_("purpose"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Set once, when the attendance is closed and the no-shows' follow-ups are planned.
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MeetingQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["organization", "starts_at"], name="meeting_org_starts")]

    def __str__(self) -> str:
        return f"{self.title} ({self.starts_at:%Y-%m-%d %H:%M})"

    def clean(self) -> None:
        if self._state.adding and self.starts_at and self.starts_at < timezone.now():
            raise ValidationError({"starts_at": _("A new meeting can't be in the past.")})

    @property
    def is_past(self) -> bool:
        return self.starts_at < timezone.now()

    def turnout(self) -> Turnout:
        """Invited, said yes and came: for the meeting, by building and by owner. Two
        queries, whatever the size of the meeting."""
        came = Attendance.objects.filter(meeting=self, contact=OuterRef("contact"))
        invited = Ask.objects.filter(meeting=self).annotate(came=Exists(came))
        rows: list[tuple[str, str, bool, bool]] = [
            (building or "", owner or "", answer == Answer.YES, attended)
            for building, owner, answer, attended in invited.values_list(
                "contact__building__name", "contact__owner__username", "answer", "came"
            )
        ]
        walk_ins = Attendance.objects.filter(meeting=self, walk_in=True).values_list(
            "contact__building__name", "contact__owner__username"
        )
        turnout = Turnout()
        for building, owner, said_yes, attended in rows:
            for tally in turnout.tallies(building, owner):
                tally.invited += 1
                tally.said_yes += said_yes
                tally.came += attended
                tally.yes_came += said_yes and attended
        for building, owner in walk_ins:
            for tally in turnout.tallies(building or "", owner or ""):
                tally.came += 1
                tally.walk_ins += 1
        return turnout


@dataclass
class Tally:
    invited: int = 0
    said_yes: int = 0
    came: int = 0
    # Of those who said yes, how many came: the share the dashboard watches.
    yes_came: int = 0
    walk_ins: int = 0

    @property
    def no_shows(self) -> int:
        return self.said_yes - self.yes_came


@dataclass
class Turnout:
    total: Tally = dataclasses.field(default_factory=Tally)
    # By name: "" is nobody (no building known, or no owner).
    by_building: dict[str, Tally] = dataclasses.field(default_factory=dict)
    by_owner: dict[str, Tally] = dataclasses.field(default_factory=dict)

    def tallies(self, building: str, owner: str) -> list[Tally]:
        return [
            self.total,
            self.by_building.setdefault(building, Tally()),
            self.by_owner.setdefault(owner, Tally()),
        ]


class Attendance(models.Model):
    """A contact who came to a meeting, recorded at the door. One per person and meeting,
    however many taps or phones; its visit (on the meeting channel) is the conversation
    that resets the lapse clock."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendances")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="attendances")
    visit = models.OneToOneField(Visit, on_delete=models.CASCADE, related_name="attendance")
    # Came without an invitation.
    walk_in = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint("meeting", "contact", name="attendance_once_per_meeting")
        ]

    def __str__(self) -> str:
        return f"{self.contact} at {self.meeting}"
