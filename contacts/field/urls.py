"""The organizer's field screens, under two namespaces as their addresses read: a building's
floors and doors (/buildings/…) and a contact's page (/contacts/…). Today is the home page."""

from django.urls import path

from contacts.field import doors, meetings, residents, together

buildings = (
    [
        path("", doors.building_list, name="list"),
        path("knocking-with/", together.knocking_with, name="knocking_with"),
        path("<int:building_id>/", doors.building_detail, name="detail"),
        path("<int:building_id>/not-home/", doors.bulk_not_home, name="bulk_not_home"),
        path("<int:building_id>/not-home/undo/", doors.bulk_undo, name="bulk_undo"),
        path("<int:building_id>/units/<int:unit_id>/", doors.unit_detail, name="unit"),
        path("<int:building_id>/units/<int:unit_id>/knock/", doors.knock, name="knock"),
        path(
            "<int:building_id>/units/<int:unit_id>/residents/",
            doors.new_resident,
            name="new_resident",
        ),
    ],
    "buildings",
)

contacts = (
    [
        path("<int:contact_id>/", residents.contact_detail, name="detail"),
        path("<int:contact_id>/talk/", residents.talk, name="talk"),
        # A resident added on the phone, named by the key it made for them (see talk).
        path("new/<slug:key>/talk/", residents.talk, name="talk_new"),
        path("<int:contact_id>/visits/", residents.log_visit, name="log_visit"),
        path("<int:contact_id>/follow-ups/", residents.new_follow_up, name="new_follow_up"),
        path(
            "follow-ups/<int:follow_up_id>/move/", residents.move_follow_up, name="move_follow_up"
        ),
        path(
            "follow-ups/<int:follow_up_id>/cancel/",
            residents.cancel_follow_up,
            name="cancel_follow_up",
        ),
        path("asks/<int:ask_id>/answer/", residents.answer_ask, name="answer_ask"),
        path("visits/<int:visit_id>/undo/", residents.undo, name="undo"),
    ],
    "contacts",
)

meetings_urls = (
    [
        path("", meetings.meeting_list, name="list"),
        path("<int:meeting_id>/", meetings.meeting_detail, name="detail"),
        path("<int:meeting_id>/invite/", meetings.invite_residents, name="invite"),
        path("<int:meeting_id>/attendance/", meetings.attendance, name="attendance"),
        path("<int:meeting_id>/attendance/present/", meetings.attend, name="attend"),
        path("<int:meeting_id>/attendance/walk-in/", meetings.walk_in, name="walk_in"),
    ],
    "meetings",
)
