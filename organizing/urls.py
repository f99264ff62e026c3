from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from contacts import offline
from contacts import views as contact_views
from organizing import accounts, two_factor, views

# Where admins must use two-factor, so must Django's admin.
admin.site.__class__ = two_factor.CodeRequiredAdminSite

urlpatterns = [
    path("", contact_views.today, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("sw.js", offline.service_worker, name="service_worker"),
    path("offline/pages.json", offline.pages_to_keep, name="offline_pages"),
    path("login/", accounts.login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", include("organizing.password_urls")),
    path("account/two-factor/", two_factor.status, name="two_factor"),
    path("account/two-factor/setup/", two_factor.setup, name="two_factor_setup"),
    path("account/two-factor/verify/", two_factor.verify, name="two_factor_verify"),
    path("account/two-factor/off/", two_factor.turn_off, name="two_factor_off"),
    path("buildings/", include("buildings.urls")),
    path("contacts/", include("contacts.urls")),
    path("committee/", include("contacts.committee_urls")),
    path("setup/", include("buildings.setup_urls")),
    path("members/", include("organizing.members_urls")),
    path("audit/", include("contacts.audit_urls")),
    path("admin/", admin.site.urls),
]
