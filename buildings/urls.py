from django.urls import path

from buildings import views

app_name = "buildings"
urlpatterns = [
    path("", views.building_list, name="list"),
    path("<int:building_id>/", views.building_detail, name="detail"),
]
