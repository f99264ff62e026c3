"""No knock is ever lost: Olivia in a basement with no signal."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from buildings.models import Unit
from contacts.models import Contact, Outcome, Visit
from tests.browser.conftest import Screenshot
from tests.browser.test_organizer_at_the_door import card, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READ_OUTBOX = """() => new Promise((resolve) => {
  const open = indexedDB.open("doorstep", 1);
  open.onsuccess = () => {
    const request = open.result.transaction("outbox").objectStore("outbox").getAll();
    request.onsuccess = () => resolve(request.result);
  };
})"""

REPLAY = """async (items) => {
  const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
  const answers = [];
  for (const item of items) {
    const body = new URLSearchParams(item.fields);
    body.set("happened_at", item.happened_at);
    const response = await fetch(item.action, {method: "POST", body, headers: {
      "X-Doorstep-Replay": "1", "X-CSRFToken": token, "Accept": "application/json"}});
    answers.push((await response.json()).status);
  }
  return answers;
}"""

SAVED_PAGES = (
    """() => caches.open("doorstep-pages-v1").then((c) => c.keys()).then((k) => k.length)"""
)

AGE_SESSION = """(minutes) => caches.open("doorstep-pages-v1").then(async (cache) => {
  const seen = await (await cache.match("/offline/session-seen")).json();
  const aged = {at: Date.now() - minutes * 60 * 1000, idle: seen.idle};
  await cache.put("/offline/session-seen", new Response(JSON.stringify(aged)));
  return seen.idle;
})"""


def log_in_and_keep_the_turf(page: Page, user: User) -> None:
    """Log in; Today registers the service worker, which saves the turf's pages while
    online. Once saved, no request of theirs is still on its way to set a cookie again."""
    log_in(page, user)
    page.reload()
    expect(page.locator("html[data-kept=yes]")).to_be_attached(timeout=15_000)


def test_knocks_made_offline_wait_on_the_phone_and_are_sent_at_their_own_times(
    phone: Page, screenshot: Screenshot, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in_and_keep_the_turf(page, olivia)

    page.context.set_offline(True)
    offline_since = timezone.now()
    page.goto(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))
    expect(page.get_by_role("heading", name="1204")).to_be_visible()
    card(page, maria).get_by_role("button", name="Not home").click()
    expect(page.locator("#outbox")).to_contain_text("1 knock waiting to send")
    card(page, maria).get_by_role("button", name="Come back later").click()
    expect(page.locator("#outbox")).to_contain_text("2 knocks waiting to send")
    expect(page.locator("#outbox")).to_contain_text("Offline, saved at")
    screenshot(page, "offline-two-knocks-waiting")

    page.reload()
    expect(page.get_by_role("heading", name="1204")).to_be_visible()
    expect(page.locator("#outbox")).to_contain_text("2 knocks waiting to send")
    outbox = page.evaluate(READ_OUTBOX)
    assert len(outbox) == 2
    assert Visit.objects.count() == 0
    back_online = timezone.now()

    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_contain_text("2 knocks sent")
    screenshot(page, "offline-knocks-sent")

    visits = list(Visit.objects.order_by("happened_at"))
    assert [v.outcome for v in visits] == [Outcome.NOT_HOME, Outcome.COME_BACK]
    assert all(offline_since <= v.happened_at <= back_online for v in visits)
    assert all(v.recorded_at >= back_online for v in visits)

    assert page.evaluate(REPLAY, outbox) == ["duplicate", "duplicate"]
    assert Visit.objects.count() == 2


def test_a_knock_queued_when_the_session_expired_waits_for_login_then_sends(
    phone: Page, screenshot: Screenshot, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in_and_keep_the_turf(page, olivia)
    assert page.evaluate(SAVED_PAGES) > 0
    unit_page = reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk])
    page.goto(unit_page)
    page.context.set_offline(True)
    card(page, maria).get_by_role("button", name="Not home").click()
    expect(page.locator("#outbox")).to_contain_text("1 knock waiting to send")

    page.context.clear_cookies()  # the session ended while the phone was in the basement
    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_contain_text("Log in to send")
    screenshot(page, "offline-log-in-to-send")
    assert Visit.objects.count() == 0

    page.locator("#outbox").get_by_role("link", name="Log in").click()
    expect(page.get_by_label("Username")).to_be_visible(timeout=15_000)
    # Whoever picks the phone up next finds none of her turf's pages on it.
    assert page.evaluate(SAVED_PAGES) == 0
    page.get_by_label("Username").fill(olivia.username)
    page.get_by_label("Password").fill("correct horse 42")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#outbox")).to_contain_text("1 knock sent")
    assert Visit.objects.get().contact == maria


def test_offline_a_phone_stops_showing_saved_pages_once_the_session_would_have_ended(
    phone: Page, screenshot: Screenshot, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in_and_keep_the_turf(page, olivia)
    unit_page = reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk])
    page.context.set_offline(True)
    page.goto(unit_page)
    expect(page.get_by_role("heading", name="1204")).to_be_visible()

    # Left on a bench: the phone last heard from the server longer ago than a session lasts.
    idle = page.evaluate(AGE_SESSION, 121)
    page.goto(unit_page)

    assert idle == 120
    expect(page.get_by_text("the session on this phone has ended")).to_be_visible()
    assert maria.name not in page.content()
    assert page.evaluate(SAVED_PAGES) == 0
    screenshot(page, "offline-session-ended")


def test_a_knock_kept_on_a_shared_phone_is_sent_only_in_its_organizers_name(
    phone: Page, olivia: User, omar: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in_and_keep_the_turf(page, olivia)
    page.goto(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))
    page.context.set_offline(True)
    card(page, maria).get_by_role("button", name="Not home").click()
    expect(page.locator("#outbox")).to_contain_text("1 knock waiting to send")

    page.context.clear_cookies()  # Olivia's session ends; Omar picks the phone up
    page.context.set_offline(False)
    log_in(page, omar)
    page.reload()

    expect(page.locator("#outbox")).to_be_hidden()
    assert "Maria" not in page.locator("body").inner_text()
    assert not Visit.objects.exists()

    page.get_by_role("button", name="Log out").click()
    log_in(page, olivia)
    expect(page.locator("#outbox")).to_contain_text("1 knock sent")
    assert Visit.objects.get().organizer == olivia


def test_a_knock_the_server_could_not_take_is_kept_and_sent_again_when_it_asks(
    phone: Page, screenshot: Screenshot, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    """Answered 503 with Retry-After: 1, the knock waits on the phone, then is sent once."""
    page = phone
    log_in(page, olivia)
    busy: list[str] = []

    def once_busy(route: Route) -> None:
        if not busy:
            busy.append(route.request.url)
            route.fulfill(status=503, headers={"Retry-After": "1"}, body="Busy")
        else:
            route.continue_()

    page.route("**/knock/", once_busy)
    page.goto(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))
    card(page, maria).get_by_role("button", name="Not home").click()

    expect(page.locator("#outbox")).to_contain_text("Doorstep is busy: saved on this phone")
    expect(page.locator("#outbox")).to_contain_text("1 knock waiting to send")
    screenshot(page, "knock-kept-when-the-server-is-busy")
    expect(page.locator("#outbox")).to_contain_text("1 knock sent", timeout=10_000)
    assert len(busy) == 1
    assert list(Visit.objects.values_list("contact", "outcome")) == [(maria.pk, Outcome.NOT_HOME)]


def test_a_knock_refused_for_a_reason_waiting_cannot_mend_stays_as_not_sent(
    phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in_and_keep_the_turf(page, olivia)
    page.context.set_offline(True)
    page.goto(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))
    card(page, maria).get_by_role("button", name="Not home").click()
    expect(page.locator("#outbox")).to_contain_text("1 knock waiting to send")

    page.route("**/knock/", lambda route: route.fulfill(status=413, body="Too large"))
    page.context.set_offline(False)

    expect(page.locator("#outbox")).to_contain_text("Not sent: Not home")
    expect(page.locator("#outbox")).to_contain_text("Doorstep refused it as too large (HTTP 413).")
    assert len(page.evaluate(READ_OUTBOX)) == 1
    assert not Visit.objects.exists()
