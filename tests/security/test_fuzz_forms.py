"""Every form of the app, fuzzed (issue #7): whatever is posted, never a 500, and nothing
written outside the poster's organization.

Each URL that takes a POST is in POSTS with the persona who may use it and the forms it
reads; `test_every_url_that_takes_a_post_is_fuzzed` fails for a new one that is not, so a
new form is fuzzed from the day it is added. Every GET screen is fuzzed through its query
string the same way.

After each request: the status is below 500, a URL naming another organization's object
answered 404, Westside's rows are exactly as they were, and no row anywhere links the two
organizations. Each example runs in a transaction that is rolled back, so examples don't
see each other's writes. FUZZ_EXAMPLES sets how many examples each test runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import given
from hypothesis import strategies as st

from contacts.committee.forms import LapseSettingsForm, MeetingForm, SnoozeForm
from contacts.field.forms import (
    AttendForm,
    BulkKnockForm,
    CancelFollowUpForm,
    ContactVisitForm,
    FollowUpForm,
    KnockForm,
    MoveFollowUpForm,
    ResidentForm,
    TalkForm,
    WalkInForm,
)
from contacts.forms import ReassignForm
from contacts.models import Answer, Contact, Visit
from contacts.setup.forms import (
    RANGE,
    BuildingForm,
    ConfirmImportForm,
    ExportForm,
    ImportForm,
    OrganizationForm,
    UnitGeneratorForm,
)
from contacts.setup.member_forms import AddMemberForm, MemberTurfForm, RoleForm
from organizing.accounts import NewAccountForm
from organizing.two_factor import CodeForm
from tests.organizing.test_permission_matrix import url_names
from tests.security.conftest import Ground
from tests.security.guard import assert_organizations_kept_apart, crossings, rolled_back, rows_of
from tests.security.strategies import (
    DATES,
    FUZZ,
    HEADERS,
    Value,
    form_fields,
    post_data,
    query,
    raw_body,
)

ANONYMOUS = "anonymous"
Strategy = st.SearchStrategy[Value]


def happened_at(_: Ground) -> Strategy:
    """When the phone says the knock happened: around now, aware or not."""
    minutes = st.integers(-45 * 24 * 60, 30)
    moment = minutes.map(lambda m: timezone.now() + dt.timedelta(minutes=m))
    return st.one_of(
        moment.map(dt.datetime.isoformat),
        moment.map(lambda m: m.replace(tzinfo=None).isoformat()),
        st.sampled_from(DATES),
    )


def unit_range(_: Ground) -> Strategy:
    return st.one_of(st.from_regex(RANGE, fullmatch=True), st.integers(-10, 300).map(str))


def set_password_url(client: Client, ours: Ground) -> str:
    """The link of a reset email, opened: the token moves into the session."""
    user = ours.contact.owner
    assert user is not None
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    client.get(reverse("password_reset_confirm", args=[uid, token]))
    return reverse("password_reset_confirm", args=[uid, "set-password"])


@dataclass(frozen=True)
class Post:
    """Who may post to a URL, the forms it reads, and the names it reads by hand."""

    persona: str
    forms: Callable[[Ground], list[forms.BaseForm]] = lambda ours: []
    by_hand: dict[str, Callable[[Ground], Strategy]] = field(default_factory=dict)
    url: Callable[[Client, Ground], str] | None = None


def _pks(*values: int) -> Strategy:
    return st.sampled_from([str(v) for v in values])


def contact_ids(ours: Ground) -> list[str]:
    contacts = Contact.objects.filter(organization=ours.organization)
    return [str(pk) for pk in contacts.values_list("pk", flat=True)]


def visit_ids(ours: Ground) -> Strategy:
    """A batch of visits as the undo form carries them, "12,13": ours, anyone's, or junk."""
    visits = Visit.objects.filter(organization=ours.organization)
    ids = [str(pk) for pk in visits.values_list("pk", flat=True)] or ["1"]
    one = st.one_of(st.sampled_from(ids), st.integers(-5, 10**6).map(str), st.text(max_size=4))
    return st.lists(one, max_size=5).map(",".join)


POSTS: dict[str, Post] = {
    "login": Post(ANONYMOUS, lambda ours: [AuthenticationForm()]),
    "logout": Post("olivia"),
    "language": Post(
        "olivia",
        by_hand={
            "language": lambda ours: st.sampled_from(["en", "fr", "xx", ""]) | st.text(max_size=12),
            "next": lambda ours: (
                st.sampled_from(["/", "https://evil.example/", "//evil"]) | st.text()
            ),
        },
    ),
    "password_reset": Post(ANONYMOUS, lambda ours: [PasswordResetForm()]),
    "password_reset_confirm": Post(
        ANONYMOUS,
        lambda ours: [SetPasswordForm(User.objects.get(owned_contacts=ours.contact))],
        url=set_password_url,
    ),
    "buildings:bulk_not_home": Post(
        "olivia",
        lambda ours: [
            BulkKnockForm(unit_ids=list(ours.building.units.values_list("pk", flat=True)))
        ],
        {"happened_at": happened_at},
    ),
    "buildings:bulk_undo": Post("olivia", by_hand={"visits": visit_ids}),
    "buildings:knock": Post(
        "olivia",
        lambda ours: [KnockForm(prefix="door"), KnockForm(prefix=f"c{ours.contact.pk}")],
        {
            "contact": lambda ours: _pks(ours.contact.pk),
            "owner": lambda ours: _pks(ours.contact.owner_id or 0),
            "happened_at": happened_at,
            "with": lambda ours: st.sampled_from([f"c{ours.contact.pk}", "m1", "c", ""]),
        },
    ),
    "buildings:new_resident": Post(
        "olivia",
        lambda ours: [ResidentForm(organization=ours.organization)],
        {"with": lambda ours: st.sampled_from([f"c{ours.contact.pk}", "m1", "x", ""])},
    ),
    "buildings:knocking_with": Post(
        "olivia",
        by_hand={
            "with": lambda ours: st.sampled_from([f"c{ours.contact.pk}", "m1", "c0", "zz", ""]),
            "next": lambda ours: st.sampled_from(["/", "https://evil.example/", ""]),
        },
    ),
    "contacts:talk": Post("olivia", lambda ours: [TalkForm()], {"happened_at": happened_at}),
    "contacts:talk_new": Post("olivia", lambda ours: [TalkForm()], {"happened_at": happened_at}),
    "contacts:log_visit": Post("olivia", lambda ours: [ContactVisitForm()]),
    "contacts:new_follow_up": Post("olivia", lambda ours: [FollowUpForm()]),
    "contacts:move_follow_up": Post("olivia", lambda ours: [MoveFollowUpForm()]),
    "contacts:cancel_follow_up": Post("olivia", lambda ours: [CancelFollowUpForm()]),
    "contacts:answer_ask": Post(
        "olivia", by_hand={"answer": lambda ours: st.sampled_from(Answer.values)}
    ),
    "contacts:undo": Post("olivia"),
    "committee:reassign": Post(
        "cora",
        lambda ours: [
            ReassignForm(
                organization=ours.organization,
                contacts=Contact.objects.filter(organization=ours.organization).order_by("pk"),
            )
        ],
        {
            "contacts": lambda ours: st.lists(st.sampled_from(contact_ids(ours)), min_size=1),
        },
    ),
    "committee:snooze": Post("cora", lambda ours: [SnoozeForm()]),
    "committee:settings": Post("cora", lambda ours: [LapseSettingsForm()]),
    "committee:new_meeting": Post(
        "cora", lambda ours: [MeetingForm(organization=ours.organization)]
    ),
    "committee:edit_meeting": Post(
        "cora", lambda ours: [MeetingForm(organization=ours.organization)]
    ),
    "committee:close_meeting": Post("cora"),
    "meetings:invite": Post(
        "olivia",
        by_hand={
            "building": lambda ours: _pks(ours.building.pk),
            "level": lambda ours: st.sampled_from(["", "1", "5", "9", "x"]),
            "owner": lambda ours: _pks(ours.contact.owner_id or 0),
        },
    ),
    "meetings:attend": Post(
        "olivia",
        lambda ours: [AttendForm()],
        {"contact": lambda ours: _pks(ours.contact.pk), "happened_at": happened_at},
    ),
    "meetings:walk_in": Post("olivia", lambda ours: [WalkInForm()], {"happened_at": happened_at}),
    "setup:new": Post(
        "ada",
        lambda ours: [
            BuildingForm(organization=ours.organization),
            UnitGeneratorForm(prefix="units"),
        ],
        {
            "units-floors": unit_range,
            "units-units": unit_range,
            "confirm": lambda ours: st.just("1"),
        },
    ),
    "setup:edit": Post(
        "ada",
        lambda ours: [BuildingForm(organization=ours.organization, instance=ours.building)],
    ),
    "setup:archive": Post("ada", by_hand={"archived": lambda ours: st.sampled_from(["1", "0"])}),
    "setup:units": Post(
        "ada",
        lambda ours: [UnitGeneratorForm()],
        {"floors": unit_range, "units": unit_range, "confirm": lambda ours: st.just("1")},
    ),
    "setup:owners": Post(
        "ada",
        lambda ours: [
            ReassignForm(
                organization=ours.organization,
                contacts=Contact.objects.filter(organization=ours.organization).order_by("pk"),
            )
        ],
    ),
    "setup:import": Post("ada", lambda ours: [ImportForm()]),
    "setup:organization": Post("ada", lambda ours: [OrganizationForm()]),
    "setup:import_confirm": Post("ada", lambda ours: [ConfirmImportForm()]),
    "setup:import_cancel": Post("ada", lambda ours: [ConfirmImportForm()]),
    "setup:export": Post("cora", lambda ours: [ExportForm(organization=ours.organization)]),
    "members:add": Post("ada", lambda ours: [AddMemberForm()]),
    "members:role": Post("ada", lambda ours: [RoleForm()]),
    "members:turf": Post("ada", lambda ours: [MemberTurfForm(organization=ours.organization)]),
    "members:deactivate": Post("ada"),
    "members:reactivate": Post("ada"),
    "members:password_link": Post("ada"),
    "members:invitation_resend": Post("ada"),
    "members:invitation_cancel": Post("ada"),
    # Whoever holds an invitation's link may open it, whichever the organization.
    "invitation": Post(
        ANONYMOUS,
        lambda ours: [NewAccountForm(email=ours.invitation.email)],
        url=lambda client, ours: reverse("invitation", args=[ours.invitation_token]),
    ),
    "members:two_factor_reset": Post("ada"),
    "two_factor_setup": Post("cora", lambda ours: [CodeForm()]),
    "two_factor_verify": Post("cora", lambda ours: [CodeForm()]),
    "two_factor_off": Post("cora"),
    "audit:erase": Post(
        "ada", by_hand={"confirm": lambda ours: st.sampled_from(["erase", "", "yes"])}
    ),
}


def url_of(name: str, ground: Ground) -> tuple[str, bool]:
    """The URL filled with the ground's ids, and whether it names any."""
    candidates: list[dict[str, object]] = [
        {},
        {"building_id": ground.building.pk, "unit_id": ground.unit.pk},
        {"uidb64": "MQ", "token": "set-password"},
        {"language": "fr"},
    ]
    candidates += [{key: value} for key, value in ground.url_ids().items()]
    candidates += [{key: value} for key, value in ground.url_keys().items()]
    for kwargs in candidates:
        try:
            return reverse(name, kwargs=kwargs), bool(kwargs)
        except NoReverseMatch:
            continue
    raise AssertionError(f"no ids fit {name}")


def foreign_ids(theirs: Ground) -> set[int]:
    """Every id of Westside's that a form might name."""
    users = User.objects.filter(membership__organization=theirs.organization)
    return {
        theirs.organization.pk,
        *theirs.url_ids().values(),
        *users.values_list("pk", flat=True),
    }


def client_for(persona: str) -> Client:
    client = Client()
    if persona != ANONYMOUS:
        client.force_login(User.objects.get(username=persona))
    return client


def test_every_url_that_takes_a_post_is_fuzzed(ours: Ground, ada: User) -> None:
    client = client_for("ada")
    takes_posts = [
        name
        for name in url_names()
        if name not in POSTS and client.post(url_of(name, ours)[0]).status_code != 405
    ]
    assert takes_posts == [], "add these to POSTS, with the forms they read"


@pytest.mark.parametrize("name", sorted(POSTS))
def test_no_post_answers_500_or_writes_outside_the_organization(
    name: str, ours: Ground, theirs: Ground
) -> None:
    post = POSTS[name]
    foreign = foreign_ids(theirs)
    fields = form_fields(post.forms(ours), foreign) | {
        key: make(ours) for key, make in post.by_hand.items()
    }
    before = rows_of(theirs.organization)
    assert crossings() == []
    ada, olivia = client_for("ada"), client_for("olivia")
    pages = [
        (ada, reverse("contacts:detail", args=[ours.contact.pk])),
        (ada, reverse("buildings:unit", args=[ours.building.pk, ours.unit.pk])),
        (ada, reverse("committee:dashboard")),
        (olivia, reverse("home")),
    ]

    @FUZZ
    @given(
        data=post_data(fields, foreign),
        raw=st.one_of(st.none(), st.none(), raw_body(fields)),
        headers=st.sampled_from(HEADERS),
        params=query(foreign),
        target=st.sampled_from(["ours", "ours", "theirs"]),
    )
    def fuzz(
        data: dict[str, Value],
        raw: bytes | None,
        headers: dict[str, str],
        params: dict[str, str | list[str]],
        target: str,
    ) -> None:
        with rolled_back():
            client = client_for(post.persona)
            if post.url is not None:
                url, names_theirs = post.url(client, ours), False
            else:
                url, has_ids = url_of(name, theirs if target == "theirs" else ours)
                names_theirs = has_ids and target == "theirs"
            if params:
                url += "?" + urlencode(params, doseq=True)
            if raw is None:
                response = client.post(url, data, **headers)  # type: ignore[arg-type]
            else:
                form = "application/x-www-form-urlencoded"
                response = client.post(url, raw, content_type=form, **headers)  # type: ignore[arg-type]

            assert response.status_code < 500
            if names_theirs:
                assert response.status_code == 404
            assert_organizations_kept_apart(theirs.organization, before)
            if response.status_code < 400:
                # What was accepted is read again later: by the pages that show it.
                for reader, page in pages:
                    assert reader.get(page).status_code < 500, page

    fuzz()


def get_personas(name: str) -> list[str]:
    """Ada sees every screen; Olivia's turf screens are filtered by what she may see."""
    if name.split(":")[0] in ("home", "offline_pages", "buildings", "contacts"):
        return ["ada", "olivia"]
    return ["ada"]


@pytest.mark.parametrize(
    ("name", "persona"),
    [(name, persona) for name in sorted(url_names()) for persona in get_personas(name)],
)
def test_no_query_string_answers_500(name: str, persona: str, ours: Ground, theirs: Ground) -> None:
    url = url_of(name, ours)[0]
    if client_for(persona).get(url).status_code == 405:
        pytest.skip("takes no GET")
    foreign = foreign_ids(theirs)

    @FUZZ
    @given(params=query(foreign), htmx=st.booleans())
    def fuzz(params: dict[str, str | list[str]], htmx: bool) -> None:
        with rolled_back():
            client = client_for(persona)
            headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
            response = client.get(url, params, **headers)  # type: ignore[arg-type]
            assert response.status_code < 500

    fuzz()
