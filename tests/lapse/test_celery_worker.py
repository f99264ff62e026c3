"""The lapse job through a real Celery worker on the real Redis broker."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from buildings.models import Unit
from contacts.models import Contact, LapseFlag
from contacts.tasks import flag_lapsed_task
from tests.makers import make_contact

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("tasks_go_to_the_broker")
def test_the_job_runs_in_a_worker_fed_by_redis(
    unit_1204: Unit, olivia: User, tmp_path: Path
) -> None:
    assert settings.REDIS_URL, "REDIS_URL is needed; `make test` starts a Redis"
    assert connection.vendor == "postgresql", "run through `make test`"
    lapsed = make_contact(
        unit_1204, owner=olivia, name="Tamara", created_at=timezone.now() - dt.timedelta(days=90)
    )
    db = connection.settings_dict
    test_database = (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "organizing",
            "worker",
            "--pool",
            "solo",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": test_database, "VAR_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        flag_lapsed_task.delay()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            if Contact.objects.get(pk=lapsed.pk).open_lapse:
                break
            time.sleep(0.25)
        flag = Contact.objects.get(pk=lapsed.pk).lapse_flag
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    # A worker that never came up, or died, says why in what it printed.
    assert flag == LapseFlag.LAPSED, output.decode(errors="replace")
    assert b"Traceback" not in output, output.decode()
