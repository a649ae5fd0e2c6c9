"""The review queue's JSON API: pages of candidate pairs, one pair in full, decisions and undo.

Each operation parses, authorises, acts and serialises, nothing more: decisions go through
`haven.identity.actions`, reads through `haven.identity.selectors`. Only caseworkers (pairs touching
their assigned sites), coordinators and administrators review; for everyone else every operation
answers 404, as for a pair that does not exist, so the API does not say that the queue is there.
"""

from django.http import HttpRequest
from ninja import P, PathEx, QueryEx, Router

from haven.core.auth import request_user
from haven.core.errors import NotFound
from haven.core.models import User
from haven.core.selectors import sites_with_personal_data
from haven.identity import actions, selectors
from haven.identity.api_schemas import (
    BandIn,
    DecidedOut,
    DecisionsIn,
    PairDetailOut,
    PairOut,
    PairPageOut,
    StatusIn,
    pair_detail_out,
    pair_out,
)
from haven.identity.forms import MAX_PAGE_SIZE, QueueQuery, page_of_pairs
from haven.identity.models import CandidatePair
from haven.registry.api import parse_body
from haven.registry.api_schemas import ErrorOut, ValidationErrorOut
from haven.registry.models import IdentityDocument
from haven.registry.schemas import QueryText

router = Router(tags=["identity"])

NOT_FOUND = {404: ErrorOut}
INVALID = {422: ValidationErrorOut}
CONFLICT = {409: ErrorOut}
# The largest id a database's bigint holds: beyond it no pair exists.
MAX_ID = 2**63 - 1


def _reviewer(request: HttpRequest, kind: str = "pair", key: object = "") -> User:
    user = request_user(request)
    if not selectors.may_review(user):
        raise NotFound(kind, key)
    return user


def _reread(user: User, pair_ids: list[int]) -> list[CandidatePair]:
    """Pairs just written, with what their serialiser reads, in the order they were asked for."""
    rows = {
        p.pk: p
        for p in selectors.pairs_for(user)
        .select_related(
            "person_a__site",
            "person_a__household",
            "person_b__site",
            "person_b__household",
            "decided_by",
        )
        .filter(pk__in=pair_ids)
    }
    return [rows[pk] for pk in pair_ids if pk in rows]


@router.get(
    "/pairs",
    response={200: PairPageOut} | NOT_FOUND | INVALID,
    summary="Candidate pairs for review, a page at a time",
    description="Most probable first; by default the pairs that need a decision. Follow"
    " next_cursor until it is null. Every record shown is an audited read.",
)
def list_pairs(
    request: HttpRequest,
    status: StatusIn | None = None,
    band: BandIn | None = None,
    site: QueryText | None = None,
    cursor: QueryText | None = None,
    limit: QueryEx[int, P(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> PairPageOut:
    user = _reviewer(request, "pairs")
    if site and not sites_with_personal_data(user).filter(code=site).exists():
        raise NotFound("site", site)
    query = QueueQuery(
        status=status or CandidatePair.Status.PENDING,
        band=band or "",
        site=site or "",
        cursor=cursor or "",
    )
    page = page_of_pairs(user, query, limit=limit)
    selectors.audit_pairs_listed(user, page.pairs, via="api")
    return PairPageOut(items=[pair_out(p) for p in page.pairs], next_cursor=page.next_cursor)


@router.get(
    "/pairs/{pair_id}",
    response={200: PairDetailOut} | NOT_FOUND | INVALID,
    summary="One pair: both records, their households, the explanation and the history",
    description="An audited read of every record shown.",
)
def get_pair(request: HttpRequest, pair_id: PathEx[int, P(ge=1, le=MAX_ID)]) -> PairDetailOut:
    user = _reviewer(request, "pair", pair_id)
    detail = selectors.pair_for(user, pair_id, purpose="api")
    pair = detail.pair
    documents: dict[int, list[IdentityDocument]] = {pair.person_a_id: [], pair.person_b_id: []}
    for document in IdentityDocument.objects.filter(
        person_id__in=[pair.person_a_id, pair.person_b_id]
    ).order_by("id"):
        documents[document.person_id].append(document)
    return pair_detail_out(
        pair,
        households=detail.households,
        documents=documents,
        decisions=list(pair.decisions.select_related("decided_by").order_by("decided_at", "id")),
        links=detail.links,
    )


@router.post(
    "/decisions",
    response={200: DecidedOut} | NOT_FOUND | INVALID | CONFLICT,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": DecisionsIn.model_json_schema()}},
        }
    },
    summary="Decide one or more pairs: the same person, or different people",
    description="All of the pairs or, on any error, none: 404 when a pair is unknown or not"
    " yours to review, 409 when the decision contradicts others (undo those first).",
)
def decide(request: HttpRequest) -> DecidedOut:
    user = _reviewer(request)
    body = parse_body(request, DecisionsIn)
    pair_ids = list(dict.fromkeys(body.pairs))  # a pair listed twice is decided once
    if any(not 1 <= pk <= MAX_ID for pk in pair_ids):
        raise NotFound("pair", "")
    actions.decide_pairs(
        pair_ids=pair_ids, verdict=body.verdict, note=body.note.strip(), acting_user=user
    )
    return DecidedOut(pairs=[pair_out(p) for p in _reread(user, pair_ids)])


@router.post(
    "/pairs/{pair_id}/undo",
    response={200: PairOut} | NOT_FOUND | INVALID | CONFLICT,
    summary="Put a decided or automatically linked pair back in the queue",
    description="Takes apart the link the pair made; 409 when the pair has nothing to undo.",
)
def undo(request: HttpRequest, pair_id: PathEx[int, P(ge=1, le=MAX_ID)]) -> PairOut:
    user = _reviewer(request, "pair", pair_id)
    actions.undo_decision(pair_id=pair_id, acting_user=user)
    return pair_out(_reread(user, [pair_id])[0])
