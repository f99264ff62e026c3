from django.contrib import admin

from organizing.models import Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "active", "joined_at"]
    list_filter = ["organization", "role", "active"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user"]
