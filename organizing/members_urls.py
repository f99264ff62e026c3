from django.urls import path

from organizing import members

app_name = "members"
urlpatterns = [
    path("", members.member_list, name="list"),
]
