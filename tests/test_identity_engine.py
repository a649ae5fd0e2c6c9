"""The linkage engine without a database: weights, clustering, household evidence, training.

One model is trained for the module (a simulated influx with a few crafted households); every
other test uses either it or hand-made pairs.
"""

import json
import math
from pathlib import Path
from typing import Any

import pytest

from haven.identity.comparisons import COMPARISONS, Features, features
from haven.identity.engine import (
    M_FLOOR,
    SAME_HOUSEHOLD_WEIGHT,
    U_FLOOR,
    Engine,
    LinkageResult,
    ScoredPair,
    cluster,
    components,
    link,
    smoothed,
)
from haven.identity.scoring import Weights, probability
from haven.identity.simulated import simulated_features

STARTER = Path(__file__).resolve().parent.parent / "haven/identity/data/starter_model.json"


def starter() -> dict[str, Any]:
    model: dict[str, Any] = json.loads(STARTER.read_text(encoding="utf-8"))
    return model


def groups(found: list[list[int]]) -> set[frozenset[int]]:
    return {frozenset(g) for g in found}


# --- weights ------------------------------------------------------------------------------------


def test_a_rarer_name_weighs_more() -> None:
    weights = Weights(starter())
    common = weights.weight("family", "same_name", 0.05)  # one person in twenty: Hovhannisyan
    rare = weights.weight("family", "same_name", 0.0001)
    assert rare > common > 0
    assert math.isclose(rare - common, math.log2(0.05 / 0.0001))
    # The same for the given name and for an exact spelling.
    assert weights.weight("given", "same_spelling", 0.001) > weights.weight(
        "given", "same_spelling", 0.02
    )
    # Without a frequency, the level's own weight; levels that do not say "same name" ignore it.
    level = weights.by_label["family"]["same_name"]
    assert weights.weight("family", "same_name") == level.weight
    assert weights.weight("family", "one_typo", 0.0001) == weights.weight("family", "one_typo")
    assert weights.weight("birth_date", "same_date", 0.0001) == weights.weight(
        "birth_date", "same_date"
    )
    # A share of nothing (a name never counted) is bounded, not infinite.
    assert math.isfinite(weights.weight("family", "same_name", 0.0))
    assert weights.weight("family", "no_such_level") == 0.0


def test_agreement_weighs_for_and_disagreement_against() -> None:
    weights = Weights(starter())
    for comparison in ("given", "family", "sex", "phone", "documents"):
        agree = "same" if comparison in {"sex", "phone"} else None
        agree = agree or ("shared_number" if comparison == "documents" else "same_name")
        assert weights.weight(comparison, agree) > 0 > weights.weight(comparison, "else")
    assert probability(0.0) == 0.5
    assert probability(100.0) == 1.0
    assert probability(-100.0) == 0.0


# --- clustering ---------------------------------------------------------------------------------


def test_components_join_model_links_and_confirmed_pairs() -> None:
    found = components(model=[(1, 2), (2, 3), (7, 8)], confirmed=[(4, 5)])
    assert groups(found) == {frozenset({1, 2, 3}), frozenset({4, 5}), frozenset({7, 8})}


def test_a_rejected_pair_is_never_joined() -> None:
    # A direct model link between the two is dropped.
    assert components(model=[(1, 2)], rejected=[(2, 1)]) == []
    # Joined only through a third record: that group's model links are all left out (they wait
    # for a decision), while other groups are untouched.
    found = components(model=[(1, 2), (2, 3), (7, 8)], rejected=[(1, 3)])
    assert groups(found) == {frozenset({7, 8})}
    # Confirmed pairs in the spoiled group still hold.
    found = components(model=[(1, 2), (2, 3), (3, 4)], confirmed=[(1, 2)], rejected=[(1, 4)])
    assert groups(found) == {frozenset({1, 2})}
    for group in found:
        assert not {1, 4} <= set(group)


def test_cluster_links_pairs_at_the_threshold_and_keeps_decisions() -> None:
    def pair(left: int, right: int, p: float) -> ScoredPair:
        return ScoredPair(left, right, 0.0, p, {}, {})

    pairs = [pair(1, 2, 0.99), pair(2, 3, 0.98), pair(4, 5, 0.999), pair(5, 6, 0.995)]
    assert groups(cluster(pairs, threshold=0.99)) == {frozenset({1, 2}), frozenset({4, 5, 6})}
    found = cluster(pairs, threshold=0.99, confirmed=[(2, 3)], rejected=[(4, 6)])
    # The strongest link (4, 5) is made; (5, 6) would join the rejected 4 and 6, so it waits.
    assert groups(found) == {frozenset({1, 2, 3}), frozenset({4, 5})}


# --- smoothing ----------------------------------------------------------------------------------


def test_smoothed_leaves_no_level_impossible() -> None:
    model = starter()
    levels = model["comparisons"][4]["comparison_levels"]  # sex
    levels[0]["m_probability"] = 1.0
    levels[-1]["m_probability"] = 0.0  # "sex never differs", learnt from clean data
    levels[-1].pop("u_probability")
    null = model["comparisons"][0]["comparison_levels"][0]
    assert null.get("is_null_level")
    out = smoothed(model)
    for comparison in out["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                assert "m_probability" not in level
                continue
            assert level["m_probability"] >= M_FLOOR
            assert level["u_probability"] >= U_FLOOR
    assert math.isfinite(Weights(out).weight("sex", "else"))


# --- a trained model on a simulated influx, with crafted households ----------------------------


class Crafted:
    def __init__(self, records: list[Features]) -> None:
        self.records = records
        self.ids: dict[str, int] = {}

    def add(self, label: str, household: int, given: str, family: str, **more: Any) -> None:
        typed: dict[str, Any] = {
            "patronymic": "",
            "sex": "F",
            "birth_year": 1980,
            "birth_month": 1,
            "birth_day": 1,
            "birth_estimated": False,
            "registered_year": 2023,
            "origin": "Ստեփանակերտ",
            "phone": "",
            **more,
        }
        unique_id = max(r.unique_id for r in self.records) + 1
        self.records.append(
            features(
                unique_id=unique_id,
                household_id=household,
                given_name=given,
                family_name=family,
                **typed,
            )
        )
        self.ids[label] = unique_id


def _date(text: str) -> dict[str, int]:
    year, month, day = (int(p) for p in text.split("-"))
    return {"birth_year": year, "birth_month": month, "birth_day": day}


@pytest.fixture(scope="module")
def crafted() -> Crafted:
    made = Crafted(simulated_features(500, 3))
    # Twins of one name and birth date in one household, with their father.
    twins = {"patronymic": "Արամի", **_date("2010-04-04")}
    made.add("twin1", 900_001, "Մարիամ", "Հակոբյան", **twins)
    made.add("twin2", 900_001, "Մարիամ", "Հակոբյան", **twins)
    made.add("father", 900_001, "Արամ", "Հակոբյան", sex="M", **_date("1980-01-09"))
    # A family registered in Armenian at one site and in Russian at another; the daughter's
    # second record has only her birth year and a typo, so she alone is a weak match.
    family = [
        ("armen", "Արմեն", "Армен", "M", "1970-02-11"),
        ("anahit", "Անահիտ", "Анаит", "F", "1972-08-03"),
        ("narek", "Նարեկ", "Нарек", "M", "1998-05-20"),
    ]
    for label, armenian, russian, sex, born in family:
        made.add(f"{label}_a", 900_010, armenian, "Սարգսյան", sex=sex, **_date(born))
        made.add(
            f"{label}_b", 900_011, russian, "Саргсян", sex=sex, origin="Степанакерт", **_date(born)
        )
    made.add("lilit_a", 900_010, "Լիլիթ", "Սարգսյան", **_date("2001-12-01"))
    made.add(
        "lilit_b",
        900_011,
        "Лилит",
        "Саргсян",
        origin="Степанакерт",
        birth_year=2001,
        birth_month=None,
        birth_day=None,
    )
    return made


@pytest.fixture(scope="module")
def linked(crafted: Crafted) -> LinkageResult:
    return link(crafted.records)


def _pair(result: LinkageResult, a: int, b: int) -> ScoredPair:
    return next(p for p in result.pairs if (p.left, p.right) == (min(a, b), max(a, b)))


def test_training_gives_every_level_a_usable_weight(linked: LinkageResult) -> None:
    labels = {
        c["output_column_name"]: [lvl["label_for_charts"] for lvl in c["comparison_levels"]]
        for c in linked.model["comparisons"]
    }
    assert labels == {c.name: [lvl.label for lvl in c.levels] for c in COMPARISONS}
    for comparison in linked.model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                assert level["m_probability"] >= M_FLOOR
                assert level["u_probability"] >= U_FLOOR
    # Pairs come ordered, each with its levels and weights adding up to its weight.
    weights = Weights(linked.model)
    assert linked.pairs
    for pair in linked.pairs:
        assert pair.left < pair.right
        assert set(pair.weights) <= set(pair.levels)
        assert math.isclose(
            pair.match_weight, weights.prior + sum(pair.weights.values()), abs_tol=1e-9
        )
        assert math.isclose(pair.match_probability, probability(pair.match_weight))


def test_twins_in_one_household_are_not_one_identity(
    crafted: Crafted, linked: LinkageResult
) -> None:
    twins = _pair(linked, crafted.ids["twin1"], crafted.ids["twin2"])
    assert twins.levels["household"] == "same_household"
    assert twins.weights["household"] == SAME_HOUSEHOLD_WEIGHT
    assert not any(
        {crafted.ids["twin1"], crafted.ids["twin2"]} <= set(group) for group in linked.clusters
    )


def test_relatives_matching_raise_a_pair(crafted: Crafted, linked: LinkageResult) -> None:
    ids = crafted.ids
    for label in ("armen", "anahit", "narek"):
        assert any({ids[f"{label}_a"], ids[f"{label}_b"]} <= set(g) for g in linked.clusters)
    lilit = _pair(linked, ids["lilit_a"], ids["lilit_b"])
    assert lilit.levels["household"] == "relatives_match"
    assert lilit.weights["household"] > 0
    assert any({ids["lilit_a"], ids["lilit_b"]} <= set(g) for g in linked.clusters)
    # The same two records without their relatives weigh less, under the same model.
    relatives = {ids[f"{label}_b"] for label in ("armen", "anahit", "narek")}
    alone = [r for r in crafted.records if r.unique_id not in relatives]
    engine = Engine(alone)
    try:
        pairs = engine.predict(linked.model, floor=0.0)
    finally:
        engine.close()
    without = next(p for p in pairs if (p.left, p.right) == (ids["lilit_a"], ids["lilit_b"]))
    assert "household" not in without.levels
    assert without.match_weight < lilit.match_weight
    # Relatives do not make two different people of the two households one: the mother and
    # the daughter stay apart.
    assert not any({ids["anahit_a"], ids["lilit_b"]} <= set(g) for g in linked.clusters)


def test_training_survives_a_level_never_seen_among_matches() -> None:
    """Splink 5 refuses an m that EM drives to zero (here: a phone that differs, never seen
    among the matches of one blocking pass). A simulated influx that happens to be that clean
    must still train, not crash the batch."""
    engine = Engine(simulated_features(700, 29))
    try:
        model = engine.train()
    finally:
        engine.close()
    assert {c["output_column_name"] for c in model["comparisons"]} == {c.name for c in COMPARISONS}


def test_too_few_records_are_refused_clearly() -> None:
    engine = Engine(simulated_features(20, 1))
    try:
        with pytest.raises(ValueError, match="too few records"):
            engine.train()
    finally:
        engine.close()
