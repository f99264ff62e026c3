"""Ada manages the organization's members: adds people by email with a role, changes roles,
gives an organizer buildings, deactivates those who left. The last admin stays an admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from buildings.models import Building, Turf
from contacts.actions import deactivate_member
from contacts.models import Contact
from organizing.actions import change_role
from organizing.models import Membership, Organization, Role
from tests.makers import make_building, make_contact, make_member, make_unit


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_ada(ada: User) -> Client:
    return client_for(ada)


def detail_url(user: User) -> str:
    return reverse("members:detail", args=[user.membership.pk])


# Adding people


def test_a_member_cannot_be_added_twice(as_ada: Client, olivia: User) -> None:
    response = as_ada.post(
        reverse("members:add"), {"email": "olivia@example.org", "role": Role.ADMIN}
    )

    assert response.status_code == 422
    assert "olivia is already a member." in response.content.decode()
    olivia.membership.refresh_from_db()
    assert olivia.membership.role == Role.ORGANIZER


def test_an_email_is_required_and_checked(as_ada: Client, org: Organization) -> None:
    response = as_ada.post(reverse("members:add"), {"email": "not an email", "role": "admin"})

    assert response.status_code == 422
    assert not User.objects.filter(username="not an email").exists()


# Roles and the last admin


def test_a_role_is_changed(as_ada: Client, olivia: User) -> None:
    as_ada.post(reverse("members:role", args=[olivia.membership.pk]), {"role": Role.COMMITTEE})

    olivia.membership.refresh_from_db()
    assert olivia.membership.role == Role.COMMITTEE


def test_the_last_admin_cannot_be_demoted(as_ada: Client, ada: User) -> None:
    response = as_ada.post(
        reverse("members:role", args=[ada.membership.pk]), {"role": Role.ORGANIZER}, follow=True
    )

    assert "ada is the last admin and can&#x27;t be given another role" in (
        response.content.decode()
    )
    ada.membership.refresh_from_db()
    assert ada.membership.role == Role.ADMIN


def test_the_last_admin_cannot_deactivate_herself(as_ada: Client, ada: User) -> None:
    response = as_ada.post(reverse("members:deactivate", args=[ada.membership.pk]), follow=True)

    assert "You can&#x27;t deactivate yourself; ask another admin." in response.content.decode()
    ada.membership.refresh_from_db()
    assert ada.membership.active


def test_an_admin_demoted_meanwhile_cannot_deactivate_the_last_admin(
    ada: User, org: Organization
) -> None:
    abe = make_member(org, "abe", Role.ADMIN)
    abes_page = Membership.objects.get(user=abe)  # as loaded by Abe's request
    change_role(actor=ada.membership, membership=abe.membership, role=Role.ORGANIZER)

    with pytest.raises(PermissionDenied):
        deactivate_member(actor=abes_page, membership=Membership.objects.get(user=ada))

    assert Membership.objects.get(user=ada).active


def test_an_admin_can_step_down_when_another_admin_remains(
    as_ada: Client, ada: User, org: Organization
) -> None:
    make_member(org, "abe", Role.ADMIN)

    response = as_ada.post(
        reverse("members:role", args=[ada.membership.pk]), {"role": Role.COMMITTEE}
    )

    ada.membership.refresh_from_db()
    assert ada.membership.role == Role.COMMITTEE
    # No longer allowed on the members page, so sent home rather than to a 403.
    assert response["Location"] == reverse("home")


def test_two_admins_demoting_each_other_leave_one_admin(ada: User, org: Organization) -> None:
    abe = make_member(org, "abe", Role.ADMIN)
    adas_page, abes_page = Membership.objects.get(user=ada), Membership.objects.get(user=abe)

    change_role(actor=adas_page, membership=Membership.objects.get(user=abe), role=Role.ORGANIZER)
    with pytest.raises(PermissionDenied):
        # Abe's request loaded his membership while he was still an admin; the organization
        # lock makes it wait for Ada's, and the role is read again after it.
        change_role(
            actor=abes_page, membership=Membership.objects.get(user=ada), role=Role.ORGANIZER
        )

    assert list(
        Membership.objects.filter(organization=org, role=Role.ADMIN).values_list(
            "user__username", flat=True
        )
    ) == ["ada"]


# Deactivation


def test_a_deactivated_organizer_loses_turf_and_their_contacts_show_as_orphaned(
    as_ada: Client, olivia: User, maria: Contact, riverside: Building
) -> None:
    response = as_ada.post(reverse("members:deactivate", args=[olivia.membership.pk]), follow=True)

    olivia.membership.refresh_from_db()
    assert not olivia.membership.active
    maria.refresh_from_db()
    assert maria.orphaned and maria.owner == olivia
    assert not Turf.objects.filter(organizer=olivia).exists()
    assert "Their 1 active contact now show as orphaned" in response.content.decode()
    assert client_for(olivia).get(reverse("home")).status_code == 403


def test_deactivating_the_last_organizer_of_a_building_says_it_has_nobody_now(
    as_ada: Client, olivia: User, omar: User, riverside: Building, org: Organization
) -> None:
    shared = make_building(org, name="Maple Court", organizers=(olivia, omar))
    assert Turf.objects.filter(building=riverside, organizer=olivia).exists()

    response = as_ada.post(reverse("members:deactivate", args=[olivia.membership.pk]), follow=True)

    page = response.content.decode()
    assert f"{riverside.name} now has no organizer" in page
    assert shared.name not in page.split("now has no organizer")[0].rsplit(".", 1)[-1]
    assert Turf.objects.filter(building=shared, organizer=omar).exists()


def test_a_deactivated_member_can_be_reactivated(as_ada: Client, olivia: User) -> None:
    Membership.objects.filter(user=olivia).update(active=False)

    as_ada.post(reverse("members:reactivate", args=[olivia.membership.pk]))

    olivia.membership.refresh_from_db()
    assert olivia.membership.active


# Turf from the organizer's side


def test_an_organizers_buildings_are_set_from_their_page(
    as_ada: Client, olivia: User, riverside: Building, maple: Building
) -> None:
    as_ada.post(reverse("members:turf", args=[olivia.membership.pk]), {"buildings": [maple.pk]})

    assert list(olivia.turf_buildings.all()) == [maple]
    page = as_ada.get(detail_url(olivia)).content.decode()
    assert re.search(rf'value="{maple.pk}"[^>]* checked', page)
    assert not re.search(rf'value="{riverside.pk}"[^>]* checked', page)


def test_another_organizations_building_cannot_be_given_as_turf(
    as_ada: Client, olivia: User, other_org: Organization
) -> None:
    theirs = make_building(other_org, name="Westside Arms")

    as_ada.post(reverse("members:turf", args=[olivia.membership.pk]), {"buildings": [theirs.pk]})

    assert not Turf.objects.filter(building=theirs).exists()


# The list, and who may see it


def test_the_list_shows_roles_turf_and_contacts(
    as_ada: Client, olivia: User, maria: Contact
) -> None:
    page = as_ada.get(reverse("members:list")).content.decode()

    assert "olivia" in page and "Organizer" in page
    assert "1 building · 1 contact" in page


def test_the_list_costs_the_same_queries_with_more_members(
    as_ada: Client, org: Organization, olivia: User, riverside: Building
) -> None:
    with CaptureQueriesContext(connection) as small:
        assert as_ada.get(reverse("members:list")).status_code == 200

    for n in range(10):
        member = make_member(org, f"member{n}")
        Turf.objects.create(building=riverside, organizer=member)
        make_contact(make_unit(riverside, f"{n + 100}"), owner=member, name=f"R{n}")
    with CaptureQueriesContext(connection) as large:
        as_ada.get(reverse("members:list"))

    assert len(large) == len(small)


@pytest.mark.parametrize("persona", ["olivia", "cora"])
def test_organizers_and_the_committee_get_403(
    request: pytest.FixtureRequest, persona: str, omar: User
) -> None:
    client = client_for(request.getfixturevalue(persona))
    membership = omar.membership

    assert client.get(reverse("members:list")).status_code == 403
    assert client.get(reverse("members:detail", args=[membership.pk])).status_code == 403
    for name in ("members:role", "members:deactivate", "members:turf"):
        response = client.post(reverse(name, args=[membership.pk]), {"role": Role.ADMIN})
        assert response.status_code == 403
    add = client.post(reverse("members:add"), {"email": "x@example.org", "role": Role.ADMIN})
    assert add.status_code == 403
    membership.refresh_from_db()
    assert (membership.role, membership.active) == (Role.ORGANIZER, True)


def test_the_outsider_gets_404_on_our_members(xavier: User, olivia: User) -> None:
    client = client_for(xavier)
    membership = olivia.membership

    assert client.get(reverse("members:detail", args=[membership.pk])).status_code == 404
    for name in ("members:role", "members:deactivate", "members:reactivate", "members:turf"):
        response = client.post(reverse(name, args=[membership.pk]), {"role": Role.ORGANIZER})
        assert response.status_code == 404
    assert "olivia" not in client.get(reverse("members:list")).content.decode()
    membership.refresh_from_db()
    assert membership.active
