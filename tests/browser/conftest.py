"""Headless Chromium on a phone-sized screen, driven by Playwright against the live server.

The browser starts once for the browser tests and each test gets a fresh context: its own
cookies, its own JavaScript setting. Chromium that can't be launched fails the tests rather
than skipping them, so a broken set-up is never mistaken for a passing run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, Page, ViewportSize, sync_playwright
from pytest_django.live_server_helper import LiveServer

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
SCREENS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"

Screenshot = Callable[[Page, str], None]


# Package scope, not session: Playwright's sync API leaves its event loop marked as running
# on the main thread for as long as it is started, and Django then refuses ORM calls as
# "async unsafe". Stopping it when the browser tests are done keeps the rest of the suite
# under Django's normal checks; while it runs, the tests are really synchronous, so the
# check is switched off for them alone.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = sync_playwright().start()
        try:
            try:
                chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            except Error as error:
                problem = error.message
            else:
                yield chromium
                chromium.close()
                return
        finally:
            playwright.stop()
    pytest.fail(
        f"Chromium could not be launched from {path!r}: {problem}\n"
        "Install it (Debian: apt-get install chromium) or set CHROMIUM_PATH; "
        "`scripts/with-services.sh` sets it when /usr/bin/chromium exists.",
        pytrace=False,
    )


def open_phone(
    browser: Browser, live_server: LiveServer, *, javascript: bool, locale: str | None = None
) -> Iterator[Page]:
    """A phone's browser; `locale` sets the languages it asks for (Accept-Language)."""
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        base_url=live_server.url,
        java_script_enabled=javascript,
        locale=locale,
    )
    # Nothing here should take long on a local server; fail fast instead of waiting 30 s.
    context.set_default_timeout(5_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    yield from open_phone(browser, live_server, javascript=True)


@pytest.fixture
def phone_without_javascript(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    yield from open_phone(browser, live_server, javascript=False)


@pytest.fixture
def screenshot() -> Screenshot:
    """Save the whole page as test-artifacts/screens/<name>.png, for a person to look at."""
    SCREENS.mkdir(parents=True, exist_ok=True)

    def save(page: Page, name: str) -> None:
        page.screenshot(path=SCREENS / f"{name}.png", full_page=True)

    return save
