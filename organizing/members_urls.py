from django.urls import path

from organizing import members

app_name = "members"
urlpatterns = [
    path("", members.member_list, name="list"),
    path("add/", members.member_add, name="add"),
    path("<int:membership_id>/", members.member_detail, name="detail"),
    path("<int:membership_id>/role/", members.member_role, name="role"),
    path("<int:membership_id>/turf/", members.member_turf, name="turf"),
    path("<int:membership_id>/deactivate/", members.member_deactivate, name="deactivate"),
    path("<int:membership_id>/reactivate/", members.member_reactivate, name="reactivate"),
    path("<int:membership_id>/password-link/", members.member_password_link, name="password_link"),
    path(
        "<int:membership_id>/two-factor/reset/",
        members.member_two_factor_reset,
        name="two_factor_reset",
    ),
]
