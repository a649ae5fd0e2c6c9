"""Every write to shelters and stays. Each action owns its transaction and writes its audit row.

Capacity holds under concurrent check-ins: a check-in locks its shelter's row (PostgreSQL; on
SQLite the write transaction is already exclusive) before it counts who is there.
"""

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from haven.core import audit
from haven.core.errors import Conflict, FieldError, InvalidInput
from haven.core.models import User
from haven.registry.models import Household
from haven.registry.schemas import validated
from haven.shelter.models import Shelter, Stay
from haven.shelter.schemas import ShelterIn


def parse_shelter(payload: dict[str, object]) -> ShelterIn:
    return validated(ShelterIn, payload)


def add_shelter(*, data: ShelterIn, acting_user: User | None) -> Shelter:
    """A new shelter; a code or uuid already used is a conflict and writes nothing."""
    now = timezone.now()
    try:
        with transaction.atomic():
            shelter = Shelter.objects.create(
                uuid=data.uuid,
                code=data.code,
                name=data.name,
                kind=data.kind,
                province=data.province,
                town=data.town,
                beds=data.beds,
                rooms=data.rooms,
                step_free=data.step_free,
                created_at=now,
                created_by=acting_user,
            )
            _audit(acting_user, "shelter.add", shelter, {"beds": shelter.beds})
    except IntegrityError:
        raise Conflict(f"a shelter with code {data.code} or uuid {data.uuid} exists") from None
    return shelter


def occupancy(shelter: Shelter) -> int:
    """The people staying in the shelter now."""
    total = Stay.objects.filter(shelter=shelter, checked_out_at__isnull=True).aggregate(
        n=Sum("persons")
    )["n"]
    return int(total or 0)


def set_beds(*, shelter: Shelter, beds: int, acting_user: User | None) -> Shelter:
    """Change a shelter's capacity; never below the people staying in it now."""
    if beds < 0:
        raise InvalidInput([FieldError("beds", "must not be negative")])
    with transaction.atomic():
        locked = Shelter.objects.select_for_update().get(pk=shelter.pk)
        staying = occupancy(locked)
        if beds < staying:
            raise InvalidInput(
                [
                    FieldError(
                        "beds",
                        f"{beds} is fewer than the {staying} people staying in {locked.code}"
                        " now: check some out first",
                    )
                ]
            )
        before = locked.beds
        locked.beds = beds
        locked.save(update_fields=["beds"])
        _audit(acting_user, "shelter.beds", locked, {"from": before, "to": beds})
    return locked


def check_in(*, household: Household, shelter: Shelter, acting_user: User | None) -> Stay:
    """Check a whole household in; refused if it would not fit, is already in a shelter or its
    case is closed (reopen it first: haven.registry.actions.reopen_household)."""
    now = timezone.now()
    with transaction.atomic():
        locked = Shelter.objects.select_for_update().get(pk=shelter.pk)
        # The household's row locked too: a case closed at this moment waits for the check-in,
        # or the check-in sees it closed (haven.registry.actions.close_household locks it).
        closed_at = (
            Household.objects.select_for_update()
            .values_list("closed_at", flat=True)
            .get(pk=household.pk)
        )
        if closed_at is not None:
            raise Conflict(
                f"household {household.uuid}'s case is closed: reopen it before checking it in"
            )
        if Stay.objects.filter(household=household, checked_out_at__isnull=True).exists():
            raise Conflict(
                f"household {household.uuid} is already in a shelter: check it out first"
            )
        free = locked.beds - occupancy(locked)
        if household.member_count > free:
            raise InvalidInput(
                [
                    FieldError(
                        "shelter",
                        f"{locked.code} has {max(free, 0)} free beds; the household is"
                        f" {household.member_count} people (a household is never split)",
                    )
                ]
            )
        stay = Stay.objects.create(
            household=household,
            shelter=locked,
            persons=household.member_count,
            checked_in_at=now,
            checked_in_by=acting_user,
        )
        _audit(
            acting_user,
            "shelter.check_in",
            locked,
            {"household": str(household.uuid), "persons": stay.persons},
        )
    return stay


def check_out(*, household: Household, acting_user: User | None) -> Stay:
    now = timezone.now()
    with transaction.atomic():
        stay = (
            Stay.objects.select_for_update()
            .select_related("shelter")
            .filter(household=household, checked_out_at__isnull=True)
            .first()
        )
        if stay is None:
            raise Conflict(f"household {household.uuid} is not in a shelter")
        stay.checked_out_at = now
        stay.checked_out_by = acting_user
        stay.save(update_fields=["checked_out_at", "checked_out_by"])
        _audit(acting_user, "shelter.check_out", stay.shelter, {"household": str(household.uuid)})
    return stay


def _audit(user: User | None, action: str, shelter: Shelter, detail: dict[str, object]) -> None:
    audit.record(
        user=user,
        action=action,
        object_type="shelter",
        object_uuid=shelter.uuid,
        detail=detail,
    )
