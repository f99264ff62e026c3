"""Getting in, and being kept out: lockout after wrong passwords, passwords set by email,
two-factor codes for committee and admins, and rate limits on login and knocks."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from kombu.exceptions import OperationalError

from buildings.models import Building, Unit
from contacts.models import Contact, Visit
from organizing.celery import app
from organizing.models import Role
from organizing.security import client_ip
from organizing.tasks import send_password_link_task
from tests.makers import make_member, new_key

PASSWORD = "correct horse 42"  # tests/makers.make_member's


def log_in(client: Client, username: str, password: str, address: str = "10.0.0.1") -> Any:
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def link_in(message: mail.EmailMessage) -> str:
    match = re.search(r"https?://[^/\s]+(/password/reset/[^\s]+/)", str(message.body))
    assert match, message.body
    return match.group(1)


# Lockout


def test_five_wrong_passwords_lock_the_account_out_from_that_address(
    olivia: User, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    caplog.set_level(logging.DEBUG)
    for _ in range(4):
        response = log_in(client, "olivia", "wrong password")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()

    log_in(client, "olivia", "wrong password")  # the fifth
    locked = log_in(client, "olivia", PASSWORD)

    page = locked.content.decode()
    assert locked.status_code == 429
    assert "Login locked for now" in page and "15 minutes" in page
    assert "_auth_user_id" not in client.session
    # The same account from another address, and another account from this one, still get in.
    assert log_in(Client(), "olivia", PASSWORD, address="10.0.0.2").status_code == 302
    make_member(olivia.membership.organization, "omar")
    assert log_in(Client(), "omar", PASSWORD).status_code == 302
    # Neither the account nor the address is written to the logs.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "olivia" not in logged and "10.0.0.1" not in logged


def test_the_lockout_ends_after_the_cool_off(olivia: User) -> None:
    for _ in range(5):
        log_in(Client(), "OLIVIA", "wrong password")
    assert log_in(Client(), "olivia", PASSWORD).status_code == 429  # one account, any case

    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )

    assert log_in(Client(), "olivia", PASSWORD).status_code == 302


def test_a_right_password_clears_earlier_failures(olivia: User) -> None:
    for _ in range(4):
        log_in(Client(), "olivia", "wrong password")
    assert log_in(Client(), "olivia", PASSWORD).status_code == 302
    for _ in range(4):
        log_in(Client(), "olivia", "wrong password")

    assert log_in(Client(), "olivia", PASSWORD).status_code == 302


# Rate limits


def test_one_address_trying_many_accounts_is_slowed_down(settings: Any, olivia: User) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "5/10m"}
    for n in range(5):
        assert log_in(Client(), f"guess{n}", "password").status_code == 200

    refused = log_in(Client(), "olivia", PASSWORD)

    assert refused.status_code == 429
    assert "Too many at once" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    assert log_in(Client(), "olivia", PASSWORD, address="10.0.0.9").status_code == 302


def knock(client: Client, unit: Unit, contact: Contact, **headers: Any) -> Any:
    return client.post(
        reverse("buildings:knock", args=[unit.building_id, unit.pk]),
        {
            "contact": contact.pk,
            f"c{contact.pk}-outcome": "not_home",
            f"c{contact.pk}-key": new_key(),
        },
        **headers,
    )


def test_knocks_past_the_limit_are_refused_and_kept_on_the_phone(
    settings: Any, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "knock": "3/m"}
    client = Client()
    client.force_login(olivia)
    for _ in range(3):
        assert knock(client, unit_1204, maria).status_code in (200, 302)

    refused = knock(client, unit_1204, maria)
    replayed = knock(
        client, unit_1204, maria, HTTP_ACCEPT="application/json", HTTP_X_DOORSTEP_REPLAY="1"
    )

    assert refused.status_code == 429 and "Too many at once" in refused.content.decode()
    # The outbox keeps what the server refuses with 429 and sends it again later.
    assert replayed.status_code == 429 and "try again in" in replayed.json()["message"]
    assert Visit.objects.filter(contact=maria).count() == 3


def test_the_knock_limit_is_per_organizer(
    settings: Any, olivia: User, riverside: Building, maria: Contact, unit_1204: Unit
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "knock": "1/m"}
    olivia_client, colleague = Client(), Client()
    olivia_client.force_login(olivia)
    sam = make_member(olivia.membership.organization, "sam")
    riverside.turf.create(organizer=sam)
    colleague.force_login(sam)

    assert knock(olivia_client, unit_1204, maria).status_code in (200, 302)
    assert knock(colleague, unit_1204, maria).status_code in (200, 302)
    assert knock(olivia_client, unit_1204, maria).status_code == 429


def test_a_knock_is_recorded_when_the_cache_is_down(
    settings: Any, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
        }
    }
    client = Client()
    client.force_login(olivia)

    response = knock(client, unit_1204, maria)

    assert response.status_code in (200, 302)
    assert Visit.objects.filter(contact=maria).count() == 1


def test_the_client_address_behind_our_proxy_is_the_one_it_saw(settings: Any, rf: Any) -> None:
    forwarded = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7", REMOTE_ADDR="10.1.1.1")
    settings.TRUSTED_PROXIES = 0
    assert client_ip(forwarded) == "10.1.1.1"
    settings.TRUSTED_PROXIES = 1
    # The left entry is whatever the client wrote: never trusted.
    assert client_ip(forwarded) == "203.0.113.7"
    # A header that holds no address (a proxy set up wrong) is not a client: the peer is.
    garbled = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, unknown", REMOTE_ADDR="10.1.1.1")
    assert client_ip(garbled) == "10.1.1.1"
    # One client written two ways is counted once; a phone rotating through its IPv6 /64
    # is one client, and an IPv4 client seen through an IPv6 socket is that IPv4 client.
    assert client_ip(rf.get("/", REMOTE_ADDR="2001:DB8::0:1")) == "2001:db8::"
    assert client_ip(rf.get("/", REMOTE_ADDR="2001:db8::ffff:1234")) == "2001:db8::"
    assert client_ip(rf.get("/", REMOTE_ADDR="2001:db8:0:1::1")) == "2001:db8:0:1::"
    assert client_ip(rf.get("/", REMOTE_ADDR="::ffff:203.0.113.7")) == "203.0.113.7"
    assert client_ip(rf.get("/", REMOTE_ADDR="::ffff:198.51.100.9")) == "198.51.100.9"


# Passwords by email


def test_a_forgotten_password_is_set_again_by_email(
    olivia: User, on_commit: Callable[..., Any]
) -> None:
    client = Client()
    with on_commit():
        response = client.post(
            reverse("password_reset"), {"email": "OLIVIA@example.org"}, follow=True
        )
    assert "Check your email" in response.content.decode()
    (message,) = mail.outbox
    form_url = client.get(link_in(message), follow=True).redirect_chain[-1][0]

    client.post(
        form_url, {"new_password1": "another secret 99", "new_password2": "another secret 99"}
    )

    assert log_in(Client(), "olivia", "another secret 99").status_code == 302
    assert log_in(Client(), "olivia", PASSWORD, address="10.0.0.3").status_code == 200


def test_an_unknown_address_gets_the_same_answer_and_no_email(db: None) -> None:
    response = Client().post(
        reverse("password_reset"), {"email": "nobody@example.org"}, follow=True
    )

    assert "Check your email" in response.content.decode()
    assert mail.outbox == []


@pytest.mark.usefixtures("tasks_go_to_the_broker")
def test_the_answer_to_a_reset_sends_nothing_itself_whoever_asks(
    olivia: User, on_commit: Callable[..., Any]
) -> None:
    # An email sent in the request would make a member's address answer slower than a
    # stranger's. Both answers only queue (or not) a message for the worker on Redis.
    app.control.purge()
    for email, queued in (("olivia@example.org", 1), ("nobody@example.org", 0)):
        with on_commit():
            response = Client().post(reverse("password_reset"), {"email": email}, follow=True)

        assert "Check your email" in response.content.decode()
        assert mail.outbox == []
        assert app.control.purge() == queued


@pytest.mark.usefixtures("tasks_go_to_the_broker")
def test_a_reset_is_emailed_at_once_when_the_broker_is_down(
    olivia: User, on_commit: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(send_password_link_task, "apply_async", unreachable)

    with on_commit():
        Client().post(reverse("password_reset"), {"email": "olivia@example.org"})

    (message,) = mail.outbox
    assert message.to == ["olivia@example.org"] and "/password/reset/" in message.body


def test_an_admin_sends_a_member_a_fresh_link(
    ada: User, olivia: User, on_commit: Callable[..., Any]
) -> None:
    admin = Client()
    admin.force_login(ada)
    with on_commit():
        response = admin.post(
            reverse("members:password_link", args=[olivia.membership.pk]), follow=True
        )

    assert "A link to set a password is on its way to olivia@example.org" in (
        response.content.decode()
    )
    assert [m.to for m in mail.outbox] == [["olivia@example.org"]]


# Two-factor


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():06d}"


def test_a_committee_member_sets_up_two_factor(cora: User) -> None:
    client = Client()
    client.force_login(cora)
    page = client.get(reverse("two_factor_setup"))
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=cora)

    wrong = client.post(
        reverse("two_factor_setup"), {"code": "000000" if code(device) != "000000" else "111111"}
    )
    assert wrong.status_code == 422
    assert "That code did not work" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    # Each wrong code makes the next try wait: a guesser can't run through a million codes.
    throttled = client.post(reverse("two_factor_setup"), {"code": code(device)})
    assert "Too many wrong codes: wait 1 second" in throttled.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    device.throttle_reset()

    right = client.post(reverse("two_factor_setup"), {"code": code(device), "next": "/committee/"})

    assert right.status_code == 302 and right["Location"] == "/committee/"
    device.refresh_from_db()
    assert device.confirmed
    assert "On." in client.get(reverse("two_factor")).content.decode()


def confirmed_device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Phone app", confirmed=True)


def test_with_two_factor_on_a_password_alone_shows_nothing(cora: User, maria: Contact) -> None:
    device = confirmed_device(cora)
    client = Client()
    assert log_in(client, "cora", PASSWORD).status_code == 302

    for url in (reverse("committee:dashboard"), reverse("contacts:detail", args=[maria.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("two_factor_verify"))
    assert maria.name not in client.get(reverse("two_factor_verify")).content.decode()

    wrong = client.post(reverse("two_factor_verify"), {"code": "12345x"})
    assert wrong.status_code == 422 and "6 digits" in wrong.content.decode()
    before_the_code = client.cookies["sessionid"].value
    right = client.post(
        reverse("two_factor_verify"), {"code": code(device), "next": reverse("committee:dashboard")}
    )

    assert right["Location"] == reverse("committee:dashboard")
    assert client.get(reverse("committee:dashboard")).status_code == 200
    # The session key seen before the code opens nothing after it.
    assert client.cookies["sessionid"].value != before_the_code
    stale = Client()
    stale.cookies["sessionid"] = before_the_code
    assert stale.get(reverse("committee:dashboard")).status_code == 302
    # A code works once: replaying it in another session is refused.
    thief = Client()
    log_in(thief, "cora", PASSWORD, address="10.0.0.5")
    assert thief.post(reverse("two_factor_verify"), {"code": code(device)}).status_code == 422


def test_a_code_set_up_in_another_session_is_asked_for_in_this_one_at_once(
    cora: User,
) -> None:
    laptop = Client()
    log_in(laptop, "cora", PASSWORD)
    assert laptop.get(reverse("committee:dashboard")).status_code == 200

    confirmed_device(cora)  # set up on her phone, in another session

    response = laptop.get(reverse("committee:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_verify"))


def test_two_factor_is_not_turned_off_without_a_code(cora: User) -> None:
    thief = Client()
    log_in(thief, "cora", PASSWORD)  # a session opened before she set up her code
    confirmed_device(cora)

    response = thief.post(reverse("two_factor_off"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_verify"))
    assert TOTPDevice.objects.filter(user=cora, confirmed=True).exists()


def test_an_admin_who_must_use_a_code_and_has_one_is_asked_for_it(settings: Any, ada: User) -> None:
    settings.OTP_REQUIRED_ROLES = ["admin"]
    device = confirmed_device(ada)
    client = Client()
    log_in(client, "ada", PASSWORD)

    asked = client.get(reverse("members:list"), follow=True)

    assert asked.redirect_chain[-1][0].startswith(reverse("two_factor_verify"))
    assert "Your code" in asked.content.decode()
    client.post(reverse("two_factor_verify"), {"code": code(device)})
    assert client.get(reverse("members:list")).status_code == 200


def test_each_showing_of_the_setup_page_has_a_new_secret(cora: User) -> None:
    client = Client()
    client.force_login(cora)
    client.get(reverse("two_factor_setup"))
    first = TOTPDevice.objects.get(user=cora).key

    client.get(reverse("two_factor_setup"))
    second = TOTPDevice.objects.get(user=cora)

    assert second.key != first
    # The secret shown last is the one a code is checked against.
    client.post(reverse("two_factor_setup"), {"code": code(second)})
    second.refresh_from_db()
    assert second.confirmed


def test_a_next_that_is_not_a_path_is_followed_as_a_path_not_as_a_view_name(
    cora: User,
) -> None:
    """Found by the fuzzer: redirect("1") looked for a view named "1" and answered 500."""
    client = Client()
    client.force_login(cora)

    response = client.get(reverse("two_factor_verify") + "?next=1")

    assert response.status_code == 302 and response["Location"] == "1"


def test_admins_must_set_up_two_factor_where_it_is_required(
    settings: Any, ada: User, olivia: User
) -> None:
    settings.OTP_REQUIRED_ROLES = ["admin"]
    admin, organizer = Client(), Client()
    log_in(admin, "ada", PASSWORD)
    log_in(organizer, "olivia", PASSWORD)

    response = admin.get(reverse("members:list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_setup"))
    setup = admin.get(response["Location"])
    assert "Your role must use two-factor before going on" in setup.content.decode()
    assert organizer.get(reverse("home")).status_code == 200
    # It can't be turned off by the admin who must have it.
    device = TOTPDevice.objects.get(user=ada)
    admin.post(reverse("two_factor_setup"), {"code": code(device)})
    admin.post(reverse("two_factor_off"))
    assert TOTPDevice.objects.filter(user=ada, confirmed=True).exists()


def test_production_settings_require_two_factor_of_the_committee_and_admins() -> None:
    import subprocess
    import sys

    env = {
        "DEBUG": "0",
        "SECRET_KEY": "x" * 60,
        "DATABASE_URL": "postgres://doorstep@127.0.0.1:1/doorstep",
        "SITE_URL": "https://doorstep.example.org",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='organizing.settings'; "
            "django.setup(); from django.conf import settings; print(settings.OTP_REQUIRED_ROLES)",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "['committee', 'admin']", result.stderr


def test_an_admin_removes_the_two_factor_of_a_member_who_lost_their_phone(
    ada: User, cora: User
) -> None:
    confirmed_device(cora)
    admin = Client()
    admin.force_login(ada)
    assert (
        "Two-factor on"
        in admin.get(reverse("members:detail", args=[cora.membership.pk])).content.decode()
    )

    admin.post(reverse("members:two_factor_reset", args=[cora.membership.pk]))

    assert not TOTPDevice.objects.filter(user=cora).exists()
    client = Client()
    log_in(client, "cora", PASSWORD)
    assert client.get(reverse("committee:dashboard")).status_code == 200


def test_an_outsider_cannot_remove_our_two_factor(xavier: User, cora: User) -> None:
    confirmed_device(cora)
    client = Client()
    client.force_login(xavier)

    response = client.post(reverse("members:two_factor_reset", args=[cora.membership.pk]))

    assert response.status_code == 404
    assert TOTPDevice.objects.filter(user=cora).exists()


@pytest.mark.parametrize(
    "required_roles", [["admin"], []], ids=["admins must use it", "set up by choice"]
)
def test_django_admin_wants_a_code_from_whoever_has_one(
    settings: Any, ada: User, required_roles: list[str]
) -> None:
    settings.OTP_REQUIRED_ROLES = required_roles
    User.objects.filter(pk=ada.pk).update(is_staff=True, is_superuser=True)
    device = confirmed_device(ada)
    client = Client()
    log_in(client, "ada", PASSWORD)

    response = client.get(reverse("admin:index"), follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("two_factor_verify"))
    client.post(reverse("two_factor_verify"), {"code": code(device)})
    assert client.get(reverse("admin:index")).status_code == 200
    assert Client().get(reverse("admin:index")).status_code == 302  # still staff only


def test_django_admin_login_counts_against_the_login_limit(settings: Any, ada: User) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "3/10m"}
    admin_login = reverse("admin:login")
    for n in range(2):
        Client().post(
            admin_login, {"username": f"guess{n}", "password": "x"}, REMOTE_ADDR="10.0.0.1"
        )
    log_in(Client(), "guess", "x")  # our own form, the same address: one count

    client = Client()
    refused = client.post(
        admin_login, {"username": "ada", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1"
    )

    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


def test_an_admin_cannot_remove_the_code_of_someone_who_runs_the_site(
    ada: User, cora: User
) -> None:
    User.objects.filter(pk=cora.pk).update(is_staff=True)
    confirmed_device(cora)
    admin = Client()
    admin.force_login(ada)

    response = admin.post(
        reverse("members:two_factor_reset", args=[cora.membership.pk]), follow=True
    )

    assert "only a superuser can remove their two-factor" in response.content.decode()
    assert TOTPDevice.objects.filter(user=cora).exists()


@pytest.mark.parametrize(
    ("action", "data", "refusal"),
    [
        ("members:role", {"role": Role.ORGANIZER}, "only a superuser can change their role"),
        ("members:deactivate", {}, "only a superuser can deactivate them"),
        ("members:password_link", {}, "they reset their own password"),
    ],
)
def test_an_admin_cannot_lock_out_or_handle_someone_who_runs_the_site(
    ada: User, cora: User, on_commit: Callable[..., Any], action: str, data: Any, refusal: str
) -> None:
    User.objects.filter(pk=cora.pk).update(is_staff=True)
    admin = Client()
    admin.force_login(ada)

    with on_commit():
        response = admin.post(reverse(action, args=[cora.membership.pk]), data, follow=True)

    assert refusal in response.content.decode()
    cora.membership.refresh_from_db()
    assert cora.membership.role == Role.COMMITTEE and cora.membership.active
    assert not mail.outbox
