"""How close a contact is to being dropped, worked out in Python for the few dozen
contacts a page shows, from one look-up of the organization's thresholds."""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass
from functools import reduce

from django.db import models
from django.db.models import (
    Case,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from contacts.models import Contact, LapseThreshold
from organizing.models import Organization


class LapseState(models.TextChoices):
    # Ordered from least to most urgent; `worst` relies on it.
    OK = "ok", "Within threshold"
    NEVER = "never", "Never talked"
    DUE_SOON = "due_soon", "Due soon"
    LAPSED = "lapsed", "Lapsed"


SEVERITY = {state: rank for rank, state in enumerate(LapseState)}


def worst(states: list[LapseState]) -> LapseState | None:
    return max(states, key=SEVERITY.__getitem__) if states else None


@dataclass(frozen=True)
class Thresholds:
    days_by_level: dict[int, int]
    warning: dt.timedelta

    @classmethod
    def of(cls, organization: Organization) -> Thresholds:
        days = LapseThreshold.days_by_level([organization.pk])[organization.pk]
        return cls(days_by_level=days, warning=dt.timedelta(days=organization.lapse_warning_days))

    def for_level(self, level: int) -> dt.timedelta:
        return dt.timedelta(days=self.days_by_level[level])

    def due_at(self, contact: Contact) -> dt.datetime:
        """When the contact lapses: the threshold after the last conversation or, with none
        yet, after they were added."""
        return (contact.last_conversation_at or contact.created_at) + self.for_level(contact.level)

    def state(self, contact: Contact, now: dt.datetime) -> LapseState:
        due_at = self.due_at(contact)
        if now > due_at:
            return LapseState.LAPSED
        if now > due_at - self.warning:
            return LapseState.DUE_SOON
        if contact.last_conversation_at is None:
            return LapseState.NEVER
        return LapseState.OK

    def due_at_expression(self) -> ExpressionWrapper:
        """`due_at` in SQL, to order contacts by how soon they lapse."""
        threshold = Case(
            *(
                When(level=level, then=Value(dt.timedelta(days=days)))
                for level, days in self.days_by_level.items()
            ),
            output_field=DurationField(),
        )
        return ExpressionWrapper(
            Coalesce(F("last_conversation_at"), F("created_at")) + threshold,
            output_field=DateTimeField(),
        )

    def _clock_started_between(
        self, now: dt.datetime, prefix: str, *, early: dt.timedelta | None, late: dt.timedelta
    ) -> Q:
        """Contacts whose clock (the last conversation or, with none, when they were added)
        started in [now - threshold + early, now - threshold + late), each level against its
        own threshold; no lower bound when `early` is None. `prefix` reaches contacts through
        a relation, as in "units__residents__". Written without negation so it stays a plain
        join inside aggregate filters."""
        last, created = f"{prefix}last_conversation_at", f"{prefix}created_at"

        def started(lo: dt.datetime | None, hi: dt.datetime) -> Q:
            by_talk = {f"{last}__lt": hi}
            by_creation = {f"{last}__isnull": True, f"{created}__lt": hi}
            if lo is not None:
                by_talk[f"{last}__gte"] = lo
                by_creation[f"{created}__gte"] = lo
            return Q(**by_talk) | Q(**by_creation)

        parts = []
        for level, days in self.days_by_level.items():
            cut = now - dt.timedelta(days=days)
            lower = cut + early if early is not None else None
            parts.append(Q(**{f"{prefix}level": level}) & started(lower, cut + late))
        return reduce(operator.or_, parts)

    def lapsed_q(self, now: dt.datetime, prefix: str = "") -> Q:
        return self._clock_started_between(now, prefix, early=None, late=dt.timedelta(0))

    def due_soon_q(self, now: dt.datetime, prefix: str = "") -> Q:
        return self._clock_started_between(now, prefix, early=dt.timedelta(0), late=self.warning)

    def due_within_q(self, now: dt.datetime, days: int, prefix: str = "") -> Q:
        """Lapsed already, or lapsing within the coming days."""
        return self._clock_started_between(now, prefix, early=None, late=dt.timedelta(days=days))
