"""Knocking together (issue #20): a visit names who came along, a member or a contact. For
a contact it counts as a conversation with her, once a day, and the people met are brought
in by her."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from buildings.models import Unit
from contacts.actions import record_visit
from contacts.models import Contact, Level, Outcome, Status, Visit
from organizing.models import Organization
from tests.makers import make_building, make_contact, make_unit, mark_lapsed, new_key

pytestmark = pytest.mark.usefixtures("clock")  # today is a fixed date: see `clock`


@pytest.fixture
def tamara(unit_1204: Unit, olivia: User) -> Contact:
    return make_contact(
        make_unit(unit_1204.building, "1207"), owner=olivia, name="Tamara", level=Level.LEADER
    )


@pytest.fixture
def as_olivia(olivia: User) -> Client:
    client = Client()
    client.force_login(olivia)
    return client


def knock(client: Client, unit: Unit, contact: Contact, companion: str) -> object:
    return client.post(
        reverse("buildings:knock", args=[unit.building_id, unit.pk]),
        {
            "contact": contact.pk,
            "owner": contact.owner_id or "",
            f"c{contact.pk}-outcome": Outcome.NOT_HOME,
            f"c{contact.pk}-key": new_key(),
            "with": companion,
        },
    )


def test_knocking_with_a_leader_is_one_conversation_with_her_a_day(
    as_olivia: Client, olivia: User, maria: Contact, tamara: Contact, unit_1204: Unit
) -> None:
    mark_lapsed(tamara)
    neighbour = make_contact(make_unit(unit_1204.building, "1208"), owner=olivia, name="Ana")

    knock(as_olivia, unit_1204, maria, f"c{tamara.pk}")
    knock(as_olivia, neighbour.unit, neighbour, f"c{tamara.pk}")  # type: ignore[arg-type]

    tamara.refresh_from_db()
    with_her = Visit.objects.filter(companion_contact=tamara)
    assert with_her.count() == 2
    talks = tamara.visits.filter(outcome=Outcome.CONVERSATION)
    assert talks.count() == 1
    assert tamara.last_conversation_at == talks.get().happened_at
    assert tamara.lapse_flag == "ok"
    page = as_olivia.get(reverse("contacts:detail", args=[tamara.pk])).content.decode()
    assert "Knocked 2 doors with us" in page


def test_a_resident_met_while_knocking_with_her_is_brought_in_by_her(
    as_olivia: Client, tamara: Contact, unit_1204: Unit
) -> None:
    as_olivia.post(
        reverse("buildings:new_resident", args=[unit_1204.building_id, unit_1204.pk]),
        {"key": new_key(), "name": "Man in 1204", "with": f"c{tamara.pk}"},
    )

    added = Contact.objects.get(name="Man in 1204")
    assert added.brought_in_by == tamara
    her_page = as_olivia.get(reverse("contacts:detail", args=[tamara.pk])).content.decode()
    assert "Brought in: " in her_page and "Man in 1204" in her_page
    his_page = as_olivia.get(reverse("contacts:detail", args=[added.pk])).content.decode()
    assert "brought in by" in his_page and "Tamara" in his_page


def test_knocking_with_another_member_names_them_on_the_visit(
    as_olivia: Client, omar: User, maria: Contact, unit_1204: Unit
) -> None:
    knock(as_olivia, unit_1204, maria, f"m{omar.pk}")

    visit = Visit.objects.get()
    assert visit.companion == omar
    assert visit.companion_contact is None


def test_the_organizer_cannot_name_themself_and_nothing_is_recorded(
    as_olivia: Client, olivia: User, maria: Contact, unit_1204: Unit
) -> None:
    response = knock(as_olivia, unit_1204, maria, f"m{olivia.pk}")

    assert response.status_code == 302  # type: ignore[attr-defined]
    assert not Visit.objects.exists()
    page = as_olivia.get(reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk]))
    assert "You can&#x27;t knock with yourself: name who came along." in page.content.decode()


def test_a_companion_of_another_organization_is_refused(
    as_olivia: Client, maria: Contact, unit_1204: Unit, other_org: Organization, xavier: User
) -> None:
    walter = make_contact(make_unit(make_building(other_org), "0301", floor=3), name="Walter")

    knock(as_olivia, unit_1204, maria, f"c{walter.pk}")
    knock(as_olivia, unit_1204, maria, f"m{xavier.pk}")

    assert not Visit.objects.exists()


def test_a_do_not_contact_resident_cannot_be_named_as_knocking(
    olivia: User, maria: Contact, tamara: Contact
) -> None:
    Contact.objects.filter(pk=tamara.pk).update(status=Status.DO_NOT_CONTACT)
    tamara.refresh_from_db()

    with pytest.raises(ValidationError, match="can't be named as knocking"):
        record_visit(
            actor=olivia.membership,
            contact=maria,
            outcome=Outcome.NOT_HOME,
            idempotency_key=new_key(),
            companion_contact=tamara,
        )
    assert not Visit.objects.exists()


def test_the_knocking_with_page_sets_it_for_the_doors_and_clears_it(
    as_olivia: Client, tamara: Contact, unit_1204: Unit
) -> None:
    unit_page = reverse("buildings:unit", args=[unit_1204.building_id, unit_1204.pk])
    choose = reverse("buildings:knocking_with")
    assert "Tamara (leader)" in as_olivia.get(choose).content.decode()

    as_olivia.post(choose, {"with": f"c{tamara.pk}", "next": unit_page})
    page = as_olivia.get(unit_page).content.decode()
    as_olivia.post(choose, {"with": ""})
    after = as_olivia.get(unit_page).content.decode()

    assert "Knocking with Tamara (leader)" in page
    assert f'name="with" value="c{tamara.pk}"' in page
    assert 'name="with"' not in after


def test_someone_not_on_the_list_cannot_be_chosen(
    as_olivia: Client, other_org: Organization
) -> None:
    walter = make_contact(make_unit(make_building(other_org), "0301", floor=3), name="Walter")

    response = as_olivia.post(reverse("buildings:knocking_with"), {"with": f"c{walter.pk}"})

    assert "Choose someone from the list, or nobody." in response.content.decode()
    assert "knocking_with" not in as_olivia.session


def test_the_knocking_with_page_goes_back_only_to_a_page_of_ours(as_olivia: Client) -> None:
    away = as_olivia.post(
        reverse("buildings:knocking_with"), {"with": "", "next": "https://evil.example/"}
    )
    odd = as_olivia.post(reverse("buildings:knocking_with"), {"with": "", "next": "0"})

    assert away["Location"] == reverse("buildings:list")
    assert odd.status_code == 302


# Undoing a knock made together


def undo(client: Client, visit: Visit) -> object:
    return client.post(reverse("contacts:undo", args=[visit.pk]), headers={"HX-Request": "true"})


def test_undoing_the_only_knock_with_her_takes_back_her_conversation(
    as_olivia: Client, maria: Contact, tamara: Contact, unit_1204: Unit
) -> None:
    mark_lapsed(tamara)
    before = Contact.objects.get(pk=tamara.pk)
    knock(as_olivia, unit_1204, maria, f"c{tamara.pk}")
    assert tamara.visits.filter(outcome=Outcome.CONVERSATION).count() == 1

    response = undo(as_olivia, Visit.objects.get(contact=maria))

    assert response.status_code == 200  # type: ignore[attr-defined]
    assert not Visit.objects.exists()
    tamara.refresh_from_db()
    assert tamara.last_conversation_at == before.last_conversation_at
    assert tamara.last_attempt_at == before.last_attempt_at
    page = as_olivia.get(reverse("contacts:detail", args=[tamara.pk])).content.decode()
    assert "Knocked on doors with us." not in page
    # Knocking with her again the same day counts again.
    knock(as_olivia, unit_1204, maria, f"c{tamara.pk}")
    assert tamara.visits.filter(outcome=Outcome.CONVERSATION).count() == 1


def test_her_conversation_stays_while_another_knock_that_day_names_her(
    as_olivia: Client, olivia: User, maria: Contact, tamara: Contact, unit_1204: Unit
) -> None:
    neighbour = make_contact(make_unit(unit_1204.building, "1208"), owner=olivia, name="Ana")
    knock(as_olivia, unit_1204, maria, f"c{tamara.pk}")
    knock(as_olivia, neighbour.unit, neighbour, f"c{tamara.pk}")  # type: ignore[arg-type]

    undo(as_olivia, Visit.objects.get(contact=maria))

    talk = tamara.visits.get(outcome=Outcome.CONVERSATION)
    tamara.refresh_from_db()
    assert tamara.last_conversation_at == talk.happened_at
    undo(as_olivia, Visit.objects.get(contact=neighbour))
    assert not tamara.visits.exists()


def test_undoing_a_knock_with_a_member_leaves_everyone_else_alone(
    as_olivia: Client, omar: User, maria: Contact, tamara: Contact, unit_1204: Unit
) -> None:
    """Maria came along to Tamara's door; later Omar came along to Maria's."""
    knock(as_olivia, tamara.unit, tamara, f"c{maria.pk}")  # type: ignore[arg-type]
    knock(as_olivia, unit_1204, maria, f"m{omar.pk}")

    undo(as_olivia, Visit.objects.get(contact=maria, companion=omar))

    assert maria.visits.filter(outcome=Outcome.CONVERSATION).count() == 1
    assert Visit.objects.filter(contact=tamara).count() == 1
