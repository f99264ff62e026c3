"""The few places where the hourly job's SQL differs between PostgreSQL, which production and
the test suite run, and SQLite, which `make run` runs with nothing installed. The job
(contacts.lapse.job) writes the rest once for both; tests/lapse runs it on both engines.

Why SQLite stays for `make run`, not an embedded PostgreSQL: the README's "Why SQLite for
make run" gives the measurements.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper

# Any constant: PostgreSQL serialises holders of the same advisory lock.
FLAG_LAPSED_LOCK = 0x1A95ED


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def begin_job(cursor: CursorWrapper) -> None:
    """Take the job's lock and tune the transaction. On SQLite the transaction itself is
    the lock: it begins IMMEDIATE (see settings), so a second run waits for the first."""
    if not on_postgresql():
        return
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FLAG_LAPSED_LOCK])
    # The pass is costed far above what it takes: on that estimate JIT compilation would
    # cost more than it saves.
    cursor.execute("SET LOCAL jit = off")
    # The pass groups a few thousand rows that the planner, with no statistics across the
    # contacts' columns, takes for one a contact: with room, it hashes them rather than
    # sorting every contact on disk.
    cursor.execute("SET LOCAL work_mem = '64MB'")


def hash_not_sort(cursor: CursorWrapper, *, on: bool) -> None:
    """Around the pass: the planner, with no statistics across the contacts' columns, takes
    the few thousand groups for one a contact, and would sort every contact on disk rather
    than hash them."""
    if on_postgresql():
        cursor.execute("SET LOCAL enable_sort = off" if on else "RESET enable_sort")


def gather_ids(column: str) -> str:
    """An aggregate of ids, for a FILTER clause to follow. On PostgreSQL it is the
    parallel-safe `contact_ids` of the initial migration (array_agg can't share a pass
    among parallel workers before PostgreSQL 16); on SQLite a comma-separated text."""
    return f"contact_ids({column})" if on_postgresql() else f"group_concat({column})"


def each_id(table: str, column: str) -> str:
    """A SELECT of one `id` a row from what gather_ids made, for each row of `table`."""
    if on_postgresql():
        return f"SELECT unnest(p.{column}) AS id FROM {table} AS p"
    return f"SELECT j.value AS id FROM {table} AS p, json_each('[' || p.{column} || ']') AS j"


def analyze(cursor: CursorWrapper, table: str) -> None:
    """A temporary table has no statistics on PostgreSQL until it is analysed."""
    if on_postgresql():
        cursor.execute(f"ANALYZE {table}")


def write_keeping_written(
    cursor: CursorWrapper, *, update: str, changes: str, written: str
) -> None:
    """Run `update` (an UPDATE ... FROM `changes` AS s) and drop from `changes` the rows it
    did not write. PostgreSQL chains both in one statement by the ids the UPDATE returns;
    SQLite can't nest a write in a statement, so it looks each row up again, `written`
    being the condition, on the contact `c` and the change `changes`, of a row written."""
    if on_postgresql():
        cursor.execute(
            f"""
            WITH written AS ({update} RETURNING s.id)
            DELETE FROM {changes}
            WHERE NOT EXISTS (SELECT 1 FROM written WHERE written.id = {changes}.id)
            """
        )
        return
    cursor.execute(update)
    cursor.execute(f"DELETE FROM {changes} WHERE NOT EXISTS ({written})")


def db_time(value: dt.datetime) -> Any:
    """A time as the database stores it, for the statements written out by hand (SQLite
    compares times as text, in Django's format)."""
    return connection.ops.adapt_datetimefield_value(value)


def db_date(value: dt.date) -> Any:
    return connection.ops.adapt_datefield_value(value)
