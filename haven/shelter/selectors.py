"""Reads for shelters: occupancy at any moment, and who is staying in a shelter now.

Stays are never deleted (a check-out closes one), so a shelter's occupancy at a past moment is
the people of the stays open then: checked in by the moment and not yet out.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Q, Sum
from django.utils import timezone

from haven.core.errors import NotFound
from haven.core.models import User
from haven.registry.selectors import audit_listed
from haven.shelter.allocation import may_allocate
from haven.shelter.models import Shelter, Stay


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


@dataclass(frozen=True)
class Resident:
    household: UUID
    person: UUID
    given_name: str
    family_name: str
    sex: str
    birth_date: str
    checked_in_at: datetime


def presence(user: User, shelter_code: str) -> tuple[Shelter, list[Resident]]:
    """Who is staying in a shelter now, household by household: names, sex and date of birth
    (what a roll call needs, not needs or documents). Each person listed is an audited read."""
    shelter = Shelter.objects.filter(code=shelter_code).first()
    if shelter is None or not may_allocate(user):
        raise NotFound("shelter", shelter_code)
    stays = (
        Stay.objects.filter(shelter=shelter, checked_out_at__isnull=True)
        .select_related("household")
        .prefetch_related("household__members")
        .order_by("checked_in_at", "id")
    )
    residents = [
        Resident(
            household=stay.household.uuid,
            person=person.uuid,
            given_name=person.given_name,
            family_name=person.family_name,
            sex=person.sex,
            birth_date=person.birth_date,
            checked_in_at=stay.checked_in_at,
        )
        for stay in stays
        for person in stay.household.members.all()
    ]
    sites = {
        person.uuid: person.site_id for stay in stays for person in stay.household.members.all()
    }
    if residents:
        audit_listed(
            user,
            "person.view",
            [(r.person, sites[r.person]) for r in residents],
            via="shelter_presence",
            query=shelter.code,
        )
    return shelter, residents
