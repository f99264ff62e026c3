"""The people every test talks about.

Olivia organizes Riverside Towers and owns Maria, who lives in 1204. Omar is a second
organizer whose turf is Maple Court. Cora sits on the committee and Ada is the admin; both
see the whole organization. Xavier is an admin of another organization: he must be
refused everything of ours, and gets a 404 rather than a hint that it exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone, translation
from time_machine import TimeMachineFixture

from buildings.models import Building, Unit
from contacts.models import Contact
from organizing.celery import app
from organizing.models import Organization, Role
from tests.makers import make_building, make_contact, make_member, make_unit


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Each persona has a password; the real hasher is slow on purpose, tests need not be."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # what seed_demo made earlier
    ]


@pytest.fixture(autouse=True)
def english_and_the_default_clock() -> Iterator[None]:
    """Each test starts, and leaves the thread, in English on the default time zone: a test
    that renders for a French member or activates an organization's zone sets its own."""
    translation.activate(settings.LANGUAGE_CODE)
    timezone.deactivate()
    yield
    translation.activate(settings.LANGUAGE_CODE)
    timezone.deactivate()


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Rate limits count in the cache, which is Redis under `make test`: each test starts
    with none spent."""
    cache.clear()


@pytest.fixture(autouse=True)
def tasks_run_here() -> Iterator[None]:
    """What a request hands the worker (a password link) runs in the test itself, so its
    email is in mail.outbox. The tests of the worker and of a broker that is down turn this
    off with `tasks_go_to_the_broker`."""
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def tasks_go_to_the_broker() -> None:
    app.conf.task_always_eager = False


@pytest.fixture
def clock(time_machine: TimeMachineFixture) -> dt.datetime:
    """Noon, local time, on a fixed Wednesday, with the clock running from there. A test
    that builds its data from today (an ask due yesterday) and the job that compares it
    with today then agree on the date, even when the run crosses local midnight: noon is
    twelve hours from either, and a change of the clocks moves it by one at most."""
    noon = timezone.make_aware(dt.datetime(2031, 6, 11, 12))
    time_machine.move_to(noon, tick=True)
    return noon


@pytest.fixture
def org(db: None) -> Organization:
    return Organization.objects.create(name="Eastside Tenants", slug="eastside")


@pytest.fixture
def other_org(db: None) -> Organization:
    return Organization.objects.create(name="Westside Tenants", slug="westside")


@pytest.fixture
def olivia(org: Organization) -> User:
    return make_member(org, "olivia", Role.ORGANIZER)


@pytest.fixture
def omar(org: Organization) -> User:
    return make_member(org, "omar", Role.ORGANIZER)


@pytest.fixture
def cora(org: Organization) -> User:
    return make_member(org, "cora", Role.COMMITTEE)


@pytest.fixture
def ada(org: Organization) -> User:
    return make_member(org, "ada", Role.ADMIN)


@pytest.fixture
def xavier(other_org: Organization) -> User:
    return make_member(other_org, "xavier", Role.ADMIN)


@pytest.fixture
def riverside(org: Organization, olivia: User) -> Building:
    return make_building(org, name="Riverside Towers", organizers=(olivia,))


@pytest.fixture
def maple(org: Organization, omar: User) -> Building:
    return make_building(org, name="Maple Court", floors=3, organizers=(omar,))


@pytest.fixture
def unit_1204(riverside: Building) -> Unit:
    return make_unit(riverside, "1204")


@pytest.fixture
def maria(unit_1204: Unit, olivia: User) -> Contact:
    return make_contact(unit_1204, owner=olivia, name="Maria Lopez")


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[..., Any]:
    """Call it around what sends email after its transaction: the callbacks run at once."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
