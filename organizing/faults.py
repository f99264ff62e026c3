"""Faults answered as faults: when PostgreSQL or Redis can't be reached, a request gets a
503 with Retry-After, which the phone's outbox (static/js/outbox.js) reads as "keep the
knock and send it again then". A 500 would say the request itself was wrong, and a 400
that it was refused: the phone would stop retrying.

1. `FaultMiddleware` answers a fault raised in a view with that 503, and after a database
   fault has the pool's idle connections checked (`check_the_pool`).
2. `SessionMiddleware` is Django's, except that a session save failing after the view has
   done its work cannot turn that work into an error. A session is renewed for the idle
   time-out by the requests that use it, once a minute at most (`renew_when_due`), and is
   saved after the response is built: a knock already recorded must be reported as
   recorded, or the phone, told it failed, keeps it as "Not sent".
"""

from __future__ import annotations

import logging
import threading
import time

from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions import middleware as sessions
from django.contrib.sessions.exceptions import SessionInterrupted
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerUnreachable
from psycopg_pool import PoolTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# PostgreSQL closed, restarting or too slow to hand out a connection (Django wraps the
# pool's PoolTimeout in OperationalError; a bare one is listed for code that reaches the
# pool itself), or Redis out of reach, as the cache or as Celery's broker.
FAULTS = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    RedisConnectionError,
    RedisTimeoutError,
    BrokerUnreachable,
)

# Long enough for PostgreSQL to come back from a restart, short enough that a phone on the
# stairs sends its knock before the organizer walks away.
RETRY_AFTER_SECONDS = 5


def fault_in(error: BaseException | None) -> BaseException | None:
    """The fault behind `error`: itself, or one it was raised from or while handling (a
    session save that failed on the database comes out as SessionInterrupted)."""
    while error is not None:
        if isinstance(error, FAULTS):
            return error
        error = error.__cause__ or error.__context__
    return None


def unavailable(request: HttpRequest) -> HttpResponse:
    """The 503. Its page reads nothing from the database, which may be what is down."""
    message = _(
        "Doorstep could not finish this just now. Try again in %(count)s seconds: a knock "
        "sent again is recorded once."
    ) % {"count": RETRY_AFTER_SECONDS}
    wants_json = "application/json" in request.headers.get("Accept", "")
    response: HttpResponse
    if wants_json or request.headers.get("HX-Request") == "true":
        response = JsonResponse({"status": "unavailable", "message": message}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {"message": message}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def log_fault(request: HttpRequest, fault: BaseException, what: str) -> None:
    """The route (ids, never names) and what failed; the traceback adds nothing to a
    connection refused, and a message is cut to its first line."""
    match = request.resolver_match
    route = match.route if match else "?"
    first_line = str(fault).strip().partition("\n")[0][:200]
    logger.warning(
        "%s %s: %s (%s: %s)", request.method, route, what, type(fault).__name__, first_line
    )


# One check of the pool at a time, however many requests meet the fault.
checking_the_pool = threading.Lock()


def check_the_pool(fault: BaseException) -> None:
    """After a database fault, check every idle connection of the pool, in the background.
    When PostgreSQL restarts, each idle connection died with the one this request met; the
    pool would find them one request at a time, each waiting out a back-off of a second or
    more, and many a 503 after the restart is over. Not on the request's path: a check
    waits as long as a hung server does."""
    pool = getattr(connection, "pool", None)
    if not isinstance(fault, DatabaseError | PoolTimeout) or pool is None:
        return
    if not checking_the_pool.acquire(blocking=False):
        return

    def check() -> None:
        try:
            pool.check()
        finally:
            checking_the_pool.release()

    threading.Thread(target=check, name="check-the-pool", daemon=True).start()


class FaultMiddleware(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        fault = fault_in(exception)
        if fault is None:
            return None
        log_fault(request, fault, "answered 503")
        check_the_pool(fault)
        return unavailable(request)


# A session in use is saved again, for its idle time-out to start afresh, this often at
# most: saving it on every request cost every knock a write and a commit of its own, and
# a session then ends between SESSION_COOKIE_AGE and a minute less after its last use.
RENEW_EVERY = 60
RENEWED = "_renewed_at"


def renew_when_due(request: HttpRequest) -> None:
    """Mark a session the request used for saving, with its cookie, when it was last renewed
    RENEW_EVERY seconds ago or more (or later, by a clock that has gone back since)."""
    session = getattr(request, "session", None)
    if session is None or not session.accessed or session.is_empty():
        return
    now = int(time.time())
    if abs(now - session.get(RENEWED, 0)) >= RENEW_EVERY:
        session[RENEWED] = now


@receiver(user_logged_in)
def renewed_at_login(request: HttpRequest | None, **kwargs: object) -> None:
    """A session made at login is saved then: its minute starts there."""
    if request is not None and hasattr(request, "session"):
        request.session[RENEWED] = int(time.time())


class SessionMiddleware(sessions.SessionMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """Django's, but when the save fails: a session the request did not change was being
        saved only to keep it alive, so the response stands (the next request keeps it
        alive; if another request ended it, the next one finds it ended). A session the
        request changed (a login) was not kept: a fault says 503, anything else raises as
        Django does.

        A 5xx is left alone: Django saves no session for it either, but only after reading
        the session's expiry, from the database that may be what failed, waiting for the
        pool a second time."""
        if response.status_code >= 500:
            if getattr(request, "session", None) is not None and request.session.accessed:
                patch_vary_headers(response, ("Cookie",))
            return response
        # Changed by the request (a login), not only renewed.
        changed = getattr(request, "session", None) is not None and request.session.modified
        try:
            renew_when_due(request)
            return super().process_response(request, response)
        except (SessionInterrupted, DatabaseError, PoolTimeout) as error:
            fault = fault_in(error)
            if not changed:
                log_fault(request, fault or error, "session not saved, response kept")
                patch_vary_headers(response, ("Cookie",))
                return response
            if fault is None:
                raise
            log_fault(request, fault, "session not saved, answered 503")
            check_the_pool(fault)
            return unavailable(request)
