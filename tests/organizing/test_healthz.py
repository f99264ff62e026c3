"""/healthz answers for the database and the broker, and names the one that is down."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from django.test import Client

from organizing.celery import app as celery_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def own_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis of this test's own that it can stop, used as the Celery broker."""
    server = shutil.which("redis-server")
    assert server, "redis-server is needed; `make test` installs it"
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
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
