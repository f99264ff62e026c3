"""The committee's part of a meeting: calling it, changing it, and closing its
attendance, which plans a follow-up for each yes who did not come. Organizers list the
meetings and take the attendance on their phones (contacts.field.meetings)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from contacts.actions import change_meeting, close_attendance
from contacts.committee.forms import MeetingForm
from contacts.models import Meeting
from organizing.access import MemberRequest, member_required
from organizing.models import Role

committee_only = member_required(Role.COMMITTEE, Role.ADMIN)


@require_http_methods(["GET", "POST"])
@committee_only
def new_meeting(request: MemberRequest) -> HttpResponse:
    organization = request.membership.organization
    form = MeetingForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        form.instance.created_by = request.user
        meeting = form.save()
        messages.success(request, _("Meeting “%(title)s” called.") % {"title": meeting.title})
        return redirect("meetings:detail", meeting.pk)
    status = 422 if form.errors else 200
    return render(request, "committee/new_meeting.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@committee_only
def edit_meeting(request: MemberRequest, meeting_id: int) -> HttpResponse:
    """Change a meeting called before; its invitations follow (`change_meeting`)."""
    meeting = get_object_or_404(Meeting.objects.visible_to(request.membership), pk=meeting_id)
    organization = request.membership.organization
    # The form works on a copy: a refused change must not show on the page as if made.
    form = MeetingForm(
        request.POST or None,
        instance=Meeting.objects.get(pk=meeting.pk),
        organization=organization,
    )
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        if not changes:
            messages.info(request, _("Nothing was changed."))
            return redirect("meetings:detail", meeting.pk)
        rewritten = change_meeting(actor=request.membership, meeting=meeting, changes=changes)
        text = _("Meeting “%(title)s” changed.") % {"title": meeting.title}
        if rewritten:
            text += " " + ngettext(
                "%(count)s invitation updated to match.",
                "%(count)s invitations updated to match.",
                rewritten,
            ) % {"count": rewritten}
        messages.success(request, text)
        return redirect("meetings:detail", meeting.pk)
    status = 422 if form.errors else 200
    context = {"form": form, "meeting": meeting}
    return render(request, "committee/new_meeting.html", context, status=status)


@require_POST
@committee_only
def close_meeting(request: MemberRequest, meeting_id: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting.objects.visible_to(request.membership), pk=meeting_id)
    if not meeting.is_past:
        messages.error(request, _("The meeting has not started yet: its attendance stays open."))
    elif meeting.closed_at is not None:
        messages.info(request, _("The attendance was already closed."))
    else:
        planned = close_attendance(meeting=meeting)
        messages.success(
            request,
            ngettext(
                "Attendance closed. %(count)s follow-up planned for those who said yes and "
                "did not come.",
                "Attendance closed. %(count)s follow-ups planned for those who said yes and "
                "did not come.",
                planned,
            )
            % {"count": planned},
        )
    return redirect("meetings:detail", meeting.pk)
