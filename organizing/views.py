from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from organizing.celery import app as celery_app

logger = logging.getLogger(__name__)


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        logger.exception("healthz: the database did not answer")
        return False


def _broker_answers() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        logger.exception("healthz: the broker did not answer")
        return False


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database and the broker answer; 503 naming the one that does not."""
    checks = {"database": _database_answers(), "broker": _broker_answers()}
    down = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "ok" if not down else "down: " + ", ".join(down),
        **{name: "ok" if ok else "down" for name, ok in checks.items()},
    }
    return JsonResponse(body, status=503 if down else 200)
