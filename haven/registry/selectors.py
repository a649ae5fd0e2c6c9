"""Reads of the registry, always scoped to what the user may see.

Fetching one record by UUID is a permission check: a record outside the user's sites is
NotFound, exactly as a record that does not exist.
"""

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from haven.core import audit
from haven.core.bulk import insert_rows
from haven.core.errors import FieldError, InvalidInput, NotFound
from haven.core.models import AuditEvent, User
from haven.core.selectors import sites_with_personal_data
from haven.names import name_forms
from haven.registry.models import CrossingCount, Household, Person


def households_for(user: User) -> QuerySet[Household]:
    return Household.objects.filter(site__in=sites_with_personal_data(user))


def persons_for(user: User) -> QuerySet[Person]:
    return Person.objects.filter(site__in=sites_with_personal_data(user))


def household_for(user: User, household_uuid: UUID, *, purpose: str | None = None) -> Household:
    """One household with its members. Audited as a read when `purpose` says why it was shown;
    purpose=None is for re-reading a record the same request just wrote (its write is audited)
    or for a lookup that shows no personal data."""
    household = (
        households_for(user)
        .select_related("site")
        .prefetch_related("members__documents")
        .filter(uuid=household_uuid)
        .first()
    )
    if household is None:
        raise NotFound("household", household_uuid)
    if purpose is not None:
        audit.record(
            user=user,
            action="household.view",
            object_type="household",
            object_uuid=household.uuid,
            site=household.site,
            detail={"via": purpose},
        )
    return household


def person_for(user: User, person_uuid: UUID, *, purpose: str) -> Person:
    """One person's full record; the read is audited with its purpose (page, api, …)."""
    person = (
        persons_for(user)
        .select_related("household", "site")
        .prefetch_related("documents", "corrections__corrected_by")
        .filter(uuid=person_uuid)
        .first()
    )
    if person is None:
        raise NotFound("person", person_uuid)
    audit.record(
        user=user,
        action="person.view",
        object_type="person",
        object_uuid=person.uuid,
        site=person.site,
        detail={"via": purpose},
    )
    return person


def unique_people(user: User) -> int:
    """People at the user's sites, each counted once however many records they have."""
    return persons_for(user).values("identity").distinct().count()


def search_persons(user: User, query: str, *, site_code: str | None = None) -> QuerySet[Person]:
    """Registrations matching a name, phone, document number or UUID, newest first."""
    persons = persons_for(user).select_related("household", "site")
    if site_code:
        persons = persons.filter(site__code=site_code)
    query = query.strip()
    if query:
        condition = Q()
        for term in query.split()[:4]:
            # A name in any script or spelling: Harutyunyan finds Հարությունյան and Арутюнян.
            key = name_forms(term, "family").key
            given_key = name_forms(term, "given").key
            condition &= (
                Q(name_search__contains=term.casefold())
                | (Q(family_key=key) if key else Q(pk__in=[]))
                | (Q(given_key=given_key) if given_key else Q(pk__in=[]))
                | Q(phone__contains=term)
                | Q(household__phone__contains=term)
                | Q(documents__number__iexact=term)
            )
        with contextlib.suppress(ValueError):
            condition |= Q(uuid=UUID(query)) | Q(household__uuid=UUID(query))
        persons = persons.filter(condition).distinct()
    return persons.order_by("-household__registered_at", "-household_id", "id")


def audit_listed(
    user: User | None,
    action: str,
    records: Sequence[tuple[UUID, int]],
    *,
    via: str,
    query: str = "",
) -> None:
    """One audit row per record shown in a list, so each appears in its own audit trail."""
    now = timezone.now()
    detail: dict[str, str] = {"via": via, "query": query} if query else {"via": via}
    insert_rows(
        AuditEvent,
        [
            audit.audit_row(
                user=user,
                action=action,
                object_type=action.split(".")[0],
                object_uuid=record_uuid,
                site_id=site_id,
                detail=detail,
                at=now,
            )
            for record_uuid, site_id in records
        ],
    )


@dataclass
class Page:
    households: list[Household]
    next_cursor: str | None


def _after_cursor(households: QuerySet[Household], cursor: str) -> int:
    """The position after the household a cursor names. A cursor is the last household's UUID:
    it says nothing about how many households exist, and only works for households the user sees.
    """
    bad = InvalidInput([FieldError("cursor", "is not a cursor this server gave out")])
    try:
        last = UUID(cursor)
    except ValueError:
        raise bad from None
    pk = households.filter(uuid=last).values_list("pk", flat=True).first()
    if pk is None:
        raise bad
    return pk


def page_of_households(
    user: User, *, site_code: str | None, cursor: str | None, limit: int
) -> Page:
    """Households in insertion order, a page at a time; the cursor is stable under new inserts."""
    households = households_for(user).select_related("site").prefetch_related("members__documents")
    if site_code:
        households = households.filter(site__code=site_code)
    if cursor:
        households = households.filter(pk__gt=_after_cursor(households, cursor))
    rows = list(households.order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    audit_listed(user, "household.list", [(h.uuid, h.site_id) for h in rows], via="api")
    return Page(rows, str(rows[-1].uuid) if more and rows else None)


def crossing_counts_for(user: User, *, site_code: str | None) -> QuerySet[CrossingCount]:
    """Crossing counts are aggregate figures: every active role may read them."""
    if not user.is_active:
        return CrossingCount.objects.none()
    counts = CrossingCount.objects.select_related("site")
    if site_code:
        counts = counts.filter(site__code=site_code)
    return counts.order_by("period_start", "site__code")
