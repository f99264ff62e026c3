"""Celery tasks of getting in, and handing a task to the worker from a request."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.contrib.auth.models import User
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from organizing.accounts import email_password_link

logger = logging.getLogger(__name__)


@shared_task(name="organizing.send_password_link")
def send_password_link_task(user_id: int, invite: bool) -> None:
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        email_password_link(user, invite=invite)


def enqueue(task: Task, *args: Any) -> None:
    """Hand `task` to the worker, or, when the broker can't be reached, do it here: slower,
    but nothing asked for is lost. Not retried: a request waits on no broker."""
    try:
        task.apply_async(args, retry=False)
    except (OperationalError, RedisError, OSError):
        logger.warning("Broker unreachable: %s done in the request instead", task.name)
        task(*args)


@shared_task(name="organizing.send_invitation")
def send_invitation_task(invitation_id: int) -> None:
    from organizing.invitations import email_invitation

    email_invitation(invitation_id)
