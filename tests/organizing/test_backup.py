"""SECURITY.md's backup and restore, tried: scripts/backup.sh dumps the database and
scripts/restore.sh brings it back into an empty one with every tenant and knock."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection

from buildings.models import Unit
from contacts.actions import record_visit
from contacts.models import Contact, Outcome, Visit
from tests.makers import new_key

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.django_db(transaction=True),  # pg_dump sees only committed rows
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump needs PostgreSQL"),
]


def url(database: str) -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return f"postgresql://{s['USER']}{password}@{s['HOST']}:{s['PORT']}/{database}"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_a_backup_restores_into_an_empty_database_and_not_over_one(
    tmp_path: Path, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    record_visit(
        actor=olivia.membership, contact=maria, outcome=Outcome.NOT_HOME, idempotency_key=new_key()
    )
    source = url(connection.settings_dict["NAME"])
    backup = tmp_path / "doorstep.dump"

    dumped = run("scripts/backup.sh", str(backup), DATABASE_URL=source)
    assert dumped.returncode == 0, dumped.stderr
    assert oct(backup.stat().st_mode & 0o777) == "0o600"  # tenants' names: owner only

    target = f"restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{target}"')
    try:
        restored = run("scripts/restore.sh", str(backup), url(target))
        assert restored.returncode == 0, restored.stderr
        with psycopg.connect(url(target)) as db:
            names = [row[0] for row in db.execute("SELECT name FROM contacts_contact")]
            visits = db.execute("SELECT count(*) FROM contacts_visit").fetchone()
        assert names == [maria.name]
        assert visits == (Visit.objects.count(),) == (1,)

        # A second restore would mix two copies: refused, and the data is as it was.
        again = run("scripts/restore.sh", str(backup), url(target))
        assert again.returncode == 1 and "restore only into an empty one" in again.stderr
    finally:
        with psycopg.connect(url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{target}" WITH (FORCE)')
