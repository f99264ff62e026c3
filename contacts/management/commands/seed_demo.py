"""Seed the demo organization, Eastside Tenants Union, to try Doorstep out: three buildings
in Toronto's east end, residents who speak as the city does, members who work in English and
in French.

`make run` calls this after migrating. It is idempotent: when the organization exists it
changes nothing and prints the logins again; `--reset` deletes the demo and seeds it anew.
Every run draws from the same random seed, so it builds the same demo, placed relative to
today so that the lapse dashboard always has something to show.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from buildings.models import Building, Turf, Unit
from contacts.actions import close_attendance, mark_present, record_visit
from contacts.lapse.job import flag_lapsed
from contacts.lapse.pace import take_paces
from contacts.lapse.summary import week_ends
from contacts.models import (
    DEFAULT_THRESHOLD_DAYS,
    Answer,
    Ask,
    Channel,
    Contact,
    FollowUp,
    Level,
    LevelChange,
    Meeting,
    Outcome,
    Visit,
    set_buildings,
)
from organizing.i18n import local_to
from organizing.models import Membership, Organization, Role

SLUG = "eastside"
ORGANIZATION_NAME = "Eastside Tenants Union"
# Toronto's east end: Thorncliffe Park, St. James Town, Flemingdon Park.
TIME_ZONE = "America/Toronto"
CITY = "Toronto, ON"
WORKING_LANGUAGES = ["en", "fr"]
PASSWORD = "doorstep-demo"
URL = "http://127.0.0.1:8000/"
SEED = 1204
HISTORY_DAYS = 180


@dataclass(frozen=True)
class Login:
    username: str
    first_name: str
    last_name: str
    role: Role
    language: str  # the interface language the member reads


LOGINS = (
    Login("maria", "Maria", "Santos", Role.ORGANIZER, "en"),
    Login("kwame", "Kwame", "Asante", Role.ORGANIZER, "en"),
    Login("li", "Li", "Na", Role.ORGANIZER, "en"),
    Login("dana", "Dana", "Bélanger", Role.COMMITTEE, "fr"),
    Login("admin", "Sam", "Okoro", Role.ADMIN, "en"),
)
USERNAMES = [login.username for login in LOGINS]


@dataclass(frozen=True)
class BuildingSpec:
    name: str
    street_address: str
    postal_code: str
    landlord: str
    access_notes: str
    notes: str
    floors: int
    doors_per_floor: int
    lettered: bool  # "1A".."3D" in the walk-ups, "101".."1208" in the tower
    organizers: tuple[str, ...]
    owner_weights: tuple[tuple[str | None, int], ...]  # None: nobody owns the contact yet
    vacant: tuple[str, ...]
    do_not_knock: tuple[str, ...]

    def labels(self, floor: int) -> list[str]:
        if self.lettered:
            return [f"{floor}{letter}" for letter in "ABCDEFGH"[: self.doors_per_floor]]
        return [f"{floor}{door:02d}" for door in range(1, self.doors_per_floor + 1)]


THORNCLIFFE = BuildingSpec(
    name="Thorncliffe Towers",
    street_address="71 Thorncliffe Park Drive",
    postal_code="M4H 1L3",
    landlord="Northgate Residential REIT",
    access_notes=(
        "Enterphone code 4471. If the lobby door is locked, the side door by the laundry room "
        "is usually propped open. Elevator B is often out: take the north stairwell."
    ),
    notes="No heat on the upper floors most of last winter; the 12th floor had no hot water "
    "for two weeks. The landlord has applied to the LTB for an above-guideline increase. "
    "The super lives in 702.",
    floors=12,
    doors_per_floor=8,
    lettered=False,
    organizers=("maria", "kwame"),
    owner_weights=(("maria", 60), ("kwame", 35), (None, 5)),
    vacant=("208", "507", "1103"),
    do_not_knock=("702",),
)
WELLESLEY = BuildingSpec(
    name="Wellesley Court",
    street_address="285 Wellesley Street East",
    postal_code="M4X 1G7",
    landlord="Bloor-Parliament Holdings Inc.",
    access_notes="Pas d'interphone : frapper au 1B pour se faire ouvrir, ou passer le samedi "
    "matin quand la porte d'entrée reste ouverte pour les livraisons.",
    notes="Three-storey walk-up at the edge of St. James Town. Mould in the bathrooms of the "
    "C line; RentSafeTO was called twice.",
    floors=3,
    doors_per_floor=4,
    lettered=True,
    organizers=("kwame",),
    owner_weights=(("kwame", 90), (None, 10)),
    vacant=("3C",),
    do_not_knock=("1A",),
)
FLEMINGDON = BuildingSpec(
    name="Grenoble House",
    street_address="40 Grenoble Drive",
    postal_code="M3C 1C6",
    landlord="Don Mills Realty Partners",
    access_notes="Code 19 à l'interphone. The back door on the parking lot side is locked "
    "after 9 pm.",
    notes="Four-storey walk-up in Flemingdon Park; N12 notices to two tenants this year, "
    "both for 'a family member moving in'.",
    floors=4,
    doors_per_floor=2,
    lettered=True,
    organizers=("li",),
    owner_weights=(("li", 90), (None, 10)),
    vacant=("4B",),
    do_not_knock=(),
)
BUILDINGS = (THORNCLIFFE, WELLESLEY, FLEMINGDON)
TAMARAS_DOOR = (THORNCLIFFE, "1204")

# Given names, then family names. Cantonese names are written family name first, as in
# Hong Kong; Tamil and Amharic family names are often a father's given name.
NAMES: dict[str, tuple[list[str], list[str]]] = {
    language: (given.split(", "), family.split(", "))
    for language, given, family in [
        (
            "en",
            "Denise, Marcus, Keisha, Tom, Patricia, Andre, Gloria, Trevor, Brenda, Curtis, "
            "Shanice, Kofi, Linda, Precious, Monique, Walter",
            "Walker, Campbell, Brown, O'Brien, Grant, Williams, Clarke, Thompson, Mensah, "
            "MacDonald, Adeyemi, Robinson, Coleman",
        ),
        (
            "fr",
            "Josée, Marc-André, Nadège, Jean-Pierre, Émilie, Fabrice, Mireille, Aïcha",
            "Tremblay, Gagnon, Pierre, Lavoie, Mbuyi, Diallo, Côté",
        ),
        (
            "ta",
            "Tharshini, Kajan, Nirosha, Sivakumar, Thushanth, Vanitha, Kumaran, Abirami, "
            "Pirakash, Mathivathani",
            "Sivapalan, Kanagaratnam, Thurairajah, Selvarajah, Balasubramaniam, Nadarajah",
        ),
        (
            "so",
            "Hodan, Abdirahman, Fadumo, Mohamed, Ifrah, Abdikarim, Sahra, Yusuf, Hawa, Liban",
            "Farah, Warsame, Abdi, Hassan, Jama, Osman, Mohamud",
        ),
        (
            "tl",
            "Maricel, Jun, Rowena, Rodel, Jocelyn, Arnel, Liza, Ernesto, Analyn, Reynaldo",
            "Reyes, dela Cruz, Bautista, Villanueva, Mendoza, Aquino, Manalo",
        ),
        (
            "yue",
            "Ka-wai, Siu-ming, Wing-yan, Kwok-keung, Mei-ling, Chi-hung, Suk-fan",
            "Chan, Wong, Leung, Cheung, Lau, Ng",
        ),
        (
            "pt",
            "Manuel, Fátima, José, Conceição, Paulo, Lurdes, Carlos, Filomena, Duarte",
            "Medeiros, Furtado, Pacheco, Sousa, Rebelo, Cabral, Melo",
        ),
        (
            "es",
            "Rosa, Luis, Carmen, Héctor, Yesenia, Jorge, Ana Lucía, Miguel, Marisol, Wilfredo",
            "Martínez, Hernández, Díaz, Ramírez, Torres, Castillo, Vega, Guzmán",
        ),
        (
            "fa",
            "Maryam, Reza, Shirin, Ali, Nasrin, Behrouz, Parisa, Kourosh, Leila, Hamid",
            "Ahmadi, Hosseini, Rahimi, Karimi, Moradi, Jafari",
        ),
        (
            "am",
            "Meron, Dawit, Tigist, Yohannes, Selamawit, Bereket, Hiwot, Abebe",
            "Tesfaye, Haile, Alemu, Bekele, Tadesse, Girma",
        ),
        (
            "ur",
            "Ayesha, Imran, Sadia, Faisal, Nadia, Tariq, Rubina, Usman",
            "Khan, Qureshi, Siddiqui, Malik, Chaudhry, Iqbal",
        ),
        (
            "ar",
            "Fatima, Omar, Layla, Youssef, Amal, Samir, Rania, Khaled",
            "Haddad, Khalil, Mansour, Nasser, Saleh",
        ),
    ]
}
FAMILY_NAME_FIRST = {"yue"}
LANGUAGE_WEIGHTS = {
    "en": 22,
    "ta": 10,
    "tl": 9,
    "yue": 9,
    "so": 8,
    "pt": 7,
    "es": 7,
    "fa": 7,
    "ur": 6,
    "ar": 5,
    "am": 5,
    "fr": 5,
}
DESCRIPTIONS = [
    "woman in {label}",
    "older man in {label}",
    "young couple in {label}",
    "man in {label}, works nights",
    "family in {label}, kids' bikes by the door",
    "grandmother in {label}",
]
# Organizers write a resident's notes in English, or in French for one who speaks it.
CONSENT_NOTES = {
    "en": [
        "OK to text about meetings.",
        "Calls after 6 pm only.",
        "OK to call; no voicemail.",
        "Texts only, works days.",
    ],
    "fr": ["Textos seulement, travaille de jour.", "Appeler après 18 h; pas de message vocal."],
}
CONVERSATION_NOTES = {
    "en": [
        "Heat out again since Sunday.",
        "The landlord's crew painted over the mould; it is back.",
        "Wants the meeting flyer in their language.",
        "Worried about retaliation; keep the name off the petition for now.",
        "Signed the repair log.",
        "Asked how the hearing at the Landlord and Tenant Board went.",
        "Got an N12: the landlord says his son is moving in.",
        "Called 311 about the cockroaches; no inspector came.",
    ],
    "fr": [
        "Le chauffage ne marche plus depuis dimanche.",
        "Veut la convocation à la réunion en français.",
        "A reçu un avis N4 pour un mois de retard; inquiète.",
        "A signé la pétition pour les réparations.",
    ],
}
# (lowest level at which it is asked, the ask)
ASKS = [
    (Level.CONTACT, "Sign the repairs petition?"),
    (Level.CONTACT, "Come to Thursday's building meeting?"),
    (Level.CONTACT, "Add your apartment to the heat complaint log?"),
    (Level.SUPPORTER, "Bring a neighbour to the next meeting?"),
    (Level.SUPPORTER, "Join the delegation to the management office?"),
    (Level.ACTIVE, "Knock your floor with an organizer on Saturday?"),
    (Level.ACTIVE, "Fight the above-guideline increase at the LTB with us?"),
    (Level.LEADER, "Chair the next building committee meeting?"),
]
FOLLOW_UP_PURPOSES = [
    "Bring the repair log form",
    "Check whether the heat was fixed",
    "Remind about Thursday's meeting",
    "Apporter les dépliants traduits",
    "Follow up on the petition",
    "Présenter au comité de l'immeuble",
]
CANCEL_REASONS = ["Saw them at the meeting instead", "Préfère qu'on l'appelle"]
# Roughly how often each level is talked to, in days, when the committee keeps up.
CONVERSATION_GAP_DAYS = {
    Level.NEW: 30,
    Level.CONTACT: 21,
    Level.SUPPORTER: 12,
    Level.ACTIVE: 9,
    Level.LEADER: 6,
}
# How long someone has been known before reaching a level, in days.
MIN_HISTORY_DAYS = {
    Level.NEW: 7,
    Level.CONTACT: 10,
    Level.SUPPORTER: 30,
    Level.ACTIVE: 60,
    Level.LEADER: 90,
}

OK, DUE_SOON, LAPSED, UNMET = "ok", "due soon", "lapsed", "unmet"


@dataclass
class Resident:
    contact: Contact
    spec: BuildingSpec
    level: Level
    state: str
    family_name: str = ""
    ending: Outcome | None = None  # moved out, or asked not to be contacted
    asked: set[str] = field(default_factory=set)


class Command(BaseCommand):
    help = "Seed the Eastside Tenants Union demo, once, and print its logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo organization and its users first, then seed it again.",
        )

    def handle(self, *args: Any, reset: bool = False, **options: Any) -> None:
        started = time.monotonic()
        with transaction.atomic():
            if reset:
                delete_demo()
            if Organization.objects.filter(slug=SLUG).exists():
                self.stdout.write(
                    f"{ORGANIZATION_NAME} is already seeded; nothing changed "
                    "(seed_demo --reset starts it over)."
                )
            else:
                summary = DemoSeeder(random.Random(SEED), timezone.now()).seed()
                elapsed = time.monotonic() - started
                self.stdout.write(
                    self.style.SUCCESS(f"Seeded {ORGANIZATION_NAME}: {summary} in {elapsed:.1f} s.")
                )
        self.stdout.write(f"\nOpen {URL} and log in as:\n")
        self.stdout.write(f"  {'username':<10}{'role':<12}password")
        for login in LOGINS:
            self.stdout.write(f"  {login.username:<10}{login.role.label:<12}{PASSWORD}")


def delete_demo() -> None:
    """Delete the demo organization and the demo users, but never a user of another
    organization who happens to have a demo username."""
    get_user_model().objects.filter(username__in=USERNAMES).filter(
        Q(membership__organization__slug=SLUG) | Q(membership__isnull=True)
    ).delete()
    # Visits first: deleting a unit sets its visits' unit to null, which the check
    # constraint refuses for a knock recorded on the unit alone, even one about to go.
    Visit.objects.filter(organization__slug=SLUG).delete()
    Organization.objects.filter(slug=SLUG).delete()


class DemoSeeder:
    """Builds the demo in one go.

    1. The organization, its members and their turf, the buildings and their units.
    2. The residents, each drawn with a level and a lapse state to end up in.
    3. Each resident's history, planned backwards from that state: conversations at a
       cadence for their level, knocks that found nobody in between, level changes, asks
       and follow-ups. Knocks on doors where nobody is known yet are planned too.
    4. The history played in time order, every visit through record_visit, so that the
       denormalised clocks come out as they would have in real use.
    5. A few follow-ups planned for the coming days.
    6. A leader of Thorncliffe Towers who knocked doors with Maria three days ago. Two
       meetings: one two days ago at Thorncliffe Towers where few of those who said yes came
       (its attendance closed, a follow-up for each no-show), and one next week for
       everyone, with invitations answered and waiting. Drawn from a random source of
       their own, so the rest of the demo stays as it was.
    """

    def __init__(self, rng: random.Random, now: dt.datetime) -> None:
        self.rng = rng
        self.now = now
        self.zone = zoneinfo.ZoneInfo(TIME_ZONE)
        self.today = timezone.localdate(now, self.zone)
        self.members: dict[str, Membership] = {}
        self.events: list[tuple[dt.datetime, int, Callable[[], object]]] = []
        self.asks: list[Ask] = []
        self.level_changes: list[LevelChange] = []
        self.visit_count = 0
        self.used_names: set[str] = set()

    def seed(self) -> str:
        organization = Organization.objects.create(
            name=ORGANIZATION_NAME, slug=SLUG, time_zone=TIME_ZONE, languages=WORKING_LANGUAGES
        )
        # The organization's days, not the server's: what record_visit and the lapse job
        # count as today and as a due date.
        with local_to(organization):
            return self.seed_in(organization)

    def seed_in(self, organization: Organization) -> str:
        self.members = self.create_members(organization)
        units = self.create_buildings(organization)
        residents, unknown_doors = self.draw_residents(organization, units)
        spec, label = TAMARAS_DOOR
        tamara = self.tamara(organization, units[spec][label])
        for resident in residents:
            self.plan_resident(resident)
        self.plan_tamara(tamara)
        for spec, unit in unknown_doors:
            self.plan_knocks_on_unknown_door(spec, unit)
        residents.append(tamara)
        contacts = [resident.contact for resident in residents]
        set_buildings(contacts)
        Contact.objects.bulk_create(contacts)
        past_meeting = self.plan_meetings(organization, residents)
        self.plan_knocking_together(residents, unknown_doors)
        # The hourly job's runs at each past week's end, played with the history, so that the
        # dashboard's weekly lapse rate has the weeks behind it.
        for week_end in week_ends(self.now)[:-1]:
            ran_at = week_end + dt.timedelta(minutes=5)
            self.schedule(ran_at, partial(flag_lapsed, now=ran_at))

        for _, _, action in sorted(self.events, key=lambda event: (event[0], event[1])):
            action()
        LevelChange.objects.bulk_update(self.level_changes, ["changed_at"])
        Ask.objects.bulk_create(self.asks)
        self.plan_coming_follow_ups(residents)
        close_attendance(meeting=past_meeting)
        flag_lapsed(now=self.now)
        take_paces(self.now)

        unit_count = sum(len(labels) for labels in units.values())
        return (
            f"{len(BUILDINGS)} buildings, {unit_count} units, {len(residents)} contacts, "
            f"{self.visit_count} visits"
        )

    # 1. People and places

    def create_members(self, organization: Organization) -> dict[str, Membership]:
        User = get_user_model()
        taken = sorted(
            User.objects.filter(username__in=USERNAMES).values_list("username", flat=True)
        )
        if taken:
            raise CommandError(
                f"The demo's usernames are taken: {', '.join(taken)}. Remove those users, or "
                "run seed_demo --reset if they are left from an earlier demo."
            )
        # One hash for all: they share the password, and hashing is the slow part.
        password = make_password(PASSWORD)
        members = {}
        for login in LOGINS:
            is_admin = login.role == Role.ADMIN
            user = User.objects.create(
                username=login.username,
                first_name=login.first_name,
                last_name=login.last_name,
                email=f"{login.username}@eastside-tenants.example",
                password=password,
                is_staff=is_admin,
                is_superuser=is_admin,
            )
            members[login.username] = Membership.objects.create(
                user=user, organization=organization, role=login.role, language=login.language
            )
        return members

    def create_buildings(self, organization: Organization) -> dict[BuildingSpec, dict[str, Unit]]:
        units: dict[BuildingSpec, dict[str, Unit]] = {}
        for spec in BUILDINGS:
            building = Building.objects.create(
                organization=organization,
                name=spec.name,
                street_address=spec.street_address,
                city=CITY,
                postal_code=spec.postal_code,
                floors=spec.floors,
                access_notes=spec.access_notes,
                landlord=spec.landlord,
                notes=spec.notes,
            )
            Turf.objects.bulk_create(
                Turf(building=building, organizer=self.members[username].user)
                for username in spec.organizers
            )
            created = Unit.objects.bulk_create(
                Unit(
                    building=building,
                    floor=floor,
                    label=label,
                    vacant=label in spec.vacant,
                    do_not_knock=label in spec.do_not_knock,
                )
                for floor in range(1, spec.floors + 1)
                for label in spec.labels(floor)
            )
            units[spec] = {unit.label: unit for unit in created}
        return units

    # 2. Residents

    def draw_residents(
        self, organization: Organization, units: dict[BuildingSpec, dict[str, Unit]]
    ) -> tuple[list[Resident], list[tuple[BuildingSpec, Unit]]]:
        """Residents known in about half the doors, sometimes two to a door; the other
        doors are knocked on without anyone known behind them."""
        rng = self.rng
        homes: list[tuple[BuildingSpec, Unit]] = []
        unknown_doors: list[tuple[BuildingSpec, Unit]] = []
        for spec, by_label in units.items():
            doors = [
                unit
                for unit in by_label.values()
                if not (unit.vacant or unit.do_not_knock or (spec, unit.label) == TAMARAS_DOOR)
            ]
            known = set(rng.sample(range(len(doors)), round(len(doors) / 2)))
            for i, unit in enumerate(doors):
                if i not in known:
                    unknown_doors.append((spec, unit))
                    continue
                homes.append((spec, unit))
                if rng.random() < 0.15:
                    homes.append((spec, unit))

        levels = self.spread_levels(len(homes))
        unmet = set(rng.sample([i for i, level in enumerate(levels) if level == Level.NEW], 4))
        states = self.spread_states(levels, unmet)
        residents: list[Resident] = []
        for (spec, unit), level, state in zip(homes, levels, states, strict=True):
            housemate = residents[-1] if residents and residents[-1].contact.unit is unit else None
            residents.append(self.resident(organization, spec, unit, level, state, housemate))

        self.give_ending(residents, Outcome.MOVED_OUT, Level.CONTACT, prefer=WELLESLEY)
        self.give_ending(residents, Outcome.DO_NOT_CONTACT, Level.NEW, prefer=THORNCLIFFE)
        return residents, unknown_doors

    def spread_levels(self, count: int) -> list[Level]:
        shares = {Level.LEADER: 0.06, Level.ACTIVE: 0.13, Level.SUPPORTER: 0.2, Level.CONTACT: 0.26}
        levels = [level for level, share in shares.items() for _ in range(round(count * share))]
        levels += [Level.NEW] * (count - len(levels))
        self.rng.shuffle(levels)
        return levels

    def spread_states(self, levels: list[Level], unmet: set[int]) -> list[str]:
        """About a quarter lapsed and a fifth due soon, at every level."""
        states = [UNMET if i in unmet else OK for i in range(len(levels))]
        for level in Level:
            indices = [i for i, drawn in enumerate(levels) if drawn == level and i not in unmet]
            quota = [LAPSED] * round(len(indices) * 0.27) + [DUE_SOON] * round(len(indices) * 0.18)
            quota += [OK] * (len(indices) - len(quota))
            self.rng.shuffle(quota)
            for i, state in zip(indices, quota, strict=True):
                states[i] = state
        return states

    def resident(
        self,
        organization: Organization,
        spec: BuildingSpec,
        unit: Unit,
        level: Level,
        state: str,
        housemate: Resident | None,
    ) -> Resident:
        rng = self.rng
        if housemate is not None and housemate.contact.language:
            language = housemate.contact.language
        else:
            language = rng.choices(list(LANGUAGE_WEIGHTS), list(LANGUAGE_WEIGHTS.values()))[0]
        described = state == UNMET or (level <= Level.CONTACT and rng.random() < 0.3)
        family_name = ""
        if described:
            name = self.description(unit, housemate)
            if rng.random() < 0.5:
                language = ""
        else:
            family_name = housemate.family_name if housemate and housemate.family_name else ""
            name, family_name = self.name(language, family_name)
        owners, weights = zip(*spec.owner_weights, strict=True)
        owner = rng.choices(owners, weights)[0]
        has_phone = rng.random() < (0.1 if described else 0.15 + 0.15 * level)
        contact = Contact(
            organization=organization,
            unit=unit,
            name=name,
            language=language,
            owner=self.members[owner].user if owner else None,
            phone=self.phone() if has_phone else "",
            email=f"{slugify(name)}@example.net" if level >= Level.SUPPORTER and has_phone else "",
            consent_note=rng.choice(notes_in(CONSENT_NOTES, language)) if has_phone else "",
            notes="A neighbour mentioned them; not met yet." if state == UNMET else "",
        )
        return Resident(contact, spec, level, state, family_name)

    def name(self, language: str, family_name: str) -> tuple[str, str]:
        given_names, family_names = NAMES[language]
        for _ in range(50):
            given = self.rng.choice(given_names)
            family = family_name or self.rng.choice(family_names)
            name = f"{family} {given}" if language in FAMILY_NAME_FIRST else f"{given} {family}"
            if name not in self.used_names:
                self.used_names.add(name)
                return name, family
            family_name = ""
        raise CommandError(f"Ran out of demo names in {language}.")

    def description(self, unit: Unit, housemate: Resident | None) -> str:
        choices = [d.format(label=unit.label) for d in DESCRIPTIONS]
        if housemate is not None and housemate.contact.name in choices:
            choices.remove(housemate.contact.name)
        return self.rng.choice(choices)

    def phone(self) -> str:
        # 555-0100 to 555-0199 are reserved for fiction.
        return f"({self.rng.choice(['416', '647', '437'])}) 555-01{self.rng.randint(0, 99):02d}"

    def give_ending(
        self, residents: list[Resident], ending: Outcome, level: Level, prefer: BuildingSpec
    ) -> None:
        candidates = [r for r in residents if r.state == LAPSED and r.level == level]
        candidates.sort(key=lambda r: r.spec is not prefer)
        if candidates:
            candidates[0].ending = ending

    def tamara(self, organization: Organization, unit: Unit) -> Resident:
        """The case the product exists for: a leader who said yes to being floor captain,
        then heard nothing for a month."""
        contact = Contact(
            organization=organization,
            unit=unit,
            name="Tamara Okafor",
            language="en",
            phone="(416) 555-0142",
            consent_note="OK to text about meetings.",
            owner=self.members["maria"].user,
            notes="Knows everyone on the 12th floor; her kids play with the kids in 1202 and 1207.",
        )
        self.used_names.add(contact.name)
        return Resident(contact, THORNCLIFFE, Level.LEADER, LAPSED, "Okafor")

    # 3. History, planned

    def plan_resident(self, resident: Resident) -> None:
        rng = self.rng
        if resident.state == UNMET:
            mentioned_at = self.days_ago(rng.randint(5, 20))
            resident.contact.created_at = mentioned_at
            for at in self.times_between(mentioned_at, self.now, rng.randint(1, 2)):
                self.schedule_visit(at, resident, Outcome.NOT_HOME)
            return

        threshold = DEFAULT_THRESHOLD_DAYS[resident.level]
        # Whole days back at canvassing hours: the margins keep each state true whatever
        # the time of day the seed runs.
        if resident.state == OK:
            last_ago = rng.randint(1, threshold - 3)
        elif resident.state == DUE_SOON:
            last_ago = threshold - 1
        else:
            last_ago = threshold + rng.randint(1, 30)
        last = self.days_ago(last_ago)
        if resident.level == Level.NEW and rng.random() < 0.6:
            first = last
        else:
            earliest = last_ago + MIN_HISTORY_DAYS[resident.level]
            first = self.days_ago(rng.randint(earliest, HISTORY_DAYS - 1))
        conversations = self.conversation_times(first, last, CONVERSATION_GAP_DAYS[resident.level])
        self.plan_history(resident, conversations)

        if resident.ending == Outcome.MOVED_OUT:
            tries = [Outcome.NOT_HOME, Outcome.MOVED_OUT]
        elif resident.ending == Outcome.DO_NOT_CONTACT:
            tries = [Outcome.REFUSED, Outcome.DO_NOT_CONTACT]
        elif resident.state == LAPSED:
            # Some were tried and not found, some nobody went back to.
            tries = [Outcome.NOT_HOME] * rng.choice([0, 0, 1, 2, 3])
        else:
            tries = [Outcome.NOT_HOME] * rng.choice([0, 0, 0, 1])
        for at, outcome in zip(self.times_between(last, self.now, len(tries)), tries, strict=False):
            self.schedule_visit(at, resident, outcome)

    def plan_tamara(self, tamara: Resident) -> None:
        maria = self.members["maria"]
        last = self.now - dt.timedelta(days=30)
        conversations = self.conversation_times(self.days_ago(150), last, 9)
        self.plan_history(tamara, conversations, closing_by=maria)
        self.asks.append(
            Ask(
                contact=tamara.contact,
                question="Floor captain for the 12th floor?",
                asked_by=maria.user,
                asked_at=last,
                due_on=timezone.localdate(last, self.zone) + dt.timedelta(days=7),
                answer=Answer.YES,
                answered_at=last,
            )
        )
        follow_up = FollowUp(
            contact=tamara.contact,
            planned_for=timezone.localdate(last, self.zone) + dt.timedelta(days=7),
            assigned_to=maria.user,
            purpose="Go over the 12th-floor list with Tamara",
            created_at=last,
        )
        self.schedule(last, follow_up.save)
        for days in (19, 8):
            self.schedule_visit(self.days_ago(days), tamara, Outcome.NOT_HOME, actor=maria)

    def conversation_times(
        self, first: dt.datetime, last: dt.datetime, gap_days: int
    ) -> list[dt.datetime]:
        times = [first]
        moment = first
        while True:
            moment += dt.timedelta(days=gap_days * self.rng.uniform(0.6, 1.4))
            if moment >= last - dt.timedelta(days=gap_days / 2):
                break
            times.append(self.at(timezone.localdate(moment, self.zone)))
        if last > first:
            times.append(last)
        return times

    def plan_history(
        self,
        resident: Resident,
        conversations: list[dt.datetime],
        closing_by: Membership | None = None,
    ) -> None:
        """Conversations with the knocks that found nobody in between, and the level
        changes, asks and follow-ups that came out of them.

        With closing_by, the last conversation is the one where the final level was
        reached, held by that organizer; its ask and follow-up are the caller's to write."""
        rng = self.rng
        contact = resident.contact
        contact.created_at = conversations[0]
        levels = level_path(len(conversations), resident.level, closing_by is not None)
        level = Level.NEW
        for i, at in enumerate(conversations):
            later = conversations[i + 1] if i + 1 < len(conversations) else None
            closing = later is None and closing_by is not None
            if closing_by is not None and closing:
                actor, channel = closing_by, Channel.DOOR
            else:
                actor, channel = self.conversation_reach(resident, levels[i])
            note = ""
            if rng.random() < 0.15:
                note = rng.choice(notes_in(CONVERSATION_NOTES, contact.language))
            self.schedule_visit(at, resident, Outcome.CONVERSATION, actor, channel, note)
            if levels[i] != level:
                level = levels[i]
                self.schedule(at, partial(self.set_level, contact, level, actor, at))
            if closing:
                continue
            self.maybe_ask(resident, level, at, later, actor)
            self.maybe_follow_up(resident, level, at, actor)
            if later is not None:
                for between in self.times_between(at, later, rng.choice([0, 0, 1, 1, 2])):
                    outcome = rng.choices(
                        [Outcome.NOT_HOME, Outcome.COME_BACK, Outcome.REFUSED],
                        [80, 14, 6 if level <= Level.CONTACT else 0],
                    )[0]
                    self.schedule_visit(between, resident, outcome)

    def conversation_reach(self, resident: Resident, level: Level) -> tuple[Membership, Channel]:
        """Mostly at the door; a phone call to someone with a number, now and then from the
        committee for the more engaged; from supporters up, sometimes at a meeting."""
        roll = self.rng.random()
        if resident.contact.phone and roll < 0.15:
            if level >= Level.ACTIVE and self.rng.random() < 0.3:
                return self.members["dana"], Channel.PHONE
            return self.visitor(resident), Channel.PHONE
        if level >= Level.SUPPORTER and roll < 0.25:
            return self.visitor(resident), Channel.MEETING
        return self.visitor(resident), Channel.DOOR

    def maybe_ask(
        self,
        resident: Resident,
        level: Level,
        at: dt.datetime,
        later: dt.datetime | None,
        actor: Membership,
    ) -> None:
        """Some asks are answered at the door, others at the next conversation; one with
        no conversation since is still pending, overdue or not."""
        rng = self.rng
        if level < Level.CONTACT or rng.random() >= (0.45 if level >= Level.ACTIVE else 0.3):
            return
        questions = [ask for lowest, ask in ASKS if lowest <= level]
        # A question is asked again only once every other one for the level has been.
        fresh = [question for question in questions if question not in resident.asked]
        question = rng.choice(fresh or questions)
        resident.asked.add(question)
        answer, answered_at = Answer.PENDING, None
        if rng.random() < 0.35:
            answered_at = at
        elif later is not None:
            answered_at = later
        if answered_at is not None:
            answer = Answer.YES if rng.random() < 0.7 else Answer.NO
        self.asks.append(
            Ask(
                contact=resident.contact,
                question=question,
                asked_by=actor.user,
                asked_at=at,
                due_on=timezone.localdate(at, self.zone) + dt.timedelta(days=rng.randint(2, 10)),
                answer=answer,
                answered_at=answered_at,
            )
        )

    def maybe_follow_up(
        self, resident: Resident, level: Level, at: dt.datetime, actor: Membership
    ) -> None:
        """Done by the first conversation on or after its date, by record_visit; a few
        are cancelled the next day."""
        rng = self.rng
        if level < Level.CONTACT or rng.random() >= 0.15:
            return
        follow_up = FollowUp(
            contact=resident.contact,
            planned_for=timezone.localdate(at, self.zone) + dt.timedelta(days=rng.randint(3, 10)),
            assigned_to=resident.contact.owner or actor.user,
            purpose=rng.choice(FOLLOW_UP_PURPOSES),
            created_at=at,
        )
        cancelled_at = at + dt.timedelta(days=1)
        if rng.random() < 0.1 and cancelled_at < self.now:
            follow_up.cancelled_at = cancelled_at
            follow_up.cancel_reason = rng.choice(CANCEL_REASONS)
        # save(), not full_clean(): the history is planned in the past on purpose.
        self.schedule(at, follow_up.save)

    def plan_knocks_on_unknown_door(self, spec: BuildingSpec, unit: Unit) -> None:
        rng = self.rng
        days = sorted(rng.sample(range(1, HISTORY_DAYS), rng.choice([0, 1, 1, 2, 3])), reverse=True)
        for ago in days:
            outcome = rng.choices(
                [Outcome.NOT_HOME, Outcome.COME_BACK, Outcome.REFUSED], [75, 10, 15]
            )[0]
            actor = self.members[rng.choice(spec.organizers)]
            at = self.days_ago(ago)
            self.schedule(at, partial(self.visit, actor, outcome, unit=unit, at=at))

    def visitor(self, resident: Resident) -> Membership:
        """Mostly the owner; sometimes whoever else has the building as turf."""
        owner = resident.contact.owner
        if owner is not None and self.rng.random() < 0.8:
            return self.members[owner.username]
        return self.members[self.rng.choice(resident.spec.organizers)]

    def schedule_visit(
        self,
        at: dt.datetime,
        resident: Resident,
        outcome: Outcome,
        actor: Membership | None = None,
        channel: Channel = Channel.DOOR,
        note: str = "",
    ) -> None:
        actor = actor or self.visitor(resident)
        action = partial(
            self.visit, actor, outcome, contact=resident.contact, channel=channel, note=note, at=at
        )
        self.schedule(at, action)

    def schedule(self, at: dt.datetime, action: Callable[[], object]) -> None:
        # The running index keeps events at the same moment in the order they were planned:
        # a level change or follow-up after the conversation it came out of.
        self.events.append((at, len(self.events), action))

    # 4. History, played

    def visit(
        self,
        actor: Membership,
        outcome: Outcome,
        *,
        at: dt.datetime,
        contact: Contact | None = None,
        unit: Unit | None = None,
        channel: Channel = Channel.DOOR,
        note: str = "",
        companion_contact: Contact | None = None,
    ) -> None:
        self.visit_count += 1
        record_visit(
            actor=actor,
            outcome=outcome,
            idempotency_key=f"seed-{self.visit_count:06d}",
            contact=contact,
            unit=unit,
            channel=channel,
            happened_at=at,
            note=note,
            companion_contact=companion_contact,
        )

    def set_level(self, contact: Contact, level: Level, actor: Membership, at: dt.datetime) -> None:
        change = contact.set_level(level, by=actor.user)
        if change is not None:
            change.changed_at = at
            self.level_changes.append(change)

    # 6. Meetings

    def plan_meetings(self, organization: Organization, residents: list[Resident]) -> Meeting:
        """The meetings and their invitations, and the attendance of the past one played
        with the history. Returns the past meeting, to be closed once it is played."""
        rng = random.Random(SEED + 20)
        dana = self.members["dana"]
        reachable = [r for r in residents if r.ending is None]
        thorncliffe = [r for r in reachable if r.spec == THORNCLIFFE]
        held_at = dt.datetime.combine(
            self.today - dt.timedelta(days=2), dt.time(19, 0), tzinfo=self.zone
        )
        past = Meeting.objects.create(
            organization=organization,
            title="Thorncliffe repairs meeting",
            starts_at=held_at,
            place="Thorncliffe Towers, party room",
            language="en",
            purpose="Plan the repairs petition and who carries it floor by floor.",
            created_by=dana.user,
            created_at=held_at - dt.timedelta(days=10),
        )
        past.buildings.set(
            Building.objects.filter(organization=organization, name=THORNCLIFFE.name)
        )
        # Those who came are among the residents talked to recently anyway, so that coming
        # leaves each lapse state as drawn.
        invited = rng.sample(thorncliffe, min(16, len(thorncliffe)))
        invited.sort(key=lambda r: r.state != OK)
        answers = [Answer.YES] * 8 + [Answer.MAYBE] * 3 + [Answer.NO] * 5
        self.invite(past, invited, answers, asked_at=held_at - dt.timedelta(days=7))
        for resident in invited[:3]:
            self.schedule(held_at + dt.timedelta(minutes=5), partial(self.came, past, resident))

        coming = Meeting.objects.create(
            organization=organization,
            title="Vote sur la grève des loyers / Rent strike vote",
            starts_at=dt.datetime.combine(
                self.today + dt.timedelta(days=6), dt.time(18, 30), tzinfo=self.zone
            ),
            place="Thorncliffe Park library, program room",
            purpose="Every building votes on the rent strike, in English and French, with "
            "interpretation in Tamil, Somali, Tagalog and Cantonese.",
            created_by=dana.user,
            created_at=self.now - dt.timedelta(days=3),
        )
        answers = [Answer.YES] * 6 + [Answer.MAYBE] * 3 + [Answer.NO] * 2 + [Answer.PENDING] * 9
        later = rng.sample(reachable, min(20, len(reachable)))
        self.invite(coming, later, answers, asked_at=self.now - dt.timedelta(days=2))
        return past

    def plan_knocking_together(
        self, residents: list[Resident], unknown_doors: list[tuple[BuildingSpec, Unit]]
    ) -> None:
        """A Thorncliffe Towers leader, talked to lately anyway, knocked four doors nobody answered
        with Maria three days ago: one conversation with her that day."""
        rng = random.Random(SEED + 30)
        leaders = [
            r
            for r in residents
            if r.spec == THORNCLIFFE and r.level == Level.LEADER and r.state == OK and not r.ending
        ]
        if not leaders:
            return
        leader = rng.choice(leaders)
        doors = [unit for spec, unit in unknown_doors if spec == THORNCLIFFE][:4]
        at = dt.datetime.combine(
            self.today - dt.timedelta(days=3), dt.time(18, 0), tzinfo=self.zone
        )
        for n, unit in enumerate(doors):
            when = at + dt.timedelta(minutes=6 * n)
            self.schedule(
                when,
                partial(
                    self.visit,
                    self.members["maria"],
                    Outcome.NOT_HOME,
                    unit=unit,
                    at=when,
                    companion_contact=leader.contact,
                ),
            )

    def invite(
        self,
        meeting: Meeting,
        residents: list[Resident],
        answers: list[Answer],
        *,
        asked_at: dt.datetime,
    ) -> None:
        starts = timezone.localtime(meeting.starts_at, self.zone)
        Ask.objects.bulk_create(
            Ask(
                contact=resident.contact,
                meeting=meeting,
                question=f"Come to “{meeting.title}” on {starts:%b} {starts.day}?",
                asked_by=self.visitor(resident).user,
                asked_at=asked_at,
                due_on=starts.date() - dt.timedelta(days=1),
                answer=answer,
                answered_at=None if answer == Answer.PENDING else asked_at,
            )
            for resident, answer in zip(residents, answers, strict=False)
        )

    def came(self, meeting: Meeting, resident: Resident) -> None:
        self.visit_count += 1
        mark_present(
            actor=self.members["maria"],
            meeting=meeting,
            contact=resident.contact,
            idempotency_key=f"seed-{self.visit_count:06d}",
            happened_at=meeting.starts_at + dt.timedelta(minutes=5),
        )

    # 5. Coming follow-ups

    def plan_coming_follow_ups(self, residents: list[Resident]) -> None:
        due_soon = [r for r in residents if r.state == DUE_SOON and r.ending is None]
        for resident in self.rng.sample(due_soon, min(5, len(due_soon))):
            follow_up = FollowUp(
                contact=resident.contact,
                planned_for=self.today + dt.timedelta(days=self.rng.randint(1, 4)),
                assigned_to=resident.contact.owner or self.visitor(resident).user,
                purpose=self.rng.choice(FOLLOW_UP_PURPOSES),
            )
            follow_up.full_clean()
            follow_up.save()

    # Time

    def at(self, day: dt.date) -> dt.datetime:
        """A moment on that day when organizers knock: weekday evenings, or midday."""
        evening = self.rng.random() < 0.75
        hour = self.rng.randint(17, 20) if evening else self.rng.randint(11, 15)
        minute = self.rng.choice([0, 10, 20, 30, 40, 50])
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.zone)

    def days_ago(self, days: int) -> dt.datetime:
        return self.at(self.today - dt.timedelta(days=days))

    def times_between(self, start: dt.datetime, end: dt.datetime, count: int) -> list[dt.datetime]:
        """Up to count moments on distinct days strictly between the days of start and end."""
        first = timezone.localdate(start, self.zone) + dt.timedelta(days=1)
        days = (timezone.localdate(end, self.zone) - first).days
        if days <= 0 or count == 0:
            return []
        picks = sorted(self.rng.sample(range(days), min(count, days)))
        return [self.at(first + dt.timedelta(days=pick)) for pick in picks]


def notes_in(notes: dict[str, list[str]], language: str) -> list[str]:
    return notes.get(language, notes["en"])


def level_path(count: int, level: Level, last_step: bool) -> list[Level]:
    """The level after each of count conversations, climbing from new to level: reached
    about two thirds of the way along, or at the very last one when last_step is set."""
    if last_step and count > 1:
        return [*level_path(count - 1, Level(level - 1), last_step=False), level]
    reach = max(1, round(count * 0.7))
    return [Level(1 + (level - 1) * min(i + 1, reach) // reach) for i in range(count)]
