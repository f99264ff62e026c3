"""The admin's setup screens, under two namespaces as their addresses read: the ground
(/setup/…: buildings, units, owners, CSV in and out) and the members (/members/…)."""

from django.urls import path

from contacts.setup import members, views

setup = (
    [
        path("", views.building_list, name="buildings"),
        path("new/", views.building_new, name="new"),
        path("<int:building_id>/", views.building_edit, name="edit"),
        path("<int:building_id>/archive/", views.building_archive, name="archive"),
        path("<int:building_id>/units/", views.building_units, name="units"),
        path("owners/", views.owners, name="owners"),
        path("import/", views.import_csv, name="import"),
        path("import/confirm/", views.import_confirm, name="import_confirm"),
        path("import/cancel/", views.import_cancel, name="import_cancel"),
        path("import/sample.csv", views.import_sample, name="import_sample"),
        path("export/", views.export_csv, name="export"),
        path("organization/", views.organization_settings, name="organization"),
    ],
    "setup",
)

team = (
    [
        path("", members.member_list, name="list"),
        path("add/", members.member_add, name="add"),
        path(
            "invitations/<int:invitation_id>/resend/",
            members.invitation_resend,
            name="invitation_resend",
        ),
        path(
            "invitations/<int:invitation_id>/cancel/",
            members.invitation_cancel,
            name="invitation_cancel",
        ),
        path("<int:membership_id>/", members.member_detail, name="detail"),
        path("<int:membership_id>/role/", members.member_role, name="role"),
        path("<int:membership_id>/turf/", members.member_turf, name="turf"),
        path("<int:membership_id>/deactivate/", members.member_deactivate, name="deactivate"),
        path("<int:membership_id>/reactivate/", members.member_reactivate, name="reactivate"),
        path(
            "<int:membership_id>/password-link/",
            members.member_password_link,
            name="password_link",
        ),
        path(
            "<int:membership_id>/two-factor/reset/",
            members.member_two_factor_reset,
            name="two_factor_reset",
        ),
    ],
    "members",
)
