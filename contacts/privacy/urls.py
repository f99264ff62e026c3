from django.urls import path

from contacts.privacy import audit

app_name = "audit"
urlpatterns = [
    path("", audit.log, name="log"),
    path("contacts/<int:contact_id>/erase/", audit.erase, name="erase"),
]
