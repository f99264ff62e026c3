from django.contrib import admin

from buildings.models import Building, Turf, Unit


class TurfInline(admin.TabularInline):
    model = Turf
    extra = 0
    autocomplete_fields = ["organizer"]


@admin.register(Building)
class BuildingAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "street_address", "city", "floors", "archived"]
    list_filter = ["organization", "archived", "city"]
    search_fields = ["name", "street_address", "postal_code"]
    list_select_related = ["organization"]
    inlines = [TurfInline]


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["label", "building", "floor", "do_not_knock", "vacant", "last_conversation_at"]
    list_filter = ["building__organization", "do_not_knock", "vacant"]
    search_fields = ["label", "building__name"]
    list_select_related = ["building"]
    autocomplete_fields = ["building"]
