"""Caseworkers' decisions on candidate pairs: link two records as one person, or keep them apart.

A decision is stored as a label (it can retrain the model), changes the pair's status, and moves
identities with a `Link` row for every person moved, so that nothing is lost and every merge can
be undone. `undo_decision` puts a pair back in the queue and takes its link apart.
"""

import itertools
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.core import audit
from haven.core.errors import Conflict, FieldError, InvalidInput, NotFound
from haven.core.models import User
from haven.identity.engine import components
from haven.identity.models import NOTE_LENGTH, CandidatePair, Decision, Link
from haven.identity.selectors import may_review, pairs_for
from haven.registry.models import Person

Status = CandidatePair.Status


def decide_pairs(
    *, pair_ids: Sequence[int], verdict: str, note: str = "", acting_user: User
) -> list[CandidatePair]:
    """Record one verdict on several pairs at once: all of them or, on any error, none."""
    if verdict not in Decision.Verdict.values:
        raise InvalidInput([FieldError("verdict", _("must be 'same' or 'different'"))])
    pair_ids = list(dict.fromkeys(pair_ids))  # one decision a pair, however often it is named
    if not pair_ids:
        raise InvalidInput([FieldError("pairs", _("choose at least one pair"))])
    if len(note) > NOTE_LENGTH:
        raise InvalidInput(
            [FieldError("note", _("at most %(limit)d characters") % {"limit": NOTE_LENGTH})]
        )
    if not may_review(acting_user):
        raise NotFound("pair", pair_ids[0])
    decided = []
    with transaction.atomic():
        visible = {
            p.pk: p
            for p in pairs_for(acting_user)
            .select_for_update(of=("self",))
            .select_related("person_a", "person_b")
            .filter(pk__in=list(pair_ids))
        }
        for pair_id in pair_ids:
            pair = visible.get(pair_id)
            if pair is None:
                raise NotFound("pair", pair_id)
            decided.append(_decide(pair, verdict, note, acting_user))
    return decided


def _decide(pair: CandidatePair, verdict: str, note: str, user: User) -> CandidatePair:
    now = timezone.now()
    Decision.objects.create(pair=pair, verdict=verdict, note=note, decided_by=user, decided_at=now)
    pair.status = Status.CONFIRMED if verdict == Decision.Verdict.SAME else Status.REJECTED
    pair.decided_by = user
    pair.decided_at = now
    pair.save(update_fields=["status", "decided_by", "decided_at"])
    a = Person.objects.get(pk=pair.person_a_id)
    b = Person.objects.get(pk=pair.person_b_id)
    if verdict == Decision.Verdict.SAME:
        _refuse_joining_rejected(a.identity, b.identity)
        moved = _merge(a, b, pair=pair, user=user, at=now)
    else:
        moved = (
            _regroup(a.identity, pair=pair, user=user, at=now) if a.identity == b.identity else 0
        )
    audit.record(
        user=user,
        action=f"identity.decide_{verdict}",
        object_type="person",
        object_uuid=a.uuid,
        site=a.site,
        detail={"pair": pair.pk, "other": str(b.uuid), "moved": moved, "note": note},
        at=now,
    )
    return pair


def undo_decision(*, pair_id: int, acting_user: User) -> CandidatePair:
    """Put a decided or automatically linked pair back in the queue, taking its link apart."""
    if not may_review(acting_user):
        raise NotFound("pair", pair_id)
    with transaction.atomic():
        pair = (
            pairs_for(acting_user)
            .select_for_update(of=("self",))
            .select_related("person_a", "person_b")
            .filter(pk=pair_id)
            .first()
        )
        if pair is None:
            raise NotFound("pair", pair_id)
        if pair.status == Status.PENDING:
            raise Conflict(_("this pair has no decision or link to undo"))
        now = timezone.now()
        previous = pair.status
        pair.status = Status.PENDING
        pair.decided_by = acting_user
        pair.decided_at = now
        pair.save(update_fields=["status", "decided_by", "decided_at"])
        # Its decisions stay as history; a pair back in the queue stops being a label.
        a, b = pair.person_a, pair.person_b
        moved = (
            _regroup(a.identity, pair=pair, user=acting_user, at=now)
            if (a.identity == b.identity)
            else 0
        )
        audit.record(
            user=acting_user,
            action="identity.undo",
            object_type="person",
            object_uuid=a.uuid,
            site=a.site,
            detail={"pair": pair.pk, "other": str(b.uuid), "was": previous, "moved": moved},
            at=now,
        )
    return pair


def _refuse_joining_rejected(first: UUID, second: UUID) -> None:
    """Two identities holding the two records of a rejected pair are never joined."""
    if first == second:
        return
    left = Person.objects.filter(identity=first).values("pk")
    right = Person.objects.filter(identity=second).values("pk")
    clash = CandidatePair.objects.filter(status=Status.REJECTED).filter(
        Q(person_a__in=left, person_b__in=right) | Q(person_a__in=right, person_b__in=left)
    )
    if clash.exists():
        raise Conflict(
            _(
                "a record of one of these identities was decided to be a different person from"
                " a record of the other; undo that decision first"
            )
        )


def _merge(a: Person, b: Person, *, pair: CandidatePair, user: User, at: datetime) -> int:
    """Everyone holding b's identity takes a's (a is the earlier record)."""
    if a.identity == b.identity:
        return 0
    movers = list(Person.objects.filter(identity=b.identity).values_list("id", flat=True))
    Person.objects.filter(pk__in=movers).update(identity=a.identity)
    Link.objects.bulk_create(
        [
            Link(
                person_id=pk,
                from_identity=b.identity,
                to_identity=a.identity,
                reason=Link.Reason.DECISION,
                pair=pair,
                made_by=user,
                made_at=at,
            )
            for pk in movers
        ]
    )
    return len(movers)


def _regroup(identity: UUID, *, pair: CandidatePair, user: User, at: datetime) -> int:
    """Split one identity again along the pairs that still hold it together.

    The records of the identity are grouped by their confirmed pairs and their automatic links,
    leaving out rejected pairs and pairs back in the queue. If a rejected pair is still joined by
    confirmed pairs alone, that is a contradiction a caseworker must resolve first.
    """
    members = dict(Person.objects.filter(identity=identity).values_list("id", "uuid"))
    among = CandidatePair.objects.filter(person_a__in=list(members), person_b__in=list(members))
    edges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for a, b, status in among.values_list("person_a_id", "person_b_id", "status"):
        edges[status].append((a, b))
    groups = components(
        model=edges[Status.LINKED],
        confirmed=edges[Status.CONFIRMED],
        rejected=edges[Status.REJECTED],
    )
    group_of = {m: i for i, group in enumerate(groups) for m in group}
    for a, b in edges[Status.REJECTED]:
        if a in group_of and group_of.get(a) == group_of.get(b):
            raise Conflict(
                _(
                    "these records are still joined through pairs confirmed as the same person;"
                    " undo one of those decisions first"
                )
            )
    # Automatic links inside a group that had to be broken wait for a decision now.
    kept = {(a, b) for group in groups for a, b in itertools.combinations(group, 2)}
    stale = [p for p in edges[Status.LINKED] if p not in kept]
    if stale:
        for a, b in stale:
            among.filter(person_a=a, person_b=b).update(status=Status.PENDING)
    # The group holding the identity's namesake keeps it; every other group takes the uuid of
    # its earliest record, and a record left alone takes its own.
    namesake = next((pk for pk, u in members.items() if u == identity), min(members))
    new_identity: dict[int, UUID] = {}
    for group in groups:
        target = identity if namesake in group else members[min(group)]
        new_identity.update(dict.fromkeys(group, target))
    for pk in members:
        new_identity.setdefault(pk, identity if pk == namesake else members[pk])
    moves = [(pk, target) for pk, target in new_identity.items() if target != identity]
    for pk, target in moves:
        Person.objects.filter(pk=pk).update(identity=target)
    Link.objects.bulk_create(
        [
            Link(
                person_id=pk,
                from_identity=identity,
                to_identity=target,
                reason=Link.Reason.UNDO,
                pair=pair,
                made_by=user,
                made_at=at,
            )
            for pk, target in moves
        ]
    )
    return len(moves)
