"""The arrivals forecast, backtested on simulated influx curves it was not fitted to.

Each curve is an arrival rate of one of seven shapes: logistic (starting abruptly, as when a
border opens) and Gompertz, two of the forecast's own families; and five that none of its six
families describes: a fast rise with a power-law tail, two waves, a trickle then a surge, a
steady flow that stops, and the 2023 Nagorno-Karabakh curve stretched in time. Totals are
5,000–1,000,000 people over days to weeks. Arrivals are counted hour by hour
with day-to-day and within-day (diurnal) swings and overdispersed noise, then *reported* on a
schedule: hourly, every 6 hours, twice a day, daily at a fixed hour, daily as a date without a time
(published some time in the evening), at irregular times, or every few days; the reported figures
carry small errors, rounding and now and then an overstated figure that a later report revises
down.

For each curve the forecast is run when 10, 25, 50, 75 and 90 % of the flow had arrived (the
first report at or after that moment, as the CLI reads the file: date-only reports are known from
the end of their day), without and with a prior total (the true total × a log-normal factor,
sd 0.2; the forecast is told sd 0.25). It prints, by cut-off: the median and 90th percentile of
the absolute % error of the predicted total, how often the 80 % and 95 % intervals hold the true
total (an open upper bound holds it), the median width of the 80 % interval relative to the truth
(open: not counted), the median absolute error of the 90 % date in hours, and the share of
forecasts flagged not identifiable, and the error and 80 % coverage of the forecasts that were
flagged identifiable. Then the same by shape, and the built-in 2023 curve at several as-of
times.

    .venv/bin/python bench/bench_forecast.py            # 140 curves, about 5 minutes
    .venv/bin/python bench/bench_forecast.py --smoke    # 3 curves, about 10 s; what CI runs
"""

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from bench_registration import machine_line
from numpy.typing import NDArray

from haven.reports.curves import place_reports, reports_as_of
from haven.reports.forecast import Forecast, forecast_arrivals
from haven.simulate.curve import CurveRow, default_curve

Array = NDArray[np.float64]
ZONE = ZoneInfo("Asia/Yerevan")
CUTOFFS = (0.10, 0.25, 0.50, 0.75, 0.90)
SHAPES = (
    "logistic",
    "gompertz",
    "long tail",
    "two waves",
    "trickle, surge",
    "steady, stop",
    "2023 stretched",
)
SCHEDULES = (
    "hourly",
    "6-hourly",
    "twice daily",
    "daily",
    "daily, date only",
    "irregular",
    "sparse",
)
PRIOR_SD_TRUE = 0.2  # the spread of the prior's error
PRIOR_SD_TOLD = 0.25  # what the forecast is told

FULL = {"curves": 140}
SMOKE = {"curves": 3}


@dataclass
class Scenario:
    shape: str
    schedule: str
    total: float
    rows: list[CurveRow]
    actual: list[datetime]  # when each row was really reported
    true_at: list[float]  # the true cumulative at each report's real time
    date_90: datetime


def _density(shape: str, days: Array, rng: np.random.Generator) -> Array:
    """An arrival rate (unnormalised) on the grid of days."""

    def logistic(centre: float, rate: float) -> Array:
        x = rate * (days - centre)
        return np.asarray(rate * np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2)

    if shape == "logistic":
        return logistic(rng.uniform(2, 10), rng.uniform(0.5, 1.6))
    if shape == "gompertz":
        rate, centre = rng.uniform(0.3, 1.2), rng.uniform(2, 8)
        x = rate * (days - centre)
        return np.asarray(np.exp(-x - np.exp(-x)))
    if shape == "long tail":
        # A rise over a day or two, then a power-law decay (as aftershocks fade: Omori's law).
        peak, rise = rng.uniform(1, 4), rng.uniform(0.5, 2)
        scale, power = rng.uniform(0.5, 3), rng.uniform(1.3, 2.2)
        before = np.exp(-(((days - peak) / rise) ** 2))
        after = (1 + np.maximum(days - peak, 0) / scale) ** -power
        return np.asarray(np.where(days < peak, before, after))
    if shape == "two waves":
        first, c1 = rng.uniform(0.35, 0.7), rng.uniform(2, 5)
        return first * logistic(c1, rng.uniform(0.6, 1.5)) + (1 - first) * logistic(
            c1 + rng.uniform(4, 15), rng.uniform(0.6, 1.5)
        )
    if shape == "trickle, surge":
        quiet, share = rng.uniform(5, 15), rng.uniform(0.05, 0.15)
        surge = logistic(quiet + rng.uniform(2, 5), rng.uniform(0.6, 1.6))
        trickle = np.where(days < quiet + 3, 1.0, 0.0)
        return np.asarray(share * trickle / trickle.sum() + (1 - share) * surge / surge.sum())
    if shape == "steady, stop":
        start, length, edge = rng.uniform(0.5, 2), rng.uniform(3, 10), rng.uniform(0.2, 1.0)
        up = 1 / (1 + np.exp(-(days - start) / edge))
        return np.asarray(up / (1 + np.exp((days - start - length) / edge)))
    if shape == "2023 stretched":
        curve = default_curve()
        stretch = rng.uniform(0.6, 2.5)
        origin = curve.times[0]
        known = np.array([(t - origin) / timedelta(days=1) for t in curve.times]) * stretch
        cumulative = np.interp(days, known, np.array(curve.cumulative))
        return np.asarray(np.diff(cumulative, prepend=0.0))
    raise ValueError(shape)


def _report_hours(schedule: str, last_hour: int, rng: np.random.Generator) -> list[float]:
    """Hours (from the start) at which reports are published."""
    if schedule == "hourly":
        return [float(h) for h in range(1, last_hour)]
    if schedule == "6-hourly":
        return [float(h) for h in range(6, last_hour, 6)]
    if schedule == "twice daily":
        return [float(h) for h in range(last_hour) if h % 24 in (8, 20)]
    if schedule == "daily":
        hour = int(rng.choice([8, 12, 18, 20]))
        return [float(h) for h in range(last_hour) if h % 24 == hour]
    if schedule == "daily, date only":
        return [d * 24 + rng.uniform(16, 23.5) for d in range(last_hour // 24)]
    gap = {"irregular": rng.uniform(0.3, 1.2), "sparse": rng.uniform(2, 4)}[schedule]
    hours, h = [], rng.uniform(2, 24)
    while h < last_hour:
        hours.append(h)
        h += max(1.0, rng.exponential(gap * 24) if schedule == "irregular" else gap * 24)
    return hours


def scenario(rng: np.random.Generator, shape: str, schedule: str) -> Scenario:
    total_wanted = math.exp(rng.uniform(math.log(5_000), math.log(1_000_000)))
    hours = np.arange(0, 24 * 120)
    days = hours / 24.0
    rate = _density(shape, days, rng)
    # End the flow once 99.5 % of the shape has passed (the crisis ends; the tail is cut).
    cum_shape = np.cumsum(rate) / rate.sum()
    end = int(np.searchsorted(cum_shape, 0.995)) + 1
    rate = rate[:end] / rate[:end].sum()
    hours, days = hours[:end], days[:end]
    swing = np.exp(rng.normal(0, rng.uniform(0, 0.3), size=end // 24 + 1))[hours // 24]
    diurnal = 1 + rng.uniform(0, 0.9) * np.cos(
        2 * math.pi * (hours % 24 - rng.uniform(10, 18)) / 24
    )
    mean = total_wanted * rate * swing * diurnal
    k = rng.uniform(2, 50)
    arrivals = rng.negative_binomial(k, k / (k + mean + 1e-12)).astype(float)
    cumulative = np.concatenate([[0.0], np.cumsum(arrivals)])  # at the start of each hour
    grid = np.arange(end + 1, dtype=float)
    total = float(cumulative[-1])
    date_90_hour = float(np.interp(0.9 * total, cumulative, grid))

    start = datetime(2020, 1, 1, tzinfo=ZONE) + timedelta(days=int(rng.integers(0, 1500)))
    # Reporting begins around the start of the flow: sometimes before any arrival, sometimes
    # when a few per cent have already come.
    first_hour = float(np.interp(rng.uniform(0, 0.03) * total, cumulative, grid))
    report_hours = [h for h in _report_hours(schedule, end + 48, rng) if h >= first_hour - 12]
    error = rng.choice([0.0, 0.003, 0.01])
    rounding = 10 ** max(0, int(math.log10(total)) - 3)
    rows: list[CurveRow] = []
    actual: list[datetime] = []
    true_at: list[float] = []
    for line, h in enumerate(report_hours, start=2):
        true = float(np.interp(h, grid, cumulative))
        figure = true * (1 + rng.normal(0, error)) if error else true
        if rng.random() < 0.02:
            figure *= 1 + rng.uniform(0.03, 0.10)  # overstated; later reports revise it
        figure = max(0.0, round(figure / rounding) * rounding)
        when = start + timedelta(hours=h)
        if schedule == "daily, date only":
            local = when.astimezone(ZONE).date()
            rows.append(
                CurveRow(
                    line, datetime(local.year, local.month, local.day, tzinfo=ZONE), True, figure
                )
            )
        else:
            rows.append(CurveRow(line, when, False, figure))
        actual.append(when)
        true_at.append(true)
    return Scenario(
        shape, schedule, total, rows, actual, true_at, start + timedelta(hours=date_90_hour)
    )


@dataclass
class Outcome:
    shape: str
    cutoff: float
    prior: bool
    error: float  # |predicted − true| / true
    covered_80: bool
    covered_95: bool
    width_80: float | None  # (high − low) / true; None when open
    date_error_hours: float | None
    identifiable: bool
    seconds: float


def _covers(interval: tuple[float, float | None], truth: float) -> bool:
    low, high = interval
    return low <= truth and (high is None or truth <= high)


def backtest(curves: int, seed: int) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    outcomes: list[Outcome] = []
    for number in range(curves):
        shape = SHAPES[number % len(SHAPES)]
        schedule = SCHEDULES[(number // len(SHAPES) + number) % len(SCHEDULES)]
        case = scenario(rng, shape, schedule)
        reports = place_reports(case.rows, ZONE)
        factor = math.exp(rng.normal(0, PRIOR_SD_TRUE))
        for cutoff in CUTOFFS:
            reached = [
                r.known_from
                for r, true in zip(reports, case.true_at, strict=True)
                if true >= cutoff * case.total
            ]
            if not reached:
                continue
            try:
                known = reports_as_of(reports, reached[0], zone=ZONE)
            except ValueError:
                continue  # fewer than three reports yet: the CLI refuses, nothing to score
            for prior in (False, True):
                began = time.perf_counter()
                forecast = forecast_arrivals(
                    known.times,
                    known.counts,
                    as_of=known.as_of,
                    prior_total=case.total * factor if prior else None,
                    prior_sd=PRIOR_SD_TOLD,
                    warnings=known.warnings,
                )
                seconds = time.perf_counter() - began
                outcomes.append(_outcome(case, cutoff, prior, forecast, seconds))
    return outcomes


def _outcome(
    case: Scenario, cutoff: float, prior: bool, forecast: Forecast, seconds: float
) -> Outcome:
    low, high = forecast.interval_80
    return Outcome(
        shape=case.shape,
        cutoff=cutoff,
        prior=prior,
        error=abs(forecast.predicted_total - case.total) / case.total,
        covered_80=_covers(forecast.interval_80, case.total),
        covered_95=_covers(forecast.interval_95, case.total),
        width_80=None if high is None else (high - low) / case.total,
        date_error_hours=None
        if forecast.date_90pct is None
        else abs((forecast.date_90pct - case.date_90) / timedelta(hours=1)),
        identifiable=forecast.identifiable,
        seconds=seconds,
    )


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def summary_rows(
    outcomes: list[Outcome], key: Callable[[Outcome], tuple[str, ...]]
) -> list[list[str]]:
    groups: dict[tuple[str, ...], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(key(o), []).append(o)
    rows = []
    for name, group in groups.items():
        errors = [100 * o.error for o in group]
        widths = [100 * o.width_80 for o in group if o.width_80 is not None]
        dates = [o.date_error_hours for o in group if o.date_error_hours is not None]
        sure = [o for o in group if o.identifiable]
        rows.append(
            [
                *name,
                str(len(group)),
                f"{_pct(errors, 50):.1f}",
                f"{_pct(errors, 90):.1f}",
                f"{100 * statistics.mean(o.covered_80 for o in group):.0f}",
                f"{100 * statistics.mean(o.covered_95 for o in group):.0f}",
                f"{_pct(widths, 50):.0f}" if widths else "-",
                f"{_pct(dates, 50):.0f}" if dates else "-",
                f"{100 * statistics.mean(not o.identifiable for o in group):.0f}",
                f"{_pct([100 * o.error for o in sure], 50):.1f}" if sure else "-",
                f"{100 * statistics.mean(o.covered_80 for o in sure):.0f}" if sure else "-",
                f"{1000 * _pct([o.seconds for o in group], 50):.0f}",
            ]
        )
    return rows


STATS = [
    "n",
    "med |err| %",
    "p90 |err| %",
    "cov80 %",
    "cov95 %",
    "med width80 %",
    "med date90 err h",
    "not ident. %",
    "ident.: med |err| %",
    "ident.: cov80 %",
    "med ms",
]


def builtin_rows() -> list[list[str]]:
    curve = default_curve()
    total = curve.cumulative[-1]
    times = list(curve.times)
    counts = list(curve.cumulative)
    hours = np.array([(t - times[0]) / timedelta(hours=1) for t in times])
    true_90 = times[0] + timedelta(hours=float(np.interp(0.9 * total, counts, hours)))
    rows = []
    for text in (
        "2023-09-25T20:00",
        "2023-09-26T08:00",
        "2023-09-27T08:00",
        "2023-09-28T08:00",
        "2023-09-29T08:00",
        "2023-09-30T08:00",
        "2023-10-01T12:00",
    ):
        as_of = datetime.fromisoformat(text).replace(tzinfo=ZONE)
        upto = [i for i, t in enumerate(times) if t <= as_of]
        for prior in (None, 120_000.0):
            f = forecast_arrivals(
                [times[i] for i in upto],
                [counts[i] for i in upto],
                as_of=as_of,
                prior_total=prior,
            )
            low, high = f.interval_80
            date_90 = f.date_90pct
            rows.append(
                [
                    text,
                    "-" if prior is None else f"{prior:,.0f}",
                    f"{f.observed:,.0f}",
                    f"{f.predicted_total:,.0f}",
                    f"{low:,.0f}–{'open' if high is None else f'{high:,.0f}'}",
                    f"{100 * (f.predicted_total - total) / total:+.1f}",
                    "-" if date_90 is None else date_90.astimezone(ZONE).strftime("%d %b %H:%M"),
                    "-" if date_90 is None else f"{(date_90 - true_90) / timedelta(hours=1):+.0f}",
                    "yes" if f.identifiable else "no",
                ]
            )
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a small run that takes seconds")
    parser.add_argument("--curves", type=int, help="simulated curves (140; smoke 3)")
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args(argv)
    if args.curves is None:
        args.curves = (SMOKE if args.smoke else FULL)["curves"]
    if args.curves < 1:
        parser.error("--curves must be positive")

    load_before = os.getloadavg()
    began = time.perf_counter()
    outcomes = backtest(args.curves, args.seed)
    by_cutoff = summary_rows(
        sorted(outcomes, key=lambda o: (o.prior, o.cutoff)),
        lambda o: ("yes" if o.prior else "no", f"{o.cutoff:.0%}"),
    )
    print(f"Backtest: {args.curves} simulated curves, seed {args.seed}")
    print(table(["prior", "seen", *STATS], by_cutoff))
    print()
    print("By shape (no prior; all cut-offs together)")
    by_shape = summary_rows(
        sorted((o for o in outcomes if not o.prior), key=lambda o: SHAPES.index(o.shape)),
        lambda o: (o.shape,),
    )
    print(table(["shape", *STATS], by_shape))
    print()
    print(
        "The built-in 2023 curve (100,000 in all; 90 % had arrived at"
        " 30 Sep ~10:00), as of several times"
    )
    print(
        table(
            [
                "as of",
                "prior",
                "arrived",
                "predicted",
                "80 % interval",
                "err %",
                "90 % date",
                "date err h",
                "identifiable",
            ],
            builtin_rows(),
        )
    )
    total = time.perf_counter() - began
    print()
    print(machine_line(load_before, total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
