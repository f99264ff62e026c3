from __future__ import annotations

from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from buildings.models import Building
from contacts.models import Status
from organizing.access import MemberRequest, member_required


@require_GET
@member_required()
def building_list(request: MemberRequest) -> HttpResponse:
    buildings = (
        Building.objects.visible_to(request.membership)
        .filter(archived=False)
        .annotate(
            unit_count=Count("units", distinct=True),
            contact_count=Count(
                "units__residents",
                filter=Q(units__residents__status=Status.ACTIVE),
                distinct=True,
            ),
        )
        .order_by("name")
    )
    return render(request, "buildings/building_list.html", {"buildings": buildings})


@require_GET
@member_required()
def building_detail(request: MemberRequest, building_id: int) -> HttpResponse:
    building = get_object_or_404(Building.objects.visible_to(request.membership), pk=building_id)
    units = building.units.order_by("-floor", "label")
    return render(request, "buildings/building_detail.html", {"building": building, "units": units})
