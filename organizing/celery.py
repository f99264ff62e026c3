import os
from typing import Any

from celery import Celery

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
