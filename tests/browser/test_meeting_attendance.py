"""Attendance taken on a phone at the meeting's door, with the signal gone (issue #20):
every tap kept on the phone and each person recorded once when it comes back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from buildings.models import Unit
from contacts.models import Ask, Attendance, Channel, Contact, Meeting, Visit
from tests.browser.conftest import Screenshot
from tests.browser.test_offline import READ_OUTBOX
from tests.browser.test_organizer_at_the_door import log_in
from tests.makers import make_contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_attendance_for_30_taken_offline_with_a_walk_in_arrives_once(
    phone: Page, screenshot: Screenshot, olivia: User, unit_1204: Unit
) -> None:
    meeting = Meeting.objects.create(
        organization=unit_1204.building.organization,
        title="Riverside tenants' meeting",
        starts_at=timezone.now() - dt.timedelta(minutes=10),
        place="Lobby",
    )
    people = [make_contact(unit_1204, owner=olivia, name=f"Tenant {n:02d}") for n in range(30)]
    for person in people:
        Ask.objects.create(
            contact=person, meeting=meeting, question="Come?", due_on=timezone.localdate()
        )
    page = phone
    log_in(page, olivia)
    page.goto(reverse("meetings:attendance", args=[meeting.pk]))
    expect(page.get_by_role("heading", name="Who came")).to_be_visible()

    page.context.set_offline(True)
    for person in people:
        row = page.locator(f"#p{person.pk}")
        row.get_by_role("button", name="Came").click()
    # A double tap on the first, with no signal: kept twice, recorded once.
    page.locator(f"#p{people[0].pk}").get_by_role("button", name="Came").click()
    page.get_by_text("Someone new").click()
    page.get_by_label("Name or description").fill("Man from 702")
    page.get_by_role("button", name="Add, and mark as came").click()
    expect(page.locator("#outbox")).to_contain_text("32 attendances waiting to send (no signal)")
    screenshot(page, "meeting-attendance-offline")
    assert not Attendance.objects.exists()

    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_contain_text("31 attendances sent", timeout=15_000)
    expect(page.locator("#people").get_by_text("Came ✓")).to_have_count(30)
    screenshot(page, "meeting-attendance-sent")

    assert page.evaluate(READ_OUTBOX) == []
    assert Attendance.objects.count() == 31
    assert Attendance.objects.filter(walk_in=True).get().contact.name == "Man from 702"
    assert Visit.objects.filter(channel=Channel.MEETING).count() == 31
    assert Contact.objects.filter(name="Man from 702").count() == 1
