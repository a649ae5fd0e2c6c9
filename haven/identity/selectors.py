"""Reads of identity data, scoped to what the user may see.

Caseworkers review the pairs that touch their assigned sites: the other record may be at any site
(finding those is the point), and is shown for the comparison only. Coordinators and
administrators see every pair. Registrars see candidates at the desk (haven.identity.check), not
the queue.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from django.db.models import Q, QuerySet

from haven.core.errors import NotFound
from haven.core.models import User
from haven.core.selectors import sees_all_sites, sites_with_personal_data
from haven.identity.models import CandidatePair, Link
from haven.registry.models import Person
from haven.registry.selectors import audit_listed

REVIEWING_ROLES = frozenset({User.Role.CASEWORKER, User.Role.COORDINATOR, User.Role.ADMIN})


def may_review(user: User) -> bool:
    return user.is_active and user.role in REVIEWING_ROLES


def pairs_for(user: User) -> QuerySet[CandidatePair]:
    if not may_review(user):
        return CandidatePair.objects.none()
    if sees_all_sites(user):
        return CandidatePair.objects.all()
    sites = sites_with_personal_data(user)
    return CandidatePair.objects.filter(Q(person_a__site__in=sites) | Q(person_b__site__in=sites))


def review_queue(
    user: User, *, status: str | None = None, band: str | None = None, site_code: str | None = None
) -> QuerySet[CandidatePair]:
    """Pairs for review, most probable first. Default: those needing a decision."""
    pairs = pairs_for(user).select_related(
        "person_a__site", "person_b__site", "person_a__household", "person_b__household"
    )
    pairs = pairs.filter(status=status or CandidatePair.Status.PENDING)
    if band:
        pairs = pairs.filter(band=band)
    if site_code:
        pairs = pairs.filter(Q(person_a__site__code=site_code) | Q(person_b__site__code=site_code))
    return pairs.order_by("-match_probability", "id")


def audit_pairs_listed(user: User, pairs: Sequence[CandidatePair], *, via: str) -> None:
    """A list of pairs shows both records' names: each shown record gets its audit row."""
    shown = {}
    for pair in pairs:
        for person in (pair.person_a, pair.person_b):
            shown[person.uuid] = person.site_id
    audit_listed(user, "person.list", list(shown.items()), via=via)


@dataclass
class PairDetail:
    pair: CandidatePair
    households: tuple[list[Person], list[Person]]
    links: list[Link]


def pair_for(user: User, pair_id: int, *, purpose: str) -> PairDetail:
    """One pair with both records and their households; every record shown is audited."""
    pair = (
        pairs_for(user)
        .select_related(
            "person_a__site",
            "person_b__site",
            "person_a__household",
            "person_b__household",
            "decided_by",
        )
        .filter(pk=pair_id)
        .first()
    )
    if pair is None:
        raise NotFound("pair", pair_id)
    households = (
        list(pair.person_a.household.members.select_related("site").order_by("id")),
        list(pair.person_b.household.members.select_related("site").order_by("id")),
    )
    shown = {p.uuid: p.site_id for members in households for p in members}
    audit_listed(user, "person.view", list(shown.items()), via=purpose)
    links = list(
        Link.objects.filter(person__in=[pair.person_a, pair.person_b])
        .select_related("made_by", "person")
        .order_by("made_at", "id")
    )
    return PairDetail(pair=pair, households=households, links=links)


def identity_members(user: User, identity: UUID) -> list[Person]:
    """The records of one identity that this user may see."""
    return list(
        Person.objects.filter(identity=identity, site__in=sites_with_personal_data(user))
        .select_related("site", "household")
        .order_by("id")
    )
