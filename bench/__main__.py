"""`make bench`: figures for the paths that must stay fast, as ratios to a baseline measured
in the same run (these machines are shared and noisy, so absolute times mean little).

It runs in a throwaway test database, created and dropped here, on the DATABASE_URL that
`make bench` provides (a temporary PostgreSQL unless one is given).

A suite returns its figures as (name, samples) pairs, the first being the baseline; or, to
report more than one table, Table objects: rows that may each name their own baseline and
carry a query count, and notes printed under the table (targets, sizes, bytes). Anything
else it returns (bench.imports' (what, value, unit) figures) it has printed itself.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "organizing.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from bench import imports, knocks, languages, lapses, meetings, organizer, served  # noqa: E402


@dataclass
class Row:
    name: str
    samples: list[float]
    # The name of the row this one is a ratio to; the table's first row when None.
    baseline: str | None = None
    queries: int | None = None


@dataclass
class Table:
    title: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)


Results = Sequence[tuple[str, list[float]]] | Sequence[Table] | Sequence[tuple[object, ...]]

SUITES: dict[str, Callable[[], Results]] = {
    "knocks": knocks.run,
    "organizer": organizer.run,
    "first_load": organizer.first_load,
    "imports": imports.run,
    "lapses": lapses.run,
    "meetings": meetings.run,
    "served": served.run,
    "languages": languages.run,
}


def summarize(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def tables(suite: Callable[[], Results]) -> list[Table]:
    results = suite()
    # Tables made by a suite come from bench.__main__, not from this __main__ module, so
    # they are told apart by shape, not by class.
    pairs = [
        (name, samples)
        for name, samples in (r for r in results if isinstance(r, tuple) and len(r) == 2)
        if isinstance(name, str) and isinstance(samples, list)
    ]
    if results and len(pairs) == len(results):
        return [Table(suite.__module__, [Row(name, samples) for name, samples in pairs])]
    return [table for table in results if not isinstance(table, tuple)]


def print_table(table: Table) -> None:
    medians = {row.name: summarize(row.samples)[0] for row in table.rows}
    with_queries = any(row.queries is not None for row in table.rows)
    print(f"\n{table.title}")
    if not table.rows:
        for note in table.notes:
            print(f"  {note}")
        return
    header = f"  {'what':44} {'median ms':>10} {'p95 ms':>8} {'x baseline':>11}"
    print(header + (f" {'queries':>8}" if with_queries else ""))
    for row in table.rows:
        median, p95 = summarize(row.samples)
        baseline = medians[row.baseline or table.rows[0].name]
        line = f"  {row.name:44} {median * 1000:10.2f} {p95 * 1000:8.2f} {median / baseline:11.1f}"
        if with_queries:
            line += f" {'' if row.queries is None else row.queries:>8}"
        print(line)
    for note in table.notes:
        print(f"  {note}")


def main() -> None:
    print(f"database: {connection.vendor}")
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        for suite in chosen():
            for table in tables(suite):
                print_table(table)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def chosen() -> list[Callable[[], Results]]:
    """Every suite, or those named in BENCH_SUITES (comma-separated: knocks,lapses)."""
    names = [n.strip() for n in os.environ.get("BENCH_SUITES", "").split(",") if n.strip()]
    unknown = sorted(set(names) - set(SUITES))
    if unknown:
        known = ", ".join(SUITES)
        raise SystemExit(f"BENCH_SUITES: no suite {', '.join(unknown)}; there are {known}")
    return [SUITES[n] for n in names] if names else list(SUITES.values())


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


if __name__ == "__main__":
    main()
