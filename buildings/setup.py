"""Admins set up an organization's ground: buildings, units, residents, turf."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from buildings.models import Building
from organizing.access import MemberRequest, member_required
from organizing.models import Role


@require_GET
@member_required(Role.ADMIN)
def building_list(request: MemberRequest) -> HttpResponse:
    buildings = Building.objects.filter(organization=request.membership.organization)
    return render(request, "buildings/setup_buildings.html", {"buildings": buildings})
