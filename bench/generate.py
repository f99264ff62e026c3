"""An organization of any size, made fast, for the benchmarks.

    generate("Bench Union", buildings=100, floors=10, units_per_floor=10,
             contacts=20_000, visits=500_000, organizers=20)

1. The organization and its organizers (users and memberships), and the buildings, each on
   the turf of one organizer, round robin: bulk_create, as they are few.
2. The units, the residents and the visits, each in one INSERT ... SELECT over
   generate_series, as they are many: bulk_create spends about 0.3 ms of Python on each
   contact, which at a million contacts is minutes. Each INSERT names every column of the
   model: those it does not draw get what a new instance would hold, so a field added to the
   models later (with a default) does not break it.
   - Units: every floor of every building, doors "101", "102"...
   - Residents: spread evenly over the units, owned by the organizer of their building, at a
     mix of levels, all active, known since before the first visit.
   - Visits: spread evenly over the residents, at their doors, by their owners, over the
     last six months; mostly "not home" and conversations, some by phone. Only outcomes that
     leave a contact active and in place are drawn (no "moved out", no "do not contact"), so
     the residents stay as record_visit would have left them.
   The foreign key checks are skipped where the database role allows (see _inserting).
   Rows go in block by block, as the nested loop over the materialised CTE yields them (a
   unit's residents, then a contact's visits, get neighbouring ids), so most indexes grow at
   their end rather than at random: that keeps 20 million visits to minutes.
3. The clocks record_visit keeps (a contact's last attempt, last conversation and attempts
   since; a unit's last attempt and last conversation) set from the visits with UPDATE ...
   FROM (SELECT ... GROUP BY).
4. VACUUM ANALYZE (ANALYZE alone inside a transaction), as autovacuum would have done.

What is drawn at random is a hash of the row's number, so the same arguments make the same
data. Visit keys are "gen-" and the visit's number, unique in the organization.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connection, models, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django.utils.text import slugify

from buildings.models import Building, Turf, Unit
from contacts.models import Channel, Contact, Level, Outcome, Visit
from organizing.models import Membership, Organization, Role

BATCH = 5_000
HISTORY = dt.timedelta(days=180)
# Residents were added before any visit to them.
KNOWN_SINCE = dt.timedelta(days=200)
# Upper bounds, in per cent of contacts, of each level: most are new or contacts, few lead.
LEVEL_MIX = [
    (Level.NEW, 40),
    (Level.CONTACT, 70),
    (Level.SUPPORTER, 87),
    (Level.ACTIVE, 96),
    (Level.LEADER, 100),
]
# Upper bounds, in per mille of visits, of each outcome.
OUTCOME_MIX = [
    (Outcome.NOT_HOME, 550),
    (Outcome.CONVERSATION, 900),
    (Outcome.COME_BACK, 970),
    (Outcome.REFUSED, 1000),
]
PHONE_PER_MILLE = 80


@dataclass(frozen=True)
class Generated:
    organization: Organization
    members: list[Membership]
    buildings: int
    units: int
    contacts: int
    visits: int
    seconds: float

    def __str__(self) -> str:
        counts = [
            (self.buildings, "building"),
            (self.units, "unit"),
            (self.contacts, "contact"),
            (self.visits, "visit"),
            (len(self.members), "organizer"),
        ]
        return ", ".join(f"{n:,} {noun}{'' if n == 1 else 's'}" for n, noun in counts)


def generate(
    organization_name: str,
    *,
    buildings: int,
    floors: int,
    units_per_floor: int,
    contacts: int,
    visits: int,
    organizers: int,
) -> Generated:
    if min(buildings, floors, units_per_floor, organizers) < 1 or min(contacts, visits) < 0:
        raise ValueError("Sizes must be positive, and counts of rows not negative.")
    if visits and not contacts:
        raise ValueError("Visits need contacts to visit.")
    started = time.perf_counter()
    now = timezone.now()
    organization = Organization.objects.create(
        name=organization_name, slug=slugify(organization_name)[:50]
    )
    members = _organizers(organization, organizers)
    _buildings(organization, members, buildings, floors)
    units = _units(organization, floors, units_per_floor)
    _contacts(organization, units, contacts, now)
    # Fresh statistics, and the end of plans cached in this session while the tables were
    # small: the foreign key checks of each visit inserted below would otherwise go on
    # scanning the whole contacts table, one visit at a time, if an earlier query of this
    # connection had planned them on a small one (a 15 s insert becomes 6 minutes).
    _analyze(vacuum=False)
    _visits(organization, contacts, visits, now)
    # Without statistics on the new visits the UPDATEs below would join them row by row.
    _analyze(vacuum=False)
    _set_clocks(organization)
    _analyze()
    return Generated(
        organization=organization,
        members=members,
        buildings=buildings,
        units=units,
        contacts=contacts,
        visits=visits,
        seconds=time.perf_counter() - started,
    )


def _organizers(organization: Organization, count: int) -> list[Membership]:
    User = get_user_model()
    unusable = make_password(None)
    users = User.objects.bulk_create(
        (
            User(
                username=f"{organization.slug}-{n:04d}"[:150],
                first_name=f"Organizer {n}",
                password=unusable,
            )
            for n in range(1, count + 1)
        ),
        batch_size=BATCH,
    )
    return Membership.objects.bulk_create(
        (Membership(user=user, organization=organization, role=Role.ORGANIZER) for user in users),
        batch_size=BATCH,
    )


def _buildings(
    organization: Organization, members: list[Membership], count: int, floors: int
) -> None:
    buildings = Building.objects.bulk_create(
        (
            Building(
                organization=organization,
                name=f"{organization.name} {n:05d}",
                street_address=f"{n} Generated Avenue",
                floors=floors,
            )
            for n in range(1, count + 1)
        ),
        batch_size=BATCH,
    )
    Turf.objects.bulk_create(
        (
            Turf(building=building, organizer_id=members[n % len(members)].user_id)
            for n, building in enumerate(buildings)
        ),
        batch_size=BATCH,
    )


def _units(organization: Organization, floors: int, units_per_floor: int) -> int:
    """Every door of every building, building by building, bottom floor up."""
    width = max(2, len(str(units_per_floor)))
    columns, values, params = _row_sql(
        Unit,
        {
            "building": "b.id",
            "floor": "f",
            "label": f"f::text || lpad(d::text, {width}, '0')",
        },
    )
    params |= {
        "organization": organization.pk,
        "floors": floors,
        "doors": units_per_floor,
    }
    with _inserting() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Unit._meta.db_table} ({columns})
            SELECT {values}
            FROM {Building._meta.db_table} AS b
            CROSS JOIN generate_series(1, %(floors)s) AS f
            CROSS JOIN generate_series(1, %(doors)s) AS d
            WHERE b.organization_id = %(organization)s
            ORDER BY b.id, f, d
            """,
            params,
        )
        return cursor.rowcount


def _contacts(organization: Organization, units: int, count: int, now: dt.datetime) -> None:
    """Contact r (from 0) lives in unit r * units // count, in id order: units' residents are
    neighbours in id, and each unit has count / units of them, give or take one."""
    if not count:
        return
    level = " ".join(f"WHEN r.level < {bound} THEN {value}" for value, bound in LEVEL_MIX)
    columns, values, params = _row_sql(
        Contact,
        {
            "organization": "%(organization)s",
            "unit": "u.id",
            "building": "u.building_id",
            "owner": "u.owner_id",
            "name": "'Resident ' || (n + 1)",
            "level": f"CASE {level} END",
            "created_at": "%(known_since)s",
        },
    )
    params |= {
        "organization": organization.pk,
        "units": units,
        "count": count,
        "known_since": now - KNOWN_SINCE,
    }
    with _inserting() as cursor:
        cursor.execute(
            f"""
            WITH u AS MATERIALIZED (
                SELECT unit.id, unit.building_id, turf.organizer_id AS owner_id,
                       row_number() OVER (ORDER BY unit.id) - 1 AS rank
                FROM {Unit._meta.db_table} AS unit
                JOIN {Building._meta.db_table} AS building ON building.id = unit.building_id
                JOIN {Turf._meta.db_table} AS turf ON turf.building_id = building.id
                WHERE building.organization_id = %(organization)s
            )
            INSERT INTO {Contact._meta.db_table} ({columns})
            SELECT {values}
            FROM u
            CROSS JOIN LATERAL generate_series(
                {_first("u.rank", "%(count)s", "%(units)s")},
                {_first("u.rank + 1", "%(count)s", "%(units)s")} - 1
            ) AS n
            CROSS JOIN LATERAL (SELECT (hashint8extended(n, 4) & 2147483647) %% 100 AS level) r
            """,
            params,
        )


def _visits(organization: Organization, contacts: int, count: int, now: dt.datetime) -> None:
    """Visit n (from 0) is to contact n * contacts // count, in id order, at a moment and
    with an outcome drawn from n."""
    if not count:
        return
    outcome = " ".join(f"WHEN r.outcome < {bound} THEN '{value}'" for value, bound in OUTCOME_MIX)
    columns, values, params = _row_sql(
        Visit,
        {
            "organization": "%(organization)s",
            "contact": "c.id",
            "unit": "c.unit_id",
            "organizer": "c.owner_id",
            "channel": f"CASE WHEN r.channel < {PHONE_PER_MILLE} THEN '{Channel.PHONE}' "
            f"ELSE '{Channel.DOOR}' END",
            "outcome": f"CASE {outcome} END",
            "happened_at": "r.happened_at",
            "recorded_at": "r.happened_at",
            "idempotency_key": "'gen-' || lpad(n::text, 10, '0')",
        },
    )
    params |= {
        "organization": organization.pk,
        "contacts": contacts,
        "count": count,
        "now": now,
        "history": HISTORY.total_seconds(),
    }
    with _inserting() as cursor:
        cursor.execute(
            f"""
            WITH c AS MATERIALIZED (
                SELECT id, unit_id, owner_id, row_number() OVER (ORDER BY id) - 1 AS rank
                FROM {Contact._meta.db_table}
                WHERE organization_id = %(organization)s
            )
            INSERT INTO {Visit._meta.db_table} ({columns})
            SELECT {values}
            FROM c
            CROSS JOIN LATERAL generate_series(
                {_first("c.rank", "%(count)s", "%(contacts)s")},
                {_first("c.rank + 1", "%(count)s", "%(contacts)s")} - 1
            ) AS n
            CROSS JOIN LATERAL (
                SELECT
                    %(now)s::timestamptz - make_interval(
                        secs => %(history)s::float8 * (hashint8extended(n, 1) & 1048575)
                            / 1048576.0
                    ) AS happened_at,
                    (hashint8extended(n, 2) & 2147483647) %% 1000 AS outcome,
                    (hashint8extended(n, 3) & 2147483647) %% 1000 AS channel
            ) AS r
            """,
            params,
        )


@contextmanager
def _inserting() -> Iterator[CursorWrapper]:
    """A cursor in a transaction that skips the foreign key checks where the database role
    may (a superuser, such as the throwaway server of `make bench`): every id inserted is
    read from the organization's own rows in the same statement, so the checks, one per
    key per row, only repeat what the joins guarantee, and take two thirds of the time of
    inserting visits. Elsewhere the checks run."""
    with transaction.atomic(), connection.cursor() as cursor:
        try:
            with transaction.atomic():
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            pass
        yield cursor


def _first(rank: str, rows: str, groups: str) -> str:
    """SQL for the number of the first row of group `rank` when `rows` rows are dealt out
    in order over `groups` groups: row n goes to group n * groups // rows, so group k starts
    at ceil(k * rows / groups)."""
    return f"(({rank})::bigint * {rows} + {groups} - 1) / {groups}"


def _row_sql(model: type[models.Model], given: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
    """The column list and SELECT list of an INSERT into model's table: the SQL given by
    field name, and for every other field what a new instance would hold, as a parameter."""
    columns: list[str] = []
    values: list[str] = []
    params: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        column = field.column
        if field.primary_key or column is None:
            continue
        columns.append(connection.ops.quote_name(column))
        if field.name in given:
            values.append(given[field.name])
            continue
        # The default, "" for text, None otherwise; auto_now fields are set on save.
        value = field.get_default()
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = timezone.now()
        params[f"default_{column}"] = field.get_db_prep_save(value, connection)
        values.append(f"%(default_{column})s")
    return ", ".join(columns), ", ".join(values), params


def _set_clocks(organization: Organization) -> None:
    """What record_visit keeps up to date, set from all of the organization's visits."""
    contact, unit, visit = Contact._meta.db_table, Unit._meta.db_table, Visit._meta.db_table
    params: dict[str, Any] = {
        "organization": organization.pk,
        "conversation": Outcome.CONVERSATION.value,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # Whole tables joined to whole tables: hash joins, whatever the statistics say (a
        # role that does not own the tables can't ANALYZE them, and a nested loop over
        # visits misjudged as few takes minutes).
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(
            f"""
            UPDATE {contact} AS contact
            SET last_attempt_at = s.last_attempt_at,
                last_conversation_at = s.last_conversation_at,
                attempts_since_conversation = s.attempts
            FROM (
                SELECT v.contact_id,
                       max(v.happened_at) AS last_attempt_at,
                       talked.last_conversation_at,
                       count(*) FILTER (
                           WHERE v.outcome <> %(conversation)s
                           AND (talked.last_conversation_at IS NULL
                                OR v.happened_at > talked.last_conversation_at)
                       ) AS attempts
                FROM {visit} AS v
                JOIN (
                    SELECT contact_id,
                           max(happened_at) FILTER (WHERE outcome = %(conversation)s)
                               AS last_conversation_at
                    FROM {visit}
                    WHERE organization_id = %(organization)s AND contact_id IS NOT NULL
                    GROUP BY contact_id
                ) AS talked USING (contact_id)
                WHERE v.organization_id = %(organization)s
                GROUP BY v.contact_id, talked.last_conversation_at
            ) AS s
            WHERE contact.id = s.contact_id
            """,
            params,
        )
        cursor.execute(
            f"""
            UPDATE {unit} AS unit
            SET last_attempt_at = s.last_attempt_at,
                last_conversation_at = s.last_conversation_at
            FROM (
                SELECT unit_id,
                       max(happened_at) AS last_attempt_at,
                       max(happened_at) FILTER (WHERE outcome = %(conversation)s)
                           AS last_conversation_at
                FROM {visit}
                WHERE organization_id = %(organization)s AND unit_id IS NOT NULL
                GROUP BY unit_id
            ) AS s
            WHERE unit.id = s.unit_id
            """,
            params,
        )


def _analyze(*, vacuum: bool = True) -> None:
    """ANALYZE the tables written; with vacuum, VACUUM them too, so that index-only scans
    find the visibility map set, as they would in a database autovacuum looks after. VACUUM
    can't run inside a transaction: there, ANALYZE alone."""
    tables = [
        model._meta.db_table
        for model in (Building, Turf, Unit, Contact, Visit, Membership, get_user_model())
    ]
    command = "VACUUM (ANALYZE)" if vacuum and not connection.in_atomic_block else "ANALYZE"
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"{command} {connection.ops.quote_name(table)}")
