from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from contacts.models import (
    Ask,
    Contact,
    Erasure,
    ExportLog,
    FollowUp,
    LapseThreshold,
    LevelChange,
    OwnerChange,
    Visit,
)


class LevelChangeInline(admin.TabularInline):
    model = LevelChange
    extra = 0
    readonly_fields = ["from_level", "to_level", "changed_by", "changed_at"]
    can_delete = False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "organization",
        "unit",
        "level",
        "status",
        "owner",
        "last_conversation_at",
        "attempts_since_conversation",
    ]
    list_filter = ["organization", "level", "status"]
    search_fields = ["name", "unit__label", "unit__building__name"]
    list_select_related = ["organization", "unit__building", "owner"]
    autocomplete_fields = ["unit", "owner"]
    readonly_fields = ["last_conversation_at", "last_attempt_at", "attempts_since_conversation"]
    inlines = [LevelChangeInline]

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        """A change writes the fields it changed, and no others: the clocks, the flag and
        the open lapse are the app's to keep, and the job or a knock may have moved them
        since the form's copy was read."""
        if change:
            obj.save(update_fields=[*form.changed_data, "updated_at"])
        else:
            super().save_model(request, obj, form, change)


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    """Read-only: visits are recorded through the app so the contact's clocks stay right."""

    list_display = ["happened_at", "outcome", "channel", "contact", "unit", "organizer"]
    list_filter = ["organization", "outcome", "channel"]
    list_select_related = ["contact", "unit__building", "organizer"]
    date_hierarchy = "happened_at"

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Ask)
class AskAdmin(admin.ModelAdmin):
    list_display = ["question", "contact", "asked_by", "asked_at", "due_on", "answer"]
    list_filter = ["answer"]
    search_fields = ["question"]
    list_select_related = ["contact", "asked_by"]
    autocomplete_fields = ["contact"]


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["planned_for", "purpose", "contact", "assigned_to", "done_by", "cancelled_at"]
    list_select_related = ["contact", "assigned_to", "done_by"]
    autocomplete_fields = ["contact"]


@admin.register(LapseThreshold)
class LapseThresholdAdmin(admin.ModelAdmin):
    list_display = ["organization", "level", "days"]
    list_filter = ["organization"]
    list_select_related = ["organization"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit records: written by the app when the thing happens, never edited after."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ExportLog)
class ExportLogAdmin(ReadOnlyAdmin):
    list_display = ["exported_at", "organization", "user", "what", "rows", "filters"]
    list_filter = ["organization"]
    list_select_related = ["organization", "user"]
    date_hierarchy = "exported_at"


@admin.register(OwnerChange)
class OwnerChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "contact", "from_owner", "to_owner", "changed_by"]
    list_select_related = ["contact", "from_owner", "to_owner", "changed_by"]
    date_hierarchy = "changed_at"


@admin.register(Erasure)
class ErasureAdmin(ReadOnlyAdmin):
    list_display = ["erased_at", "organization", "contact_id", "erased_by", "visits", "asks"]
    list_filter = ["organization"]
    list_select_related = ["organization", "erased_by"]
    date_hierarchy = "erased_at"
