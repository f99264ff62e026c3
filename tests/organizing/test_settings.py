"""Settings come from the environment; production refuses to start on defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'engine': db['ENGINE'], 'pool': 'pool' in db.get('OPTIONS', {}), "
    "'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG}))"
)


def start(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "organizing.settings",
            "VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = start({"DEBUG": "0", "DATABASE_URL": "postgres://db/doorstep"}, tmp_path)

    assert result.returncode != 0
    assert "need SECRET_KEY in the environment" in result.stderr


def test_production_refuses_to_start_without_a_database(tmp_path: Path) -> None:
    result = start({"DEBUG": "0", "SECRET_KEY": "s3cret-for-this-test"}, tmp_path)

    assert result.returncode != 0
    assert "need DATABASE_URL" in result.stderr


def test_production_refuses_to_start_without_the_sites_address(tmp_path: Path) -> None:
    env = {"DEBUG": "0", "SECRET_KEY": "s3cret-for-this-test", "DATABASE_URL": "postgres://db/d"}

    result = start(env, tmp_path)

    assert result.returncode != 0
    assert "need SITE_URL" in result.stderr


def test_production_starts_with_a_secret_and_a_database(tmp_path: Path) -> None:
    result = start(
        {
            "DEBUG": "0",
            "SECRET_KEY": "s3cret-for-this-test",
            "SITE_URL": "https://doorstep.example.org",
            "DATABASE_URL": "postgres://db/doorstep",
        },
        tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "engine": "django.db.backends.postgresql",
        "pool": True,
        "broker": "filesystem://",
        "debug": False,
    }


def test_with_nothing_set_it_runs_on_sqlite_and_the_embedded_broker(tmp_path: Path) -> None:
    result = start({}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "engine": "django.db.backends.sqlite3",
        "pool": False,
        "broker": "filesystem://",
        "debug": True,
    }


def test_with_redis_set_celery_uses_it(tmp_path: Path) -> None:
    result = start({"REDIS_URL": "redis://127.0.0.1:6390/0"}, tmp_path)

    assert json.loads(result.stdout)["broker"] == "redis://127.0.0.1:6390/0"
