from django.urls import path

from contacts import views

app_name = "contacts"
urlpatterns = [
    path("<int:contact_id>/", views.contact_detail, name="detail"),
    path("<int:contact_id>/talk/", views.talk, name="talk"),
    path("<int:contact_id>/visits/", views.log_visit, name="log_visit"),
    path("<int:contact_id>/follow-ups/", views.new_follow_up, name="new_follow_up"),
    path("follow-ups/<int:follow_up_id>/move/", views.move_follow_up, name="move_follow_up"),
    path("follow-ups/<int:follow_up_id>/cancel/", views.cancel_follow_up, name="cancel_follow_up"),
    path("asks/<int:ask_id>/answer/", views.answer_ask, name="answer_ask"),
    path("visits/<int:visit_id>/undo/", views.undo, name="undo"),
]
