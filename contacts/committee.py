"""The committee's screens: who is lapsed, who owns them, and what to do about it."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from organizing.access import MemberRequest, member_required
from organizing.models import Role


@require_GET
@member_required(Role.COMMITTEE, Role.ADMIN)
def dashboard(request: MemberRequest) -> HttpResponse:
    return render(request, "contacts/dashboard.html", {})
