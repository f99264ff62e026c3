"""/healthz answers for the database and the broker within two seconds whatever hangs, and
names what is down; /livez answers for the process alone."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client
from psycopg_pool import ConnectionPool

from organizing.celery import app as celery_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_ping(port: int) -> bool:
    try:
        with redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def own_redis(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis of this test's own that it can stop, used as the Celery broker. One that
    never answers a PING fails the test here, with what it said, rather than letting the
    test read the healthcheck of a broker that was never up."""
    server = shutil.which("redis-server")
    assert server, "redis-server is needed; `make test` installs it"
    port = free_port()
    log = tmp_path / "redis.log"
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with log.open("wb") as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not answers_ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            said = log.read_text(errors="replace")
            pytest.fail(f"redis-server never answered a PING on {port}:\n{said}", pytrace=False)
        time.sleep(0.05)
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{port}/0")
    yield process
    process.kill()
    process.wait()


@pytest.mark.django_db
def test_it_answers_200_when_the_database_and_broker_answer(
    own_redis: subprocess.Popen[bytes],
) -> None:
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "ok"


@pytest.mark.django_db
def test_it_answers_503_naming_a_stopped_redis(own_redis: subprocess.Popen[bytes]) -> None:
    own_redis.terminate()
    own_redis.wait()

    response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "down: broker"
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_it_needs_no_login_and_is_never_cached(own_redis: subprocess.Popen[bytes]) -> None:
    response = Client().get("/healthz")

    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_answers_503_naming_a_hung_redis_within_two_seconds(
    hung_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://{hung_server}/0")

    started = time.monotonic()
    response = Client().get("/healthz")
    took = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["status"] == "down: broker"
    assert response.json()["database"] == "ok"
    assert took < 2


@pytest.fixture
def hung_database(hung_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The database settings pointed at a server that never answers, as seen by the threads
    /healthz starts: each makes its own connection, from a pool made afresh here."""
    host, port = hung_server.split(":")
    moved = connections.settings["default"] | {"HOST": host, "PORT": port}
    monkeypatch.setitem(connections.settings, "default", moved)
    pools: dict[str, ConnectionPool] = {}
    monkeypatch.setattr(DatabaseWrapper, "_connection_pools", pools)
    yield
    for pool in pools.values():
        pool.close(timeout=0)


@pytest.mark.django_db
def test_it_answers_503_naming_a_database_that_does_not_answer_within_two_seconds(
    own_redis: subprocess.Popen[bytes], hung_database: None
) -> None:
    started = time.monotonic()
    response = Client().get("/healthz")
    took = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["status"] == "down: database"
    assert response.json()["broker"] == "ok"
    assert took < 2


@pytest.mark.django_db
def test_livez_answers_touching_no_database_even_with_a_session(
    olivia: object, hung_database: None, django_assert_num_queries: Any
) -> None:
    client = Client()
    client.force_login(olivia)  # type: ignore[arg-type]

    with django_assert_num_queries(0):
        response = client.get("/livez", headers={"Host": "not-an-allowed-host.example"})

    assert response.status_code == 200
    assert response.content == b"ok"
