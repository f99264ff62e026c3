from django.urls import path

from contacts import committee

app_name = "committee"
urlpatterns = [
    path("", committee.dashboard, name="dashboard"),
]
