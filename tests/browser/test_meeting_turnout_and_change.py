"""The committee on a phone (issue #20): the turnout of the last meetings on the dashboard,
read as bars and as a table, and a coming meeting moved to another day; moving it into the
past is refused with what was typed kept."""

from __future__ import annotations

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from buildings.models import Unit
from contacts.actions import mark_present
from contacts.models import Answer, Ask, Meeting
from tests.browser.conftest import SCREENS, Screenshot
from tests.browser.test_admin_generator import log_in
from tests.makers import make_contact, new_key

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAY = dt.timedelta(days=1)


def held(unit: Unit, olivia: User, days_ago: int, invited: int, yes: int, came: int) -> None:
    meeting = Meeting.objects.create(
        organization=unit.building.organization,
        title=f"Meeting of {days_ago} days ago",
        starts_at=timezone.now() - days_ago * DAY,
        place="Lobby",
    )
    for n in range(invited):
        contact = make_contact(unit, owner=olivia, name=f"Guest {days_ago}-{n}")
        Ask.objects.create(
            contact=contact,
            meeting=meeting,
            question="Come?",
            due_on=timezone.localdate(),
            answer=Answer.YES if n < yes else Answer.PENDING,
        )
        if n < came:
            mark_present(
                actor=olivia.membership,  # type: ignore[attr-defined]
                meeting=meeting,
                contact=contact,
                idempotency_key=new_key(),
                happened_at=meeting.starts_at,
            )


def test_cora_reads_the_turnout_and_moves_a_meeting_on_her_phone(
    phone: Page, screenshot: Screenshot, cora: User, olivia: User, unit_1204: Unit
) -> None:
    for days_ago, invited, yes, came in [
        (70, 12, 8, 7),
        (42, 20, 14, 6),
        (14, 9, 7, 7),
        (3, 16, 12, 4),
    ]:
        held(unit_1204, olivia, days_ago, invited, yes, came)
    coming = Meeting.objects.create(
        organization=unit_1204.building.organization,
        title="Rent strike vote",
        starts_at=(timezone.localtime() + 5 * DAY).replace(hour=19, minute=0, second=0),
        place="Riverside lobby",
    )
    page = phone
    log_in(page, cora)

    page.goto(reverse("committee:dashboard"))
    section = page.locator(
        "section", has=page.get_by_role("heading", name="Turnout, last 4 meetings")
    )
    chart = section.get_by_role(
        "img", name="Turnout of the last 4 meetings: invited, said yes, came"
    )
    expect(chart).to_be_visible()
    expect(section.locator("rect.bar-came")).to_have_count(4 + 1)  # and its legend
    section.get_by_text("The figures").click()
    expect(section.get_by_role("row").nth(4)).to_contain_text("16")
    chart.scroll_into_view_if_needed()
    screenshot(page, "meeting-turnout-dashboard")
    section.screenshot(path=SCREENS / "meeting-turnout-chart.png")
    violations = Axe().run(page, context="section:has(#turnout-heading)")
    assert violations.violations_count == 0, violations.generate_report()

    page.goto(reverse("meetings:detail", args=[coming.pk]))
    page.get_by_role("link", name="Change the meeting").click()
    yesterday = timezone.localtime() - DAY
    page.get_by_label("Title").fill("Strike vote")
    page.get_by_label("When").fill(yesterday.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Save the changes").click()
    expect(page.get_by_role("alert")).to_contain_text("A meeting can't be moved into the past.")
    expect(page.get_by_label("Title")).to_have_value("Strike vote")
    screenshot(page, "meeting-change-refused")

    later = timezone.localtime(coming.starts_at) + 2 * DAY
    page.get_by_label("When").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Save the changes").click()
    expect(page.get_by_role("heading", name="Strike vote")).to_be_visible()
    expect(page.get_by_text("Meeting “Strike vote” changed.")).to_be_visible()
    screenshot(page, "meeting-changed")
    coming.refresh_from_db()
    assert timezone.localtime(coming.starts_at).date() == later.date()
