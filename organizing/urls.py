"""The project's URLs: the one module of organizing/ that imports the screens of contacts/
(the import-linter contract in pyproject.toml names it)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from contacts.committee import urls as committee_urls
from contacts.field import offline, today
from contacts.field import urls as field_urls
from contacts.privacy import urls as privacy_urls
from contacts.setup import urls as setup_urls
from organizing import accounts, health, i18n, outbox_words, two_factor

# Where admins must use two-factor, so must Django's admin.
admin.site.__class__ = two_factor.CodeRequiredAdminSite

urlpatterns = [
    path("", today.today, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("sw.js", offline.service_worker, name="service_worker"),
    path("offline/pages.json", offline.pages_to_keep, name="offline_pages"),
    path("login/", accounts.login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", i18n.choose_language, name="language"),
    path("words/<str:language>.json", outbox_words.words, name="outbox_words"),
    path("password/", include("organizing.password_urls")),
    path("invitation/<str:token>/", accounts.invitation, name="invitation"),
    path("account/two-factor/", two_factor.status, name="two_factor"),
    path("account/two-factor/setup/", two_factor.setup, name="two_factor_setup"),
    path("account/two-factor/verify/", two_factor.verify, name="two_factor_verify"),
    path("account/two-factor/off/", two_factor.turn_off, name="two_factor_off"),
    path("buildings/", include(field_urls.buildings)),
    path("contacts/", include(field_urls.contacts)),
    path("meetings/", include(field_urls.meetings_urls)),
    path("committee/", include(committee_urls)),
    path("setup/", include(setup_urls.setup)),
    path("members/", include(setup_urls.team)),
    path("audit/", include(privacy_urls)),
    path("admin/", admin.site.urls),
]
