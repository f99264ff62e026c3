"""The organization's pace: the committee is told when a week's conversations fall well
below the four weeks before, and by whom, and which leaders it is about to lose."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from buildings.models import Unit
from contacts.lapse.digests import send_committee_digests
from contacts.lapse.job import flag_lapsed
from contacts.lapse.pace import pace_of, take_paces
from contacts.models import Contact, LapseSummary, Level
from organizing.models import Organization
from tests.makers import make_contact, make_conversation

# A Wednesday afternoon; the last full week began on Monday 2 March.
NOW = dt.datetime(2026, 3, 11, 15, 0, tzinfo=dt.UTC).astimezone(timezone.get_default_timezone())
LAST_MONDAY = timezone.make_aware(dt.datetime(2026, 3, 2, 12, 0))
WEEK = dt.timedelta(weeks=1)


def conversations(contact: Contact, organizer: User, per_week: list[int]) -> None:
    """per_week: the count in each of the five full weeks, oldest first; the last is last
    week."""
    for weeks_ago, count in zip(range(4, -1, -1), per_week, strict=True):
        for n in range(count):
            moment = LAST_MONDAY - weeks_ago * WEEK + n * dt.timedelta(minutes=30)
            make_conversation(contact, organizer, moment)


@pytest.fixture
def tenants(unit_1204: Unit, olivia: User) -> tuple[Contact, Contact]:
    supporter = make_contact(unit_1204, owner=olivia, name="Sam Supporter", level=Level.SUPPORTER)
    leader = make_contact(unit_1204, owner=olivia, name="Tamara Okafor", level=Level.LEADER)
    return supporter, leader


def test_a_week_close_to_the_four_before_raises_no_alarm(
    tenants: tuple[Contact, Contact], olivia: User
) -> None:
    supporter, leader = tenants
    conversations(supporter, olivia, [6, 6, 6, 6, 5])
    conversations(leader, olivia, [4, 4, 4, 4, 4])

    pace = pace_of(supporter.organization, NOW)

    assert (pace.conversations, pace.average) == (9, 10)
    assert pace.fell == 10 and not pace.alarm


def test_a_fall_past_the_share_is_an_alarm_naming_who_slowed_and_the_leaders_about_to_lapse(
    tenants: tuple[Contact, Contact], olivia: User, omar: User, cora: User
) -> None:
    supporter, leader = tenants
    conversations(supporter, olivia, [6, 6, 6, 6, 1])
    conversations(leader, omar, [4, 4, 4, 4, 3])
    # Tamara's last conversation was 5 days before now: she lapses in two days.
    Contact.objects.filter(pk=leader.pk).update(last_conversation_at=NOW - 5 * dt.timedelta(days=1))

    with time_machine.travel(NOW, tick=False):
        pace = pace_of(supporter.organization, NOW)
        assert (pace.conversations, pace.average, pace.fell) == (4, 10, 60)
        assert pace.alarm
        assert [o.name for o in pace.organizers] == ["olivia", "omar"]
        assert pace.leaders_lapsing == [Contact.objects.get(pk=leader.pk)]

        send_committee_digests()

    [digest] = [m for m in mail.outbox if m.to == [cora.email]]
    assert digest.subject == "Doorstep: conversations fell 60% last week"
    body = str(digest.body)
    assert body.startswith("Hello cora,\n\nTHE PACE FELL: 4 conversations in the week of 2 March")
    assert "Fell most: olivia (1 against 6), omar (3 against 4)." in body
    assert "* Tamara Okafor, owner: olivia" in body


def test_the_committed_falling_alone_is_an_alarm(
    tenants: tuple[Contact, Contact], olivia: User
) -> None:
    supporter, leader = tenants
    conversations(supporter, olivia, [6, 6, 6, 6, 9])
    conversations(leader, olivia, [5, 5, 5, 5, 1])

    pace = pace_of(supporter.organization, NOW)

    assert pace.fell == 9 and pace.committed_fell == 80 and pace.alarm


def test_a_small_organization_going_quiet_for_a_week_is_no_alarm(
    tenants: tuple[Contact, Contact], olivia: User
) -> None:
    supporter, _ = tenants
    conversations(supporter, olivia, [2, 3, 2, 3, 0])

    assert not pace_of(supporter.organization, NOW).alarm


def test_the_alarm_share_the_committee_sets_decides(
    tenants: tuple[Contact, Contact], olivia: User, org: Organization
) -> None:
    supporter, _ = tenants
    conversations(supporter, olivia, [10, 10, 10, 10, 7])
    assert not pace_of(org, NOW).alarm

    Organization.objects.filter(pk=org.pk).update(pace_alarm_percent=25)
    org.refresh_from_db()
    assert pace_of(org, NOW).alarm


@pytest.mark.parametrize("percent", [0, 100])
def test_an_alarm_share_outside_1_to_99_percent_is_refused(org: Organization, percent: int) -> None:
    org.pace_alarm_percent = percent
    with pytest.raises(ValidationError, match="from 1 to 99 percent"):
        org.full_clean()


def test_the_dashboard_shows_the_fall_as_a_banner_until_the_week_is_over(
    tenants: tuple[Contact, Contact], olivia: User, cora: User, client: Client
) -> None:
    supporter, leader = tenants
    conversations(supporter, olivia, [6, 6, 6, 6, 1])
    conversations(leader, olivia, [4, 4, 4, 4, 3])
    client.force_login(cora)

    with time_machine.travel(NOW, tick=False):
        flag_lapsed(now=NOW)
        assert take_paces(NOW) == 1
        # The hourly job's next run keeps the week's pace with its new figures.
        flag_lapsed(now=NOW + dt.timedelta(hours=1))
        page = client.get(reverse("committee:dashboard")).content.decode()
    assert "The pace fell: 4 conversations last week, against 10 a week before" in page
    assert "60% fewer conversations" in page and "Fell most: olivia (4 against 10)." in page

    next_week = NOW + WEEK
    with time_machine.travel(next_week, tick=False):
        flag_lapsed(now=next_week)
        page = client.get(reverse("committee:dashboard")).content.decode()
    assert "The pace fell" not in page


def test_a_held_pace_shows_no_banner(
    tenants: tuple[Contact, Contact], olivia: User, cora: User, client: Client
) -> None:
    supporter, _ = tenants
    conversations(supporter, olivia, [6, 6, 6, 6, 6])
    client.force_login(cora)

    with time_machine.travel(NOW, tick=False):
        flag_lapsed(now=NOW)
        take_paces(NOW)
        assert "The pace fell" not in client.get(reverse("committee:dashboard")).content.decode()


def test_the_command_takes_every_organizations_pace(
    tenants: tuple[Contact, Contact], olivia: User, org: Organization
) -> None:
    supporter, _ = tenants
    conversations(supporter, olivia, [6, 6, 6, 6, 1])
    out = io.StringIO()

    with time_machine.travel(NOW, tick=False):
        flag_lapsed(now=NOW)
        call_command("take_paces", stdout=out)

    assert out.getvalue() == "Took the pace of 1 organization.\n"
    pace = LapseSummary.objects.get(organization=org).pace
    assert (pace["week"], pace["alarm"], pace["fell"]) == ("2026-03-02", True, 83)


def test_an_organizer_who_left_is_named_in_the_readers_words_on_the_banner(
    tenants: tuple[Contact, Contact], olivia: User, cora: User, client: Client
) -> None:
    """The job keeps the pace in no one's language: who left is said when the page is read."""
    supporter, _leader = tenants
    conversations(supporter, olivia, [6, 6, 6, 6, 1])
    olivia.membership.delete()  # type: ignore[attr-defined]
    client.force_login(cora)

    with time_machine.travel(NOW, tick=False):
        flag_lapsed(now=NOW)
        take_paces(NOW)
        english = client.get(reverse("committee:dashboard")).content.decode()
        cora.membership.language = "fr"  # type: ignore[attr-defined]
        cora.membership.save(update_fields=["language"])  # type: ignore[attr-defined]
        french = client.get(reverse("committee:dashboard")).content.decode()

    assert "Fell most: someone who left (1 against 6)." in english
    assert "une personne partie (1 contre 6)" in french and "someone who left" not in french
