"""The audit trail admins read: who changed what, and when; what left the app (exports) and
who was erased. Built from django-simple-history's rows in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import OuterRef, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from contacts.models import Ask, Contact, Erasure, ExportLog, FollowUp, Status, Visit
from contacts.privacy.erasure import erase_contact, erasure_scope
from organizing.access import MemberRequest, member_required
from organizing.models import Membership, Role, display_name

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TRAIL_LENGTH = 50
# Shown as "changed", never as old → new: the trail is for accountability, not a second
# copy of what a person told us, and an admin can read today's value on the page above it.
PRIVATE_FIELDS = {
    "name",
    "phone",
    "email",
    "notes",
    "consent_note",
    "snooze_reason",
    "note",
    "needs_look",
    "question",
    "purpose",
    "cancel_reason",
}
BOOKKEEPING = {"id", "history_id", "history_date", "history_change_reason", "history_type"}
BOOKKEEPING |= {"history_user", "organization", "contact", "user"}
# What a trail row shows of a user or an object deleted since: it keeps only the key.
DELETED = gettext_lazy("(deleted)")
DELETED_ACCOUNT = gettext_lazy("a deleted account")
# Said by the entry's own date when an object is added.
WHEN_ADDED = {"created_at", "joined_at", "asked_at"}


@dataclass
class Entry:
    at: dt.datetime
    who: User | None
    what: str
    changes: list[str] = field(default_factory=list)
    reason: str = ""


def _show(row: models.Model, model_field: models.Field) -> str:
    value = getattr(row, model_field.attname)
    if value in (None, ""):
        return "—"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(model_field, models.ForeignKey):
        # A trail row keeps the key of what it pointed at, which may since be deleted.
        related = getattr(row, model_field.name)
        if related is None:
            return str(DELETED)
        if hasattr(related, "get_username"):
            return related.get_full_name() or related.get_username()
        return str(getattr(related, "label", related))
    if isinstance(value, dt.datetime):
        return date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, dt.date):
        return date_format(value, "DATE_FORMAT")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def _entries(
    history: models.QuerySet,
    kind: str,
    related: list[str],
    subject: Callable[[Any], str] | None = None,
) -> list[Entry]:
    """The latest rows of one history table as entries, each compared with the row before
    it of the same object, `kind` a key of _WHAT. Two queries, whatever the size of the
    history."""
    model = history.model
    before = model.objects.filter(
        id=OuterRef("id"), history_date__lt=OuterRef("history_date")
    ).order_by("-history_date", "-history_id")
    rows = list(
        history.select_related("history_user", *related)
        .annotate(previous_id=Subquery(before.values("history_id")[:1]))
        .order_by("-history_date", "-history_id")[:TRAIL_LENGTH]
    )
    wanted = [row.previous_id for row in rows if row.previous_id]
    previous = {
        row.history_id: row
        for row in model.objects.filter(history_id__in=wanted).select_related(*related)
    }
    fields = [f for f in model._meta.fields if f.name not in BOOKKEEPING]
    entries = []
    for row in rows:
        what = str(_WHAT[kind][row.history_type])
        entry = Entry(
            at=row.history_date,
            who=row.history_user,
            what=what % {"who": subject(row)} if subject else what,
            reason=row.history_change_reason or "",
        )
        if row.history_type != "-":
            old = previous.get(row.previous_id)
            entry.changes = _added(row, fields) if old is None else _changed(old, row, fields)
        if row.history_type != "~" or entry.changes or entry.reason:
            entries.append(entry)
    return entries


# What a trail row says happened, whole, so that each language agrees its words.
_WHAT = {
    "contact": {
        "+": gettext_lazy("Contact added"),
        "~": gettext_lazy("Contact changed"),
        "-": gettext_lazy("Contact deleted"),
    },
    "visit": {
        "+": gettext_lazy("Visit added"),
        "~": gettext_lazy("Visit changed"),
        "-": gettext_lazy("Visit deleted"),
    },
    "ask": {
        "+": gettext_lazy("Ask added"),
        "~": gettext_lazy("Ask changed"),
        "-": gettext_lazy("Ask deleted"),
    },
    "follow-up": {
        "+": gettext_lazy("Follow-up added"),
        "~": gettext_lazy("Follow-up changed"),
        "-": gettext_lazy("Follow-up deleted"),
    },
    "membership": {
        "+": gettext_lazy("Membership of %(who)s added"),
        "~": gettext_lazy("Membership of %(who)s changed"),
        "-": gettext_lazy("Membership of %(who)s deleted"),
    },
}


def _added(row: Any, fields: list[models.Field]) -> list[str]:
    """What an object was added with; private fields and the date it was added left out."""
    return [
        _("%(field)s: %(value)s")
        % {"field": model_field.verbose_name, "value": _show(row, model_field)}
        for model_field in fields
        if getattr(row, model_field.attname) not in (None, "", False)
        and model_field.name not in PRIVATE_FIELDS | WHEN_ADDED
    ]


def _changed(old: Any, row: Any, fields: list[models.Field]) -> list[str]:
    """What changed since the row before, in the model's order of fields."""
    changed = set(row.diff_against(old, excluded_fields=BOOKKEEPING).changed_fields)
    return [
        _("%(field)s changed") % {"field": model_field.verbose_name}
        if model_field.name in PRIVATE_FIELDS
        else _("%(field)s: %(old)s → %(new)s")
        % {
            "field": model_field.verbose_name,
            "old": _show(old, model_field),
            "new": _show(row, model_field),
        }
        for model_field in fields
        if model_field.name in changed
    ]


def contact_trail(contact: Contact) -> list[Entry]:
    """The contact's own changes and those of its visits, asks and follow-ups, newest
    first. Eight queries for any contact."""
    entries = [
        *_entries(Contact.history.filter(id=contact.pk), "contact", ["owner", "unit"]),
        *_entries(Visit.history.filter(contact_id=contact.pk), "visit", ["organizer", "unit"]),
        *_entries(Ask.history.filter(contact_id=contact.pk), "ask", ["asked_by"]),
        *_entries(FollowUp.history.filter(contact_id=contact.pk), "follow-up", ["assigned_to"]),
    ]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:TRAIL_LENGTH]


def _admin_contact(request: MemberRequest, contact_id: int) -> Contact:
    return get_object_or_404(
        Contact.objects.filter(organization=request.membership.organization), pk=contact_id
    )


@require_http_methods(["GET", "POST"])
@member_required(Role.ADMIN)
def erase(request: MemberRequest, contact_id: int) -> HttpResponse:
    """Erase a person on request: a page saying what goes and what stays, then the POST."""
    contact = _admin_contact(request, contact_id)
    if contact.status == Status.ERASED:
        messages.info(request, _("This person has already been erased."))
        return redirect("audit:log")
    if request.method == "POST":
        if request.POST.get("confirm") != "erase":
            messages.error(request, _("Tick the box to confirm the erasure."))
        else:
            try:
                erasure = erase_contact(actor=request.membership, contact=contact)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(
                    request, _("Contact #%(number)s erased.") % {"number": erasure.contact_id}
                )
                return redirect("audit:log")
    context: dict[str, Any] = {"contact": contact, "scope": erasure_scope(contact)}
    status = 422 if request.method == "POST" else 200
    return render(request, "privacy/erase.html", context, status=status)


@require_GET
@member_required(Role.ADMIN)
def log(request: MemberRequest) -> HttpResponse:
    """What an admin answers for: exports of personal data, erasures, and who gave whom
    which role."""
    organization = request.membership.organization
    members = Membership.history.filter(organization_id=organization.pk)
    context = {
        "exports": ExportLog.objects.filter(organization=organization).select_related("user")[
            :TRAIL_LENGTH
        ],
        "erasures": Erasure.objects.filter(organization=organization).select_related("erased_by")[
            :TRAIL_LENGTH
        ],
        "member_changes": _entries(
            members,
            "membership",
            ["user"],
            subject=lambda row: display_name(row.user) if row.user else str(DELETED_ACCOUNT),
        ),
    }
    return render(request, "privacy/audit_log.html", context)
