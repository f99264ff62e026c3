"""How close each contact is to being dropped, for the pages an organizer reads.

The hourly job (contacts.tasks) flags lapses for the whole organization in SQL; a page that
shows a few dozen contacts computes the same states here from one look-up of thresholds.
"""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.db import connection, models, transaction
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
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
from contacts.summary import take_summaries
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
# Where one run keeps the contacts whose state moved; dropped before the run ends.
CHANGES = "lapse_change"


@transaction.atomic
def flag_lapsed(*, now: dt.datetime | None = None) -> FlagCounts:
    """Mark who is due soon, lapsed, escalated and orphaned, for every organization, in SQL,
    then keep each organization's figures for the committee's dashboard (LapseSummary).

    Idempotent and safe to overlap: on PostgreSQL a second run waits for the first on an
    advisory lock, and the partial unique index on open episodes refuses a second open
    episode for a contact whatever happens. The loop is over organizations (each has its
    own thresholds), never over contacts.
    """
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FLAG_LAPSED_LOCK])
            # The EXISTS of each contact are costed as if run once a row, which they are
            # not (they run hashed); on that estimate JIT compilation would cost several
            # times what the statements take.
            cursor.execute("SET LOCAL jit = off")
            # The summary groups a few hundred rows that the planner, with no statistics
            # across the contacts' and the units' columns, takes for one a contact: with
            # room, it hashes them rather than sorting every contact on disk.
            cursor.execute("SET LOCAL work_mem = '64MB'")
    counts = FlagCounts()
    for organization in Organization.objects.order_by("pk"):
        _flag_organization(organization, now, counts)
    counts.due_soon = sum(summary.due_soon for summary in take_summaries(now))
    return counts


def _flag_organization(organization: Organization, now: dt.datetime, counts: FlagCounts) -> None:
    """1. Read every contact once and keep, in a temporary table, only those whose state
       moved: lapsed with no open episode, an open episode no longer lapsed or past the
       grace period, or a flag or orphan mark that is not what it should be. An hour
       usually moves a few contacts, so the writes below touch a few rows.
    2. Open an episode for each lapsed contact that has none open.
    3. Resolve the open episodes of contacts no longer lapsed (snoozed, answered, moved).
    4. Escalate episodes open longer than the grace period.
    5. Set each moved contact's flag (escalated, lapsed, due soon or OK) and orphan mark,
       unless a conversation was recorded meanwhile (record_visit has cleared it then)."""
    table, episode = Contact._meta.db_table, LapseEpisode._meta.db_table
    # Each state is worked out once a row behind the fence; PostgreSQL would otherwise
    # inline the subquery and run the EXISTS again for each test below.
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    today, thresholds = timezone.localdate(now), Thresholds.of(organization)
    select_sql, params = _states(organization, thresholds, now)
    escalate_before = now - dt.timedelta(days=organization.lapse_grace_days)
    flag = f"""
        CASE WHEN s.lapsed AND (s.episode_escalated IS NOT NULL
                                OR s.episode_started < %s) THEN '{LapseFlag.ESCALATED}'
             WHEN s.lapsed THEN '{LapseFlag.LAPSED}'
             WHEN s.counted AND s.due_at < %s THEN '{LapseFlag.DUE_SOON}'
             ELSE '{LapseFlag.OK}' END"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE {CHANGES} AS
            SELECT * FROM (
                SELECT s.*, {flag} AS flag FROM ({select_sql}{fence}) AS s
            ) AS s
            WHERE (s.lapsed AND s.episode IS NULL)
               OR (NOT s.lapsed AND s.episode IS NOT NULL)
               OR (s.flag = '{LapseFlag.ESCALATED}' AND s.episode_escalated IS NULL)
               OR s.flag <> s.lapse_flag
               OR s.orphan <> s.orphaned
            """,
            [moment(escalate_before), moment(now + thresholds.warning), *params],
        )
        if cursor.rowcount == 0:
            # Nothing moved, as in most hours: nothing to write.
            cursor.execute(f"DROP TABLE {CHANGES}")
            return
        # Why each new episode opened, looked up for those contacts only: the asks and
        # follow-ups of _overdue, in SQL.
        ask, follow_up = Ask._meta.db_table, FollowUp._meta.db_table
        cursor.execute(
            f"""
            INSERT INTO {episode} (organization_id, contact_id, started_at, reason, level)
            SELECT %s, s.id, %s,
                   CASE WHEN EXISTS (
                            SELECT 1 FROM {ask} AS a
                            WHERE a.contact_id = s.id AND a.answer = '{Answer.PENDING}'
                              AND a.due_on < %s
                        ) THEN '{LapseReason.ASK_OVERDUE}'
                        WHEN EXISTS (
                            SELECT 1 FROM {follow_up} AS f
                            WHERE f.contact_id = s.id AND f.done_by_id IS NULL
                              AND f.cancelled_at IS NULL AND f.planned_for < %s
                        ) THEN '{LapseReason.FOLLOW_UP_MISSED}'
                        WHEN s.last_conversation_at IS NULL THEN '{LapseReason.NEVER_TALKED}'
                        ELSE '{LapseReason.NO_CONVERSATION}' END,
                   s.level
            FROM {CHANGES} AS s
            WHERE s.lapsed AND s.episode IS NULL
            ON CONFLICT DO NOTHING
            """,
            [organization.pk, moment(now), day(today), day(today)],
        )
        counts.opened += cursor.rowcount
        if connection.vendor == "postgresql":
            # A temporary table has no statistics until it is analysed.
            cursor.execute(f"ANALYZE {CHANGES}")
        cursor.execute(
            f"""
            UPDATE {episode} SET resolved_at = %s
            FROM {CHANGES} AS s
            WHERE {episode}.id = s.episode AND NOT s.lapsed AND {episode}.resolved_at IS NULL
            """,
            [moment(now)],
        )
        counts.resolved += cursor.rowcount
        cursor.execute(
            f"""
            UPDATE {episode} SET escalated_at = %s
            FROM {CHANGES} AS s
            WHERE {episode}.id = s.episode AND s.flag = '{LapseFlag.ESCALATED}'
              AND {episode}.resolved_at IS NULL AND {episode}.escalated_at IS NULL
            """,
            [moment(now)],
        )
        counts.escalated += cursor.rowcount
        cursor.execute(f"SELECT count(*) FROM {CHANGES} AS s WHERE s.orphan AND NOT s.orphaned")
        counts.orphaned += cursor.fetchone()[0]
        cursor.execute(
            f"""
            UPDATE {table} SET lapse_flag = s.flag, orphaned = s.orphan
            FROM {CHANGES} AS s
            WHERE {table}.id = s.id
              AND {table}.last_conversation_at IS NOT DISTINCT FROM s.last_conversation_at
              AND ({table}.lapse_flag <> s.flag OR {table}.orphaned <> s.orphan)
            """
        )
        cursor.execute(f"DROP TABLE {CHANGES}")


def moment(value: dt.datetime) -> Any:
    """A time as the database stores it, for the statements written out here (SQLite
    compares times as text, in Django's format)."""
    return connection.ops.adapt_datetimefield_value(value)


def day(value: dt.date) -> Any:
    return connection.ops.adapt_datefield_value(value)


def _states(
    organization: Organization, thresholds: Thresholds, now: dt.datetime
) -> tuple[str, tuple[Any, ...]]:
    """Each contact of the organization with what decides its state: whether the job
    counts it, when it lapses by its clock (`due_at`), an overdue ask, a missed
    follow-up, its open episode, and whether it has an owner who is still around; as SQL
    and its parameters."""
    today = timezone.localdate(now)
    counted = Q(status=Status.ACTIVE) & (Q(snoozed_until__isnull=True) | Q(snoozed_until__lt=today))
    # Owners still around and still knocking: a short list, one query.
    window = now - dt.timedelta(days=organization.orphan_after_days)
    recorded = Exists(Visit.objects.filter(organizer=OuterRef("user_id"), happened_at__gte=window))
    present = list(
        Membership.objects.filter(organization=organization, active=True)
        .filter(Q(joined_at__gte=window) | Q(recorded))
        .values_list("user_id", flat=True)
    )
    orphan = Q(status=Status.ACTIVE)
    if present:
        orphan &= Q(owner__isnull=True) | ~Q(owner_id__in=present)

    overdue_asks, missed_follow_ups = _overdue(today)

    def boolean(condition: Q) -> ExpressionWrapper:
        return ExpressionWrapper(condition, output_field=BooleanField())

    states = (
        Contact.objects.filter(organization=organization)
        .alias(
            open_episode=FilteredRelation(
                "lapse_episodes",
                condition=Q(
                    lapse_episodes__resolved_at__isnull=True,
                    lapse_episodes__organization=organization,
                ),
            )
        )
        .annotate(due_at=thresholds.due_at_expression())
        .annotate(
            counted=boolean(counted),
            # Lapsed by the clock, or else by an ask or a follow-up: the lookups run only
            # for contacts the clock has not lapsed, as SQL stops at the first true OR.
            lapsed=boolean(
                counted
                & (Q(due_at__lt=now) | Q(Exists(overdue_asks)) | Q(Exists(missed_follow_ups)))
            ),
            orphan=boolean(orphan),
            episode=F("open_episode__id"),
            episode_started=F("open_episode__started_at"),
            episode_escalated=F("open_episode__escalated_at"),
        )
        .values(
            "id",
            "level",
            "last_conversation_at",
            "lapse_flag",
            "orphaned",
            "counted",
            "due_at",
            "lapsed",
            "orphan",
            "episode",
            "episode_started",
            "episode_escalated",
        )
        .order_by()
    )
    return states.query.sql_with_params()


def _overdue(today: dt.date) -> tuple[QuerySet[Ask], QuerySet[FollowUp]]:
    """A contact's asks past their date with no answer, and its follow-ups missed."""
    return (
        Ask.objects.filter(contact=OuterRef("pk"), answer=Answer.PENDING, due_on__lt=today),
        FollowUp.objects.open().filter(contact=OuterRef("pk"), planned_for__lt=today),
    )
