"""More than one of everything: two beats of which one schedules, and a database behind
PgBouncer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'prepare_threshold': db.get('OPTIONS', {}).get('prepare_threshold', 0), "
    "'server_side_cursors': not db.get('DISABLE_SERVER_SIDE_CURSORS', False), "
    "'pool': 'pool' in db.get('OPTIONS', {}), "
    "'scheduler': s.CELERY_BEAT_SCHEDULER if hasattr(s, 'CELERY_BEAT_SCHEDULER') else None}))"
)


def settings_with(
    env: dict[str, str], tmp_path: Path, script: str = PRINT_SETTINGS
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "-c", script],
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


CONNECT = (
    "import json, django; django.setup(); from django.db import connection; "
    "cursor = connection.cursor(); cursor.execute('SELECT 1'); "
    "print(json.dumps({'answer': cursor.fetchone()[0], "
    "'prepare_threshold': connection.connection.prepare_threshold}))"
)


def test_behind_pgbouncer_prepared_statements_and_server_side_cursors_are_off(
    tmp_path: Path, django_db_setup: None
) -> None:
    env = {"DATABASE_URL": "postgres://pgbouncer:6432/doorstep", "DATABASE_PGBOUNCER": "1"}

    result = settings_with(env, tmp_path)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "prepare_threshold": None,
        "server_side_cursors": False,
        "pool": True,
        "scheduler": None,
    }
    # psycopg's pool takes the option: a connection made through it prepares nothing.
    db = connection.settings_dict
    test_database = (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    env = {"DATABASE_URL": test_database, "DATABASE_PGBOUNCER": "1"}
    connected = settings_with(env, tmp_path, script=CONNECT)
    assert connected.returncode == 0, connected.stderr
    assert json.loads(connected.stdout) == {"answer": 1, "prepare_threshold": None}


def test_straight_to_postgresql_they_stay_as_psycopg_has_them(tmp_path: Path) -> None:
    result = settings_with({"DATABASE_URL": "postgres://db:5432/doorstep"}, tmp_path)

    assert result.returncode == 0, result.stderr
    settings_seen = json.loads(result.stdout)
    assert settings_seen["prepare_threshold"] == 0  # not set: psycopg's default
    assert settings_seen["server_side_cursors"] is True


def test_pgbouncer_without_postgresql_is_refused(tmp_path: Path) -> None:
    result = settings_with({"DATABASE_PGBOUNCER": "1"}, tmp_path)

    assert result.returncode != 0
    assert "DATABASE_PGBOUNCER needs a PostgreSQL DATABASE_URL" in result.stderr


def test_with_redis_beat_schedules_under_redbeats_lock_and_without_it_on_its_own(
    tmp_path: Path,
) -> None:
    with_redis = settings_with({"REDIS_URL": "redis://redis:6379/0"}, tmp_path)
    without = settings_with({}, tmp_path)

    assert json.loads(with_redis.stdout)["scheduler"] == "organizing.beat.OneBeatScheduler"
    assert json.loads(without.stdout)["scheduler"] is None  # Celery's own, on a file


# Two beats against the test Redis


ACQUIRED = "beat: Acquired lock"
# A database of the test Redis of its own: whatever the beats schedule stays out of the
# queue the other tests' workers read.
BEATS_DB = 7


@pytest.fixture
def beats_redis() -> Iterator[str]:
    assert settings.REDIS_URL, "REDIS_URL is needed; `make test` starts a Redis"
    url = settings.REDIS_URL.rsplit("/", 1)[0] + f"/{BEATS_DB}"
    redis = Redis.from_url(url)
    redis.flushdb()
    yield url
    redis.flushdb()


def start_beat(redis_url: str, log: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A beat that polls for the lock every second and holds it three seconds unrenewed."""
    env = {**os.environ, "REDIS_URL": redis_url, "VAR_DIR": str(tmp_path), "BEAT_LOCK_TIMEOUT": "3"}
    env.pop("DATABASE_URL", None)  # beat reads no database
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "organizing",
            "beat",
            "-l",
            "info",
            "--max-interval",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_for(condition: str, log: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition in log.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False


def test_of_two_beats_one_schedules_and_the_other_takes_over_when_it_dies(
    beats_redis: str, tmp_path: Path
) -> None:
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_beat(beats_redis, first_log, tmp_path)
    second: subprocess.Popen[bytes] | None = None
    try:
        assert wait_for(ACQUIRED, first_log, 20), first_log.read_text()
        second = start_beat(beats_redis, second_log, tmp_path)
        assert wait_for("beat: Starting...", second_log, 20), second_log.read_text()
        # A few of its tries for the lock, each a second apart, all refused.
        time.sleep(3)
        assert ACQUIRED not in second_log.read_text()
        assert Redis.from_url(beats_redis).exists("redbeat::lock")

        first.send_signal(signal.SIGKILL)  # no goodbye: the lock is left to time out
        assert wait_for(ACQUIRED, second_log, 10), second_log.read_text()
        # RedBeat found its settings (its Redis client's time-outs among them).
        assert "falling back" not in first_log.read_text() + second_log.read_text()
    finally:
        for beat in (first, second):
            if beat is not None and beat.poll() is None:
                beat.terminate()
                beat.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    redis = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if Redis(port=port).ping():
                return redis
        except RedisConnectionError:
            time.sleep(0.1)
    raise AssertionError("redis-server did not start")


def test_a_beat_rides_out_a_redis_outage_and_schedules_again_when_it_is_back(
    tmp_path: Path,
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server, to stop and start a Redis of its own")
    port = free_port()
    redis = start_redis(port, tmp_path)
    log = tmp_path / "beat.log"
    beat = start_beat(f"redis://127.0.0.1:{port}/0", log, tmp_path)
    try:
        assert wait_for(ACQUIRED, log, 20), log.read_text()

        redis.terminate()
        redis.wait(timeout=10)
        assert wait_for("beat: Redis unreachable (ConnectionError); trying again", log, 10)
        # Back, and empty: the lock and the schedule were lost with it.
        redis = start_redis(port, tmp_path)

        assert wait_for("beat: Acquired lock again", log, 10), log.read_text()
        assert beat.poll() is None, log.read_text()
        assert Redis(port=port).exists("redbeat:owner-digests")
    finally:
        beat.terminate()
        beat.wait(timeout=10)
        redis.terminate()
        redis.wait(timeout=10)


def test_a_standby_beat_rides_out_a_redis_outage_and_takes_over_when_the_first_dies(
    tmp_path: Path,
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server, to stop and start a Redis of its own")
    port = free_port()
    redis = start_redis(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_beat(url, first_log, tmp_path)
    second: subprocess.Popen[bytes] | None = None
    try:
        assert wait_for(ACQUIRED, first_log, 20), first_log.read_text()
        second = start_beat(url, second_log, tmp_path)
        assert wait_for("beat: Starting...", second_log, 20), second_log.read_text()

        # The second is waiting for the lock when Redis goes: its wait fails (Celery logs
        # the error and goes on), and it must not tick on without a lock.
        redis.terminate()
        redis.wait(timeout=10)
        assert wait_for("acquire_distributed_beat_lock", second_log, 10), second_log.read_text()
        redis = start_redis(port, tmp_path)
        first.send_signal(signal.SIGKILL)

        assert wait_for(ACQUIRED, second_log, 15), second_log.read_text()
        assert second.poll() is None, second_log.read_text()
    finally:
        for beat in (first, second):
            if beat is not None and beat.poll() is None:
                beat.terminate()
                beat.wait(timeout=10)
        redis.terminate()
        redis.wait(timeout=10)
