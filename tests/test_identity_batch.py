"""The batch run (`haven.identity.batch.run_linkage`) on a registry loaded with a simulated influx.

One test trains (and retrains); the others reuse a model trained once for the module on the same
simulated influx, saved through the batch's own `save_model`, so that the run does not train.
"""

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from haven.core.models import AuditEvent
from haven.identity import batch
from haven.identity.actions import decide_pairs
from haven.identity.comparisons import COMPARISONS
from haven.identity.engine import Engine
from haven.identity.evaluate import evaluate
from haven.identity.models import CandidatePair, Link, LinkageModel, LinkageRun
from haven.identity.simulated import simulated_features
from haven.names import name_forms
from haven.registry.models import Person
from haven.simulate.influx import Influx, simulate_influx
from haven.simulate.loader import ensure_sites, load_influx
from tests.conftest import Personas

PEOPLE = 450
SEED = 2


@pytest.fixture(scope="module")
def influx() -> Influx:
    return simulate_influx(people=PEOPLE, seed=SEED, duplicate_share=0.1)


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    engine = Engine(simulated_features(PEOPLE, SEED))
    try:
        return engine.train()
    finally:
        engine.close()


@pytest.fixture
def var(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def loaded(personas: Personas, influx: Influx, var: Path) -> Personas:
    ensure_sites(acting_user=personas.dan)
    report = load_influx(influx, acting_user=personas.dan, progress=False)
    assert report.problems == []
    return personas


def _truth(influx: Influx) -> dict[UUID, int]:
    return {UUID(person): true for person, true in influx.truth_rows()}


def _identities() -> dict[UUID, UUID]:
    return dict(Person.objects.values_list("uuid", "identity"))


def _pairs() -> set[tuple[int, int, str]]:
    return set(CandidatePair.objects.values_list("person_a_id", "person_b_id", "status"))


@pytest.mark.django_db
def test_a_run_trains_stores_pairs_and_links_identities(
    loaded: Personas, influx: Influx, var: Path
) -> None:
    dan = loaded.dan
    run = batch.run_linkage(acting_user=dan)

    # A versioned model: the row and its file agree.
    saved = LinkageModel.objects.get()
    assert saved.version == 1
    assert run.model == saved
    assert saved.trained_by == dan
    assert saved.records == run.persons == Person.objects.count()
    path = var / "identity" / "model-v1.json"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == saved.sha256
    names = [c["output_column_name"] for c in saved.settings["comparisons"]]
    assert names == [c.name for c in COMPARISONS]

    # Pairs with their reasons, in the bands the thresholds define.
    pairs = list(CandidatePair.objects.all())
    assert len(pairs) == run.pairs == run.duplicates + run.possible > 0
    thresholds = batch.Thresholds.from_settings()
    for pair in pairs:
        assert pair.person_a_id < pair.person_b_id
        assert pair.match_probability >= thresholds.possible
        expected_band = (
            CandidatePair.Band.DUPLICATE
            if pair.match_probability >= thresholds.duplicate
            else CandidatePair.Band.POSSIBLE
        )
        assert pair.band == expected_band
        assert pair.run == run
        fields = {entry["field"] for entry in pair.explanation}
        assert {c.name for c in COMPARISONS} <= fields
        assert all({"field", "level", "weight"} <= set(entry) for entry in pair.explanation)

    # Linked pairs share an identity; each person moved has a Link with the model as reason.
    identity = dict(Person.objects.values_list("id", "identity"))
    linked = [p for p in pairs if p.status == CandidatePair.Status.LINKED]
    assert linked
    for pair in linked:
        assert identity[pair.person_a_id] == identity[pair.person_b_id]
    links = list(Link.objects.all())
    assert len(links) == run.linked > 0
    for link in links:
        assert link.reason == Link.Reason.MODEL
        assert link.run == run
        assert link.made_by == dan
        assert identity[link.person_id] == link.to_identity != link.from_identity
    # An identity is one record's uuid, and all who share it are one cluster.
    members: dict[UUID, list[int]] = defaultdict(list)
    for pk, ident in identity.items():
        members[ident].append(pk)
    uuids = set(Person.objects.values_list("uuid", flat=True))
    assert set(members) <= uuids
    # The result is the same people as the truth knows them, mostly.
    figures = evaluate(_identities(), _truth(influx))
    assert figures.precision >= 0.95
    assert figures.recall >= 0.6

    event = AuditEvent.objects.get(action="identity.run")
    assert event.user == dan
    assert event.detail["run"] == run.pk
    assert event.detail["model_version"] == 1
    assert run.summary["records"] == run.persons
    assert run.finished_at is not None

    # A second run reuses the model and changes nothing.
    before_pairs, before_identities = _pairs(), _identities()
    links_before = Link.objects.count()
    again = batch.run_linkage(acting_user=dan)
    assert LinkageModel.objects.count() == 1
    assert again.model == saved
    assert again.linked == 0
    assert _pairs() == before_pairs
    assert CandidatePair.objects.count() == len(before_pairs)
    assert _identities() == before_identities
    assert Link.objects.count() == links_before
    assert AuditEvent.objects.filter(action="identity.run").count() == 2

    # Asked to, it trains version 2, kept beside version 1.
    retrained = batch.run_linkage(acting_user=dan, retrain=True)
    assert retrained.model.version == 2
    assert (var / "identity" / "model-v1.json").exists()
    v2 = (var / "identity" / "model-v2.json").read_bytes()
    assert hashlib.sha256(v2).hexdigest() == retrained.model.sha256
    assert LinkageRun.objects.count() == 3


def _save(model: dict[str, Any]) -> LinkageModel:
    return batch.save_model(model, records=PEOPLE, labels=0, user=None)


@pytest.mark.django_db
def test_a_caseworkers_decisions_hold_across_runs(loaded: Personas, model: dict[str, Any]) -> None:
    dan = loaded.dan
    _save(model)
    batch.run_linkage(acting_user=dan)
    assert LinkageModel.objects.count() == 1  # the saved model was reused
    linked = CandidatePair.objects.filter(status=CandidatePair.Status.LINKED).order_by("id")
    pending = CandidatePair.objects.filter(status=CandidatePair.Status.PENDING).order_by("id")
    assert linked.exists()
    assert pending.exists()
    rejected = linked.first()
    confirmed = pending.first()
    assert rejected is not None
    assert confirmed is not None
    decide_pairs(pair_ids=[rejected.pk], verdict="different", acting_user=dan)
    decide_pairs(pair_ids=[confirmed.pk], verdict="same", acting_user=dan)

    for _ in range(2):
        run = batch.run_linkage(acting_user=dan)
        rejected.refresh_from_db()
        confirmed.refresh_from_db()
        assert rejected.status == CandidatePair.Status.REJECTED
        assert confirmed.status == CandidatePair.Status.CONFIRMED
        assert rejected.person_a.identity != rejected.person_b.identity
        assert confirmed.person_a.identity == confirmed.person_b.identity
        assert run.summary["labels_used"] == 2
    assert CandidatePair.objects.filter(status=CandidatePair.Status.REJECTED).count() == 1
    assert CandidatePair.objects.filter(status=CandidatePair.Status.CONFIRMED).count() == 1


@pytest.mark.django_db
def test_records_without_a_usable_name_are_skipped_with_a_reason(
    loaded: Personas, model: dict[str, Any]
) -> None:
    """Registration refuses such names, but older or imported data may hold them: the test
    writes them straight into the rows, as a migration from another system would."""
    georgian, punctuation = Person.objects.order_by("id")[:2]
    for person, given, family in (
        (georgian, "ქეთევანი", "ბერიძე"),
        (punctuation, "...", "--"),
    ):
        Person.objects.filter(pk=person.pk).update(
            given_name=given,
            family_name=family,
            given_key=name_forms(given, "given").key,
            family_key=name_forms(family, "family").key,
        )
    _save(model)
    run = batch.run_linkage(acting_user=loaded.dan)
    skipped = {entry["person"]: entry for entry in run.skipped}
    assert set(skipped) == {str(georgian.uuid), str(punctuation.uuid)}
    assert {entry["reason"] for entry in skipped.values()} == {"no_usable_name"}
    assert all(entry["detail"] for entry in skipped.values())
    assert run.persons == Person.objects.count() - 2
    assert run.summary["skipped"] == 2
    assert run.pairs > 0
    # Kept as typed, never paired, still their own identity.
    for person in (georgian, punctuation):
        person.refresh_from_db()
        assert person.identity == person.uuid
        assert not CandidatePair.objects.filter(person_a=person).exists()
        assert not CandidatePair.objects.filter(person_b=person).exists()
    assert Person.objects.get(pk=georgian.pk).given_name == "ქეთევანი"
    assert not Person.objects.filter(identity__isnull=True).exists()
