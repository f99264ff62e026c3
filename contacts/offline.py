"""Knocks made without a signal, sent later by the phone's outbox (static/js/outbox.js).

A replayed submission carries the header `X-Doorstep-Replay: 1` and the time the knock
happened on the phone. It is recorded at that time; what changed meanwhile (the contact
moved, or was handed to another organizer) does not refuse it, it marks it for a look.
The reply is JSON so the outbox can tell sent, already sent, and needs a look apart.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

# A phone may sit in a drawer for a while; older than this is more likely a broken clock.
OLDEST_REPLAY = dt.timedelta(days=30)


def is_replay(request: HttpRequest) -> bool:
    return request.headers.get("X-Doorstep-Replay") == "1"


def happened_at(request: HttpRequest) -> dt.datetime | None:
    """The time the knock happened on the phone, or None for "now"."""
    raw = request.POST.get("happened_at", "").strip()
    if not raw:
        return None
    moment = parse_datetime(raw)
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
