"""Reads of assistance data, scoped to what the user may see.

Assistance officers, coordinators and administrators run programmes: every programme, run and
payment list, and at the distribution point a person's name, year of birth and household size
(each such read audited), never their needs, notes or tracing. Caseworkers see the entitlements
held for a possible duplicate at their assigned sites, to decide the pair, and the payments made
to a possible duplicate under a programme that pays them (flagged `possible_duplicate`) while the
pair still awaits a decision, so that the money can be recovered if the pair is confirmed;
officers see only how many are held.
"""

from typing import Any
from uuid import UUID

from django.db.models import Exists, OuterRef, Q, QuerySet

from haven.assistance.entitlements import OPEN_CASE
from haven.assistance.models import Entitlement, Payment, PaymentList, Programme
from haven.core import audit
from haven.core.errors import NotFound
from haven.core.models import User
from haven.core.selectors import sites_with_personal_data
from haven.identity.models import CandidatePair
from haven.identity.selectors import pairs_for
from haven.registry.models import Person

ASSISTANCE_ROLES = frozenset({User.Role.ASSISTANCE_OFFICER, User.Role.COORDINATOR, User.Role.ADMIN})
HELD_ROLES = frozenset({User.Role.CASEWORKER, User.Role.COORDINATOR, User.Role.ADMIN})
LIVE = (Payment.Status.LISTED, Payment.Status.PAID)


def may_assist(user: User) -> bool:
    return user.is_active and user.role in ASSISTANCE_ROLES


def may_see_held(user: User) -> bool:
    return user.is_active and user.role in HELD_ROLES


def programmes_for(user: User) -> QuerySet[Programme]:
    return Programme.objects.all() if may_assist(user) else Programme.objects.none()


def programme_for(user: User, programme_uuid: UUID) -> Programme:
    programme = programmes_for(user).filter(uuid=programme_uuid).first()
    if programme is None:
        raise NotFound("programme", programme_uuid)
    return programme


def payment_list_for(user: User, list_uuid: UUID) -> PaymentList:
    if not may_assist(user):
        raise NotFound("payment list", list_uuid)
    found = PaymentList.objects.select_related("programme").filter(uuid=list_uuid).first()
    if found is None:
        raise NotFound("payment list", list_uuid)
    return found


def identities_in_review_query() -> QuerySet[Person, Any]:
    """The current identities of records in a pair awaiting a caseworker's decision, as a
    subquery (haven.assistance.entitlements.identities_in_review, without loading them)."""
    pending = CandidatePair.objects.filter(status=CandidatePair.Status.PENDING)
    return Person.objects.filter(
        Q(pk__in=pending.values("person_a_id")) | Q(pk__in=pending.values("person_b_id"))
    ).values("identity")


def held_entitlements() -> QuerySet[Entitlement]:
    """Entitlements not paid because their identity awaits a possible-duplicate decision and
    their programme holds such payments (read now: a decision made since releases them). An
    identity with no record in an open case any more is not shown: no list will pay it
    (haven.assistance.payments, "closed")."""
    live = Payment.objects.filter(entitlement=OuterRef("pk"), status__in=LIVE)
    served = Person.objects.filter(OPEN_CASE, identity=OuterRef("person__identity"))
    return (
        Entitlement.objects.filter(
            programme__possible_duplicates=Programme.PossibleDuplicates.HOLD,
            person__identity__in=identities_in_review_query(),
        )
        .filter(~Exists(live))
        .filter(Exists(served))
    )


def held_count(programme: Programme) -> int:
    """How many of the programme's entitlements are held: all an assistance officer sees."""
    return held_entitlements().filter(programme=programme).count()


def held_for(user: User) -> QuerySet[Entitlement]:
    """Held entitlements of people registered at the user's sites (all for coordinators)."""
    if not may_see_held(user):
        return Entitlement.objects.none()
    return held_entitlements().filter(person__site__in=sites_with_personal_data(user))


def paid_in_review() -> QuerySet[Payment]:
    """Live payments (listed or paid) made to a possible duplicate under the programme's policy
    "pay", whose person's identity still awaits a decision (read now: a decision made since
    takes them off)."""
    return Payment.objects.filter(
        possible_duplicate=True,
        status__in=LIVE,
        person__identity__in=identities_in_review_query(),
    )


def paid_in_review_for(user: User) -> QuerySet[Payment]:
    """Payments made while in review to people registered at the user's sites (all for
    coordinators)."""
    if not may_see_held(user):
        return Payment.objects.none()
    return paid_in_review().filter(person__site__in=sites_with_personal_data(user))


def pending_pairs_by_identity(user: User, identities: set[UUID]) -> dict[UUID, list[int]]:
    """The pairs awaiting a decision that the user may review, by the identities they touch."""
    found: dict[UUID, list[int]] = {}
    if not identities:
        return found
    rows = (
        pairs_for(user)
        .filter(status=CandidatePair.Status.PENDING)
        .filter(Q(person_a__identity__in=identities) | Q(person_b__identity__in=identities))
        .order_by("-match_probability", "pk")
        .values_list("pk", "person_a__identity", "person_b__identity")
    )
    for pair_id, first, second in rows:
        for identity in {first, second} & identities:
            found.setdefault(identity, []).append(pair_id)
    return found


def person_at_distribution_point(user: User, person_uuid: UUID) -> Person:
    """A person looked up by registration number at the distribution point: an audited read of
    what handing out needs (the page shows name, year of birth and household size only)."""
    if not may_assist(user):
        raise NotFound("person", person_uuid)
    person = Person.objects.select_related("household", "site").filter(uuid=person_uuid).first()
    if person is None:
        raise NotFound("person", person_uuid)
    audit.record(
        user=user,
        action="person.view",
        object_type="person",
        object_uuid=person.uuid,
        site=person.site,
        detail={"via": "distribution_point"},
    )
    return person
