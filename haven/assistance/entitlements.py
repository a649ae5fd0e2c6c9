"""Who is owed what: a programme's rules applied to every identity, never to registrations.

An identity (`Person.identity`) is the records haven.identity found to be one person. For one
programme and period, an identity is entitled when

- it *arrived* (its earliest registration, in Yerevan's calendar) within the programme's arrival
  dates;
- one of its records is of the right age on the period's first day (a partial date of birth is
  read as the middle of what is unknown: 1 July for a year alone, the 15th for a month);
- one of its records has one of the programme's specific needs, if it names any;
- one of its records holds an identity document, if the programme asks for one.

A programme paid per household pays the identities of the heads of households: a household
registered twice under one (linked) head is paid once, and the age, needs and document rules
are met by any member of the household (a child's age, a grandmother's need). The payment is
made out to the identity's earliest record. An identity one of whose records awaits a
caseworker's decision on a possible duplicate is *held* where the programme's policy says hold
(haven.assistance.payments reads the reviews again when it lists payments, so a decision made
since is honoured).

The rules are evaluated in Python over one ordered pass of the person index by identity, so that
partial dates and lists of needs are read the same way on every database; a million records take
seconds (bench/bench_assistance.py).
"""

import calendar
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.assistance.models import Entitlement, EntitlementRun, Payment, Programme
from haven.core import audit
from haven.core.bulk import insert_rows
from haven.core.errors import FieldError, InvalidInput
from haven.core.models import User
from haven.identity.models import CandidatePair
from haven.registry.models import IdentityDocument, Person

CALENDAR = zoneinfo.ZoneInfo("Asia/Yerevan")
READ_CHUNK = 20_000
WRITE_CHUNK = 20_000
# The records Haven still serves: a closed household's case (haven.registry.actions
# .close_household; an anonymised household is closed too) entitles nobody.
OPEN_CASE = Q(household__closed_at__isnull=True)


def period_start(programme: Programme, period: int) -> date:
    """The first day of `period` (1 is the programme's start; each later one a month on)."""
    months = programme.starts_on.month - 1 + period - 1
    year = programme.starts_on.year + months // 12
    month = months % 12 + 1
    day = min(programme.starts_on.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def check_period(programme: Programme, period: int) -> None:
    if not 1 <= period <= programme.periods:
        raise InvalidInput(
            [
                FieldError(
                    "period",
                    _("%(code)s has periods 1 to %(last)d, not %(period)d")
                    % {"code": programme.code, "last": programme.periods, "period": period},
                )
            ]
        )


def age_on(day: date, birth_year: int, birth_month: int | None, birth_day: int | None) -> int:
    """Whole years on `day`; an unknown month counts as July, an unknown day as the 15th."""
    month = birth_month or 7
    dom = birth_day or (15 if birth_month else 1)
    return day.year - birth_year - ((day.month, day.day) < (month, dom))


@dataclass(frozen=True)
class Rules:
    """A programme's eligibility rules for one period, as plain values."""

    arrived_from: datetime | None
    arrived_before: datetime | None
    on_day: date
    age_min: int | None
    age_max: int | None
    needs_any: frozenset[str]
    document_required: bool

    @classmethod
    def of(cls, programme: Programme, period: int) -> "Rules":
        def midnight(day: date) -> datetime:
            return datetime(day.year, day.month, day.day, tzinfo=CALENDAR)

        return cls(
            arrived_from=midnight(programme.arrived_from) if programme.arrived_from else None,
            arrived_before=(
                midnight(programme.arrived_until + timedelta(days=1))
                if programme.arrived_until
                else None
            ),
            on_day=period_start(programme, period),
            age_min=programme.age_min,
            age_max=programme.age_max,
            needs_any=frozenset(programme.needs_any),
            document_required=programme.document_required,
        )

    def record_qualifies(
        self,
        birth: tuple[int, int | None, int | None],
        needs: list[str] | None,
        has_document: bool,
    ) -> tuple[bool, bool, bool]:
        """Which of the per-record rules (age, needs, document) this record meets."""
        age_ok = True
        if self.age_min is not None or self.age_max is not None:
            age = age_on(self.on_day, *birth)
            age_ok = (self.age_min is None or age >= self.age_min) and (
                self.age_max is None or age <= self.age_max
            )
        needs_ok = not self.needs_any or bool(self.needs_any.intersection(needs or ()))
        return age_ok, needs_ok, has_document or not self.document_required

    def arrival_qualifies(self, first_registered: datetime) -> bool:
        return (self.arrived_from is None or first_registered >= self.arrived_from) and (
            self.arrived_before is None or first_registered < self.arrived_before
        )


@dataclass
class _Identity:
    identity: UUID
    first_at: datetime
    person_id: int
    household_id: int
    age: bool = False
    needs: bool = False
    document: bool = False
    reviewed: bool = False


def pending_review_person_ids() -> set[int]:
    """Records in a possible-duplicate pair that awaits a caseworker's decision."""
    ids: set[int] = set()
    for a, b in CandidatePair.objects.filter(status=CandidatePair.Status.PENDING).values_list(
        "person_a_id", "person_b_id"
    ):
        ids.add(a)
        ids.add(b)
    return ids


def identities_in_review() -> set[UUID]:
    """The current identities of the records in a pair awaiting a caseworker's decision."""
    pending = CandidatePair.objects.filter(status=CandidatePair.Status.PENDING)
    return set(
        Person.objects.filter(
            Q(pk__in=pending.values("person_a_id")) | Q(pk__in=pending.values("person_b_id"))
        ).values_list("identity", flat=True)
    )


def _records(programme: Programme) -> Iterator[tuple[Any, ...]]:
    """The records whose identities are paid (everyone, or the heads of households), identity by
    identity (any order within one): what the rules read, and nothing they do not (a JSON list
    decoded a million times costs seconds). Records of a closed case are not read: they are
    neither paid nor make their identity qualify (another open record of it still can)."""
    persons = Person.objects.filter(OPEN_CASE)
    if programme.unit == Programme.Unit.HOUSEHOLD:
        persons = persons.filter(relationship=Person.Relationship.HEAD)
    needs = "specific_needs" if programme.needs_any else "birth_year"
    rows = persons.order_by("identity").values_list(
        "identity",
        "id",
        "household_id",
        "household__registered_at",
        "birth_year",
        "birth_month",
        "birth_day",
        needs,
    )
    return rows.iterator(chunk_size=READ_CHUNK)


Met = tuple[bool, bool, bool]


def _households_meeting(programme: Programme, rules: Rules, documents: set[int]) -> dict[int, Met]:
    """For a programme paid per household: which of the per-record rules (age, needs, document)
    some member of each household meets. A household qualifies through any of its members: a
    child's age, a grandmother's mobility need. A closed household meets nothing."""
    needs = "specific_needs" if programme.needs_any else "birth_year"
    met: dict[int, Met] = {}
    rows = (
        Person.objects.filter(OPEN_CASE)
        .order_by()
        .values_list("household_id", "id", "birth_year", "birth_month", "birth_day", needs)
    )
    for household_id, pid, year, month, day, record_needs in rows.iterator(chunk_size=READ_CHUNK):
        mine = rules.record_qualifies((year, month, day), record_needs, pid in documents)
        before = met.get(household_id)
        met[household_id] = (
            mine
            if before is None
            else (
                before[0] or mine[0],
                before[1] or mine[1],
                before[2] or mine[2],
            )
        )
    return met


def _identities(
    programme: Programme, rules: Rules, documents: set[int], reviewed: set[int]
) -> Iterator[tuple[_Identity, int]]:
    """Each identity of the programme's records with what its records (or, per household, their
    households' members) meet, and the number of records read for it."""
    households = (
        _households_meeting(programme, rules, documents)
        if programme.unit == Programme.Unit.HOUSEHOLD
        else None
    )
    current: _Identity | None = None
    count = 0
    for identity, pid, household_id, registered_at, year, month, day, needs in _records(programme):
        if current is None or identity != current.identity:
            if current is not None:
                yield current, count
            current = _Identity(identity, registered_at, pid, household_id)
            count = 0
        elif (registered_at, pid) < (current.first_at, current.person_id):
            current.first_at, current.person_id, current.household_id = (
                registered_at,
                pid,
                household_id,
            )
        count += 1
        if households is not None:
            age_ok, needs_ok, document_ok = households.get(household_id, (False, False, False))
        else:
            age_ok, needs_ok, document_ok = rules.record_qualifies(
                (year, month, day), needs, pid in documents
            )
        current.age |= age_ok
        current.needs |= needs_ok
        current.document |= document_ok
        current.reviewed |= pid in reviewed
    if current is not None:
        yield current, count


def compute(*, programme: Programme, period: int, acting_user: User | None) -> EntitlementRun:
    """Apply the programme's rules to every identity for `period` and store who is owed what.

    Entitlements already on a payment list are kept as they are; the others are replaced by this
    computation, in one transaction (a failure leaves the previous ones in place)."""
    check_period(programme, period)
    started = time.perf_counter()
    rules = Rules.of(programme, period)
    documents = (
        set(IdentityDocument.objects.values_list("person_id", flat=True).distinct())
        if programme.document_required
        else set()
    )
    reviewed = pending_review_person_ids()
    hold = programme.possible_duplicates == Programme.PossibleDuplicates.HOLD
    with transaction.atomic():
        run = EntitlementRun.objects.create(
            programme=programme, period=period, started_at=timezone.now(), started_by=acting_user
        )
        # One computation of a programme at a time, and none while a list of it is made.
        list(Programme.objects.select_for_update().filter(pk=programme.pk).values_list("pk"))
        if connection.vendor == "postgresql":
            # The records are read whole through a server-side cursor: plan for all the rows
            # (a sort), not for the first ones (a million index look-ups; 15 s against 26 s).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        mine = Entitlement.objects.filter(programme=programme, period=period)
        paid = Payment.objects.filter(entitlement=OuterRef("pk"))
        # One DELETE statement: nothing refers to an entitlement that no payment names (the
        # ORM's delete would read every row first to look for what protects it).
        mine.filter(~Exists(paid))._raw_delete(mine.db)
        # Those on a list are kept; they stand for their payee's identity *now* (a link undone
        # since may have given their old identity to others, who are owed in their own right).
        kept = set(mine.values_list("person__identity", flat=True))
        records = identities = held = total = 0
        batch: list[dict[str, Any]] = []
        for found, count in _identities(programme, rules, documents, reviewed):
            records += count
            if not (
                found.age
                and found.needs
                and found.document
                and rules.arrival_qualifies(found.first_at)
            ):
                continue
            identities += 1
            total += programme.amount
            status = Entitlement.Status.DUE
            if found.reviewed and hold:
                status = Entitlement.Status.HELD
                held += 1
            if found.identity in kept:
                continue
            batch.append(
                {
                    "programme_id": programme.pk,
                    "period": period,
                    "identity": found.identity,
                    "person_id": found.person_id,
                    "household_id": found.household_id,
                    "amount": programme.amount,
                    "status": status,
                    "run_id": run.pk,
                }
            )
            if len(batch) >= WRITE_CHUNK:
                insert_rows(Entitlement, batch)
                batch = []
        insert_rows(Entitlement, batch)
        run.records, run.identities, run.held, run.total_amount = records, identities, held, total
        run.seconds = round(time.perf_counter() - started, 3)
        run.save(update_fields=["records", "identities", "held", "total_amount", "seconds"])
        audit.record(
            user=acting_user,
            action="assistance.entitle",
            object_type="programme",
            object_uuid=programme.uuid,
            detail={
                "period": period,
                "records": records,
                "identities": identities,
                "held": held,
                "total_amount": total,
            },
        )
    return run


def eligible_identity(programme: Programme, person: Person, period: int = 1) -> bool:
    """Whether the identity of `person` meets the programme's rules (the distribution point's
    check for one person, the same rules as `compute`: records of a closed case count for
    nothing)."""
    rules = Rules.of(programme, period)
    mine = Person.objects.filter(OPEN_CASE, identity=person.identity)
    records = list(
        mine.values_list(
            "id",
            "household__registered_at",
            "birth_year",
            "birth_month",
            "birth_day",
            "specific_needs",
        )
    )
    with_documents = set(
        IdentityDocument.objects.filter(person_id__in=[r[0] for r in records]).values_list(
            "person_id", flat=True
        )
    )
    if not records or not rules.arrival_qualifies(min(r[1] for r in records)):
        return False
    if programme.unit == Programme.Unit.HOUSEHOLD:
        # The rules are met by any member of the identity's households, as in `compute`.
        records = list(
            Person.objects.filter(household__in=mine.values("household_id")).values_list(
                "id",
                "household__registered_at",
                "birth_year",
                "birth_month",
                "birth_day",
                "specific_needs",
            )
        )
        with_documents = set(
            IdentityDocument.objects.filter(person_id__in=[r[0] for r in records]).values_list(
                "person_id", flat=True
            )
        )
    met = [
        rules.record_qualifies((r[2], r[3], r[4]), r[5], r[0] in with_documents) for r in records
    ]
    return all(any(m[i] for m in met) for i in range(3))
