"""Today: the organizer's home. What to do today, where, and who is about to be dropped."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from buildings.models import Building
from contacts.lapse.due import owner_due
from contacts.models import Answer, Ask, Contact, FollowUp, LapseFlag, Status, Visit
from organizing.access import MemberRequest, member_required

LAPSED = [LapseFlag.LAPSED, LapseFlag.ESCALATED]


@require_GET
@member_required()
def today(request: MemberRequest) -> HttpResponse:
    """The organizer's home: what to do today, where, and who is about to be dropped."""
    membership, now = request.membership, timezone.now()
    follow_ups = (
        FollowUp.objects.open()
        .filter(
            assigned_to=request.user,
            # Not someone since moved off their turf or handed on: where they live now is
            # not this organizer's to see.
            contact__in=Contact.objects.visible_to(membership),
            planned_for__lte=timezone.localdate(),
        )
        .select_related("contact__unit__building")
        .order_by("planned_for")[:50]
    )
    active = Q(units__residents__status=Status.ACTIVE)
    buildings = (
        Building.objects.visible_to(membership)
        .filter(archived=False)
        .annotate(
            # As the hourly job last flagged them, the committee's figures too.
            lapsed=Count(
                "units__residents",
                filter=active & Q(units__residents__lapse_flag__in=LAPSED),
                distinct=True,
            ),
            due_soon=Count(
                "units__residents",
                filter=active & Q(units__residents__lapse_flag=LapseFlag.DUE_SOON),
                distinct=True,
            ),
            never_knocked=Count(
                "units",
                filter=Q(
                    units__last_attempt_at__isnull=True,
                    units__vacant=False,
                    units__do_not_knock=False,
                ),
                distinct=True,
            ),
        )
        .order_by("name")
    )
    asks_due = dict(
        Ask.objects.filter(
            contact__organization=membership.organization,
            contact__status=Status.ACTIVE,
            answer=Answer.PENDING,
            due_on__lte=timezone.localdate() + dt.timedelta(days=2),
            contact__unit__building__in=buildings.values("pk"),
        )
        .values_list("contact__unit__building")
        .annotate(n=Count("pk"))
        .values_list("contact__unit__building", "n")
    )
    needs_look = (
        Visit.objects.filter(
            organization=membership.organization,
            organizer=request.user,
            recorded_at__gte=now - dt.timedelta(days=14),
        )
        .exclude(needs_look="")
        .select_related("contact", "unit__building")[:20]
    )
    return render(
        request,
        "field/today.html",
        {
            "needs_look": needs_look,
            "follow_ups": follow_ups,
            "buildings": [(b, asks_due.get(b.pk, 0)) for b in buildings],
            "due": owner_due(membership, now),
            "today": timezone.localdate(now),
            "now": now,
        },
    )
