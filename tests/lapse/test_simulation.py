"""Three months of an organization, hour by hour: the hourly job at :05, the owners' digests
at 7:00, the committee's list of contacts needing an owner at 7:15, its weekly digest on
Mondays at 7:30. Organizers act on what Today and their digest tell them; one goes quiet
for three weeks, one leaves, and in weeks 6 and 7 the whole committee slows down.

What must hold, the reason the app exists:
- every lapse of a supporter, active member or leader was named to its owner at least two
  days before it opened, by a digest or by Today, or at once where its cause was set less
  than two days ahead (an ask due tomorrow);
- every contact who came to need an owner is in the committee's next list;
- no lapse reopens for the same reason within a day of the conversation that ended it;
- the pace alarm leads the committee's digest after the slow weeks, and no other.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import defaultdict

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone

from contacts.actions import deactivate_member, record_conversation
from contacts.lapse.digests import send_committee_digests, send_orphan_digests, send_owner_digests
from contacts.lapse.due import OwnerDue, owner_due
from contacts.lapse.job import flag_lapsed
from contacts.lapse.rule import Rules, start_of_day, with_clocks
from contacts.models import Answer, Ask, Contact, LapseEpisode, LapseReason, Level
from organizing.models import Membership, Organization, Role
from tests.makers import make_building, make_contact, make_member, make_unit, new_key

MINUTE, HOUR, DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)
WEEK = dt.timedelta(weeks=1)
START = timezone.make_aware(dt.datetime(2026, 1, 5))  # a Monday
WEEKS = 13
QUIET = range(3 * 7, 6 * 7)  # days Omar records nothing
LEAVES = 8 * 7  # the day Liam is deactivated, at 6:00
SLOW = range(5 * 7, 7 * 7)  # weeks 6 and 7: everyone works one day a week


@pytest.fixture
def organization(org: Organization) -> dict[str, User]:
    people = {name: make_member(org, name) for name in ("olivia", "omar", "liam")}
    people["cora"] = make_member(org, "cora", Role.COMMITTEE)
    people["ada"] = make_member(org, "ada", Role.ADMIN)
    building = make_building(org, organizers=(people["olivia"], people["omar"], people["liam"]))
    rng = random.Random(15)
    with time_machine.travel(START - 30 * DAY, tick=False):
        for n in range(36):
            owner = people[("olivia", "omar", "liam")[n % 3]]
            contact = make_contact(
                make_unit(building, f"{n // 8 + 1}{n % 8 + 1:02d}"),
                owner=owner,
                name=f"Resident {n:02d}",
                level=Level.values[n % 5],
            )
            talked = START - rng.randrange(1, 7) * DAY
            Contact.objects.filter(pk=contact.pk).update(last_conversation_at=talked)
    return people


def test_three_months_of_an_organization(organization: dict[str, User]) -> None:
    rng = random.Random(1917)
    people = organization
    organizers = ["olivia", "omar", "liam"]
    rules = Rules.of(people["olivia"].membership.organization)
    # A lapse is known by its contact and the moment it opens (Reading.lapses_at): when the
    # owner was first told of it as due soon, on Today or in a digest; when a digest first
    # named it; and, for an ask set less than two days ahead of it, when it was set.
    Key = tuple[int, dt.datetime | None]
    told: dict[Key, dt.datetime] = {}
    in_digest: dict[Key, dt.datetime] = {}
    short_notice: dict[Key, dt.datetime] = {}
    orphan_lists: list[tuple[dt.datetime, set[str]]] = []
    orphaned_at: dict[int, dt.datetime] = {}
    alarms: list[dt.date] = []
    lead_times: dict[str, list[float]] = defaultdict(list)

    def tell(due: OwnerDue, now: dt.datetime, *, digest: bool = False) -> None:
        for line in due.due_soon:
            key = (line.contact.pk, line.reading.lapses_at)
            told.setdefault(key, now)
            if digest:
                in_digest.setdefault(key, now)
        for line in due.lapsed if digest else ():
            in_digest.setdefault((line.contact.pk, line.reading.lapses_at), now)

    def work(name: str, now: dt.datetime, at_most: int | None) -> None:
        """The organizer opens Today and talks to those due soon or lapsed, three in four;
        in a slow week, to two at most."""
        membership = people[name].membership
        due = owner_due(membership, now)
        tell(due, now)
        talked = 0
        for line in [*due.due_soon, *due.lapsed]:
            if rng.random() > 0.75 or (at_most is not None and talked >= at_most):
                continue
            talked += 1
            ask, due_on = "", None
            if line.contact.level >= Level.SUPPORTER and rng.random() < 0.3:
                due_on = timezone.localdate(now) + rng.choice([1, 4, 9]) * DAY
                ask = "Come on Thursday?"
            record_conversation(
                actor=membership,
                contact=Contact.objects.get(pk=line.contact.pk),
                idempotency_key=new_key(),
                note="Talked",
                ask=ask,
                ask_due_on=due_on,
                happened_at=now,
            )
            # Back on Today, straight after: a short-notice ask is on it at once.
            after = owner_due(membership, now)
            tell(after, now)
            if due_on is not None:
                lapses = start_of_day(due_on + DAY)
                if lapses - now < 2 * DAY:
                    key = (line.contact.pk, lapses)
                    assert key in {(d.contact.pk, d.reading.lapses_at) for d in after.due_soon}
                    short_notice.setdefault(key, now)
        # Asks come back answered, some of them, the next time.
        # In a fixed order: the seeded draws must fall on the same asks whatever the plan.
        asks = Ask.objects.filter(contact__owner=people[name], answer=Answer.PENDING)
        for open_ask in asks.order_by("pk"):
            if rng.random() < 0.2:
                open_ask.record_answer(Answer.YES)

    def orphaned_now(now: dt.datetime) -> None:
        for pk in Contact.objects.filter(orphaned=True).values_list("pk", flat=True):
            orphaned_at.setdefault(pk, now)

    def morning(now: dt.datetime) -> None:
        sent_before = len(mail.outbox)
        send_owner_digests(now=now)
        for message in mail.outbox[sent_before:]:
            membership = Membership.objects.get(user__email=message.to[0])
            tell(owner_due(membership, now), now, digest=True)
        with time_machine.travel(now + 15 * MINUTE, tick=False):
            sent_before = len(mail.outbox)
            send_orphan_digests()
            for message in mail.outbox[sent_before:]:
                if message.to == [people["cora"].email]:
                    lines = str(message.body).split("\n")
                    names = {line[2:].split(",")[0] for line in lines if line.startswith("* ")}
                    orphan_lists.append((now, names))
        if timezone.localtime(now).weekday() == 0:
            with time_machine.travel(now + 30 * MINUTE, tick=False):
                sent_before = len(mail.outbox)
                send_committee_digests()
                for message in mail.outbox[sent_before:]:
                    if message.to == [people["cora"].email] and "fell" in message.subject:
                        alarms.append(timezone.localdate(now))

    def check_lapses_opened(since: dt.datetime, job_now: dt.datetime) -> None:
        """Was the owner told in time of each lapse of a supporter or higher opened now?"""
        opened = with_clocks(
            Contact.objects.filter(lapse_started_at__gt=since, level__gte=Level.SUPPORTER)
        ).select_related("owner__membership")
        for contact in opened:
            assert contact.owner is not None
            if not contact.owner.membership.active:
                continue  # The committee's list of contacts needing an owner has them.
            moment = rules.read(contact, job_now).lapses_at
            assert moment is not None
            key = (contact.pk, moment)
            first_told = told.get(key)
            assert first_told is not None, f"{contact} lapsed at {moment} without a warning"
            if key in short_notice:
                set_at = short_notice[key]
                assert first_told <= set_at, f"{contact}: not on Today when the ask was set"
                next_digest = in_digest.get(key)
                assert next_digest or moment - set_at < DAY, f"{contact}: in no digest"
                continue
            lead = moment - first_told
            assert lead >= 2 * DAY, f"{contact}: told only {lead} before it lapsed at {moment}"
            lead_times[contact.lapse_reason].append(lead / DAY)

    for hour in range(WEEKS * 7 * 24):
        now = START + hour * HOUR
        local = timezone.localtime(now)
        day = (local.date() - START.date()).days
        with time_machine.travel(now, tick=False):
            if local.hour == 6 and day == LEAVES:
                deactivate_member(
                    actor=people["ada"].membership, membership=people["liam"].membership
                )
                orphaned_now(now)
            if local.hour == 7:
                morning(now)
            if local.hour == 17:
                for name in organizers:
                    if not Membership.objects.get(user=people[name]).active:
                        continue
                    if name == "omar" and day in QUIET:
                        continue
                    if day in SLOW and local.weekday() != 2:
                        continue
                    work(name, now, at_most=2 if day in SLOW else None)
            job_now = now + 5 * MINUTE
            flag_lapsed(now=job_now)
            orphaned_now(now)
            # Nobody was warned before the simulation began.
            if now >= START + 3 * DAY:
                check_lapses_opened(now, job_now)

    # Every contact who came to need an owner was in the committee's next list.
    for pk, since in orphaned_at.items():
        name = Contact.objects.get(pk=pk).name
        following = [names for sent, names in orphan_lists if sent >= since]
        assert following and name in following[0], f"{name} needs an owner since {since}"

    # No lapse reopened for the same reason within a day of the conversation that ended it.
    for episode in LapseEpisode.objects.exclude(resolved_by=None).select_related("resolved_by"):
        ended = episode.resolved_by.happened_at  # type: ignore[union-attr]
        within_a_day = {"gt": ended, "lt": ended + DAY}
        assert not LapseEpisode.objects.filter(
            contact=episode.contact_id,
            reason=episode.reason,
            started_at__range=(ended, ended + DAY),
        ).exists(), within_a_day
        assert not Contact.objects.filter(
            pk=episode.contact_id,
            lapse_reason=episode.reason,
            lapse_started_at__range=(ended, ended + DAY),
        ).exists()

    # The alarm leads the committee's digest the Mondays after the slow weeks, no other.
    assert alarms == [START.date() + (week + 1) * WEEK for week in (5, 6)]

    assert lead_times, "nothing lapsed in three months: the simulation tests nothing"
    print("\nLead times in days, by reason: minimum, median (lapses)")
    for reason, leads in sorted(lead_times.items()):
        label = LapseReason(reason).label
        print(f"  {label}: {min(leads):.2f}, {statistics.median(leads):.2f} ({len(leads)})")
