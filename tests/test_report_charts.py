"""Server-drawn SVG charts (haven.reports.charts): each is well-formed XML whose drawn elements
follow the data, whose text is escaped, and whose title and description say the figures in words."""

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.reports.charts import (
    backlog_chart,
    bar_chart,
    cumulative_chart,
    nice_ticks,
    pyramid_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
YEREVAN = ZoneInfo("Asia/Yerevan")
# 24 Sep 2023 20:00 UTC is midnight of 25 Sep in Armenia (UTC+4): day ticks must fall there.
START = datetime(2023, 9, 24, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314  our own output, parsed to check it is well-formed
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("width") == "100%"
    assert re.fullmatch(r"0 0 640 \d+(\.\d)?", root.get("viewBox", ""))
    title, desc = root[0], root[1]
    assert (title.tag, desc.tag) == (f"{SVG}title", f"{SVG}desc")
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def texts(root: ET.Element, cls: str | None = None) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if cls is None or t.get("class") == cls]


def desc(root: ET.Element) -> str:
    return root[1].text or ""


def points_of(element: ET.Element) -> list[tuple[float, float]]:
    pairs = (p.split(",") for p in element.get("points", "").split())
    return [(float(x), float(y)) for x, y in pairs]


def logistic(hours: float, total: float = 100_600) -> float:
    return total / (1 + math.exp(-0.07 * (hours - 70)))


def influx(until_hour: int, step: int = 1) -> list[tuple[datetime, float]]:
    """Hourly cumulative arrivals from START, in Armenian time as the report code passes them."""
    return [
        ((START + timedelta(hours=h)).astimezone(YEREVAN), logistic(h))
        for h in range(0, until_hour + 1, step)
    ]


def tick_positions(root: ET.Element) -> dict[str, float]:
    return {
        t.text or "": float(t.get("x", "0"))
        for t in root.iter(f"{SVG}text")
        if t.get("class") == "x-tick"
    }


# --- cumulative ---------------------------------------------------------------------------------


def test_cumulative_draws_each_series_the_forecast_and_the_as_of_marker() -> None:
    crossed = influx(130)
    registered = [(t, v * 0.8) for t, v in crossed]
    as_of = crossed[-1][0]
    future = [as_of + timedelta(hours=h) for h in range(0, 121, 6)]
    median = [(t, logistic((t - START).total_seconds() / 3600)) for t in future]
    band = [(t, v * 0.9, v * 1.1) for t, v in median]

    root = parse(
        cumulative_chart(
            {"Crossed": crossed, "Registered": registered},
            forecast_median=median,
            forecast_band=band,
            as_of=as_of,
            title="Arrivals",
            y_label="people",
        )
    )

    series = [g for g in root.iter(f"{SVG}g") if g.get("class") == "series"]
    assert [g.get("data-label") for g in series] == ["Crossed", "Registered"]
    crossed_line = points_of(series[0][0])
    assert len(crossed_line) == len(crossed)
    assert crossed_line[0][0] < crossed_line[-1][0]
    assert crossed_line[-1][1] < crossed_line[0][1]  # rising counts climb up the page
    # Registered stays under crossed: its y (downwards) is larger at the same moment.
    assert points_of(series[1][0])[-1][1] > crossed_line[-1][1]

    marker = next(e for e in root.iter(f"{SVG}line") if e.get("class") == "as-of")
    as_of_x = float(marker.get("x1", "0"))
    assert as_of_x == pytest.approx(crossed_line[-1][0], abs=0.1)
    band_polygon = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "forecast-band")[0]
    band_xs = [x for x, _y in points_of(band_polygon)]
    assert min(band_xs) == pytest.approx(as_of_x, abs=0.1)
    assert crossed_line[0][0] < as_of_x < max(band_xs)
    median_line = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "forecast-median")[0]
    assert median_line.get("stroke-dasharray")
    assert "as of 30 Sep 02:00" in texts(root)  # 29 Sep 22:00 UTC is 02:00 in Yerevan

    words = desc(root)
    assert "As of 30 Sep 2023 02:00." in words
    assert f"Crossed: {round(crossed[-1][1]):,} at 30 Sep 02:00." in words
    assert (
        f"Forecast range at 5 Oct 02:00: {round(band[-1][1]):,} to {round(band[-1][2]):,}" in words
    )
    assert root[0].text == "Arrivals"
    assert "people" in texts(root)


def test_y_axis_ticks_are_nice_steps_with_thousands_separators() -> None:
    root = parse(cumulative_chart({"Crossed": influx(240)}, title="Arrivals"))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert labels == ["0", "50,000", "100,000", "150,000"]


def test_day_ticks_fall_on_local_midnight_in_the_datas_time_zone() -> None:
    root = parse(cumulative_chart({"Crossed": influx(96)}, title="Arrivals"))
    ticks = tick_positions(root)
    assert list(ticks) == ["25 Sep", "26 Sep", "27 Sep", "28 Sep"]
    line = points_of(next(g for g in root.iter(f"{SVG}g") if g.get("class") == "series")[0])
    # 25 Sep 00:00 in Yerevan is hour 8 of the data (12:00 UTC + 8 h = 20:00 UTC).
    assert ticks["25 Sep"] == pytest.approx(line[8][0], abs=0.15)
    assert ticks["26 Sep"] == pytest.approx(line[32][0], abs=0.15)


def test_a_short_span_is_labelled_by_hour_with_the_date_under_the_first() -> None:
    root = parse(cumulative_chart({"Crossed": influx(10)}, title="Arrivals", tz=YEREVAN))
    ticks = list(tick_positions(root))
    assert ticks[0] == "16:00"  # 12:00 UTC
    assert all(re.fullmatch(r"\d\d:00", t) for t in ticks)
    assert "24 Sep" in texts(root)


def test_labels_follow_the_active_language() -> None:
    with translation.override("ru"):
        root = parse(cumulative_chart({"Пересекли": influx(240)}, title="Прибытия"))
    assert "100\xa0000" in texts(root)
    assert any("Сен" in t for t in tick_positions(root))


def test_one_point_is_drawn_as_a_dot() -> None:
    root = parse(cumulative_chart({"Crossed": influx(0)}, title="Arrivals"))
    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_many_points_are_thinned_to_a_few_per_pixel_column() -> None:
    minutes = [(START + timedelta(minutes=m), float(m)) for m in range(20_000)]
    root = parse(cumulative_chart({"Crossed": minutes}, title="Arrivals"))
    line = points_of(next(g for g in root.iter(f"{SVG}g") if g.get("class") == "series")[0])
    assert len(line) <= 4 * 600
    assert line[0][0] == pytest.approx(64.0, abs=0.1)  # starts at the left edge
    assert line[-1][0] == pytest.approx(624.0, abs=0.1)  # and still reaches the right edge


# --- backlog ------------------------------------------------------------------------------------


def test_backlog_area_and_the_projected_clearance() -> None:
    points = [(START + timedelta(hours=h), float(h * (48 - h) * 10)) for h in range(41)]
    clearance = START + timedelta(hours=60)
    root = parse(
        backlog_chart(points, clearance=clearance, tz=YEREVAN, title="Backlog", y_label="people")
    )

    area = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "backlog")
    polygon, outline = area[0], area[1]
    assert len(points_of(outline)) == len(points)
    assert len(points_of(polygon)) == len(points) + 2  # closed along the baseline
    marker = next(e for e in root.iter(f"{SVG}line") if e.get("class") == "clearance-marker")
    assert float(marker.get("x1", "0")) > points_of(outline)[-1][0]
    words = desc(root)
    assert "the highest was 5,760 at 25 Sep 16:00" in words  # h = 24, 12:00 UTC + 28 h local
    assert "Projected to clear about 27 Sep 2023 04:00." in words


# --- pyramid ------------------------------------------------------------------------------------


def test_pyramid_puts_males_left_females_right_youngest_at_the_bottom() -> None:
    bands = [("0–4", 340, 330), ("5–9", 410, 390), ("60+", 3, None)]
    root = parse(pyramid_chart(bands, unknown_sex=21, title="Sex and age"))

    male = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "male"]
    female = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "female"]
    assert (len(male), len(female)) == (3, 2)
    middle = 320.0
    assert all(float(r.get("x", "0")) + float(r.get("width", "0")) <= middle for r in male)
    assert all(float(r.get("x", "0")) >= middle for r in female)
    widths = {float(r.get("width", "0")) for r in male + female}
    assert max(widths) == max(float(r.get("width", "0")) for r in male)  # 410 is the largest
    # Drawn from the top: 60+ first, 0–4 last (lowest on the page).
    assert float(male[0].get("y", "0")) < float(male[-1].get("y", "0"))
    assert [r for r in root.iter(f"{SVG}rect") if r.get("class") == "suppressed"]
    assert "suppressed" in texts(root)
    assert "Sex not recorded: 21" in texts(root)
    assert desc(root).startswith("0–4: Male 340, Female 330. 5–9: Male 410, Female 390.")
    assert "60+: Male 3, Female suppressed." in desc(root)


# --- bars ---------------------------------------------------------------------------------------


def test_bars_follow_the_data_and_mark_suppressed_cells() -> None:
    items: list[tuple[str, int | None]] = [
        ("Ստեփանակերտ", 45_012),
        ("Мартуни", 8_100),
        ("Elderly & <alone>", 6_030),
        ("Small village", None),
    ]
    root = parse(bar_chart(items, title="Origin & <places>", suppressed_label="<5"))

    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert len(bars) == 3
    widths = [float(b.get("width", "0")) for b in bars]
    assert widths[0] == max(widths)
    assert widths[1] / widths[0] == pytest.approx(8_100 / 45_012, rel=0.01)
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "suppressed"]) == 1
    assert texts(root, "bar-value") == ["45,012", "8,100", "6,030", "<5"]
    assert texts(root, "bar-label") == [label for label, _v in items]
    assert root[0].text == "Origin & <places>"
    assert "Elderly & <alone>: 6,030. Small village: <5." in desc(root)


def test_text_is_escaped_in_the_markup() -> None:
    svg = bar_chart([("A & B <script>", 3)], title='"Needs" & <more>')
    assert "<script>" not in svg
    assert "A &amp; B &lt;script&gt;" in svg
    assert "&quot;Needs&quot; &amp; &lt;more&gt;" in svg


def test_a_long_label_is_cut_with_its_full_text_kept_in_a_tooltip() -> None:
    long = "Аскеран район, село Ханабад и окрестности, временное размещение у родственников"
    root = parse(bar_chart([(long, 12), ("Goris", 30)], title="Origin"))
    shown = texts(root, "bar-label")[0]
    assert shown.endswith("…")
    assert long.startswith(shown[:-1])
    tooltips = [g[0].text for g in root.iter(f"{SVG}g") if len(g) and g[0].tag == f"{SVG}title"]
    assert long in tooltips
    assert long in desc(root)


# --- no data, bad input, structure --------------------------------------------------------------


@pytest.mark.parametrize(
    "svg",
    [
        pytest.param(lambda: cumulative_chart({}, title="Arrivals"), id="cumulative-no-series"),
        pytest.param(lambda: cumulative_chart({"Crossed": []}, title="Arrivals"), id="cumulative"),
        pytest.param(lambda: backlog_chart([], title="Backlog"), id="backlog"),
        pytest.param(lambda: pyramid_chart([], title="Age"), id="pyramid"),
        pytest.param(
            lambda: pyramid_chart([("0–4", None, None)], title="Age"), id="all-suppressed"
        ),
        pytest.param(lambda: bar_chart([], title="Needs"), id="bars"),
    ],
)
def test_no_data_draws_a_clear_empty_chart(svg: object) -> None:
    assert callable(svg)
    root = parse(svg())
    assert texts(root, "empty") == ["No data yet"]
    assert desc(root) == "No data yet"


@pytest.mark.parametrize(
    ("draw", "message"),
    [
        (lambda: cumulative_chart({"x": [(datetime(2023, 9, 24), 1.0)]}, title="t"), "naive"),  # noqa: DTZ001
        (lambda: cumulative_chart({"x": [(START, -1)]}, title="t"), "negative"),
        (lambda: cumulative_chart({"x": [(START, float("nan"))]}, title="t"), "finite"),
        # The wrong types below are what these cases test: callers are not all type-checked.
        (lambda: cumulative_chart({"x": [(START, "12")]}, title="t"), "expected a number"),  # type: ignore[list-item]
        (lambda: cumulative_chart({"x": [START]}, title="t"), r"series 'x'\[0\]"),  # type: ignore[list-item]
        (
            lambda: cumulative_chart({}, forecast_band=[(START, 5, 3)], title="t"),
            "low 5 is above high 3",
        ),
        (
            lambda: backlog_chart(
                [(START, 1)],
                clearance=datetime(2023, 9, 30),  # noqa: DTZ001  the naive moment under test
                title="t",
            ),
            "clearance",
        ),
        (lambda: pyramid_chart([("0–4", 1, -2)], title="t"), r"bands\[0\] female"),
        (lambda: bar_chart([("Goris", 1.5e400)], title="t"), "finite"),  # type: ignore[list-item]
        (lambda: bar_chart([("Goris",)], title="t"), r"expected \(label, count\)"),  # type: ignore[list-item]
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(draw: object, message: str) -> None:
    assert callable(draw)
    with pytest.raises(ValueError, match=message):
        draw()


def test_ids_are_stable_for_one_chart_and_distinct_between_charts() -> None:
    first = bar_chart([("Goris", None)], title="Needs")
    assert first == bar_chart([("Goris", None)], title="Needs")
    second = bar_chart([("Vayk", None)], title="Needs")
    first_ids = set(re.findall(r'id="([^"]+)"', first))
    assert first_ids.isdisjoint(re.findall(r'id="([^"]+)"', second))
    # The hatching pattern each suppressed cell points to is defined in the same chart.
    assert set(re.findall(r"url\(#([^)]+)\)", first)) <= first_ids


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (13_550, [0, 5_000, 10_000, 15_000]),
        (100_600, [0, 50_000, 100_000, 150_000]),
        (7, [0, 2, 4, 6, 8]),
        (1, [0, 1]),
        (0, [0, 1]),
        (20_000, [0, 5_000, 10_000, 15_000, 20_000]),
    ],
)
def test_nice_ticks(top: float, ticks: list[float]) -> None:
    assert nice_ticks(top) == ticks


@settings(max_examples=60, deadline=None)
@given(label=st.text(max_size=40), value=st.none() | st.integers(0, 10**9))
def test_any_label_gives_well_formed_markup(label: str, value: int | None) -> None:
    root = parse(bar_chart([(label, value)], title=label))
    kept = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]", "", label)
    # XML parsers read a carriage return as a line feed; everything else comes back as written.
    assert (root[0].text or "") == kept.replace("\r\n", "\n").replace("\r", "\n")
    assert (root[1].text or "").startswith(kept.replace("\r\n", "\n").replace("\r", "\n"))


def test_the_forecast_is_drawn_from_as_of_on() -> None:
    crossed = influx(48)
    as_of = crossed[-1][0] - timedelta(minutes=30)
    median = influx(96, step=12)  # 36 h and 48 h straddle as_of
    band = [(t, v * 0.9, v * 1.1) for t, v in median]
    root = parse(
        cumulative_chart(
            {"Crossed": crossed},
            forecast_median=median,
            forecast_band=band,
            as_of=as_of,
            title="Arrivals",
        )
    )
    marker = next(e for e in root.iter(f"{SVG}line") if e.get("class") == "as-of")
    as_of_x = float(marker.get("x1", "0"))
    band_polygon = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "forecast-band")[0]
    median_line = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "forecast-median")[0]
    assert min(x for x, _y in points_of(band_polygon)) == pytest.approx(as_of_x, abs=0.1)
    assert points_of(median_line)[0][0] == pytest.approx(as_of_x, abs=0.1)
    assert len(points_of(median_line)) == 1 + 5  # the edge at as_of, then 48, 60, 72, 84, 96 h
