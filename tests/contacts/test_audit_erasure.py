"""Ada, the admin, sees who changed what about a tenant, and erases a tenant who asks to be
forgotten: nothing that says who they were is left anywhere, and the building's figures
do not move."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.actions import record_conversation, record_visit, snooze_contact
from contacts.lapse import flag_lapsed
from contacts.models import (
    Ask,
    Contact,
    Erasure,
    FollowUp,
    LapseEpisode,
    Level,
    Outcome,
    Status,
    Visit,
)
from tests.makers import new_key

SECRETS = ("Maria Lopez", "555 010 7788", "maria@example.org", "landlord", "Rent strike")


def as_(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def marias_story(olivia: User, cora: User, maria: Contact, unit_1204: Unit) -> Contact:
    """Olivia talks with Maria twice through the app; Cora snoozes her."""
    Contact.objects.filter(pk=maria.pk).update(
        phone="555 010 7788", email="maria@example.org", notes="Afraid of the landlord"
    )
    maria.refresh_from_db()
    maria.save()  # a change by hand, in the trail
    client = as_(olivia)
    client.post(
        reverse("contacts:talk", args=[maria.pk]),
        {
            "key": new_key(),
            "unit": unit_1204.pk,
            "channel": "door",
            "note": "Worried her landlord will retaliate",
            "level": Level.SUPPORTER,
            "ask": "Rent strike meeting?",
            "ask_due_on": timezone.localdate() + dt.timedelta(days=3),
        },
    )
    record_visit(
        member=olivia.membership, contact=maria, outcome=Outcome.NOT_HOME, idempotency_key=new_key()
    )
    snooze_contact(
        member=cora.membership,
        contact=maria,
        until=timezone.localdate() + dt.timedelta(days=10),
        reason="Visiting family",
    )
    maria.refresh_from_db()
    return maria


# The trail


def test_the_admin_sees_who_changed_what_on_the_contact_page(
    marias_story: Contact, ada: User
) -> None:
    page = as_(ada).get(reverse("contacts:detail", args=[marias_story.pk])).content.decode()
    trail = page[page.index('id="audit-trail"') :]

    assert "Visit added: Conversation" in trail and "by olivia" in trail
    assert "Visit added: Not home" in trail
    assert "Ask added: pending" in trail
    assert "Level: New → Supporter" in trail
    assert "Contact changed" in trail and "by cora" in trail  # the snooze
    assert "snoozed until: — →" in trail
    # Notes are named, never quoted, in the trail.
    assert "Worried her landlord" not in trail


def test_organizers_and_committee_do_not_see_the_trail(
    marias_story: Contact, olivia: User, cora: User
) -> None:
    for user in (olivia, cora):
        page = as_(user).get(reverse("contacts:detail", args=[marias_story.pk]))
        assert page.status_code == 200
        assert b"Audit trail" not in page.content and b"audit-trail" not in page.content


def test_membership_changes_are_kept_with_who_made_them(ada: User, omar: User) -> None:
    as_(ada).post(reverse("members:role", args=[omar.membership.pk]), {"role": "committee"})

    latest = omar.membership.history.first()
    assert latest is not None
    assert (latest.role, latest.history_user) == ("committee", ada)


# Erasure


def test_erasure_removes_the_person_everywhere_and_keeps_the_counts(
    marias_story: Contact, ada: User, riverside: Building, unit_1204: Unit
) -> None:
    maria = marias_story
    visits_before = Visit.objects.filter(unit__building=riverside).count()
    client = as_(ada)

    confirm = client.get(reverse("contacts:erase", args=[maria.pk]))
    assert "It can't be undone" in confirm.content.decode()
    assert Contact.objects.get(pk=maria.pk).name == "Maria Lopez"  # a GET erases nothing
    done = client.post(reverse("contacts:erase", args=[maria.pk]), follow=True)

    assert f"Contact #{maria.pk} is erased" in done.content.decode()
    erased = Contact.objects.get(pk=maria.pk)
    assert erased.name == f"Erased resident #{maria.pk}"
    assert erased.status == Status.ERASED
    assert (erased.phone, erased.email, erased.notes, erased.snooze_reason) == ("", "", "", "")
    assert Visit.objects.filter(unit__building=riverside).count() == visits_before == 2
    assert not Visit.objects.filter(contact=maria).exclude(note="").exists()
    erasure = Erasure.objects.get()
    assert (erasure.contact_number, erasure.erased_by) == (maria.pk, ada)
    # Not a trace in any table of the database: the live rows and the trail's copies.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            text = repr(cursor.fetchall())
            for secret in SECRETS:
                assert secret not in text, f"{secret!r} left in {table}"
    # The trail says it happened, by whom, without the data; the pages show nothing of her.
    for url in (
        reverse("contacts:detail", args=[maria.pk]),
        reverse("buildings:unit", args=[riverside.pk, unit_1204.pk]),
        reverse("committee:dashboard"),
        reverse("contacts:audit"),
    ):
        page = client.get(url).content.decode()
        for secret in SECRETS:
            assert secret not in page, (url, secret)
    assert (
        "Personal data erased · by ada"
        in client.get(reverse("contacts:detail", args=[maria.pk])).content.decode()
    )
    assert re.search(
        rf"contact #{maria.pk} · by ada", client.get(reverse("contacts:audit")).content.decode()
    )


def test_an_erased_contact_never_lapses_and_is_not_erased_twice(
    marias_story: Contact, ada: User
) -> None:
    Ask.objects.filter(contact=marias_story).update(
        due_on=timezone.localdate() - dt.timedelta(days=9)
    )
    Contact.objects.filter(pk=marias_story.pk).update(snoozed_until=None, snooze_reason="")
    flag_lapsed()
    assert LapseEpisode.objects.filter(contact=marias_story, resolved_at__isnull=True).exists()
    client = as_(ada)

    client.post(reverse("contacts:erase", args=[marias_story.pk]))
    flag_lapsed()
    again = client.post(reverse("contacts:erase", args=[marias_story.pk]), follow=True)

    assert not LapseEpisode.objects.filter(contact=marias_story, resolved_at__isnull=True).exists()
    assert "erased already" in again.content.decode()
    assert Erasure.objects.count() == 1
    assert FollowUp.objects.filter(contact=marias_story).exclude(purpose="(erased)").count() == 0


def test_only_our_admins_erase(
    marias_story: Contact, olivia: User, cora: User, xavier: User
) -> None:
    url = reverse("contacts:erase", args=[marias_story.pk])

    assert as_(olivia).post(url).status_code == 403
    assert as_(cora).post(url).status_code == 403
    assert as_(xavier).post(url).status_code == 404
    assert Contact.objects.get(pk=marias_story.pk).name == "Maria Lopez"
    assert not Erasure.objects.exists()


def test_the_audit_page_lists_exports_and_erasures_of_our_organization_only(
    marias_story: Contact, ada: User, cora: User, xavier: User
) -> None:
    as_(cora).get(reverse("committee:export"))
    as_(ada).post(reverse("contacts:erase", args=[marias_story.pk]))

    ours = as_(ada).get(reverse("contacts:audit")).content.decode()
    theirs = as_(xavier).get(reverse("contacts:audit")).content.decode()

    assert "by cora" in ours and f"contact #{marias_story.pk}" in ours
    assert "No exports yet." in theirs and "No erasures." in theirs


def test_a_conversation_recorded_through_the_action_is_in_the_trail_with_its_organizer(
    olivia: User, maria: Contact
) -> None:
    copies = maria.history.count()  # her creation
    record_conversation(
        member=olivia.membership, contact=maria, idempotency_key=new_key(), note="Said yes"
    )

    (record,) = Visit.history.filter(contact_id=maria.pk)
    assert record.history_type == "+"
    # No copy of Maria for a knock: the clocks it moves are not in her history.
    assert maria.history.count() == copies == 1
