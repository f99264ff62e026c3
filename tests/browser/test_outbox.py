"""The outbox is the one way a knock, a conversation or a new resident leaves the phone,
and keeping the turf for offline use costs little of a prepaid data plan."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import Page, Request, Route, expect

from buildings.models import Unit
from contacts.actions import record_visit
from contacts.models import Contact, Outcome, Visit
from tests.browser.conftest import Screenshot
from tests.browser.test_offline import READ_OUTBOX, log_in_and_keep_the_turf
from tests.browser.test_organizer_at_the_door import card, log_in
from tests.makers import make_contact, make_unit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def unit_page(unit: Unit) -> str:
    return reverse("buildings:unit", args=[unit.building_id, unit.pk])


def test_online_a_knock_is_kept_on_the_phone_until_the_server_answers(
    phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in(page, olivia)
    held: list[Route] = []
    page.route("**/knock/", lambda route: held.append(route))
    page.goto(unit_page(unit_1204))

    card(page, maria).get_by_role("button", name="Not home").click()
    page.wait_for_function("() => true")
    deadline = time.monotonic() + 5
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    # On its way, and already on the phone: a dead battery now loses nothing.
    assert len(page.evaluate(READ_OUTBOX)) == 1
    held[0].continue_()

    expect(card(page, maria)).to_contain_text("tried 1 time")
    assert page.evaluate(READ_OUTBOX) == []
    assert list(Visit.objects.values_list("outcome", flat=True)) == [Outcome.NOT_HOME]


def test_a_busy_server_asking_to_wait_is_waited_for(
    phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in(page, olivia)
    answered_at: list[float] = []

    def busy_once(route: Route) -> None:
        answered_at.append(time.monotonic())
        if len(answered_at) == 1:
            route.fulfill(status=429, headers={"Retry-After": "3"}, body="Slow down")
        else:
            route.continue_()

    page.route("**/knock/", busy_once)
    page.goto(unit_page(unit_1204))
    card(page, maria).get_by_role("button", name="Not home").click()

    expect(page.locator("#outbox")).to_contain_text("trying again in 3 s")
    expect(page.locator("#outbox")).to_contain_text("1 knock sent", timeout=10_000)
    assert answered_at[1] - answered_at[0] >= 2.9
    assert Visit.objects.count() == 1


def test_a_replay_refused_with_a_reason_stays_as_not_sent_until_discarded(
    phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in_and_keep_the_turf(page, olivia)
    page.context.set_offline(True)
    page.goto(unit_page(unit_1204))
    card(page, maria).get_by_role("button", name="Not home").click()
    expect(page.locator("#outbox")).to_contain_text("1 knock waiting to send (no signal)")

    reason = '{"status": "refused", "message": "That knock is more than 30 days old."}'
    page.route(
        "**/knock/",
        lambda route: route.fulfill(
            status=422, body=reason, headers={"Content-Type": "application/json"}
        ),
    )
    page.context.set_offline(False)

    banner = page.locator("#outbox")
    expect(banner).to_contain_text("Not sent: Not home · 1204 Maria Lopez.")
    expect(banner).to_contain_text("That knock is more than 30 days old.")
    page.reload()
    expect(banner).to_contain_text("Not sent: Not home")  # still there on the next page
    banner.get_by_role("button", name="Discard").click()
    expect(banner).not_to_contain_text("Not sent")
    assert page.evaluate(READ_OUTBOX) == []
    assert not Visit.objects.exists()


def test_a_new_resident_and_conversations_made_offline_arrive_once_in_order(
    phone: Page, screenshot: Screenshot, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in_and_keep_the_turf(page, olivia)
    page.context.set_offline(True)
    page.goto(unit_page(unit_1204))

    # Someone new at the door: added, then talked to, with no signal at all.
    page.get_by_text("Add a resident met here").click()
    page.get_by_label("Name or description").fill("Ana Sousa")
    page.get_by_role("button", name="Add resident").click()
    ana = page.locator("article.resident.waiting").filter(has_text="Ana Sousa")
    expect(ana).to_contain_text("Saved on this phone")
    ana.get_by_role("link", name="Talked").click()
    expect(page.get_by_role("heading", name="Talked with Ana Sousa")).to_be_visible()
    page.get_by_label("What did you talk about?").fill("New neighbour, wants the repairs list.")
    screenshot(page, "offline-talk-new-resident")
    page.get_by_role("button", name="Save conversation").click()
    expect(page.get_by_role("heading", name="1204")).to_be_visible()
    expect(page.locator("#outbox")).to_contain_text("1 new resident, 1 conversation waiting")

    # And Maria, known already.
    card(page, maria).get_by_role("link", name="Talked").click()
    page.get_by_label("What did you talk about?").fill("Will come Thursday.")
    page.get_by_role("button", name="Save conversation").click()
    expect(page.locator("#outbox")).to_contain_text("1 new resident, 2 conversations waiting")
    screenshot(page, "offline-conversations-waiting")
    assert not Visit.objects.exists()

    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_contain_text("1 new resident, 2 conversations sent")
    # The cards it touched are fetched again: Ana is a resident now, with her conversation.
    expect(card(page, Contact(name="Ana Sousa"))).to_contain_text("New neighbour")
    expect(page.locator("article.resident.waiting")).to_have_count(0)
    screenshot(page, "offline-conversations-sent")

    added = Contact.objects.get(name="Ana Sousa")
    assert added.unit == unit_1204
    assert list(added.visits.values_list("note", flat=True)) == [
        "New neighbour, wants the repairs list."
    ]
    assert list(maria.visits.values_list("note", flat=True)) == ["Will come Thursday."]
    assert page.evaluate(READ_OUTBOX) == []


def a_floor_of_residents(unit: Unit, owner: User) -> None:
    for number in range(1, 13):
        make_contact(make_unit(unit.building, f"3{number:02}"), owner=owner, name=f"R{number}")


def turf_requests(page: Page) -> list[Request]:
    """Every request the phone makes, the service worker's included."""
    seen: list[Request] = []
    page.context.on("request", lambda request: seen.append(request))
    return seen


def test_a_shift_costs_one_pass_over_the_turf_and_idle_minutes_almost_nothing(
    phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    for number in range(1, 13):
        make_contact(
            make_unit(unit_1204.building, f"3{number:02}"), owner=olivia, name=f"R{number}"
        )
    page = phone
    page.clock.install()
    requests = turf_requests(page)

    # The first minute of a shift: log in, and open page after page while the turf is kept.
    log_in(page, olivia)
    for _ in range(3):
        page.goto(reverse("buildings:list"))
        page.goto(unit_page(unit_1204))
        page.goto("/")
    expect(page.locator("html[data-kept=yes]")).to_be_attached(timeout=15_000)
    # The service worker fetches a page the organizer opens, and the pages of the pass.
    by_worker = Counter(r.url for r in requests if r.service_worker and "/static/" not in r.url)
    opened = Counter(r.url for r in requests if r.is_navigation_request() and not r.service_worker)
    passes = by_worker - opened
    assert passes[page.url.rstrip("/") + "/offline/pages.json"] == 1
    assert len(passes) > 12 and max(passes.values()) == 1  # one pass over the turf

    # Ten idle minutes with nothing changed.
    asked: list[Request] = []
    page.context.on("request", lambda request: asked.append(request))
    page.clock.fast_forward("10:30")
    page.wait_for_timeout(2_000)
    # One question, "what changed?", answered "nothing" (304), and no page fetched again.
    assert [r.url.rsplit("/", 2)[-2:] for r in asked] == [["offline", "pages.json"]]
    answer = asked[0].response()
    assert answer is not None and answer.status == 304
    assert cost(asked[0]) < 20_000


def cost(request: Request) -> int:
    """The bytes a request and its answer took: headers both ways, and the answer's body."""
    answer = request.response()
    assert answer is not None
    headers = request.headers_array() + answer.headers_array()
    body = len(answer.body()) if answer.status != 304 else 0
    return sum(len(h["name"]) + len(h["value"]) + 4 for h in headers) + body


def test_after_a_knock_elsewhere_the_next_pass_fetches_only_the_pages_it_changed(
    phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    for number in range(1, 13):
        make_contact(
            make_unit(unit_1204.building, f"3{number:02}"), owner=olivia, name=f"R{number}"
        )
    page = phone
    page.clock.install()
    log_in_and_keep_the_turf(page, olivia)
    asked: list[Request] = []
    page.context.on("request", lambda request: asked.append(request))

    record_visit(
        actor=olivia.membership,
        contact=maria,
        unit=unit_1204,
        outcome=Outcome.NOT_HOME,
        idempotency_key="knocked-from-another-phone",
    )
    page.clock.fast_forward("10:30")
    page.wait_for_timeout(3_000)

    fetched = {r.url.removeprefix(page.url.rstrip("/")) for r in asked}
    building = unit_1204.building_id
    assert fetched == {
        "/offline/pages.json",
        "/",
        f"/buildings/{building}/",
        unit_page(unit_1204),
        f"/contacts/{maria.pk}/",
        f"/contacts/{maria.pk}/talk/?unit={unit_1204.pk}",
    }


def test_the_same_outbox_sent_from_two_tabs_at_once_records_each_knock_once(
    phone: Page, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    page = phone
    log_in_and_keep_the_turf(page, olivia)
    other_tab = page.context.new_page()
    other_tab.goto(reverse("home"))
    page.context.set_offline(True)
    page.goto(unit_page(unit_1204))
    card(page, maria).get_by_role("button", name="Not home").click()
    card(page, maria).get_by_role("button", name="Come back later").click()
    expect(page.locator("#outbox")).to_contain_text("2 knocks waiting to send")

    page.context.set_offline(False)  # both tabs hear "online" and send what waits

    page.wait_for_function(
        """() => new Promise((resolve) => {
          const open = indexedDB.open("doorstep", 1);
          open.onsuccess = () => {
            const count = open.result.transaction("outbox").objectStore("outbox").count();
            count.onsuccess = () => resolve(count.result === 0);
          };
        })""",
        timeout=10_000,
    )
    page.wait_for_timeout(1_000)  # anything the other tab still had on its way lands
    assert sorted(Visit.objects.values_list("outcome", flat=True)) == sorted(
        [Outcome.NOT_HOME, Outcome.COME_BACK]
    )
    assert page.evaluate(READ_OUTBOX) == []
