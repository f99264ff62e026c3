"""`make bench`: importing 10,000 residents from a CSV file, against issue 5's targets of
15 seconds and 200 MB.

1. Time: the preview (the dry run the admin sees) and the import (planned again under the
   lock, then written), of a file of 50 buildings, 5,000 units and 10,000 residents.
2. Memory: the same file imported into a second organization under tracemalloc, which
   counts what Python allocates (the file, the rows, the planned objects), and the growth
   of the process's peak resident set, which also counts the database driver. tracemalloc
   slows Python down, so it is not on while the time is measured.

`run()` prints its table and returns the figures as (what, value, unit). On its own:
`scripts/with-services.sh .venv/bin/python -m bench.imports` (a throwaway test database).
"""

from __future__ import annotations

import resource
import time
import tracemalloc

RESIDENTS = 10_000
TARGET_SECONDS = 15.0
TARGET_MB = 200.0
MB = 1024 * 1024


def sample_csv(*, buildings: int = 50, floors: int = 10, per_floor: int = 10) -> bytes:
    """Two residents to a door, with a phone and a language, as an admin's sheet would be:
    languages written as codes, English names and their own names, one in six Chinese."""
    languages = ("中文", "es", "Soomaali", "Tagalog", "yue", "English")
    lines = ["building,address,unit,floor,name,phone,language"]
    for b in range(buildings):
        for floor in range(1, floors + 1):
            for door in range(1, per_floor + 1):
                for resident in ("A", "B"):
                    address = (
                        f"{b + 1} Bench Street" if floor == door == 1 and resident == "A" else ""
                    )
                    lines.append(
                        f"Bench Block {b},{address},{floor}{door:02d},{floor},"
                        f"Resident {resident} of {floor}{door:02d},555 010 {b:04d},"
                        f"{languages[len(lines) % len(languages)]}"
                    )
    return ("\n".join(lines) + "\n").encode()


def run() -> list[tuple[str, float, str]]:
    # Imported here: Django is set up by bench.__main__, or by main() below.
    from django.contrib.auth.models import User

    from contacts.models import Contact
    from contacts.setup.imports import import_residents, plan_import
    from organizing.models import Membership, Organization, Role

    def admin_of(slug: str) -> Membership:
        organization = Organization.objects.create(name=slug, slug=slug)
        user = User.objects.create_user(f"{slug}-admin")
        return Membership.objects.create(user=user, organization=organization, role=Role.ADMIN)

    data = sample_csv()
    actor = admin_of("bench-imports")
    started = time.perf_counter()
    preview = plan_import(organization=actor.organization, data=data)
    previewed = time.perf_counter()
    plan = import_residents(actor=actor, data=data, expected=preview.fingerprint)
    imported = time.perf_counter()
    assert plan.saved and not plan.errors
    assert Contact.objects.filter(organization=actor.organization).count() == RESIDENTS

    second = admin_of("bench-imports-memory")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    plan_import(organization=second.organization, data=data)
    import_residents(actor=second, data=data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before  # KiB on Linux

    figures = [
        ("preview (dry run)", previewed - started, "s"),
        ("import (planned again, then written)", imported - previewed, "s"),
        ("preview and import", imported - started, "s"),
        ("peak Python memory (tracemalloc)", peak / MB, "MB"),
        ("growth of the process's peak RSS", rss_growth / 1024, "MB"),
    ]
    print(f"\nbench.imports: {RESIDENTS:,} residents, {len(data) / MB:.1f} MB of CSV")
    print(f"  {'what':44} {'value':>10}  target")
    for what, value, unit in figures:
        target = TARGET_SECONDS if unit == "s" else TARGET_MB
        verdict = "ok" if value < target else "OVER"
        print(f"  {what:44} {value:8.2f} {unit:2}  < {target:g} {unit} {verdict}")
    return figures


def main() -> None:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "organizing.settings")
    import django

    django.setup()
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
