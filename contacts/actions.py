"""Operations that span several models. Views and tasks call these; nothing else writes
visits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from buildings.models import Turf, Unit
from contacts.models import (
    Answer,
    Ask,
    Attendance,
    Channel,
    Contact,
    FollowUp,
    LapseThreshold,
    Meeting,
    Outcome,
    OwnerChange,
    Status,
    Visit,
)
from organizing.actions import lock_for_admin, refuse_last_admin, refuse_site_staff
from organizing.i18n import for_organization
from organizing.models import Membership, Organization, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# What the actions write into visits, asks and follow-ups. Stored texts are read later by
# members of either language, so each is written once, in the organization's first working
# language (in_working_language), not in the language of whoever acted.
KNOCKED_WITH_US = gettext_noop("Knocked on doors with us.")
CAME_TO = gettext_noop("Came to %(title)s.")
COME_TO = gettext_noop("Come to “%(title)s” on %(day)s?")


def in_working_language(organization: Organization, text: str, **values: str) -> str:
    """`text` (marked with gettext_noop) in `organization`'s first working language."""
    with for_organization(organization):
        written = _(text)
    return written % values if values else written


# Phones' clocks drift; a knock a few minutes "in the future" is still a real knock.
CLOCK_SKEW = dt.timedelta(minutes=10)


def record_visit(
    *,
    actor: Membership,
    outcome: Outcome,
    idempotency_key: str,
    contact: Contact | None = None,
    unit: Unit | None = None,
    channel: Channel = Channel.DOOR,
    happened_at: dt.datetime | None = None,
    note: str = "",
    needs_look: str = "",
    at_contacts_unit: bool = True,
    companion: User | None = None,
    companion_contact: Contact | None = None,
) -> tuple[Visit, bool]:
    """Record one contact attempt and keep the contact's and unit's clocks right. Without a
    unit, the visit is at the contact's, unless `at_contacts_unit` is False. Knocking
    together, the visit names who came along: a member (`companion`) or a contact
    (`companion_contact`), for whom the day's knocking counts as one conversation.

    Returns the visit and whether it was created: a key seen before returns the visit
    already recorded with it, and changes nothing.

    1. Refuse what can't be true: no contact and no unit, objects of another
       organization, a time in the future.
    2. Insert the visit; the unique (organization, key) constraint settles a race between
       two submissions of the same knock.
    3. Move the unit's and contact's clocks forward only: a visit that arrives late never
       moves "last conversation" backwards. Attempts since the last conversation are
       recounted, so a late "not home" from before it is not counted.
    4. A conversation completes the open follow-ups that were due by then; "moved out"
       ends the tie to the unit and "do not contact" is honoured at once.
    """
    organization_id = actor.organization_id
    happened_at = happened_at or timezone.now()
    if timezone.is_naive(happened_at):
        raise ValueError("happened_at must be an aware datetime")

    errors: dict[str, str] = {}
    if contact is None and unit is None:
        errors["contact"] = _("A visit needs a contact or a unit.")
    if contact is not None and contact.organization_id != organization_id:
        errors["contact"] = _("That contact is not in your organization.")
    if unit is not None and unit.building.organization_id != organization_id:
        errors["unit"] = _("That unit is not in your organization.")
    if happened_at > timezone.now() + CLOCK_SKEW:
        errors["happened_at"] = _("A visit can't be recorded in the future.")
    errors |= _companion_errors(actor, companion, companion_contact, contact)
    if errors:
        raise ValidationError(errors)
    unit_id = unit.pk if unit is not None else None
    if unit_id is None and contact is not None and at_contacts_unit:
        unit_id = contact.unit_id

    visit = Visit(
        organization_id=organization_id,
        contact=contact,
        unit_id=unit_id,
        organizer_id=actor.user_id,
        channel=channel,
        outcome=outcome,
        happened_at=happened_at,
        note=note.strip(),
        idempotency_key=idempotency_key,
        needs_look=needs_look,
        companion=companion,
        companion_contact=companion_contact,
    )
    # Field validation only: the database enforces the constraints in the INSERT below.
    visit.clean_fields(
        exclude=["organization", "contact", "unit", "organizer", "companion", "companion_contact"]
    )
    # Inserted straight away: a new key, by far the usual case, costs no look-up first. A
    # key seen before (a double tap, a replay, a race) hits the unique (organization, key)
    # constraint: everything since the insert is rolled back, and the visit already
    # recorded with that key is returned. The insert and the clocks share one transaction
    # (one savepoint when called inside another), not a savepoint of their own around the
    # insert: two round trips to the database fewer for every knock.
    try:
        with transaction.atomic():
            visit.save()
            _move_clocks(actor, visit, contact, companion_contact)
    except IntegrityError:
        existing = Visit.objects.filter(
            organization_id=organization_id, idempotency_key=idempotency_key
        ).first()
        if existing is None:
            raise  # another constraint refused a row
        return existing, False
    return visit, True


def _move_clocks(
    actor: Membership, visit: Visit, contact: Contact | None, companion_contact: Contact | None
) -> None:
    """What a new visit changes beyond itself: the unit's and the contact's clocks, and the
    conversation with whoever knocked with us."""
    talked = visit.outcome == Outcome.CONVERSATION
    if visit.unit_id is not None:
        _advance(Unit.objects.filter(pk=visit.unit_id), "last_attempt_at", visit.happened_at)
        if talked:
            _advance(
                Unit.objects.filter(pk=visit.unit_id), "last_conversation_at", visit.happened_at
            )
    if contact is not None:
        _update_contact(contact, visit)
    if companion_contact is not None:
        # She was with us: one conversation with her for the day, however many doors.
        day = timezone.localdate(visit.happened_at)
        record_visit(
            actor=actor,
            contact=companion_contact,
            outcome=Outcome.CONVERSATION,
            idempotency_key=f"with-{companion_contact.pk}-{day:%Y%m%d}",
            happened_at=visit.happened_at,
            note=in_working_language(actor.organization, KNOCKED_WITH_US),
            at_contacts_unit=False,
        )


def _companion_errors(
    actor: Membership,
    companion: User | None,
    companion_contact: Contact | None,
    contact: Contact | None,
) -> dict[str, str]:
    errors = {}
    if companion is not None:
        if companion.pk == actor.user_id:
            errors["companion"] = _("You can't knock with yourself: name who came along.")
        elif not Membership.objects.filter(
            user=companion, organization_id=actor.organization_id, active=True
        ).exists():
            errors["companion"] = _("Who came along must be a member of your organization.")
    if companion_contact is not None:
        if companion_contact.organization_id != actor.organization_id:
            errors["companion_contact"] = _("Who came along must be in your organization.")
        elif companion_contact.status != Status.ACTIVE:
            errors["companion_contact"] = _("%(name)s can't be named as knocking.") % {
                "name": companion_contact.name
            }
        elif contact is not None and companion_contact.pk == contact.pk:
            errors["companion_contact"] = _("Someone can't knock on their own door with us.")
    return errors


def _advance(queryset: object, field: str, moment: dt.datetime) -> None:
    """Set a timestamp only where it is empty or older, in one UPDATE, so that two
    concurrent visits can't move it backwards."""
    queryset.filter(  # type: ignore[attr-defined]
        Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": moment})
    ).update(**{field: moment})


def _update_contact(contact: Contact, visit: Visit) -> None:
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    if locked.status == Status.ERASED:
        # A knock sent late from a phone must not bring back what the person asked us to
        # forget; the whole visit is rolled back.
        raise ValidationError({"contact": _("This person was erased on request.")})
    before = (locked.status, locked.unit_id)
    talked = visit.outcome == Outcome.CONVERSATION
    if locked.last_attempt_at is None or visit.happened_at > locked.last_attempt_at:
        locked.last_attempt_at = visit.happened_at
    superseded = (
        locked.last_conversation_at is not None and visit.happened_at < locked.last_conversation_at
    )
    if talked and not superseded:
        locked.last_conversation_at = visit.happened_at
        # A conversation arriving late may come before attempts already counted: recount.
        since = Visit.objects.filter(contact=locked, happened_at__gt=visit.happened_at)
        locked.attempts_since_conversation = since.exclude(outcome=Outcome.CONVERSATION).count()
    elif not talked and (
        locked.last_conversation_at is None or visit.happened_at > locked.last_conversation_at
    ):
        # An attempt after the last conversation adds one; the row is locked, so two
        # knocks at once both count. One from before it (a late replay) counts for nothing.
        locked.attempts_since_conversation += 1

    if visit.outcome == Outcome.DO_NOT_CONTACT:
        # Honoured whenever it was said: a later knock does not undo a refusal of contact.
        locked.status = Status.DO_NOT_CONTACT
    elif (
        visit.outcome == Outcome.MOVED_OUT
        and not superseded
        # A contact who already lives elsewhere keeps that new home.
        and locked.unit_id in (None, visit.unit_id)
    ):
        locked.unit_id = None
        if locked.status == Status.ACTIVE:
            locked.status = Status.MOVED
    if (locked.status, locked.unit_id) == before:
        # Only the clocks moved, and the trail leaves them out: the visit's own record
        # says what happened, so a knock costs one history row, not two.
        locked.skip_history_when_saving = True  # type: ignore[attr-defined]
    else:
        locked._history_user = visit.organizer  # type: ignore[attr-defined,assignment]
    fields = [
        "last_attempt_at",
        "last_conversation_at",
        "attempts_since_conversation",
        "status",
        "unit",
        "updated_at",
    ]
    if talked and not superseded:
        # The lapse ends with the conversation, not at the job's next run.
        fields += locked.end_lapse(at=timezone.now(), by=visit)
    locked.save(update_fields=fields)
    if talked:
        done = list(
            FollowUp.objects.open().filter(
                contact=locked, planned_for__lte=timezone.localdate(visit.happened_at)
            )
        )
        for follow_up in done:
            follow_up.done_by = visit
        if done:
            bulk_update_with_history(done, FollowUp, ["done_by"], default_user=visit.organizer)
    # The caller's instance reflects what was saved.
    for field in fields:
        if field != "unit":
            setattr(contact, field, getattr(locked, field))
    contact.unit_id = locked.unit_id


UNDO_WINDOW = dt.timedelta(minutes=5)


# An ask a conversation leaves waiting past its date is asked again, due this long after.
ASK_AGAIN_AFTER = dt.timedelta(days=7)


@transaction.atomic
def record_conversation(
    *,
    actor: Membership,
    contact: Contact,
    idempotency_key: str,
    note: str,
    level: int | None = None,
    ask: str = "",
    ask_due_on: dt.date | None = None,
    follow_up_on: dt.date | None = None,
    follow_up_purpose: str = "",
    settled_asks: dict[int, tuple[Answer, dt.date | None]] | None = None,
    channel: Channel = Channel.DOOR,
    happened_at: dt.datetime | None = None,
    needs_look: str = "",
    invite_to: Meeting | None = None,
    invitation_answer: Answer = Answer.PENDING,
) -> tuple[Visit, bool]:
    """A conversation with what came of it: the level as assessed now, what became of each
    unanswered ask, a new ask with the date its answer is due, an invitation to a meeting
    with the answer given at the door, and the next follow-up visit.
    All or nothing; a repeated key records nothing more.

    The conversation ends a lapse, and settles what would open the next one at once: its
    open follow-ups are done (record_visit), and each unanswered ask is answered or asked
    again (`settled_asks`, by ask id: an answer, or a new due date). An ask left waiting
    that is due today or was due before, as a phone's form sent without a choice leaves
    it, is asked again, due ASK_AGAIN_AFTER from today; so the next hourly run never
    reopens the lapse the conversation ended for an ask the organizer was not asked
    about."""
    visit, created = record_visit(
        actor=actor,
        contact=contact,
        outcome=Outcome.CONVERSATION,
        idempotency_key=idempotency_key,
        channel=channel,
        happened_at=happened_at,
        note=note,
        needs_look=needs_look,
    )
    if not created:
        return visit, False
    user = actor.user
    if level is not None:
        contact.set_level(level, by=user)
    settle_asks(contact, settled_asks or {})
    if ask:
        new_ask = Ask(contact=contact, question=ask, asked_by=user, asked_at=visit.happened_at)
        new_ask.due_on = ask_due_on  # type: ignore[assignment]
        new_ask.full_clean()
        new_ask.save()
    if invite_to is not None:
        invite_at_the_door(
            actor=actor, meeting=invite_to, contact=contact, answer=invitation_answer
        )
    if follow_up_on is not None:
        plan_follow_up(
            actor=actor,
            contact=contact,
            planned_for=follow_up_on,
            purpose=follow_up_purpose,
            submission_key=idempotency_key,
        )
    return visit, True


def invite_at_the_door(
    *, actor: Membership, meeting: Meeting, contact: Contact, answer: Answer
) -> None:
    """Invite `contact` (once) and take the answer they gave at the door. A conversation
    the outbox sends after the meeting began keeps everything but the invitation."""
    if meeting.is_past or meeting.closed_at is not None:
        return
    invite(actor=actor, meeting=meeting, contacts=[contact])
    invitation = meeting.invitations.filter(contact=contact).first()
    if invitation is not None and answer != Answer.PENDING:
        invitation.record_answer(answer)


def settle_asks(contact: Contact, settled: dict[int, tuple[Answer, dt.date | None]]) -> None:
    today = timezone.localdate()
    for open_ask in contact.asks.filter(answer=Answer.PENDING).select_for_update():
        answer, due_on = settled.get(open_ask.pk, (Answer.PENDING, None))
        if answer != Answer.PENDING:
            open_ask.record_answer(answer)
            continue
        if due_on is None and open_ask.due_on <= today:
            due_on = today + ASK_AGAIN_AFTER
        if due_on is not None and due_on != open_ask.due_on:
            if due_on < today:
                raise ValidationError(
                    _("“%(question)s”: the answer can't be due in the past.")
                    % {"question": open_ask.question}
                )
            open_ask.due_on = due_on
            open_ask.save(update_fields=["due_on"])


def plan_follow_up(
    *,
    actor: Membership,
    contact: Contact,
    planned_for: dt.date,
    purpose: str,
    submission_key: str,
    assigned_to: User | None = None,
) -> FollowUp:
    follow_up, _ = FollowUp.objects.get_or_create(
        contact=contact,
        submission_key=submission_key,
        defaults={
            "planned_for": planned_for,
            "purpose": purpose.strip(),
            "assigned_to": assigned_to or actor.user,
        },
    )
    return follow_up


@transaction.atomic
def add_resident(
    *,
    actor: Membership,
    unit: Unit,
    name: str,
    submission_key: str,
    phone: str = "",
    language: str = "",
    brought_in_by: Contact | None = None,
) -> tuple[Contact, bool]:
    """A person met at the door, owned by whoever met them, and brought in by the contact
    who knocked with them, if one did. A resubmitted form finds the contact it already
    added."""
    if brought_in_by is not None and brought_in_by.organization_id != actor.organization_id:
        raise ValidationError({"brought_in_by": _("That person is not in your organization.")})
    if unit.building.organization_id != actor.organization_id:
        raise ValidationError({"unit": _("That unit is not in your organization.")})
    existing = Contact.objects.filter(
        organization_id=actor.organization_id, submission_key=submission_key
    ).first()
    if existing is not None:
        return existing, False
    contact = Contact(
        organization_id=actor.organization_id,
        unit=unit,
        name=name.strip(),
        phone=phone.strip(),
        language=language,
        owner=actor.user,
        submission_key=submission_key,
        brought_in_by=brought_in_by,
    )
    contact.full_clean(validate_constraints=False)
    contact.save()
    return contact, True


@transaction.atomic
def undo_visit(*, actor: Membership, visit: Visit) -> None:
    """Take back a mis-tap: only the organizer who recorded it, only for a few minutes.

    The clocks are recomputed from the visits that remain; follow-ups it completed open
    again; a "moved out" or "do not contact" it set is taken back. A contact who knocked
    along loses the day's conversation with her too, unless another knock of that day
    still names her.
    """
    if visit.organizer_id != actor.user_id or visit.organization_id != actor.organization_id:
        raise ValidationError(_("Only the organizer who recorded a knock can undo it."))
    if timezone.now() - visit.recorded_at > UNDO_WINDOW:
        raise ValidationError(_("A knock can be undone only in the first five minutes."))
    contact_id, unit_id, outcome = visit.contact_id, visit.unit_id, visit.outcome
    companion_id, happened_at = visit.companion_contact_id, visit.happened_at
    visit.delete()
    _recount(contact_id, unit_id, outcome)
    if companion_id is not None:
        _take_back_company(visit.organization_id, companion_id, happened_at)


def _take_back_company(organization_id: int, companion_id: int, happened_at: dt.datetime) -> None:
    """The conversation a day's knocking together made with a contact (record_visit's
    `with-` key), once no knock of that day names her any more."""
    day = timezone.localdate(happened_at)
    start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    still_with_her = Visit.objects.filter(
        organization_id=organization_id,
        companion_contact_id=companion_id,
        happened_at__gte=start,
        happened_at__lt=start + dt.timedelta(days=1),
    )
    if still_with_her.exists():
        return
    company = Visit.objects.filter(
        organization_id=organization_id, idempotency_key=f"with-{companion_id}-{day:%Y%m%d}"
    ).first()
    if company is None:
        return
    company.delete()
    _recount(companion_id, company.unit_id, company.outcome)


def _recount(contact_id: int | None, unit_id: int | None, outcome: str) -> None:
    """After a visit with this `outcome` was deleted: the unit's and contact's clocks from
    the visits that remain, and a status it set taken back."""
    if unit_id is not None:
        remaining = Visit.objects.filter(unit_id=unit_id)
        Unit.objects.filter(pk=unit_id).update(
            last_attempt_at=remaining.aggregate(at=Max("happened_at"))["at"],
            last_conversation_at=remaining.filter(outcome=Outcome.CONVERSATION).aggregate(
                at=Max("happened_at")
            )["at"],
        )
    if contact_id is None:
        return
    contact = Contact.objects.select_for_update().get(pk=contact_id)
    remaining = Visit.objects.filter(contact_id=contact_id)
    contact.last_attempt_at = remaining.aggregate(at=Max("happened_at"))["at"]
    contact.last_conversation_at = remaining.filter(outcome=Outcome.CONVERSATION).aggregate(
        at=Max("happened_at")
    )["at"]
    since = remaining.exclude(outcome=Outcome.CONVERSATION)
    if contact.last_conversation_at is not None:
        since = since.filter(happened_at__gt=contact.last_conversation_at)
    contact.attempts_since_conversation = since.count()
    if outcome == Outcome.MOVED_OUT and contact.status == Status.MOVED:
        contact.status, contact.unit_id = Status.ACTIVE, unit_id
    if (
        outcome == Outcome.DO_NOT_CONTACT
        and not remaining.filter(outcome=Outcome.DO_NOT_CONTACT).exists()
    ):
        contact.status = Status.ACTIVE
    contact.save()


def _refuse_unless_committee(actor: Membership) -> None:
    if not actor.sees_whole_organization:
        raise PermissionDenied(_("Only the committee and admins can do this."))


@transaction.atomic
def reassign_contacts(*, actor: Membership, contacts: Sequence[Contact], to_owner: User) -> int:
    """Hand contacts to another organizer in one step, keeping who had them before.

    1. Refuse an owner who is not an active organizer of the member's organization, and
       contacts of another organization: nothing changes.
    2. Lock the contacts and read their owners as they are now, not as the page showed.
    3. Write an OwnerChange for each contact that really changes hands.
    4. Set the owner in one UPDATE; the contacts are no longer orphaned. Open follow-ups
       the old owner had planned go to the new one.

    Returns how many contacts changed hands.
    """
    _refuse_unless_committee(actor)
    organizer = Membership.objects.filter(
        user=to_owner, organization_id=actor.organization_id, role=Role.ORGANIZER, active=True
    ).exists()
    if not organizer:
        raise ValidationError(
            {"to_owner": _("Contacts can only go to an active organizer of your organization.")}
        )
    ids = {contact.pk for contact in contacts}
    if not ids:
        raise ValidationError({"contacts": _("Tick at least one contact to reassign.")})
    locked = list(
        Contact.objects.select_for_update()
        .filter(pk__in=ids, organization_id=actor.organization_id)
        .exclude(status=Status.ERASED)
    )
    if len(locked) != len(ids):
        raise ValidationError(
            {"contacts": _("Some of those contacts are not in your organization.")}
        )
    moving = [contact for contact in locked if contact.owner_id != to_owner.pk]
    OwnerChange.objects.bulk_create(
        OwnerChange(
            contact=contact,
            from_owner_id=contact.owner_id,
            to_owner=to_owner,
            changed_by=actor.user,
        )
        for contact in moving
    )
    Contact.objects.filter(pk__in=ids).update(
        owner=to_owner, orphaned=False, updated_at=timezone.now()
    )
    # The next visits the old owner had planned go with the contact: theirs to make now.
    was_owned_by = {contact.pk: contact.owner_id for contact in moving}
    handed = [
        follow_up
        for follow_up in FollowUp.objects.open().filter(contact__in=moving)
        if follow_up.assigned_to_id == was_owned_by[follow_up.contact_id]
    ]
    for follow_up in handed:
        follow_up.assigned_to = to_owner
    bulk_update_with_history(handed, FollowUp, ["assigned_to"], default_user=actor.user)
    # The UPDATE above writes no history; one row per contact that changed hands does.
    for contact in moving:
        contact.owner = to_owner
    Contact.history.bulk_history_create(
        moving, update=True, default_user=actor.user, default_change_reason="reassigned"
    )
    return len(moving)


SNOOZE_AT_MOST = dt.timedelta(days=90)


@transaction.atomic
def snooze_contact(
    *, actor: Membership, contact: Contact, until: dt.date | None, reason: str
) -> None:
    """Take a contact off the lapse watch until a date, for a stated reason (away for the
    summer, in hospital). The open lapse ends now, kept as an episode: the committee
    decided, so the contact no longer waits for the next run of the job to leave the
    dashboard."""
    _refuse_unless_committee(actor)
    if contact.organization_id != actor.organization_id:
        raise ValidationError(_("That contact is not in your organization."))
    if contact.status == Status.ERASED:
        raise ValidationError(_("This person was erased on request."))
    today = timezone.localdate()
    errors: dict[str, str] = {}
    if not reason.strip():
        errors["reason"] = _("Say why the contact is snoozed.")
    if until is None:
        errors["until"] = _("Give the date the snooze ends.")
    elif until <= today:
        errors["until"] = _("The snooze must end after today.")
    elif until > today + SNOOZE_AT_MOST:
        errors["until"] = _("A snooze can last at most 90 days; look again then.")
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    # Saved from the row as it is now, not the caller's copy: the trail row is a snapshot
    # of every field, and a stale level or owner would read as a change nobody made.
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    locked.snoozed_until, locked.snooze_reason = until, reason.strip()
    cleared = locked.end_lapse(at=now)
    locked._history_user = actor.user  # type: ignore[attr-defined]
    locked.save(update_fields=["snoozed_until", "snooze_reason", *cleared, "updated_at"])
    contact.snoozed_until, contact.snooze_reason = until, reason.strip()
    for field, value in cleared.items():
        setattr(contact, field, value)


@transaction.atomic
def update_lapse_settings(
    *,
    actor: Membership,
    days_by_level: dict[int, int],
    lead_days_by_level: dict[int, int],
    grace_days: int,
    orphan_after_days: int,
    pace_alarm_percent: int,
    missed_meeting_days: int | None = None,
    turnout_alarm_percent: int | None = None,
) -> None:
    """The committee's cadence: per level, the days without a conversation and the days
    of warning; the organization's grace and orphan windows and its pace alarm; how soon
    a yes who missed a meeting is followed up, and the turnout that raises a meeting on
    the dashboard (each kept as it was when not given). The form
    has checked the values, the database checks them again; the job uses them from its
    next run."""
    _refuse_unless_committee(actor)
    for level, days in days_by_level.items():
        LapseThreshold.objects.update_or_create(
            organization_id=actor.organization_id,
            level=level,
            defaults={"days": days, "lead_days": lead_days_by_level[level]},
        )
    meetings = {
        name: value
        for name, value in [
            ("missed_meeting_days", missed_meeting_days),
            ("turnout_alarm_percent", turnout_alarm_percent),
        ]
        if value is not None
    }
    Organization.objects.filter(pk=actor.organization_id).update(
        lapse_grace_days=grace_days,
        orphan_after_days=orphan_after_days,
        pace_alarm_percent=pace_alarm_percent,
        **meetings,
    )


class Deactivated(NamedTuple):
    orphaned: int
    buildings_without_organizer: list[str]


@transaction.atomic
def deactivate_member(*, actor: Membership, membership: Membership) -> Deactivated:
    """Take a person out of the organization, keeping their history. Their turf ends and
    the contacts they own show as orphaned at once (the hourly job agrees: their owner has
    left). Returns how many contacts were orphaned, and the buildings left with no
    organizer."""
    lock_for_admin(actor, membership)
    if membership.pk == actor.pk:
        raise ValidationError(_("You can't deactivate yourself; ask another admin."))
    refuse_site_staff(actor, membership, "deactivate them")
    refuse_last_admin(membership, "deactivated")
    membership.active = False
    membership.save(update_fields=["active"])
    their_turf = Turf.objects.filter(organizer_id=membership.user_id)
    alone = (
        their_turf.exclude(building__turf__organizer__membership__active=True)
        .filter(building__archived=False)
        .order_by("building__name")
        .values_list("building__name", flat=True)
    )
    buildings_without_organizer = list(alone)
    their_turf.delete()
    orphaned = Contact.objects.filter(
        organization_id=actor.organization_id,
        owner_id=membership.user_id,
        status=Status.ACTIVE,
    ).update(orphaned=True)
    return Deactivated(orphaned, buildings_without_organizer)


class Invited(NamedTuple):
    invited: int
    already: int
    do_not_contact: int


# An invitation's answer is due the day before the meeting: the owner has a day to confirm.
ANSWER_BEFORE_MEETING = dt.timedelta(days=1)
MISSED_THE_MEETING = gettext_noop("missed the meeting")


def invitation_terms(meeting: Meeting) -> tuple[str, dt.date]:
    """What an invitation to `meeting` asks, and the day its answer is due: the day
    before the meeting, or today when that is already gone."""
    starts = timezone.localtime(meeting.starts_at)
    organization = meeting.organization
    with for_organization(organization):
        day = date_format(starts, "MONTH_DAY_FORMAT")
    question = in_working_language(organization, COME_TO, title=meeting.title, day=day)
    due_on = max(
        timezone.localdate(),
        timezone.localdate(meeting.starts_at) - ANSWER_BEFORE_MEETING,
    )
    return question[:200], due_on


@transaction.atomic
def change_meeting(*, actor: Membership, meeting: Meeting, changes: dict[str, object]) -> int:
    """Save what changed in `meeting` (a form's cleaned data) and bring its invitations
    along: each asks with the title and date as they now are, and one not yet answered is
    due the day before the new date, so the owner's warnings and the lapse follow the
    meeting. Returns how many invitations changed.

    1. Lock the meeting's row, so an invitation made at the same moment is made with the
       new terms or rewritten here, never left with the old ones.
    2. Save the meeting and its buildings.
    3. Rewrite the invitations that differ, with their trail rows."""
    if meeting.organization_id != actor.organization_id:
        raise ValidationError(_("That meeting is not in your organization."))
    Meeting.objects.select_for_update().filter(pk=meeting.pk).first()
    buildings = changes.pop("buildings", None)
    for name, value in changes.items():
        setattr(meeting, name, value)
    meeting.save()
    if buildings is not None:
        meeting.buildings.set(buildings)  # type: ignore[arg-type]
    question, due_on = invitation_terms(meeting)
    changed = []
    for ask in meeting.invitations.all():
        unanswered = ask.answer == Answer.PENDING
        if ask.question == question and (not unanswered or ask.due_on == due_on):
            continue
        ask.question = question
        if unanswered:
            ask.due_on = due_on
        changed.append(ask)
    bulk_update_with_history(changed, Ask, ["question", "due_on"], default_user=actor.user)
    return len(changed)


@transaction.atomic
def invite(
    *, actor: Membership, meeting: Meeting, contacts: Sequence[Contact] | QuerySet[Contact]
) -> Invited:
    """Ask each of `contacts` to come to `meeting`: one ask each, with the meeting as its
    subject, its answer due the day before. Invited twice is invited once; a contact of
    another organization is refused whole, and one who is not active (do not contact,
    moved, archived, erased) is left out and counted.

    1. Lock the meeting's row, so two invitations of the same list at once make one ask
       each (the unique constraint would otherwise fail the second whole).
    2. Leave out who is already invited and who may not be asked.
    3. Create the rest in one statement, with their trail rows."""
    if meeting.organization_id != actor.organization_id:
        raise ValidationError(_("That meeting is not in your organization."))
    if meeting.closed_at is not None or meeting.is_past:
        raise ValidationError(_("This meeting is over: nobody more can be invited to it."))
    people = list(contacts)
    if any(c.organization_id != actor.organization_id for c in people):
        raise ValidationError(_("Only residents of your organization can be invited."))
    Meeting.objects.select_for_update().filter(pk=meeting.pk).first()
    already = set(
        meeting.invitations.filter(contact__in=[c.pk for c in people]).values_list(
            "contact_id", flat=True
        )
    )
    asked = [c for c in people if c.status == Status.ACTIVE and c.pk not in already]
    question, due_on = invitation_terms(meeting)
    now = timezone.now()
    asks = [
        Ask(
            contact=c,
            meeting=meeting,
            question=question,
            asked_by=actor.user,
            asked_at=now,
            due_on=due_on,
        )
        for c in asked
    ]
    bulk_create_with_history(asks, Ask, default_user=actor.user)
    not_active = sum(1 for c in people if c.status != Status.ACTIVE and c.pk not in already)
    return Invited(invited=len(asks), already=len(already), do_not_contact=not_active)


@transaction.atomic
def mark_present(
    *,
    actor: Membership,
    meeting: Meeting,
    contact: Contact,
    idempotency_key: str,
    happened_at: dt.datetime | None = None,
) -> tuple[Attendance, bool]:
    """`contact` came to `meeting`: a conversation on the meeting channel (it resets the
    lapse clock, record_visit) and one attendance. A double tap, a second phone or the
    outbox sending again finds the attendance already recorded and records nothing.

    1. Refuse a meeting or contact of another organization, and a closed attendance.
    2. Lock the meeting's row: two phones marking the same person at once (each with its
       own key) take turns, and the second finds the first's attendance.
    3. Record the visit, then the attendance naming it."""
    if meeting.organization_id != actor.organization_id or (
        contact.organization_id != actor.organization_id
    ):
        raise ValidationError(_("That person or meeting is not in your organization."))
    if meeting.closed_at is not None:
        raise ValidationError(_("The attendance of this meeting is closed."))
    if contact.status == Status.ERASED:
        raise ValidationError(_("This person was erased on request."))
    Meeting.objects.select_for_update().filter(pk=meeting.pk).first()
    existing = Attendance.objects.filter(meeting=meeting, contact=contact).first()
    if existing is not None:
        return existing, False
    visit, created = record_visit(
        actor=actor,
        contact=contact,
        outcome=Outcome.CONVERSATION,
        channel=Channel.MEETING,
        idempotency_key=idempotency_key,
        happened_at=happened_at,
        note=in_working_language(actor.organization, CAME_TO, title=meeting.title),
        at_contacts_unit=False,
    )
    if not created:
        raise ValidationError(_("That submission key was used for something else; tap again."))
    invited = meeting.invitations.filter(contact=contact).exists()
    attendance = Attendance.objects.create(
        meeting=meeting, contact=contact, visit=visit, walk_in=not invited
    )
    return attendance, True


@transaction.atomic
def add_walk_in(
    *,
    actor: Membership,
    meeting: Meeting,
    name: str,
    submission_key: str,
    phone: str = "",
    unit: Unit | None = None,
) -> tuple[Attendance, bool]:
    """A person nobody knew who came to the meeting: a new resident owned by whoever met
    them (living at `unit` when they said where), marked present. The same key adds them
    once."""
    if not name.strip():
        raise ValidationError({"name": _("Give the walk-in's name, or a description.")})
    if unit is not None and unit.building.organization_id != actor.organization_id:
        raise ValidationError({"unit": _("That unit is not in your organization.")})
    contact = Contact.objects.filter(
        organization_id=actor.organization_id, submission_key=submission_key
    ).first()
    if contact is None:
        contact = Contact(
            organization_id=actor.organization_id,
            unit=unit,
            name=name.strip(),
            phone=phone.strip(),
            owner=actor.user,
            submission_key=submission_key,
        )
        contact.full_clean(exclude=["organization", "unit", "owner"])
        contact._history_user = actor.user  # type: ignore[attr-defined]
        contact.save()
    return mark_present(
        actor=actor, meeting=meeting, contact=contact, idempotency_key=submission_key
    )


@transaction.atomic
def close_attendance(*, meeting: Meeting) -> int:
    """Close `meeting`'s attendance and plan a follow-up for each yes who did not come,
    for their owner, within the organization's `missed_meeting_days` of the meeting.
    Returns how many were planned. Idempotent: the meeting is claimed by a conditional
    update, so a second run (the task and a committee member at once) plans nothing, and
    each follow-up carries the meeting's key besides."""
    now = timezone.now()
    if Meeting.objects.filter(pk=meeting.pk, closed_at=None).update(closed_at=now) != 1:
        return 0
    meeting.closed_at = now
    organization = Organization.objects.get(pk=meeting.organization_id)
    days = organization.missed_meeting_days
    planned_for = max(
        timezone.localdate(), timezone.localdate(meeting.starts_at) + dt.timedelta(days=days)
    )
    key = f"meeting-{meeting.pk}"
    no_shows = (
        Contact.objects.filter(asks__meeting=meeting, asks__answer=Answer.YES, status=Status.ACTIVE)
        .exclude(attendances__meeting=meeting)
        .exclude(follow_ups__submission_key=key)
    )
    missed = in_working_language(organization, MISSED_THE_MEETING)
    follow_ups = [
        FollowUp(
            contact=contact,
            planned_for=planned_for,
            assigned_to_id=contact.owner_id,
            purpose=missed,
            submission_key=key,
        )
        for contact in no_shows
    ]
    bulk_create_with_history(follow_ups, FollowUp)
    return len(follow_ups)


# The attendance stays open this long after the meeting starts, for late taps and phones
# that were offline; then the hourly task closes it.
ATTENDANCE_OPEN_FOR = dt.timedelta(hours=12)


def close_past_meetings() -> int:
    """Close every meeting whose attendance has been open long enough; the follow-ups
    planned, in all."""
    due = Meeting.objects.filter(
        closed_at=None, starts_at__lt=timezone.now() - ATTENDANCE_OPEN_FOR
    ).order_by("pk")
    return sum(close_attendance(meeting=meeting) for meeting in due)
