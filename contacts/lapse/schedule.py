"""When a scheduled job is due, and how one organization's failure stays its own.

Beat fires each job more often than it is due (settings.CELERY_BEAT_SCHEDULE). The job
works out what is due and not yet done: a firing lost to a broker outage, a restart or a
deploy is made up by the next one, and a firing that finds everything done does nothing.
The times are each organization's own (Organization.time_zone): its owners' digest comes
at 07:00 where it works, Vancouver's three hours after Toronto's, each on its own day.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from organizing.models import Organization

log = logging.getLogger(__name__)

# Faults no organization caused: the database gone or timing out, the task out of time.
# They end the run; the next firing tries again.
NOBODYS_FAULT = (InterfaceError, OperationalError, SoftTimeLimitExceeded)


Due = Callable[[dt.datetime, dt.time, dt.tzinfo | None], dt.date | None]


def due_day(now: dt.datetime, at: dt.time, zone: dt.tzinfo | None = None) -> dt.date | None:
    """Today in `zone` (the current time zone by default), once its `at` has passed; None
    before it."""
    local = timezone.localtime(now, zone)
    return local.date() if local.time() >= at else None


def due_week(now: dt.datetime, at: dt.time, zone: dt.tzinfo | None = None) -> dt.date | None:
    """This week's Monday in `zone`, once Monday's `at` has passed; None before it. What was
    missed on Monday is due on every day after it that week."""
    local = timezone.localtime(now, zone)
    if local.weekday() == 0 and local.time() < at:
        return None
    return local.date() - dt.timedelta(days=local.weekday())


def by_zone() -> dict[zoneinfo.ZoneInfo, list[int]]:
    """The organizations' ids by time zone: what depends on the clock is worked out once per
    zone. One query."""
    zones: dict[zoneinfo.ZoneInfo, list[int]] = {}
    for organization in Organization.objects.only("pk", "time_zone").order_by("pk"):
        zones.setdefault(organization.zone, []).append(organization.pk)
    return zones


def due_periods(now: dt.datetime, at: dt.time, due: Due = due_day) -> dict[int, dt.date]:
    """The period (a day, a week's Monday) now due for each organization, by its own clock;
    an organization whose `at` has not come yet is left out."""
    return {
        organization_id: period
        for zone, organization_ids in by_zone().items()
        if (period := due(now, at, zone)) is not None
        for organization_id in organization_ids
    }


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
