"""The comparison levels: the SQL Splink runs in DuckDB and the Python the desk runs agree.

The batch (haven.identity.engine) evaluates each level's SQL over millions of pairs; the desk-time
check evaluates the same level in Python over a handful of candidates. If the two ever disagreed,
a registrar would be told one thing and the batch would decide another, so every test here
checks a level both ways.
"""

import itertools
import random
from dataclasses import replace
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from haven.identity.comparisons import (
    BIRTH,
    COMPARISONS,
    Comparison,
    Features,
    document_key,
    explain_levels,
    features,
    phone_key,
)
from haven.identity.engine import Engine, ScoredPair
from haven.identity.places import origin_key
from haven.identity.simulated import simulated_features

STARTER_PEOPLE = 700


def person(**overrides: Any) -> Features:
    """A record as `features` builds it from what a registrar typed; fields overridable."""
    typed: dict[str, Any] = {
        "unique_id": 1,
        "household_id": 1,
        "given_name": "Հասմիկ",
        "family_name": "Հարությունյան",
        "patronymic": "Մհերի",
        "sex": "F",
        "birth_year": 1980,
        "birth_month": 5,
        "birth_day": 17,
        "birth_estimated": False,
        "registered_year": 2023,
        "origin": "Ստեփանակերտ",
        "phone": "+374 91 123456",
        "documents": (),
    }
    typed.update(overrides)
    return features(**typed)


def sql_levels(pairs: list[tuple[Features, Features]]) -> list[dict[str, str]]:
    """Each pair's level per comparison, as DuckDB evaluates the levels' SQL (first match wins,
    as in Splink's CASE expression), on the same `_l`/`_r` columns Splink builds."""
    columns: dict[str, list[Any]] = {}
    for left, right in pairs:
        for side, record in (("l", left), ("r", right)):
            for name, value in record.as_row().items():
                columns.setdefault(f"{name}_{side}", []).append(value)
    types = {
        "documents": pa.list_(pa.string()),
        "needs": pa.list_(pa.string()),
        "birth_estimated": pa.bool_(),
    }
    table = pa.table(
        {
            name: pa.array(values, type=types.get(name.rsplit("_", 1)[0]))
            for name, values in columns.items()
        }
    )
    cases = [
        "CASE "
        + " ".join(
            f"WHEN {level.sql} THEN '{level.label}'"
            for level in comparison.levels
            if level.sql != "ELSE"
        )
        + f" ELSE '{comparison.levels[-1].label}' END AS {comparison.name}"
        for comparison in COMPARISONS
    ]
    connection = duckdb.connect()
    try:
        connection.register("pairs", table)
        rows = connection.execute(f"SELECT {', '.join(cases)} FROM pairs").fetchall()  # noqa: S608
    finally:
        connection.close()
    return [dict(zip([c.name for c in COMPARISONS], row, strict=True)) for row in rows]


def python_levels(left: Features, right: Features) -> dict[str, str]:
    return {name: level.label for name, level in explain_levels(left, right).items()}


def level(comparison: Comparison, left: Features, right: Features) -> str:
    """The level by Python, after checking that DuckDB says the same."""
    expected = comparison.level_of(left, right).label
    assert sql_levels([(left, right)])[0][comparison.name] == expected
    assert comparison.level_of(right, left).label == expected  # symmetric
    return expected


# Records that give the simulated influx the levels it rarely or never produces, each blocked
# with a partner by sharing both name keys (or the family key and year).
BORN_1944: dict[str, Any] = {"birth_year": 1944, "birth_month": 2, "birth_day": 29, "sex": "M"}
CRAFTED: list[dict[str, Any]] = [
    # A day and month typed the other way round.
    {"given_name": "Armen", "family_name": "Petrosyan", "birth_month": 3, "birth_day": 4},
    {"given_name": "Армен", "family_name": "Петросян", "birth_month": 4, "birth_day": 3},
    # Given names close but not one typo apart; patronymics similar but not the same.
    {"given_name": "Armen", "family_name": "Zakaryan", "patronymic": "Vardani"},
    {"given_name": "Armenuhi", "family_name": "Zakaryan", "patronymic": "Vardanovna"},
    # A year typed one out.
    {"given_name": "Tigran", "family_name": "Avetisyan", "birth_year": 1966},
    {"given_name": "Տիգրան", "family_name": "Ավետիսյան", "birth_year": 1967},
    # Names with no letter the key keeps ("H"), brought together by a full birth date.
    {"given_name": "H", "family_name": "Ohanyan", **BORN_1944},
    {"given_name": "Hovik", "family_name": "H", **BORN_1944},
    # Estimated ages a few years apart.
    {
        "given_name": "Siranush",
        "family_name": "Aghajanyan",
        "birth_month": None,
        "birth_day": None,
        "birth_estimated": True,
        "birth_year": 1950,
    },
    {
        "given_name": "Սիրանուշ",
        "family_name": "Աղաջանյան",
        "birth_month": None,
        "birth_day": None,
        "birth_estimated": True,
        "birth_year": 1954,
    },
    # One document number written two ways, and the same phone written two ways.
    {"given_name": "Gohar", "family_name": "Mkrtchyan", "documents": ("AN 0123456",)},
    {"given_name": "Гоар", "family_name": "Мкртчян", "documents": ("an0123456", "X 1")},
    # Names written the other way round, and a document number with two digits swapped.
    # (And two phone numbers that differ.)
    {"given_name": "Karapetyan", "family_name": "Narek", "documents": ("AB 7654321",),
     "phone": "+374 93 111111"},
    {"given_name": "Нарек", "family_name": "Карапетян", "documents": ("AB7654312",),
     "phone": "+374 94 222222"},
    # Specific needs and functioning: the same, overlapping and different.
    {"given_name": "Anush", "family_name": "Danielyan", "needs": ("SM-CI", "ER-NF"),
     "functioning": (1, 1, 3, 1, 1, 1)},
    {"given_name": "Ануш", "family_name": "Даниелян", "needs": ("ER-NF", "SM-CI"),
     "functioning": (1, 1, 3, 1, 1, 1)},
    {"given_name": "Անուշ", "family_name": "Դանիելյան", "needs": ("SM-CI", "DS-PM"),
     "functioning": (1, 2, 3, 1, 1, 1)},
    {"given_name": "Anoush", "family_name": "Danielian", "needs": ("DS-PS",),
     "functioning": (1, None, 3, 1, 1, 1)},
]  # fmt: skip


@pytest.fixture(scope="module")
def scored() -> tuple[dict[int, Features], list[ScoredPair]]:
    """Every pair Splink blocks in a simulated influx (plus the crafted records), scored with a
    model trained on it, with Splink's levels."""
    records = simulated_features(STARTER_PEOPLE, 1)
    next_id = len(records) + 1
    for index, typed in enumerate(CRAFTED):
        fields = {
            "unique_id": next_id + index,
            "household_id": 100_000 + index,
            "patronymic": "",
            "sex": "F",
            "birth_year": 1980,
            "birth_month": 5,
            "birth_day": 17,
            "birth_estimated": False,
            "registered_year": 2023,
            "origin": "Stepanakert",
            "phone": "",
            **typed,
        }
        records.append(features(**fields))
    engine = Engine(records)
    try:
        model = engine.train()
        pairs = engine.predict(model, floor=0.0)
    finally:
        engine.close()
    return {r.unique_id: r for r in records}, pairs


def test_duckdb_and_python_agree_on_every_blocked_pair(
    scored: tuple[dict[int, Features], list[ScoredPair]],
) -> None:
    by_id, pairs = scored
    assert len(pairs) >= 100
    disagreements = []
    seen: set[tuple[str, str]] = set()
    for pair in pairs:
        mine = python_levels(by_id[pair.left], by_id[pair.right])
        for name, label in mine.items():
            seen.add((name, label))
            if pair.levels[name] != label:
                disagreements.append((pair.left, pair.right, name, pair.levels[name], label))
    assert disagreements == []
    # The crafted records against each other, blocked or not (each level's SQL run by DuckDB):
    # with the blocked pairs, they cover every level, so no level's SQL goes untested.
    crafted = sorted(by_id)[-len(CRAFTED) :]
    among = [(by_id[a], by_id[b]) for i, a in enumerate(crafted) for b in crafted[i + 1 :]]
    for (left, right), theirs in zip(among, sql_levels(among), strict=True):
        mine = python_levels(left, right)
        assert theirs == mine, (left.unique_id, right.unique_id)
        seen.update(mine.items())
    every_level = {(c.name, lvl.label) for c in COMPARISONS for lvl in c.levels}
    assert every_level - seen == set()


def test_duckdb_and_python_agree_on_random_pairs(
    scored: tuple[dict[int, Features], list[ScoredPair]],
) -> None:
    """Pairs blocking would never bring together too: a level's SQL and Python must agree on any
    two records (the desk compares candidates found by other means)."""
    by_id, _ = scored
    records = list(by_id.values())
    rng = random.Random(5)  # noqa: S311 - a reproducible sample, not a secret
    pairs = [tuple(rng.sample(records, 2)) for _ in range(3000)]
    # And pairs of one name's spellings with different everything else.
    pairs += [
        (a, replace(b, given_latin=a.given_latin, given_key=a.given_key))
        for a, b in itertools.islice(itertools.pairwise(records), 500)
    ]
    from_sql = sql_levels([(a, b) for a, b in pairs])
    assert [python_levels(a, b) for a, b in pairs] == from_sql


YEAR_ONLY: dict[str, Any] = {"birth_month": None, "birth_day": None}
OLD: dict[str, Any] = {"birth_year": 1950}


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        # A year-only date agrees with any full date in that year.
        ({**YEAR_ONLY}, {}, "same_year_partial"),
        # Year and month known on one side only.
        ({"birth_day": None}, {}, "same_month"),
        ({"birth_day": None, "birth_month": 6}, {}, "same_year"),
        ({**YEAR_ONLY, "birth_year": 1981}, {}, "year_off_by_one"),
        ({}, {}, "same_date"),
        ({"birth_month": 5, "birth_day": 5}, {"birth_month": 5, "birth_day": 5}, "same_date"),
        # 17 May typed as "5/17" is impossible as a month, so take 3 April as 4 March.
        (
            {"birth_month": 3, "birth_day": 4},
            {"birth_month": 4, "birth_day": 3},
            "day_month_swapped",
        ),
        ({"birth_month": 3, "birth_day": 4}, {"birth_month": 4, "birth_day": 5}, "same_year"),
        ({"birth_day": 18}, {}, "other_day"),
        # Swapped day and month in another year is no evidence; nor is a year out when the
        # month differs.
        (
            {"birth_month": 3, "birth_day": 4},
            {"birth_month": 4, "birth_day": 3, "birth_year": 1979},
            "else",
        ),
        ({"birth_year": 1981}, {}, "year_off_by_one"),
        ({"birth_year": 1981, "birth_month": 6}, {}, "else"),
        # "About 40", "about 70": an adult's guessed age is a few years out, an old person's more.
        ({"birth_estimated": True, **YEAR_ONLY, "birth_year": 1982}, {}, "estimate_within_2"),
        ({"birth_estimated": True, **YEAR_ONLY, "birth_year": 1951}, OLD, "estimate_within_2"),
        ({"birth_estimated": True, **YEAR_ONLY, "birth_year": 1954}, OLD, "estimate_within_5"),
        ({"birth_estimated": True, **YEAR_ONLY, "birth_year": 1956}, OLD, "else"),
        ({"birth_estimated": True, **YEAR_ONLY, "birth_year": 1984}, {}, "else"),
        # A child's age is known closely: a guess three years out is another child.
        ({"birth_estimated": True, **YEAR_ONLY, "birth_year": 2017}, {"birth_year": 2020}, "else"),
        # Without an estimate, two years out is a different date.
        ({"birth_year": 1982}, {}, "else"),
    ],
)
def test_birth_date_levels(left: dict[str, Any], right: dict[str, Any], expected: str) -> None:
    assert level(BIRTH, person(**left), person(**right)) == expected


def _comparison(name: str) -> Comparison:
    return next(c for c in COMPARISONS if c.name == name)


def test_names_in_three_scripts_are_the_same_name() -> None:
    armenian = person()
    latin = person(given_name="Hasmik", family_name="Harutyunyan", patronymic="Mheri")
    russian = person(given_name="Асмик", family_name="Арутюнян", patronymic="Мгеровна")
    for a, b in itertools.combinations([armenian, latin, russian], 2):
        assert level(_comparison("given"), a, b) in {"same_spelling", "same_name"}
        assert level(_comparison("family"), a, b) in {"same_spelling", "same_name"}
        assert level(_comparison("patronymic"), a, b) == "same_name"
    # Different surnames stay apart even though they look alike.
    other = person(family_name="Khachaturyan")
    assert level(_comparison("family"), person(family_name="Khachatryan"), other) not in {
        "same_spelling",
        "same_name",
    }
    assert level(_comparison("given"), person(), person(given_name="")) == "null"
    assert level(
        _comparison("given"), person(given_name="Hasmik"), person(given_name="Hamsik")
    ) == ("one_typo")


def test_documents_are_compared_normalised() -> None:
    assert document_key(" an-012 3456 ") == document_key("AN0123456") == "AN0123456"
    documents = _comparison("documents")
    a = person(documents=("AN 0123456",))
    assert level(documents, a, person(documents=("an0123456", "BX1"))) == "shared_number"
    # One digit wrong or two swapped is a number copied by hand; more is another number.
    assert level(documents, a, person(documents=("AN0123457",))) == "number_one_typo"
    assert level(documents, a, person(documents=("AN0321456",))) == "else"
    assert level(documents, a, person(documents=())) == "null"
    # Blank or punctuation-only numbers are no document at all.
    assert person(documents=("  ", "--")).documents == ()


def test_a_phone_in_international_or_national_form_is_one_number() -> None:
    """Armenian numbers are +374 and eight digits, or 0 and the same eight digits at home."""
    forms = ["+374 77 123456", "077123456", "374-77-123-456", "(077) 12 34 56", "0037477123456"]
    assert len({phone_key(f) for f in forms}) == 1
    assert phone_key("12345") == ""  # too short to be a number
    assert phone_key("") == ""
    phone = _comparison("phone")
    assert level(phone, person(phone=forms[0]), person(phone=forms[2])) == "same"
    assert level(phone, person(phone=forms[0]), person(phone="+374 77 123457")) == "else"
    assert level(phone, person(phone=forms[0]), person(phone="")) == "null"


@pytest.mark.parametrize(
    "forms",
    [
        ("Ստեփանակերտ", "Stepanakert", "Степанакерт", "Step’anakert"),
        ("Մարտակերտ", "Martakert", "Мартакерт", "Мардакерт", "Mardakert"),
        ("Շուշի", "Shushi", "Шуши", "Шуша"),
        ("Մարտակերտի շրջան", "Martakert Province", "Мартакертский район"),
    ],
)
def test_an_origin_typed_in_any_script_is_one_place(forms: tuple[str, ...]) -> None:
    keys = {origin_key(form) for form in forms}
    assert len(keys) == 1
    assert keys != {""}
    origin = _comparison("origin")
    for a, b in itertools.combinations(forms, 2):
        assert level(origin, person(origin=a), person(origin=b)) == "same"


def test_origins_of_different_places_differ() -> None:
    assert origin_key("Martakert") != origin_key("Martakert Province")
    assert origin_key("Martuni") != origin_key("Martakert")
    # An unlisted village still agrees with its own spelling in another script.
    assert origin_key("Nor Maragha") == origin_key("Նոր Մարաղա") != ""
    assert origin_key("   ") == ""
    origin = _comparison("origin")
    assert level(origin, person(origin="Shushi"), person(origin="Stepanakert")) == "else"
    assert level(origin, person(origin="Shushi"), person(origin="")) == "null"


def test_given_and_family_names_written_the_other_way_round() -> None:
    hasmik = person(given_name="Hasmik", family_name="Harutyunyan")
    # Copied from a form that puts the family name first, and in Cyrillic.
    swapped = person(given_name="Арутюнян", family_name="Асмик")
    for part in ("given", "family"):
        assert level(_comparison(part), hasmik, swapped) == "swapped"
        assert level(_comparison(part), swapped, hasmik) == "swapped"
    # Only one of the two names in the other's place is no swap.
    half = person(given_name="Harutyunyan", family_name="Sargsyan")
    assert level(_comparison("given"), hasmik, half) == "else"
    assert level(_comparison("given"), hasmik, person(given_name="", family_name="Hasmik")) == (
        "null"
    )
    # DuckDB finds the same levels.
    [levels] = sql_levels([(hasmik, swapped)])
    assert (levels["given"], levels["family"]) == ("swapped", "swapped")
