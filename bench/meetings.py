"""Attendance at a meeting's door: the page of a meeting of 300 invited and one tap, against
a bare view served the same way (bench.organizer's), and the page's first load as a phone
downloads it.

1. An organization with a building of 300 residents, all invited to a meeting that began
   half an hour ago, ten of them already marked present; an organizer logged in.
2. Through django.test.Client, with DEBUG off, take turns: the bare view (GET), the
   attendance page, the bare view (POST), a "Came" tap as the page's htmx form sends it,
   each for the next resident with a new key.
3. The page's queries, and its HTML as the middleware compresses it (target: 30 KB).
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
import warnings
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bench.organizer import progress
from buildings.models import Building, Turf, Unit
from contacts.actions import mark_present
from contacts.models import Ask, Contact, Meeting
from organizing.models import Membership, Organization, Role

if TYPE_CHECKING:
    from bench.__main__ import Table

INVITED = 300
PRESENT = 10
REPEAT = 200
WARM_UP = 5
P95_TARGET_MS = 50.0
FIRST_LOAD_TARGET_KB = 30.0
BARE_GET = "bare view GET"
PAGE = f"attendance page GET ({INVITED} invited)"
BARE_POST = "bare view POST"
TAP = "Came POST (htmx)"


def meeting_of(invited: int) -> tuple[Meeting, User, list[Contact]]:
    organization = Organization.objects.create(name="Bench Meeting Union", slug="bench-meeting")
    user = User.objects.create_user("bench-meeting-organizer", password="x")
    Membership.objects.create(user=user, organization=organization, role=Role.ORGANIZER)
    building = Building.objects.create(
        organization=organization, name="Bench Towers", street_address="1 Main", floors=30
    )
    Turf.objects.create(building=building, organizer=user)
    units = Unit.objects.bulk_create(
        Unit(building=building, label=f"{n // 10 + 1}{n % 10:02d}", floor=n // 10 + 1)
        for n in range(invited)
    )
    people = Contact.objects.bulk_create(
        Contact(
            organization=organization,
            unit=unit,
            building=building,
            name=f"Resident {n:03d}",
            owner=user,
        )
        for n, unit in enumerate(units)
    )
    meeting = Meeting.objects.create(
        organization=organization,
        title="Bench meeting",
        starts_at=timezone.now() - dt.timedelta(minutes=30),
        place="Lobby",
    )
    Ask.objects.bulk_create(
        Ask(contact=c, meeting=meeting, question="Come?", due_on=timezone.localdate())
        for c in people
    )
    membership = Membership.objects.get(user=user)
    for n, person in enumerate(people[:PRESENT]):
        mark_present(
            actor=membership, meeting=meeting, contact=person, idempotency_key=f"bench-seen-{n:04d}"
        )
    return meeting, user, people[PRESENT:]


def run() -> list[Table]:
    from bench.__main__ import Row, Table

    limits = settings.RATE_LIMITS | {"knock": "1000000/m"}
    with (
        override_settings(DEBUG=False, ROOT_URLCONF="bench.organizer", RATE_LIMITS=limits),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", "No directory at", UserWarning)
        progress("making a meeting of 300")
        meeting, user, waiting = meeting_of(INVITED)
        client = Client()
        client.force_login(user)
        page = reverse("meetings:attendance", args=[meeting.pk])
        tap = reverse("meetings:attend", args=[meeting.pk])
        bare = reverse("bench_bare")
        keys = (f"bench-came-{n:06d}" for n in itertools.count())
        people = itertools.cycle(waiting)

        def came() -> None:
            data = {"contact": str(next(people).pk), "key": next(keys)}
            response = client.post(tap, data, headers={"HX-Request": "true"})
            assert response.status_code == 200, response.status_code

        def get_page() -> None:
            assert client.get(page).status_code == 200

        turns = [
            (BARE_GET, lambda: client.get(bare)),
            (PAGE, get_page),
            (BARE_POST, lambda: client.post(bare)),
            (TAP, came),
        ]
        samples: dict[str, list[float]] = {name: [] for name, _ in turns}
        progress("timing the attendance page and the tap")
        for turn in range(WARM_UP + REPEAT):
            for name, action in turns:
                started = time.perf_counter()
                action()
                if turn >= WARM_UP:
                    samples[name].append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as captured:
            get_page()
        queries = len(captured.captured_queries)
        raw = client.get(page).content
        compressed = client.get(page, headers={"Accept-Encoding": "gzip"})
        assert compressed["Content-Encoding"] == "gzip"
        sent = compressed.content
    p95 = sorted(samples[PAGE])[int(REPEAT * 0.95) - 1] * 1000
    notes = [
        f"p95 under {P95_TARGET_MS:.0f} ms, attendance page: {p95:.1f} ms  "
        + ("ok" if p95 < P95_TARGET_MS else "MISSED"),
        f"attendance page's first load under {FIRST_LOAD_TARGET_KB:.0f} KB: "
        f"{len(raw) / 1024:.1f} KB raw, {len(sent) / 1024:.1f} KB sent (gzip)  "
        + ("ok" if len(sent) / 1024 < FIRST_LOAD_TARGET_KB else "MISSED"),
    ]
    rows = [
        Row(BARE_GET, samples[BARE_GET]),
        Row(PAGE, samples[PAGE], BARE_GET, queries),
        Row(BARE_POST, samples[BARE_POST], BARE_GET),
        Row(TAP, samples[TAP], BARE_POST),
    ]
    return [Table("bench.meetings: attendance at the door", rows, notes)]
