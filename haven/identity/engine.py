"""The batch linkage engine: Splink on DuckDB, plus household evidence and clustering.

Nothing here touches Django's database: it takes `Features` and returns scored pairs and clusters,
so that the batch command, the benchmarks and the tests drive one engine. `haven.identity.batch`
reads the registry into it and writes its results back.

The model is Fellegi–Sunter as Splink implements it: u probabilities by random sampling, m by
expectation–maximisation without labels (or from reviewed pairs when there are enough), match
weights per comparison level. Two things Splink does not know are added after its predictions:
- household evidence: when other members of the two records' households also match, that
  raises the match; two records of one household are held apart unless the evidence is strong
  (twins share a surname, a birth date and an origin);
- conflicts: a pair a caseworker rejected is never joined by the clustering.
"""

import logging
import math
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.exceptions import EMTrainingException

from haven.identity.comparisons import BLOCKING_RULES, COMPARISONS, Comparison, Features
from haven.identity.scoring import (
    FREQUENCY_KEYS,
    CountedFrequencies,
    Frequencies,
    Weights,
    probability,
    weight_of,
)

logger = logging.getLogger(__name__)

# A household that lists one person twice is rare; two namesakes in one household (twins, a
# mother and daughter with one name, a father and son) are not. Log2 Bayes factor.
SAME_HOUSEHOLD_WEIGHT = -8.0
# Bounds on the household-support factor estimated from each run's data.
SUPPORT_WEIGHT_MAX = 8.0
SUPPORT_PROBABILITY = 0.9  # another pair of the two households counts as support above this
MIN_RECORDS_TO_TRAIN = 50
MIN_DOCUMENT_PAIRS = 30  # records sharing a document number, to learn m from
# See smoothed(): one record in 200 may carry any single disagreement; nothing is rarer among
# non-matches than one pair in a million.
M_FLOOR = 0.005
U_FLOOR = 1e-6
CANDIDATE_FLOOR = 0.5  # pairs below this probability are not kept (HAVEN_IDENTITY_POSSIBLE)
# Two records put in one identity must look like one person on their own, at least this likely
# (their link may come through a third record).
WITHIN_IDENTITY = 0.5
DUCKDB_MEMORY = "2GB"  # DuckDB's share of the batch's memory; beyond it, it spills to disk
PREFILTER_SLACK = 12.0  # bits a rare name and relatives can add to Splink's own weight

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class ScoredPair:
    left: int  # unique_id, left < right
    right: int
    match_weight: float  # all evidence, household terms included
    match_probability: float
    levels: dict[str, str]  # comparison → level label
    weights: dict[str, float]  # comparison → log2 Bayes factor (household terms included)


@dataclass
class LinkageResult:
    pairs: list[ScoredPair]
    clusters: list[list[int]]  # records linked as one identity (only groups of two or more)
    model: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


def _starting_m(comparison: dict[str, Any]) -> dict[str, Any]:
    """EM's starting point: each level half as likely among matches as the one above it. Splink
    needs one for every level, or a level EM never sees is left without m at all."""
    levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
    shares = [2.0**-i for i in range(len(levels))]
    for level, share in zip(levels, shares, strict=True):
        level["m_probability"] = share / sum(shares)
    return comparison


def model_matches(model: dict[str, Any]) -> bool:
    """Whether a saved model has exactly today's comparisons and levels (its weights are read by
    level, so a model from before a change of levels must be retrained, never reused)."""
    saved = [
        (c["output_column_name"], [lvl.get("label_for_charts") for lvl in c["comparison_levels"]])
        for c in model.get("comparisons", [])
    ]
    current = [(c.name, [lvl.label for lvl in c.levels]) for c in COMPARISONS]
    return saved == current


def settings(probability_two_random_records_match: float = 1e-5) -> dict[str, Any]:
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": [_starting_m(c.splink()) for c in COMPARISONS],
        "blocking_rules_to_generate_predictions": [{"blocking_rule": r} for r in BLOCKING_RULES],
        "probability_two_random_records_match": probability_two_random_records_match,
        "additional_columns_to_retain": ["household_id"],
        "retain_matching_columns": True,  # with it come the gammas that explain each pair
        "retain_intermediate_calculation_columns": False,
        "max_iterations": 20,
        "em_convergence": 0.001,
    }


def arrow_table(records: Sequence[Features]) -> pa.Table:
    """Column by column: a million records in a few seconds."""
    rows = [r.as_row() for r in records]
    names = list(rows[0]) if rows else [*Features.__dataclass_fields__, "document"]
    columns = {name: [row[name] for row in rows] for name in names}
    types = {
        "unique_id": pa.int64(),
        "household_id": pa.int64(),
        "birth_year": pa.int32(),
        "birth_month": pa.int32(),
        "birth_day": pa.int32(),
        "registered_year": pa.int32(),
        "birth_estimated": pa.bool_(),
        "documents": pa.list_(pa.string()),
        "needs": pa.list_(pa.string()),
    }
    return pa.table({n: pa.array(v, type=types.get(n, pa.string())) for n, v in columns.items()})


class Engine:
    """One DuckDB database holding the records, and a Splink linker over it."""

    def __init__(
        self,
        records: Sequence[Features],
        *,
        threads: int | None = None,
        memory_limit: str = DUCKDB_MEMORY,
    ) -> None:
        self.records = records
        self.connection = duckdb.connect()
        # Room to spill: a million records' blocked pairs need not fit in memory at once.
        self.spill = tempfile.mkdtemp(prefix="haven-linkage-")
        self.connection.execute(f"SET temp_directory = '{self.spill}'")
        self.connection.execute(f"SET memory_limit = '{memory_limit}'")
        if threads is not None:
            self.connection.execute(f"SET threads = {int(threads)}")
        self.connection.register("records_arrow", arrow_table(records))
        self.connection.execute("CREATE TABLE records AS SELECT * FROM records_arrow")
        self.connection.unregister("records_arrow")
        self.db_api = DuckDBAPI(connection=self.connection)
        self._frame = self.db_api.register("records", dataset_display_name="records")

    def close(self) -> None:
        self.connection.close()
        shutil.rmtree(self.spill, ignore_errors=True)

    def linker(self, model: dict[str, Any]) -> Linker:
        # Blocking is not learnt: a model saved before the rules changed blocks by today's.
        current = settings()["blocking_rules_to_generate_predictions"]
        model = {**model, "blocking_rules_to_generate_predictions": current}
        return Linker(self._frame, model, log_level=logging.ERROR)

    def train(
        self,
        *,
        labels: Iterable[tuple[int, int, bool]] = (),
        seed: int = 2023,
        max_pairs: float = 5e6,
    ) -> dict[str, Any]:
        """A model trained on these records: u by random sampling, m by EM (no labels needed).
        With reviewed pairs, m is estimated from them instead where they cover the levels."""
        if len(self.records) < MIN_RECORDS_TO_TRAIN:
            raise ValueError(
                f"too few records to train a linkage model ({len(self.records)}; "
                f"at least {MIN_RECORDS_TO_TRAIN})"
            )
        linker = self.linker(settings())
        deterministic: list[str | BlockingRuleCreator] = [
            "l.given_key = r.given_key AND l.family_key = r.family_key"
            " AND l.birth_year = r.birth_year AND l.sex = r.sex",
            "l.document = r.document",
        ]
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        # EM learns m from the pairs a blocking rule brings in, and those should be mostly
        # matches: records sharing a document number are, and they teach what a match looks
        # like in every other field. Blocking on the names instead would bring in brothers,
        # cousins and namesakes, and teach that a match's birth date often disagrees.
        passes = []
        if self._count_pairs("l.document = r.document") >= MIN_DOCUMENT_PAIRS:
            passes.append("l.document = r.document")
        else:
            passes.append("l.given_key = r.given_key AND l.family_key = r.family_key")
        passes.append(
            "l.birth_year = r.birth_year AND l.birth_month = r.birth_month"
            " AND l.birth_day = r.birth_day AND l.sex = r.sex"
        )
        for rule in passes:
            before: dict[str, Any] = linker.misc.save_model_to_json()
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True
                )
            except (ValueError, EMTrainingException) as error:
                # EM can drive a level's m to zero on small or odd data, which Splink refuses;
                # that pass teaches nothing, the others and the floors in smoothed() remain.
                # Splink set aside the comparisons of the pass's own blocking rule while it
                # ran: the model from before the pass brings them back.
                logger.warning("EM pass on %r skipped: %s", rule, error)
                linker = self.linker(before)
        label_list = list(labels)
        if label_list:
            self._train_from_labels(linker, label_list)
        model: dict[str, Any] = linker.misc.save_model_to_json()
        if not model_matches(model):
            raise RuntimeError("training lost a comparison: the model does not match the code")
        return smoothed(model)

    def _count_pairs(self, condition: str) -> int:
        sql_condition = condition.replace("l.", "a.").replace("r.", "b.")
        rows = self.connection.execute(
            "SELECT count(*) FROM records a JOIN records b"  # noqa: S608 - our own rule text
            f" ON a.unique_id < b.unique_id AND {sql_condition}"
        ).fetchall()
        return int(rows[0][0])

    def _train_from_labels(self, linker: Linker, labels: list[tuple[int, int, bool]]) -> None:
        table = pa.table(
            {
                "unique_id_l": pa.array([min(a, b) for a, b, _ in labels], type=pa.int64()),
                "unique_id_r": pa.array([max(a, b) for a, b, _ in labels], type=pa.int64()),
                "clerical_match_score": pa.array([1.0 if s else 0.0 for *_, s in labels]),
            }
        )
        self.connection.register("labels_arrow", table)
        self.connection.execute(
            "CREATE OR REPLACE TABLE labels AS SELECT *, 'records' AS source_dataset_l,"
            " 'records' AS source_dataset_r FROM labels_arrow"
        )
        linker.training.estimate_m_from_pairwise_labels("labels")  # type: ignore[no-untyped-call]  # Splink leaves it unannotated

    def frequencies(self) -> CountedFrequencies:
        return CountedFrequencies(
            {
                part: [getattr(r, column) for r in self.records]
                for part, column in FREQUENCY_KEYS.items()
            }
        )

    def predict(self, model: dict[str, Any], *, floor: float = CANDIDATE_FLOOR) -> list[ScoredPair]:
        """Every blocked pair scored by the model, name frequencies and household evidence
        added, above `floor`."""
        linker = self.linker(model)
        # A saved model carries the training linker's cache id: without a new one, Splink finds
        # training's tables under the names prediction would write (and scores nothing anew).
        linker.table_management.invalidate_cache()  # type: ignore[no-untyped-call]  # Splink leaves it unannotated
        # Splink's own floor is lower: rare names and relatives can lift a pair over ours.
        frame = linker.inference.predict(threshold_match_weight=weight_of(floor) - PREFILTER_SLACK)
        gammas = [f"gamma_{c.name}" for c in COMPARISONS]
        result = self.connection.execute(
            "SELECT unique_id_l, unique_id_r, household_id_l, household_id_r,"  # noqa: S608
            " given_key_l, family_key_l, "
            f"{', '.join(gammas)} FROM {frame.physical_name}"
        )
        # A chunk at a time, keeping only what household evidence could still lift over the
        # floor: the blocked pairs of a million records do not all fit in memory as objects.
        weights, frequencies = Weights(model), self.frequencies()
        keep_from = weight_of(floor) - SUPPORT_WEIGHT_MAX
        scored: list[Weighed] = []
        while rows := result.fetchmany(50_000):
            for row in rows:
                total, levels, parts = pair_evidence(
                    row[6:], {"given": row[4] or "", "family": row[5] or ""}, weights, frequencies
                )
                if total >= keep_from:
                    scored.append((row[0], row[1], row[2], row[3], total, levels, parts))
        frame.drop_table_from_database_and_remove_from_cache()
        return with_household_evidence(scored, floor=floor)


def smoothed(model: dict[str, Any]) -> dict[str, Any]:
    """The model with no level impossible: EM learns from the data it sees, and a simulated or
    very clean influx can teach it that sex or a phone never differs between two records of
    one person (m = 0, a weight of minus infinity). Real registrars do mistype; a floor on m and
    u keeps every single disagreement a finite piece of evidence."""
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            for name, floor in (("m_probability", M_FLOOR), ("u_probability", U_FLOOR)):
                # A level never seen in training (a swapped day and month, say) is still
                # possible: it gets the floor rather than no evidence at all.
                level[name] = max(float(level.get(name) or 0.0), floor)
    return model


_NAMES = [c.name for c in COMPARISONS]


def pair_evidence(
    gammas: Sequence[int], keys: dict[str, str], weights: Weights, frequencies: Frequencies
) -> tuple[float, dict[str, str], dict[str, float]]:
    """The weight of one pair from its comparison levels: (total with prior, levels, weights)."""
    total = weights.prior
    levels: dict[str, str] = {}
    parts: dict[str, float] = {}
    for name, gamma in zip(_NAMES, gammas, strict=True):
        if gamma == -1:
            levels[name] = "null"
            continue
        label = weights.by_gamma[name][gamma].label
        share = frequencies.share(name, keys[name]) if name in keys else None
        w = weights.weight(name, label, share)
        levels[name], parts[name] = label, w
        total += w
    return total, levels, parts


# A weighed pair: ids, households, weight, levels and their weights.
Weighed = tuple[int, int, int, int, float, dict[str, str], dict[str, float]]


def with_household_evidence(scored: Sequence[Weighed], *, floor: float) -> list[ScoredPair]:
    """Add household evidence to weighed pairs and keep what clears `floor`."""
    # Household support: the other pairs linking the same two households.
    strong: dict[tuple[int, int], int] = defaultdict(int)
    threshold = weight_of(SUPPORT_PROBABILITY)
    for _, _, h1, h2, total, _, _ in scored:
        if h1 != h2 and total >= threshold:
            strong[(min(h1, h2), max(h1, h2))] += 1
    support_weight = _support_weight(scored, strong, threshold)
    floor_weight = weight_of(floor)
    pairs: list[ScoredPair] = []
    for left, right, h1, h2, weight, levels, parts in scored:
        if h1 == h2:
            levels["household"] = "same_household"
            parts["household"] = SAME_HOUSEHOLD_WEIGHT
            weight += SAME_HOUSEHOLD_WEIGHT
        elif _supportable(levels):
            others = strong[(min(h1, h2), max(h1, h2))] - (1 if weight >= threshold else 0)
            if others > 0:
                levels["household"] = "relatives_match"
                parts["household"] = support_weight
                weight += support_weight
        if weight < floor_weight:
            continue
        if left > right:
            left, right = right, left
        pairs.append(ScoredPair(left, right, weight, probability(weight), levels, parts))
    return pairs


# Relatives matching is evidence about *this* pair only if its own names and birth date do not
# contradict it: otherwise two sisters in two linked households would look like one person.
_SUPPORTABLE_GIVEN = frozenset({"same_spelling", "same_name", "one_typo", "close", "similar"})


def _supportable(levels: dict[str, str]) -> bool:
    return levels.get("given") in _SUPPORTABLE_GIVEN and levels.get("birth_date") != "else"


def _support_weight(
    scored: Sequence[tuple[Any, ...]], strong: dict[tuple[int, int], int], threshold: float
) -> float:
    """log2(m/u) for "another member of the two households also matches", from this run:
    m among confident matches, u among the unlikely pairs that blocking brought in."""
    matched = supported_m = unmatched = supported_u = 0
    # The unlikely pairs are the ones blocking brought in that are probably not one person;
    # the batch keeps only those it might still lift over its floor, so their bar is not low.
    confident, unlikely = weight_of(0.99), weight_of(0.2)
    for _, _, h1, h2, weight, _, _ in scored:
        if h1 == h2:
            continue
        others = strong[(min(h1, h2), max(h1, h2))] - (1 if weight >= threshold else 0)
        if weight >= confident:
            matched += 1
            supported_m += others > 0
        elif weight < unlikely:
            unmatched += 1
            supported_u += others > 0
    if matched == 0 or unmatched == 0:
        return 0.0
    m = max(supported_m / matched, 1e-3)
    u = max(supported_u / unmatched, 1e-4)
    return max(0.0, min(SUPPORT_WEIGHT_MAX, math.log2(m / u)))


class _Components:
    """Union–find over record ids."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self.parent.setdefault(item, item)
        if parent != item:
            parent = self.parent[item] = self.find(parent)
        return parent

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for item in self.parent:
            out[self.find(item)].append(item)
        return [sorted(g) for g in out.values() if len(g) > 1]


def components(
    *,
    model: Iterable[tuple[int, int]],
    confirmed: Iterable[tuple[int, int]] = (),
    rejected: Iterable[tuple[int, int]] = (),
) -> list[list[int]]:
    """Records joined by the model's links and by confirmed pairs, never across a rejected pair.

    A group that would contain both records of a rejected pair is not formed from the model's
    links: only its confirmed pairs join it, and its other pairs wait for a decision.
    """
    confirmed = list(confirmed)
    rejected_set = {(min(a, b), max(a, b)) for a, b in rejected}
    model_edges = [(a, b) for a, b in model if (min(a, b), max(a, b)) not in rejected_set]
    joined = _Components()
    for a, b in [*confirmed, *model_edges]:
        joined.union(a, b)
    spoiled = {
        joined.find(a)
        for a, b in rejected_set
        if a in joined.parent and b in joined.parent and joined.find(a) == joined.find(b)
    }
    if not spoiled:
        return joined.groups()
    rebuilt = _Components()
    for a, b in confirmed:
        rebuilt.union(a, b)
    for a, b in model_edges:
        if joined.find(a) not in spoiled:
            rebuilt.union(a, b)
    return rebuilt.groups()


Compatible = Callable[[int, int], bool]


def cluster(
    pairs: Iterable[ScoredPair],
    *,
    threshold: float,
    confirmed: Iterable[tuple[int, int]] = (),
    rejected: Iterable[tuple[int, int]] = (),
    compatible: Compatible | None = None,
) -> list[list[int]]:
    """Records joined by pairs at or above `threshold` and by confirmed pairs, strongest first.

    A link is refused when it would put together two records that cannot be one person: a
    rejected pair, or (with `compatible`) two records whose own comparison says they are
    different people. Mariam Hovhannisyan born in 1990, typed with the year only, may match
    two Mariam Hovhannisyans born on different days of 1990: she joins the likelier one, and the
    two are never made one identity through her. Refused links wait for a caseworker.
    """
    rejected_set = {(min(a, b), max(a, b)) for a, b in rejected}
    groups = _Groups()
    for a, b in confirmed:
        groups.join(a, b)
    edges = sorted(
        (p for p in pairs if p.match_probability >= threshold),
        key=lambda p: (-p.match_probability, -p.match_weight, p.left, p.right),
    )
    for pair in edges:
        left, right = groups.members(pair.left), groups.members(pair.right)
        if left is right:
            continue
        clash = any(
            (min(x, y), max(x, y)) in rejected_set
            or (compatible is not None and not compatible(x, y))
            for x in left
            for y in right
            if (x, y) != (pair.left, pair.right)
        )
        if (
            not clash
            and (min(pair.left, pair.right), max(pair.left, pair.right)) not in rejected_set
        ):
            groups.join(pair.left, pair.right)
    return groups.groups()


class _Groups:
    """Disjoint groups that know their members (they stay small: a person's few records)."""

    def __init__(self) -> None:
        self.of: dict[int, list[int]] = {}

    def members(self, item: int) -> list[int]:
        return self.of.setdefault(item, [item])

    def join(self, a: int, b: int) -> None:
        left, right = self.members(a), self.members(b)
        if left is right:
            return
        if len(left) < len(right):
            left, right = right, left
        left.extend(right)
        for item in right:
            self.of[item] = left

    def groups(self) -> list[list[int]]:
        seen: dict[int, list[int]] = {}
        for group in self.of.values():
            seen[id(group)] = group
        return [sorted(g) for g in seen.values() if len(g) > 1]


def link(
    records: Sequence[Features],
    *,
    model: dict[str, Any] | None = None,
    threshold: float = 0.93,  # HAVEN_IDENTITY_DUPLICATE's default
    floor: float = CANDIDATE_FLOOR,
    labels: Iterable[tuple[int, int, bool]] = (),
    joined: Iterable[tuple[int, int]] = (),
    progress: Progress = _quiet,
    threads: int | None = None,
) -> LinkageResult:
    """Train (unless a model is given), predict, add household evidence, cluster."""
    label_list = list(labels)
    engine = Engine(records, threads=threads)
    try:
        if model is None:
            progress("training")
            model = engine.train(labels=label_list)
        progress("predicting")
        pairs = engine.predict(model, floor=floor)
    finally:
        engine.close()
    progress("clustering")
    clusters = identities(
        records,
        pairs,
        model,
        threshold=threshold,
        confirmed=[*joined, *((a, b) for a, b, same in label_list if same)],
        rejected=[(a, b) for a, b, same in label_list if not same],
    )
    return LinkageResult(pairs=pairs, clusters=clusters, model=model)


def identities(
    records: Sequence[Features],
    pairs: Sequence[ScoredPair],
    model: dict[str, Any],
    *,
    threshold: float,
    confirmed: Iterable[tuple[int, int]] = (),
    rejected: Iterable[tuple[int, int]] = (),
) -> list[list[int]]:
    """The groups of records that are one person, from scored pairs: `cluster` with the rules
    of the batch. Two records of one household are one person only if a caseworker says so:
    such pairs wait for a decision however strong (twins share a surname, a birth date and an
    origin)."""
    housemates = [(p.left, p.right) for p in pairs if p.levels.get("household") == "same_household"]
    return cluster(
        pairs,
        threshold=threshold,
        confirmed=confirmed,
        rejected=[*rejected, *housemates],
        compatible=Compatibility(records, pairs, Weights(model)),
    )


class Compatibility:
    """Whether two records could be one person: their pair's probability, from the scored pairs
    or, for a pair blocking never brought together, from the same comparisons in Python."""

    def __init__(
        self, records: Sequence[Features], pairs: Sequence[ScoredPair], weights: Weights
    ) -> None:
        self.by_id = {r.unique_id: r for r in records}
        self.scored = {(p.left, p.right): p.match_probability for p in pairs}
        self.weights = weights
        self.frequencies = CountedFrequencies(
            {part: [getattr(r, column) for r in records] for part, column in FREQUENCY_KEYS.items()}
        )

    def probability(self, a: int, b: int) -> float:
        key = (min(a, b), max(a, b))
        if key in self.scored:
            return self.scored[key]
        left, right = self.by_id[a], self.by_id[b]
        if left.household_id == right.household_id:
            return 0.0
        gammas = [_gamma(c, left, right) for c in COMPARISONS]
        keys = {"given": left.given_key, "family": left.family_key}
        total, _, _ = pair_evidence(gammas, keys, self.weights, self.frequencies)
        return probability(total)

    def __call__(self, a: int, b: int) -> bool:
        return self.probability(a, b) >= WITHIN_IDENTITY


def _gamma(comparison: Comparison, left: Features, right: Features) -> int:
    """Splink's gamma for the level Python finds: -1 null, else counted up from the last."""
    level = comparison.level_of(left, right)
    if level.null:
        return -1
    levels = [lvl for lvl in comparison.levels if not lvl.null]
    return len(levels) - 1 - levels.index(level)
