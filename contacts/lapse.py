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
    Case,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from buildings.models import Unit
from contacts.models import (
    Answer,
    Ask,
    Contact,
    FollowUp,
    LapseEpisode,
    LapseFlag,
    LapseReason,
    LapseThreshold,
    Level,
    Status,
    Visit,
)
from contacts.summary import LEADERS_REACHED_WITHIN, take_summaries
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
# Where one run keeps its counts by organization, building and owner, with how many of
# their contacts moved; and those contacts' states. Both dropped before the run ends.
PASS = "lapse_pass"
CHANGES = "lapse_change"
# What the pass counts for the dashboard (contacts.summary), in the order of its columns.
FIGURES = (
    "counted",
    "reached",
    "due_soon",
    "leaders",
    "leaders_reached",
    "owned",
    "lapsed",
    "orphaned",
)


@transaction.atomic
def flag_lapsed(*, now: dt.datetime | None = None) -> FlagCounts:
    """Mark who is due soon, lapsed, escalated and orphaned, for every organization, in SQL,
    and keep each organization's figures for the committee's dashboard (LapseSummary).

    1. One pass over every contact of every organization (each with its own thresholds,
       joined in): the contact's state, counted by organization, building and owner for
       the dashboard, with the contacts whose state moved set apart: lapsed with no open
       episode, an open episode no longer lapsed or past the grace period, or a flag or
       orphan mark that is not what it should be. An hour usually moves a few contacts.
    2. Those contacts' states again, with what the writes need (see _write_changes).
    3. The dashboard's figures, from the pass's counts (contacts.summary).

    Idempotent and safe to overlap: on PostgreSQL a second run waits for the first on an
    advisory lock, and the partial unique index on open episodes refuses a second open
    episode for a contact whatever happens. No loop over contacts, nor over organizations.
    """
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FLAG_LAPSED_LOCK])
            # The EXISTS of each contact are costed as if run once a row, which they are
            # not (they run hashed); on that estimate JIT compilation would cost several
            # times what the statements take.
            cursor.execute("SET LOCAL jit = off")
            # The pass groups a few thousand rows that the planner, with no statistics
            # across the contacts' and the units' columns, takes for one a contact: with
            # room, it hashes them rather than sorting every contact on disk.
            cursor.execute("SET LOCAL work_mem = '64MB'")
    counts = FlagCounts()
    organizations = list(Organization.objects.order_by("pk"))
    groups: list[dict[str, Any]] = []
    if organizations:
        rules = _Rules.of(organizations, now)
        groups = _pass(rules, counts)
    summaries = take_summaries(now, groups)
    counts.due_soon = sum(summary.due_soon for summary in summaries)
    return counts


@dataclass(frozen=True)
class _Rules:
    """What decides the states, as SQL: a WITH clause of each organization's cut-offs and
    the owners still around, and its parameters. Each threshold is turned into the moment
    before which a clock lapses (and the one before which it is due soon), so that a
    contact is compared with two times rather than having its threshold added to it."""

    with_sql: str
    params: tuple[Any, ...]
    today: dt.date
    now: dt.datetime

    @classmethod
    def of(cls, organizations: list[Organization], now: dt.datetime) -> _Rules:
        days = {
            (organization, level): days
            for organization, level, days in LapseThreshold.objects.filter(
                organization__in=organizations
            ).values_list("organization_id", "level", "days")
        }
        # A row for every level of every organization, so that each contact finds its
        # organization's grace period; with no threshold for its level, it lapses only
        # by an ask or a follow-up, as Thresholds would have it.
        rules: list[Any] = []
        for organization in organizations:
            escalate_before = moment(now - dt.timedelta(days=organization.lapse_grace_days))
            for level in Level.values:
                lapse_before = due_before = None
                if (organization.pk, level) in days:
                    cut = now - dt.timedelta(days=days[organization.pk, level])
                    lapse_before = moment(cut)
                    due_before = moment(cut + dt.timedelta(days=organization.lapse_warning_days))
                rules += [organization.pk, level, lapse_before, due_before, escalate_before]
        windows: list[Any] = []
        for organization in organizations:
            windows += [
                organization.pk,
                moment(now - dt.timedelta(days=organization.orphan_after_days)),
            ]

        def values(params: list[Any], width: int) -> str:
            row = "(" + ", ".join(["%s"] * width) + ")"
            return ", ".join([row] * (len(params) // width))

        membership, visit = Membership._meta.db_table, Visit._meta.db_table
        with_sql = f"""
            WITH threshold (organization_id, level, lapse_before, due_before, escalate_before)
            AS (VALUES {values(rules, 5)}),
            activity (organization_id, active_since) AS (VALUES {values(windows, 2)}),
            present (organization_id, user_id) AS (
                SELECT m.organization_id, m.user_id
                FROM {membership} AS m
                JOIN activity AS w ON w.organization_id = m.organization_id
                WHERE m.active AND (
                    m.joined_at >= w.active_since
                    OR EXISTS (
                        SELECT 1 FROM {visit} AS v
                        WHERE v.organizer_id = m.user_id AND v.happened_at >= w.active_since
                    )
                )
            )"""
        return cls(
            with_sql=with_sql,
            params=(*rules, *windows),
            today=timezone.localdate(now),
            now=now,
        )


def _states(
    rules: _Rules, where: str = "", where_params: list[Any] | None = None
) -> tuple[str, list[Any]]:
    """Each contact with what decides its state, and the state: `flag`, `lapsed`, `due`
    and `orphan`; as a SELECT whose rows are `s`, to follow rules.with_sql, and its
    parameters. `where` narrows the contacts (`c`).

    Asks, follow-ups and owners are looked up in hashed subqueries rather than joined:
    a join carries every column of every contact through one more step, where a lookup
    is one probe, and the EXISTS of an ask or a follow-up runs only for contacts the
    clock has not lapsed, as SQL stops at the first true OR."""
    contact, unit, episode = (m._meta.db_table for m in (Contact, Unit, LapseEpisode))
    ask, follow_up = Ask._meta.db_table, FollowUp._meta.db_table
    # Each state is worked out once a row behind the fence; PostgreSQL would otherwise
    # inline the subquery and work it out again for each test of it.
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    active = f"c.status = '{Status.ACTIVE}'"
    counted = f"({active} AND (c.snoozed_until IS NULL OR c.snoozed_until < %s))"
    clock = "coalesce(c.last_conversation_at, c.created_at)"
    sql = f"""
        SELECT s.*,
               CASE WHEN s.lapsed AND (s.episode_escalated IS NOT NULL
                                       OR s.episode_started < s.escalate_before)
                        THEN '{LapseFlag.ESCALATED}'
                    WHEN s.lapsed THEN '{LapseFlag.LAPSED}'
                    WHEN s.due THEN '{LapseFlag.DUE_SOON}'
                    ELSE '{LapseFlag.OK}' END AS flag
        FROM (
            SELECT c.id, c.organization_id, u.building_id, c.owner_id, c.level,
                   c.last_conversation_at, c.lapse_flag, c.orphaned,
                   {active} AS active,
                   {counted} AS counted,
                   {counted} AND (
                       {clock} < t.lapse_before
                       OR EXISTS (
                           SELECT 1 FROM {ask} AS a
                           WHERE a.contact_id = c.id AND a.answer = '{Answer.PENDING}'
                             AND a.due_on < %s
                       )
                       OR EXISTS (
                           SELECT 1 FROM {follow_up} AS f
                           WHERE f.contact_id = c.id AND f.done_by_id IS NULL
                             AND f.cancelled_at IS NULL AND f.planned_for < %s
                       )
                   ) AS lapsed,
                   {counted} AND {clock} < t.due_before AS due,
                   {active} AND NOT coalesce(
                       (c.organization_id, c.owner_id) IN (SELECT * FROM present), false
                   ) AS orphan,
                   t.escalate_before,
                   e.id AS episode, e.started_at AS episode_started,
                   e.escalated_at AS episode_escalated
            FROM {contact} AS c
            LEFT JOIN threshold AS t
                ON t.organization_id = c.organization_id AND t.level = c.level
            LEFT JOIN {unit} AS u ON u.id = c.unit_id
            LEFT JOIN {episode} AS e
                ON e.contact_id = c.id AND e.resolved_at IS NULL
                AND e.organization_id = c.organization_id
            {where}{fence}
        ) AS s"""
    today = day(rules.today)
    # In the order they appear: counted, counted, the asks, the follow-ups, counted.
    return sql, [today, today, today, today, today, *(where_params or [])]


# A contact whose state moved since the last run, in terms of _states' columns.
MOVED = f"""(
    (s.lapsed AND s.episode IS NULL)
    OR (NOT s.lapsed AND s.episode IS NOT NULL)
    OR (s.flag = '{LapseFlag.ESCALATED}' AND s.episode_escalated IS NULL)
    OR s.flag <> s.lapse_flag
    OR s.orphan <> s.orphaned
)"""


def _pass(rules: _Rules, counts: FlagCounts) -> list[dict[str, Any]]:
    """1. Read every contact once: count the dashboard's figures by organization,
       building and owner, with how many of each group's contacts moved.
    2. If any moved, write their new states (_write_changes).
    3. Return the counts by organization, building and owner, for contacts.summary."""
    states, state_params = _states(rules)
    leaders_since = moment(rules.now - LEADERS_REACHED_WITHIN)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The planner, with no statistics across the contacts' and the units' columns,
            # takes the few thousand groups for one a contact, and would sort every
            # contact on disk rather than hash them.
            cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE {PASS} AS
            {rules.with_sql}
            SELECT s.organization_id, s.building_id, s.owner_id,
                   count(CASE WHEN {MOVED} THEN 1 END) AS moved,
                   count(CASE WHEN s.counted THEN 1 END) AS counted,
                   count(CASE WHEN s.counted AND NOT s.lapsed
                                   AND s.last_conversation_at IS NOT NULL THEN 1 END) AS reached,
                   count(CASE WHEN s.due AND NOT s.lapsed THEN 1 END) AS due_soon,
                   count(CASE WHEN s.active AND s.level = {Level.LEADER} THEN 1 END) AS leaders,
                   count(CASE WHEN s.active AND s.level = {Level.LEADER}
                                   AND s.last_conversation_at >= %s THEN 1 END)
                       AS leaders_reached,
                   count(CASE WHEN s.active THEN 1 END) AS owned,
                   count(CASE WHEN s.lapsed THEN 1 END) AS lapsed,
                   count(CASE WHEN s.orphan THEN 1 END) AS orphaned
            FROM ({states}) AS s
            GROUP BY s.organization_id, s.building_id, s.owner_id
            """,
            [*rules.params, leaders_since, *state_params],
        )
        if connection.vendor == "postgresql":
            cursor.execute("RESET enable_sort")
        cursor.execute(f"SELECT DISTINCT organization_id, owner_id FROM {PASS} WHERE moved > 0")
        moved = cursor.fetchall()
        if moved:
            _write_changes(rules, moved, counts)
        sums = ", ".join(f"sum({name})" for name in FIGURES)
        cursor.execute(
            f"""
            SELECT organization_id, building_id, owner_id, {sums} FROM {PASS}
            GROUP BY organization_id, building_id, owner_id
            """
        )
        groups = [
            {
                "organization_id": organization,
                "building_id": building,
                "owner_id": owner,
                **{name: int(value or 0) for name, value in zip(FIGURES, values, strict=True)},
            }
            for organization, building, owner, *values in cursor.fetchall()
        ]
        cursor.execute(f"DROP TABLE {PASS}")
    return groups


def _write_changes(rules: _Rules, moved: list[tuple[int, int | None]], counts: FlagCounts) -> None:
    """1. Keep, in a temporary table, the states of the contacts that moved, worked out
       again for the owners (or the organizations' contacts with no owner) among whose
       contacts the pass found some: read by owner, off an index, when few moved.
    2. Open an episode for each lapsed contact that has none open.
    3. Resolve the open episodes of contacts no longer lapsed (snoozed, answered, moved).
    4. Escalate episodes open longer than the grace period.
    5. Set each moved contact's flag (escalated, lapsed, due soon or OK) and orphan mark,
       unless a conversation was recorded meanwhile (record_visit has cleared it then)."""
    table, episode = Contact._meta.db_table, LapseEpisode._meta.db_table
    owners = sorted({owner for _, owner in moved if owner is not None})
    unowned = sorted({organization for organization, owner in moved if owner is None})
    among = []
    if owners:
        among.append(f"c.owner_id IN ({', '.join(['%s'] * len(owners))})")
    if unowned:
        among.append(
            f"(c.owner_id IS NULL AND c.organization_id IN ({', '.join(['%s'] * len(unowned))}))"
        )
    states, state_params = _states(rules, f"WHERE {' OR '.join(among)}", [*owners, *unowned])
    now = moment(rules.now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE {CHANGES} AS
            {rules.with_sql}
            SELECT * FROM ({states}) AS s WHERE {MOVED}
            """,
            [*rules.params, *state_params],
        )
        # Why each new episode opened, looked up for those contacts only: an ask past
        # its date, else a follow-up missed, else the clock.
        ask, follow_up = Ask._meta.db_table, FollowUp._meta.db_table
        cursor.execute(
            f"""
            INSERT INTO {episode} (organization_id, contact_id, started_at, reason, level)
            SELECT s.organization_id, s.id, %s,
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
            [now, day(rules.today), day(rules.today)],
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
            [now],
        )
        counts.resolved += cursor.rowcount
        cursor.execute(
            f"""
            UPDATE {episode} SET escalated_at = %s
            FROM {CHANGES} AS s
            WHERE {episode}.id = s.episode AND s.flag = '{LapseFlag.ESCALATED}'
              AND {episode}.resolved_at IS NULL AND {episode}.escalated_at IS NULL
            """,
            [now],
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
