"""`haven dedupe` (run, summary, --evaluate against a truth file) and `haven starter_model`."""

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from haven.identity import batch
from haven.identity.comparisons import COMPARISONS
from haven.identity.engine import Engine
from haven.identity.models import CandidatePair, Link, LinkageModel, LinkageRun
from haven.identity.scoring import Weights
from haven.identity.simulated import simulated_features
from haven.registry.models import Person
from haven.simulate.influx import Influx, simulate_influx
from haven.simulate.loader import ensure_sites, load_influx
from haven.simulate.management.commands.simulate import write_truth
from tests.conftest import Personas

PEOPLE = 400
SEED = 4
STARTER = Path(__file__).resolve().parent.parent / "haven/identity/data/starter_model.json"


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
def loaded(
    personas: Personas, influx: Influx, model: dict[str, Any], settings: Any, tmp_path: Path
) -> Personas:
    """The influx registered and a trained model saved, as after an earlier `haven dedupe`."""
    settings.VAR_DIR = tmp_path / "var"
    ensure_sites(acting_user=personas.dan)
    load_influx(influx, acting_user=personas.dan, progress=False)
    batch.save_model(model, records=PEOPLE, labels=0, user=None)
    return personas


def _state() -> tuple[int, ...]:
    return (
        LinkageRun.objects.count(),
        LinkageModel.objects.count(),
        CandidatePair.objects.count(),
        Link.objects.count(),
    )


def _dedupe(**options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("dedupe", no_progress=True, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_dedupe_runs_and_prints_a_summary(loaded: Personas) -> None:
    out, _ = _dedupe()
    run = LinkageRun.objects.get()
    assert run.started_by == loaded.admin  # the first administrator, by default
    assert f"linkage run {run.pk} with model v1" in out
    assert f"{Person.objects.count()} records compared" in out
    assert f"{run.duplicates} duplicate and {run.possible} possible duplicate pairs" in out
    assert "0 skipped" in out
    # As a named user.
    _dedupe(as_user="dan")
    assert LinkageRun.objects.order_by("-id").first().started_by == loaded.dan  # type: ignore[union-attr]


@pytest.mark.django_db
def test_dedupe_evaluates_against_the_truth(
    loaded: Personas, influx: Influx, tmp_path: Path
) -> None:
    truth = tmp_path / "truth.csv"
    write_truth(influx, truth)
    out, err = _dedupe(evaluate=truth)
    figures = json.loads(out)
    assert "linkage run" in err  # the summary goes aside, so stdout is pure JSON
    for key in ("precision", "recall", "f1", "exact_clusters", "duplicated_persons_gathered"):
        assert 0 <= figures[key] <= (1 if key != "exact_clusters" else figures["true_persons"])
    assert figures["records"] == Person.objects.count()
    assert figures["truth_rows_not_registered"] == 0
    assert figures["true_pairs"] > 0
    assert figures["precision"] >= 0.95
    # --no-run scores the identities as stored, without another run.
    runs = LinkageRun.objects.count()
    again, _ = _dedupe(evaluate=truth, no_run=True)
    assert json.loads(again) == figures
    assert LinkageRun.objects.count() == runs


BAD_TRUTH = [
    (b"person,true_id\n", "missing: person_uuid, true_person_id"),
    (b"person_uuid\n", "missing: true_person_id"),
    (b"person_uuid,true_person_id\nnot-a-uuid,1\n", "line 2: 'not-a-uuid' is not a UUID"),
    ("person_uuid,true_person_id\nÀ,1\n".encode("latin-1"), "not UTF-8"),
    (b"person_uuid,true_person_id\n", "has no rows"),
    (b"", "missing: person_uuid, true_person_id"),
    (
        b"person_uuid,true_person_id\n00000000-0000-4000-8000-000000000000,1\n",
        "none of its 1 persons is registered here",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("content", "message"), BAD_TRUTH)
def test_a_bad_truth_file_is_refused_and_changes_nothing(
    loaded: Personas, tmp_path: Path, content: bytes, message: str
) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_bytes(content)
    before = _state()
    with pytest.raises(CommandError, match=message):
        _dedupe(evaluate=truth, no_run=True)
    assert _state() == before


@pytest.mark.django_db
def test_a_bad_truth_file_stops_the_run_before_it_starts(loaded: Personas, tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_bytes(b"person_uuid,true_person_id\nnot-a-uuid,1\n")
    before = _state()
    with pytest.raises(CommandError, match="not a UUID"):
        _dedupe(evaluate=truth)
    with pytest.raises(CommandError, match="no such file"):
        _dedupe(evaluate=tmp_path / "missing.csv")
    assert _state() == before


@pytest.mark.django_db
def test_no_run_needs_evaluate(loaded: Personas) -> None:
    with pytest.raises(CommandError, match="--no-run only makes sense with --evaluate"):
        _dedupe(no_run=True)
    assert LinkageRun.objects.count() == 0


@pytest.mark.django_db
def test_dedupe_on_too_few_records_says_so(
    personas: Personas, settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    with pytest.raises(CommandError, match="too few records"):
        _dedupe()
    assert _state() == (0, 0, 0, 0)


def _levels(model: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    return [
        (
            c["output_column_name"],
            [
                (lvl["label_for_charts"], lvl["sql_condition"], bool(lvl.get("is_null_level")))
                for lvl in c["comparison_levels"]
            ],
        )
        for c in model["comparisons"]
    ]


CURRENT = [(c.name, [(lvl.label, lvl.sql, lvl.null) for lvl in c.levels]) for c in COMPARISONS]


def test_starter_model_writes_a_model_the_desk_can_read(tmp_path: Path) -> None:
    out = tmp_path / "models" / "starter.json"
    stdout = io.StringIO()
    call_command("starter_model", out=out, people=1000, seed=7, stdout=stdout)
    assert f"wrote {out}" in stdout.getvalue()
    model = json.loads(out.read_text(encoding="utf-8"))
    assert _levels(model) == CURRENT
    weights = Weights(model, version="starter")
    for comparison in COMPARISONS:
        for level in comparison.levels:
            if not level.null:
                assert level.label in weights.by_label[comparison.name]
    with pytest.raises(CommandError, match="at least 1,000"):
        call_command("starter_model", out=tmp_path / "small.json", people=999)
    assert not (tmp_path / "small.json").exists()


def test_the_shipped_starter_model_matches_the_comparisons() -> None:
    """The desk reads the shipped model's weights by level: when a comparison or level changes,
    regenerate it with `haven starter_model --out haven/identity/data/starter_model.json`."""
    model = json.loads(STARTER.read_text(encoding="utf-8"))
    assert _levels(model) == CURRENT
