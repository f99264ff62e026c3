"""The emails that keep people from being dropped: each owner's daily list of who is due,
the committee's daily list of contacts who need an owner, and its weekly figures.

The owner's list is the lapse rule's at the moment of sending (contacts.lapse.due), as
Today shows it; the committee's read what the hourly job and deactivations leave on the
contacts. Each is sent once per person and period whatever the number of runs: see
`_send_once`. Each is due from its hour (settings.OWNER_DIGEST_AT and the others) on its
day, or any day of its week for the weekly one; beat fires them every quarter hour, so a
firing that could not run is made up by the next one (contacts.lapse.schedule).
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, reduce

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Expression, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from contacts.lapse.due import owner_due
from contacts.lapse.pace import Pace, pace_of
from contacts.lapse.schedule import NOBODYS_FAULT, due_periods, due_week
from contacts.models import (
    Contact,
    DigestKind,
    DigestLog,
    LapseFlag,
    Level,
    Status,
    needs_an_owner,
)
from organizing.i18n import for_member
from organizing.models import Membership, Organization, Role, display_name

log = logging.getLogger(__name__)

LAPSED = [LapseFlag.LAPSED, LapseFlag.ESCALATED]
# Enough for a weekly meeting; the dashboard has the rest.
ESCALATIONS_LISTED = 50
ORPHANS_LISTED = 100
OWNER_SECTIONS = [
    ("due_soon", gettext_lazy("Due soon: talk to them before the day")),
    ("lapsed", gettext_lazy("Lapsed: talk to them first")),
    ("coming", gettext_lazy("Coming up this week")),
    ("to_confirm", gettext_lazy("Meetings: confirm they are coming")),
]


def absolute_url(path: str) -> str:
    return settings.SITE_URL + path


def percent(value: int) -> str:
    """A whole percentage as the reader's language writes it: 25% in English, 25 % in
    French."""
    return _("%(percent)s%%") % {"percent": value}


def and_(parts: list[str]) -> str:
    """Parts of a sentence one after the other: "a and b and c"."""
    sentence = parts[0]
    for part in parts[1:]:
        sentence = _("%(before)s and %(after)s") % {"before": sentence, "after": part}
    return sentence


def place_of(contact: Contact) -> str:
    if contact.unit is None:
        return _("no unit on record")
    return f"{contact.unit.building.name}, {contact.unit.label}"


@dataclass(frozen=True)
class Escalation:
    """One escalated contact in the committee's digest."""

    name: str
    level: str
    owner: str
    place: str
    url: str
    days_lapsed: int


@dataclass(frozen=True)
class CommitteeFigures:
    counted: int
    lapsed: int
    orphaned: int
    escalated: int
    escalations: list[Escalation]

    @property
    def lapse_rate(self) -> str:
        if not self.counted:
            return _("no active contacts")
        return percent(round(100 * self.lapsed / self.counted))

    @property
    def escalations_not_listed(self) -> int:
        return self.escalated - len(self.escalations)


def _send_once(
    membership: Membership,
    kind: DigestKind,
    period: dt.date,
    compose: Callable[[], EmailMultiAlternatives | None],
) -> bool:
    """Send one digest unless this person's digest for this period is done already; return
    whether it was sent now.

    1. Claim the (membership, kind, period) row with an INSERT. If another run holds it,
       the unique constraint refuses it and this run skips the person.
    2. Compose and send inside the same transaction as the claim, which commits only after
       the send. A send that fails, or a worker killed mid-send, rolls the claim back (a
       dead connection's transaction never commits), so the next run retries: a claim
       committed before its send would lose the digest to a crash in between. A run that
       reaches the same person meanwhile waits on the unique index, then skips or sends
       according to how this one ended.
    3. With nothing to tell, keep the claim marked not emailed: the day's digest is done,
       and the runs later that day pass the person by.
    4. Log by membership and organization id only: SMTP errors can quote the address they
       refused, database errors the row they refused. Any other error is this person's
       or their organization's alone: it is logged, and the others go on.

    The one duplicate left is a send that succeeds and a commit that then fails: better a
    second email than a warning that never came.
    """
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    claim = DigestLog.objects.create(
                        membership=membership, kind=kind, period=period
                    )
            except IntegrityError:
                return False
            # In the recipient's language and their organization's time, subject included.
            with for_member(membership):
                message = compose()
            if message is None:
                claim.emailed = False
                claim.save(update_fields=["emailed"])
                return False
            message.send()
    except OSError as error:  # smtplib's errors, refused or dropped connections, timeouts
        log.warning(
            "%s for membership %s not sent (%s); the next run retries",
            kind.label,
            membership.pk,
            type(error).__name__,
        )
        return False
    except NOBODYS_FAULT:
        raise
    except Exception as error:
        log.error(
            "%s for membership %s of organization %s failed (%s); the next run retries, "
            "the others go on",
            kind.label,
            membership.pk,
            membership.organization_id,
            type(error).__name__,
        )
        return False
    log.info("%s sent to membership %s", kind.label, membership.pk)
    return True


def _not_done(kind: DigestKind, period: dt.date) -> Expression:
    """Members whose digest of this kind and period is not done: later runs of the day
    find nobody and cost one query."""
    done = DigestLog.objects.filter(membership=OuterRef("pk"), kind=kind, period=period)
    return ~Exists(done)


def _due_and_not_done(kind: DigestKind, periods: dict[int, dt.date]) -> Q:
    """Members of the organizations now due (`periods`, schedule.due_periods) whose digest of
    that organization's period is not done. Organizations share a period but for the hours
    their zones differ: a term per period, not per organization."""
    by_period: dict[dt.date, list[int]] = defaultdict(list)
    for organization_id, period in periods.items():
        by_period[period].append(organization_id)
    return reduce(
        operator.or_,
        (Q(_not_done(kind, period), organization_id__in=ids) for period, ids in by_period.items()),
    )


def _message(
    membership: Membership, subject: str, template: str, context: dict[str, object]
) -> EmailMultiAlternatives:
    context = {
        "greeting": membership.user.get_short_name() or membership.user.get_username(),
        "organization": membership.organization,
        **context,
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"lapse/email/{template}.txt", context),
        to=[membership.user.email],
    )
    message.attach_alternative(
        render_to_string(f"lapse/email/{template}.html", context), "text/html"
    )
    return message


# The owner's daily digest


def send_owner_digests(*, now: dt.datetime | None = None) -> int:
    """Email every active member who owns active contacts the contacts of theirs due soon or
    lapsed, once a day; return how many digests were sent. The list is worked out at the
    moment of sending by the rule (contacts.lapse.due), as Today shows it.

    Sent inline, person after person, rather than as one task per person: each digest is
    already its own unit of work (its claim commits or rolls back with its send, see
    `_send_once`), a failure for one person does not stop the others, and a rerun sends only
    what is missing. Fanning out would add a broker round trip per person and a way to lose
    half a fan-out to a broker outage, for a job that sends one email per organizer a day.
    A send that failed is retried by the next run, scheduled or by hand
    (`manage.py send_digests --daily`). Before settings.OWNER_DIGEST_AT nothing is due.
    """
    now = now or timezone.now()
    days = due_periods(now, settings.OWNER_DIGEST_AT)
    if not days:
        return 0
    owned = Contact.objects.filter(
        organization_id=OuterRef("organization_id"),
        owner_id=OuterRef("user_id"),
        status=Status.ACTIVE,
    )
    owners = (
        Membership.objects.filter(
            Exists(owned), _due_and_not_done(DigestKind.OWNER_DAILY, days), active=True
        )
        .exclude(user__email="")
        .select_related("user", "organization")
        .order_by("pk")
    )
    return sum(
        _send_once(
            membership,
            DigestKind.OWNER_DAILY,
            days[membership.organization_id],
            partial(owner_digest, membership, now),
        )
        for membership in owners
    )


def owner_digest(membership: Membership, now: dt.datetime) -> EmailMultiAlternatives | None:
    """Due soon first, the earliest at the top; then the lapsed; then the asks, follow-ups
    and thresholds coming due this week; and who said they would come to a meeting in the
    next two days. None when nobody is due soon, lapsed or to confirm."""
    due = owner_due(membership, now)
    if not (due.due_soon or due.lapsed or due.to_confirm):
        return None
    parts = []
    if due.due_soon:
        count = len(due.due_soon)
        parts.append(ngettext("%(count)s due soon", "%(count)s due soon", count) % {"count": count})
    if due.lapsed:
        count = len(due.lapsed)
        parts.append(ngettext("%(count)s lapsed", "%(count)s lapsed", count) % {"count": count})
    if due.to_confirm:
        count = len(due.to_confirm)
        parts.append(
            ngettext(
                "%(count)s to confirm for a meeting", "%(count)s to confirm for a meeting", count
            )
            % {"count": count}
        )
    sections = [
        {
            "heading": heading,
            "lapsed": section == "lapsed",
            "items": [
                {
                    "line": line,
                    "place": place_of(line.contact),
                    "url": absolute_url(reverse("contacts:detail", args=[line.contact.pk])),
                }
                for line in getattr(due, section)
            ],
        }
        for section, heading in OWNER_SECTIONS
        if getattr(due, section)
    ]
    context: dict[str, object] = {"sections": sections}
    subject = _("Doorstep: %(what)s") % {"what": and_(parts)}
    return _message(membership, subject, "owner_digest", context)


# The committee's daily list of the contacts who need an owner


@dataclass(frozen=True)
class Orphan:
    name: str
    level: str
    place: str
    url: str
    # Who owns them: an organizer who left or has gone quiet, or nobody.
    owner: str


def send_orphan_digests(*, now: dt.datetime | None = None) -> int:
    """Email every active committee member and admin the active contacts of their
    organization who need an owner (nobody owns them, or their owner left or has gone
    quiet), once a day, and only on a day there are any; return how many were sent. A
    member deactivated at 6 a.m. has their contacts in that morning's list: deactivation
    marks them at once, the hourly job the quiet ones. Due from settings.ORPHAN_DIGEST_AT;
    on a day with nobody to list then, the first run that finds someone sends it."""
    days = due_periods(now or timezone.now(), settings.ORPHAN_DIGEST_AT)
    if not days:
        return 0
    needing = Contact.objects.filter(needs_an_owner, organization_id=OuterRef("organization_id"))
    recipients = (
        Membership.objects.filter(
            Exists(needing),
            _due_and_not_done(DigestKind.COMMITTEE_DAILY, days),
            active=True,
            role__in=[Role.COMMITTEE, Role.ADMIN],
        )
        .exclude(user__email="")
        .select_related("user", "organization")
        .order_by("organization_id", "pk")
    )
    # Once per organization and language: the list is in its readers' words.
    lists: dict[tuple[int, str], list[Orphan]] = {}

    def compose(membership: Membership) -> EmailMultiAlternatives | None:
        organization = membership.organization
        key = (organization.pk, translation.get_language())
        if key not in lists:
            lists[key] = orphans_of(organization)
        orphans = lists[key]
        if not orphans:
            return None
        more = "+" if len(orphans) == ORPHANS_LISTED else ""
        subject = ngettext(
            "Doorstep: %(count)s contact needs an owner",
            "Doorstep: %(count)s contacts need an owner",
            len(orphans),
        ) % {"count": f"{len(orphans)}{more}"}
        return _message(
            membership,
            subject,
            "orphan_digest",
            {"orphans": orphans, "dashboard_url": absolute_url(reverse("committee:dashboard"))},
        )

    return sum(
        _send_once(
            membership,
            DigestKind.COMMITTEE_DAILY,
            days[membership.organization_id],
            partial(compose, membership),
        )
        for membership in recipients
    )


def orphans_of(organization: Organization) -> list[Orphan]:
    """The highest levels first: a leader without an owner is the lapse about to happen."""
    contacts = (
        Contact.objects.filter(needs_an_owner, organization=organization)
        .select_related("owner__membership", "unit__building")
        .order_by("-level", "name", "pk")[:ORPHANS_LISTED]
    )
    return [
        Orphan(
            name=contact.name,
            level=str(Level(contact.level).label),
            place=place_of(contact),
            url=absolute_url(reverse("contacts:detail", args=[contact.pk])),
            owner=owner_of(contact),
        )
        for contact in contacts
    ]


def owner_of(contact: Contact) -> str:
    if contact.owner is None:
        return _("nobody")
    membership = getattr(contact.owner, "membership", None)
    if membership is not None and membership.organization_id == contact.organization_id:
        if not membership.active:
            return membership.display_name
        return _("%(name)s, nothing recorded lately") % {"name": membership.display_name}
    return display_name(contact.owner)


# The committee's weekly digest


def send_committee_digests(*, now: dt.datetime | None = None) -> int:
    """Email every active committee member and admin their organization's lapse rate,
    escalations and orphaned count, once a week (the period is the Monday); return how
    many digests were sent. Due from settings.COMMITTEE_DIGEST_AT on Monday: one missed
    then goes on a later day of the week, with the figures of that day. Figures are
    computed once per organization, and only when someone there still needs them this
    week."""
    now = now or timezone.now()
    mondays = due_periods(now, settings.COMMITTEE_DIGEST_AT, due_week)
    if not mondays:
        return 0
    recipients = (
        Membership.objects.filter(
            _due_and_not_done(DigestKind.COMMITTEE_WEEKLY, mondays),
            active=True,
            role__in=[Role.COMMITTEE, Role.ADMIN],
        )
        .exclude(user__email="")
        .select_related("user", "organization")
        .order_by("organization_id", "pk")
    )
    # Once per organization and language: the figures name people and levels in words.
    figures: dict[tuple[int, str], tuple[CommitteeFigures, Pace]] = {}

    def compose(membership: Membership) -> EmailMultiAlternatives:
        organization = membership.organization
        monday = mondays[organization.pk]
        key = (organization.pk, translation.get_language())
        if key not in figures:
            # The organization's day, in its own time zone (compose runs in for_member).
            figures[key] = (
                committee_figures(organization, timezone.localdate(now)),
                pace_of(organization, now),
            )
        week, pace = figures[key]
        # "01 December" in English, "1 décembre" in French.
        day = date_format(monday, pgettext("the week of, in a subject", "d F"))
        subject = _("Doorstep: the week of %(day)s") % {"day": day}
        if pace.alarm:
            subject = _("Doorstep: conversations fell %(percent)s last week") % {
                "percent": percent(max(pace.fell, pace.committed_fell))
            }
        return _message(
            membership,
            subject,
            "committee_digest",
            {
                "figures": week,
                "pace": pace,
                "monday": monday,
                "dashboard_url": absolute_url(reverse("committee:dashboard")),
                "leaders_lapsing": [
                    {
                        "name": leader.name,
                        "owner": display_name(leader.owner) if leader.owner else _("nobody"),
                        "url": absolute_url(reverse("contacts:detail", args=[leader.pk])),
                    }
                    for leader in pace.leaders_lapsing
                ],
            },
        )

    sent = 0
    for membership in recipients:
        sent += _send_once(
            membership,
            DigestKind.COMMITTEE_WEEKLY,
            mondays[membership.organization_id],
            partial(compose, membership),
        )
    return sent


def committee_figures(organization: Organization, today: dt.date) -> CommitteeFigures:
    """The counts in one query, the escalations in another. The lapse rate counts active
    contacts who are not snoozed, as the hourly job does."""
    not_snoozed = Q(snoozed_until__isnull=True) | Q(snoozed_until__lt=today)
    active = Contact.objects.filter(organization=organization, status=Status.ACTIVE)
    counts = active.aggregate(
        counted=Count("pk", filter=not_snoozed),
        lapsed=Count("pk", filter=not_snoozed & Q(lapse_flag__in=LAPSED)),
        orphaned=Count("pk", filter=Q(orphaned=True)),
        escalated=Count("pk", filter=Q(lapse_flag=LapseFlag.ESCALATED)),
    )
    escalated = (
        active.filter(lapse_flag=LapseFlag.ESCALATED)
        .select_related("owner", "unit__building")
        .order_by("-level", "lapse_started_at", "name")[:ESCALATIONS_LISTED]
    )
    escalations = [
        Escalation(
            name=contact.name,
            level=str(Level(contact.level).label),
            owner=display_name(contact.owner) if contact.owner else _("nobody"),
            place=place_of(contact),
            url=absolute_url(reverse("contacts:detail", args=[contact.pk])),
            # An escalated contact's lapse is open (contact_open_lapse_agrees_with_flag).
            days_lapsed=(today - timezone.localdate(contact.lapse_started_at)).days,
        )
        for contact in escalated
    ]
    return CommitteeFigures(escalations=escalations, **counts)
