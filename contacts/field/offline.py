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
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from buildings.models import Building, Unit
from contacts.models import Contact, ContactQuerySet, Status
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
        raise ValidationError("The time of the knock could not be read.")
    if moment < timezone.now() - OLDEST_REPLAY:
        raise ValidationError("That knock is more than 30 days old; enter it by hand.")
    return moment


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


MOST_PAGES = 600


@require_GET
@member_required()
def pages_to_keep(request: MemberRequest) -> JsonResponse:
    """The organizer's turf, for the service worker to save while there is a signal:
    Today, their buildings and units, and the contacts they own; and how long a session
    lasts idle, past which the phone stops showing them."""
    buildings = Building.objects.filter(
        organization=request.membership.organization, archived=False, turf__organizer=request.user
    )
    urls = [reverse("home")]
    urls += [
        reverse("buildings:detail", args=[pk]) for pk in buildings.values_list("pk", flat=True)
    ]
    urls += [
        reverse("buildings:unit", args=[building_id, pk])
        for pk, building_id in Unit.objects.filter(building__in=buildings)
        .order_by("building", "-floor", "label")
        .values_list("pk", "building_id")
    ]
    urls += [
        reverse("contacts:detail", args=[pk])
        for pk in Contact.objects.filter(
            organization=request.membership.organization,
            owner=request.user,
            status=Status.ACTIVE,
        ).values_list("pk", flat=True)
    ]
    # Offline, the phone shows these only as long as the session could still be alive.
    idle_minutes = settings.SESSION_COOKIE_AGE // 60
    return JsonResponse({"urls": urls[:MOST_PAGES], "idle_minutes": idle_minutes})
