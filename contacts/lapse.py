"""How close each contact is to being dropped, for the pages an organizer reads.

The hourly job (contacts.tasks) flags lapses for the whole organization in SQL; a page that
shows a few dozen contacts computes the same states here from one look-up of thresholds.
"""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass
from functools import reduce

from django.db import connection, models, transaction
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts.models import (
    Answer,
    Ask,
    Contact,
    FollowUp,
    LapseEpisode,
    LapseFlag,
    LapseReason,
    LapseThreshold,
    Status,
    Visit,
)
from organizing.models import Membership, Organization


class LapseState(models.TextChoices):
    # Ordered from least to most urgent; `worst` relies on it.
    OK = "ok", "Within threshold"
    NEVER = "never", "Never talked"
    DUE_SOON = "due_soon", "Due soon"
    LAPSED = "lapsed", "Lapsed"


SEVERITY = {state: rank for rank, state in enumerate(LapseState)}


def worst(states: list[LapseState]) -> LapseState | None:
    return max(states, key=SEVERITY.__getitem__) if states else None


@dataclass(frozen=True)
class Thresholds:
    days_by_level: dict[int, int]
    warning: dt.timedelta

    @classmethod
    def of(cls, organization: Organization) -> Thresholds:
        days = dict(
            LapseThreshold.objects.filter(organization=organization).values_list("level", "days")
        )
        return cls(days_by_level=days, warning=dt.timedelta(days=organization.lapse_warning_days))

    def for_level(self, level: int) -> dt.timedelta:
        return dt.timedelta(days=self.days_by_level[level])

    def due_at(self, contact: Contact) -> dt.datetime:
        """When the contact lapses: the threshold after the last conversation or, with none
        yet, after they were added."""
        return (contact.last_conversation_at or contact.created_at) + self.for_level(contact.level)

    def state(self, contact: Contact, now: dt.datetime) -> LapseState:
        due_at = self.due_at(contact)
        if now > due_at:
            return LapseState.LAPSED
        if now > due_at - self.warning:
            return LapseState.DUE_SOON
        if contact.last_conversation_at is None:
            return LapseState.NEVER
        return LapseState.OK

    def due_at_expression(self) -> ExpressionWrapper:
        """`due_at` in SQL, to order contacts by how soon they lapse."""
        threshold = Case(
            *(
                When(level=level, then=Value(dt.timedelta(days=days)))
                for level, days in self.days_by_level.items()
            ),
            output_field=DurationField(),
        )
        return ExpressionWrapper(
            Coalesce(F("last_conversation_at"), F("created_at")) + threshold,
            output_field=DateTimeField(),
        )

    def _clock_started_between(
        self, now: dt.datetime, prefix: str, *, early: dt.timedelta | None, late: dt.timedelta
    ) -> Q:
        """Contacts whose clock (the last conversation or, with none, when they were added)
        started in [now - threshold + early, now - threshold + late), each level against its
        own threshold; no lower bound when `early` is None. `prefix` reaches contacts through
        a relation, as in "units__residents__". Written without negation so it stays a plain
        join inside aggregate filters."""
        last, created = f"{prefix}last_conversation_at", f"{prefix}created_at"

        def started(lo: dt.datetime | None, hi: dt.datetime) -> Q:
            by_talk = {f"{last}__lt": hi}
            by_creation = {f"{last}__isnull": True, f"{created}__lt": hi}
            if lo is not None:
                by_talk[f"{last}__gte"] = lo
                by_creation[f"{created}__gte"] = lo
            return Q(**by_talk) | Q(**by_creation)

        parts = []
        for level, days in self.days_by_level.items():
            cut = now - dt.timedelta(days=days)
            lower = cut + early if early is not None else None
            parts.append(Q(**{f"{prefix}level": level}) & started(lower, cut + late))
        return reduce(operator.or_, parts)

    def lapsed_q(self, now: dt.datetime, prefix: str = "") -> Q:
        return self._clock_started_between(now, prefix, early=None, late=dt.timedelta(0))

    def due_soon_q(self, now: dt.datetime, prefix: str = "") -> Q:
        return self._clock_started_between(now, prefix, early=dt.timedelta(0), late=self.warning)

    def due_within_q(self, now: dt.datetime, days: int, prefix: str = "") -> Q:
        """Lapsed already, or lapsing within the coming days."""
        return self._clock_started_between(now, prefix, early=None, late=dt.timedelta(days=days))


@dataclass
class FlagCounts:
    opened: int = 0
    resolved: int = 0
    escalated: int = 0
    due_soon: int = 0
    orphaned: int = 0


# Any constant: PostgreSQL serialises holders of the same advisory lock.
FLAG_LAPSED_LOCK = 0x1A95ED


@transaction.atomic
def flag_lapsed(*, now: dt.datetime | None = None) -> FlagCounts:
    """Mark who is due soon, lapsed, escalated and orphaned, for every organization, in SQL.

    Idempotent and safe to overlap: on PostgreSQL a second run waits for the first on an
    advisory lock, and the partial unique index on open episodes refuses a second open
    episode for a contact whatever happens. The loop is over organizations (each has its
    own thresholds), never over contacts.
    """
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FLAG_LAPSED_LOCK])
    counts = FlagCounts()
    for organization in Organization.objects.order_by("pk"):
        _flag_organization(organization, now, counts)
    return counts


def _flag_organization(organization: Organization, now: dt.datetime, counts: FlagCounts) -> None:
    """1. Open an episode for each counted contact that is lapsed and has none open.
    2. Resolve the open episodes of contacts no longer lapsed (snoozed, answered, moved).
    3. Escalate episodes open longer than the grace period.
    4. Set each contact's flag from its open episode, or due soon, or OK.
    5. Mark contacts whose owner left or has recorded nothing for the orphan window."""
    today = timezone.localdate(now)
    thresholds = Thresholds.of(organization)
    contacts = Contact.objects.filter(organization=organization)
    counted = contacts.filter(status=Status.ACTIVE).filter(
        Q(snoozed_until__isnull=True) | Q(snoozed_until__lt=today)
    )
    ask_overdue = Exists(
        Ask.objects.filter(contact=OuterRef("pk"), answer=Answer.PENDING, due_on__lt=today)
    )
    follow_up_missed = Exists(
        FollowUp.objects.open().filter(contact=OuterRef("pk"), planned_for__lt=today)
    )
    lapsed = counted.filter(thresholds.lapsed_q(now) | Q(ask_overdue) | Q(follow_up_missed))
    open_episode = LapseEpisode.objects.filter(contact=OuterRef("pk"), resolved_at__isnull=True)

    new_episodes = (
        lapsed.filter(~Exists(open_episode))
        .annotate(
            e_organization=F("organization_id"),
            e_contact=F("pk"),
            e_started=Value(now, output_field=DateTimeField()),
            e_reason=Case(
                When(ask_overdue, then=Value(LapseReason.ASK_OVERDUE)),
                When(follow_up_missed, then=Value(LapseReason.FOLLOW_UP_MISSED)),
                When(last_conversation_at__isnull=True, then=Value(LapseReason.NEVER_TALKED)),
                default=Value(LapseReason.NO_CONVERSATION),
                output_field=CharField(),
            ),
            e_level=F("level"),
        )
        .values_list("e_organization", "e_contact", "e_started", "e_reason", "e_level")
    )
    select_sql, params = new_episodes.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LapseEpisode._meta.db_table} "
            "(organization_id, contact_id, started_at, reason, level) "
            f"{select_sql} ON CONFLICT DO NOTHING",
            params,
        )
        counts.opened += cursor.rowcount

    episodes = LapseEpisode.objects.filter(organization=organization, resolved_at__isnull=True)
    counts.resolved += episodes.filter(~Exists(lapsed.filter(pk=OuterRef("contact_id")))).update(
        resolved_at=now
    )
    counts.escalated += episodes.filter(
        escalated_at__isnull=True,
        started_at__lt=now - dt.timedelta(days=organization.lapse_grace_days),
    ).update(escalated_at=now)

    escalated = open_episode.filter(escalated_at__isnull=False)
    contacts.filter(Exists(escalated)).exclude(lapse_flag=LapseFlag.ESCALATED).update(
        lapse_flag=LapseFlag.ESCALATED
    )
    contacts.filter(Exists(open_episode), ~Exists(escalated)).exclude(
        lapse_flag=LapseFlag.LAPSED
    ).update(lapse_flag=LapseFlag.LAPSED)
    due_soon = counted.filter(thresholds.due_soon_q(now), ~Exists(open_episode))
    due_soon.exclude(lapse_flag=LapseFlag.DUE_SOON).update(lapse_flag=LapseFlag.DUE_SOON)
    counts.due_soon += due_soon.count()
    contacts.exclude(lapse_flag=LapseFlag.OK).filter(~Exists(open_episode)).exclude(
        pk__in=due_soon.values("pk")
    ).update(lapse_flag=LapseFlag.OK)

    # Owners still around and still knocking: a short list, one query.
    window = now - dt.timedelta(days=organization.orphan_after_days)
    recorded = Exists(Visit.objects.filter(organizer=OuterRef("user_id"), happened_at__gte=window))
    present = list(
        Membership.objects.filter(organization=organization, active=True)
        .filter(Q(joined_at__gte=window) | Q(recorded))
        .values_list("user_id", flat=True)
    )
    orphan = Q(status=Status.ACTIVE) & (Q(owner__isnull=True) | ~Q(owner_id__in=present))
    counts.orphaned += contacts.filter(orphan).exclude(orphaned=True).update(orphaned=True)
    contacts.filter(orphaned=True).exclude(orphan).update(orphaned=False)
