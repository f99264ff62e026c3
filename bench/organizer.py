"""The organizer at the door: the unit page and the knock, at the demo size and at a large
organization's, against a bare view served the same way.

1. For each size, generate an organization (bench.generate) and log in as an organizer whose
   turf holds its first building.
2. Through django.test.Client, with DEBUG off, take turns: the bare view (GET), the unit page,
   the bare view (POST), a "not home" knock the way the page's htmx form sends it. The turns
   go round the first units of the building that have residents, each knock with a new key.
   Taking turns means a slow spell of the shared machine hits all four alike.
3. Count the queries of one unit page and one knock at each size: they must not grow.
4. Weigh a phone's first load of a unit page as the browser downloads it: the HTML as the
   middleware compresses it, and each stylesheet, script, icon and manifest it links as
   WhiteNoise serves them (Brotli where the browser takes it and the package is installed,
   else gzip at level 9; as sent when compressing saves under 5 %).

BENCH_EXPLAIN=1 prints EXPLAIN ANALYZE for every SELECT of one unit page and one knock at
the large size, to find the query that grew.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from whitenoise.compress import Compressor

from bench.generate import Generated, generate
from buildings.models import Building, Unit
from contacts.models import Contact, Outcome, Status, Visit

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

    from bench.__main__ import Table

REPEAT = 200
WARM_UP = 5
# The doors the requests go round; each has residents.
DOORS = 20
SIZES: dict[str, dict[str, int]] = {
    # Like seed_demo: a building of a few dozen doors, ~60 residents, ~800 visits.
    "demo": {
        "buildings": 1,
        "floors": 6,
        "units_per_floor": 5,
        "contacts": 60,
        "visits": 800,
        "organizers": 3,
    },
    "large": {
        "buildings": 100,
        "floors": 10,
        "units_per_floor": 10,
        "contacts": 20_000,
        "visits": 500_000,
        "organizers": 20,
    },
}
P95_TARGET_MS = 50.0
FIRST_LOAD_TARGET_KB = 25.0

BARE_GET = "bare view GET"
UNIT_PAGE = "unit page GET"
BARE_POST = "bare view POST"
KNOCK = "knock POST (htmx, not home)"
# What each is a ratio to: a request of the same method.
BASELINES = {BARE_GET: None, UNIT_PAGE: BARE_GET, BARE_POST: BARE_GET, KNOCK: BARE_POST}
# The unit page's knocks post with htmx, which answers with the cards: the residents and the door.
HTMX = {"HX-Request": "true"}


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


# Served through the whole middleware stack, like the app's own views.
urlpatterns = [
    path("bench/bare/", bare, name="bench_bare"),
    path("", include("organizing.urls")),
]


@dataclass
class Door:
    unit: Unit
    residents: list[int]

    @property
    def url(self) -> str:
        return reverse("buildings:unit", args=[self.unit.building_id, self.unit.pk])

    @property
    def knock_url(self) -> str:
        return reverse("buildings:knock", args=[self.unit.building_id, self.unit.pk])


@dataclass
class Measured:
    label: str
    generated: Generated
    table: Table
    medians: dict[str, float]
    p95s: dict[str, float]
    queries: dict[str, int]


def run() -> list[Table]:
    from bench.__main__ import Table

    keys = (f"bench-knock-{n:08d}" for n in itertools.count())
    measured = []
    # The knock limit is still counted on every post (its cost is in the figures), only
    # set high enough that hundreds of knocks a second are not refused.
    limits = settings.RATE_LIMITS | {"knock": "1000000/m"}
    with (
        override_settings(DEBUG=False, ROOT_URLCONF=__name__, RATE_LIMITS=limits),
        warnings.catch_warnings(),
    ):
        # WhiteNoise looks for the collected static files that only production builds.
        warnings.filterwarnings("ignore", "No directory at", UserWarning)
        for label, size in SIZES.items():
            progress(f"generating the {label} size")
            generated = generate(f"Bench {label.title()} Union", **size)
            progress(f"timing the {label} size")
            measured.append(measure(label, generated, keys))
        downloads = weigh_first_load(measured[-1].generated)
        if os.environ.get("BENCH_EXPLAIN"):
            explain(measured[-1])
    return [m.table for m in measured] + [
        Table(f"{__name__}: targets", [], notes=targets(measured, downloads))
    ]


def measure(label: str, generated: Generated, keys: Iterator[str]) -> Measured:
    from bench.__main__ import Row, Table, summarize

    actor = generated.members[0]
    client = Client()
    client.force_login(actor.user)
    doors = doors_of(actor.user_id)
    bare_url = reverse("bench_bare")
    knocks_before = Visit.objects.filter(organization=generated.organization).count()

    def knock_data(contact_id: int) -> dict[str, str]:
        prefix = f"c{contact_id}"
        return {
            "contact": str(contact_id),
            f"{prefix}-outcome": Outcome.NOT_HOME.value,
            f"{prefix}-key": next(keys),
        }

    def requests(door: Door, contact_id: int) -> list[tuple[str, Callable[[], Response]]]:
        return [
            (BARE_GET, lambda: client.get(bare_url)),
            (UNIT_PAGE, lambda: client.get(door.url)),
            (BARE_POST, lambda: client.post(bare_url, knock_data(contact_id), headers=HTMX)),
            (KNOCK, lambda: client.post(door.knock_url, knock_data(contact_id), headers=HTMX)),
        ]

    samples: dict[str, list[float]] = {BARE_GET: [], UNIT_PAGE: [], BARE_POST: [], KNOCK: []}
    # With DEBUG off nothing is kept per query, however many requests run.
    assert not connection.queries_logged, "queries would be logged while timing"
    for turn in range(WARM_UP + REPEAT):
        door = doors[turn % len(doors)]
        contact_id = door.residents[turn // len(doors) % len(door.residents)]
        for name, request in requests(door, contact_id):
            started = time.perf_counter()
            response = request()
            elapsed = time.perf_counter() - started
            check(name, response)
            if turn >= WARM_UP:
                samples[name].append(elapsed)
    knocked = Visit.objects.filter(organization=generated.organization).count() - knocks_before
    assert knocked == WARM_UP + REPEAT, f"{knocked} knocks recorded, not {WARM_UP + REPEAT}"
    # Each request starts by emptying the log: anything here was logged by the last one.
    assert not connection.queries_log, "queries were logged while timing"

    queries = {}
    door = doors[0]
    for name, request in requests(door, door.residents[0]):
        with CaptureQueriesContext(connection) as captured:
            check(name, request())
        queries[name] = len(captured.captured_queries)

    rows = [
        Row(name, samples[name], baseline=BASELINES[name], queries=queries[name])
        for name in samples
    ]
    summaries = {name: summarize(values) for name, values in samples.items()}
    return Measured(
        label=label,
        generated=generated,
        table=Table(
            f"{__name__}: {label} size, {generated}",
            rows,
            notes=[
                f"generated in {generated.seconds:.1f} s; {REPEAT} turns after {WARM_UP} "
                f"warm-ups round {len(doors)} doors of {doors[0].unit.building.name}; "
                "POSTs are ratios to the bare POST"
            ],
        ),
        medians={name: median for name, (median, _) in summaries.items()},
        p95s={name: p95 for name, (_, p95) in summaries.items()},
        queries=queries,
    )


def doors_of(user_id: int) -> list[Door]:
    building = Building.objects.filter(turf__organizer_id=user_id).order_by("pk").first()
    assert building is not None, "the organizer has no turf"
    units = (
        Unit.objects.filter(building=building, residents__status=Status.ACTIVE)
        .select_related("building")
        .distinct()
        .order_by("-floor", "label")[:DOORS]
    )
    doors = []
    for unit in units:
        residents = Contact.objects.filter(unit=unit, status=Status.ACTIVE).order_by("pk")
        doors.append(Door(unit, list(residents.values_list("pk", flat=True))))
    assert doors, f"nobody lives in {building}"
    return doors


def progress(message: str) -> None:
    print(f"{__name__}: {message}...", file=sys.stderr, flush=True)


def check(name: str, response: Response) -> None:
    if response.status_code != 200:
        raise AssertionError(f"{name}: {response.status_code}")
    if name == KNOCK and b'id="cards"' not in response.content:
        raise AssertionError(f"{name}: the cards did not come back")


@dataclass
class Download:
    what: str
    raw: int
    sent: int
    encoding: str


# What a phone's browser says it accepts over HTTPS.
ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate, br"}


def first_load() -> list[Table]:
    """The unit page's first load alone, at the demo size: `BENCH_SUITES=first_load`."""
    from bench.__main__ import Table

    with override_settings(DEBUG=False), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No directory at", UserWarning)
        generated = generate("Bench First Load Union", **SIZES["demo"])
        downloads = weigh_first_load(generated)
    return [Table(f"{__name__}: the unit page's first load", [], notes=first_load_notes(downloads))]


def weigh_first_load(generated: Generated) -> list[Download]:
    """The unit page as a phone first loads it: the HTML, then each file it links, read
    from the static files and compressed as collectstatic has WhiteNoise do it."""
    client = Client()
    client.force_login(generated.members[0].user)
    door = doors_of(generated.members[0].user_id)[0]
    response = client.get(door.url, headers=ACCEPT_ENCODING)
    check(UNIT_PAGE, response)
    html = response.content
    raw_html = client.get(door.url).content
    downloads = [
        Download(
            "HTML of the unit page", len(raw_html), len(html), response.get("Content-Encoding", "")
        )
    ]
    linked = re.findall(rb'<(?:link\b[^>]*\bhref|script\b[^>]*\bsrc)="([^"]+)"', raw_html)
    static_prefix = urlparse(settings.STATIC_URL).path.strip("/") + "/"
    for url in linked:
        relative = urlparse(url.decode()).path.lstrip("/").removeprefix(static_prefix)
        found = finders.find(relative)
        if not isinstance(found, str):
            raise AssertionError(f"{url.decode()} is linked but not a static file")
        body = Path(found).read_bytes()
        sent, encoding = as_whitenoise_serves(relative, body)
        downloads.append(Download(relative, len(body), sent, encoding))
    return downloads


def as_whitenoise_serves(name: str, body: bytes) -> tuple[int, str]:
    """The bytes WhiteNoise sends for a static file, and their encoding: the first of
    Brotli and gzip that collectstatic kept (each only when it saves 5 %), else the file."""
    compressor = Compressor(quiet=True)
    if compressor.should_compress(name):
        encodings = [("br", compressor.compress_brotli)] if compressor.use_brotli else []
        for encoding, compress in [*encodings, ("gzip", compressor.compress_gzip)]:
            data = compress(body)
            if compressor.is_compressed_effectively(encoding, name, len(body), data):
                return len(data), encoding
    return len(body), "none"


def targets(measured: list[Measured], downloads: list[Download]) -> list[str]:
    demo, large = measured[0], measured[-1]
    notes = []
    for name in (UNIT_PAGE, KNOCK):
        p95s = ", ".join(f"{m.label} {m.p95s[name] * 1000:.1f}" for m in measured)
        worst = max(m.p95s[name] for m in measured) * 1000
        verdict = "ok" if worst < P95_TARGET_MS else "MISSED"
        notes.append(f"p95 under {P95_TARGET_MS:.0f} ms, {name}: {p95s} ms  {verdict}")
    for name in (UNIT_PAGE, KNOCK):
        growth = large.medians[name] / demo.medians[name]
        # The machine's own drift between the two sizes, as the bare view saw it, divided out.
        baseline = BASELINES[name] or BARE_GET
        drift = large.medians[baseline] / demo.medians[baseline]
        counts = f"{demo.queries[name]} -> {large.queries[name]}"
        verdict = "same" if demo.queries[name] == large.queries[name] else "GROWS"
        notes.append(
            f"no growth with size, {name}: median large/demo {growth:.2f}x, "
            f"{growth / drift:.2f}x in bare-view units; queries {counts} {verdict}"
        )
    notes += first_load_notes(downloads)
    return notes


def first_load_notes(downloads: list[Download]) -> list[str]:
    total = sum(d.sent for d in downloads)
    verdict = "ok" if total / 1024 < FIRST_LOAD_TARGET_KB else "MISSED"
    notes = [
        f"unit page's first load under {FIRST_LOAD_TARGET_KB:.0f} KB, as the browser downloads it:"
    ]
    for d in downloads:
        notes.append(
            f"  {d.what:40} {d.raw / 1024:7.1f} KB raw {d.sent / 1024:7.1f} KB sent ({d.encoding})"
        )
    raw = sum(d.raw for d in downloads)
    notes.append(f"  {'total':40} {raw / 1024:7.1f} KB raw {total / 1024:7.1f} KB sent  {verdict}")
    return notes


def explain(measured: Measured) -> None:
    """EXPLAIN ANALYZE each SELECT of one unit page and one knock, at this size."""
    client = Client()
    actor = measured.generated.members[0]
    client.force_login(actor.user)
    door = doors_of(actor.user_id)[0]
    contact_id = door.residents[0]
    data = {
        "contact": str(contact_id),
        f"c{contact_id}-outcome": Outcome.NOT_HOME.value,
        f"c{contact_id}-key": "bench-explain-0001",
    }
    for name, request in [
        (UNIT_PAGE, lambda: client.get(door.url)),
        (KNOCK, lambda: client.post(door.knock_url, data, headers=HTMX)),
    ]:
        with CaptureQueriesContext(connection) as captured:
            check(name, request())
        print(f"\nEXPLAIN ANALYZE, {name} at the {measured.label} size")
        for query in captured.captured_queries:
            sql = query["sql"]
            # Django keeps each query's time in seconds, to the millisecond.
            print(f"\n  [{query['time']} s] {sql}")
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                for (line,) in cursor.fetchall():
                    print(f"    {line}")
