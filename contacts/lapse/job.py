"""The hourly lapse job: who is due soon, lapsed, escalated and orphaned, for every
organization at once, in set-based SQL; and the figures the committee's dashboard reads."""

from __future__ import annotations

import datetime as dt
import logging
import operator
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Exists,
    OuterRef,
    Q,
)
from django.utils import timezone

from contacts.lapse import dialect
from contacts.lapse.dialect import db_date, db_time
from contacts.lapse.rule import Rules
from contacts.lapse.schedule import NOBODYS_FAULT, one_organization
from contacts.lapse.summary import PastWeeks, past_weeks, take_summaries
from contacts.models import (
    Answer,
    Ask,
    Contact,
    FollowUp,
    LapseEpisode,
    LapseFlag,
    LapseReason,
    Level,
    Status,
    Visit,
)
from organizing.i18n import local_to
from organizing.models import Membership, Organization

log = logging.getLogger(__name__)


@dataclass
class FlagCounts:
    opened: int = 0
    resolved: int = 0
    escalated: int = 0
    due_soon: int = 0
    orphaned: int = 0

    def add(self, other: FlagCounts) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


# The temporary tables of one run, all dropped before it ends: its counts by organization,
# building and owner, with the ids of their contacts whose state moved; those ids alone;
# and those contacts' new states.
COUNTS_TABLE = "lapse_counts"
MOVED_TABLE = "lapse_moved"
CHANGES_TABLE = "lapse_changes"
# What the pass counts for the dashboard (contacts.lapse.summary), in the order of its columns.
FIGURES = (
    "counted",
    "reached",
    "due_soon",
    "leaders",
    "leaders_reached",
    "owned",
    "lapsed",
    "orphaned",
    "asks_overdue",
)


@transaction.atomic
def flag_lapsed(*, now: dt.datetime | None = None) -> FlagCounts:
    """Mark who is due soon, lapsed, escalated and orphaned, for every organization, in SQL,
    and keep each organization's figures for the committee's dashboard (LapseSummary).

    A contact's lapse, while open, is on its own row with the flag (Contact.lapse_*):
    lapsed or escalated exactly while one is open, which the database checks
    (contact_open_lapse_agrees_with_flag). Whatever ends a lapse clears both in the same
    write (Contact.end_lapse: record_visit, snooze, erase), and keeps it as a LapseEpisode;
    so a contact's own row says what this job last decided, and the pass reads nothing
    else of the lapse.

    1. One pass over every contact of every organization (each with its own thresholds,
       joined in): the contact's state, counted by organization, building and owner for
       the dashboard, with the ids of the contacts whose state moved: a flag or an orphan
       mark that is not what it should be, a lapse past the grace period included. An
       hour moves those whose clock ran out in it, a few thousand of a million; the first
       run, a quarter of them.
    2. Those contacts' states again, with what the writes need, and the writes (see
       _write_changes).
    3. The dashboard's figures, from the pass's counts (contacts.lapse.summary), with the
       weekly lapse rate's past weeks as they stood before the writes.

    Idempotent and safe to overlap: a second run waits for the first (dialect.begin_job),
    and a contact has one row to hold its open lapse whatever happens. No loop over
    contacts, nor over organizations, unless the pass raises (a bad setting, a row a CHECK
    refuses): then each organization runs alone, in a savepoint of its own, so that the
    one at fault is logged and left as it was and the others are flagged all the same.
    A run that could not run at its hour is covered by the next: each works every
    contact's state out afresh from the clocks.
    """
    now = now or timezone.now()
    with connection.cursor() as cursor:
        dialect.begin_job(cursor)
    organizations = list(Organization.objects.order_by("pk"))
    past = past_weeks(now)
    try:
        with transaction.atomic():
            return _flag(organizations, now, past)
    except NOBODYS_FAULT:
        raise
    except Exception as error:
        log.warning(
            "The lapse run failed (%s); running each organization alone", type(error).__name__
        )
    counts = FlagCounts()
    for organization in organizations:
        with one_organization("The lapse run", organization.pk):
            alone = f"WHERE c.organization_id = {int(organization.pk)}"
            counts.add(_flag([organization], now, past, where=alone))
    return counts


def _flag(
    organizations: list[Organization], now: dt.datetime, past: PastWeeks, *, where: str = ""
) -> FlagCounts:
    """Steps 1 to 3 of flag_lapsed for these organizations, whose contacts `where` picks
    (all contacts when empty)."""
    counts = FlagCounts()
    groups: list[dict[str, Any]] = []
    if organizations:
        groups = _pass(_Cutoffs.of(organizations, now), counts, where)
    summaries = take_summaries(now, groups, past, organizations)
    counts.due_soon = sum(summary.due_soon for summary in summaries)
    return counts


@dataclass(frozen=True)
class _Cutoffs:
    """The rule (contacts.lapse.rule) turned into cut-offs for SQL: a WITH clause of each
    organization's, level by level, and of the owners still around, with its parameters.
    A contact is compared with them rather than having its threshold added to it:
    - lapse_before: a clock (the last conversation, or when the contact was added) at or
      before it has run out;
    - due_before: one at or before it is due soon (the lead time and a day before);
    - due_day: an ask or follow-up dated before it is due soon (its clock runs out at the
      start of the next day, at or before the moment due soon begins);
    - escalate_before: a lapse open since before it is past the grace period;
    - today: the organization's date, in its own time zone as its pages count it
      (organizing.i18n): a snooze holds through it, an ask or follow-up dated before it
      has run out."""

    with_sql: str
    params: tuple[Any, ...]
    # The latest due_day of any level: asks and follow-ups dated from it on change nothing.
    last_due_day: dt.date
    now: dt.datetime

    @classmethod
    def of(cls, organizations: list[Organization], now: dt.datetime) -> _Cutoffs:
        each = Rules.of_each(organizations)
        rules: list[Any] = []
        last_due_day = timezone.localdate(now)
        for organization in organizations:
            escalate_before = db_time(now - dt.timedelta(days=organization.lapse_grace_days))
            organization_rules = each[organization.pk]
            with local_to(organization):
                today = timezone.localdate(now)
                for level in organization_rules.days_by_level:
                    cut = now - organization_rules.threshold(level)
                    warning = organization_rules.warning(level)
                    due_day = timezone.localdate(now + warning)
                    last_due_day = max(last_due_day, due_day)
                    rules += [
                        organization.pk,
                        level,
                        db_time(cut),
                        db_time(cut + warning),
                        db_date(due_day),
                        escalate_before,
                        db_date(today),
                    ]
        # Each organization's members still around, (0, 0) standing for none.
        present: list[Any] = [0, 0]
        for member in present_members(organizations, now):
            present += member

        def values(params: list[Any], width: int) -> str:
            row = "(" + ", ".join(["%s"] * width) + ")"
            return ", ".join([row] * (len(params) // width))

        with_sql = f"""
            WITH threshold (organization_id, level, lapse_before, due_before, due_day,
                            escalate_before, today)
            AS (VALUES {values(rules, 7)}),
            present (organization_id, user_id) AS (VALUES {values(present, 2)})"""
        return cls(
            with_sql=with_sql,
            params=(*rules, *present),
            last_due_day=last_due_day,
            now=now,
        )


def present_members(organizations: list[Organization], now: dt.datetime) -> list[tuple[int, int]]:
    """(organization, user) of each member still around: active, and joined or recorded a
    visit within the organization's orphan window. An owner who is not orphans the
    contacts they own."""
    around = [
        Q(organization=organization)
        & (
            Q(joined_at__gte=since)
            | Exists(Visit.objects.filter(organizer=OuterRef("user"), happened_at__gte=since))
        )
        for organization in organizations
        for since in [now - dt.timedelta(days=organization.orphan_after_days)]
    ]
    members = Membership.objects.filter(reduce(operator.or_, around), active=True)
    return list(members.values_list("organization_id", "user_id"))


def _states(cutoffs: _Cutoffs, where: str = "") -> tuple[str, list[Any]]:
    """Each contact with what decides its state, and the state: `flag`, `lapsed`, `due`
    and `orphan`, with its asks past their date and its open lapse; as a SELECT whose rows
    are `s`, to follow cutoffs.with_sql, and its parameters. `where` narrows the contacts
    (`c`).

    The rule of contacts.lapse.rule: lapsed when a clock has run out (the threshold, the
    earliest unanswered ask's date, the earliest open follow-up's date), due soon when one
    runs out within the warning; only counted contacts are either.

    Read from the contact's own row (its building and its flag included, see flag_lapsed),
    with the cut-offs, each contact's earliest unanswered ask and open follow-up, and the
    owners still around hash-joined in: no subquery a row, so that PostgreSQL can share the
    pass over every contact among parallel workers."""
    contact, ask, follow_up = (m._meta.db_table for m in (Contact, Ask, FollowUp))
    flagged = f"('{LapseFlag.LAPSED}', '{LapseFlag.ESCALATED}')"
    active = f"c.status = '{Status.ACTIVE}'"
    counted = f"({active} AND (c.snoozed_until IS NULL OR c.snoozed_until < t.today))"
    clock = "coalesce(c.last_conversation_at, c.created_at)"
    # Lapsed also while a lapse is open that opened after the run's moment: the host's
    # clock went back. It stays open, rather than end now and open a second time later.
    sql = f"""
        SELECT s.*,
               CASE WHEN s.lapsed AND (s.lapse_flag = '{LapseFlag.ESCALATED}' OR s.past_grace)
                        THEN '{LapseFlag.ESCALATED}'
                    WHEN s.lapsed THEN '{LapseFlag.LAPSED}'
                    WHEN s.due THEN '{LapseFlag.DUE_SOON}'
                    ELSE '{LapseFlag.OK}' END AS flag,
               s.lapse_flag IN {flagged} AS lapse_open
        FROM (
            SELECT c.id, c.organization_id, c.building_id, c.owner_id, c.level,
                   c.last_conversation_at, c.updated_at, c.lapse_flag, c.orphaned,
                   c.lapse_started_at, c.lapse_reason, c.lapse_level, c.lapse_escalated_at,
                   c.lapse_started_at < t.escalate_before AS past_grace,
                   t.lapse_before,
                   {active} AS active,
                   {counted} AS counted,
                   {counted} AND (
                       coalesce({clock} <= t.lapse_before, false)
                       OR coalesce(a.first_due < t.today, false)
                       OR coalesce(f.first_on < t.today, false)
                       OR coalesce(c.lapse_started_at > %s, false)
                   ) AS lapsed,
                   {counted} AND (
                       coalesce({clock} <= t.due_before, false)
                       OR coalesce(a.first_due < t.due_day, false)
                       OR coalesce(f.first_on < t.due_day, false)
                   ) AS due,
                   {active} AND p.user_id IS NULL AS orphan,
                   coalesce(a.overdue, 0) AS asks_overdue,
                   coalesce(f.first_on < t.today, false) AS follow_up_missed
            FROM {contact} AS c
            LEFT JOIN threshold AS t
                ON t.organization_id = c.organization_id AND t.level = c.level
            LEFT JOIN (
                SELECT a.contact_id, min(a.due_on) AS first_due,
                       count(CASE WHEN a.due_on < d.today THEN 1 END) AS overdue
                FROM {ask} AS a
                JOIN {contact} AS ac ON ac.id = a.contact_id
                JOIN (SELECT DISTINCT organization_id, today FROM threshold) AS d
                    ON d.organization_id = ac.organization_id
                WHERE a.answer = '{Answer.PENDING}' AND a.due_on < %s
                GROUP BY a.contact_id
            ) AS a ON a.contact_id = c.id
            LEFT JOIN (
                SELECT f.contact_id, min(f.planned_for) AS first_on FROM {follow_up} AS f
                WHERE f.done_by_id IS NULL AND f.cancelled_at IS NULL AND f.planned_for < %s
                GROUP BY f.contact_id
            ) AS f ON f.contact_id = c.id
            LEFT JOIN present AS p
                ON p.organization_id = c.organization_id AND p.user_id = c.owner_id
            {where}
        ) AS s"""
    last = db_date(cutoffs.last_due_day)
    # In the order they appear: the lapse opened after the run's moment, then the asks and
    # the follow-ups read; every date is the organization's own (t.today).
    return sql, [db_time(cutoffs.now), last, last]


# A contact whose state moved since the last run, in terms of _states' columns: lapsed with
# no lapse open, a lapse open for a contact no longer lapsed, or past the grace period and
# not escalated, or a due-soon, OK or orphan mark that is not what it should be.
STATE_MOVED = "(s.flag <> s.lapse_flag OR s.orphan <> s.orphaned)"


def _pass(cutoffs: _Cutoffs, counts: FlagCounts, where: str) -> list[dict[str, Any]]:
    """1. Read every contact once: count the dashboard's figures by organization,
       building and owner, with the ids of each group's contacts that moved.
    2. If any moved, write their new states (_write_changes).
    3. Return the counts by organization, building and owner, for contacts.lapse.summary.
    `where` narrows the contacts, as in _states."""
    states, state_params = _states(cutoffs, where)
    with connection.cursor() as cursor:
        dialect.hash_not_sort(cursor, on=True)
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE {COUNTS_TABLE} AS
            {cutoffs.with_sql}
            SELECT s.organization_id, s.building_id, s.owner_id,
                   {dialect.gather_ids("s.id")} FILTER (WHERE {STATE_MOVED}) AS moved,
                   count(CASE WHEN s.counted THEN 1 END) AS counted,
                   count(CASE WHEN s.counted AND NOT s.lapsed
                                   AND s.last_conversation_at IS NOT NULL THEN 1 END) AS reached,
                   count(CASE WHEN s.due AND NOT s.lapsed THEN 1 END) AS due_soon,
                   count(CASE WHEN s.active AND s.level = {Level.LEADER} THEN 1 END) AS leaders,
                   count(CASE WHEN s.active AND s.level = {Level.LEADER}
                                   AND s.last_conversation_at > s.lapse_before THEN 1 END)
                       AS leaders_reached,
                   count(CASE WHEN s.active THEN 1 END) AS owned,
                   count(CASE WHEN s.lapsed THEN 1 END) AS lapsed,
                   count(CASE WHEN s.orphan THEN 1 END) AS orphaned,
                   sum(CASE WHEN s.active THEN s.asks_overdue ELSE 0 END) AS asks_overdue
            FROM ({states}) AS s
            GROUP BY s.organization_id, s.building_id, s.owner_id
            """,
            [*cutoffs.params, *state_params],
        )
        dialect.hash_not_sort(cursor, on=False)
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {COUNTS_TABLE} WHERE moved IS NOT NULL)")
        if cursor.fetchone()[0]:
            _write_changes(cutoffs, counts)
        sums = ", ".join(f"sum({name})" for name in FIGURES)
        cursor.execute(
            f"""
            SELECT organization_id, building_id, owner_id, {sums} FROM {COUNTS_TABLE}
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
        cursor.execute(f"DROP TABLE {COUNTS_TABLE}")
    return groups


def _write_changes(cutoffs: _Cutoffs, counts: FlagCounts) -> None:
    """1. Keep, in a temporary table, the states of the contacts that moved, worked out
       again for those contacts alone, found by the ids the pass kept, with the open
       lapse each should have: opened now, kept, escalated now, or none.
    2. Write each one's flag, open lapse and orphan mark, unless the contact was saved
       meanwhile (a conversation, a snooze, an erasure: each settles the flag and the
       lapse itself) or its flag moved; the next run looks at it again. The contacts are
       locked first, as record_visit locks them, and only those written go on.
    3. Keep the lapses that ended (snoozed, answered, moved) as episodes."""
    table, episode = Contact._meta.db_table, LapseEpisode._meta.db_table
    ids = dialect.each_id(COUNTS_TABLE, "moved")
    states, state_params = _states(cutoffs, f"WHERE c.id IN (SELECT id FROM {MOVED_TABLE})")
    write = f"""
        UPDATE {table} SET lapse_flag = s.flag, orphaned = s.orphan,
            lapse_started_at = s.started_at, lapse_reason = s.reason,
            lapse_level = s.at_level, lapse_escalated_at = s.escalated_at
        FROM {CHANGES_TABLE} AS s
        WHERE {table}.id = s.id
          AND {table}.updated_at = s.updated_at
          AND {table}.lapse_flag = s.lapse_flag
          AND {table}.orphaned = s.orphaned"""
    now = db_time(cutoffs.now)
    opens = "s.lapsed AND NOT s.lapse_open"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {MOVED_TABLE} AS {ids} WHERE p.moved IS NOT NULL")
        dialect.analyze(cursor, MOVED_TABLE)
        # A new lapse's reason: an ask past its date, else a follow-up missed, else the
        # clock.
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE {CHANGES_TABLE} AS
            {cutoffs.with_sql}
            SELECT s.*,
                   CASE WHEN {opens} THEN %s
                        WHEN s.lapsed THEN s.lapse_started_at END AS started_at,
                   CASE WHEN NOT s.lapsed THEN ''
                        WHEN s.lapse_open THEN s.lapse_reason
                        WHEN s.asks_overdue > 0 THEN '{LapseReason.ASK_OVERDUE}'
                        WHEN s.follow_up_missed THEN '{LapseReason.FOLLOW_UP_MISSED}'
                        WHEN s.last_conversation_at IS NULL THEN '{LapseReason.NEVER_TALKED}'
                        ELSE '{LapseReason.NO_CONVERSATION}' END AS reason,
                   CASE WHEN {opens} THEN s.level
                        WHEN s.lapsed THEN s.lapse_level END AS at_level,
                   CASE WHEN s.flag = '{LapseFlag.ESCALATED}'
                        THEN coalesce(s.lapse_escalated_at, %s) END AS escalated_at
            FROM ({states}) AS s WHERE {STATE_MOVED}
            """,
            [*cutoffs.params, now, now, *state_params],
        )
        dialect.analyze(cursor, CHANGES_TABLE)
        # The changes the write passed over go; all of them are written before the episodes.
        dialect.write_keeping_written(
            cursor,
            update=write,
            changes=CHANGES_TABLE,
            written=f"""
                SELECT 1 FROM {table} AS c
                WHERE c.id = {CHANGES_TABLE}.id AND c.lapse_flag = {CHANGES_TABLE}.flag
                  AND c.orphaned = {CHANGES_TABLE}.orphan
                  AND c.lapse_started_at IS {CHANGES_TABLE}.started_at""",
        )
        cursor.execute(
            f"""
            INSERT INTO {episode} (organization_id, contact_id, started_at, reason, level,
                                   escalated_at, resolved_at)
            SELECT s.organization_id, s.id, s.lapse_started_at, s.lapse_reason, s.lapse_level,
                   s.lapse_escalated_at, %s
            FROM {CHANGES_TABLE} AS s
            WHERE s.lapse_open AND NOT s.lapsed
            """,
            [now],
        )
        counts.resolved += cursor.rowcount
        cursor.execute(
            f"""
            SELECT count(CASE WHEN {opens} THEN 1 END),
                   count(CASE WHEN s.flag = '{LapseFlag.ESCALATED}'
                                   AND s.lapse_flag <> '{LapseFlag.ESCALATED}' THEN 1 END),
                   count(CASE WHEN s.orphan AND NOT s.orphaned THEN 1 END)
            FROM {CHANGES_TABLE} AS s
            """
        )
        opened, escalated, orphaned = cursor.fetchone()
        counts.opened += opened
        counts.escalated += escalated
        counts.orphaned += orphaned
        cursor.execute(f"DROP TABLE {CHANGES_TABLE}")
        cursor.execute(f"DROP TABLE {MOVED_TABLE}")
