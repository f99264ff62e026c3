"""Admins set up an organization's ground: buildings, units, residents, turf, owners; and
the committee's CSV export of contacts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, Func, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import FileResponse, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from buildings.actions import Doors, add_units, create_building, set_building_turf
from buildings.models import Building, Turf, Unit
from contacts.actions import reassign_contacts
from contacts.forms import ReassignForm
from contacts.models import Contact, ExportLog, Status
from contacts.setup.exports import contacts_to_export, export_contacts
from contacts.setup.forms import (
    IMPORT_MAX_BYTES,
    OWNER_NOBODY,
    BuildingForm,
    ConfirmImportForm,
    ExportForm,
    ImportForm,
    OrganizationForm,
    OwnerFilterForm,
    UnitGeneratorForm,
)
from contacts.setup.imports import (
    COLUMNS,
    MAX_ROWS,
    ImportRefused,
    Plan,
    discard_upload,
    grouped,
    import_residents,
    keep_upload,
    pending_upload,
    plan_import,
)
from organizing.access import MemberRequest, member_required
from organizing.actions import set_languages_and_time_zone
from organizing.models import Role

BUILDINGS_PER_PAGE = 50
CONTACTS_PER_PAGE = 50


# Buildings


def count_of(queryset: QuerySet[Any]) -> Subquery:
    """How many rows a correlated queryset has, as an annotation. COUNT as a plain function,
    not an aggregate, so that Django adds no GROUP BY to either query."""
    counted = queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Subquery(counted, output_field=IntegerField())


def org_buildings(request: MemberRequest) -> QuerySet[Building]:
    return Building.objects.filter(organization_id=request.membership.organization_id)


def get_building(request: MemberRequest, building_id: int) -> Building:
    return get_object_or_404(org_buildings(request), pk=building_id)


@require_GET
@member_required(Role.ADMIN)
def building_list(request: MemberRequest) -> HttpResponse:
    # PostgreSQL text can't hold NUL, and nobody searches for one.
    query = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    archived = request.GET.get("archived") == "1"
    # Counted in subqueries, one per building listed: joins and GROUP BY would multiply
    # every unit by every resident of the organization.
    units = Unit.objects.filter(building=OuterRef("pk"))
    residents = Contact.objects.filter(unit__building=OuterRef("pk"), status=Status.ACTIVE)
    buildings = (
        org_buildings(request)
        .filter(archived=archived)
        .annotate(unit_count=count_of(units), resident_count=count_of(residents))
        .prefetch_related(
            Prefetch(
                "turf",
                queryset=Turf.objects.select_related("organizer").order_by("organizer__username"),
            )
        )
        .order_by("name")
    )
    if query:
        buildings = buildings.filter(
            Q(name__icontains=query)
            | Q(street_address__icontains=query)
            | Q(city__icontains=query)
            | Q(postal_code__icontains=query)
        )
    page = Paginator(buildings, BUILDINGS_PER_PAGE).get_page(request.GET.get("page"))
    template = "setup/buildings.html"
    if request.htmx:
        template += "#results"
    return render(request, template, {"page": page, "query": query, "archived": archived})


def go_to(request: MemberRequest, view: str, *args: object) -> HttpResponse:
    """A redirect; for htmx, one the browser follows as a page load, not into the target."""
    url = reverse(view, args=args)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def preview_floors(doors: Doors, have: set[str]) -> list[tuple[int, list[tuple[str, bool]]]]:
    """The doors asked for, top floor first, each with whether it is new."""
    ordered = sorted(doors, key=lambda door: (-door[0], door[1]))
    return [
        (floor, [(label, label.lower() not in have) for _, label in group])
        for floor, group in groupby(ordered, key=lambda door: door[0])
    ]


def doors_digest(doors: Doors) -> str:
    """What the preview showed, so that a confirmation of changed fields previews again."""
    text = "\n".join(f"{floor}:{label}" for floor, label in doors)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def generator_preview(
    request: MemberRequest, doors: Doors, have: set[str]
) -> dict[str, Any] | None:
    """The preview to show, or None when the doors were previewed and are confirmed."""
    digest = doors_digest(doors)
    if request.POST.get("confirm") and request.POST.get("previewed") == digest:
        return None
    if request.POST.get("confirm"):
        messages.warning(request, _("The units changed since the preview; check them again."))
    floors = preview_floors(doors, have)
    new = sum(is_new for _, row in floors for _, is_new in row)
    return {"floors": floors, "new": new, "kept": len(doors) - new, "digest": digest}


@require_http_methods(["GET", "POST"])
@member_required(Role.ADMIN)
def building_new(request: MemberRequest) -> HttpResponse:
    """A building, its organizers and its units in one form: with units, a preview of the
    doors comes first, and the building is created with them on confirmation."""
    organization = request.membership.organization
    data = request.POST if request.method == "POST" else None
    form = BuildingForm(data, organization=organization)
    generator = UnitGeneratorForm(data, prefix="units")
    preview = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            generator.top_floor = form.cleaned_data["floors"]
        if form.is_valid() and generator.is_valid():
            doors = generator.cleaned_data["doors"]
            preview = generator_preview(request, doors, set()) if doors else None
            if preview is None:
                building = form.save(commit=False)
                units = create_building(
                    actor=request.membership,
                    building=building,
                    organizers=form.cleaned_data["organizers"],
                    doors=doors,
                )
                created = (
                    ngettext(
                        "Created %(building)s with %(count)s unit.",
                        "Created %(building)s with %(count)s units.",
                        len(units),
                    )
                    if units
                    else _("Created %(building)s. Add its units next.")
                )
                messages.success(
                    request, created % {"building": building.name, "count": len(units)}
                )
                return go_to(request, "setup:edit" if units else "setup:units", building.pk)
        else:
            generator.is_valid()
            status = 422
    context = {"form": form, "generator": generator, "preview": preview}
    template = "setup/building_new.html"
    if request.htmx:
        template += "#building_form"
    return render(request, template, context, status=status if not request.htmx else 200)


@require_http_methods(["GET", "POST"])
@member_required(Role.ADMIN)
def building_edit(request: MemberRequest, building_id: int) -> HttpResponse:
    building = get_building(request, building_id)
    organization = request.membership.organization
    form = BuildingForm(
        request.POST if request.method == "POST" else None,
        instance=building,
        organization=organization,
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            set_building_turf(
                actor=request.membership,
                building=building,
                organizers=form.cleaned_data["organizers"],
            )
        messages.success(request, _("Saved %(building)s.") % {"building": building.name})
        return redirect("setup:edit", building.pk)
    floors = building.units.values("floor").annotate(n=Count("pk")).order_by("-floor")
    return render(
        request,
        "setup/building_edit.html",
        {"building": building, "form": form, "floors": floors},
        status=422 if form.errors else 200,
    )


@require_POST
@member_required(Role.ADMIN)
def building_archive(request: MemberRequest, building_id: int) -> HttpResponse:
    """Archive a building (organizers no longer see it; nothing is deleted), or restore it."""
    building = get_building(request, building_id)
    building.archived = request.POST.get("archived") == "1"
    building.save(update_fields=["archived"])
    if building.archived:
        messages.success(
            request,
            _("Archived %(building)s. Its history is kept.") % {"building": building.name},
        )
        return redirect("setup:buildings")
    messages.success(request, _("Restored %(building)s.") % {"building": building.name})
    return redirect("setup:edit", building.pk)


@require_http_methods(["GET", "POST"])
@member_required(Role.ADMIN)
def building_units(request: MemberRequest, building_id: int) -> HttpResponse:
    """The bulk unit generator: ranges or pasted labels, a preview, then the new doors."""
    building = get_building(request, building_id)
    data = request.POST if request.method == "POST" else None
    generator = UnitGeneratorForm(data, top_floor=building.floors)
    preview = None
    status = 200
    if request.method == "POST":
        if generator.is_valid() and generator.cleaned_data["doors"]:
            doors = generator.cleaned_data["doors"]
            have = {label.lower() for label in building.units.values_list("label", flat=True)}
            preview = generator_preview(request, doors, have)
            if preview is None:
                units = add_units(actor=request.membership, building=building, doors=doors)
                kept = len(doors) - len(units)
                text = ngettext(
                    "Added %(count)s unit to %(building)s.",
                    "Added %(count)s units to %(building)s.",
                    len(units),
                ) % {"count": len(units), "building": building.name}
                if kept:
                    text += " " + ngettext(
                        "%(count)s already there stays as it was.",
                        "%(count)s already there stay as they were.",
                        kept,
                    ) % {"count": kept}
                messages.success(request, text)
                return go_to(request, "setup:edit", building.pk)
        else:
            if generator.is_valid():
                generator.add_error(None, _("Give floors and units, or paste labels."))
            status = 422
    context = {
        "building": building,
        "generator": generator,
        "preview": preview,
        "unit_count": building.units.count(),
    }
    template = "setup/units.html"
    if request.htmx:
        template += "#generator"
    return render(request, template, context, status=status if not request.htmx else 200)


# Owners


def filtered_contacts(request: MemberRequest, filters: OwnerFilterForm) -> QuerySet[Contact]:
    contacts = Contact.objects.filter(organization_id=request.membership.organization_id)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["building"]:
            contacts = contacts.filter(unit__building=data["building"])
        if data["owner"] == OWNER_NOBODY:
            contacts = contacts.filter(owner__isnull=True)
        elif data["owner"]:
            contacts = contacts.filter(owner_id=data["owner"])
        if data["orphaned"]:
            contacts = contacts.filter(orphaned=True)
    return contacts


@require_http_methods(["GET", "POST"])
@member_required(Role.ADMIN)
def owners(request: MemberRequest) -> HttpResponse:
    """Change the owner of many contacts at once: the ticked ones, or every one the filters
    match. Each change is kept as an OwnerChange."""
    organization = request.membership.organization
    filters = OwnerFilterForm(request.GET, organization=organization)
    contacts = filtered_contacts(request, filters)
    form = ReassignForm(
        request.POST if request.method == "POST" else None,
        organization=organization,
        contacts=contacts,
    )
    if request.method == "POST" and form.is_valid():
        chosen = contacts if form.cleaned_data["everyone"] else form.cleaned_data["contacts"]
        try:
            moved = reassign_contacts(
                actor=request.membership,
                contacts=list(chosen.only("pk")),
                to_owner=form.cleaned_data["to_owner"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            new_owner = form.cleaned_data["to_owner"]
            messages.success(
                request,
                ngettext(
                    "%(count)s contact handed to %(owner)s.",
                    "%(count)s contacts handed to %(owner)s.",
                    moved,
                )
                % {"count": moved, "owner": new_owner.first_name or new_owner.username},
            )
            query = request.GET.urlencode()
            return redirect(request.path + (f"?{query}" if query else ""))
    listed = contacts.select_related("unit__building", "owner").order_by(
        "unit__building__name", "unit__floor", "unit__label", "name", "pk"
    )
    page = Paginator(listed, CONTACTS_PER_PAGE).get_page(request.GET.get("page"))
    template = "setup/owners.html"
    if request.htmx:
        template += "#contacts"
    return render(
        request,
        template,
        {"filters": filters, "form": form, "page": page},
        status=422 if form.errors else 200,
    )


# CSV import


def import_context(plan: Plan, token: str) -> dict[str, Any]:
    return {
        "plan": plan,
        "confirm": ConfirmImportForm(initial={"token": token, "expected": plan.fingerprint}),
    }


@require_http_methods(["GET", "POST"])
@member_required(Role.ADMIN)
def import_csv(request: MemberRequest) -> HttpResponse:
    """Upload, then the dry run: what would be created and every row error, line by line."""
    form = ImportForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
    )
    context: dict[str, Any] = {
        "form": form,
        "columns": COLUMNS,
        "max_rows": MAX_ROWS,
        "max_mb": IMPORT_MAX_BYTES // 1024 // 1024,
    }
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["file"].read()
        try:
            plan = plan_import(organization=request.membership.organization, data=data)
        except ImportRefused as refused:
            form.add_error("file", str(refused))
        else:
            token = keep_upload(actor=request.membership, data=data)
            context |= import_context(plan, token) | {"filename": form.cleaned_data["file"].name}
    return render(request, "setup/import.html", context, status=422 if form.errors else 200)


@require_POST
@member_required(Role.ADMIN)
def import_confirm(request: MemberRequest) -> HttpResponse:
    """Import the valid rows of the previewed file in one transaction, if nothing changed
    since the preview; otherwise show the new preview and import nothing."""
    form = ConfirmImportForm(request.POST)
    data = None
    if form.is_valid():
        data = pending_upload(actor=request.membership, token=form.cleaned_data["token"])
    if data is None:
        messages.error(
            request,
            _("That upload was already imported, cancelled or has expired. Upload the file again."),
        )
        return redirect("setup:import")
    token = form.cleaned_data["token"]
    try:
        plan = import_residents(
            actor=request.membership, data=data, expected=form.cleaned_data["expected"]
        )
    except ImportRefused as refused:
        messages.error(request, str(refused))
        return redirect("setup:import")
    if not plan.saved:
        messages.warning(
            request,
            _(
                "Buildings, units or residents changed since the preview, so nothing was "
                "imported. Here is the preview again."
            ),
        )
        context = {"form": ImportForm(), "columns": COLUMNS} | import_context(plan, token)
        return render(request, "setup/import.html", context, status=409)
    discard_upload(actor=request.membership, token=token)
    text = _("Imported %(residents)s, %(units)s, %(buildings)s.") % {
        "residents": residents(len(plan.new_residents)),
        "units": ngettext("%(count)s unit", "%(count)s units", len(plan.new_units))
        % {"count": grouped(len(plan.new_units))},
        "buildings": ngettext("%(count)s building", "%(count)s buildings", len(plan.new_buildings))
        % {"count": grouped(len(plan.new_buildings))},
    }
    if plan.already_there:
        text += " " + ngettext(
            "%(residents)s was already in Doorstep.",
            "%(residents)s were already in Doorstep.",
            plan.already_there,
        ) % {"residents": residents(plan.already_there)}
    if plan.warnings:
        text += " " + ngettext(
            "%(residents)s was imported with the language left blank: the file's was unknown.",
            "%(residents)s were imported with the language left blank: the file's was unknown.",
            len(plan.warnings),
        ) % {"residents": residents(len(plan.warnings))}
    if plan.rows_with_errors:
        text += " " + ngettext(
            "%(count)s row with errors was left out.",
            "%(count)s rows with errors were left out.",
            plan.rows_with_errors,
        ) % {"count": grouped(plan.rows_with_errors)}
    messages.success(request, text)
    return redirect("setup:buildings")


def residents(number: int) -> str:
    return ngettext("%(count)s resident", "%(count)s residents", number) % {
        "count": grouped(number)
    }


@require_POST
@member_required(Role.ADMIN)
def import_cancel(request: MemberRequest) -> HttpResponse:
    form = ConfirmImportForm(request.POST)
    if form.is_valid():
        discard_upload(actor=request.membership, token=form.cleaned_data["token"])
    messages.info(request, _("Import cancelled; the uploaded file is deleted."))
    return redirect("setup:import")


@require_GET
@member_required(Role.ADMIN)
def import_sample(request: MemberRequest) -> FileResponse:
    path = settings.BASE_DIR / "docs" / "sample-import.csv"
    return FileResponse(path.open("rb"), as_attachment=True, filename="doorstep-sample.csv")


# CSV export


@require_http_methods(["GET", "POST"])
@member_required(Role.COMMITTEE, Role.ADMIN)
def export_csv(request: MemberRequest) -> HttpResponseBase:
    """Contacts with their last conversation, level and owner, as CSV; each export logged."""
    organization = request.membership.organization
    form = ExportForm(request.POST if request.method == "POST" else None, organization=organization)
    if request.method == "POST" and form.is_valid():
        building = form.cleaned_data["building"]
        everyone = form.cleaned_data["everyone"]
        contacts = contacts_to_export(
            actor=request.membership, building=building, everyone=everyone
        )
        filters = (
            f"{f'building={building.name}' if building else 'all buildings'}; "
            f"{'everyone' if everyone else 'active only'}"
        )
        lines = export_contacts(actor=request.membership, contacts=contacts, filters=filters)
        # A byte-order mark, so that Excel reads the names as UTF-8.
        response = StreamingHttpResponse(_with_bom(lines), content_type="text/csv; charset=utf-8")
        day = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="doorstep-contacts-{day}.csv"'
        return response
    logs = ExportLog.objects.filter(organization=organization).select_related("user")[:20]
    return render(
        request,
        "setup/export.html",
        {"form": form, "logs": logs},
        status=422 if form.errors else 200,
    )


def _with_bom(lines: Iterator[str]) -> Iterator[str]:
    yield "\ufeff"
    yield from lines


# The organization


@member_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def organization_settings(request: MemberRequest) -> HttpResponse:
    """Its working languages and its time zone."""
    organization = request.membership.organization
    form = OrganizationForm(
        request.POST or None, initial=OrganizationForm.initial_for(organization)
    )
    if request.method == "POST" and form.is_valid():
        try:
            set_languages_and_time_zone(
                actor=request.membership,
                languages=form.working_languages(),
                time_zone=form.cleaned_data["time_zone"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Languages and time zone saved."))
            return redirect("setup:organization")
    status = 422 if form.errors else 200
    context = {"form": form, "organization": organization, "here": "organization"}
    return render(request, "setup/organization.html", context, status=status)
