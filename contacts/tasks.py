"""Celery tasks: thin wrappers, so an operator can run the same function by hand."""

from celery import shared_task

from contacts.lapse import flag_lapsed


@shared_task(name="contacts.flag_lapsed")
def flag_lapsed_task() -> dict[str, int]:
    return vars(flag_lapsed())
