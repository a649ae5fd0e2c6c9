"""Every write to tracing: requests, their matches, the found person's consent, closing, and
status notes. Each action owns its transaction and writes its audit rows in it.

Matching: a request is matched against everyone registered (`match_request`), with the identity
model's calibrated probability and its reasons (`haven.tracing.search.find_people`), and the names
of the sought person's relatives found in a candidate's household as further evidence. New
registrations re-match the open requests that hold one of their name keys (`rematch_new`, called
by the registration actions once their transaction has committed); a match found that way is new,
and its request's caseworker sees it marked so in their queue.
"""

import logging
import math
import uuid as uuid_lib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from haven.core import audit
from haven.core.errors import Conflict, FieldError, InvalidInput, NotFound
from haven.core.models import Site, User
from haven.identity.check import Candidate, Reason, name_count, registered_total
from haven.names import name_forms
from haven.registry.models import Person
from haven.registry.schemas import validated
from haven.registry.selectors import persons_for
from haven.tracing.models import StatusNote, TraceKey, TraceMatch, TracingRequest
from haven.tracing.schemas import TracingRequestIn
from haven.tracing.search import find_people, name_parts

log = logging.getLogger(__name__)

MATCHES_KEPT = 10
# Worth a caseworker's reading: below this the model is all but sure it is someone else.
MATCH_FLOOR = 0.01
# A relative the searcher named is registered in the candidate's household. m: how often that is
# so when the candidate is the sought person (families mostly fled and registered together; an
# assumption, not yet learnt from reviewed requests); u: how often a household of someone else
# holds a member of that given name by chance, from the name's frequency among all records.
RELATIVE_M = 0.5
RELATIVE_FIELD = "relatives"
RELATIVE_LEVEL = "relative_in_household"

CLOSED = (
    TracingRequest.Status.REUNITED,
    TracingRequest.Status.DECLINED,
    TracingRequest.Status.DECEASED,
    TracingRequest.Status.WITHDRAWN,
)


def parse_request(payload: dict[str, Any]) -> TracingRequestIn:
    return validated(TracingRequestIn, payload)


def open_request(
    *,
    data: TracingRequestIn,
    acting_user: User | None,
    source: str,
    site: Site | None,
    match: bool = True,
    pfif_record_id: str = "",
    expiry_date: datetime | None = None,
) -> tuple[TracingRequest, bool]:
    """Record a tracing request (and match it now unless `match` is false); (request, created).
    A retry with the same uuid and the same content returns the stored request."""
    existing = TracingRequest.objects.filter(uuid=data.uuid).first()
    if existing is not None:
        if existing.sought_name != data.sought_name or existing.source != source:
            raise Conflict(f"tracing request {data.uuid} was already used for another request")
        return existing, False
    searcher = None
    if data.searcher_person is not None:
        if acting_user is None:
            raise InvalidInput([FieldError("searcher_person", "needs a caseworker")])
        searcher = persons_for(acting_user).filter(uuid=data.searcher_person).first()
        if searcher is None:
            raise NotFound("person", data.searcher_person)
    now = timezone.now()
    with transaction.atomic():
        request = TracingRequest.objects.create(
            uuid=data.uuid,
            source=source,
            site=site,
            sought_name=data.sought_name,
            sought_birth_year=data.sought_birth_year,
            sought_sex=data.sought_sex,
            sought_origin=data.sought_origin,
            sought_relatives="\n".join(data.sought_relatives),
            last_seen_place=data.last_seen_place,
            last_seen_on=data.last_seen_on,
            distinguishing=data.distinguishing,
            searcher=searcher,
            searcher_name=data.searcher_name,
            searcher_contact=data.searcher_contact,
            searcher_language=data.searcher_language,
            consent_at=now,
            created_at=now,
            created_by=acting_user,
            pfif_record_id=pfif_record_id,
            expiry_date=expiry_date,
        )
        TraceKey.objects.bulk_create(
            TraceKey(request=request, key=key) for key in sought_keys(request.sought_name)
        )
        audit.record(
            user=acting_user,
            action="tracing.request.open",
            object_type="tracing_request",
            object_uuid=request.uuid,
            site=site,
            detail={"source": source},
            at=now,
        )
        if match:
            match_request(request)
    return request, True


def sought_keys(name: str) -> set[str]:
    """The phonetic keys of every part of a sought name, as given or as family name."""
    keys = set()
    for part in name_parts(name):
        for kind in ("given", "family"):
            key = name_forms(part, kind).key
            if key:
                keys.add(key)
    return keys


def match_request(request: TracingRequest, *, new_for: Iterable[int] = ()) -> list[TraceMatch]:
    """Match a request against everyone registered; store the candidates worth reading (those
    already stored are updated). Persons in `new_for` (just registered) are marked new. Returns
    the matches added."""
    found = find_people(
        name=request.sought_name,
        birth_year=request.sought_birth_year,
        sex=request.sought_sex or None,
        origin=request.sought_origin,
        limit=MATCHES_KEPT,
        user=None,
    )
    relatives = [name for name in request.sought_relatives.splitlines() if name.strip()]
    scored = [_with_relatives(candidate, relatives) for candidate in found]
    with transaction.atomic():
        # One matching of a request at a time (two caseworkers opening a new request, a re-match
        # after a registration): the second waits, then sees the first's matches.
        TracingRequest.objects.select_for_update().filter(pk=request.pk).first()
        now = timezone.now()
        new = set(new_for)
        known = {m.person_id: m for m in TraceMatch.objects.filter(request=request)}
        added: list[TraceMatch] = []
        for person, probability, weight, reasons in scored:
            if probability < MATCH_FLOOR:
                continue
            match = known.get(person.pk)
            if match is not None:
                match.probability, match.match_weight, match.reasons = probability, weight, reasons
                match.save(update_fields=["probability", "match_weight", "reasons"])
                continue
            match = TraceMatch.objects.create(
                request=request,
                person=person,
                probability=probability,
                match_weight=weight,
                reasons=reasons,
                found_at=now,
                is_new=person.pk in new,
            )
            added.append(match)
            if match.is_new:
                audit.record(
                    user=None,
                    action="tracing.match.new",
                    object_type="tracing_request",
                    object_uuid=request.uuid,
                    site=request.site,
                    detail={"person": str(person.uuid), "probability": round(probability, 4)},
                    at=now,
                )
        request.matched_at = now
        request.save(update_fields=["matched_at"])
    return added


def _with_relatives(
    candidate: Candidate, relatives: Sequence[str]
) -> tuple[Person, float, float, list[dict[str, Any]]]:
    """The candidate's weight with the relatives named found (or not) in their household."""
    weight = candidate.match_weight
    reasons = [_reason_json(r) for r in candidate.reasons]
    if relatives:
        named = _relatives_in_household(candidate.person, relatives)
        for name, chance in named:
            gain = math.log2(RELATIVE_M / max(chance, 1e-6))
            weight += gain
            reasons.append(
                {
                    "field": RELATIVE_FIELD,
                    "level": RELATIVE_LEVEL,
                    "weight": round(gain, 3),
                    "scripts": [],
                    "detail": name,
                }
            )
    reasons.sort(key=lambda r: -abs(r["weight"]))
    return candidate.person, _probability(weight), weight, reasons


def _relatives_in_household(person: Person, relatives: Sequence[str]) -> list[tuple[str, float]]:
    """The relatives named who are registered with the candidate (their household, or the
    households of the candidate's other records), each with the chance that a household of
    that size holds someone of that given name anyway."""
    households = Person.objects.filter(identity=person.identity).values("household_id")
    members = list(
        Person.objects.filter(household_id__in=households)
        .exclude(identity=person.identity)
        .values_list("given_key", "family_key")
    )
    if not members:
        return []
    total = registered_total() or 1
    found = []
    for name in relatives:
        parts = name.split()
        given_keys = {name_forms(p, "given").key for p in parts} - {""}
        family_keys = {name_forms(p, "family").key for p in parts} - {""}
        hit = next(
            (
                given
                for given, family in members
                if given in given_keys and (len(parts) == 1 or family in family_keys)
            ),
            None,
        )
        if hit is None:
            continue
        frequency = name_count("given", hit) / total
        found.append((name, min(1.0, frequency * len(members))))
    return found


def _reason_json(reason: Reason) -> dict[str, Any]:
    return {
        "field": reason.field,
        "level": reason.level,
        "weight": round(reason.weight, 3),
        "scripts": list(reason.scripts),
    }


def _probability(weight: float) -> float:
    return 1.0 / (1.0 + 2.0 ** (-weight)) if weight > -1000 else 0.0


def rematch_new_households(household_ids: Sequence[int]) -> int:
    """`rematch_new` for the persons of newly registered households."""
    if not TracingRequest.objects.filter(status=TracingRequest.Status.OPEN).exists():
        return 0
    return rematch_new(
        list(Person.objects.filter(household_id__in=household_ids).values_list("pk", flat=True))
    )


def rematch_new(person_ids: Sequence[int]) -> int:
    """Re-match the open requests that hold a name key of the newly registered persons; returns
    how many new matches were found. Never raises: the registration it follows has committed."""
    try:
        keys: set[str] = set()
        for given, family in Person.objects.filter(pk__in=person_ids).values_list(
            "given_key", "family_key"
        ):
            keys.update(k for k in (given, family) if k)
        if not keys:
            return 0
        requests = list(
            TracingRequest.objects.filter(
                status=TracingRequest.Status.OPEN,
                matched_at__isnull=False,
                pk__in=TraceKey.objects.filter(key__in=keys).values("request_id"),
            )
        )
    except Exception:  # the registration stands; the next registration or page re-matches
        log.exception("re-matching tracing requests after a registration failed")
        return 0
    added = 0
    for request in requests:
        try:
            with transaction.atomic():
                added += len(match_request(request, new_for=person_ids))
        except Exception:  # one request's failure does not keep the others from re-matching
            log.exception("re-matching tracing request %s failed", request.uuid)
    return added


def mark_seen(request: TracingRequest, user: User) -> None:
    """The caseworker has seen the request's new matches."""
    TraceMatch.objects.filter(request=request, is_new=True, seen_at__isnull=True).update(
        seen_at=timezone.now()
    )


def mark_found(*, request: TracingRequest, person: Person, user: User) -> TracingRequest:
    """The caseworker judges `person` (one of its matches) to be the sought person."""
    if request.is_closed:
        raise Conflict(f"tracing request {request.uuid} is closed")
    if not TraceMatch.objects.filter(request=request, person=person).exists():
        raise NotFound("match", person.uuid)
    with transaction.atomic():
        request.found = person
        request.status = TracingRequest.Status.FOUND
        request.disclosure = TracingRequest.Disclosure.NOT_ASKED
        request.save(update_fields=["found", "status", "disclosure"])
        audit.record(
            user=user,
            action="tracing.request.found",
            object_type="tracing_request",
            object_uuid=request.uuid,
            site=person.site,
            detail={"person": str(person.uuid)},
        )
    return request


def record_disclosure(
    *, request: TracingRequest, person_uuid: uuid_lib.UUID, allowed: bool, user: User
) -> TracingRequest:
    """What the found person said when asked whether their whereabouts may be shared. The
    answer is recorded only for the person it came from: if the request's found person changed
    meanwhile (another caseworker, another tab), it is refused."""
    with transaction.atomic():
        locked = (
            TracingRequest.objects.select_for_update(of=("self",))
            .select_related("found")
            .get(pk=request.pk)
        )
        if locked.status != TracingRequest.Status.FOUND or locked.found is None:
            raise Conflict(f"tracing request {request.uuid} has no found person to ask")
        if locked.found.uuid != person_uuid:
            raise Conflict(
                f"the person found for tracing request {request.uuid} has changed: ask them"
            )
        locked.disclosure = (
            TracingRequest.Disclosure.ALLOWED if allowed else TracingRequest.Disclosure.REFUSED
        )
        locked.save(update_fields=["disclosure"])
        audit.record(
            user=user,
            action="tracing.request.disclosure",
            object_type="tracing_request",
            object_uuid=locked.uuid,
            site=locked.site,
            detail={"allowed": allowed, "person": str(person_uuid)},
        )
    request.disclosure, request.found = locked.disclosure, locked.found
    return request


def close_request(*, request: TracingRequest, outcome: str, user: User) -> TracingRequest:
    if outcome not in CLOSED:
        raise InvalidInput([FieldError("outcome", f"must be one of {', '.join(CLOSED)}")])
    if request.is_closed:
        raise Conflict(f"tracing request {request.uuid} is already closed")
    if outcome == TracingRequest.Status.REUNITED and request.found_id is None:
        raise InvalidInput(
            [FieldError("outcome", "a request is reunited only once someone is found")]
        )
    with transaction.atomic():
        request.status = outcome
        request.closed_at = timezone.now()
        if outcome != TracingRequest.Status.REUNITED:
            # Nothing more is told: a yes given earlier does not outlive a request closed
            # without the reunion it was given for.
            request.disclosure = (
                TracingRequest.Disclosure.REFUSED
                if request.found_id is not None
                else TracingRequest.Disclosure.NOT_ASKED
            )
        request.save(update_fields=["status", "closed_at", "disclosure"])
        audit.record(
            user=user,
            action="tracing.request.close",
            object_type="tracing_request",
            object_uuid=request.uuid,
            site=request.site,
            detail={"outcome": outcome},
        )
    return request


def add_status_note(
    *,
    status: str,
    asserted_by: str,
    asserted_at: datetime | None,
    text: str,
    user: User | None,
    person: Person | None = None,
    request: TracingRequest | None = None,
    note_uuid: uuid_lib.UUID | None = None,
    pfif_record_id: str = "",
    author_made_contact: bool = False,
) -> StatusNote:
    """Record what someone asserted about a person's fate (about a registered person, or the
    person a request seeks)."""
    errors = []
    if status not in StatusNote.Status.values:
        errors.append(FieldError("status", f"must be one of {', '.join(StatusNote.Status.values)}"))
    asserted_by = asserted_by.strip()
    if not asserted_by:
        errors.append(FieldError("asserted_by", "say who asserted it"))
    if len(asserted_by) > 310:
        errors.append(FieldError("asserted_by", "must be at most 310 characters"))
    if len(text) > 5000:
        errors.append(FieldError("text", "must be at most 5000 characters"))
    if (person is None) == (request is None):
        errors.append(FieldError("person", "a note is about one person or one request"))
    now = timezone.now()
    if asserted_at is not None and asserted_at > now:
        errors.append(FieldError("asserted_at", "must not be in the future"))
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        note = StatusNote.objects.create(
            uuid=note_uuid or uuid_lib.uuid4(),
            person=person,
            request=request,
            status=status,
            text=text.strip(),
            asserted_by=asserted_by,
            asserted_at=asserted_at or now,
            author_made_contact=author_made_contact,
            recorded_by=user,
            recorded_at=now,
            pfif_record_id=pfif_record_id,
        )
        subject = person.uuid if person is not None else request.uuid  # type: ignore[union-attr]
        audit.record(
            user=user,
            action="tracing.note.add",
            object_type="person" if person is not None else "tracing_request",
            object_uuid=subject,
            site=person.site if person is not None else None,
            detail={"status": status, "note": str(note.uuid)},
            at=now,
        )
    return note


def store_expired_record(
    *,
    record_uuid: uuid_lib.UUID,
    pfif_record_id: str,
    source_date: datetime,
    expiry_date: datetime | None,
    user: User | None,
) -> TracingRequest:
    """Hold the id and dates of another repository's record that has expired at its source (no
    personal data), so that an older copy arriving later is known to be expired and exports pass
    the expiry on."""
    now = timezone.now()
    with transaction.atomic():
        request = TracingRequest.objects.create(
            uuid=record_uuid,
            source=TracingRequest.Source.PFIF,
            status=TracingRequest.Status.WITHDRAWN,
            site=None,
            sought_name="",
            consent_at=source_date,
            created_at=now,
            created_by=user,
            closed_at=now,
            pfif_record_id=pfif_record_id,
            expiry_date=expiry_date,
        )
        _audit_expired(request, user, now)
    return request


def expire_request(
    *, request: TracingRequest, expiry_date: datetime | None, user: User | None
) -> TracingRequest:
    """A request whose record has expired at its source: its personal data goes (names, searcher,
    matches, name keys, notes), its id, dates and a closed status stay."""
    now = timezone.now()
    with transaction.atomic():
        StatusNote.objects.filter(request=request).delete()
        TraceMatch.objects.filter(request=request).delete()
        TraceKey.objects.filter(request=request).delete()
        request.sought_name = ""
        request.sought_birth_year = None
        request.sought_sex = request.sought_origin = request.sought_relatives = ""
        request.last_seen_place = request.last_seen_on = request.distinguishing = ""
        request.searcher = request.found = None
        request.searcher_name = request.searcher_contact = request.searcher_language = ""
        request.disclosure = TracingRequest.Disclosure.NOT_ASKED
        request.expiry_date = expiry_date
        if request.closed_at is None:
            request.status = TracingRequest.Status.WITHDRAWN
            request.closed_at = now
        request.save()
        _audit_expired(request, user, now)
    return request


def _audit_expired(request: TracingRequest, user: User | None, at: datetime) -> None:
    audit.record(
        user=user,
        action="tracing.request.expired",
        object_type="tracing_request",
        object_uuid=request.uuid,
        site=request.site,
        detail={"pfif_record_id": request.pfif_record_id},
        at=at,
    )
