"""The hourly lapse job and the committee's dashboard at a deployment's size, each against
its floor.

BENCH_LAPSE_SIZE=full generates the largest deployment the app is built for, 1,000,000
contacts and 20,000,000 visits (about ten minutes); otherwise a tenth of it, so that
`make bench` stays short. Either way the deployment is one large organization (two fifths
of it) and six of a tenth each, as a city-wide union beside neighbourhood ones.

1. Generate a small organization (the demo's size) and the deployment (bench.generate),
   then add, set-based, what the generator does not draw: residents added from a roster and
   never reached, asks (some pending past their due date), follow-ups (some open past their
   date), snoozes (some over), and residents who moved or asked not to be contacted. Being
   SQL, both set each resident's building with its unit (Contact.building).
2. Time the floor: one hand-written SELECT count(*) of the lapsed contacts (active, not
   snoozed, no conversation within their level's threshold, or an ask overdue, or a
   follow-up missed), the thresholds joined in; and the write floor: one hand-written
   UPDATE giving the same set their flag and open lapse, rolled back, the least a first
   run must write (the first run is held to it; the runs that repeat, to the floor).
3. Time flag_lapsed twice with the same clock: the first run opens a lapse for each
   lapsed contact (checked against the floor's count), the second finds nothing new.
   Between them VACUUM ANALYZE, as autovacuum would in the hour between two runs. Then
   the runs of the next hours, each an hour on, which flag those whose clock ran out in
   it: what the beat schedule's hourly run does in service. Then the
   summary's own queries alone (this week's conversations and the weekly lapse rate; the
   other figures, overdue asks included, come from the job's pass over the contacts).
4. Through django.test.Client, with DEBUG off, take turns: a bare view, then the committee
   dashboard as a committee member of the largest organization. Count the dashboard's
   queries there and in the small organization: they must be the same.

BENCH_EXPLAIN=1 prints, for a first run of flag_lapsed (rehearsed and rolled back) and for
one dashboard at this size, each statement with its time and EXPLAIN (ANALYZE, BUFFERS).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from django.utils import timezone

from bench.generate import Generated, _row_sql, generate
from contacts.lapse.job import FlagCounts, flag_lapsed
from contacts.lapse.summary import take_summaries
from contacts.models import (
    DEFAULT_THRESHOLD_DAYS,
    Answer,
    Ask,
    Contact,
    FollowUp,
    LapseEpisode,
    LapseFlag,
    LapseReason,
    LapseThreshold,
    Level,
    Status,
)
from organizing.models import Membership, Role

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

    from bench.__main__ import Table

Shape = dict[str, int]

SMALL: Shape = {
    "buildings": 1,
    "floors": 6,
    "units_per_floor": 5,
    "contacts": 60,
    "visits": 800,
    "organizers": 3,
}
# At the default size; "full" multiplies buildings, organizers and contacts by SCALE. About
# 2.5 residents a door and 20 visits a resident.
CITY: Shape = {"buildings": 80, "floors": 20, "units_per_floor": 10, "organizers": 20}
CITY_CONTACTS = 40_000
NEIGHBOURHOOD: Shape = {"buildings": 40, "floors": 10, "units_per_floor": 10, "organizers": 5}
NEIGHBOURHOOD_CONTACTS = 10_000
SCALE = {"default": 1, "full": 10}
NEIGHBOURHOODS = 6
VISITS_PER_CONTACT = 20
# Per mille of contacts, drawn from a hash of the contact's id (see `mix`).
ROSTER_ADDED = 10
# Fewer turns at the full size, where each dashboard takes seconds.
REPEAT = {"default": 100, "full": 30}
WARM_UP = 3
FLOOR_REPEAT = 3
SECOND_RUN_REPEAT = 3
HOURS_LATER = 3
HOUR = dt.timedelta(hours=1)
SLOW_STATEMENT_S = 0.2
JOB_TARGET_RATIO = 3.0
JOB_TARGET_S = 10.0
P95_TARGET_MS = 200.0

FLOOR = "floor: one SELECT count(*) of the lapsed"
WRITE_FLOOR = "write floor: one UPDATE of the lapsed"
FIRST_RUN = "flag_lapsed, first run (opens lapses)"
SECOND_RUN = "flag_lapsed, second run (nothing new)"
HOUR_LATER = "flag_lapsed, each of the next hours"
SUMMARY = "  of which the summary's own queries"
BARE = "bare view GET"
DASHBOARD = "committee dashboard GET"


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("bench/bare/", bare, name="bench_bare"),
    path("", include("organizing.urls")),
]


@dataclass
class Deployment:
    size: str
    small: Generated
    largest: Generated
    organizations: list[Generated]
    seconds: float

    @property
    def ids(self) -> list[int]:
        return [g.organization.pk for g in [self.small, *self.organizations]]


def run() -> list[Table]:
    size = "full" if os.environ.get("BENCH_LAPSE_SIZE") == "full" else "default"
    deployment = build(size)
    now = timezone.now()
    job = time_job(deployment, now)
    with override_settings(DEBUG=False, ROOT_URLCONF=__name__), warnings.catch_warnings():
        # WhiteNoise looks for the collected static files that only production builds.
        warnings.filterwarnings("ignore", "No directory at", UserWarning)
        board = time_dashboard(deployment)
        if os.environ.get("BENCH_EXPLAIN"):
            explain_job(now)
            explain_dashboard(deployment)
    return [job, board]


# 1. The data


def build(size: str) -> Deployment:
    started = time.perf_counter()
    progress("generating the small organization")
    small = generate("Bench Lapse Small", **SMALL)
    organizations = []
    scale = SCALE[size]
    shapes = [("City", CITY, CITY_CONTACTS)] + [
        (f"Neighbourhood {n}", NEIGHBOURHOOD, NEIGHBOURHOOD_CONTACTS)
        for n in range(1, NEIGHBOURHOODS + 1)
    ]
    for name, shape, contacts in shapes:
        contacts *= scale
        progress(f"generating {name}, {contacts:,} contacts")
        organizations.append(
            generate(
                f"Bench Lapse {name}",
                buildings=shape["buildings"] * scale,
                floors=shape["floors"],
                units_per_floor=shape["units_per_floor"],
                organizers=shape["organizers"] * scale,
                # Roster additions (see `mix`) make up the rest of the contacts.
                contacts=contacts * (1000 - ROSTER_ADDED) // 1000,
                visits=contacts * VISITS_PER_CONTACT,
            )
        )
    deployment = Deployment(
        size=size,
        small=small,
        largest=organizations[0],
        organizations=organizations,
        seconds=0.0,
    )
    progress("adding asks, follow-ups, snoozes and moves")
    mix(deployment.ids, timezone.now())
    deployment.seconds = time.perf_counter() - started
    return deployment


def mix(organizations: list[int], now: dt.datetime) -> None:
    """What the generator leaves out, each row drawn from a hash of a contact's id (the
    per mille bounds are in the SQL): residents added from a roster and never reached (1%),
    asks (3% pending past due, 2% pending, 3% answered), follow-ups (2.5% open past their
    date, 2% open ahead, 1.5% cancelled), snoozes (2% on, 0.5% over), moves (3% moved out,
    0.5% do not contact)."""
    today = timezone.localdate(now)
    contact, ask, follow_up = (m._meta.db_table for m in (Contact, Ask, FollowUp))
    base: dict[str, Any] = {"organizations": organizations, "today": today, "now": now}

    def draw(seed: int) -> str:
        return f"(hashint8extended(c.id, {seed}) & 2147483647) %% 1000"

    with transaction.atomic(), connection.cursor() as cursor:
        # Residents of the same doors, added from a roster up to four months ago.
        columns, values, params = _row_sql(
            Contact,
            {
                "organization": "c.organization_id",
                "unit": "c.unit_id",
                "building": "c.building_id",
                "owner": "c.owner_id",
                "name": "'Roster ' || c.id",
                "level": str(Level.NEW.value),
                "created_at": f"%(now)s::timestamptz - interval '1 day' * ({draw(21)} %% 120)",
            },
        )
        cursor.execute(
            f"""
            INSERT INTO {contact} ({columns})
            SELECT {values} FROM {contact} AS c
            WHERE c.organization_id = ANY(%(organizations)s) AND {draw(20)} < {ROSTER_ADDED}
            """,
            params | base,
        )
        columns, values, params = _row_sql(
            Ask,
            {
                "contact": "c.id",
                "question": "'Floor captain?'",
                "asked_by": "c.owner_id",
                "asked_at": "d.due_on - interval '14 days'",
                "due_on": "d.due_on",
                "answer": f"CASE WHEN d.r < 50 THEN '{Answer.PENDING}' "
                f"WHEN d.r < 65 THEN '{Answer.YES}' ELSE '{Answer.NO}' END",
                "answered_at": "CASE WHEN d.r < 50 THEN NULL ELSE d.due_on - interval '2 days' END",
            },
        )
        cursor.execute(
            f"""
            INSERT INTO {ask} ({columns})
            SELECT {values}
            FROM {contact} AS c
            CROSS JOIN LATERAL (SELECT {draw(11)} AS r) AS h
            CROSS JOIN LATERAL (
                SELECT h.r AS r,
                       CASE WHEN h.r < 30 OR h.r >= 50 THEN %(today)s::date - 1 - (h.r %% 20)::int
                            ELSE %(today)s::date + 1 + (h.r %% 14)::int END AS due_on
            ) AS d
            WHERE c.organization_id = ANY(%(organizations)s) AND h.r < 80
            """,
            params | base,
        )
        columns, values, params = _row_sql(
            FollowUp,
            {
                "contact": "c.id",
                "planned_for": "d.planned_for",
                "assigned_to": "c.owner_id",
                "purpose": "'Bring the petition'",
                "created_at": "d.planned_for - interval '7 days'",
                "cancelled_at": "CASE WHEN d.r >= 45 THEN d.planned_for::timestamptz END",
                "cancel_reason": "CASE WHEN d.r >= 45 THEN 'Tenant asked to wait' ELSE '' END",
            },
        )
        cursor.execute(
            f"""
            INSERT INTO {follow_up} ({columns})
            SELECT {values}
            FROM {contact} AS c
            CROSS JOIN LATERAL (SELECT {draw(12)} AS r) AS h
            CROSS JOIN LATERAL (
                SELECT h.r AS r,
                       CASE WHEN h.r < 25 OR h.r >= 45 THEN %(today)s::date - 1 - (h.r %% 10)::int
                            ELSE %(today)s::date + 1 + (h.r %% 10)::int END AS planned_for
            ) AS d
            WHERE c.organization_id = ANY(%(organizations)s) AND h.r < 60
            """,
            params | base,
        )
        cursor.execute(
            f"""
            UPDATE {contact} AS c
            SET snoozed_until = CASE WHEN {draw(13)} < 20
                                     THEN %(today)s::date + 1 + (c.id %% 30)::int
                                     ELSE %(today)s::date - 1 - (c.id %% 10)::int END,
                snooze_reason = 'On holiday'
            WHERE c.organization_id = ANY(%(organizations)s) AND {draw(13)} < 25
            """,
            base,
        )
        cursor.execute(
            f"""
            UPDATE {contact} AS c
            SET status = CASE WHEN {draw(14)} < 30 THEN '{Status.MOVED}'
                              ELSE '{Status.DO_NOT_CONTACT}' END,
                unit_id = CASE WHEN {draw(14)} < 30 THEN NULL ELSE c.unit_id END,
                building_id = CASE WHEN {draw(14)} < 30 THEN NULL ELSE c.building_id END
            WHERE c.organization_id = ANY(%(organizations)s) AND {draw(14)} < 35
            """,
            base,
        )
    vacuum_analyze(Contact, Ask, FollowUp)


def vacuum_analyze(*models: type[Any]) -> None:
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")


# 2. and 3. The job against the floor


def floor_sql() -> str:
    """The lapsed contacts of every organization, as flag_lapsed selects them, by hand."""
    contact, threshold, ask, follow_up = (
        m._meta.db_table for m in (Contact, LapseThreshold, Ask, FollowUp)
    )
    # A level the committee never saved takes its default (LapseThreshold.settings_by_level).
    default_days = " ".join(
        f"WHEN {level} THEN {days}" for level, days in DEFAULT_THRESHOLD_DAYS.items()
    )
    return f"""
        SELECT count(*)
        FROM {contact} AS c
        LEFT JOIN {threshold} AS t ON t.organization_id = c.organization_id AND t.level = c.level
        WHERE c.status = '{Status.ACTIVE}'
          AND (c.snoozed_until IS NULL OR c.snoozed_until < %(today)s)
          AND (
            coalesce(c.last_conversation_at, c.created_at)
                <= %(now)s::timestamptz
                   - coalesce(t.days, CASE c.level {default_days} END) * interval '1 day'
            OR EXISTS (
                SELECT 1 FROM {ask} AS a
                WHERE a.contact_id = c.id AND a.answer = '{Answer.PENDING}'
                  AND a.due_on < %(today)s
            )
            OR EXISTS (
                SELECT 1 FROM {follow_up} AS f
                WHERE f.contact_id = c.id AND f.done_by_id IS NULL AND f.cancelled_at IS NULL
                  AND f.planned_for < %(today)s
            )
          )
    """


def time_write_floor(now: dt.datetime) -> float:
    """The least a first run must write: one hand-written UPDATE giving the floor's set
    their flag and open lapse, rolled back, and the table vacuumed after it."""
    contact = Contact._meta.db_table
    lapsed = floor_sql().replace("SELECT count(*)", "SELECT c.id", 1)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                f"""
                UPDATE {contact} SET lapse_flag = '{LapseFlag.LAPSED}',
                    lapse_started_at = %(now)s, lapse_level = level,
                    lapse_reason = '{LapseReason.NO_CONVERSATION}'
                WHERE id IN ({lapsed})
                """,
                {"now": now, "today": timezone.localdate(now)},
            )
            seconds = time.perf_counter() - started
            raise Rehearsal
    except Rehearsal:
        pass
    vacuum_analyze(Contact)
    return seconds


def count_floor(now: dt.datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(floor_sql(), {"now": now, "today": timezone.localdate(now)})
        (count,) = cursor.fetchone()
    return int(count)


def time_job(deployment: Deployment, now: dt.datetime) -> Table:
    from bench.__main__ import Row, Table

    progress("timing the floor")
    floor: list[float] = []
    for _ in range(FLOOR_REPEAT):
        started = time.perf_counter()
        lapsed = count_floor(now)
        floor.append(time.perf_counter() - started)
    progress("timing the write floor")
    write_floor_s = time_write_floor(now)
    progress("timing flag_lapsed, first run")
    with CaptureQueriesContext(connection) as first_statements:
        started = time.perf_counter()
        first = flag_lapsed(now=now)
        first_s = time.perf_counter() - started
    opened = Contact.objects.filter(lapse_started_at__isnull=False).count()
    assert first.opened == opened == lapsed, (
        f"the job opened {first.opened} lapses ({opened} open), the floor counts {lapsed}"
    )
    # An hour passes between two runs: autovacuum would have cleaned up after the first.
    vacuum_analyze(Contact, LapseEpisode)
    progress("timing flag_lapsed, second runs")
    second: list[float] = []
    for _ in range(SECOND_RUN_REPEAT):
        started = time.perf_counter()
        again = flag_lapsed(now=now)
        second.append(time.perf_counter() - started)
        assert again.opened == again.resolved == again.escalated == 0, f"not idempotent: {again}"

    # What the second run spends on the summary's own queries (the counts come from the
    # job's pass over the contacts), alone.
    summary: list[float] = []
    for _ in range(SECOND_RUN_REPEAT):
        with transaction.atomic():
            started = time.perf_counter()
            take_summaries(now, [])
            summary.append(time.perf_counter() - started)

    # The runs of the next hours, as the beat schedule makes them: each flags the contacts
    # whose clock ran out in its hour (and their lapses), all else as before.
    progress("timing flag_lapsed, the next hours")
    hourly: list[float] = []
    moved: list[FlagCounts] = []
    for hours in range(1, HOURS_LATER + 1):
        vacuum_analyze(Contact, LapseEpisode)
        started = time.perf_counter()
        moved.append(flag_lapsed(now=now + hours * HOUR))
        hourly.append(time.perf_counter() - started)

    floor_s, second_s = statistics.median(floor), statistics.median(second)
    hourly_s = statistics.median(hourly)
    notes = [
        f"{deployment.size} size: {describe(deployment)}; generated and mixed in "
        f"{deployment.seconds:.0f} s",
        f"lapsed (the floor's count, and lapses opened by the first run): {lapsed:,}; "
        f"first run: {first}",
    ]
    notes.append(
        f"first run, its statements over {SLOW_STATEMENT_S} s: "
        + "; ".join(
            f"{float(query['time']):.2f} s {' '.join(query['sql'].split())[:40]}"
            for query in first_statements.captured_queries
            if float(query["time"]) > SLOW_STATEMENT_S
        )
    )
    notes.append(
        f"the next {HOURS_LATER} hours opened "
        + ", ".join(f"{counts.opened:,}" for counts in moved)
        + " lapses"
    )
    # A first run writes every lapse, and the bare UPDATE of the same set alone takes
    # several times the floor that selects it: the first run is held to that write
    # floor. The runs that repeat write little, and are held to the floor that selects.
    runs = (
        ("first run", first_s, write_floor_s, "the write floor"),
        ("second run", second_s, floor_s, "the floor"),
        ("each next hour", hourly_s, floor_s, "the floor"),
    )
    for label, seconds, baseline, against in runs:
        ratio = seconds / baseline
        verdict = "ok" if ratio <= JOB_TARGET_RATIO and seconds < JOB_TARGET_S else "MISSED"
        if deployment.size != "full":
            # The targets are set for the full size; at a tenth of it, the job's few
            # dozen small fixed statements weigh ten times as much against the floor.
            verdict = "(the targets are for BENCH_LAPSE_SIZE=full)"
        notes.append(
            f"flag_lapsed within {JOB_TARGET_RATIO:.0f}x {against} and under "
            f"{JOB_TARGET_S:.0f} s, {label}: {seconds:.2f} s, {ratio:.1f}x  {verdict}"
        )
    notes.append(
        f"the first run against the floor that selects: {first_s / floor_s:.1f}x; the "
        f"write floor alone is {write_floor_s / floor_s:.1f}x it"
    )
    notes.append(
        f"of the second run, the summary's own queries (contacts.lapse.summary): "
        f"{statistics.median(summary):.2f} s, {statistics.median(summary) / floor_s:.1f}x"
    )
    notes.append(
        f"floor: median of {FLOOR_REPEAT}; second run: median of {SECOND_RUN_REPEAT}; "
        "the job covers every organization in the database, as does the floor"
    )
    return Table(
        f"{__name__}: flag_lapsed against its floor",
        [
            Row(FLOOR, floor),
            Row(WRITE_FLOOR, [write_floor_s]),
            Row(FIRST_RUN, [first_s]),
            Row(SECOND_RUN, second),
            Row(HOUR_LATER, hourly),
            Row(SUMMARY, summary),
        ],
        notes=notes,
    )


def describe(deployment: Deployment) -> str:
    """What is in the database now, as the job sees it: every organization's rows."""
    today = timezone.localdate()
    contacts = Contact.objects.all()
    return ", ".join(
        [
            f"{len(deployment.ids)} organizations (largest {deployment.largest})",
            f"{contacts.count():,} contacts in all",
            f"{contacts.filter(status=Status.ACTIVE, snoozed_until__gte=today).count():,} snoozed",
            f"{contacts.exclude(status=Status.ACTIVE).count():,} moved or do-not-contact",
            f"{contacts.filter(last_conversation_at__isnull=True).count():,} never talked",
            f"{Ask.objects.filter(answer=Answer.PENDING, due_on__lt=today).count():,} "
            "asks past due",
            f"{FollowUp.objects.open().filter(planned_for__lt=today).count():,} follow-ups missed",
        ]
    )


# 4. The dashboard


def committee_member(generated: Generated) -> User:
    organization = generated.organization
    user = User.objects.create_user(f"{organization.slug}-committee"[:150])
    Membership.objects.create(user=user, organization=organization, role=Role.COMMITTEE)
    return user


def time_dashboard(deployment: Deployment) -> Table:
    from bench.__main__ import Row, Table, summarize

    progress("timing the committee dashboard")
    client = Client()
    client.force_login(committee_member(deployment.largest))
    small = Client()
    small.force_login(committee_member(deployment.small))
    bare_url, url = reverse("bench_bare"), reverse("committee:dashboard")

    samples: dict[str, list[float]] = {BARE: [], DASHBOARD: []}
    assert not connection.queries_logged, "queries would be logged while timing"
    repeat = REPEAT[deployment.size]
    for turn in range(WARM_UP + repeat):
        for name, target in ((BARE, bare_url), (DASHBOARD, url)):
            started = time.perf_counter()
            response = client.get(target)
            elapsed = time.perf_counter() - started
            check(name, response)
            if turn >= WARM_UP:
                samples[name].append(elapsed)

    queries = {}
    for label, who in (("small", small), ("large", client)):
        with CaptureQueriesContext(connection) as captured:
            check(DASHBOARD, who.get(url))
        queries[label] = len(captured.captured_queries)

    _, p95 = summarize(samples[DASHBOARD])
    flagged = Contact.objects.filter(
        organization=deployment.largest.organization,
        lapse_flag__in=(LapseFlag.LAPSED, LapseFlag.ESCALATED),
    ).count()
    verdict = "ok" if p95 * 1000 < P95_TARGET_MS else "MISSED"
    same = "same" if queries["small"] == queries["large"] else "GROWS"
    return Table(
        f"{__name__}: committee dashboard, {deployment.largest.organization.name}",
        [Row(BARE, samples[BARE]), Row(DASHBOARD, samples[DASHBOARD], queries=queries["large"])],
        notes=[
            f"{deployment.largest}; {flagged:,} of them lapsed or escalated after flag_lapsed",
            f"{repeat} turns after {WARM_UP} warm-ups, as a committee member, DEBUG off",
            f"p95 under {P95_TARGET_MS:.0f} ms: {p95 * 1000:.1f} ms  {verdict}",
            f"queries, small organization ({deployment.small}) -> largest: "
            f"{queries['small']} -> {queries['large']}  {same}",
        ],
    )


def check(name: str, response: Response) -> None:
    if response.status_code != 200:
        raise AssertionError(f"{name}: {response.status_code}")
    if name == DASHBOARD and b'id="lapsed"' not in response.content:
        raise AssertionError(f"{name}: the lapsed list is missing")


def progress(message: str) -> None:
    print(f"{__name__}: {message}...", file=sys.stderr, flush=True)


# BENCH_EXPLAIN


class Rehearsal(Exception):
    """Raised to roll back a rehearsed run."""


def explain_job(now: dt.datetime) -> None:
    """A first run again, from no lapses and every flag OK: its statements captured (with
    their times), then each EXPLAIN ANALYZEd in turn, all in one transaction rolled back."""
    try:
        with transaction.atomic():
            LapseEpisode.objects.all().delete()
            Contact.objects.update(
                lapse_flag=LapseFlag.OK,
                lapse_started_at=None,
                lapse_reason="",
                lapse_level=None,
                lapse_escalated_at=None,
                orphaned=False,
            )
            start = transaction.savepoint()
            with CaptureQueriesContext(connection) as captured:
                flag_lapsed(now=now)
            transaction.savepoint_rollback(start)
            print("\nEXPLAIN ANALYZE, flag_lapsed first run (rehearsed, rolled back)")
            explain(captured, analyze_all=True)
            raise Rehearsal
    except Rehearsal:
        pass


def explain_dashboard(deployment: Deployment) -> None:
    client = Client()
    membership = Membership.objects.get(
        organization=deployment.largest.organization, role=Role.COMMITTEE
    )
    client.force_login(membership.user)
    with CaptureQueriesContext(connection) as captured:
        check(DASHBOARD, client.get(reverse("committee:dashboard")))
    print(f"\nEXPLAIN ANALYZE, {DASHBOARD} at the {deployment.size} size")
    explain(captured, analyze_all=False)


# flag_lapsed keeps the contacts whose state moved in a temporary table: its SELECT is
# explained; the statements that read the table, gone by then, say why they are not.
CREATE_AS = re.compile(r"^\s*CREATE TEMPORARY TABLE \w+ AS\s+(.*)$", re.DOTALL)


def explain(captured: CaptureQueriesContext, *, analyze_all: bool) -> None:
    """Each statement with the time Django took for it; EXPLAIN (ANALYZE, BUFFERS) of every
    statement that has a plan (not SAVEPOINT and the like), or with analyze_all False, of
    the SELECTs only."""
    explained = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE") if analyze_all else ("SELECT",)
    for query in captured.captured_queries:
        statement = query["sql"]
        print(f"\n  [{query['time']} s] {statement}")
        if created := CREATE_AS.match(statement):
            statement = created.group(1)
        if not statement.lstrip().upper().startswith(explained):
            continue
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")
                lines = [line for (line,) in cursor.fetchall()]
        except DatabaseError as error:
            lines = [f"(not explained: {str(error).splitlines()[0]})"]
        for line in lines:
            print(f"    {line}")
