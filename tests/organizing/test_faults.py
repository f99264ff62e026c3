"""Faults answered as faults: PostgreSQL or Redis out of reach is a 503 with Retry-After,
which the phone's outbox reads as "send it again then"; never a 500 or a 400, and a knock
that was recorded is reported as recorded whatever fails after it."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import OperationalError, connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client
from django.urls import reverse
from redis.exceptions import ConnectionError as RedisConnectionError

from buildings.models import Unit
from contacts.field import doors
from contacts.models import Contact, Visit
from organizing import faults

REPLAY = {"X-Doorstep-Replay": "1", "Accept": "application/json"}
HTMX = {"HX-Request": "true"}


@pytest.fixture
def as_olivia(olivia: User) -> Client:
    client = Client()
    client.force_login(olivia)
    return client


def knock_url(unit: Unit) -> str:
    return reverse("buildings:knock", args=[unit.building_id, unit.pk])


def knock(contact: Contact, key: str = "phone-key-0001") -> dict[str, str]:
    return {
        "contact": str(contact.pk),
        "owner": str(contact.owner_id),
        f"c{contact.pk}-outcome": "not_home",
        f"c{contact.pk}-key": key,
    }


def fails_with(error: Exception) -> Any:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    return fail


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("consuming input failed: the connection is closed"),
        RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    ],
    ids=["database", "redis"],
)
def test_a_fault_in_a_view_answers_503_with_retry_after_not_500(
    as_olivia: Client,
    maria: Contact,
    unit_1204: Unit,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    monkeypatch.setattr(doors, "record_visit", fails_with(error))

    replayed = as_olivia.post(knock_url(unit_1204), knock(maria), headers=REPLAY)
    live = as_olivia.post(knock_url(unit_1204), knock(maria), headers=HTMX)
    plain = as_olivia.post(knock_url(unit_1204), knock(maria))

    assert [r.status_code for r in (replayed, live, plain)] == [503, 503, 503]
    assert all(r["Retry-After"] == "5" for r in (replayed, live, plain))
    assert replayed.json()["status"] == "unavailable"
    assert live.json()["status"] == "unavailable"
    assert "Try again in a moment" in plain.content.decode()


def test_a_request_that_met_a_database_fault_does_not_ask_it_again_for_the_session(
    as_olivia: Client, maria: Contact, unit_1204: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With PostgreSQL down, each time the database is asked waits out the pool's time-out."""
    loads = []

    def load(store: SessionStore) -> None:
        loads.append(store)
        raise OperationalError("connection refused")

    monkeypatch.setattr(SessionStore, "load", load)

    response = as_olivia.post(knock_url(unit_1204), knock(maria), headers=REPLAY)

    assert response.status_code == 503
    assert len(loads) == 1


def test_the_fault_is_logged_without_personal_data(
    as_olivia: Client,
    maria: Contact,
    unit_1204: Unit,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(doors, "record_visit", fails_with(OperationalError("server closed")))

    as_olivia.post(knock_url(unit_1204), knock(maria), headers=REPLAY)

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "organizing.faults")
    assert "answered 503 (OperationalError: server closed)" in logged
    assert "Maria" not in caplog.text
    assert "olivia" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_connection_postgresql_ended_answers_503_and_the_retry_records(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    """What `pg_ctl restart -m fast` does to a connection a request holds."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with psycopg.connect(connection.connection.info.dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    during = as_olivia.post(knock_url(unit_1204), knock(maria), headers=REPLAY)
    connection.close()  # as the end of a request does; the pool replaces the dead one
    after = as_olivia.post(knock_url(unit_1204), knock(maria), headers=REPLAY)

    assert during.status_code == 503
    assert after.json()["status"] == "recorded"
    assert Visit.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_after_postgresql_ended_the_pools_connections_one_fault_clears_them_all(
    as_olivia: Client, maria: Contact, unit_1204: Unit
) -> None:
    """A restart ends the idle connections too. The request that meets them answers 503;
    the pool is then checked whole, rather than a dead connection or two at a time by
    each request that comes, each waiting out the pool's back-off."""
    pool = postgresql(connections["default"]).pool
    idle = [pool.getconn() for _ in range(pool.max_size - 1)]
    for conn in idle:
        pool.putconn(conn)
    connection.close()
    with psycopg.connect(idle[0].info.dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    lost_before = pool.get_stats().get("connections_lost", 0)

    first = as_olivia.post(knock_url(unit_1204), knock(maria), headers=REPLAY)
    for _ in range(100):
        if not faults.checking_the_pool.locked():
            break
        time.sleep(0.05)
    lost = pool.get_stats().get("connections_lost", 0) - lost_before
    second = as_olivia.post(knock_url(unit_1204), knock(maria), headers=REPLAY)

    assert first.status_code == 503
    assert lost == pool.max_size
    assert second.json()["status"] == "recorded"


def test_a_knock_whose_session_save_fails_is_reported_as_recorded_and_recorded_once(
    as_olivia: Client, maria: Contact, unit_1204: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails between recording the knock and saving the session, which is
    saved on every request to keep it alive."""
    monkeypatch.setattr(Session, "save", fails_with(OperationalError("the connection is lost")))

    replayed = as_olivia.post(knock_url(unit_1204), knock(maria, "phone-key-1"), headers=REPLAY)
    live = as_olivia.post(knock_url(unit_1204), knock(maria, "phone-key-2"), headers=HTMX)
    again = as_olivia.post(knock_url(unit_1204), knock(maria, "phone-key-1"), headers=REPLAY)

    assert replayed.json()["status"] == "recorded"
    assert live.status_code == 200
    assert "Not home: Maria Lopez." in live.content.decode()
    assert again.json()["status"] == "duplicate"
    assert Visit.objects.filter(idempotency_key="phone-key-1").count() == 1
    assert Visit.objects.count() == 2


def test_a_knock_whose_session_ended_meanwhile_is_reported_as_recorded(
    as_olivia: Client, maria: Contact, unit_1204: Unit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logging out on another tab while the knock is on its way: Django would answer 400
    (SessionInterrupted), which the phone reads as refused."""

    def record_then_log_out(**kwargs: Any) -> Any:
        recorded = record_visit(**kwargs)
        Session.objects.all().delete()
        return recorded

    record_visit = doors.record_visit
    monkeypatch.setattr(doors, "record_visit", record_then_log_out)

    response = as_olivia.post(knock_url(unit_1204), knock(maria), headers=REPLAY)

    assert response.json()["status"] == "recorded"
    assert Visit.objects.count() == 1
    assert as_olivia.get(reverse("home")).status_code == 302  # logged out, as asked


def test_a_login_whose_session_save_fails_answers_503(
    olivia: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session the request changed was not kept: the login did not happen."""
    client = Client()
    client.get(reverse("login"))
    monkeypatch.setattr(Session, "save", fails_with(OperationalError("the connection is lost")))

    response = client.post(reverse("login"), {"username": "olivia", "password": "correct horse 42"})

    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_a_knock_with_redis_hung_is_recorded_within_a_second(
    as_olivia: Client,
    maria: Contact,
    unit_1204: Unit,
    hung_server: str,
    settings: Any,
) -> None:
    """The rate limit can't be counted: the knock goes in without it."""
    settings.CACHES = {
        "default": settings.CACHES["default"] | {"LOCATION": f"redis://{hung_server}/0"}
    }

    started = time.monotonic()
    response = as_olivia.post(knock_url(unit_1204), knock(maria), headers=REPLAY)
    took = time.monotonic() - started

    assert response.json()["status"] == "recorded"
    assert took < 1


def postgresql(wrapper: object) -> DatabaseWrapper:
    assert isinstance(wrapper, DatabaseWrapper), "run through `make test`, on PostgreSQL"
    return wrapper
