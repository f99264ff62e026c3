from __future__ import annotations

import zoneinfo
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def display_name(user: User) -> str:
    """How a member is named on every screen and in every message."""
    return user.get_full_name() or user.username


def default_languages() -> list[str]:
    """An organization's working languages when it sets none: every interface language."""
    return [code for code, _name in settings.LANGUAGES]


def default_time_zone() -> str:
    return settings.TIME_ZONE


def validate_languages(value: object) -> None:
    known = {code for code, _name in settings.LANGUAGES}
    if not isinstance(value, list) or not value or not all(code in known for code in value):
        raise ValidationError(
            _("Choose one or more of: %(languages)s."),
            params={"languages": ", ".join(sorted(known))},
        )


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(zone)s is not a time zone; try one like America/Toronto."),
            params={"zone": value},
        )


class Organization(models.Model):
    """A mass organization: the privacy boundary. Nobody sees another one's data."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    lapse_grace_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days a contact stays lapsed before the lapse is escalated."
    )
    orphan_after_days = models.PositiveSmallIntegerField(
        default=14,
        help_text="Days an owner may record nothing before their contacts count as orphaned.",
    )
    pace_alarm_percent = models.PositiveSmallIntegerField(
        default=40,
        help_text="How far a week's conversations may fall below the four weeks before, in "
        "percent, before the committee is alarmed.",
    )
    missed_meeting_days = models.PositiveSmallIntegerField(
        default=3,
        help_text="Days after a meeting within which each yes who did not come is followed up.",
    )
    turnout_alarm_percent = models.PositiveSmallIntegerField(
        default=50,
        help_text="A meeting to which fewer of those who said yes came, in percent, is raised "
        "on the committee's dashboard.",
    )
    # The interface languages its members work in, the first one the default: a member whose
    # browser asks for none of them gets it.
    languages = models.JSONField(default=default_languages, validators=[validate_languages])
    # Where its days begin and end: dates on its pages, in its emails and in the lapse rule.
    time_zone = models.CharField(
        max_length=64, default=default_time_zone, validators=[validate_time_zone]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Counts up whenever one of its lapse thresholds is saved or deleted (a signal in
    # contacts.models), so that each process may keep its rules in memory and know, from the
    # row every request reads anyway, when they changed (contacts.lapse.rule.Rules.of).
    lapse_rules_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pace_alarm_percent__gte=1, pace_alarm_percent__lte=99),
                name="organization_pace_alarm_1_to_99",
                violation_error_message="The pace alarm is a share from 1 to 99 percent.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def working_languages(self) -> list[str]:
        """Its languages that the interface speaks, in its order; never empty."""
        known = {code for code, _name in settings.LANGUAGES}
        return [code for code in self.languages or [] if code in known] or [settings.LANGUAGE_CODE]

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo(settings.TIME_ZONE)


class Role(models.TextChoices):
    ORGANIZER = "organizer", _("Organizer")
    COMMITTEE = "committee", _("Committee")
    ADMIN = "admin", _("Admin")


class Membership(models.Model):
    """A user's place in one organization. A user belongs to a single organization."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="membership",
        verbose_name=_("user"),
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("organization"),
    )
    role = models.CharField(
        max_length=20, choices=Role.choices, default=Role.ORGANIZER, verbose_name=_("role")
    )
    active = models.BooleanField(default=True, verbose_name=_("active"))
    # The interface language the member reads, one of the organization's; blank until their
    # first page, which takes it from the browser's.
    language = models.CharField(max_length=8, blank=True, verbose_name=_("language"))
    joined_at = models.DateTimeField(auto_now_add=True, verbose_name=_("joined at"))

    history = HistoricalRecords()

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "role", "active"], name="membership_org_role_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organization})"

    @property
    def display_name(self) -> str:
        """The member's name, marked when they have left the organization."""
        name = display_name(self.user)
        return name if self.active else _("%(name)s (left)") % {"name": name}

    @property
    def sees_whole_organization(self) -> bool:
        return self.role in (Role.COMMITTEE, Role.ADMIN)


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def open(self) -> InvitationQuerySet:
        """Neither accepted nor cancelled: an admin may still resend or cancel it."""
        return self.filter(accepted_at__isnull=True, cancelled_at__isnull=True)


class Invitation(models.Model):
    """An admin's invitation of an email address to the organization, with a role.

    Whatever the address (an account elsewhere, none, several), adding it makes one of these
    and sends the same email, so the admin learns nothing about accounts outside the
    organization. Only the person who follows the link learns what their address holds.
    The link's token is kept as its SHA-256: a read of the database gives no way in.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=150)
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ORGANIZER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        constraints = [
            # Adding an address again resends its open invitation rather than making another.
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=models.Q(accepted_at__isnull=True, cancelled_at__isnull=True),
                name="invitation_one_open_per_address",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation to {self.organization} ({self.get_role_display()})"
