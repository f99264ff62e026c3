"""On a phone: Ada reads who did what to Maria's record, then erases Maria at her request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from contacts.actions import record_conversation
from contacts.models import Contact
from tests.browser.conftest import Screenshot
from tests.browser.test_admin_generator import log_in
from tests.makers import new_key

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ada_reads_the_trail_and_erases_maria(
    phone: Page, screenshot: Screenshot, ada: User, olivia: User, maria: Contact
) -> None:
    record_conversation(
        actor=olivia.membership, contact=maria, idempotency_key=new_key(), note="Wants repairs"
    )
    page = phone
    log_in(page, ada)
    page.goto(f"/contacts/{maria.pk}/")

    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    page.get_by_role("heading", name="Audit trail").scroll_into_view_if_needed()
    screenshot(page, "contact-audit-trail")
    page.get_by_role("link", name="Erase this person…").click()
    expect(page.get_by_role("heading", name="Erase Maria Lopez?")).to_be_visible()
    screenshot(page, "contact-erase-confirm")
    # The box must be ticked: the browser refuses the form without it.
    page.get_by_role("button", name="Erase").click()
    expect(page.get_by_role("heading", name="Erase Maria Lopez?")).to_be_visible()
    page.get_by_label("I understand: erase this person for good.").check()
    page.get_by_role("button", name="Erase").click()

    expect(page.get_by_role("heading", name="Maria Lopez")).to_have_count(0)
    expect(page.get_by_text("Wants repairs")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "contact-erased")
    assert Contact.objects.get(pk=maria.pk).status == "erased"
