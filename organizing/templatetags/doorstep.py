from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def ago(moment: dt.datetime | None) -> str:
    """ "just now", "3 days ago": how long since, as an organizer would say it."""
    if moment is None:
        return _("never")
    if timezone.now() - moment < dt.timedelta(minutes=1):
        return _("just now")
    # timesince speaks the active language: "3 days", « 3 jours ».
    return _("%(time)s ago") % {"time": timesince(moment, depth=1)}
