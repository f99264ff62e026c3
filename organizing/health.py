"""Is this web server well? Two questions for two askers.

- `/livez`, for the process manager: the process is up and serving. It touches nothing (no
  database, no session, no host check), so a PostgreSQL outage never gets web servers
  restarted, which would not mend it.
- `/healthz`, for the load balancer: the database and the broker answer. It answers within
  two seconds whatever hangs, naming what did not answer in time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from organizing.celery import app as celery_app

logger = logging.getLogger(__name__)

# How long /healthz waits for its probes, together: under the two seconds a load balancer
# gives it, with room for the request around them.
PROBE_SECONDS = 1.5


class LivenessMiddleware:
    """Answers /livez before any other middleware runs. First in MIDDLEWARE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path == "/livez" and request.method in ("GET", "HEAD"):
            return HttpResponse(
                "ok", content_type="text/plain", headers={"Cache-Control": "no-store"}
            )
        return self.get_response(request)


def ask_the_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # The probe's thread has a connection of its own: back to the pool with it.
        connection.close()


def ask_the_broker() -> None:
    # Connecting PINGs Redis, with the socket time-outs of the broker transport options.
    # Tried once: the load balancer's next check is the retry.
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0)


PROBES: dict[str, Callable[[], None]] = {"database": ask_the_database, "broker": ask_the_broker}


def run_probes() -> dict[str, bool]:
    """Each probe in a thread of its own, all at once, waited for until the deadline. A
    probe still waiting then is down; its thread ends by its own time-outs (the pool's, the
    socket's), and as a daemon never holds the process up."""
    answered: dict[str, bool] = {}

    def run(name: str, probe: Callable[[], None]) -> None:
        try:
            probe()
        except Exception as error:
            logger.warning("healthz: the %s did not answer (%s)", name, type(error).__name__)
            answered[name] = False
        else:
            answered[name] = True

    threads = [
        threading.Thread(target=run, args=(name, probe), name=f"healthz-{name}", daemon=True)
        for name, probe in PROBES.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + PROBE_SECONDS
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    late = [name for name in PROBES if name not in answered]
    for name in late:
        logger.warning("healthz: the %s did not answer within %s s", name, PROBE_SECONDS)
    return {name: answered.get(name, False) for name in PROBES}


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database and the broker answer; 503 naming the ones that do not."""
    checks = run_probes()
    down = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "ok" if not down else "down: " + ", ".join(down),
        **{name: "ok" if ok else "down" for name, ok in checks.items()},
    }
    return JsonResponse(body, status=503 if down else 200)
