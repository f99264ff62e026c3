"""Adding a member is an invitation: the admin's answer and the email are the same whatever
the address holds outside the organization; the person who follows the link joins once.

Ada is our admin, Xavier Westside's admin; Kim has an account and no organization yet."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from organizing.models import Invitation, Membership, Organization, Role
from tests.makers import make_member

PASSWORD = "correct horse 42"


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def invite(admin: Client, email: str, on_commit: Callable[..., Any], **fields: str) -> Any:
    with on_commit():
        return admin.post(
            reverse("members:add"), {"email": email, "role": Role.ORGANIZER, **fields}, follow=True
        )


def link_in(message: mail.EmailMessage) -> str:
    match = re.search(r"https?://[^/\s]+(/invitation/[^\s]+/)", str(message.body))
    assert match, message.body
    return match.group(1)


def shape(text: str, email: str) -> str:
    """The text with the address and the one-use link's token taken out."""
    text = text.replace(email, "ADDRESS")
    text = re.sub(r"/invitation/[^/\s\"]+/", "/invitation/TOKEN/", text)
    text = re.sub(r"/invitations/\d+/", "/invitations/ID/", text)
    text = re.sub(r'"doorstep-rendered-at" content="[^"]+"', "", text)
    text = re.sub(r'"X-CSRFToken": "[^"]+"', "", text)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)


# The admin learns nothing of accounts outside the organization


def test_every_address_gets_the_same_answer_and_the_same_email(
    ada: User, xavier: User, on_commit: Callable[..., Any]
) -> None:
    User.objects.create_user("kim", "kim@example.org", PASSWORD)
    User.objects.create_user("site-runner", "runner@example.org", is_staff=True)
    User.objects.create_user("clash@example.org", "other@example.org")
    addresses = [
        "new@example.org",
        "xavier@example.org",
        "kim@example.org",
        "runner@example.org",
        "clash@example.org",
    ]
    pages, emails = [], []
    for email in addresses:
        response = invite(client_for(ada), email, on_commit)
        assert response.status_code == 200
        assert f"Invitation sent to {email}." in response.content.decode()
        pages.append(shape(response.content.decode(), email))
        # Nobody joined: the address is an invitation waiting, listed for the admin.
        (invitation,) = Invitation.objects.open().filter(organization=ada.membership.organization)
        assert (invitation.email, invitation.accepted_at) == (email, None)
        # Taken away so that the next page lists its own invitation alone.
        invitation.delete()
    for message, email in zip(mail.outbox, addresses, strict=True):
        assert isinstance(message, mail.EmailMultiAlternatives)
        assert message.to == [email]
        (html, _), *_ = message.alternatives
        emails.append(
            (
                shape(str(message.subject), email),
                shape(str(message.body), email),
                shape(str(html), email),
            )
        )

    assert len(set(pages)) == 1
    assert len(set(emails)) == 1
    assert "elsewhere" not in pages[0] and "Westside" not in pages[0]
    assert (
        not Membership.objects.filter(user__email__in=addresses[1:]).exclude(user=xavier).exists()
    )
    assert xavier.membership.organization.slug == "westside"


def test_adding_an_address_again_renews_its_invitation_not_a_second_one(
    ada: User, on_commit: Callable[..., Any]
) -> None:
    admin = client_for(ada)
    invite(admin, "nadia@example.org", on_commit)
    invite(admin, "NADIA@example.org", on_commit, role=Role.COMMITTEE)

    (invitation,) = Invitation.objects.all()
    assert invitation.role == Role.COMMITTEE
    first, second = mail.outbox
    # The earlier link stopped working when the later one was sent.
    assert Client().get(link_in(first)).status_code == 404
    assert Client().get(link_in(second)).status_code == 200


def test_a_member_of_ours_is_refused_with_what_was_typed(as_ada: Client, olivia: User) -> None:
    response = as_ada.post(
        reverse("members:add"), {"email": "olivia@example.org", "name": "Liv", "role": "admin"}
    )

    page = response.content.decode()
    assert response.status_code == 422
    assert "olivia is already a member." in page
    assert 'value="olivia@example.org"' in page and 'value="Liv"' in page
    assert not Invitation.objects.exists()
    assert not mail.outbox


@pytest.fixture
def as_ada(ada: User) -> Client:
    return client_for(ada)


# The person follows the link


def test_someone_new_chooses_a_password_and_joins_with_the_role_given(
    as_ada: Client, org: Organization, on_commit: Callable[..., Any]
) -> None:
    invite(as_ada, "nadia@example.org", on_commit, role=Role.COMMITTEE, name="Nadia")
    nadia = Client()
    link = link_in(mail.outbox[0])

    short = nadia.post(link, {"name": "Nadia", "password1": "short", "password2": "short"})
    assert short.status_code == 422
    assert "too short" in short.content.decode()
    assert 'value="Nadia"' in short.content.decode()
    assert not User.objects.filter(email="nadia@example.org").exists()

    secret = "a long new secret 7"
    joined = nadia.post(link, {"name": "Nadia", "password1": secret, "password2": secret})

    assert joined.status_code == 302
    user = User.objects.get(email="nadia@example.org")
    assert (user.username, user.first_name) == ("nadia@example.org", "Nadia")
    assert (user.membership.organization, user.membership.role) == (org, Role.COMMITTEE)
    logged_in = Client().post(reverse("login"), {"username": user.email, "password": secret})
    assert logged_in.status_code == 302


def test_someone_with_an_account_logs_in_and_accepts(
    as_ada: Client, org: Organization, on_commit: Callable[..., Any]
) -> None:
    kim = User.objects.create_user("kim", "kim@example.org", PASSWORD)
    invite(as_ada, "kim@example.org", on_commit)
    link = link_in(mail.outbox[0])

    page = Client().get(link).content.decode()
    assert "log in with it to accept" in page
    assert 'name="password1"' not in page
    # Choosing a password does not make a second account.
    Client().post(link, {"password1": "a long new secret 7", "password2": "a long new secret 7"})
    assert User.objects.filter(email__iexact="kim@example.org").count() == 1

    client = client_for(kim)
    assert "Join Eastside Tenants" in client.get(link).content.decode()
    assert client.post(link).status_code == 302

    kim.refresh_from_db()
    assert (kim.membership.organization, kim.membership.role) == (org, Role.ORGANIZER)
    assert kim.check_password(PASSWORD)


def test_accepting_twice_does_nothing_the_second_time(
    as_ada: Client, org: Organization, on_commit: Callable[..., Any]
) -> None:
    kim = User.objects.create_user("kim", "kim@example.org", PASSWORD)
    invite(as_ada, "kim@example.org", on_commit)
    link = link_in(mail.outbox[0])
    client = client_for(kim)
    client.post(link)
    kim.membership.role = Role.ADMIN
    kim.membership.save()

    again = client.post(link)

    assert again.status_code == 410
    assert "This invitation has already been used." in again.content.decode()
    assert Membership.objects.filter(user=kim).count() == 1
    kim.membership.refresh_from_db()
    assert kim.membership.role == Role.ADMIN
    assert Client().get(link).status_code == 410


def test_an_expired_link_says_so_clearly(
    as_ada: Client, org: Organization, on_commit: Callable[..., Any]
) -> None:
    invite(as_ada, "nadia@example.org", on_commit)
    link = link_in(mail.outbox[0])

    with time_machine.travel(timezone.now() + dt.timedelta(days=7, minutes=1)):
        page = Client().get(link)
        posted = Client().post(
            link, {"password1": "a long new secret 7", "password2": "a long new secret 7"}
        )

    assert page.status_code == 410
    assert "This invitation expired on" in page.content.decode()
    assert "Ask an admin of Eastside Tenants to send a new one." in page.content.decode()
    assert posted.status_code == 410
    assert not User.objects.filter(email="nadia@example.org").exists()


def test_an_account_of_another_organization_cannot_join_and_is_told_why(
    as_ada: Client, xavier: User, on_commit: Callable[..., Any]
) -> None:
    invite(as_ada, "xavier@example.org", on_commit)
    link = link_in(mail.outbox[0])
    client = client_for(xavier)

    response = client.post(link)

    assert response.status_code == 409
    assert "already belongs to an organization" in response.content.decode()
    assert xavier.membership.organization.slug == "westside"
    assert Invitation.objects.open().count() == 1


def test_the_link_of_another_address_is_refused_to_a_logged_in_account(
    as_ada: Client, on_commit: Callable[..., Any]
) -> None:
    kim = User.objects.create_user("kim", "kim@example.org", PASSWORD)
    invite(as_ada, "nadia@example.org", on_commit)

    response = client_for(kim).post(link_in(mail.outbox[0]))

    assert response.status_code == 409
    assert "for another address" in response.content.decode()
    assert not Membership.objects.filter(user=kim).exists()


# The admin resends and cancels; another organization's admin gets 404


def test_a_cancelled_invitation_no_longer_opens(
    as_ada: Client, on_commit: Callable[..., Any]
) -> None:
    invite(as_ada, "nadia@example.org", on_commit)
    (invitation,) = Invitation.objects.all()

    response = as_ada.post(reverse("members:invitation_cancel", args=[invitation.pk]), follow=True)

    assert "Invitation to nadia@example.org cancelled" in response.content.decode()
    assert "Invitations waiting" not in response.content.decode()
    assert Client().get(link_in(mail.outbox[0])).status_code == 404


def test_a_resent_invitation_lasts_seven_days_more_with_a_new_link(
    as_ada: Client, on_commit: Callable[..., Any]
) -> None:
    invite(as_ada, "nadia@example.org", on_commit)
    (invitation,) = Invitation.objects.all()
    Invitation.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))

    listed = as_ada.get(reverse("members:list")).content.decode()
    with on_commit():
        as_ada.post(reverse("members:invitation_resend", args=[invitation.pk]))

    assert "nadia@example.org" in listed and "expired" in listed
    assert Client().get(link_in(mail.outbox[0])).status_code == 404
    assert Client().get(link_in(mail.outbox[1])).status_code == 200
    invitation.refresh_from_db()
    assert invitation.expires_at > timezone.now() + dt.timedelta(days=6)


@pytest.mark.parametrize("action", ["members:invitation_resend", "members:invitation_cancel"])
def test_another_organizations_admin_gets_404_on_our_invitations(
    action: str, as_ada: Client, xavier: User, on_commit: Callable[..., Any]
) -> None:
    invite(as_ada, "nadia@example.org", on_commit)
    (invitation,) = Invitation.objects.all()
    mail.outbox.clear()
    theirs = client_for(xavier)

    with on_commit():
        response = theirs.post(reverse(action, args=[invitation.pk]))

    assert response.status_code == 404
    assert "nadia@example.org" not in theirs.get(reverse("members:list")).content.decode()
    invitation.refresh_from_db()
    assert invitation.cancelled_at is None
    assert not mail.outbox


def test_organizers_and_the_committee_cannot_invite(olivia: User, org: Organization) -> None:
    cora = make_member(org, "cora2", Role.COMMITTEE)
    for user in (olivia, cora):
        response = client_for(user).post(
            reverse("members:add"), {"email": "x@example.org", "role": Role.ADMIN}
        )
        assert response.status_code == 403
    assert not Invitation.objects.exists()
