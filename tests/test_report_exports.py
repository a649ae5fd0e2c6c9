"""Partner exports (haven.reports.exports) and small-cell suppression (haven.reports.suppression).

The files are read back with libhxl, as a partner's tools read them: hashtags, values, HXL's own
validation. Suppression is checked against what a reader can do with the published figures:
no shown count from 1 to 4, and no hidden count recoverable from the published sums by any
chain of subtractions (a linear-algebra test written here, independent of the module's LP).
"""

import csv
import io
import random
from collections.abc import Hashable
from datetime import datetime
from typing import Any

import hxl
import numpy as np
import openpyxl
import pytest

from haven.core.models import Site
from haven.registry.tallies import BANDS
from haven.reports import exports
from haven.reports.figures import situation_at
from haven.reports.suppression import (
    THRESHOLD,
    Sum,
    protection_ranges,
    suppress,
    table_sums,
)
from tests.test_report_figures import World, at, crowded_influx, world

__all__ = ["world"]  # the fixture, shared with the figures' tests


# --- suppression ---------------------------------------------------------------------------------


def recoverable(values: dict[Any, int], sums: list[Sum[Any]], hidden: set[Any]) -> list[Any]:
    """Hidden cells whose value follows from the published sums by linear combination: a cell is
    recoverable exactly when its unit vector lies in the row space of the equations over the
    hidden cells."""
    unknown = sorted(hidden, key=repr)
    column = {key: i for i, key in enumerate(unknown)}
    rows = []
    for relation in sums:
        row = np.zeros(len(unknown))
        for part in relation.parts:
            if part in column:
                row[column[part]] += 1
        if relation.total in column:
            row[column[relation.total]] -= 1
        if row.any():
            rows.append(row)
    if not rows:
        return []
    matrix = np.array(rows)
    rank = np.linalg.matrix_rank(matrix)
    found = []
    for key in unknown:
        unit = np.zeros(len(unknown))
        unit[column[key]] = 1
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            found.append(key)
    return found


def random_table(seed: int) -> tuple[dict[Any, int], list[Sum[Any]]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible tables, not a secret
    rows = [f"r{i}" for i in range(rng.randint(1, 6))]
    columns = [f"c{j}" for j in range(rng.randint(1, 6))]
    values: dict[Any, int] = {}
    for row in rows:
        for column in columns:
            values[(row, column)] = rng.choice([0, 0, 1, 2, 3, 4, 5, 7, 12, 30, 150])
    for row in rows:
        values[(row, "T")] = sum(values[(row, c)] for c in columns)
    for column in [*columns, "T"]:
        values[("T", column)] = sum(values[(r, column)] for r in rows)
    return values, table_sums(rows, columns, row_total="T", column_total="T")


@pytest.mark.parametrize("seed", range(60))
def test_no_small_count_is_shown_or_recoverable(seed: int) -> None:
    values, sums = random_table(seed)
    result = suppress(values, sums)
    hidden = set(result.hidden)
    shown = {k: v for k, v in values.items() if k not in hidden}
    assert not [k for k, v in shown.items() if 0 < v < THRESHOLD]
    for relation in sums:
        inside = [c for c in relation.cells if c in hidden]
        assert len(inside) != 1, relation
    assert recoverable(values, sums, hidden) == []
    for key, low, high in protection_ranges(values, sums, hidden):
        assert high - low >= 1 - 1e-6, key
        assert low - 1e-6 <= values[key] <= high + 1e-6


def test_secondary_cells_are_the_smallest_others() -> None:
    rows, columns = ["a", "b", "c"], ["f", "m"]
    values: dict[tuple[Hashable, Hashable], int] = {
        ("a", "f"): 3,
        ("a", "m"): 40,
        ("b", "f"): 9,
        ("b", "m"): 8,
        ("c", "f"): 60,
        ("c", "m"): 70,
    }
    for row in rows:
        values[(row, "T")] = values[(row, "f")] + values[(row, "m")]
    for column in [*columns, "T"]:
        values[("T", column)] = sum(values[(r, column)] for r in rows)
    result = suppress(values, table_sums(rows, columns, row_total="T", column_total="T"))
    # a/f is small; its row's other cell is a/m, its column's smallest other is b/f, and b/m
    # then closes the rectangle. The large c row stays.
    assert result.primary == {("a", "f")}
    assert result.hidden == {("a", "f"), ("a", "m"), ("b", "f"), ("b", "m")}
    assert result.shown(("c", "f")) == 60


def test_zero_may_be_shown_and_a_lone_small_total_is_hidden() -> None:
    result = suppress({"x": 0, "y": 0, "total": 0}, [Sum("total", ("x", "y"))])
    assert result.hidden == frozenset()
    result = suppress({"x": 3, "y": 0, "total": 3}, [Sum("total", ("x", "y"))])
    assert result.hidden == {"x", "total"}  # the total is itself a small count
    assert result.shown("y") == 0
    result = suppress({"x": 3, "y": 10, "total": 13}, [Sum("total", ("x", "y"))])
    assert result.hidden == {"x", "y"}  # a part rather than the total


def test_suppression_refuses_what_is_not_a_table() -> None:
    with pytest.raises(ValueError, match="negative"):
        suppress({"x": -1})
    with pytest.raises(ValueError, match="without a count"):
        suppress({"x": 1}, [Sum("total", ("x",))])


# --- the files -----------------------------------------------------------------------------------


def _read_csv(content: bytes) -> Any:
    return hxl.data(io.BytesIO(content)).cache()


def _by_tag(dataset: Any) -> list[dict[str, str]]:
    tags = [column.display_tag for column in dataset.columns]
    return [dict(zip(tags, row.values, strict=True)) for row in dataset]


@pytest.fixture
def influx(world: World) -> World:
    return crowded_influx(world)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_population_by_province_reads_back_as_hxl(influx: World, fmt: str) -> None:
    situation = situation_at(at(28, 0))
    result = exports.export("population", fmt, situation)
    assert result.filename == f"haven-population-20230928T0000.{fmt}"
    assert result.content_type == exports.CONTENT_TYPES[fmt]
    dataset = hxl.data(io.BytesIO(result.content)).cache()
    tags = [c.display_tag for c in dataset.columns]
    assert tags[:6] == [
        "#date+reported",
        "#country+code",
        "#adm1+name",
        "#affected+refugees+ind",
        "#affected+refugees+hh",
        "#affected+refugees+f",
    ]
    assert "#affected+refugees+f+age_0_4" in tags
    assert "#affected+refugees+m+age_80_plus" in tags
    assert tags[-1] == "#meta+suppressed"
    assert dataset.validate() is True
    rows = {row["#adm1+name"]: row for row in _by_tag(dataset)}
    assert set(rows) == {"Syunik", "Vayots Dzor"}
    syunik = rows["Syunik"]
    assert syunik["#date+reported"] == "2023-09-28"
    assert syunik["#country+code"] == "ARM"
    assert syunik["#meta+source"] == "Haven registration"
    women_50 = sum(
        c.persons
        for c in situation.population
        if (c.province, c.sex, c.band) == ("Syunik", "F", "50-54")
    )
    assert int(syunik["#affected+refugees+f+age_50_54"]) == women_50 == 12
    # Vayots Dzor has one person: every count there is empty and named as suppressed.
    vayk = rows["Vayots Dzor"]
    assert vayk["#affected+refugees+ind"] in ("", None)
    assert "#affected+refugees+ind" in vayk["#meta+suppressed"].split()
    # …and so is Syunik's total, which with the national total would give it away.
    assert syunik["#affected+refugees+ind"] in ("", None)
    for row in rows.values():
        flagged = set(row["#meta+suppressed"].split())
        for tag in tags[3:-2]:
            value = row[tag]
            if value in ("", None):
                assert tag in flagged
            else:
                assert not 0 < int(value) < THRESHOLD, (tag, value)
                assert tag not in flagged


def test_shown_population_cells_agree_with_the_situation(influx: World) -> None:
    situation = situation_at(at(28, 0))
    table = exports.population(situation)
    columns = list(table.tags)
    for row in table.rows:
        province = row[columns.index("#adm1+name")]
        for sex in ("f", "m"):
            for band in BANDS:
                attribute = f"+age_{band.replace('-', '_').replace('+', '_plus')}"
                value = row[columns.index(f"#affected+refugees+{sex}{attribute}")]
                expected = sum(
                    c.persons
                    for c in situation.population
                    if c.province == province and c.sex == sex.upper() and c.band == band
                )
                assert value is None or value == expected


def test_daily_arrivals_read_back_with_every_day_and_site(influx: World) -> None:
    situation = situation_at(at(28, 0))
    result = exports.export("daily-arrivals", "csv", situation)
    dataset = _read_csv(result.content)
    assert dataset.validate() is True
    rows = _by_tag(dataset)
    assert [(r["#date"], r["#loc+code"]) for r in rows] == [
        ("2023-09-25", "KOR"),
        ("2023-09-26", "KOR"),
    ]
    by_day = {r["#date"]: r for r in rows}
    assert int(by_day["2023-09-25"]["#affected+refugees+new+ind"]) == sum(
        100 + hour for hour in range(8, 20)
    )
    assert int(by_day["2023-09-26"]["#affected+refugees+new+ind"]) == 240
    assert by_day["2023-09-25"]["#loc+type"] == "border_crossing"
    assert by_day["2023-09-25"]["#adm1+name"] == "Syunik"
    header = result.content.decode("utf-8").splitlines()[0]
    assert header.startswith("Date,Country (ISO3),Crossing point")


def test_needs_are_national_and_suppressed(influx: World) -> None:
    situation = situation_at(at(28, 0))
    result = exports.export("needs", "xlsx", situation)
    dataset = hxl.data(io.BytesIO(result.content)).cache()
    assert dataset.validate() is True
    rows = {r["#need+code"]: r for r in _by_tag(dataset)}
    assert set(rows) == {n.code for n in situation.needs}
    assert rows["SM-CI"]["#need+name"]
    for row in rows.values():  # every need here is one person: all suppressed
        assert row["#affected+refugees+ind"] in ("", None)
        assert "#affected+refugees+ind" in row["#meta+suppressed"]


def test_a_formula_in_a_name_is_written_as_text(influx: World) -> None:
    Site.objects.filter(code="KOR").update(
        name='=HYPERLINK("http://example.invalid","x")', province="+Syunik"
    )
    situation = situation_at(at(28, 0))
    content = exports.export("daily-arrivals", "csv", situation).content
    cells = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    names = {row[2] for row in cells[2:]}
    assert names == {'\'=HYPERLINK("http://example.invalid","x")'}
    assert {row[5] for row in cells[2:]} == {"'+Syunik"}

    workbook = openpyxl.load_workbook(
        io.BytesIO(exports.export("daily-arrivals", "xlsx", situation).content)
    )
    sheet = workbook.active
    cell = sheet.cell(row=3, column=3)
    assert cell.data_type == "s"
    assert cell.value == '\'=HYPERLINK("http://example.invalid","x")'
    population = exports.export("population", "xlsx", situation).content
    province_cells = [
        row[2].value for row in openpyxl.load_workbook(io.BytesIO(population)).active.iter_rows(3)
    ]
    assert "'+Syunik" in province_cells


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_every_formula_start_is_neutralised(text: str) -> None:
    assert exports.safe_text(text) == "'" + text
    assert exports.safe_text("Goris") == "Goris"


def test_unknown_exports_and_formats_are_refused(world: World) -> None:
    situation = situation_at(datetime(2023, 9, 26, 8, tzinfo=at(26, 8).tzinfo))
    with pytest.raises(ValueError, match="unknown export 'shelters'"):
        exports.export("shelters", "csv", situation)
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        exports.export("needs", "pdf", situation)


def test_partner_situation_suppresses_small_cells(influx: World) -> None:
    situation = situation_at(at(28, 0))
    body = exports.partner_situation(situation)
    assert body["unique_people"] == situation.unique_people
    assert "registrations_hourly" not in body
    assert "arrivals_hourly" not in body
    shown = [
        value
        for row in body["pyramid"]
        for value in (row["female"], row["male"])
        if value is not None
    ]
    assert shown
    assert all(not 0 < value < THRESHOLD for value in shown)
    assert any(row["female"] is None or row["male"] is None for row in body["pyramid"])
    provinces = {p["name"]: p["persons"] for p in body["host_provinces"]}
    assert provinces["Vayots Dzor"] is None
    assert provinces["Syunik"] is None  # it would give Vayots Dzor's 1 away from the total
    assert all(n["persons"] is None for n in body["needs"])
