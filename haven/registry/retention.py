"""Retention: closed records are anonymised once they have been closed longer than the period.

What "closed" means, per kind of record:

- **a household and its members**: a coordinator closed the household's case
  (`Household.closed_at`, with why: departed, resettled, integrated, deceased, duplicate, other;
  haven.registry.actions.close_household). Its members go with it: Haven keeps no person
  outside a household.
- **a tracing request** (a caseworker's, the public form's or one imported as PFIF): closed as
  reunited, declined, deceased or withdrawn (`TracingRequest.closed_at`).

Shelter stays, payments and identity links are not anonymised by themselves: they hold no names,
only the records they point to, which are.

What anonymising removes, by field group (the audit row of each record names the groups that
held something, never the values):

- a person: `names` (the three names, their scripts, the search string and the phonetic keys:
  nobody finds the record by name any more, not at the desk, in the registrations' search, in
  tracing or in the desk-time duplicate check), `date_of_birth` (day and month: the year stays),
  `phone`, `documents` (deleted), `disability_answers` (the Washington Group answers),
  `corrections` (their old and new values and reasons), `status_notes` (their text and who
  asserted them), `tracing_matches` (deleted: the closed requests' lists of who may be the sought
  person), `review_notes` (the notes of caseworkers' decisions on pairs that include the person)
  and `audit_copies` (personal text that audit rows about the person copied: a search's query, an
  admin change's description of the record, the note of a decision on a pair that includes the
  person, whichever record of the pair the audit row is about);
- a household: `phone`, `registration_digest` (the hash of the registration as received) and
  `audit_copies`;
- a tracing request: `sought_person` (name, home settlement, relatives, where and when last
  seen, distinguishing details), `searcher` (the registered person or name, contact and
  language), `found_person` (who was found), `name_keys`, `matches` and `status_notes` (text
  and who asserted them).

What stays, so that the situation figures (haven.reports.figures) and the programmes' accounts
do not change: each record's uuid, site, household and relationship, sex, year of birth (and
whether it was estimated), specific-needs codes, identity and its links; the household's
registration time, member count and settlement of origin; crossing counts; shelter stays;
entitlements, payments and distributions with their amounts and status; a tracing request's
source, site, status, outcome, sought sex and year of birth, and dates. The figures' age bands
are then counted from the year of birth alone (as for a birth date known only to the year): the
pyramid of an anonymised person may move one band earlier in the year they turn 5, 10, … (never
at the end of a year), and every other figure is unchanged.

Kept whole (not anonymised, reported as "kept: open obligation") while something is still owed:
a household in an open shelter stay, a member with a payment listed and not yet reconciled, or a
member who is the searcher, the found person or a match of an open tracing request.

Idempotent: an anonymised record carries `anonymised_at` and is never read again; a run over a
batch is one transaction, so an interrupted run leaves each batch whole or untouched.
"""

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from haven.assistance.models import Payment
from haven.core.audit import audit_row
from haven.core.bulk import insert_rows
from haven.core.models import AuditEvent, User
from haven.identity.models import Decision
from haven.registry.models import Household, IdentityDocument, Person, PersonCorrection
from haven.shelter.models import Stay
from haven.tracing.models import StatusNote, TraceKey, TraceMatch, TracingRequest

ACTION = "retention.anonymise"
BATCH = 500
REMOVED = "[removed]"
# Audit detail keys that may copy personal text about the record (see the module docstring).
PERSONAL_AUDIT_KEYS = ("query", "object", "note")

KINDS = ("households", "persons", "tracing_requests")
OPEN_STAY = "open_shelter_stay"
UNRECONCILED_PAYMENT = "unreconciled_payment"
OPEN_TRACING = "open_tracing_request"

_WG = (
    "wg_seeing",
    "wg_hearing",
    "wg_walking",
    "wg_remembering",
    "wg_selfcare",
    "wg_communicating",
)
_NAME_FIELDS = (
    "given_name",
    "family_name",
    "patronymic",
    "name_search",
    "given_key",
    "family_key",
    "patronymic_key",
)
_SOUGHT_FIELDS = (
    "sought_name",
    "sought_origin",
    "sought_relatives",
    "last_seen_place",
    "last_seen_on",
    "distinguishing",
)

T = TypeVar("T")
Due = TypeVar("Due", Household, TracingRequest)


@dataclass
class RetentionReport:
    """What a run anonymised (or, dry, would), what it removed and what it kept."""

    as_of: datetime
    period_days: int
    dry_run: bool
    anonymised: Counter[str] = field(default_factory=Counter)  # kind → records
    # kind → field group → records it held something in
    removed: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    kept: Counter[str] = field(default_factory=Counter)  # kind → records kept whole
    kept_reasons: Counter[str] = field(default_factory=Counter)  # obligation → households

    @property
    def cutoff(self) -> datetime | None:
        """Records closed before this moment are due (None: retention is off)."""
        return self.as_of - timedelta(days=self.period_days) if self.period_days else None

    def anonymising(
        self,
        kind: str,
        record: Household | Person | TracingRequest,
        groups: set[str],
        *,
        user: User | None,
        at: datetime,
        **detail: Any,
    ) -> dict[str, Any]:
        """Count one record of `kind` (households, persons, tracing_requests) anonymised with
        the field groups that held something; its audit row, naming the groups, never values."""
        self.anonymised[kind] += 1
        self.removed[kind].update(groups)
        return audit_row(
            user=user,
            action=ACTION,
            object_type=kind.removesuffix("s"),  # household, person, tracing_request
            object_uuid=record.uuid,
            site_id=record.site_id,
            detail={"removed": sorted(groups), **detail, "period_days": self.period_days},
            at=at,
        )

    def as_dict(self) -> dict[str, Any]:
        cutoff = self.cutoff
        return {
            "as_of": self.as_of.isoformat(),
            "period_days": self.period_days,
            "closed_before": cutoff.isoformat() if cutoff is not None else None,
            "dry_run": self.dry_run,
            "anonymised": {kind: self.anonymised[kind] for kind in KINDS},
            "removed": {
                kind: dict(sorted(self.removed[kind].items()))
                for kind in KINDS
                if self.removed[kind]
            },
            "kept_open_obligation": {kind: self.kept[kind] for kind in KINDS},
            "kept_reasons": dict(sorted(self.kept_reasons.items())),
        }


def anonymise_closed(
    *, as_of: datetime, period_days: int, dry_run: bool = False, acting_user: User | None = None
) -> RetentionReport:
    """Anonymise every household and tracing request closed more than `period_days` before
    `as_of` and not anonymised yet, one transaction per batch, one audit row per record; with
    `dry_run` report the same and change nothing. `period_days` 0 turns retention off."""
    if timezone.is_naive(as_of):
        raise ValueError("as_of must be timezone-aware")
    if period_days < 0:
        raise ValueError("period_days must not be negative")
    report = RetentionReport(as_of=as_of, period_days=period_days, dry_run=dry_run)
    cutoff = report.cutoff
    if cutoff is None:
        return report
    now = timezone.now()
    household_ids = list(
        Household.objects.filter(closed_at__lt=cutoff, anonymised_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for chunk in _chunks(household_ids):
        with transaction.atomic():
            _households(chunk, cutoff, report, now=now, user=acting_user)
    request_ids = list(
        TracingRequest.objects.filter(closed_at__lt=cutoff, anonymised_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for chunk in _chunks(request_ids):
        with transaction.atomic():
            _requests(chunk, cutoff, report, now=now, user=acting_user)
    if not dry_run and report.anonymised.total():
        AuditEvent.objects.create(
            **audit_row(
                user=acting_user,
                action="retention.run",
                object_type="retention",
                object_uuid=None,
                site_id=None,
                detail=report.as_dict(),
                at=now,
            )
        )
        # Ages of the anonymised people now count from their year of birth.
        from haven.reports import figures  # the reports import the registry, not the reverse

        figures.clear_cache()
    return report


def _chunks(ids: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _still_due(
    records: QuerySet[Due], chunk: Sequence[int], cutoff: datetime, report: RetentionReport
) -> list[Due]:
    """The records of `chunk` still closed before the cutoff and not anonymised, read in key
    order, locked unless this is a dry run (between listing and now one may have been reopened)."""
    due = records.filter(pk__in=chunk, closed_at__lt=cutoff, anonymised_at__isnull=True)
    if not report.dry_run:
        due = due.select_for_update()
    return list(due.order_by("pk"))


# --- households and their members -----------------------------------------------------------


def _households(
    chunk: Sequence[int],
    cutoff: datetime,
    report: RetentionReport,
    *,
    now: datetime,
    user: User | None,
) -> None:
    # Read again under lock: a coordinator may have reopened one since the ids were listed.
    due = _still_due(Household.objects.all(), chunk, cutoff, report)
    members: dict[int, list[Person]] = defaultdict(list)
    for person in Person.objects.filter(household__in=due).order_by("pk"):
        members[person.household_id].append(person)
    owed = _obligations(due, members)
    chosen = []
    for household in due:
        reasons = owed.get(household.pk)
        if reasons:
            report.kept["households"] += 1
            report.kept["persons"] += len(members[household.pk])
            report.kept_reasons.update(reasons)
        else:
            chosen.append(household)
    persons = [person for household in chosen for person in members[household.pk]]
    person_groups = _person_groups(persons)
    household_groups = _household_groups(chosen)
    household_uuid = {h.pk: h.uuid for h in chosen}
    rows = [
        report.anonymising(
            "households",
            household,
            household_groups[household.pk],
            user=user,
            at=now,
            persons=len(members[household.pk]),
            closed_at=household.closed_at.isoformat() if household.closed_at else None,
            closed_reason=household.closed_reason,
        )
        for household in chosen
    ] + [
        report.anonymising(
            "persons",
            person,
            person_groups[person.pk],
            user=user,
            at=now,
            household=str(household_uuid[person.household_id]),
        )
        for person in persons
    ]
    if report.dry_run or not chosen:
        return
    _anonymise_persons([p.pk for p in persons], now)
    _redact_audit_copies([p.uuid for p in persons] + [h.uuid for h in chosen])
    _redact_decision_notes([p.uuid for p in persons])
    Household.objects.filter(pk__in=[h.pk for h in chosen]).update(
        phone="", payload_digest="", anonymised_at=now
    )
    insert_rows(AuditEvent, rows)


def _obligations(
    households: Sequence[Household], members: dict[int, list[Person]]
) -> dict[int, set[str]]:
    """What each household is still owed (by household id): an open stay, a payment not yet
    reconciled, an open tracing request that names one of its members."""
    owed: dict[int, set[str]] = defaultdict(set)
    household_of = {p.pk: p.household_id for people in members.values() for p in people}
    person_ids = list(household_of)
    for household_id in Stay.objects.filter(
        household__in=households, checked_out_at__isnull=True
    ).values_list("household_id", flat=True):
        owed[household_id].add(OPEN_STAY)
    for person_id in Payment.objects.filter(
        person_id__in=person_ids, status=Payment.Status.LISTED
    ).values_list("person_id", flat=True):
        owed[household_of[person_id]].add(UNRECONCILED_PAYMENT)
    open_requests = TracingRequest.objects.filter(closed_at__isnull=True)
    named = open_requests.filter(Q(searcher_id__in=person_ids) | Q(found_id__in=person_ids))
    for searcher_id, found_id in named.values_list("searcher_id", "found_id"):
        for person_id in (searcher_id, found_id):
            if person_id in household_of:
                owed[household_of[person_id]].add(OPEN_TRACING)
    for person_id in TraceMatch.objects.filter(
        person_id__in=person_ids, request__closed_at__isnull=True
    ).values_list("person_id", flat=True):
        owed[household_of[person_id]].add(OPEN_TRACING)
    return owed


def _person_groups(persons: Sequence[Person]) -> dict[int, set[str]]:
    """The field groups that hold something, per person id (see the module docstring)."""
    ids = [p.pk for p in persons]
    groups: dict[int, set[str]] = {p.pk: set() for p in persons}
    for person in persons:
        if any(getattr(person, name) for name in _NAME_FIELDS):
            groups[person.pk].add("names")
        if person.birth_month is not None or person.birth_day is not None:
            groups[person.pk].add("date_of_birth")
        if person.phone:
            groups[person.pk].add("phone")
        if any(getattr(person, name) is not None for name in _WG):
            groups[person.pk].add("disability_answers")
    related: list[tuple[str, Any]] = [
        ("documents", IdentityDocument.objects.filter(person_id__in=ids)),
        ("corrections", PersonCorrection.objects.filter(person_id__in=ids)),
        (
            "status_notes",
            StatusNote.objects.filter(person_id__in=ids).exclude(text="", asserted_by=""),
        ),
        ("tracing_matches", TraceMatch.objects.filter(person_id__in=ids)),
    ]
    for group, matching in related:
        for person_id in matching.values_list("person_id", flat=True).distinct():
            groups[person_id].add(group)
    for a, b in _noted_decisions(ids).values_list("pair__person_a_id", "pair__person_b_id"):
        for person_id in (a, b):
            if person_id in groups:
                groups[person_id].add("review_notes")
    by_uuid = {p.uuid: p.pk for p in persons}
    for object_uuid in _audit_copies(list(by_uuid)).values_list("object_uuid", flat=True):
        groups[by_uuid[object_uuid]].add("audit_copies")
    for other in _decision_notes_naming(list(by_uuid)).values_list("detail__other", flat=True):
        groups[by_uuid[UUID(other)]].add("audit_copies")
    return groups


def _household_groups(households: Sequence[Household]) -> dict[int, set[str]]:
    groups: dict[int, set[str]] = {h.pk: set() for h in households}
    for household in households:
        if household.phone:
            groups[household.pk].add("phone")
        if household.payload_digest:
            groups[household.pk].add("registration_digest")
    by_uuid = {h.uuid: h.pk for h in households}
    for object_uuid in _audit_copies(list(by_uuid)).values_list("object_uuid", flat=True):
        groups[by_uuid[object_uuid]].add("audit_copies")
    return groups


def _noted_decisions(person_ids: Sequence[int]) -> Any:
    return Decision.objects.filter(
        Q(pair__person_a_id__in=person_ids) | Q(pair__person_b_id__in=person_ids)
    ).exclude(note="")


def _decision_notes_naming(person_uuids: Sequence[UUID]) -> Any:
    """Audit rows of caseworkers' decisions whose other record (not `object_uuid`, the pair's
    first) is one of these persons: their note is about both (haven.identity.actions._decide)."""
    return AuditEvent.objects.filter(
        action__in=[f"identity.decide_{verdict}" for verdict in Decision.Verdict.values],
        detail__other__in=[str(person_uuid) for person_uuid in person_uuids],
        detail__has_key="note",
    )


def _audit_copies(object_uuids: Sequence[UUID]) -> Any:
    """Audit rows about these records whose detail copies personal text."""
    copies = Q()
    for key in PERSONAL_AUDIT_KEYS:
        copies |= Q(detail__has_key=key)
    return AuditEvent.objects.filter(copies, object_uuid__in=object_uuids)


def _anonymise_persons(ids: Sequence[int], now: datetime) -> None:
    Person.objects.filter(pk__in=ids).update(
        given_name="",
        given_name_script="",
        family_name="",
        family_name_script="",
        patronymic="",
        patronymic_script="",
        name_search="",
        given_key="",
        family_key="",
        patronymic_key="",
        phone="",
        birth_month=None,
        birth_day=None,
        anonymised_at=now,
        **dict.fromkeys(_WG),
    )
    IdentityDocument.objects.filter(person_id__in=ids).delete()
    PersonCorrection.objects.filter(person_id__in=ids).update(
        old_value=None, new_value=None, reason=""
    )
    StatusNote.objects.filter(person_id__in=ids).update(text="", asserted_by="")
    TraceMatch.objects.filter(person_id__in=ids).delete()
    _noted_decisions(ids).update(note="")


def _redact_audit_copies(object_uuids: Sequence[UUID]) -> None:
    """Replace the personal text audit rows copied (see PERSONAL_AUDIT_KEYS); who did what to
    which record, and when, stays."""
    events = list(_audit_copies(object_uuids).only("pk", "detail"))
    for event in events:
        event.detail = {
            key: (REMOVED if key in PERSONAL_AUDIT_KEYS else value)
            for key, value in event.detail.items()
        }
    AuditEvent.objects.bulk_update(events, ["detail"], batch_size=BATCH)


def _redact_decision_notes(person_uuids: Sequence[UUID]) -> None:
    """The note of a decision on a pair is blanked when either record is anonymised (see
    `_noted_decisions`); so is its copy in the decision's audit row, which is about the pair's
    first record and names the other in its detail."""
    events = list(_decision_notes_naming(person_uuids).only("pk", "detail"))
    for event in events:
        event.detail = {**event.detail, "note": REMOVED}
    AuditEvent.objects.bulk_update(events, ["detail"], batch_size=BATCH)


# --- tracing requests ------------------------------------------------------------------------


def _requests(
    chunk: Sequence[int],
    cutoff: datetime,
    report: RetentionReport,
    *,
    now: datetime,
    user: User | None,
) -> None:
    due = _still_due(TracingRequest.objects.all(), chunk, cutoff, report)
    ids = [r.pk for r in due]
    groups: dict[int, set[str]] = {r.pk: set() for r in due}
    for request in due:
        if any(getattr(request, name) for name in _SOUGHT_FIELDS):
            groups[request.pk].add("sought_person")
        if request.searcher_id is not None or any(
            (request.searcher_name, request.searcher_contact, request.searcher_language)
        ):
            groups[request.pk].add("searcher")
        if request.found_id is not None:
            groups[request.pk].add("found_person")
    related: list[tuple[str, Any]] = [
        ("name_keys", TraceKey.objects.filter(request_id__in=ids)),
        ("matches", TraceMatch.objects.filter(request_id__in=ids)),
        (
            "status_notes",
            StatusNote.objects.filter(request_id__in=ids).exclude(text="", asserted_by=""),
        ),
    ]
    for group, matching in related:
        for request_id in matching.values_list("request_id", flat=True).distinct():
            groups[request_id].add(group)
    rows = [
        report.anonymising(
            "tracing_requests",
            request,
            groups[request.pk],
            user=user,
            at=now,
            closed_at=request.closed_at.isoformat() if request.closed_at else None,
            outcome=request.status,
        )
        for request in due
    ]
    if report.dry_run or not due:
        return
    TraceKey.objects.filter(request_id__in=ids).delete()
    TraceMatch.objects.filter(request_id__in=ids).delete()
    StatusNote.objects.filter(request_id__in=ids).update(text="", asserted_by="")
    TracingRequest.objects.filter(pk__in=ids).update(
        searcher=None,
        searcher_name="",
        searcher_contact="",
        searcher_language="",
        found=None,
        anonymised_at=now,
        **dict.fromkeys(_SOUGHT_FIELDS, ""),
    )
    insert_rows(AuditEvent, rows)
