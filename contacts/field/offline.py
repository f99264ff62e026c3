"""Knocks made without a signal, sent later by the phone's outbox (static/js/outbox.js).

A replayed submission carries the header `X-Doorstep-Replay: 1` and the time the knock
happened on the phone. It is recorded at that time; what changed meanwhile (the contact
moved, or was handed to another organizer) does not refuse it, it marks it for a look.
The header widens nothing else: a replay may name only a contact the organizer sees, or
one the trail shows on their turf or theirs within the last 30 days; a GET is never one.
The reply is JSON so the outbox can tell sent, already sent, and needs a look apart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, set_response_etag
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from buildings.models import Building, Unit
from contacts.actions import CLOCK_SKEW
from contacts.models import Ask, Attendance, Contact, ContactQuerySet, FollowUp, Meeting, Status
from organizing.access import MemberRequest, member_required
from organizing.models import Membership

# A phone may sit in a drawer for a while; older than this is more likely a broken clock.
OLDEST_REPLAY = dt.timedelta(days=30)


def is_replay(request: HttpRequest) -> bool:
    return request.headers.get("X-Doorstep-Replay") == "1"


def replayable(membership: Membership) -> ContactQuerySet:
    """The contacts a replay may name: those the member could have seen when the knock was
    made, as far back as a replay may reach. Anyone else is a 404, as on a live page."""
    return Contact.objects.replayable_by(membership, timezone.now() - OLDEST_REPLAY)


def contact_named(request: MemberRequest, pk: int | str) -> Contact | None:
    """The contact a tap names, if the member may name them: someone they see now or, for a
    replay, someone they could see when it was made. A replay nearly always names someone
    still theirs, so the trail (replayable) is searched only when the first look finds
    nobody: the usual knock costs the simple query."""
    found = Contact.objects.visible_to(request.membership).filter(pk=pk).first()
    if found is None and is_replay(request):
        found = replayable(request.membership).filter(pk=pk).first()
    return found


def happened_at(request: HttpRequest) -> dt.datetime | None:
    """The time the knock happened on the phone, or None for "now"."""
    raw = request.POST.get("happened_at", "").strip()
    if not raw:
        return None
    try:
        moment = parse_datetime(raw)
    except ValueError:  # well formed but no real time, like February 30th or +99:00
        moment = None
    if moment is None or timezone.is_naive(moment):
        raise ValidationError(_("The time of the knock could not be read."))
    if moment < timezone.now() - OLDEST_REPLAY:
        raise ValidationError(_("That knock is more than 30 days old; enter it by hand."))
    if moment > timezone.now() + CLOCK_SKEW:
        # Refused here, before anything reads its local day: the last moment of year 9999
        # at -23:59 has none (OverflowError).
        raise ValidationError(_("A visit can't be recorded in the future."))
    return moment


def day_of(request: HttpRequest) -> dt.date:
    """The local day the knock or conversation happened on the phone; today when it was
    sent at once, or its time can't be read (recording it says so)."""
    try:
        moment = happened_at(request)
    except ValidationError:
        moment = None
    return timezone.localdate(moment) if moment else timezone.localdate()


def reply(
    status: str, message: str, *, needs_look: str = "", http_status: int = 200
) -> JsonResponse:
    return JsonResponse(
        {"status": status, "message": message, "needs_look": needs_look}, status=http_status
    )


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from the site root so that its scope is the whole site."""
    script = finders.find("js/sw.js")
    response = HttpResponse(Path(str(script)).read_bytes(), content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response


MOST_PAGES = 900
# The attendance pages kept: of meetings today and in the next few days, so a phone taken
# to a basement hall with no signal has the list even if it was never opened.
ATTENDANCE_KEPT_DAYS = 3


def version(*parts: object) -> str:
    """A short name for what a page shows: it changes when any of the parts does."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=6).hexdigest()


def meetings_to_keep(membership: Membership, turf: list[int]) -> list[tuple[str, str]]:
    """The attendance page of each meeting of the organization that starts today or in
    the next ATTENDANCE_KEPT_DAYS days and is still open, with its version: what the page
    shows of the meeting, its invitations (answers and the invited's names and doors, read
    from their clocks) and who came, and whose turf reads it. One query, each tally its own
    subquery."""

    def latest(rows: QuerySet[Any], value: Any) -> Subquery:
        return Subquery(rows.values("meeting").annotate(v=value).values("v"))

    today = timezone.localdate()
    since = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    until = since + dt.timedelta(days=ATTENDANCE_KEPT_DAYS + 1)
    invitations = Ask.objects.filter(meeting=OuterRef("pk"))
    came = Attendance.objects.filter(meeting=OuterRef("pk"))
    meetings = (
        Meeting.objects.visible_to(membership)
        .filter(starts_at__gte=since, starts_at__lt=until, closed_at=None)
        .annotate(
            invited=latest(invitations, Count("pk")),
            answered=latest(
                invitations, Max(Greatest("asked_at", Coalesce("answered_at", "asked_at")))
            ),
            people=latest(invitations, Max("contact__updated_at")),
            came=latest(came, Count("pk")),
            last_came=latest(came, Max("pk")),
        )
        .order_by("starts_at", "pk")
        .values_list(
            "pk",
            "title",
            "starts_at",
            "place",
            "invited",
            "answered",
            "people",
            "came",
            "last_came",
        )
    )
    return [
        (reverse("meetings:attendance", args=[row[0]]), version(row, membership.role, turf))
        for row in meetings
    ]


@require_GET
@member_required()
def pages_to_keep(request: MemberRequest) -> HttpResponse:
    """The organizer's turf, for the service worker to keep while there is a signal:
    Today, their buildings and units, the Talked form of each resident there, and the
    contacts they own; each with a version that changes when what the page shows does, so
    the phone fetches again only what changed (sw.js); and the attendance pages of the
    coming days' meetings (`meetings_to_keep`). And how long a session lasts idle, past
    which the phone stops showing them.

    The versions are read from the clocks every knock and conversation moves (a contact's
    and a unit's), its open asks and follow-ups, and today's date (a page says "3 days
    ago"). Ten queries for the whole turf. The answer carries an ETag: a phone asking
    again with nothing changed is answered 304, a few hundred bytes."""
    membership = request.membership
    today = timezone.localdate()
    buildings = list(
        Building.objects.filter(
            organization=membership.organization, archived=False, turf__organizer=request.user
        ).values_list("pk", "name", "street_address", "access_notes", "notes")
    )
    units = list(
        Unit.objects.filter(building__in=[b[0] for b in buildings])
        .order_by("building", "-floor", "label")
        .values_list("pk", "building_id", "label", "vacant", "do_not_knock", "last_attempt_at")
    )
    residents = Contact.objects.filter(unit__in=[u[0] for u in units], status=Status.ACTIVE)
    owned = Contact.objects.filter(
        organization=membership.organization, owner=request.user, status=Status.ACTIVE
    )
    shown = residents | owned
    contacts: dict[int, tuple[Any, ...]] = {
        row[0]: row[1:]
        for row in shown.values_list(
            "pk",
            "unit_id",
            "updated_at",
            "last_attempt_at",
            "last_conversation_at",
            "lapse_flag",
            "owner_id",
        )
    }
    owned_ids = set(owned.values_list("pk", flat=True))
    asks = dict(
        Ask.objects.filter(contact__in=shown)
        .values("contact")
        .annotate(v=Max(Greatest("asked_at", Coalesce("answered_at", "asked_at"))))
        .values_list("contact", "v")
    )
    follow_ups = dict(
        FollowUp.objects.filter(contact__in=shown)
        .values("contact")
        .annotate(v=Max(Greatest("created_at", Coalesce("cancelled_at", "created_at"))))
        .values_list("contact", "v")
    )
    contact_version = {
        pk: version(today, row, asks.get(pk), follow_ups.get(pk)) for pk, row in contacts.items()
    }
    by_unit: dict[int, list[str]] = {}
    for pk, (unit_id, *_rest) in sorted(contacts.items()):
        by_unit.setdefault(unit_id, []).append(contact_version[pk])
    unit_version = {row[0]: version(today, row, by_unit.get(row[0])) for row in units}
    doors_of: dict[int, list[str]] = {}
    for pk, building_id, *_rest in units:
        doors_of.setdefault(building_id, []).append(unit_version[pk])

    pages: list[tuple[str, str]] = []
    for building in buildings:
        doors = doors_of.get(building[0], [])
        pages.append((reverse("buildings:detail", args=[building[0]]), version(building, doors)))
    for pk, building_id, *_rest in units:
        pages.append((reverse("buildings:unit", args=[building_id, pk]), unit_version[pk]))
    for pk, (unit_id, *_rest) in contacts.items():
        if unit_id is not None and unit_id in unit_version:
            talk = reverse("contacts:talk", args=[pk]) + f"?unit={unit_id}"
            pages.append((talk, contact_version[pk]))
    for pk in sorted(owned_ids):
        pages.append((reverse("contacts:detail", args=[pk]), contact_version[pk]))
    pages.append((reverse("contacts:talk_new", args=["new"]), version(today, membership.pk)))
    # Today first: it is what a phone opens; it lists what all the rest do. Then the
    # attendance pages, few and needed soon, before the turf's many.
    today_page = (reverse("home"), version([v for _url, v in pages]))
    pages[:0] = [today_page, *meetings_to_keep(membership, [b[0] for b in buildings])]
    # Offline, the phone shows these only as long as the session could still be alive.
    idle_minutes = settings.SESSION_COOKIE_AGE // 60
    response = JsonResponse({"pages": pages[:MOST_PAGES], "idle_minutes": idle_minutes})
    response["Cache-Control"] = "private, no-cache"
    set_response_etag(response)
    return get_conditional_response(request, etag=response["ETag"], response=response) or response
