from django.urls import path

from contacts.committee import meetings
from contacts.committee import views as committee

app_name = "committee"
urlpatterns = [
    path("", committee.dashboard, name="dashboard"),
    path("reassign/", committee.reassign, name="reassign"),
    path("contacts/<int:contact_id>/snooze/", committee.snooze, name="snooze"),
    path("lapsed.csv", committee.export, name="export"),
    path("settings/", committee.lapse_settings, name="settings"),
    path("meetings/new/", meetings.new_meeting, name="new_meeting"),
    path("meetings/<int:meeting_id>/edit/", meetings.edit_meeting, name="edit_meeting"),
    path("meetings/<int:meeting_id>/close/", meetings.close_meeting, name="close_meeting"),
]
