"""The desk-time check: while a registrar types a person, who already registered may be them?

Candidates come from the indexed name keys (any script), the birth year and document numbers;
each is scored with the trained model's weights, level by level, by the same comparisons the batch
uses (haven.identity.comparisons), so the probability shown at the desk is the batch's
probability. Registrars see only what tells two people apart (names as typed, birth date, sex,
site, when registered), and every candidate shown is an audited read.
"""

import json
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.db.models.functions import Abs
from django.utils import timezone

from haven.core.models import User
from haven.identity.comparisons import (
    COMPARISONS,
    YEARS_APART,  # the name pair alone finds births this many years either side
    Features,
    features,
    scripts_of,
)
from haven.identity.models import LinkageModel
from haven.identity.records import PERSON_COLUMNS, person_features
from haven.identity.scoring import FREQUENCY_KEYS, Frequencies, Weights, probability
from haven.names import name_forms
from haven.registry.models import IdentityDocument, Person
from haven.registry.selectors import audit_listed

CANDIDATES_SCANNED = 200  # per lookup, the closest birth years first
STARTER_MODEL = Path(__file__).resolve().parent / "data" / "starter_model.json"


def current_weights() -> Weights:
    """The newest trained model; before the first batch run, the starter model that ships with
    Haven (trained the same way on a simulated influx: see the README)."""
    newest = LinkageModel.objects.order_by("-version").values_list("version", "sha256").first()
    if newest is None:
        return _starter_weights()
    version, digest = newest
    cached = _TRAINED.get("weights")
    if cached is None or _TRAINED.get("key") != (version, digest):
        # Read the model itself (tens of kilobytes) only when a new version appears.
        model = LinkageModel.objects.values_list("settings", flat=True).get(version=version)
        cached = Weights(model, version=f"v{version}")
        _TRAINED.update(key=(version, digest), weights=cached)
    assert isinstance(cached, Weights)  # noqa: S101 - what this cache holds
    return cached


@lru_cache(maxsize=1)
def _starter_weights() -> Weights:
    return Weights(json.loads(STARTER_MODEL.read_text(encoding="utf-8")), version="starter")


_TRAINED: dict[str, object] = {}  # the newest trained model's weights, and (version, sha256)


# A registry of a few people says little about how common a name is (with one person registered,
# every name would look universal and agree for nothing): the model's average share of a name
# counts as this many records more, and the registry's own counts take over as it grows.
PRIOR_RECORDS = 1000


_TOTAL: dict[str, float] = {}
TOTAL_SECONDS = 60.0  # how long a count of the registry is reused


def registered_total() -> int:
    """How many persons are registered, counted at most once a minute: a count is a full scan
    on PostgreSQL, and a share of a name needs only its order of magnitude."""
    now = time.monotonic()
    if now - _TOTAL.get("at", -TOTAL_SECONDS) >= TOTAL_SECONDS:
        _TOTAL["value"] = _estimated_count() or Person.objects.count()
        _TOTAL["at"] = now
    return int(_TOTAL["value"])


def _estimated_count() -> int:
    """PostgreSQL's own estimate of the table's rows (kept by ANALYZE and autovacuum): free,
    where COUNT(*) reads a million rows. 0 where there is none (SQLite, a never-analysed table)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Person._meta.db_table]
        )
        row = cursor.fetchone()
    return max(0, int(row[0])) if row else 0


_SHARES: dict[tuple[str, str], tuple[float, int]] = {}  # (part, key) → (when, count)


def name_count(part: str, key: str) -> int:
    """How many records have this name key, counted at most once a minute per key: the
    commonest names are tens of thousands of index entries, and their share barely moves."""
    now = time.monotonic()
    cached = _SHARES.get((part, key))
    if cached is None or now - cached[0] >= TOTAL_SECONDS:
        count = Person.objects.filter(**{FREQUENCY_KEYS[part]: key}).count()
        _SHARES[(part, key)] = cached = (now, count)
        if len(_SHARES) > 100_000:  # names are few; a flood of odd ones must not grow this
            _SHARES.clear()
    return cached[1]


def documents_of(person_ids: list[int]) -> dict[int, list[str]]:
    """The document numbers of these persons, by person id (what the documents comparison reads)."""
    docs: dict[int, list[str]] = {}
    for person_id, number in IdentityDocument.objects.filter(person_id__in=person_ids).values_list(
        "person_id", "number"
    ):
        docs.setdefault(person_id, []).append(number)
    return docs


class RegistryFrequencies:
    """How common a name key is among everyone registered (two indexed counts per check)."""

    def __init__(self, weights: Weights) -> None:
        self.total = registered_total()
        # The chance that two records picked at random share the name's key: the average share.
        self.prior = {
            part: sum(
                level.u
                for label, level in weights.by_label.get(part, {}).items()
                if label in {"same_spelling", "same_name"}
            )
            for part in FREQUENCY_KEYS
        }
        self._cache: dict[tuple[str, str], float] = {}

    def share(self, part: str, key: str) -> float:
        if (part, key) not in self._cache:
            count = name_count(part, key)
            prior = PRIOR_RECORDS * self.prior.get(part, 0.0)
            self._cache[(part, key)] = max(count + prior, 1) / (self.total + PRIOR_RECORDS)
        return self._cache[(part, key)]


@dataclass(frozen=True)
class Reason:
    field: str
    level: str
    weight: float
    scripts: tuple[str, str]  # the scripts the two names were typed in, for name fields


@dataclass(frozen=True)
class Candidate:
    person: Person
    probability: float
    match_weight: float
    reasons: list[Reason]


def score(
    query: Features,
    other: Features,
    weights: Weights,
    frequencies: Frequencies,
    unknown: Collection[str] = (),
) -> tuple[float, list[Reason]]:
    """The pair's weight and its reasons, strongest first: the batch's arithmetic exactly.
    Comparisons named in `unknown` are what the query does not know (a searcher who cannot say
    the birth year): no evidence either way, as a null level is."""
    total = weights.prior
    reasons = []
    for comparison in COMPARISONS:
        if comparison.name in unknown:
            continue
        level = comparison.level_of(query, other)
        if level.null:
            continue
        column = FREQUENCY_KEYS.get(comparison.name)
        share = frequencies.share(comparison.name, getattr(query, column)) if column else None
        weight = weights.weight(comparison.name, level.label, share)
        total += weight
        reasons.append(
            Reason(
                field=comparison.name,
                level=level.label,
                weight=round(weight, 2),
                scripts=(scripts_of(query, comparison.name), scripts_of(other, comparison.name)),
            )
        )
    reasons.sort(key=lambda r: -r.weight)
    return total, reasons


def find_candidates(
    *,
    user: User | None,
    given_name: str,
    family_name: str,
    patronymic: str = "",
    sex: str,
    birth_year: int | None,
    birth_month: int | None = None,
    birth_day: int | None = None,
    birth_estimated: bool = False,
    registered_year: int | None = None,
    origin: str = "",
    phone: str = "",
    documents: list[str] | None = None,
    specific_needs: list[str] | None = None,
    functioning: Sequence[int | None] = (),
    limit: int = 5,
    threshold: float | None = None,
    exclude_household: int | None = None,
    audit: bool = True,
) -> list[Candidate]:
    """Registered people who may be this person, most probable first, at or above `threshold`
    (default: the "possible duplicate" threshold).

    A sex of "" or a birth year of None is unknown (a tracing search): it counts neither for nor
    against, and without a year the candidates are those with both names' keys, of any age.
    With `audit=False` the caller audits what it shows (a search that merges several lookups);
    `user` None is Haven's own read (the command line)."""
    threshold = settings.HAVEN_IDENTITY_POSSIBLE if threshold is None else threshold
    unknown = {"birth_date"} if birth_year is None else set()
    if not sex:
        unknown.add("sex")
    query = features(
        unique_id=0,
        household_id=0,
        given_name=given_name,
        family_name=family_name,
        patronymic=patronymic,
        sex=sex,
        birth_year=birth_year or 0,
        birth_month=birth_month,
        birth_day=birth_day,
        birth_estimated=birth_estimated,
        registered_year=registered_year or timezone.now().year,
        origin=origin,
        phone=phone,
        documents=documents or [],
        needs=specific_needs or [],
        functioning=functioning,
    )
    # The name pair alone, within the years an estimated age or a typo can move a birth.
    years = (
        Q()
        if birth_year is None
        else Q(birth_year__gte=birth_year - YEARS_APART, birth_year__lte=birth_year + YEARS_APART)
    )
    condition = Q(pk__in=[])
    if query.given_key and query.family_key:
        condition |= Q(given_key=query.given_key, family_key=query.family_key) & years
        # The same names written the other way round (a form that puts the family name first).
        condition |= (
            Q(
                given_key=name_forms(family_name, "given").key,
                family_key=name_forms(given_name, "family").key,
            )
            & years
        )
    if query.given_key and birth_year is not None:
        condition |= Q(given_key=query.given_key, birth_year=birth_year)
    if query.family_key and birth_year is not None:
        condition |= Q(family_key=query.family_key, birth_year=birth_year)
    if documents:
        condition |= Q(
            pk__in=IdentityDocument.objects.filter(number__in=documents).values("person")
        )
    persons = Person.objects.filter(condition)
    if exclude_household is not None:
        persons = persons.exclude(household_id=exclude_household)
    # The closest birth years first: for the commonest names (a thousand Anahit Hovhannisyans at
    # a million records) the scan must keep the likeliest, not the newest.
    closest = (
        persons.order_by("pk")
        if birth_year is None
        else persons.order_by(Abs(F("birth_year") - birth_year), "pk")
    )
    rows = list(closest.values_list(*PERSON_COLUMNS)[:CANDIDATES_SCANNED])
    if not rows:
        return []
    docs = documents_of([r[0] for r in rows])
    weights = current_weights()
    frequencies = RegistryFrequencies(weights)
    scored = []
    for row in rows:
        other = person_features(row, docs.get(row[0], []))
        weight, reasons = score(query, other, weights, frequencies, unknown)
        chance = probability(weight)
        if chance >= threshold:
            scored.append((chance, weight, row[0], reasons))
    scored.sort(key=lambda item: (-item[0], item[2]))
    scored = scored[:limit]
    shown = Person.objects.select_related("site", "household").in_bulk([s[2] for s in scored])
    candidates = [
        Candidate(person=shown[pk], probability=chance, match_weight=weight, reasons=reasons)
        for chance, weight, pk, reasons in scored
    ]
    if candidates and audit:
        audit_listed(
            user,
            "person.check",
            [(c.person.uuid, c.person.site_id) for c in candidates],
            via="desk_check",
        )
    return candidates
