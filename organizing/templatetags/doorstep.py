from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(moment: dt.datetime | None) -> str:
    """ "just now", "3 days ago": how long since, as an organizer would say it."""
    if moment is None:
        return "never"
    if timezone.now() - moment < dt.timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, depth=1)} ago"
