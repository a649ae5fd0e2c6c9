"""The arrivals forecast (haven.reports.forecast) and reading curves for it (haven.reports.curves):
recovery of a known curve, honest intervals, the prior, date-only reports, revisions, bad input,
the band for charts and the backlog projection."""

import math
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from haven.reports.curves import (
    CurveError,
    Report,
    parse_as_of,
    place_reports,
    read_reports,
    reports_as_of,
)
from haven.reports.forecast import (
    Forecast,
    ForecastError,
    backlog_clears,
    forecast_arrivals,
    forecast_band,
)
from haven.simulate.curve import CurveRow, default_curve

ARMENIA = ZoneInfo("Asia/Yerevan")
START = datetime(2023, 9, 24, 8, 0, tzinfo=ARMENIA)
TOTAL = 50_000.0
RATE, CENTRE = 0.9, 6.0  # per day; the day of the peak


def logistic_reports(
    share: float, *, step_hours: int = 12, noise: float = 0.03, seed: int = 1
) -> tuple[list[datetime], list[float]]:
    """Reports of a logistic flow of TOTAL people every `step_hours`, with day-to-day noise on
    the arrivals between reports, up to the first report at or past `share` of the flow."""
    rng = np.random.default_rng(seed)
    hours = np.arange(0, 24 * 20 + 1, step_hours)
    smooth = TOTAL / (1 + np.exp(-RATE * (hours / 24 - CENTRE)))
    increments = np.diff(smooth, prepend=0.0) * np.exp(rng.normal(0, noise, len(hours)))
    counts = np.round(np.cumsum(increments))
    counts *= TOTAL / counts[-1]  # the flow's total is TOTAL exactly
    last = int(np.argmax(counts >= share * TOTAL))
    times = [START + timedelta(hours=int(h)) for h in hours[: last + 1]]
    return times, [float(c) for c in counts[: last + 1]]


def true_date(share: float) -> datetime:
    days = CENTRE + math.log(share / (1 - share)) / RATE
    return START + timedelta(days=days)


def width(f: Forecast) -> float:
    low, high = f.interval_80
    assert high is not None
    return (high - low) / TOTAL


# --- recovery and honesty ---------------------------------------------------------------------


@pytest.mark.parametrize("share", [0.75, 0.85, 0.95])
def test_a_known_logistic_total_is_recovered_once_past_three_quarters(share: float) -> None:
    times, counts = logistic_reports(share)
    f = forecast_arrivals(times, counts)
    assert f.identifiable
    assert f.predicted_total == pytest.approx(TOTAL, rel=0.04)
    low, high = f.interval_80
    assert high is not None
    assert low <= TOTAL <= high
    assert f.observed == counts[-1]
    assert f.share_arrived == pytest.approx(counts[-1] / f.predicted_total)


def test_the_dates_of_90_and_99_percent_are_found() -> None:
    times, counts = logistic_reports(0.85, step_hours=6, noise=0.0)
    f = forecast_arrivals(times, counts)
    assert f.date_90pct is not None
    assert f.date_99pct is not None
    assert abs(f.date_90pct - true_date(0.9)) < timedelta(hours=12)
    assert abs(f.date_99pct - true_date(0.99)) < timedelta(hours=36)
    low, high = f.date_90pct_interval_80
    assert low is not None
    assert high is not None
    assert low <= f.date_90pct <= high


def test_intervals_widen_with_less_data() -> None:
    late = forecast_arrivals(*logistic_reports(0.95))
    middle = forecast_arrivals(*logistic_reports(0.80))
    assert late.identifiable
    assert middle.identifiable
    assert width(middle) > width(late)


def test_before_the_peak_the_total_is_not_identifiable_and_the_upper_bound_is_open() -> None:
    times, counts = logistic_reports(0.2)
    f = forecast_arrivals(times, counts)
    assert not f.identifiable
    assert not f.data_identify_total
    assert f.interval_80 == (counts[-1], None)
    assert f.interval_95 == (counts[-1], None)
    assert f.note is not None
    assert "peak" in f.note
    assert f.predicted_total >= counts[-1]
    out = f.as_dict(ARMENIA)
    assert out["identifiable"] is False
    assert out["interval_80"][1] is None


def test_a_prior_pulls_an_early_forecast_and_bounds_it() -> None:
    times, counts = logistic_reports(0.2)
    near = forecast_arrivals(times, counts, prior_total=55_000)
    far = forecast_arrivals(times, counts, prior_total=110_000)
    for f, prior in ((near, 55_000), (far, 110_000)):
        assert f.identifiable
        assert not f.data_identify_total
        assert f.predicted_total == pytest.approx(prior, rel=0.15)
        low, high = f.interval_80
        assert high is not None
        assert counts[-1] <= low < prior < high
        assert f.note is not None
        assert "prior" in f.note
    assert far.predicted_total > near.predicted_total * 1.5


def test_late_in_the_flow_the_reports_outweigh_a_wrong_prior() -> None:
    times, counts = logistic_reports(0.95)
    f = forecast_arrivals(times, counts, prior_total=80_000)
    assert f.predicted_total == pytest.approx(TOTAL, rel=0.05)


def test_the_lower_bound_is_never_below_what_has_arrived() -> None:
    for share in (0.1, 0.3, 0.6, 0.9, 0.99):
        times, counts = logistic_reports(share, seed=3)
        for prior in (None, 0.5 * counts[-1], 2 * TOTAL):
            f = forecast_arrivals(times, counts, prior_total=prior)
            assert f.interval_80[0] >= counts[-1]
            assert f.interval_95[0] >= counts[-1]
            assert f.predicted_total >= counts[-1]


def test_reports_with_no_arrivals_say_nothing() -> None:
    times = [START + timedelta(hours=h) for h in range(0, 48, 6)]
    f = forecast_arrivals(times, [0.0] * len(times))
    assert not f.identifiable
    assert f.predicted_total == 0
    assert f.interval_80 == (0.0, None)
    assert f.date_90pct is None
    assert f.note is not None


def test_a_daily_rhythm_is_not_taken_for_the_trend() -> None:
    """Reports every 3 hours of a flow that is busy in the afternoon and quiet at night: the
    forecast just after a busy afternoon must not run high."""
    hours = np.arange(0, 24 * 16 + 1, 3)
    rate = RATE / 24 * np.exp(-RATE * (hours / 24 - CENTRE))
    rate = rate / (1 + np.exp(-RATE * (hours / 24 - CENTRE))) ** 2
    rhythm = 1 + 0.8 * np.cos(2 * math.pi * ((hours % 24) - 15) / 24)
    counts = np.cumsum(TOTAL * rate * rhythm * 3)
    counts *= TOTAL / counts[-1]
    last = int(np.argmax(counts >= 0.85 * TOTAL))
    last += int(np.argmax((hours[last:] % 24) == 18))  # just after the busiest hours
    times = [START + timedelta(hours=int(h)) for h in hours[: last + 1]]
    f = forecast_arrivals(times, counts[: last + 1].tolist())
    assert f.predicted_total == pytest.approx(TOTAL, rel=0.03)


def test_a_trickle_before_the_surge_does_not_bend_the_fit() -> None:
    trickle = [START + timedelta(days=d) for d in range(8)]
    times, counts = logistic_reports(0.9, step_hours=24)
    later = [trickle[-1] + (t - START) + timedelta(days=1) for t in times]
    before = [100.0 * (d + 1) for d in range(8)]  # 100 a day for eight days
    f = forecast_arrivals(trickle + later, before + [800.0 + c for c in counts])
    assert f.predicted_total == pytest.approx(TOTAL + 800, rel=0.06)


def test_a_forecast_of_a_few_hundred_points_is_fast() -> None:
    curve = default_curve()
    cut = datetime(2023, 10, 1, 12, tzinfo=ARMENIA)
    times = [t for t in curve.times if t <= cut]
    counts = list(curve.cumulative[: len(times)])
    assert len(times) > 150
    began = time.perf_counter()
    f = forecast_arrivals(times, counts)
    assert time.perf_counter() - began < 3.0  # about half a second on a quiet machine
    assert f.identifiable
    low, high = f.interval_80
    assert high is not None
    assert low <= 100_000 <= high


# --- the band and the backlog -----------------------------------------------------------------


def test_the_band_starts_at_the_last_report_and_rises() -> None:
    times, counts = logistic_reports(0.8)
    f = forecast_arrivals(times, counts)
    band = forecast_band(f, points=20)
    assert len(band) == 20
    assert band[0].when == times[-1]
    assert band[0].median == band[0].low_80 == band[0].high_80 == counts[-1]
    for point in band:
        assert point.low_80 <= point.median <= point.high_80
    medians = [p.median for p in band]
    assert medians == sorted(medians)
    assert medians[-1] == pytest.approx(f.predicted_total, rel=0.05)
    earlier = forecast_band(f, [times[0], times[-1] - timedelta(hours=1)])
    assert [p.median for p in earlier] == [counts[-1], counts[-1]]


def test_the_backlog_clears_later_at_a_slower_desk() -> None:
    times, counts = logistic_reports(0.9)
    f = forecast_arrivals(times, counts)
    registered = counts[-1] - 3000
    fast = backlog_clears(f, registered=registered, throughput_per_hour=600)
    slow = backlog_clears(f, registered=registered, throughput_per_hour=150)
    assert fast is not None
    assert slow is not None
    # 3,000 waiting and more arriving: more than 5 hours at 600 an hour.
    assert f.as_of + timedelta(hours=5) < fast < slow
    pessimistic = backlog_clears(f, registered=registered, throughput_per_hour=600, quantile=0.9)
    assert pessimistic is not None
    assert pessimistic >= fast


def test_the_backlog_that_never_clears_and_the_one_already_cleared() -> None:
    times, counts = logistic_reports(0.5)
    f = forecast_arrivals(times, counts)
    never = backlog_clears(f, registered=0, throughput_per_hour=1, horizon=timedelta(days=10))
    assert never is None
    assert backlog_clears(f, registered=counts[-1], throughput_per_hour=10) == f.as_of
    with pytest.raises(ForecastError, match="negative"):
        backlog_clears(f, registered=-1, throughput_per_hour=10)


# --- what the forecast refuses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "counts", "message"),
    [
        ([START, START + timedelta(hours=1)], [1.0, 2.0], "at least three"),
        ([START, START, START + timedelta(hours=2)], [1.0, 2.0, 3.0], "rise"),
        (
            [START + timedelta(hours=h) for h in range(3)],
            [1.0, -2.0, 3.0],
            "non-negative",
        ),
        ([START + timedelta(hours=h) for h in range(3)], [1.0, math.nan, 3.0], "non-negative"),
        ([START + timedelta(hours=h) for h in range(3)], [5.0, 2.0, 3.0], "fall"),
        (
            [datetime(2023, 9, 24, h) for h in range(3)],  # noqa: DTZ001 - the point of the case
            [1.0, 2.0, 3.0],
            "time zone",
        ),
    ],
)
def test_bad_reports_are_refused_by_name(
    times: list[datetime], counts: list[float], message: str
) -> None:
    with pytest.raises(ForecastError, match=message):
        forecast_arrivals(times, counts)


def test_a_bad_prior_is_refused() -> None:
    times, counts = logistic_reports(0.5)
    with pytest.raises(ForecastError, match="prior total"):
        forecast_arrivals(times, counts, prior_total=0)
    with pytest.raises(ForecastError, match="standard deviation"):
        forecast_arrivals(times, counts, prior_total=1000, prior_sd=0)


# --- reading a curve for the forecast ---------------------------------------------------------


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "curve.csv"
    path.write_text("datetime_local,cumulative_arrivals\n" + body, encoding="utf-8")
    return path


def test_a_date_without_a_time_is_known_only_at_the_end_of_its_day(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "2023-09-23,0\n2023-09-24,100\n2023-09-25,1500\n2023-09-26,9000\n2023-09-27,26000\n",
    )
    reports = read_reports(path, zone=ARMENIA)
    assert all(r.date_only for r in reports)
    assert reports[2].when == datetime(2023, 9, 25, 12, tzinfo=ARMENIA)
    assert reports[2].known_from == datetime(2023, 9, 26, tzinfo=ARMENIA)

    # At 20:00 on the 26th, that day's figure may not have been published yet.
    inside = reports_as_of(reports, datetime(2023, 9, 26, 20, tzinfo=ARMENIA), zone=ARMENIA)
    assert list(inside.counts) == [0.0, 100.0, 1500.0]
    assert len(inside.warnings) == 1
    assert "line 5 (2023-09-26)" in inside.warnings[0]
    assert "not used" in inside.warnings[0]

    # "As of 26 September" (a date) is the end of that day: its figure counts.
    end = parse_as_of("2023-09-26", zone=ARMENIA)
    assert end == datetime(2023, 9, 27, tzinfo=ARMENIA)
    whole = reports_as_of(reports, end, zone=ARMENIA)
    assert list(whole.counts) == [0.0, 100.0, 1500.0, 9000.0]
    assert whole.warnings == ()
    assert whole.times[-1] == datetime(2023, 9, 26, 12, tzinfo=ARMENIA)


def test_a_date_only_row_between_timed_rows_of_its_day_lies_between_them() -> None:
    rows = [
        CurveRow(2, datetime(2023, 9, 25, 8, tzinfo=ARMENIA), False, 100.0),
        CurveRow(3, datetime(2023, 9, 25, tzinfo=ARMENIA), True, 200.0),
        CurveRow(4, datetime(2023, 9, 25, 20, tzinfo=ARMENIA), False, 300.0),
    ]
    reports = place_reports(rows, ARMENIA)
    assert reports[1].when == datetime(2023, 9, 25, 14, tzinfo=ARMENIA)
    assert reports[1].known_from == datetime(2023, 9, 25, 20, tzinfo=ARMENIA)


def test_a_downward_revision_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "2023-09-24T20:00,200\n"
        "2023-09-25T08:00,1000\n"
        "2023-09-25T20:00,5200\n"  # overstated: the next report is lower
        "2023-09-26T08:00,5000\n"
        "2023-09-26T20:00,9000\n",
    )
    reports = read_reports(path, zone=ARMENIA)
    known = reports_as_of(reports, datetime(2023, 9, 27, tzinfo=ARMENIA), zone=ARMENIA)
    assert list(known.counts) == [200.0, 1000.0, 5000.0, 5000.0, 9000.0]
    assert len(known.warnings) == 1
    assert "line 4 (2023-09-25T20:00+04:00)" in known.warnings[0]
    assert "5,200" in known.warnings[0]
    assert "revised to 5,000" in known.warnings[0]
    # As of before the lower figure was published, the higher one stood.
    before = reports_as_of(reports, datetime(2023, 9, 25, 21, tzinfo=ARMENIA), zone=ARMENIA)
    assert list(before.counts) == [200.0, 1000.0, 5200.0]
    assert before.warnings == ()
    f = forecast_arrivals(known.times, known.counts, warnings=known.warnings)
    assert f.warnings[: len(known.warnings)] == known.warnings


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("when,count\n2023-09-25T10:00,0\n", "header"),
        ("datetime_local\n2023-09-25T10:00\n", "header"),
        ("datetime_local,cumulative_arrivals\n2023-09-25T10:00,0\nsoon,5\n", "line 3"),
        ("datetime_local,cumulative_arrivals\n2023-09-25T10:00,ten\n", "line 2.*not a number"),
        ("datetime_local,cumulative_arrivals\n2023-09-25T10:00,-4\n", "line 2.*negative"),
        ("datetime_local,cumulative_arrivals\n2023-09-25T10:00,nan\n", "line 2.*not a number"),
        ("datetime_local,cumulative_arrivals\n2023-09-25T10:00,\n", "line 2.*not a number"),
        (
            "datetime_local,cumulative_arrivals\n2023-09-25T10:00,1\n2023-09-25T09:00,2\n",
            "line 3.*not after",
        ),
        (
            "datetime_local,cumulative_arrivals\n2023-09-25,1\n2023-09-25,2\n",
            "line 3.*not after",
        ),
        (
            "datetime_local,cumulative_arrivals\n2023-09-26T01:00,1\n2023-09-25,2\n",
            "line 3.*not after",
        ),
        ("datetime_local,cumulative_arrivals\n", "no reports"),
    ],
)
def test_a_bad_curve_file_is_refused_by_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "curve.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(CurveError, match=message):
        read_reports(path, zone=ARMENIA)


def test_too_few_reports_and_an_as_of_before_the_first_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "2023-09-25T08:00,1000\n2023-09-25T20:00,5200\n2023-09-26T08:00,8000\n")
    reports: list[Report] = read_reports(path, zone=ARMENIA)
    with pytest.raises(CurveError, match=r"before the first report \(line 2"):
        reports_as_of(reports, datetime(2023, 9, 25, 7, tzinfo=ARMENIA), zone=ARMENIA)
    with pytest.raises(CurveError, match=r"only 2 report.*at least three"):
        reports_as_of(reports, datetime(2023, 9, 25, 21, tzinfo=ARMENIA), zone=ARMENIA)
    with pytest.raises(CurveError, match="ISO 8601"):
        parse_as_of("yesterday", zone=ARMENIA)
    assert parse_as_of("2023-09-26T08:00", zone=ARMENIA) == datetime(2023, 9, 26, 8, tzinfo=ARMENIA)
    assert parse_as_of("2023-09-26T08:00+00:00", zone=ARMENIA).utcoffset() == timedelta(0)
