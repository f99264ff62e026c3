"""Knocks served by gunicorn to 32 phones at once, against /healthz served the same way.

1. An organization with 32 organizers on one building's turf, each owning three of its 96
   residents, each logged in (a session made here, as the phone holds one).
2. The static files collected (DEBUG off needs their manifest), then gunicorn started as
   production starts it: gunicorn.conf.py, sized for this machine, DEBUG off, the same
   PostgreSQL and Redis.
3. Rounds, so that a slow spell of the shared machine hits every kind alike: in each, 32
   clients (one thread each, keeping its connection) send REQUESTS requests of one kind as
   fast as they are answered: GET /healthz, a knock replayed by the outbox (JSON answer), a
   knock tapped on the page (htmx, the cards rendered again). Each knock has a new key;
   the per-organizer rate limit is counted but set out of reach.
4. Throughput is requests per second over the wall time of the kind's rounds; the knocks'
   is printed as a ratio to /healthz's, with each kind's 99th percentile.
"""

from __future__ import annotations

import http.client
import itertools
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from buildings.models import Building, Turf, Unit
from contacts.models import Contact, set_buildings
from organizing.models import Membership, Organization, Role

if TYPE_CHECKING:
    from bench.__main__ import Table

CLIENTS = 32
REQUESTS = 15
ROUNDS = 3
RATIO_TARGET = 0.2
P99_TARGET_MS = 500
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

HEALTHZ = "GET /healthz (baseline)"
REPLAYED = "POST knock, replayed by the outbox (JSON)"
TAPPED = "POST knock, tapped on the page (htmx)"


class Phone:
    """One organizer's phone: a session, a CSRF token, one kept-alive connection."""

    def __init__(self, port: int, session: str) -> None:
        self.port = port
        self.csrf = secrets.token_hex(16)
        self.cookie = f"sessionid={session}; csrftoken={self.csrf}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(
        self, method: str, path: str, form: dict[str, str], headers: dict[str, str]
    ) -> float:
        body = urllib.parse.urlencode(form) if form else None
        headers = headers | {
            "Cookie": self.cookie,
            "X-CSRFToken": self.csrf,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        started = time.perf_counter()
        try:
            response = self.send(method, path, body, headers)
        except ConnectionError:
            # The server closed the kept-alive connection (idle past its keep-alive time, or
            # its worker replaced after max_requests): a new one, as a phone opens; a knock
            # sent again with its key is recorded once.
            self.conn.close()
            response = self.send(method, path, body, headers)
        took = time.perf_counter() - started
        if response.status != 200:
            raise AssertionError(f"{method} {path}: {response.status}")
        return took

    def send(
        self, method: str, path: str, body: str | None, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        self.conn.request(method, path, body, headers)
        response = self.conn.getresponse()
        response.read()
        return response


def run() -> list[Table]:
    from bench.__main__ import Row, Table

    organizers, residents = organization()
    sessions = [session_of(user) for user in organizers]
    keys = itertools.count()
    with tempfile.TemporaryDirectory() as var:
        env = server_env(Path(var))
        progress("collecting static files")
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        port = free_port()
        progress(f"starting gunicorn on {port}")
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "organizing.wsgi", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(port)
            phones = [Phone(port, session) for session in sessions]

            def healthz(n: int) -> float:
                return phones[n].request("GET", "/healthz", {}, {})

            def knock(n: int, headers: dict[str, str]) -> float:
                contact = residents[n][next(keys) % len(residents[n])]
                url = reverse("buildings:knock", args=[contact.building_id, contact.unit_id])
                form = {
                    "contact": str(contact.pk),
                    "owner": str(contact.owner_id),
                    f"c{contact.pk}-outcome": "not_home",
                    f"c{contact.pk}-key": f"served-{next(keys):08d}",
                }
                return phones[n].request("POST", url, form, headers)

            kinds: dict[str, Callable[[int], float]] = {
                HEALTHZ: healthz,
                REPLAYED: lambda n: knock(
                    n, {"X-Doorstep-Replay": "1", "Accept": "application/json"}
                ),
                TAPPED: lambda n: knock(n, {"HX-Request": "true"}),
            }
            for ask in kinds.values():  # warm every worker and connection up
                at_once(ask, 2)
            samples: dict[str, list[float]] = {name: [] for name in kinds}
            walls = dict.fromkeys(kinds, 0.0)
            for round_ in range(ROUNDS):
                progress(f"round {round_ + 1} of {ROUNDS}")
                for name, ask in kinds.items():
                    wall, took = at_once(ask, REQUESTS)
                    walls[name] += wall
                    samples[name] += took
        finally:
            server.terminate()
            server.wait(timeout=30)

    per_second = {name: len(samples[name]) / walls[name] for name in kinds}
    notes = [
        f"{CLIENTS} clients at once, {ROUNDS} rounds of {REQUESTS} requests each per kind; "
        f"gunicorn.conf.py on {os.cpu_count()} CPUs, DEBUG off"
    ]
    for name in kinds:
        p99 = percentile(samples[name], 0.99) * 1000
        line = f"{name}: {per_second[name]:.0f}/s, p99 {p99:.0f} ms"
        if name != HEALTHZ:
            ratio = per_second[name] / per_second[HEALTHZ]
            met = ratio >= RATIO_TARGET and p99 < P99_TARGET_MS
            line += f", throughput {ratio:.2f} x /healthz's  {'ok' if met else 'MISSED'}"
        notes.append(line)
    notes.append(
        f"targets: knocks at least {RATIO_TARGET} x /healthz's, p99 under {P99_TARGET_MS} ms"
    )
    return [
        Table(
            f"{__name__}: knocks served to {CLIENTS} phones at once",
            [Row(name, samples[name]) for name in kinds],
            notes=notes,
        )
    ]


def at_once(ask: Callable[[int], float], requests: int) -> tuple[float, list[float]]:
    """Every client sends `requests` requests, one after another, all clients at once.
    Returns the wall time from the start to the last answer, and each request's time."""
    took: list[list[float]] = [[] for _ in range(CLIENTS)]
    start = threading.Barrier(CLIENTS + 1)

    def client(n: int) -> None:
        start.wait()
        took[n] = [ask(n) for _ in range(requests)]

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    every = [t for times in took for t in times]
    if len(every) != CLIENTS * requests:
        raise AssertionError("a client failed: see its traceback above")
    return wall, every


def organization() -> tuple[list[User], list[list[Contact]]]:
    org = Organization.objects.create(name="Bench Served", slug="bench-served")
    building = Building.objects.create(
        organization=org, name="Served Towers", street_address="1 Bench St", floors=12
    )
    organizers = []
    for n in range(CLIENTS):
        user = User.objects.create_user(f"served-{n}")
        Membership.objects.create(user=user, organization=org, role=Role.ORGANIZER)
        Turf.objects.create(building=building, organizer=user)
        organizers.append(user)
    units = Unit.objects.bulk_create(
        Unit(building=building, floor=floor, label=f"{floor}{n:02d}")
        for floor in range(1, 13)
        for n in range(1, 9)
    )
    people = [
        Contact(
            organization=org,
            unit=unit,
            name=f"Resident {unit.label}",
            owner=organizers[n % CLIENTS],
        )
        for n, unit in enumerate(units)
    ]
    set_buildings(people)
    Contact.objects.bulk_create(people)
    residents = [list(Contact.objects.filter(owner=user).order_by("pk")) for user in organizers]
    return organizers, residents


def session_of(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def server_env(var: Path) -> dict[str, str]:
    db = connection.settings_dict
    return {
        **os.environ,
        "DEBUG": "0",
        # The sessions made here are signed with it.
        "SECRET_KEY": settings.SECRET_KEY,
        "SITE_URL": "http://127.0.0.1",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "RATE_LIMIT_KNOCK": "1000000/m",
        "VAR_DIR": str(var),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/livez")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on {port} within a minute")


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(int(len(ordered) * share) - 1, 0)]


def progress(message: str) -> None:
    print(f"{__name__}: {message}...", file=sys.stderr, flush=True)
