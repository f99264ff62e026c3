"""Admins manage who is in the organization and with which role."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from organizing.access import MemberRequest, member_required
from organizing.models import Membership, Role


@require_GET
@member_required(Role.ADMIN)
def member_list(request: MemberRequest) -> HttpResponse:
    members = Membership.objects.filter(
        organization=request.membership.organization
    ).select_related("user")
    return render(request, "organizing/members.html", {"members": members})
