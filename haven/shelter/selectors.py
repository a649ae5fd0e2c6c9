"""Reads for shelters: which shelters a user works for, occupancy at any moment, and who is staying
in a shelter now.

A shelter manager works for the shelters they manage (`Shelter.managers`); coordinators and
administrators for every shelter; nobody else for any. A shelter outside a user's scope is
NotFound, exactly as one that does not exist.

Stays are never deleted (a check-out closes one), so a shelter's occupancy at a past moment is
the people of the stays open then: checked in by the moment and not yet out.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from haven.core.errors import NotFound
from haven.core.models import User
from haven.core.selectors import sees_all_sites
from haven.registry.models import Household, Person
from haven.registry.selectors import audit_listed
from haven.shelter.models import Shelter, Stay

# A member with a mobility need (Washington Group walking 3 or 4, or one of these UNHCR codes)
# needs a step-free shelter. The codes themselves are protection data and are never shown here.
MOBILITY_CODES = frozenset({"DS-PM", "DS-PS", "ER-FR"})


def needs_step_free(walking: int | None, codes: Iterable[str] | None) -> bool:
    return (walking is not None and walking >= 3) or bool(MOBILITY_CODES.intersection(codes or ()))


def runs_shelters(user: User | None) -> bool:
    """Coordinators, administrators and shelter managers work with shelters."""
    if user is None or not user.is_active:
        return False
    return sees_all_sites(user) or user.role == User.Role.SHELTER_MANAGER


def shelters_for(user: User | None) -> QuerySet[Shelter]:
    """The shelters this user works for: all for a coordinator or an administrator, their own for
    a shelter manager, none for anyone else."""
    if user is None or not runs_shelters(user):
        return Shelter.objects.none()
    if sees_all_sites(user):
        return Shelter.objects.all()
    return Shelter.objects.filter(managers=user)


def shelter_for(user: User | None, code: str) -> Shelter:
    """The shelter `code` if this user works for it; otherwise NotFound (the same answer as for a
    code that does not exist)."""
    shelter = shelters_for(user).filter(code=code).first()
    if shelter is None:
        raise NotFound("shelter", code)
    return shelter


def occupancy_at(moment: datetime) -> dict[int, int]:
    """People staying in each shelter at `moment` (timezone-aware), by shelter id; shelters
    with nobody are left out."""
    if timezone.is_naive(moment):
        raise ValueError(f"moment must be timezone-aware, not {moment.isoformat()}")
    open_then = Stay.objects.filter(checked_in_at__lte=moment).filter(
        Q(checked_out_at__isnull=True) | Q(checked_out_at__gt=moment)
    )
    return {
        shelter_id: int(persons)
        for shelter_id, persons in open_then.values("shelter_id")
        .annotate(persons=Sum("persons"))
        .values_list("shelter_id", "persons")
        .order_by()
        if persons
    }


def housed_at(moment: datetime) -> int:
    """People in an open stay at `moment`, in every shelter."""
    return sum(occupancy_at(moment).values())


@dataclass(frozen=True)
class Resident:
    household: UUID
    person: UUID
    given_name: str
    family_name: str
    sex: str
    birth_date: str
    checked_in_at: datetime
    head: bool = False
    needs_step_free: bool = False

    @property
    def birth_year(self) -> str:
        return self.birth_date[:4]


@dataclass(frozen=True)
class StayingHousehold:
    """One household in a shelter, as its presence list shows it."""

    household: UUID
    persons: int
    checked_in_at: datetime
    members: tuple[Resident, ...]

    @property
    def head_name(self) -> str:
        head = next((m for m in self.members if m.head), self.members[0] if self.members else None)
        return f"{head.given_name} {head.family_name}" if head is not None else ""

    @property
    def needs_step_free(self) -> bool:
        return any(m.needs_step_free for m in self.members)


def presence(user: User, shelter_code: str) -> tuple[Shelter, list[Resident]]:
    """Who is staying in a shelter now, household by household (heads first): names, sex and
    date of birth, and whether a step-free place is needed (what a roll call and a room plan
    need; never needs codes, documents, phones or notes). For a coordinator, an administrator or
    a manager of that shelter; each person listed is an audited read."""
    shelter = shelter_for(user, shelter_code)
    stays = list(
        Stay.objects.filter(shelter=shelter, checked_out_at__isnull=True)
        .select_related("household")
        .order_by("checked_in_at", "id")
    )
    residents: list[Resident] = []
    sites: list[tuple[UUID, int]] = []
    by_household: dict[int, list[Person]] = {}
    # Only the columns a roll call needs, and the two that decide a step-free place.
    people = Person.objects.filter(household_id__in=[s.household_id for s in stays]).only(
        "uuid",
        "household_id",
        "site_id",
        "relationship",
        "given_name",
        "family_name",
        "sex",
        "birth_year",
        "birth_month",
        "birth_day",
        "wg_walking",
        "specific_needs",
    )
    for person in people.order_by("pk"):
        by_household.setdefault(person.household_id, []).append(person)
    for stay in stays:
        household = by_household.get(stay.household_id, [])
        household.sort(key=lambda p: (p.relationship != Person.Relationship.HEAD, p.pk))
        for person in household:
            residents.append(
                Resident(
                    household=stay.household.uuid,
                    person=person.uuid,
                    given_name=person.given_name,
                    family_name=person.family_name,
                    sex=person.sex,
                    birth_date=person.birth_date,
                    checked_in_at=stay.checked_in_at,
                    head=person.relationship == Person.Relationship.HEAD,
                    needs_step_free=needs_step_free(person.wg_walking, person.specific_needs),
                )
            )
            sites.append((person.uuid, person.site_id))
    if residents:
        audit_listed(user, "person.view", sites, via="shelter_presence", query=shelter.code)
    return shelter, residents


def staying_households(residents: Sequence[Resident]) -> list[StayingHousehold]:
    """The presence list grouped by household, in the order listed."""
    groups: dict[UUID, list[Resident]] = {}
    for resident in residents:
        groups.setdefault(resident.household, []).append(resident)
    return [
        StayingHousehold(
            household=household,
            persons=len(members),
            checked_in_at=members[0].checked_in_at,
            members=tuple(members),
        )
        for household, members in groups.items()
    ]


def staying_household(user: User, shelter: Shelter, household_uuid: UUID) -> Household:
    """A household staying in `shelter` now, for a user who works for that shelter; otherwise
    NotFound."""
    if not shelters_for(user).filter(pk=shelter.pk).exists():
        raise NotFound("household", household_uuid)
    stay = (
        Stay.objects.filter(
            shelter=shelter, household__uuid=household_uuid, checked_out_at__isnull=True
        )
        .select_related("household")
        .first()
    )
    if stay is None:
        raise NotFound("household", household_uuid)
    return stay.household


@dataclass(frozen=True)
class Head:
    """The head of a waiting household, as the allocation page shows it: a name, nothing more."""

    given_name: str
    family_name: str

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


def heads_of(user: User, household_keys: Sequence[int], *, via: str) -> dict[int, Head]:
    """The heads' names of these households (by Household.pk), for a user who works with
    shelters; each head shown is an audited read."""
    if not runs_shelters(user) or not household_keys:
        return {}
    rows = list(
        Person.objects.filter(
            household_id__in=list(household_keys), relationship=Person.Relationship.HEAD
        ).values_list("household_id", "uuid", "site_id", "given_name", "family_name")
    )
    if rows:
        audit_listed(
            user, "person.view", [(uuid, site) for _h, uuid, site, _g, _f in rows], via=via
        )
    return {household: Head(given, family) for household, _u, _s, given, family in rows}
