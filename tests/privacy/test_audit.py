"""The audit trail and erasure on request.

Olivia talks with Maria at 1204 and Cora snoozes and reassigns her: Ada, the admin, reads
who did what on Maria's page; Olivia and Cora do not see the trail. Then Maria asks to be
forgotten: Ada erases her, and her name is found in no row of the database and on no page,
while the building still counts the knocks on her door. Xavier, of another organization,
can't even learn that Maria exists.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from buildings.models import Building, Unit
from contacts.actions import reassign_contacts, record_visit, snooze_contact
from contacts.lapse.digests import send_committee_digests, send_owner_digests
from contacts.lapse.job import flag_lapsed
from contacts.models import (
    Ask,
    Contact,
    Erasure,
    ExportLog,
    FollowUp,
    LapseEpisode,
    LapseFlag,
    Level,
    Outcome,
    Status,
    Visit,
)
from contacts.privacy.erasure import ERASED_NAME, erase_contact
from organizing.models import Membership, Organization, Role
from tests.makers import make_contact, make_member, make_unit, new_key

DAY = dt.timedelta(days=1)
NAME, PHONE, EMAIL = "Maria Lopez", "555 010 1234", "maria.lopez@example.net"
SECRET = "her landlord threatened her over the rent strike"


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def talk_at_the_door(olivia: User, maria: Contact) -> None:
    """Olivia's conversation as her phone sends it: a note, level 4, an ask, a next visit."""
    today = timezone.localdate()
    response = client_for(olivia).post(
        reverse("contacts:talk", args=[maria.pk]),
        {
            "key": new_key(),
            "channel": "door",
            "note": SECRET,
            "level": Level.ACTIVE,
            "ask": "Floor captain?",
            "ask_due_on": today + 7 * DAY,
            "follow_up_on": today + 3 * DAY,
            "follow_up_purpose": "Bring the petition",
        },
    )
    assert response.status_code == 302, response.content


def page(user: User, contact: Contact) -> str:
    response = client_for(user).get(reverse("contacts:detail", args=[contact.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def known_maria(maria: Contact) -> Contact:
    """Maria as Olivia has come to know her."""
    maria.phone, maria.email, maria.notes = PHONE, EMAIL, f"{NAME} works nights"
    maria.consent_note = "Texts are fine"
    maria.save()
    return maria


# The trail


def test_the_admin_sees_who_changed_what_on_the_contact_page(
    olivia: User, cora: User, ada: User, omar: User, known_maria: Contact
) -> None:
    talk_at_the_door(olivia, known_maria)
    snooze_contact(
        actor=cora.membership,
        contact=known_maria,
        until=timezone.localdate() + 10 * DAY,
        reason="In hospital",
    )
    reassign_contacts(actor=cora.membership, contacts=[known_maria], to_owner=omar)

    html = page(ada, known_maria)

    trail = html.split("Audit trail", 1)[1]
    assert "Visit added by olivia" in trail
    assert "Ask added by olivia" in trail
    assert "Follow-up added by olivia" in trail
    assert "level: New → Active" in trail
    assert "Contact changed by cora" in trail
    assert "snooze reason changed" in trail
    assert "owner: olivia → omar" in trail
    assert "(reassigned)" in trail
    # Each row says only what its author changed.
    assert "level: Active → New" not in trail
    # What Maria said stays in the visit list, not in a second copy in the trail.
    assert SECRET not in trail


def test_organizers_and_the_committee_do_not_see_the_trail(
    olivia: User, cora: User, ada: User, known_maria: Contact
) -> None:
    talk_at_the_door(olivia, known_maria)

    for user in (olivia, cora):
        html = page(user, known_maria)
        assert "Audit trail" not in html
        assert reverse("audit:erase", args=[known_maria.pk]) not in html
    assert "Audit trail" in page(ada, known_maria)


def test_a_knock_costs_one_trail_row_and_the_trail_knows_who_knocked(
    olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    contact_rows = Contact.history.filter(id=maria.pk).count()

    response = client_for(olivia).post(
        reverse("buildings:knock", args=[unit_1204.building_id, unit_1204.pk]),
        {
            "contact": maria.pk,
            f"c{maria.pk}-outcome": Outcome.NOT_HOME,
            f"c{maria.pk}-key": new_key(),
        },
    )

    assert response.status_code == 302, response.content
    assert Contact.history.filter(id=maria.pk).count() == contact_rows
    [row] = Visit.history.filter(contact_id=maria.pk)
    assert row.history_user == olivia and row.history_type == "+"


def test_moving_out_is_in_the_trail(olivia: User, maria: Contact) -> None:
    record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.MOVED_OUT,
        idempotency_key=new_key(),
    )

    latest = Contact.history.filter(id=maria.pk).latest()
    assert latest.status == Status.MOVED and latest.unit_id is None
    assert latest.history_user == olivia


def test_a_conversation_completes_follow_ups_in_the_trail(olivia: User, maria: Contact) -> None:
    follow_up = FollowUp.objects.create(
        contact=maria, planned_for=timezone.localdate(), assigned_to=olivia, purpose="RSVP"
    )

    visit, _ = record_visit(
        actor=olivia.membership,
        contact=maria,
        outcome=Outcome.CONVERSATION,
        idempotency_key=new_key(),
    )

    latest = FollowUp.history.filter(id=follow_up.pk).latest()
    assert latest.done_by_id == visit.pk and latest.history_user == olivia


def test_the_audit_page_lists_exports_erasures_and_role_changes(
    ada: User, omar: User, org: object, maria: Contact
) -> None:
    client = client_for(ada)
    client.post(reverse("members:role", args=[omar.membership.pk]), {"role": Role.COMMITTEE})
    ExportLog.objects.create(
        organization=ada.membership.organization, user=ada, what="Lapsed", rows=3
    )
    erase_contact(actor=ada.membership, contact=maria)

    html = client.get(reverse("audit:log")).content.decode()

    assert "Lapsed · 3 rows" in html
    assert f"contact #{maria.pk} erased by ada" in html
    assert "Membership of omar changed by ada" in html
    assert "role: Organizer → Committee" in html


def test_the_outsider_sees_only_his_own_organizations_audit(
    ada: User, xavier: User, maria: Contact
) -> None:
    erase_contact(actor=ada.membership, contact=maria)

    html = client_for(xavier).get(reverse("audit:log")).content.decode()

    assert f"contact #{maria.pk}" not in html
    assert "Nobody has been erased" in html


def test_the_trail_costs_the_admin_the_same_queries_as_it_grows_and_others_none(
    olivia: User, ada: User, known_maria: Contact
) -> None:
    talk_at_the_door(olivia, known_maria)
    url = reverse("contacts:detail", args=[known_maria.pk])
    as_ada, as_olivia = client_for(ada), client_for(olivia)
    with CaptureQueriesContext(connection) as small:
        as_ada.get(url)

    for _ in range(4):
        talk_at_the_door(olivia, known_maria)
        record_visit(
            actor=olivia.membership,
            contact=known_maria,
            outcome=Outcome.NOT_HOME,
            idempotency_key=new_key(),
        )
    with CaptureQueriesContext(connection) as large:
        as_ada.get(url)
    with CaptureQueriesContext(connection) as organizer:
        as_olivia.get(url)

    assert len(large) == len(small)
    assert not [q for q in organizer.captured_queries if "historical" in q["sql"]]


# Erasure


def test_erasing_first_says_what_will_go_and_what_stays(
    olivia: User, ada: User, known_maria: Contact
) -> None:
    talk_at_the_door(olivia, known_maria)

    response = client_for(ada).get(reverse("audit:erase", args=[known_maria.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "What is erased" in html and "What stays" in html
    assert "their 1 visit" in html
    assert Contact.objects.get(pk=known_maria.pk).name == NAME


def test_erasing_needs_the_box_ticked(ada: User, known_maria: Contact) -> None:
    response = client_for(ada).post(reverse("audit:erase", args=[known_maria.pk]), {})

    assert response.status_code == 422
    assert Contact.objects.get(pk=known_maria.pk).name == NAME
    assert not Erasure.objects.exists()


def every_row_of_the_database() -> str:
    """Every cell of every table, as text: sessions aside (signed, and gone at logout)."""
    cells = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if table == "django_session":
                continue
            cursor.execute(f'SELECT * FROM "{table}"')
            cells += [str(cell) for row in cursor.fetchall() for cell in row]
    return "\n".join(cells)


def test_an_admin_erases_a_person_and_nothing_of_them_is_left(
    olivia: User,
    cora: User,
    ada: User,
    known_maria: Contact,
    unit_1204: Unit,
    riverside: Building,
) -> None:
    talk_at_the_door(olivia, known_maria)
    record_visit(
        actor=olivia.membership,
        contact=known_maria,
        outcome=Outcome.NOT_HOME,
        idempotency_key=new_key(),
        note=f"left a flyer for {NAME}, call {PHONE}",
    )
    neighbour = make_contact(make_unit(riverside, "1205"), owner=olivia, name="Rosa Diaz")
    neighbour.notes = f"Sister of {NAME}; knows the super"
    neighbour.save()
    snooze_contact(
        actor=cora.membership,
        contact=known_maria,
        until=timezone.localdate() + 10 * DAY,
        reason=f"{NAME} is visiting family",
    )
    knocks_at_1204 = Visit.objects.filter(unit=unit_1204).count()
    assert SECRET in every_row_of_the_database()  # the trail held it too, until now

    response = client_for(ada).post(
        reverse("audit:erase", args=[known_maria.pk]), {"confirm": "erase"}
    )

    assert response.status_code == 302
    database = every_row_of_the_database()
    for personal in (NAME, PHONE, EMAIL, SECRET, "works nights", "Floor captain?"):
        assert personal.casefold() not in database.casefold(), personal
    assert "Bring the petition" not in database
    erased = Contact.objects.get(pk=known_maria.pk)
    assert erased.name == ERASED_NAME and erased.status == Status.ERASED
    assert (erased.phone, erased.email, erased.notes, erased.owner, erased.unit) == (
        "",
        "",
        "",
        None,
        None,
    )
    # The knocks still count for the building and the unit.
    assert Visit.objects.filter(unit=unit_1204).count() == knocks_at_1204 == 2
    assert Visit.objects.filter(contact=erased).count() == 2
    # The neighbour keeps her note, without Maria in it.
    assert Contact.objects.get(pk=neighbour.pk).notes == "Sister of [erased]; knows the super"
    erasure = Erasure.objects.get()
    assert (erasure.contact_id, erasure.erased_by, erasure.organization_id) == (
        known_maria.pk,
        ada,
        known_maria.organization_id,
    )
    assert erasure.visits == 2 and erasure.mentions == 1


def test_no_page_shows_the_erased_person(
    olivia: User, ada: User, known_maria: Contact, unit_1204: Unit
) -> None:
    talk_at_the_door(olivia, known_maria)
    erase_contact(actor=ada.membership, contact=known_maria)

    pages = [
        reverse("contacts:detail", args=[known_maria.pk]),
        reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]),
        reverse("buildings:detail", args=[unit_1204.building_id]),
        reverse("committee:dashboard"),
        reverse("audit:log"),
    ]
    for url in pages:
        html = client_for(ada).get(url).content.decode()
        assert NAME not in html and SECRET not in html, url
    trail = page(ada, known_maria).split("Audit trail", 1)[1]
    assert "Contact changed by ada (erased on request)" in trail
    assert "Visit added" not in trail


def test_organizers_and_the_committee_get_403_and_the_outsider_404_on_erase(
    olivia: User, cora: User, xavier: User, known_maria: Contact
) -> None:
    url = reverse("audit:erase", args=[known_maria.pk])

    for user, status in ((olivia, 403), (cora, 403), (xavier, 404)):
        assert client_for(user).post(url, {"confirm": "erase"}).status_code == status
        assert client_for(user).get(url).status_code == status

    assert Contact.objects.get(pk=known_maria.pk).name == NAME
    assert not Erasure.objects.exists()


def test_erasing_twice_changes_nothing_more(ada: User, known_maria: Contact) -> None:
    erase_contact(actor=ada.membership, contact=known_maria)

    response = client_for(ada).post(
        reverse("audit:erase", args=[known_maria.pk]), {"confirm": "erase"}
    )

    assert response.status_code == 302
    assert Erasure.objects.count() == 1


def test_an_erased_person_is_in_no_lapse_list_or_digest(
    olivia: User, cora: User, ada: User, unit_1204: Unit
) -> None:
    tamara = make_contact(
        unit_1204,
        owner=olivia,
        name="Tamara Quinn",
        level=Level.LEADER,
        created_at=timezone.now() - 90 * DAY,
    )
    flag_lapsed()
    tamara.refresh_from_db()
    assert tamara.lapse_flag == LapseFlag.LAPSED

    erase_contact(actor=ada.membership, contact=tamara)
    flag_lapsed()
    send_owner_digests()
    send_committee_digests()

    tamara.refresh_from_db()
    assert tamara.lapse_flag == LapseFlag.OK and tamara.status == Status.ERASED
    assert tamara.open_lapse is None
    assert LapseEpisode.objects.get(contact=tamara).resolved_at is not None
    dashboard = client_for(cora).get(reverse("committee:dashboard")).content.decode()
    assert ERASED_NAME not in dashboard and "Tamara" not in dashboard
    assert all(ERASED_NAME not in str(message.body) for message in mail.outbox)


def test_a_late_knock_for_an_erased_person_is_refused(
    olivia: User, ada: User, maria: Contact
) -> None:
    erase_contact(actor=ada.membership, contact=maria)
    maria.refresh_from_db()

    with pytest.raises(ValidationError, match="erased on request"):
        record_visit(
            actor=olivia.membership,
            contact=maria,
            outcome=Outcome.CONVERSATION,
            idempotency_key=new_key(),
            note=f"{NAME} again",
        )
    assert not Visit.objects.filter(note__contains=NAME).exists()


def test_only_an_admin_may_erase_even_when_called_directly(cora: User, maria: Contact) -> None:
    with pytest.raises(PermissionDenied):
        erase_contact(actor=cora.membership, contact=maria)
    assert not Ask.objects.exists() and Contact.objects.get(pk=maria.pk).name == NAME


def test_another_organizations_admin_cannot_erase_our_contact(xavier: User, maria: Contact) -> None:
    with pytest.raises(ValidationError):
        erase_contact(actor=xavier.membership, contact=maria)
    assert Contact.objects.get(pk=maria.pk).name == NAME


def test_a_new_admin_member_appears_in_the_member_trail(ada: User, org: object) -> None:
    make_member(ada.membership.organization, "nia", Role.ORGANIZER)

    html = client_for(ada).get(reverse("audit:log")).content.decode()

    assert "Membership of nia added" in html


def test_nothing_new_is_recorded_about_an_erased_person(
    olivia: User, cora: User, omar: User, ada: User, maria: Contact
) -> None:
    erase_contact(actor=ada.membership, contact=maria)
    maria.refresh_from_db()
    client = client_for(ada)

    logged = client.post(
        reverse("contacts:log_visit", args=[maria.pk]),
        {"key": new_key(), "channel": "phone", "outcome": "conversation", "note": NAME},
    )
    planned = client.post(
        reverse("contacts:new_follow_up", args=[maria.pk]),
        {"key": new_key(), "planned_for": timezone.localdate(), "purpose": NAME},
    )

    assert logged.status_code == planned.status_code == 422
    assert not Visit.objects.filter(contact=maria).exists()
    assert not FollowUp.objects.filter(contact=maria).exists()
    with pytest.raises(ValidationError):
        snooze_contact(
            actor=cora.membership,
            contact=maria,
            until=timezone.localdate() + DAY,
            reason="Away",
        )
    with pytest.raises(ValidationError):
        reassign_contacts(actor=cora.membership, contacts=[maria], to_owner=omar)


def test_deleting_an_organization_leaves_no_copy_of_its_tenants_in_the_trail(
    org: Organization, olivia: User, maria: Contact, other_org: Organization, xavier: User
) -> None:
    record_visit(
        actor=olivia.membership, contact=maria, outcome=Outcome.NOT_HOME, idempotency_key=new_key()
    )
    Ask.objects.create(
        contact=maria, question="Meeting?", asked_by=olivia, due_on=timezone.localdate()
    )
    assert Contact.history.filter(organization_id=org.pk).exists()

    org.delete()

    assert not Contact.history.filter(name="Maria Lopez").exists()
    assert not Visit.history.filter(organization_id=org.pk).exists()
    assert not Ask.history.exists()
    assert not Membership.history.filter(organization_id=org.pk).exists()
    assert Membership.history.filter(organization_id=other_org.pk).exists()  # theirs stays
