"""Careful by default: headers, production checks, and no personal data in logs."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from time_machine import TimeMachineFixture

from buildings.models import Unit
from contacts.models import Contact
from organizing.checks import hardening, two_factor_roles
from organizing.logs import RedactPersonalData, redact
from tests.makers import new_key

ROOT = Path(__file__).resolve().parents[2]


def test_pages_forbid_inline_script_eval_and_framing(olivia: User, maria: Contact) -> None:
    client = Client()
    client.force_login(olivia)

    response = client.get(reverse("home"))

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert b"<script>" not in response.content  # every script is a file of ours


def test_the_deploy_check_is_clean_under_production_settings(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "REDIS_URL"}},
        "DEBUG": "0",
        "SECRET_KEY": "a-long-random-secret-for-this-test-only-0123456789abcdefghijklmnop",
        "DATABASE_URL": "postgres://doorstep@127.0.0.1:1/doorstep",
        "SITE_URL": "https://doorstep.example.org",
        "ALLOWED_HOSTS": "doorstep.example.org",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "TRUSTED_PROXIES": "1",
        "VAR_DIR": str(tmp_path),
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_warns_of_a_proxy_whose_clients_are_not_told_apart() -> None:
    behind_a_proxy = {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}
    with override_settings(**behind_a_proxy, TRUSTED_PROXIES=0):
        assert "doorstep.W003" in {warning.id for warning in hardening(None)}
    with override_settings(**behind_a_proxy, TRUSTED_PROXIES=1):
        assert "doorstep.W003" not in {warning.id for warning in hardening(None)}


def test_requiring_two_factor_of_organizers_is_refused_at_start() -> None:
    # They have no page to set a code up on: every page would send them to a 403.
    with override_settings(OTP_REQUIRED_ROLES=["organizer", "admin"]):
        assert [error.id for error in two_factor_roles(None)] == ["doorstep.E001"]
    with override_settings(OTP_REQUIRED_ROLES=["committee", "admin"]):
        assert two_factor_roles(None) == []


def test_cookies_are_out_of_reach_of_scripts(olivia: User) -> None:
    client = Client()
    login_page = client.get(reverse("login"))
    logged_in = client.post(
        reverse("login"), {"username": "olivia", "password": "correct horse 42"}
    )

    assert login_page.cookies["csrftoken"]["httponly"]
    assert logged_in.cookies["sessionid"]["httponly"]
    assert logged_in.cookies["sessionid"]["samesite"] == "Lax"


def test_a_session_ends_after_two_idle_hours_and_requests_renew_it_once_a_minute(
    olivia: User, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(timezone.make_aware(dt.datetime(2031, 6, 11, 9)), tick=False)
    client = Client()
    client.force_login(olivia)

    # A request seconds after the login, which saved the session, does not save it again...
    time_machine.shift(dt.timedelta(seconds=20))
    soon = client.get(reverse("home"))
    # ...one a minute after it was saved does, and the two hours start again.
    time_machine.shift(dt.timedelta(seconds=40))
    later = client.get(reverse("home"))
    time_machine.shift(dt.timedelta(hours=2) - dt.timedelta(seconds=1))
    still_in = client.get(reverse("home"))
    time_machine.shift(dt.timedelta(hours=2, seconds=1))
    idle_too_long = client.get(reverse("home"))

    assert soon.status_code == 200 and "sessionid" not in soon.cookies
    assert later.cookies["sessionid"]["max-age"] == 2 * 3600
    assert still_in.status_code == 200
    assert idle_too_long.status_code == 302
    assert idle_too_long["Location"].startswith(reverse(settings.LOGIN_URL))


def test_recording_visits_logs_no_personal_data(
    olivia: User, maria: Contact, unit_1204: Unit, caplog: pytest.LogCaptureFixture
) -> None:
    Contact.objects.filter(pk=maria.pk).update(phone="555 010 7788", email="maria@example.org")
    client = Client()
    client.force_login(olivia)
    caplog.set_level(logging.DEBUG)

    client.post(
        reverse("buildings:knock", args=[unit_1204.building_id, unit_1204.pk]),
        {"contact": maria.pk, f"c{maria.pk}-outcome": "not_home", f"c{maria.pk}-key": new_key()},
    )
    client.post(
        reverse("contacts:talk", args=[maria.pk]),
        {
            "key": new_key(),
            "unit": unit_1204.pk,
            "channel": "door",
            "note": "Worried her landlord will retaliate",
            "level": 3,
        },
    )
    client.post(reverse("contacts:talk", args=[maria.pk]), {"key": "x"})  # refused input

    for secret in ("Maria", "Lopez", "555 010 7788", "maria@example.org", "landlord"):
        assert secret not in caplog.text


def test_the_log_filter_removes_emails_and_phone_numbers_from_messages_and_tracebacks() -> None:
    try:
        raise ValueError("could not reach maria@example.org at +1 (718) 555-0199")
    except ValueError:
        record = logging.LogRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "sent %s to %s",
            ("digest", "ana@example.org"),
            sys.exc_info(),
        )

    RedactPersonalData().filter(record)
    formatted = logging.Formatter().format(record)

    assert "sent digest to [email]" in formatted
    assert "example.org" not in formatted and "555-0199" not in formatted
    assert redact('GET /contacts/12/ HTTP/1.1" 200 1349') == 'GET /contacts/12/ HTTP/1.1" 200 1349'
    assert redact("older than 2026-11-28 15:59:53+00:00") == "older than 2026-11-28 15:59:53+00:00"
    assert redact("call 2026-112-8159") == "call [phone]"


def test_every_log_handler_runs_the_filter() -> None:
    handlers: dict[str, dict[str, list[str]]] = settings.LOGGING["handlers"]  # type: ignore[index, assignment]
    for handler in handlers.values():
        assert "personal_data" in handler.get("filters", [])
