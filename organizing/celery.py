import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from organizing.logs import RedactPersonalData

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "organizing.settings")

app = Celery("organizing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def give_redbeat_its_settings_by_their_own_names(sender: Celery, **kwargs: Any) -> None:
    """RedBeat asks whether its settings are given by their bare names (redbeat_*), which
    the CELERY_ namespace hides; it would then leave the Redis client's time-outs out."""
    sender.conf.update(
        {
            name.removeprefix("CELERY_").lower(): value
            for name, value in sender.conf.items()
            if name.startswith("CELERY_REDBEAT_")
        }
    )


@after_setup_logger.connect
@after_setup_task_logger.connect
def redact_worker_logs(logger: logging.Logger, **kwargs: Any) -> None:
    """The worker replaces Django's logging with its own handlers (of the root logger and of
    the tasks' logger): they get the same redaction, or an email the mail server refused
    (SMTPRecipientsRefused names the address) would be written out."""
    for handler in logger.handlers:
        handler.addFilter(RedactPersonalData())
