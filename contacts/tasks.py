"""Celery tasks: thin wrappers, so an operator can run the same function by hand."""

from celery import shared_task

from contacts.actions import close_past_meetings
from contacts.lapse.digests import (
    send_committee_digests,
    send_orphan_digests,
    send_owner_digests,
)
from contacts.lapse.job import flag_lapsed
from contacts.lapse.pace import take_paces


@shared_task(name="contacts.flag_lapsed")
def flag_lapsed_task() -> dict[str, int]:
    return vars(flag_lapsed())


# One SMTP exchange per person: more time than the default, which suits the database jobs.
@shared_task(name="contacts.send_owner_digests", soft_time_limit=25 * 60, time_limit=30 * 60)
def send_owner_digests_task() -> int:
    return send_owner_digests()


@shared_task(name="contacts.send_committee_digests", soft_time_limit=25 * 60, time_limit=30 * 60)
def send_committee_digests_task() -> int:
    return send_committee_digests()


@shared_task(name="contacts.send_orphan_digests", soft_time_limit=25 * 60, time_limit=30 * 60)
def send_orphan_digests_task() -> int:
    return send_orphan_digests()


@shared_task(name="contacts.take_paces")
def take_paces_task() -> int:
    return take_paces()


@shared_task(name="contacts.close_meetings")
def close_meetings_task() -> int:
    return close_past_meetings()
