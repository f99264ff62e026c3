from django.urls import path

from buildings import views

app_name = "buildings"
urlpatterns = [
    path("", views.building_list, name="list"),
    path("<int:building_id>/", views.building_detail, name="detail"),
    path("<int:building_id>/not-home/", views.bulk_not_home, name="bulk_not_home"),
    path("<int:building_id>/units/<int:unit_id>/", views.unit_detail, name="unit"),
    path("<int:building_id>/units/<int:unit_id>/knock/", views.knock, name="knock"),
    path(
        "<int:building_id>/units/<int:unit_id>/residents/", views.new_resident, name="new_resident"
    ),
]
