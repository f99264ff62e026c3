from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from contacts.models import Contact
from organizing.access import MemberRequest, member_required


@require_GET
@member_required()
def contact_detail(request: MemberRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(
        Contact.objects.visible_to(request.membership).select_related("unit__building", "owner"),
        pk=contact_id,
    )
    visits = contact.visits.select_related("organizer")[:50]
    asks = contact.asks.select_related("asked_by")
    follow_ups = contact.follow_ups.select_related("assigned_to", "done_by")
    level_changes = contact.level_changes.select_related("changed_by")
    return render(
        request,
        "contacts/contact_detail.html",
        {
            "contact": contact,
            "visits": visits,
            "asks": asks,
            "follow_ups": follow_ups,
            "level_changes": level_changes,
        },
    )
