"""When a scheduled job is due, and how one organization's failure stays its own.

Beat fires each job more often than it is due (settings.CELERY_BEAT_SCHEDULE). The job
works out what is due and not yet done: a firing lost to a broker outage, a restart or a
deploy is made up by the next one, and a firing that finds everything done does nothing.
The times are local, in settings.TIME_ZONE, as every date the lapse rule reads.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

log = logging.getLogger(__name__)

# Faults no organization caused: the database gone or timing out, the task out of time.
# They end the run; the next firing tries again.
NOBODYS_FAULT = (InterfaceError, OperationalError, SoftTimeLimitExceeded)


def due_day(now: dt.datetime, at: dt.time) -> dt.date | None:
    """Today, once its `at` has passed; None before it."""
    local = timezone.localtime(now)
    return local.date() if local.time() >= at else None


def due_week(now: dt.datetime, at: dt.time) -> dt.date | None:
    """This week's Monday, once Monday's `at` has passed; None before it. What was missed on
    Monday is due on every day after it that week."""
    local = timezone.localtime(now)
    if local.weekday() == 0 and local.time() < at:
        return None
    return local.date() - dt.timedelta(days=local.weekday())


@contextmanager
def one_organization(job: str, organization_id: int) -> Iterator[None]:
    """Run one organization's part of a job in a transaction of its own (a savepoint in an
    outer one). If it raises (a bad setting, a row a CHECK refuses), its writes are rolled
    back and the log says which organization failed and with what kind of error, not the
    error's text: a database error quotes the row it refused, personal data. The job goes
    on with the next organization, and the next firing tries this one again."""
    try:
        with transaction.atomic():
            yield
    except NOBODYS_FAULT:
        raise
    except Exception as error:
        log.error(
            "%s failed for organization %s (%s); the other organizations go on",
            job,
            organization_id,
            type(error).__name__,
        )
