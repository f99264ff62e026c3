"""`make run` runs the hourly job on SQLite, where a few of its statements are written apart
(contacts.lapse.dialect). The rest of the suite runs on PostgreSQL, so this runs the demo's
job in a SQLite database of its own, in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in the child: the demo, then the job four times, with what a user would see after
# each. Prints one JSON object.
SCRIPT = """
import json, django
django.setup()
from django.core.management import call_command
from django.db import connection
from contacts.lapse.job import flag_lapsed
from contacts.models import Contact, LapseEpisode, LapseFlag, Status

call_command("migrate", verbosity=0)
call_command("seed_demo", verbosity=0)
flagged = (LapseFlag.LAPSED, LapseFlag.ESCALATED)
# The seed plays the job through the demo's history; start again from a database the job
# has not seen, so that its first run opens every lapse.
seeded = [Contact.objects.filter(lapse_flag__in=flagged).count(), LapseEpisode.objects.count()]
LapseEpisode.objects.all().delete()
Contact.objects.update(
    lapse_flag=LapseFlag.OK, lapse_started_at=None, lapse_reason="", lapse_level=None,
    lapse_escalated_at=None, orphaned=False,
)

def state():
    open_lapses = Contact.objects.filter(lapse_started_at__isnull=False)
    lapsed = sorted(Contact.objects.filter(lapse_flag__in=flagged).values_list("pk", flat=True))
    return {
        "open": sorted(open_lapses.values_list("pk", flat=True)),
        "flagged": lapsed,
        "ended": sorted(LapseEpisode.objects.values_list("contact_id", flat=True)),
    }

first = flag_lapsed()
after_first = state()
second = flag_lapsed()
tamara = Contact.objects.get(name="Tamara Okafor")
tamara.status = Status.MOVED
tamara.save()
third = flag_lapsed()
print(json.dumps({
    "vendor": connection.vendor,
    "journal": connection.cursor().execute("PRAGMA journal_mode").fetchone()[0],
    "seeded": seeded,
    "first": [first.opened, first.resolved],
    "after_first": after_first,
    "tamara": tamara.pk,
    "second": [second.opened, second.resolved],
    "third": [third.opened, third.resolved],
    "after_third": state(),
}))
"""


def test_the_demos_hourly_job_flags_and_resolves_on_sqlite(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "organizing.settings", "VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["vendor"] == "sqlite"
    # Readers don't wait for a writer: a phone syncing while another knocks.
    assert seen["journal"] == "wal"
    # The seed's own runs left lapses open and others ended, as a real history would.
    assert seen["seeded"][0] > 0 and seen["seeded"][1] > 0
    opened, resolved = seen["first"]
    assert opened > 0 and resolved == 0
    # One open lapse for each contact flagged lapsed, Tamara among them.
    assert seen["after_first"]["open"] == seen["after_first"]["flagged"]
    assert len(seen["after_first"]["open"]) == opened
    assert seen["tamara"] in seen["after_first"]["flagged"]
    assert seen["after_first"]["ended"] == []
    # Nothing new an instant later; Tamara's move ends her lapse, kept as an episode, and
    # nothing else.
    assert seen["second"] == [0, 0]
    assert seen["third"] == [0, 1]
    assert seen["after_third"]["open"] == seen["after_third"]["flagged"]
    assert seen["after_third"]["open"] == [
        pk for pk in seen["after_first"]["open"] if pk != seen["tamara"]
    ]
    assert seen["after_third"]["ended"] == [seen["tamara"]]
