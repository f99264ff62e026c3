"""Knocks and digests through faults, against real processes: two gunicorn servers
(gunicorn.conf.py) behind haproxy, two Celery workers, two beats (RedBeat's lock in Redis),
the suite's PostgreSQL and a Redis of the test's own.

Organizers knock from several threads, as phones replaying their outbox do (JSON answers,
the same submission key again after a 503, a 429, a proxy's 502/504 or a dropped
connection), while one web server, one worker and the beat holding the lock are killed,
PostgreSQL restarted and Redis stopped for ten seconds. The owners' digests fall due as
Redis stops. Every knock must be recorded exactly once, no answer may be a 500, /healthz
must answer within two seconds throughout, the other beat must take over, every digest
due must be sent once, and the worker left must still work afterwards.
"""

from __future__ import annotations

import collections
import datetime as dt
import email
import functools
import http.client
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, DigestKind, DigestLog, LapseFlag, Visit
from contacts.tasks import flag_lapsed_task
from organizing.celery import app as celery_app
from organizing.models import Organization, Role
from tests.makers import make_building, make_contact, make_member, make_unit

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("tasks_go_to_the_broker"),
]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ORGANIZERS = 6
# Answers a phone sends the same knock again after: the app's own "not now", and a
# proxy's "no server could take it".
TRY_AGAIN = {429, 502, 503, 504}
# Beat fires the digests this often (seconds), and a beat killed holding the lock keeps
# the other waiting this long (BEAT_LOCK_TIMEOUT): both short enough for a test.
CATCH_UP = 2
LOCK_TIMEOUT = 5
ACQUIRED = "beat: Acquired lock"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not come up within {seconds} s")
        time.sleep(0.1)


def answers_http(port: int, path: str = "/livez") -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False


@dataclass
class Processes:
    """What the test started, stopped whatever happens."""

    log_dir: Path
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("wb") as log:
            # A session of its own: a web server is killed with all its workers.
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGCONT)  # a Redis left stopped hears nothing else
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.stop_all()


def pg_ctl(*args: str) -> None:
    """pg_ctl on the suite's cluster, as the user that owns it."""
    as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    data = Path(os.environ["DOORSTEP_PGDATA"])
    # Its log beside the cluster, in the folder its user may write to.
    log = data.parent / "pg-restarted.log"
    argv = [f"{os.environ['DOORSTEP_PG_BIN']}/pg_ctl", "--pgdata", str(data), "--log", str(log)]
    subprocess.run(
        (as_postgres if os.geteuid() == 0 else []) + argv + list(args),
        check=True,
        stdout=subprocess.DEVNULL,
    )


@dataclass
class Phone:
    """An organizer's phone replaying its outbox through the load balancer."""

    port: int
    session: str
    csrf: str = field(default_factory=lambda: secrets.token_hex(16))

    def send(self, path: str, form: dict[str, str]) -> tuple[int, str, float]:
        """(status, Retry-After, seconds); status 0 when the connection failed."""
        body = urllib.parse.urlencode(form)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "X-Doorstep-Replay": "1",
            "X-CSRFToken": self.csrf,
            "Cookie": f"sessionid={self.session}; csrftoken={self.csrf}",
        }
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            retry_after = response.getheader("Retry-After", "")
            return response.status, retry_after, time.monotonic() - started
        except (OSError, http.client.HTTPException):
            # No answer, or one cut short (a server killed as it wrote it): the phone's
            # fetch fails alike, and it sends the knock again with its key.
            return 0, "", time.monotonic() - started


@dataclass
class Tally:
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    sent: list[str] = field(default_factory=list)
    unsent: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def knock_until_answered(phone: Phone, contact: Contact, key: str, tally: Tally) -> None:
    path = reverse("buildings:knock", args=[contact.building_id, contact.unit_id])
    form = {
        "contact": str(contact.pk),
        "owner": str(contact.owner_id),
        f"c{contact.pk}-outcome": "not_home",
        f"c{contact.pk}-key": key,
    }
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, retry_after, _ = phone.send(path, form)
        with tally.lock:
            tally.statuses[status] += 1
        if status == 200:
            with tally.lock:
                tally.sent.append(key)
            return
        if status not in TRY_AGAIN and status != 0:
            break
        # The phone waits as long as it is told; the test is impatient, up to a second.
        time.sleep(min(float(retry_after or 0.2), 1.0))
    with tally.lock:
        tally.unsent.append(key)


def test_through_faults_knocks_are_recorded_once_none_answers_500_and_digests_go_once(
    processes: Processes, org: Organization, tmp_path: Path
) -> None:
    """Also prints what the phones were answered, for the curious: -s."""
    for needed in ("haproxy", "redis-server"):
        if not shutil.which(needed):
            pytest.skip(f"{needed} is missing; `make test` installs it when run as root")
    if not os.environ.get("DOORSTEP_PGDATA"):
        pytest.skip("needs the PostgreSQL `make test` starts, to restart it")

    # 1. The organization: six organizers on one building's turf, their residents, and
    #    for each a leader nobody has talked to for three months: their digest is due, and
    #    the worker flags them at the end.
    organizers = [make_member(org, f"organizer{n}", Role.ORGANIZER) for n in range(ORGANIZERS)]
    building = make_building(org, name="Fault Towers", organizers=tuple(organizers))
    residents: dict[User, list[Contact]] = {user: [] for user in organizers}
    for n in range(48):
        user = organizers[n % ORGANIZERS]
        unit = make_unit(building, f"{n // 8 + 1}{n % 8:02d}", floor=n // 8 + 1)
        residents[user].append(make_contact(unit, owner=user, name=f"Resident {n}"))
    forgotten = [
        make_contact(
            make_unit(building, f"12{n:02d}", floor=12),
            owner=user,
            name=f"Leader {n}",
            created_at=timezone.now() - dt.timedelta(days=90),
        )
        for n, user in enumerate(organizers)
    ]
    sessions = {}
    for user in organizers:
        client = Client()
        client.force_login(user)
        sessions[user] = client.cookies["sessionid"].value

    # 2. Redis, two web servers, the load balancer, two workers and two beats.
    redis_port, web_ports, lb_port = free_port(), [free_port(), free_port()], free_port()
    redis_server = processes.start(
        "redis",
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
        dict(os.environ),
    )
    wait_until(lambda: answers_ping(redis_port), "Redis")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "0",
        # The sessions made here are signed with it.
        "SECRET_KEY": settings.SECRET_KEY,
        "SITE_URL": "http://127.0.0.1",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "VAR_DIR": str(tmp_path / "var"),
        # Six phones knocking flat out would meet the per-organizer limit; it is not the test.
        "RATE_LIMIT_KNOCK": "100000/m",
        # Two small servers: the machine is shared.
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "4",
        "DATABASE_POOL_MAX": "4",
        "BEAT_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
        "CATCH_UP_SECONDS": str(CATCH_UP),
        # The workers write what they send here, for the test to count.
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
    }
    webs = [
        processes.start(
            f"web-{port}",
            [str(BIN / "gunicorn"), "organizing.wsgi", "--bind", f"127.0.0.1:{port}"],
            env,
        )
        for port in web_ports
    ]
    config = tmp_path / "haproxy.cfg"
    config.write_text(HAPROXY.format(lb=lb_port, a=web_ports[0], b=web_ports[1]))
    processes.start("haproxy", ["haproxy", "-db", "-f", str(config)], env)
    for port in [*web_ports, lb_port]:
        wait_until(functools.partial(answers_http, port), f"the server on {port}", seconds=60)
    # The owners' digests fall due when Redis is stopped, in time for the workers and beats
    # to start and the faults before it to happen; the phones start knocking accordingly.
    due = (timezone.localtime() + dt.timedelta(seconds=30)).replace(microsecond=0)
    if (due + dt.timedelta(minutes=2)).date() != due.date():
        pytest.skip("the digests would fall due at local midnight, then not at all that day")
    env["OWNER_DIGEST_AT"] = due.time().isoformat(timespec="seconds")
    celery = [sys.executable, "-m", "celery", "-A", "organizing"]
    workers = [
        processes.start(
            f"worker{n}",
            [*celery, "worker", "--pool", "solo", "-n", f"worker{n}@%h", "-l", "warning"],
            env,
        )
        for n in (1, 2)
    ]
    # The first beat takes the lock before the second starts: the one to kill is known.
    # Each tries for the lock every second (--max-interval).
    beat = [*celery, "beat", "-l", "info", "--max-interval", "1"]
    beats = [processes.start("beat1", beat, env)]
    wait_until(lambda: ACQUIRED in log_of(tmp_path, "beat1"), "the first beat's lock")
    beats.append(processes.start("beat2", beat, env))
    wait_until(lambda: "beat: Starting" in log_of(tmp_path, "beat2"), "the second beat")
    assert ACQUIRED not in log_of(tmp_path, "beat2")
    if timezone.localtime() > due - dt.timedelta(seconds=12):
        pytest.fail(
            f"the processes took too long to start for the digests' hour\n{processes.logs()}"
        )
    time.sleep((due - timezone.localtime()).total_seconds() - 12)

    # 3. The phones knock, and /healthz is asked twice a second, while the faults happen.
    tally = Tally()
    stop = threading.Event()
    health: list[tuple[int, float]] = []

    def organizer(user: User, seed: int) -> None:
        phone, rng = Phone(lb_port, sessions[user]), random.Random(seed)
        n = 0
        while not stop.is_set():
            n += 1
            knock_until_answered(phone, rng.choice(residents[user]), f"{user.username}-{n}", tally)

    def ask_health() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", web_ports[1], timeout=10)
                conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
                status = conn.getresponse().status
            except OSError:
                status = 0
            health.append((status, time.monotonic() - started))
            time.sleep(0.5)

    threads = [
        threading.Thread(target=organizer, args=(user, n)) for n, user in enumerate(organizers)
    ]
    threads.append(threading.Thread(target=ask_health))
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)
        # One web server dies, with its workers; a Celery worker; and the beat holding
        # the lock, which the other takes once it has timed out.
        for process in (webs[0], workers[0], beats[0]):
            os.killpg(process.pid, signal.SIGKILL)
        time.sleep(3)
        pg_ctl("restart", "--mode", "fast")
        # Redis stops as the digests fall due: they can be sent only once it is back.
        time.sleep(max(0, (due - timezone.localtime()).total_seconds()))
        redis_server.send_signal(signal.SIGSTOP)
        time.sleep(10)
        redis_server.send_signal(signal.SIGCONT)
        time.sleep(4)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)

    # 4. Every knock sent was recorded once; nothing answered 500.
    # PostgreSQL restarted under the test's own connections too: check them as a fault does.
    connection.close()
    postgresql(connections["default"]).pool.check()
    recorded = collections.Counter(
        Visit.objects.filter(idempotency_key__in=tally.sent).values_list(
            "idempotency_key", flat=True
        )
    )
    print(f"answers: {dict(tally.statuses)}; knocks recorded: {len(tally.sent)}")
    logs = processes.logs
    assert not tally.unsent, f"never answered: {tally.unsent}\n{logs()}"
    assert 500 not in tally.statuses, f"{tally.statuses}\n{logs()}"
    assert set(tally.statuses) <= {200, 0} | TRY_AGAIN, tally.statuses
    assert len(tally.sent) > 50, f"too few knocks to prove anything: {tally.statuses}"
    assert all(recorded[key] == 1 for key in tally.sent), [
        k for k in tally.sent if recorded[k] != 1
    ]
    assert Visit.objects.count() == len(tally.sent)
    # /healthz told of the faults, in time.
    assert 503 in {status for status, _ in health}, health
    assert max(seconds for _, seconds in health) < 2, health

    # 5. The second beat took over, and every owner's digest due during the faults was
    #    sent once: all of them, then nothing more over a few more firings.
    owners = {user.email for user in organizers}
    mail = tmp_path / "mail"
    wait_until(lambda: set(emails_to(mail)) >= owners, "every owner's digest", seconds=60)
    time.sleep(3 * CATCH_UP)
    assert emails_to(mail) == dict.fromkeys(owners, 1), logs()
    digests = DigestLog.objects.filter(kind=DigestKind.OWNER_DAILY, emailed=True)
    assert digests.count() == ORGANIZERS
    sent_at = sorted((digest.done_at - due).total_seconds() for digest in digests)
    print(f"digests sent once each, {sent_at[0]:.1f} to {sent_at[-1]:.1f} s after falling due")
    assert sent_at[0] >= 0
    assert ACQUIRED in log_of(tmp_path, "beat2"), logs()
    assert "Sending due task owner-digests" in log_of(tmp_path, "beat2").split(ACQUIRED)[-1]

    # 6. The worker left lived through it: it takes the next job from the broker.
    with celery_app.connection_for_write(env["REDIS_URL"]) as broker:
        celery_app.send_task(flag_lapsed_task.name, connection=broker)
    wait_until(
        lambda: Contact.objects.get(pk=forgotten[0].pk).lapse_flag == LapseFlag.LAPSED,
        "the worker's lapse run",
        seconds=60,
    )
    assert workers[1].poll() is None and beats[1].poll() is None, logs()


def log_of(tmp_path: Path, name: str) -> str:
    return (tmp_path / f"{name}.log").read_text(errors="replace")


def emails_to(folder: Path) -> collections.Counter[str]:
    """How many emails each address was sent: Django's file backend writes each
    connection's messages to a file, one after the other, with a line of dashes after each."""
    separator = b"\n" + b"-" * 79 + b"\n"
    return collections.Counter(
        email.message_from_bytes(message)["To"]
        for path in (folder.glob("*.log") if folder.exists() else [])
        for message in path.read_bytes().split(separator)
        if message.strip()
    )


def answers_ping(port: int) -> bool:
    try:
        with redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


# Checks /livez every half second: a killed server is out of rotation within a second, and
# a connection it refuses is tried on the other (redispatch). A fault in PostgreSQL or Redis
# is the app's to answer (503), not the proxy's.
HAPROXY = """
global
    maxconn 256

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 15s
    retries 2
    option redispatch

frontend web
    bind 127.0.0.1:{lb}
    default_backend doorstep

backend doorstep
    option httpchk GET /livez
    default-server inter 500ms fall 2 rise 2
    server a 127.0.0.1:{a} check
    server b 127.0.0.1:{b} check
"""


def postgresql(wrapper: object) -> DatabaseWrapper:
    assert isinstance(wrapper, DatabaseWrapper), "run through `make test`, on PostgreSQL"
    return wrapper
