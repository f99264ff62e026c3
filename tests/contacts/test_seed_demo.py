"""seed_demo builds the Eastside Tenants Union demo once, every visit through record_visit,
with contacts in each lapse state and Tamara, the leader nobody has talked to for a month: a
Toronto union whose members work in English and French, among tenants who speak the
city's languages."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db.models import Max, Q
from django.utils import timezone

from buildings.models import Building, Turf, Unit
from contacts.languages import LANGUAGES
from contacts.management.commands.seed_demo import delete_demo
from contacts.models import (
    DEFAULT_THRESHOLD_DAYS,
    Answer,
    Ask,
    Contact,
    FollowUp,
    LapseEpisode,
    LapseSummary,
    LapseThreshold,
    Level,
    LevelChange,
    Meeting,
    Outcome,
    Status,
    Visit,
)
from organizing.models import Membership, Organization, Role
from tests.makers import misplaced_contacts

DAY = dt.timedelta(days=1)
MODELS = (
    Organization,
    Membership,
    User,
    Building,
    Turf,
    Unit,
    Contact,
    LevelChange,
    Visit,
    Ask,
    FollowUp,
    LapseThreshold,
)


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def lapse_state(contact: Contact, now: dt.datetime) -> str:
    """By the last conversation alone, against the default thresholds."""
    if contact.last_conversation_at is None:
        return "never talked to"
    threshold = DEFAULT_THRESHOLD_DAYS[Level(contact.level)] * DAY
    if contact.last_conversation_at < now - threshold:
        return "lapsed"
    if contact.last_conversation_at < now - threshold + 2 * DAY:
        return "due soon"
    return "ok"


@pytest.fixture(scope="module")
def seeded(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """Seeded once for the module, as seeding takes seconds; each test still runs in a
    transaction that is rolled back, and the demo is deleted when the module is done so
    no other test sees it. The whole module runs on the clock `clock` gives one test,
    from noon on a fixed day, so what was seeded for the coming days is still to come in
    the last test even when the run crosses midnight."""
    with time_machine.travel(timezone.make_aware(dt.datetime(2031, 6, 11, 12)), tick=True):
        with django_db_blocker.unblock():
            output = seed()
        yield output
        with django_db_blocker.unblock():
            delete_demo()


@pytest.fixture
def demo(seeded: str, db: None) -> Organization:
    return Organization.objects.get(slug="eastside")


def test_it_creates_the_demo_organization_once(demo: Organization) -> None:
    before = counts()

    output = seed()

    assert "already seeded" in output
    assert counts() == before
    assert Organization.objects.filter(slug="eastside").count() == 1
    assert demo.name == "Eastside Tenants Union"


def test_it_prints_the_url_and_the_logins(seeded: str) -> None:
    assert "Seeded Eastside Tenants Union" in seeded
    assert "http://127.0.0.1:8000/" in seeded
    for username, role in [
        ("maria", "Organizer"),
        ("kwame", "Organizer"),
        ("li", "Organizer"),
        ("dana", "Committee"),
        ("admin", "Admin"),
    ]:
        assert re.search(rf"^\s*{username}\s+{role}\s+doorstep-demo$", seeded, re.MULTILINE)


def test_it_prints_the_logins_again_when_already_seeded(demo: Organization) -> None:
    output = seed()

    assert "http://127.0.0.1:8000/" in output
    assert re.search(r"^\s*admin\s+Admin\s+doorstep-demo$", output, re.MULTILINE)


def test_the_logins_have_their_roles_and_the_demo_password(demo: Organization) -> None:
    roles = dict(demo.memberships.values_list("user__username", "role"))
    assert roles == {
        "maria": Role.ORGANIZER,
        "kwame": Role.ORGANIZER,
        "li": Role.ORGANIZER,
        "dana": Role.COMMITTEE,
        "admin": Role.ADMIN,
    }
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert admin.check_password("doorstep-demo")
    maria = User.objects.get(username="maria")
    assert not maria.is_staff
    assert maria.check_password("doorstep-demo")


def test_the_organizers_own_contacts_only_on_their_turf(demo: Organization) -> None:
    turf = set(Turf.objects.values_list("organizer__username", "building__name"))
    assert turf == {
        ("maria", "Thorncliffe Towers"),
        ("kwame", "Thorncliffe Towers"),
        ("kwame", "Wellesley Court"),
        ("li", "Grenoble House"),
    }
    owned = Contact.objects.filter(owner__isnull=False, unit__isnull=False)
    assert owned.count() > 40
    assert set(owned.values_list("owner__username", "unit__building__name")) <= turf


def test_thorncliffe_towers_has_12_floors_of_8_units(demo: Organization) -> None:
    labels = set(
        Unit.objects.filter(building__name="Thorncliffe Towers").values_list("floor", "label")
    )

    assert len(labels) == 96
    assert labels == {
        (floor, f"{floor}{door:02d}") for floor in range(1, 13) for door in range(1, 9)
    }
    assert Unit.objects.filter(building__name="Wellesley Court").count() == 12
    assert Unit.objects.filter(building__name="Grenoble House").count() == 8
    assert Unit.objects.filter(vacant=True).exists()
    assert Unit.objects.filter(do_not_knock=True).exists()
    assert not Visit.objects.filter(Q(unit__vacant=True) | Q(unit__do_not_knock=True)).exists()


def test_about_half_the_doors_have_known_residents(demo: Organization) -> None:
    units = Unit.objects.filter(building__organization=demo)
    with_residents = units.filter(residents__isnull=False).distinct().count()

    assert 0.4 * units.count() < with_residents < 0.6 * units.count()


def test_tamara_is_a_leader_who_said_yes_and_has_not_been_talked_to_for_30_days(
    demo: Organization,
) -> None:
    tamara = Contact.objects.select_related("unit__building", "owner").get(name="Tamara Okafor")
    assert tamara.unit and tamara.owner and tamara.last_conversation_at

    assert tamara.level == Level.LEADER
    assert (tamara.unit.building.name, tamara.unit.label) == ("Thorncliffe Towers", "1204")
    assert tamara.owner.username == "maria"
    ask = tamara.asks.get(question="Floor captain for the 12th floor?")
    assert ask.answer == Answer.YES
    assert abs(timezone.now() - tamara.last_conversation_at - 30 * DAY) < dt.timedelta(minutes=5)
    since = tamara.visits.filter(happened_at__gt=tamara.last_conversation_at)
    assert list(since.values_list("outcome", flat=True)) == [Outcome.NOT_HOME] * 2
    assert tamara.attempts_since_conversation == 2
    promotion = tamara.level_changes.latest("changed_at")
    assert (promotion.to_level, promotion.changed_at) == (Level.LEADER, ask.asked_at)
    assert lapse_state(tamara, timezone.now()) == "lapsed"


def test_it_has_lapsed_and_due_soon_contacts_by_the_thresholds(demo: Organization) -> None:
    now = timezone.now()
    active = Contact.objects.filter(organization=demo, status=Status.ACTIVE)
    states = [(contact.level, lapse_state(contact, now)) for contact in active]

    assert sum(state == "lapsed" for _, state in states) >= 5
    assert sum(state == "due soon" for _, state in states) >= 5
    assert sum(state == "ok" for _, state in states) >= 10
    assert (Level.LEADER, "due soon") in states
    assert (Level.LEADER, "ok") in states


def test_it_has_a_moved_and_a_do_not_contact_resident(demo: Organization) -> None:
    moved = Contact.objects.get(status=Status.MOVED)
    assert moved.unit is None
    assert moved.visits.latest("happened_at").outcome == Outcome.MOVED_OUT
    assert Contact.objects.filter(status=Status.DO_NOT_CONTACT).count() == 1


def test_every_visit_is_of_the_organization_and_keyed_in_time_order(demo: Organization) -> None:
    visits = Visit.objects.all()

    assert visits.count() > 500
    assert not visits.exclude(organization=demo).exists()
    assert not visits.filter(contact__isnull=False).exclude(contact__organization=demo).exists()
    assert not visits.filter(unit__isnull=False).exclude(unit__building__organization=demo).exists()
    # A leader knocking along is talked to under a key record_visit makes for the day.
    in_key_order = list(
        visits.filter(idempotency_key__startswith="seed-").order_by("idempotency_key")
    )
    assert in_key_order[0].idempotency_key == "seed-000001"
    times = [visit.happened_at for visit in in_key_order]
    assert times == sorted(times)
    assert timezone.now() - 181 * DAY < times[0] < times[-1] < timezone.now()


def test_the_denormalised_clocks_agree_with_the_visits(demo: Organization) -> None:
    contacts = Contact.objects.annotate(
        talked=Max("visits__happened_at", filter=Q(visits__outcome=Outcome.CONVERSATION)),
        tried=Max("visits__happened_at"),
    )
    assert contacts.count() > 50
    for contact in contacts:
        assert contact.last_conversation_at == contact.talked, contact.name
        assert contact.last_attempt_at == contact.tried, contact.name
        since = contact.visits.exclude(outcome=Outcome.CONVERSATION)
        if contact.talked:
            since = since.filter(happened_at__gt=contact.talked)
        assert contact.attempts_since_conversation == since.count(), contact.name

    units = Unit.objects.annotate(
        talked=Max("visits__happened_at", filter=Q(visits__outcome=Outcome.CONVERSATION)),
        tried=Max("visits__happened_at"),
    )
    for unit in units:
        assert (unit.last_conversation_at, unit.last_attempt_at) == (unit.talked, unit.tried)


def test_every_resident_is_in_their_units_building(demo: Organization) -> None:
    residents = Contact.objects.filter(organization=demo)
    assert residents.filter(unit__isnull=False).count() > 50

    assert misplaced_contacts() == []


def test_each_level_history_climbs_to_the_contacts_level(demo: Organization) -> None:
    now = timezone.now()
    assert Contact.objects.filter(level=Level.LEADER).count() >= 3
    for contact in Contact.objects.filter(level__gt=Level.NEW):
        changes = list(contact.level_changes.order_by("changed_at"))
        assert changes, contact.name
        assert changes[0].from_level == Level.NEW
        assert changes[-1].to_level == contact.level
        for before, after in itertools.pairwise(changes):
            assert before.to_level == after.from_level
        for change in changes:
            assert change.changed_at < now
            assert contact.visits.filter(happened_at=change.changed_at).exists()


def test_asks_and_follow_ups_span_past_and_coming_days(demo: Organization) -> None:
    today = timezone.localdate()
    answers = set(Ask.objects.values_list("answer", flat=True))
    assert answers == {Answer.PENDING, Answer.YES, Answer.NO, Answer.MAYBE}
    assert not Ask.objects.filter(answer=Answer.PENDING, answered_at__isnull=False).exists()
    assert FollowUp.objects.open().filter(planned_for__gt=today).count() >= 3
    assert FollowUp.objects.filter(done_by__isnull=False).exists()
    assert FollowUp.objects.filter(cancelled_at__isnull=False).exists()
    # A follow-up is done by the first conversation on or after its date: none is left open
    # behind one.
    for follow_up in FollowUp.objects.open():
        assert not follow_up.contact.visits.filter(
            outcome=Outcome.CONVERSATION, happened_at__date__gte=follow_up.planned_for
        ).exists()


def test_the_residents_speak_torontos_languages_by_known_codes(demo: Organization) -> None:
    languages = set(Contact.objects.values_list("language", flat=True)) - {""}

    assert languages <= {code for code, _ in LANGUAGES}
    assert languages == {"ta", "so", "tl", "yue", "pt", "es", "fa", "am", "ur", "ar", "en", "fr"}
    assert Contact.objects.filter(name__contains=" in ").exists()
    # Cantonese names are written family name first, as in Hong Kong.
    cantonese = Contact.objects.filter(language="yue").exclude(name__contains=" in ")
    assert cantonese.exists()
    assert all(
        name.split()[0] in {"Chan", "Wong", "Leung", "Cheung", "Lau", "Ng"}
        for name in cantonese.values_list("name", flat=True)
    )


def test_the_buildings_are_in_toronto_with_toronto_postal_codes(demo: Organization) -> None:
    buildings = Building.objects.filter(organization=demo).order_by("name")

    assert [(b.name, b.street_address) for b in buildings] == [
        ("Grenoble House", "40 Grenoble Drive"),
        ("Thorncliffe Towers", "71 Thorncliffe Park Drive"),
        ("Wellesley Court", "285 Wellesley Street East"),
    ]
    for building in buildings:
        assert building.city == "Toronto, ON"
        # Letter digit letter, space, digit letter digit; Toronto's begin with M.
        assert re.fullmatch(r"M\d[A-Z] \d[A-Z]\d", building.postal_code), building.postal_code
    phones = Contact.objects.exclude(phone="").values_list("phone", flat=True)
    assert {phone[:5] for phone in phones} <= {"(416)", "(647)", "(437)"}


def test_the_union_works_in_english_and_french_on_torontos_clock(demo: Organization) -> None:
    assert demo.time_zone == "America/Toronto"
    assert demo.languages == ["en", "fr"]
    languages = dict(demo.memberships.values_list("user__username", "language"))
    assert languages == {"maria": "en", "kwame": "en", "li": "en", "dana": "fr", "admin": "en"}
    # Some of what organizers wrote down is in French, to French speakers.
    assert Building.objects.filter(organization=demo, access_notes__contains="interphone").exists()
    french_notes = Visit.objects.filter(
        organization=demo,
        note__in=[
            "Le chauffage ne marche plus depuis dimanche.",
            "Veut la convocation à la réunion en français.",
            "A reçu un avis N4 pour un mois de retard; inquiète.",
            "A signé la pétition pour les réparations.",
        ],
    )
    assert french_notes.exists()
    assert not french_notes.exclude(contact__language="fr").exists()


def test_the_meetings_are_at_toronto_evening_hours(demo: Organization) -> None:
    toronto = zoneinfo.ZoneInfo("America/Toronto")
    starts = {
        meeting.title: timezone.localtime(meeting.starts_at, toronto).time()
        for meeting in Meeting.objects.filter(organization=demo)
    }

    assert starts == {
        "Thorncliffe repairs meeting": dt.time(19, 0),
        "Vote sur la grève des loyers / Rent strike vote": dt.time(18, 30),
    }


def test_reset_seeds_the_same_demo_again(demo: Organization) -> None:
    before = counts()
    residents = sorted(Contact.objects.values_list("name", "level", "unit__label"))

    output = seed("--reset")

    assert "Seeded Eastside Tenants Union" in output
    assert counts() == before
    assert sorted(Contact.objects.values_list("name", "level", "unit__label")) == residents
    assert Organization.objects.get(slug="eastside").pk != demo.pk


def test_reset_never_deletes_a_user_of_another_organization(demo: Organization) -> None:
    westside = Organization.objects.create(name="Westside Tenants", slug="westside")
    Membership.objects.filter(user__username="kwame").update(organization=westside)

    with pytest.raises(CommandError, match="kwame"):
        seed("--reset")

    assert Membership.objects.get(user__username="kwame").organization == westside


def test_the_dashboards_weekly_rate_has_the_weeks_behind_it(demo: Organization) -> None:
    """The seed plays the hourly job through the history: the chart climbs as the
    committee slows down, rather than sitting at 0 % until the last week."""
    summary = LapseSummary.objects.get(organization=demo)
    rates = [rate for _, rate in summary.weeks]
    assert len(rates) == 12
    assert sum(rate > 0 for rate in rates[:-1]) >= 8
    assert rates[-2] > rates[0]
    assert LapseEpisode.objects.filter(organization=demo).exists()


def test_it_has_a_poor_meeting_with_its_no_shows_followed_up_and_a_coming_one(
    demo: Organization,
) -> None:
    past = Meeting.objects.get(title="Thorncliffe repairs meeting")
    coming = Meeting.objects.get(title="Vote sur la grève des loyers / Rent strike vote")

    turnout = past.turnout().total
    assert (turnout.invited, turnout.said_yes, turnout.came) == (16, 8, 3)
    assert past.closed_at is not None
    missed = FollowUp.objects.filter(purpose="missed the meeting")
    assert missed.count() == 5
    assert not missed.exclude(contact__asks__meeting=past).exists()
    assert Meeting.objects.poor_turnout(demo, timezone.now() - 14 * DAY) == [past]
    assert coming.starts_at > timezone.now()
    assert coming.invitations.count() == 20
    assert coming.invitations.filter(answer=Answer.PENDING).count() == 9


def test_a_leader_knocked_doors_with_her_organizer_and_it_counts_as_talking_with_her(
    demo: Organization,
) -> None:
    knocks = Visit.objects.filter(companion_contact__isnull=False)
    leader = Contact.objects.get(knocks_joined__in=knocks[:1])

    assert knocks.count() == 4
    assert leader.level == Level.LEADER
    assert leader.name != "Tamara Okafor"
    talked_that_day = leader.visits.filter(
        idempotency_key__startswith="with-", outcome=Outcome.CONVERSATION
    )
    assert talked_that_day.count() == 1
