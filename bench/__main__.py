"""`make bench`: figures for the paths that must stay fast, as ratios to a baseline measured
in the same run (these machines are shared and noisy, so absolute times mean little).

It runs in a throwaway test database, created and dropped here, on the DATABASE_URL that
`make bench` provides (a temporary PostgreSQL unless one is given).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "organizing.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from bench import knocks  # noqa: E402

SUITES: list[Callable[[], list[tuple[str, list[float]]]]] = [knocks.run]


def summarize(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def main() -> None:
    print(f"database: {connection.vendor}")
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        for suite in SUITES:
            results = suite()
            baseline_median, _ = summarize(results[0][1])
            print(f"\n{suite.__module__}")
            print(f"  {'what':44} {'median ms':>10} {'p95 ms':>8} {'x baseline':>11}")
            for name, samples in results:
                median, p95 = summarize(samples)
                print(
                    f"  {name:44} {median * 1000:10.2f} {p95 * 1000:8.2f}"
                    f" {median / baseline_median:11.1f}"
                )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


if __name__ == "__main__":
    main()
