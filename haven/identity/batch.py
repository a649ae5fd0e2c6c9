"""The batch run: read the registry into the linkage engine, store what it finds, link identities.

`run_linkage` is the action behind `haven dedupe`. It reuses the newest trained model unless asked
to retrain (or none exists yet), keeps every caseworker decision (a rejected pair is never linked
again, a confirmed one always is), and only ever *adds* links: taking a link apart is a decision.
"""

import hashlib
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from haven.core import audit
from haven.core.models import User
from haven.identity import engine
from haven.identity.comparisons import Features
from haven.identity.models import CandidatePair, Decision, Link, LinkageModel, LinkageRun
from haven.identity.records import PERSON_COLUMNS, person_features
from haven.registry.models import IdentityDocument, Person

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Thresholds:
    duplicate: float  # at or above: linked automatically (still reviewable)
    possible: float  # at or above: kept for a caseworker's decision

    @classmethod
    def from_settings(cls) -> "Thresholds":
        return cls(
            duplicate=django_settings.HAVEN_IDENTITY_DUPLICATE,
            possible=django_settings.HAVEN_IDENTITY_POSSIBLE,
        )


def _quiet(_: str) -> None:
    return None


def read_features() -> tuple[list[Features], list[dict[str, str]]]:
    """Every person as the engine sees them, and those it cannot compare, with the reason.

    A record whose given and family names both have no usable letters (only punctuation, or an
    unsupported script) cannot be blocked or compared: it is skipped and reported, never dropped
    from the registry."""
    documents: dict[int, list[str]] = defaultdict(list)
    for person_id, number in IdentityDocument.objects.values_list("person_id", "number"):
        documents[person_id].append(number)
    records: list[Features] = []
    skipped: list[dict[str, str]] = []
    rows = (
        Person.objects.order_by("id")
        .values_list(*PERSON_COLUMNS, "uuid")
        .iterator(chunk_size=20_000)
    )
    for row in rows:
        record = person_features(row, documents.get(row[0], ()))
        if not record.given_key and not record.family_key:
            skipped.append(
                {
                    "person": str(row[-1]),
                    "reason": "no_usable_name",
                    "detail": "neither the given nor the family name has letters of a"
                    " supported script (Armenian, Cyrillic, Latin)",
                }
            )
            continue
        records.append(record)
    return records, skipped


def labels() -> list[tuple[int, int, bool]]:
    """Each decided pair's latest verdict: (person id, person id, same person?)."""
    latest: dict[int, tuple[int, int, bool]] = {}
    decisions = (
        Decision.objects.select_related("pair")
        .filter(pair__status__in=[CandidatePair.Status.CONFIRMED, CandidatePair.Status.REJECTED])
        .order_by("decided_at", "id")
    )
    for decision in decisions:
        pair = decision.pair
        latest[pair.pk] = (
            pair.person_a_id,
            pair.person_b_id,
            decision.verdict == Decision.Verdict.SAME,
        )
    return list(latest.values())


def shared_identities() -> list[tuple[int, int]]:
    """Records already linked (by earlier runs or caseworkers), as chains of pairs: the
    clustering keeps them together."""
    shared = (
        Person.objects.values("identity")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("identity", flat=True)
    )
    groups: dict[UUID, list[int]] = defaultdict(list)
    for pk, identity in Person.objects.filter(identity__in=shared).values_list("id", "identity"):
        groups[identity].append(pk)
    return [(a, b) for ids in groups.values() for a, b in itertools.pairwise(sorted(ids))]


def model_dir() -> Path:
    path = Path(django_settings.VAR_DIR) / "identity"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_model(
    model: dict[str, Any], *, records: int, labels: int, user: User | None
) -> LinkageModel:
    text = json.dumps(model, indent=1, sort_keys=True)
    latest = LinkageModel.objects.order_by("-version").first()
    version = latest.version + 1 if latest else 1
    (model_dir() / f"model-v{version}.json").write_text(text, encoding="utf-8")
    return LinkageModel.objects.create(
        version=version,
        trained_at=timezone.now(),
        trained_by=user,
        records=records,
        labels=labels,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        settings=model,
    )


def run_linkage(
    *,
    acting_user: User | None,
    retrain: bool = False,
    thresholds: Thresholds | None = None,
    progress: Progress = _quiet,
) -> LinkageRun:
    thresholds = thresholds or Thresholds.from_settings()
    started = timezone.now()
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    progress("reading the registry")
    records, skipped = read_features()
    timings["read"] = time.perf_counter() - clock
    known = {r.unique_id for r in records}
    label_list = [(a, b, same) for a, b, same in labels() if a in known and b in known]

    model_row = None if retrain else LinkageModel.objects.order_by("-version").first()
    if model_row is not None and not engine.model_matches(model_row.settings):
        progress("the newest model predates today's comparisons: retraining")
        model_row = None
    if model_row is None:
        progress("training the model")
        mark = time.perf_counter()
        trainer = engine.Engine(records)
        try:
            model = trainer.train(labels=label_list)
        finally:
            trainer.close()
        model_row = save_model(
            model, records=len(records), labels=len(label_list), user=acting_user
        )
        timings["train"] = time.perf_counter() - mark

    mark = time.perf_counter()
    result = engine.link(
        records,
        model=model_row.settings,
        threshold=thresholds.duplicate,
        floor=thresholds.possible,
        labels=label_list,
        joined=shared_identities(),
        progress=progress,
    )
    timings["predict_and_cluster"] = time.perf_counter() - mark

    progress("storing pairs and links")
    mark = time.perf_counter()
    with transaction.atomic():
        run = LinkageRun.objects.create(
            started_at=started,
            model=model_row,
            started_by=acting_user,
            persons=len(records),
            skipped=skipped,
        )
        linked = _link_clusters(result.clusters, run=run, user=acting_user)
        counts = _store_pairs(result.pairs, result.clusters, thresholds, model_row, run)
        timings["store"] = time.perf_counter() - mark
        run.pairs = counts["pairs"]
        run.duplicates = counts["duplicate"]
        run.possible = counts["possible"]
        run.linked = linked
        run.finished_at = timezone.now()
        run.summary = {
            "model_version": model_row.version,
            "records": len(records),
            "skipped": len(skipped),
            "pairs": counts["pairs"],
            "duplicate_pairs": counts["duplicate"],
            "possible_pairs": counts["possible"],
            "identities_joined": len(result.clusters),
            "persons_relinked": linked,
            "labels_used": len(label_list),
            "thresholds": {"duplicate": thresholds.duplicate, "possible": thresholds.possible},
            "seconds": {k: round(v, 2) for k, v in timings.items()},
        }
        run.save()
        audit.record(
            user=acting_user,
            action="identity.run",
            object_type="linkage_run",
            object_uuid=None,
            detail={"run": run.pk, **run.summary},
        )
    return run


def _store_pairs(
    pairs: list[engine.ScoredPair],
    clusters: list[list[int]],
    thresholds: Thresholds,
    model: LinkageModel,
    run: LinkageRun,
) -> dict[str, int]:
    cluster_of = {member: index for index, group in enumerate(clusters) for member in group}
    decided_by_people = {
        (a, b): status
        for a, b, status in CandidatePair.objects.filter(
            status__in=[CandidatePair.Status.CONFIRMED, CandidatePair.Status.REJECTED]
        ).values_list("person_a_id", "person_b_id", "status")
    }
    now = timezone.now()
    rows: list[CandidatePair] = []
    counts = {"pairs": 0, "duplicate": 0, "possible": 0}
    for pair in pairs:
        if pair.match_probability < thresholds.possible:
            continue
        band = (
            CandidatePair.Band.DUPLICATE
            if pair.match_probability >= thresholds.duplicate
            else CandidatePair.Band.POSSIBLE
        )
        status = decided_by_people.get((pair.left, pair.right))
        if status is None:
            together = cluster_of.get(pair.left, -1) == cluster_of.get(pair.right, -2)
            status = (
                CandidatePair.Status.LINKED
                if band == CandidatePair.Band.DUPLICATE and together
                else CandidatePair.Status.PENDING
            )
        counts["pairs"] += 1
        counts[band] += 1
        rows.append(
            CandidatePair(
                person_a_id=pair.left,
                person_b_id=pair.right,
                match_weight=round(pair.match_weight, 4),
                match_probability=pair.match_probability,
                band=band,
                status=status,
                explanation=explanation(pair),
                model=model,
                run=run,
                found_at=now,
            )
        )
    CandidatePair.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["person_a", "person_b"],
        update_fields=[
            "match_weight",
            "match_probability",
            "band",
            "status",
            "explanation",
            "model",
            "run",
            "found_at",
        ],
    )
    return counts


def explanation(pair: engine.ScoredPair) -> list[dict[str, Any]]:
    return [
        {"field": name, "level": level, "weight": round(pair.weights.get(name, 0.0), 3)}
        for name, level in pair.levels.items()
    ]


def _link_clusters(clusters: list[list[int]], *, run: LinkageRun, user: User | None) -> int:
    """Give each cluster one identity; every person moved gets a Link row. Returns how many."""
    if not clusters:
        return 0
    members = [m for group in clusters for m in group]
    identity_of: dict[int, UUID] = {}
    for chunk_start in range(0, len(members), 20_000):
        chunk = members[chunk_start : chunk_start + 20_000]
        identity_of.update(Person.objects.filter(pk__in=chunk).values_list("id", "identity"))
    # Records already sharing an identity with a cluster member move with it.
    now = timezone.now()
    moves: list[tuple[int, UUID, UUID]] = []
    for group in clusters:
        identities = {identity_of[m] for m in group}
        if len(identities) == 1:
            continue
        # The identity most members already have; ties go to the earliest record's.
        counts: dict[UUID, int] = defaultdict(int)
        for m in group:
            counts[identity_of[m]] += 1
        target = max(
            identities, key=lambda i: (counts[i], -min(m for m in group if identity_of[m] == i))
        )
        moves.extend((m, identity_of[m], target) for m in group if identity_of[m] != target)
    if not moves:
        return 0
    moved_identities = {old for _, old, _ in moves}
    targets = {old: new for _, old, new in moves}
    holders = list(
        Person.objects.filter(identity__in=moved_identities).values_list("id", "identity")
    )
    persons = [Person(pk=pk, identity=targets[old]) for pk, old in holders]
    Person.objects.bulk_update(persons, ["identity"], batch_size=2000)
    Link.objects.bulk_create(
        [
            Link(
                person_id=pk,
                from_identity=old,
                to_identity=targets[old],
                reason=Link.Reason.MODEL,
                run=run,
                made_by=user,
                made_at=now,
            )
            for pk, old in holders
        ],
        batch_size=2000,
    )
    return len(holders)
