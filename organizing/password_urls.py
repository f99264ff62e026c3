"""Setting a password by email: a forgotten one, or the first one of a new member."""

from django.contrib.auth import views as auth_views
from django.urls import path

from organizing import accounts

urlpatterns = [
    path("reset/", accounts.password_reset, name="password_reset"),
    path("reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
