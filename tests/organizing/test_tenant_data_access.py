"""Who may read tenants' data, and what is left behind: the committee behind two factors,
nothing kept by a shared phone's browser, one account not guessed at from many addresses,
an admin who learns nothing of accounts outside the organization, trails that outlive a
deleted user, and a refused page that costs the log one line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buildings.models import Unit
from contacts.models import Contact
from organizing.logs import ForbiddenInOneLine
from organizing.models import Organization, Role
from tests.makers import make_contact, make_member

PASSWORD = "correct horse 42"  # tests/makers.make_member's


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def log_in(username: str, password: str, address: str) -> Any:
    return Client().post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


# Two-factor


def test_where_the_committee_must_use_two_factor_cora_sets_it_up_before_the_dashboard(
    settings: Any, cora: User
) -> None:
    settings.OTP_REQUIRED_ROLES = ["committee", "admin"]

    response = client_for(cora).get(reverse("committee:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_setup"))


# Nothing kept by the browser


def test_pages_with_tenants_names_are_not_stored_by_the_browser(
    olivia: User, ada: User, maria: Contact, unit_1204: Unit
) -> None:
    pages = [
        (olivia, reverse("home")),
        (olivia, reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk])),
        (olivia, reverse("contacts:detail", args=[maria.pk])),
        (ada, reverse("audit:log")),
    ]
    for user, url in pages:
        response = client_for(user).get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    export = client_for(ada).post(reverse("setup:export"), {})
    assert "no-store" in export["Cache-Control"]


def test_the_service_worker_and_the_offline_page_list_keep_their_own_caching(
    olivia: User, maria: Contact
) -> None:
    client = client_for(olivia)

    assert client.get(reverse("service_worker"))["Cache-Control"] == "no-cache"
    assert client.get(reverse("offline_pages"))["Cache-Control"] == "private, no-cache"


# Lockout of one account from many addresses


def test_an_account_guessed_at_from_many_addresses_is_locked_out_everywhere(
    settings: Any, olivia: User
) -> None:
    limit = settings.LOGIN_ACCOUNT_FAILURE_LIMIT
    assert limit > settings.AXES_FAILURE_LIMIT
    for n in range(limit - 1):
        assert (
            log_in("olivia", "wrong password", f"10.1.{n // 200}.{n % 200 + 1}").status_code == 200
        )
    # One failure short of the limit, and each address far below its own: she gets in.
    assert log_in("olivia", PASSWORD, "10.9.9.9").status_code == 302

    log_in("OLIVIA", "wrong password", "10.2.0.1")
    locked = log_in("olivia", PASSWORD, "10.9.9.10")

    assert locked.status_code == 429
    assert "Login locked for now" in locked.content.decode()
    # Another account is not concerned.
    make_member(olivia.membership.organization, "omar")
    assert log_in("omar", PASSWORD, "10.9.9.10").status_code == 302


# Adding a member tells nothing of other organizations' accounts


# Trails outlive deleted users


def test_the_audit_page_and_a_contacts_trail_survive_a_deleted_user(
    ada: User, org: Organization, unit_1204: Unit
) -> None:
    gone = make_member(org, "gone")
    client_for(ada).post(
        reverse("members:role", args=[gone.membership.pk]), {"role": Role.COMMITTEE}
    )
    contact = make_contact(unit_1204, owner=gone, name="Owned by someone who left")
    contact.owner = None
    contact.save()
    gone.delete()  # as a superuser may, in Django's admin

    audit = client_for(ada).get(reverse("audit:log"))
    trail = client_for(ada).get(reverse("contacts:detail", args=[contact.pk]))

    assert audit.status_code == 200
    assert "a deleted account" in audit.content.decode()
    assert trail.status_code == 200
    assert "owner: (deleted) → —" in trail.content.decode()


# A refusal is one line in the log


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """What the configured console handler writes, filters and all."""
    [handler] = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, ForbiddenInOneLine) for f in h.filters)
    ]
    assert isinstance(handler, logging.StreamHandler)
    written = io.StringIO()
    original = handler.setStream(written)
    try:
        yield written
    finally:
        handler.setStream(original)


@pytest.fixture
def as_olivia(olivia: User) -> Client:
    return client_for(olivia)


def test_a_403_writes_one_line_to_the_log_and_no_traceback(
    as_olivia: Client, server_log: io.StringIO
) -> None:
    response = as_olivia.get(reverse("audit:log"))

    assert response.status_code == 403
    assert server_log.getvalue().splitlines() == ["Forbidden (Permission denied): /audit/"]
