"""On a phone: Ada, an admin who must use two-factor, sets it up from the QR code's key and
logs in with a code; a stranger guessing Olivia's password meets the lockout page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 42"  # what tests.makers gives every member


def code_now(device: TOTPDevice) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"


def enter_password(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_an_admin_sets_up_two_factor_then_needs_a_code_to_get_in(
    phone: Page, screenshot: Screenshot, settings: object, ada: User
) -> None:
    settings.OTP_REQUIRED_ROLES = ["admin"]  # type: ignore[attr-defined]
    page = phone
    enter_password(page, "ada")

    expect(page.get_by_role("heading", name="Set up two-factor")).to_be_visible()
    expect(page.get_by_text("Your role must use two-factor before going on")).to_be_visible()
    expect(page.locator(".qr svg")).to_be_visible()
    page.get_by_text("Can't scan? Type this key instead").click()
    expect(page.locator("code.secret")).to_be_visible()
    screenshot(page, "two-factor-setup")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    device = TOTPDevice.objects.get(user=ada)
    page.get_by_label("Code").fill("000000" if code_now(device) != "000000" else "111111")
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_role("alert")).to_contain_text("That code did not work")
    screenshot(page, "two-factor-setup-wrong-code")

    device.refresh_from_db()
    device.throttle_reset()
    page.get_by_label("Code").fill(code_now(device))
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    expect(page.get_by_text("Two-factor is on")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    enter_password(page, "ada")
    expect(page.get_by_role("heading", name="Your code")).to_be_visible()
    screenshot(page, "two-factor-code")
    # A code works once; rather than wait 30 s for the next, forget that this one was used.
    device.refresh_from_db()
    device.last_t -= 1
    device.save()
    page.get_by_label("Code").fill(code_now(device))
    page.get_by_role("button", name="Go on").click()
    expect(page.get_by_role("heading", name="Today")).to_be_visible()


def test_a_stranger_guessing_a_password_meets_the_lockout(
    phone: Page, screenshot: Screenshot, olivia: User
) -> None:
    page = phone
    for _ in range(5):
        enter_password(page, "olivia", "password123")

    expect(page.get_by_role("heading", name="Login locked for now")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("15 minutes")
    screenshot(page, "login-locked")
    page.get_by_role("link", name="set a new one by email").click()
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    screenshot(page, "password-reset")
