"""Every write to the registry. Each action owns its transaction and writes its audit rows in it.

The desk page, the JSON API, `haven import` and the simulator all register people through
`register_households`, so validation, idempotency and audit are the same whatever the door.
"""

import enum
import uuid as uuid_lib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from haven.core import audit
from haven.core.bulk import insert_rows
from haven.core.errors import Conflict, FieldError, InvalidInput, NotFound
from haven.core.models import AuditEvent, Site, User
from haven.core.selectors import site_for_registration
from haven.names import detect_script, name_forms
from haven.registry import events, tallies
from haven.registry.models import (
    CrossingCount,
    Household,
    IdentityDocument,
    Person,
    PersonCorrection,
)
from haven.registry.schemas import (
    CrossingCountIn,
    Document,
    HouseholdIn,
    Member,
    birth_date_problem,
    validated,
)


class Outcome(enum.StrEnum):
    CREATED = "created"
    EXISTS = "exists"  # the same payload was registered before: a retry, answered with the record
    CONFLICT = "conflict"  # the UUID names a different registration
    NOT_FOUND = "not_found"  # unknown site, or one this user may not register at


@dataclass
class RegistrationResult:
    uuid: UUID
    outcome: Outcome
    # The stored household: the new one, the one a retry matched, or the one a conflicting
    # uuid already names (never shown for a conflict; kept to judge repeats within a batch).
    household: Household | None = None
    message: str = ""


def register_household(*, data: HouseholdIn, acting_user: User) -> tuple[Household, bool]:
    """Register one household with all its members. Returns (household, created).

    A retry with the same payload returns the stored household with created=False; a different
    payload under the same UUID raises Conflict; a site the user may not write to raises NotFound.
    """
    (result,) = register_households(items=[data], acting_user=acting_user)
    if result.outcome is Outcome.NOT_FOUND:
        raise NotFound("site", data.site)
    if result.outcome is Outcome.CONFLICT:
        raise Conflict(result.message)
    assert result.household is not None  # noqa: S101 - created and exists carry the household
    return result.household, result.outcome is Outcome.CREATED


def register_households(
    *, items: Sequence[HouseholdIn], acting_user: User
) -> list[RegistrationResult]:
    """Register many households: all-or-nothing per household, one result per item, in order.

    The common case (all new) is written with a few bulk inserts in one transaction. If a
    concurrent writer takes one of the UUIDs meanwhile, the batch falls back to one savepoint per
    household so that the others still land.
    """
    results: list[RegistrationResult | None] = [None] * len(items)
    sites: dict[str, Site | None] = {}
    digests = [item.digest() for item in items]

    pending: list[int] = []
    first_index: dict[UUID, int] = {}
    member_owner: dict[UUID, UUID] = {}
    for index, item in enumerate(items):
        if item.site not in sites:
            try:
                sites[item.site] = site_for_registration(acting_user, item.site)
            except NotFound:
                sites[item.site] = None
        if sites[item.site] is None:
            results[index] = RegistrationResult(
                item.uuid, Outcome.NOT_FOUND, message=f"site {item.site} not found"
            )
            continue
        if item.uuid in first_index:
            # The same household twice in one batch: settled after the first is written.
            continue
        clash = next((m.uuid for m in item.members if m.uuid in member_owner), None)
        if clash is not None:
            results[index] = RegistrationResult(
                item.uuid,
                Outcome.CONFLICT,
                message=_member_conflict_message(clash),
            )
            continue
        first_index[item.uuid] = index
        for member in item.members:
            member_owner[member.uuid] = item.uuid
        pending.append(index)

    _settle_existing(items, digests, pending, results, check_members=False)
    new = [i for i in pending if results[i] is None]
    if new:
        try:
            with transaction.atomic():
                created = _write(items, digests, new, sites, acting_user)
        except IntegrityError:
            created = _write_one_by_one(items, digests, new, sites, acting_user, results)
        for index, household in created.items():
            results[index] = RegistrationResult(items[index].uuid, Outcome.CREATED, household)
        if created:
            household_ids = [household.pk for household in created.values()]
            transaction.on_commit(
                lambda: events.households_registered.send_robust(
                    sender=Household, household_ids=household_ids
                )
            )

    # Repeats inside the batch answer like a retry after the first: exists or conflict.
    for index, item in enumerate(items):
        if results[index] is None:
            first = results[first_index[item.uuid]]
            assert first is not None  # noqa: S101 - every first occurrence has a result by now
            stored = first.household
            if stored is not None and stored.payload_digest == digests[index]:
                results[index] = RegistrationResult(item.uuid, Outcome.EXISTS, stored)
            else:
                results[index] = RegistrationResult(
                    item.uuid, Outcome.CONFLICT, message=_conflict_message(item.uuid)
                )
    return [r for r in results if r is not None]


def _member_conflict_message(person_uuid: UUID) -> str:
    # Names no other record: the household holding that uuid may be at a site this user can't see.
    return (
        f"member uuid {person_uuid} is already used for another person;"
        " each member needs a new uuid"
    )


def _conflict_message(household_uuid: UUID) -> str:
    return (
        f"household {household_uuid} was already registered with different details;"
        " a retry must send the same payload, and a new household needs a new uuid"
    )


def _settle_existing(
    items: Sequence[HouseholdIn],
    digests: list[str],
    pending: list[int],
    results: list[RegistrationResult | None],
    *,
    check_members: bool,
) -> None:
    """Answer items whose household (and, if asked, member) UUIDs are already stored.

    The bulk path checks households only: a member UUID reused across households is rare, and
    the unique index catches it, sending the batch down the one-by-one path that checks members.
    """
    if not pending:
        return
    uuids = [items[i].uuid for i in pending]
    existing = {h.uuid: h for h in Household.objects.filter(uuid__in=uuids).select_related("site")}
    member_uuids = [m.uuid for i in pending for m in items[i].members] if check_members else []
    taken: dict[UUID, UUID] = {}
    for chunk_start in range(0, len(member_uuids), 5000):
        chunk = member_uuids[chunk_start : chunk_start + 5000]
        for person_uuid, household_uuid in Person.objects.filter(uuid__in=chunk).values_list(
            "uuid", "household__uuid"
        ):
            taken[person_uuid] = household_uuid
    for index in pending:
        item = items[index]
        household = existing.get(item.uuid)
        if household is not None:
            if household.payload_digest == digests[index]:
                results[index] = RegistrationResult(item.uuid, Outcome.EXISTS, household)
            else:
                results[index] = RegistrationResult(
                    item.uuid, Outcome.CONFLICT, household, _conflict_message(item.uuid)
                )
            continue
        clash = next((m.uuid for m in item.members if m.uuid in taken), None)
        if clash is not None:
            results[index] = RegistrationResult(
                item.uuid,
                Outcome.CONFLICT,
                message=_member_conflict_message(clash),
            )


def _write(
    items: Sequence[HouseholdIn],
    digests: list[str],
    indexes: list[int],
    sites: dict[str, Site | None],
    user: User,
) -> dict[int, Household]:
    """Insert the households, their members, documents and audit rows, a few statements in all."""
    now = timezone.now()
    households = []
    for index in indexes:
        item = items[index]
        households.append(
            Household(
                uuid=item.uuid,
                site=sites[item.site],
                registered_at=item.registered_at,
                origin_settlement=item.origin_settlement,
                phone=item.phone,
                member_count=len(item.members),
                registered_by=user,
                created_at=now,
                payload_digest=digests[index],
            )
        )
    ids = insert_rows(Household, [_household_row(h) for h in households], key="uuid")
    for household in households:
        household.pk = ids[household.uuid]
    person_rows: list[dict[str, Any]] = []
    documents: list[tuple[UUID, Document]] = []
    events: list[dict[str, Any]] = []
    for index, household in zip(indexes, households, strict=True):
        item = items[index]
        on = item.registered_at.date()
        for member in item.members:
            person_rows.append(_person_row(member, household.pk, household.site_id, on))
            documents.extend((member.uuid, doc) for doc in member.documents)
        events.append(
            audit.audit_row(
                user=user,
                action="household.register",
                object_type="household",
                object_uuid=household.uuid,
                site_id=household.site_id,
                detail={"members": [str(m.uuid) for m in item.members]},
                at=now,
            )
        )
    tallies.count_new(households, person_rows)
    # The new persons' ids are needed only to attach documents to them.
    owners = insert_rows(Person, person_rows, key="uuid" if documents else None)
    if documents:
        insert_rows(
            IdentityDocument,
            [
                {
                    "person_id": owners[owner],
                    "kind": doc.kind,
                    "number": doc.number,
                    "issuing_country": doc.issuing_country,
                }
                for owner, doc in documents
            ],
        )
    insert_rows(AuditEvent, events)
    return dict(zip(indexes, households, strict=True))


def _household_row(household: Household) -> dict[str, Any]:
    return {
        "uuid": household.uuid,
        "site_id": household.site_id,
        "registered_at": household.registered_at,
        "origin_settlement": household.origin_settlement,
        "phone": household.phone,
        "member_count": household.member_count,
        "registered_by_id": household.registered_by_id,
        "created_at": household.created_at,
        "payload_digest": household.payload_digest,
    }


def _write_one_by_one(
    items: Sequence[HouseholdIn],
    digests: list[str],
    indexes: list[int],
    sites: dict[str, Site | None],
    user: User,
    results: list[RegistrationResult | None],
) -> dict[int, Household]:
    created: dict[int, Household] = {}
    for index in indexes:
        try:
            with transaction.atomic():
                created.update(_write(items, digests, [index], sites, user))
        except IntegrityError:
            _settle_existing(items, digests, [index], results, check_members=True)
            if results[index] is None:
                raise
    return created


def name_search_key(*names: str) -> str:
    return " ".join(name.casefold() for name in names if name)


def _person_row(member: Member, household_id: int, site_id: int, on: date) -> dict[str, Any]:
    """A person as database values (attname → value), ready for insert_rows."""
    year, month, day, estimated = member.birth_parts(on)
    disability = member.disability
    return {
        "uuid": member.uuid,
        "household_id": household_id,
        "site_id": site_id,
        "relationship": member.relationship,
        "given_name": member.given_name,
        "given_name_script": detect_script(member.given_name).value,
        "family_name": member.family_name,
        "family_name_script": detect_script(member.family_name).value,
        "patronymic": member.patronymic,
        "patronymic_script": detect_script(member.patronymic).value,
        "name_search": name_search_key(member.given_name, member.family_name, member.patronymic),
        "given_key": name_forms(member.given_name, "given").key,
        "family_key": name_forms(member.family_name, "family").key,
        "patronymic_key": name_forms(member.patronymic, "patronymic").key,
        "identity": member.uuid,
        "sex": member.sex,
        "birth_year": year,
        "birth_month": month,
        "birth_day": day,
        "birth_year_estimated": estimated,
        "phone": member.phone,
        "specific_needs": member.specific_needs,
        "wg_seeing": disability.seeing,
        "wg_hearing": disability.hearing,
        "wg_walking": disability.walking,
        "wg_remembering": disability.remembering,
        "wg_selfcare": disability.selfcare,
        "wg_communicating": disability.communicating,
    }


# Fields a correction may change, and how each is read back into the registration schema.
CORRECTABLE_FIELDS = (
    "given_name",
    "family_name",
    "patronymic",
    "sex",
    "birth_date",
    "relationship",
    "phone",
    "specific_needs",
)


def member_payload(person: Person) -> dict[str, Any]:
    """A stored person as the registration schema's member, to re-validate a correction."""
    payload: dict[str, Any] = {
        "uuid": str(person.uuid),
        "given_name": person.given_name,
        "family_name": person.family_name,
        "patronymic": person.patronymic,
        "sex": person.sex,
        "relationship": person.relationship,
        "phone": person.phone,
        "specific_needs": list(person.specific_needs),
    }
    if person.birth_year_estimated:
        registered = local_date(person.household.registered_at, person.site.time_zone)
        payload["estimated_age"] = max(0, registered.year - person.birth_year)
    else:
        payload["birth_date"] = person.birth_date
    return payload


def correct_person(
    *,
    person: Person,
    field: str,
    value: Any,
    reason: str,
    acting_user: User,
    correction_uuid: UUID | None = None,
) -> PersonCorrection:
    """Change one field of a person, keeping the old value, the reason and who did it.

    The caller has already fetched `person` through a scoped selector. The new value passes the
    same validation as at registration. A retry with the same correction_uuid returns the stored
    correction instead of correcting twice.
    """
    correction_uuid = correction_uuid or uuid_lib.uuid4()
    _refuse_anonymised(person)
    if field not in CORRECTABLE_FIELDS:
        raise InvalidInput([_error("field", f"{field!r} cannot be corrected")])
    reason = reason.strip()
    if not reason:
        raise InvalidInput([_error("reason", "a correction needs a reason")])
    if len(reason) > 500:
        raise InvalidInput([_error("reason", "must be at most 500 characters")])
    registered_on = local_date(person.household.registered_at, person.site.time_zone)
    before = member_payload(person)
    after = dict(before)
    if field == "birth_date":
        after.pop("estimated_age", None)
    after[field] = value
    member = validated(Member, after)
    new_value = getattr(member, field)
    existing = PersonCorrection.objects.filter(uuid=correction_uuid).first()
    if existing is not None:
        return _replayed_correction(existing, person=person, field=field, value=new_value)
    if field == "birth_date":
        problem = birth_date_problem(member, registered_on)
        if problem:
            raise InvalidInput([_error("birth_date", problem)])
    old_value = before.get(field)
    if field == "relationship" and old_value != value and "head" in (old_value, value):
        raise InvalidInput(
            [_error("value", "a correction cannot make or unmake the head of a household")]
        )
    try:
        return _apply_correction(
            person=person,
            member=member,
            field=field,
            old_value=old_value,
            reason=reason,
            registered_on=registered_on,
            acting_user=acting_user,
            correction_uuid=correction_uuid,
        )
    except IntegrityError:
        # A double submit raced this one and stored the same correction uuid first.
        existing = PersonCorrection.objects.filter(uuid=correction_uuid).first()
        if existing is None:
            raise
        return _replayed_correction(existing, person=person, field=field, value=new_value)


def _refuse_anonymised(person: Person) -> None:
    if person.anonymised_at is not None:
        # Retention removed what identified the person; nothing may bring it back.
        raise Conflict(f"person {person.uuid} was anonymised and cannot be corrected")


def _replayed_correction(
    existing: PersonCorrection, *, person: Person, field: str, value: Any
) -> PersonCorrection:
    """A retry of a stored correction returns it; the same uuid for another change is refused."""
    if (existing.person_id, existing.field) != (person.pk, field) or existing.new_value != value:
        raise Conflict(f"correction {existing.uuid} was already used for another change")
    return existing


def _apply_correction(
    *,
    person: Person,
    member: Member,
    field: str,
    old_value: Any,
    reason: str,
    registered_on: date,
    acting_user: User,
    correction_uuid: UUID,
) -> PersonCorrection:
    with transaction.atomic():
        person = Person.objects.select_for_update().select_related("household").get(pk=person.pk)
        # Checked again under the lock: retention may have anonymised the record since it was
        # read, and the columns below were built from that earlier copy (its names).
        _refuse_anonymised(person)
        updated = _person_row(member, person.household_id, person.site_id, registered_on)
        new_value: Any = getattr(member, field)
        counted = tallies.stored_person_keys(person)
        changed = []
        for name in _columns_for(field):
            setattr(person, name, updated[name])
            changed.append(name)
        person.save(update_fields=changed)
        tallies.recount(counted, tallies.stored_person_keys(person))
        correction = PersonCorrection.objects.create(
            uuid=correction_uuid,
            person=person,
            field=field,
            old_value=old_value,
            new_value=new_value,
            reason=reason,
            corrected_by=acting_user,
            corrected_at=timezone.now(),
        )
        audit.record(
            user=acting_user,
            action="person.correct",
            object_type="person",
            object_uuid=person.uuid,
            site=person.site,
            detail={"field": field, "correction": str(correction.uuid)},
        )
    return correction


def local_date(moment: datetime, time_zone: str) -> date:
    """The calendar date of `moment` where the site is: dates of birth are judged against it."""
    return moment.astimezone(ZoneInfo(time_zone)).date()


def _columns_for(field: str) -> list[str]:
    if field == "birth_date":
        return ["birth_year", "birth_month", "birth_day", "birth_year_estimated"]
    if field in {"given_name", "family_name", "patronymic"}:
        key = field.removesuffix("_name") + "_key"
        return [field, f"{field}_script", "name_search", key]
    return [field]


def _error(field: str, message: str) -> FieldError:
    return FieldError(field=field, message=message)


def record_crossing_count(
    *, data: CrossingCountIn, acting_user: User, _retry: bool = True
) -> tuple[CrossingCount, bool]:
    """Store the people and vehicles counted at a site in one period. Idempotent on data.uuid."""
    site = site_for_registration(acting_user, data.site)
    digest = data.digest()
    existing = CrossingCount.objects.filter(uuid=data.uuid).first()
    if existing is not None:
        if existing.payload_digest != digest:
            raise Conflict(f"crossing count {data.uuid} was already recorded with other figures")
        return existing, False
    now: datetime = timezone.now()
    try:
        with transaction.atomic():
            count = CrossingCount.objects.create(
                uuid=data.uuid,
                site=site,
                period_start=data.period_start,
                period_end=data.period_end,
                people=data.people,
                vehicles=data.vehicles,
                recorded_by=acting_user,
                recorded_at=now,
                payload_digest=digest,
            )
            audit.record(
                user=acting_user,
                action="crossing.record",
                object_type="crossing_count",
                object_uuid=count.uuid,
                site=site,
                detail={"people": data.people, "vehicles": data.vehicles},
                at=now,
            )
    except IntegrityError:
        # A concurrent retry may have won the race: answer as a retry would be answered, once.
        if not _retry:
            raise
        return record_crossing_count(data=data, acting_user=acting_user, _retry=False)
    return count, True


# --- closing a household's case --------------------------------------------------------------


def close_household(*, household: Household, reason: str, acting_user: User) -> Household:
    """Close a household's case: Haven no longer serves it (departed, resettled, …). Its
    records stay as they are until the retention period has passed since `closed_at`, when
    `haven retention` anonymises them (haven.registry.retention). Who may close is the caller's
    check (`may_close_households`)."""
    if reason not in Household.ClosedReason.values:
        choices = ", ".join(Household.ClosedReason.values)
        raise InvalidInput([_error("reason", f"must be one of {choices}")])
    with transaction.atomic():
        locked = Household.objects.select_for_update().get(pk=household.pk)
        if locked.closed_at is not None:
            raise Conflict(f"household {locked.uuid} is already closed")
        locked.closed_at = timezone.now()
        locked.closed_reason = reason
        locked.save(update_fields=["closed_at", "closed_reason"])
        audit.record(
            user=acting_user,
            action="household.close",
            object_type="household",
            object_uuid=locked.uuid,
            site=locked.site,
            detail={"reason": reason},
            at=locked.closed_at,
        )
    return locked


def reopen_household(*, household: Household, acting_user: User) -> Household:
    """Undo a closure made in error, while the records are still whole (not yet anonymised)."""
    with transaction.atomic():
        locked = Household.objects.select_for_update().get(pk=household.pk)
        if locked.anonymised_at is not None:
            raise Conflict(f"household {locked.uuid} was anonymised and cannot be reopened")
        if locked.closed_at is None:
            raise Conflict(f"household {locked.uuid} is not closed")
        was = locked.closed_reason
        locked.closed_at = None
        locked.closed_reason = ""
        locked.save(update_fields=["closed_at", "closed_reason"])
        audit.record(
            user=acting_user,
            action="household.reopen",
            object_type="household",
            object_uuid=locked.uuid,
            site=locked.site,
            detail={"was": was},
        )
    return locked


def may_close_households(user: User) -> bool:
    """Closing a case ends Haven's service to a household (and starts its retention period):
    coordinators and administrators."""
    return user.is_active and user.role in {User.Role.COORDINATOR, User.Role.ADMIN}
