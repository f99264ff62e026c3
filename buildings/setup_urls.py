from django.urls import path

from buildings import setup

app_name = "setup"
urlpatterns = [
    path("", setup.building_list, name="buildings"),
]
