"""What is compared between two records, written once for both places that compare them.

Each comparison level has an SQL condition (Splink evaluates it over millions of pairs in DuckDB)
and the same test in Python (the desk-time check scores a handful of candidates without DuckDB).
`tests/test_identity_comparisons.py` checks that the two agree on real pairs.

Records are `Features`: the names as typed reduced to comparable forms by `haven.names` (a Latin
form for string similarity, a phonetic key that brings scripts and spellings together), the date of
birth in its known parts, sex, origin, phone and document numbers.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jellyfish

from haven.identity.places import origin_key
from haven.names import detect_script, name_forms, normalise

# Agreement thresholds on the Latin forms (Jaro–Winkler similarity).
NAME_CLOSE = 0.92
NAME_SIMILAR = 0.80
PATRONYMIC_SIMILAR = 0.88


@dataclass(frozen=True)
class Features:
    """One person as the linkage model sees them. Empty strings are "unknown"."""

    unique_id: int
    household_id: int
    given_latin: str
    given_key: str
    given_script: str
    family_latin: str
    family_key: str
    family_script: str
    patronymic_latin: str
    patronymic_key: str
    patronymic_script: str
    sex: str
    birth_year: int
    birth_month: int | None
    birth_day: int | None
    birth_estimated: bool
    registered_year: int  # ages are judged against it
    origin: str
    phone: str
    documents: tuple[str, ...] = field(default=())
    # What does not change with the registrar: UNHCR specific-needs codes, and the Washington
    # Group answers as one string ("1121 11", blank for a question not asked), "" if none.
    needs: tuple[str, ...] = field(default=())
    functioning: str = ""

    def as_row(self) -> dict[str, Any]:
        """Values for the DuckDB table: unknown text as NULL, as Splink's null levels expect."""
        row: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, str) and value == "":
                value = None
            if name in {"documents", "needs"}:
                value = list(value) or None
            row[name] = value
        row["document"] = self.documents[0] if self.documents else None
        return row


_DIGITS = re.compile(r"\D+")
_DOCUMENT = re.compile(r"[^0-9A-Z]+")


def phone_key(phone: str) -> str:
    """The subscriber number, the last eight digits: +374 77 123456, 077 123456 and
    374-77-123-456 are one number (Armenian numbers are 0 or +374, then eight digits)."""
    digits = _DIGITS.sub("", phone)
    return digits[-8:] if len(digits) >= 6 else ""


# The Person columns of the Washington Group answers, in the order functioning_key reads them.
WG_COLUMNS = (
    "wg_seeing",
    "wg_hearing",
    "wg_walking",
    "wg_remembering",
    "wg_selfcare",
    "wg_communicating",
)


def functioning_key(answers: Iterable[int | None]) -> str:
    """The six Washington Group answers as one comparable string; "" when none was asked."""
    values = list(answers)
    if not any(v is not None for v in values):
        return ""
    return "".join(" " if v is None else str(v) for v in values)


def document_key(number: str) -> str:
    return _DOCUMENT.sub("", number.upper())


def features(
    *,
    unique_id: int,
    household_id: int,
    given_name: str,
    family_name: str,
    patronymic: str,
    sex: str,
    birth_year: int,
    birth_month: int | None,
    birth_day: int | None,
    birth_estimated: bool,
    registered_year: int,
    origin: str,
    phone: str,
    documents: Iterable[str] = (),
    needs: Iterable[str] = (),
    functioning: Iterable[int | None] = (),
) -> Features:
    given = name_forms(given_name, "given")
    family = name_forms(family_name, "family")
    father = name_forms(patronymic, "patronymic")
    return Features(
        unique_id=unique_id,
        household_id=household_id,
        given_latin=given.latin,
        given_key=given.key,
        given_script=detect_script(given_name).value,
        family_latin=family.latin,
        family_key=family.key,
        family_script=detect_script(family_name).value,
        patronymic_latin=father.latin,
        patronymic_key=father.key,
        patronymic_script=detect_script(patronymic).value,
        sex=sex,
        birth_year=birth_year,
        birth_month=birth_month,
        birth_day=birth_day,
        birth_estimated=birth_estimated,
        registered_year=registered_year,
        origin=origin_key(origin),
        phone=phone_key(phone),
        documents=tuple(sorted({d for d in map(document_key, documents) if d})),
        needs=tuple(sorted(set(needs))),
        functioning=functioning_key(functioning),
    )


Test = Callable[[Features, Features], bool]


@dataclass(frozen=True)
class Level:
    label: str  # stable: the saved model and stored explanations refer to levels by it
    sql: str  # Splink's condition on the `_l` and `_r` columns
    test: Test
    null: bool = False


@dataclass(frozen=True)
class Comparison:
    name: str  # Splink's output_column_name
    columns: tuple[str, ...]
    levels: tuple[Level, ...]

    def level_of(self, left: Features, right: Features) -> Level:
        for level in self.levels:
            if level.test(left, right):
                return level
        return self.levels[-1]

    def splink(self) -> dict[str, Any]:
        levels = []
        for level in self.levels:
            entry: dict[str, Any] = {"sql_condition": level.sql, "label_for_charts": level.label}
            if level.null:
                entry["is_null_level"] = True
            levels.append(entry)
        return {
            "output_column_name": self.name,
            "comparison_description": self.name,
            "comparison_levels": levels,
        }


def _else() -> Level:
    return Level("else", "ELSE", lambda a, b: True)


def _dl(a: str, b: str) -> int:
    return int(jellyfish.damerau_levenshtein_distance(a, b))


def _jw(a: str, b: str) -> float:
    return float(jellyfish.jaro_winkler_similarity(a, b))


def _name(part: str) -> Comparison:
    latin, key = f"{part}_latin", f"{part}_key"

    def get(record: Features, column: str) -> str:
        value: str = getattr(record, column)
        return value

    return Comparison(
        name=part,
        columns=(latin, key),
        levels=(
            Level(
                "null",
                f"{key}_l IS NULL OR {key}_r IS NULL",
                lambda a, b: not get(a, key) or not get(b, key),
                null=True,
            ),
            Level(
                "same_spelling",
                f"{latin}_l = {latin}_r",
                lambda a, b: get(a, latin) == get(b, latin),
            ),
            Level(
                "same_name",
                f"{key}_l = {key}_r",
                lambda a, b: get(a, key) == get(b, key),
            ),
            # One letter typed wrong, left out, added or two swapped: the commonest slip.
            Level(
                "one_typo",
                f"damerau_levenshtein({key}_l, {key}_r) <= 1",
                lambda a, b: _dl(get(a, key), get(b, key)) <= 1,
            ),
            Level(
                "close",
                f"jaro_winkler_similarity({latin}_l, {latin}_r) >= {NAME_CLOSE}",
                lambda a, b: _jw(get(a, latin), get(b, latin)) >= NAME_CLOSE,
            ),
            Level(
                "similar",
                f"jaro_winkler_similarity({latin}_l, {latin}_r) >= {NAME_SIMILAR}",
                lambda a, b: _jw(get(a, latin), get(b, latin)) >= NAME_SIMILAR,
            ),
            _swapped(),
            _else(),
        ),
    )


def _swapped() -> Level:
    """Given and family names written the other way round ("Арутюнян Асмик" copied from a form
    that puts the family name first): each agrees closely with the other's other name. Both name
    comparisons take this level together, so the pair weighs as much as the names agreeing."""
    return Level(
        "swapped",
        f"jaro_winkler_similarity(given_latin_l, family_latin_r) >= {NAME_CLOSE}"
        f" AND jaro_winkler_similarity(family_latin_l, given_latin_r) >= {NAME_CLOSE}",
        lambda a, b: (
            all((a.given_latin, a.family_latin, b.given_latin, b.family_latin))
            and _jw(a.given_latin, b.family_latin) >= NAME_CLOSE
            and _jw(a.family_latin, b.given_latin) >= NAME_CLOSE
        ),
    )


def _both_months(a: Features, b: Features) -> bool:
    return a.birth_month is not None and b.birth_month is not None


def _both_days(a: Features, b: Features) -> bool:
    return a.birth_day is not None and b.birth_day is not None


def _years_agree_but(a: Features, b: Features) -> bool:
    """Month and day, where both are known, agree: only the year may be wrong."""
    if a.birth_month is None or b.birth_month is None:
        return True
    if a.birth_month != b.birth_month:
        return False
    return a.birth_day is None or b.birth_day is None or a.birth_day == b.birth_day


def _guessed(record: Features, min_age: int) -> bool:
    """An estimated age, for someone old enough that a guess is years out (a child's is not)."""
    return record.birth_estimated and record.registered_year - record.birth_year >= min_age


def _guessed_sql(min_age: int) -> str:
    return (
        f"((birth_estimated_l AND registered_year_l - birth_year_l >= {min_age})"
        f" OR (birth_estimated_r AND registered_year_r - birth_year_r >= {min_age}))"
    )


BIRTH = Comparison(
    name="birth_date",
    columns=("birth_year", "birth_month", "birth_day", "birth_estimated", "registered_year"),
    levels=(
        Level(
            "same_date",
            "birth_year_l = birth_year_r AND birth_month_l = birth_month_r"
            " AND birth_day_l = birth_day_r",
            lambda a, b: (
                _both_days(a, b)
                and (a.birth_year, a.birth_month, a.birth_day)
                == (b.birth_year, b.birth_month, b.birth_day)
            ),
        ),
        # 03/04 typed as 04/03: evidence of the same date, not a mismatch.
        Level(
            "day_month_swapped",
            "birth_year_l = birth_year_r AND birth_month_l = birth_day_r"
            " AND birth_day_l = birth_month_r",
            lambda a, b: (
                _both_days(a, b)
                and a.birth_year == b.birth_year
                and (a.birth_month, a.birth_day) == (b.birth_day, b.birth_month)
            ),
        ),
        Level(
            "same_month",
            "birth_year_l = birth_year_r AND birth_month_l = birth_month_r"
            " AND (birth_day_l IS NULL OR birth_day_r IS NULL)",
            lambda a, b: (
                _both_months(a, b)
                and (a.birth_year, a.birth_month) == (b.birth_year, b.birth_month)
                and not _both_days(a, b)
            ),
        ),
        Level(
            "other_day",
            "birth_year_l = birth_year_r AND birth_month_l = birth_month_r",
            lambda a, b: (
                _both_months(a, b)
                and (a.birth_year, a.birth_month) == (b.birth_year, b.birth_month)
            ),
        ),
        # A year-only (or estimated) date agrees with any full date in that year.
        Level(
            "same_year_partial",
            "birth_year_l = birth_year_r AND (birth_month_l IS NULL OR birth_month_r IS NULL)",
            lambda a, b: a.birth_year == b.birth_year and not _both_months(a, b),
        ),
        Level(
            "same_year",
            "birth_year_l = birth_year_r",
            lambda a, b: a.birth_year == b.birth_year,
        ),
        # "About 40": a guessed age is often a year or two out, for adults.
        Level(
            "estimate_within_2",
            f"{_guessed_sql(10)} AND abs(birth_year_l - birth_year_r) <= 2",
            lambda a, b: (
                (_guessed(a, 10) or _guessed(b, 10)) and abs(a.birth_year - b.birth_year) <= 2
            ),
        ),
        # A slip in the year alone, the month and day agreeing where both are known.
        Level(
            "year_off_by_one",
            "abs(birth_year_l - birth_year_r) = 1 AND (birth_month_l IS NULL"
            " OR birth_month_r IS NULL OR (birth_month_l = birth_month_r AND (birth_day_l IS NULL"
            " OR birth_day_r IS NULL OR birth_day_l = birth_day_r)))",
            lambda a, b: abs(a.birth_year - b.birth_year) == 1 and _years_agree_but(a, b),
        ),
        # "About 70": older people's ages are rounded when guessed.
        Level(
            "estimate_within_5",
            f"{_guessed_sql(40)} AND abs(birth_year_l - birth_year_r) <= 5",
            lambda a, b: (
                (_guessed(a, 40) or _guessed(b, 40)) and abs(a.birth_year - b.birth_year) <= 5
            ),
        ),
        _else(),
    ),
)


def _exact(name: str, column: str) -> Comparison:
    def value(record: Features) -> Any:
        return getattr(record, column)

    return Comparison(
        name=name,
        columns=(column,),
        levels=(
            Level(
                "null",
                f"{column}_l IS NULL OR {column}_r IS NULL",
                lambda a, b: not value(a) or not value(b),
                null=True,
            ),
            Level("same", f"{column}_l = {column}_r", lambda a, b: value(a) == value(b)),
            _else(),
        ),
    )


SEX = Comparison(
    name="sex",
    columns=("sex",),
    levels=(Level("same", "sex_l = sex_r", lambda a, b: a.sex == b.sex), _else()),
)

DOCUMENTS = Comparison(
    name="documents",
    columns=("documents", "document"),
    levels=(
        Level(
            "null",
            "documents_l IS NULL OR documents_r IS NULL",
            lambda a, b: not a.documents or not b.documents,
            null=True,
        ),
        Level(
            "shared_number",
            "list_has_any(documents_l, documents_r)",
            lambda a, b: bool(set(a.documents) & set(b.documents)),
        ),
        # The first numbers one digit apart, or two digits swapped: a number copied by hand.
        Level(
            "number_one_typo",
            "damerau_levenshtein(document_l, document_r) <= 1",
            lambda a, b: _dl(a.documents[0], b.documents[0]) <= 1,
        ),
        _else(),
    ),
)

PATRONYMIC = Comparison(
    name="patronymic",
    columns=("patronymic_latin", "patronymic_key"),
    levels=(
        Level(
            "null",
            "patronymic_key_l IS NULL OR patronymic_key_r IS NULL",
            lambda a, b: not a.patronymic_key or not b.patronymic_key,
            null=True,
        ),
        Level(
            "same_name",
            "patronymic_key_l = patronymic_key_r",
            lambda a, b: a.patronymic_key == b.patronymic_key,
        ),
        Level(
            "similar",
            f"jaro_winkler_similarity(patronymic_latin_l, patronymic_latin_r)"
            f" >= {PATRONYMIC_SIMILAR}",
            lambda a, b: _jw(a.patronymic_latin, b.patronymic_latin) >= PATRONYMIC_SIMILAR,
        ),
        _else(),
    ),
)

NEEDS = Comparison(
    name="needs",
    columns=("needs",),
    levels=(
        Level(
            "null",
            "needs_l IS NULL OR needs_r IS NULL",
            lambda a, b: not a.needs or not b.needs,
            null=True,
        ),
        Level("same", "needs_l = needs_r", lambda a, b: a.needs == b.needs),
        Level(
            "shared",
            "list_has_any(needs_l, needs_r)",
            lambda a, b: bool(set(a.needs) & set(b.needs)),
        ),
        _else(),
    ),
)

COMPARISONS: tuple[Comparison, ...] = (
    _name("given"),
    _name("family"),
    PATRONYMIC,
    BIRTH,
    SEX,
    _exact("origin", "origin"),
    _exact("phone", "phone"),
    DOCUMENTS,
    NEEDS,
    _exact("functioning", "functioning"),
)

# Pairs worth comparing at all: the same person typed in two scripts shares name keys, and typos
# are caught by the first letters of the names, the father's name, a phone or a document. Each
# rule earns its place by the true pairs only it finds (measured on simulated influxes); rules
# that found almost nothing new cost too many comparisons at a million records.
# Birth years further apart than an estimated age or a typo moves one: a common name pair across
# all ages is mostly namesakes (the desk check looks as far, YEARS_APART). A year of 0 is unknown.
YEARS_APART = 6
_NEAR_YEARS = (
    f"(abs(l.birth_year - r.birth_year) <= {YEARS_APART} OR l.birth_year = 0 OR r.birth_year = 0)"
)
BLOCKING_RULES: tuple[str, ...] = (
    f"l.given_key = r.given_key AND l.family_key = r.family_key AND {_NEAR_YEARS}",
    "l.family_key = r.family_key AND l.birth_year = r.birth_year AND l.sex = r.sex",
    "l.given_key = r.given_key AND l.patronymic_key = r.patronymic_key"
    f" AND substr(l.family_key, 1, 1) = substr(r.family_key, 1, 1) AND {_NEAR_YEARS}",
    # A typo late in both names: their beginnings, the year and sex.
    "substr(l.given_key, 1, 2) = substr(r.given_key, 1, 2)"
    " AND substr(l.family_key, 1, 3) = substr(r.family_key, 1, 3)"
    " AND l.birth_year = r.birth_year AND l.sex = r.sex",
    # Both names mistyped: a full birth date.
    "l.birth_year = r.birth_year AND l.birth_month = r.birth_month AND l.birth_day = r.birth_day"
    " AND l.sex = r.sex",
    # A typo anywhere but the first letters: those, with the year, sex and origin.
    "substr(l.given_key, 1, 1) = substr(r.given_key, 1, 1)"
    " AND substr(l.family_key, 1, 1) = substr(r.family_key, 1, 1)"
    " AND l.birth_year = r.birth_year AND l.sex = r.sex AND l.origin = r.origin",
    "l.phone = r.phone",
    "l.document = r.document",
    # Given and family names the other way round.
    "l.given_latin = r.family_latin AND l.family_latin = r.given_latin",
)


def explain_levels(left: Features, right: Features) -> dict[str, Level]:
    return {c.name: c.level_of(left, right) for c in COMPARISONS}


def scripts_of(record: Features, comparison: str) -> str:
    """The script a compared name was typed in, for explanations (Armenian beside Cyrillic)."""
    return {
        "given": record.given_script,
        "family": record.family_script,
        "patronymic": record.patronymic_script,
    }.get(comparison, "")


__all__ = [
    "BLOCKING_RULES",
    "COMPARISONS",
    "Comparison",
    "Features",
    "Level",
    "document_key",
    "explain_levels",
    "features",
    "normalise",
    "origin_key",
    "phone_key",
    "scripts_of",
]
