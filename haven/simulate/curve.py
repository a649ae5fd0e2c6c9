"""Cumulative arrivals over time: read from a CSV, scaled to the simulated size, sampled.

The curve is a list of (aware datetime, cumulative people arrived) points, non-decreasing in both.
Between points arrivals are spread evenly, so sampling a time is inverse-CDF over a piecewise-
linear function. The built-in default is the September–October 2023 exodus from Nagorno-Karabakh:
about 100,000 people in ten days, passing through the public figure of 13,550 arrived by 08:00 on
26 September 2023 (Armenia time), with a slow first day, a peak on 27–28 September and a tail.
"""

import csv
import math
import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

DEFAULT_CURVE_FILE = Path(__file__).resolve().parent / "data" / "default_curve_2023.csv"
ARMENIA = ZoneInfo("Asia/Yerevan")

# The shape of the default curve: (local time in Armenia, people arrived). Figures other than the
# public one at 26 Sep 08:00 are a smooth reading of the daily totals announced at the time.
DEFAULT_ANCHORS: tuple[tuple[str, int], ...] = (
    ("2023-09-24 12:00", 0),
    ("2023-09-24 20:00", 150),
    ("2023-09-25 00:00", 500),
    ("2023-09-25 08:00", 1_500),
    ("2023-09-25 20:00", 6_500),
    ("2023-09-26 00:00", 9_000),
    ("2023-09-26 08:00", 13_550),
    ("2023-09-26 20:00", 23_500),
    ("2023-09-27 08:00", 33_000),
    ("2023-09-27 20:00", 45_000),
    ("2023-09-28 08:00", 55_500),
    ("2023-09-28 20:00", 67_000),
    ("2023-09-29 08:00", 75_000),
    ("2023-09-29 20:00", 83_000),
    ("2023-09-30 08:00", 88_500),
    ("2023-09-30 20:00", 92_500),
    ("2023-10-01 12:00", 96_000),
    ("2023-10-02 12:00", 98_600),
    ("2023-10-03 12:00", 99_700),
    ("2023-10-04 00:00", 100_000),
)


class CurveError(ValueError):
    """A curve file that cannot be used; the message names the line and the problem."""


@dataclass(frozen=True)
class ArrivalCurve:
    times: tuple[datetime, ...]
    cumulative: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.times) < 2:
            raise CurveError("a curve needs at least two points")
        if self.cumulative[-1] <= self.cumulative[0]:
            raise CurveError("a curve must rise: the last cumulative figure is not above the first")

    @property
    def total(self) -> float:
        return self.cumulative[-1] - self.cumulative[0]

    def scaled(self, people: int) -> "ArrivalCurve":
        """The same shape for `people` arrivals in all."""
        base = self.cumulative[0]
        factor = people / self.total
        return ArrivalCurve(self.times, tuple((c - base) * factor for c in self.cumulative))

    def at(self, when: datetime) -> float:
        """Cumulative arrivals by `when` (interpolated)."""
        if when <= self.times[0]:
            return self.cumulative[0]
        if when >= self.times[-1]:
            return self.cumulative[-1]
        i = bisect_right(self.times, when) - 1
        t0, t1 = self.times[i], self.times[i + 1]
        c0, c1 = self.cumulative[i], self.cumulative[i + 1]
        return c0 + (c1 - c0) * ((when - t0) / (t1 - t0))

    def sample(self, rng: random.Random) -> datetime:
        """One arrival time, by inverse-CDF sampling."""
        target = self.cumulative[0] + rng.random() * self.total
        i = min(bisect_right(self.cumulative, target), len(self.cumulative) - 1)
        # cumulative[i - 1] <= target < cumulative[i]; the segment has a positive rise.
        c0, c1 = self.cumulative[i - 1], self.cumulative[i]
        t0, t1 = self.times[i - 1], self.times[i]
        fraction = (target - c0) / (c1 - c0) if c1 > c0 else 0.0
        return t0 + (t1 - t0) * fraction


@dataclass(frozen=True)
class CurveRow:
    """One row of a curve file, checked on its own (not against its neighbours)."""

    line: int
    when: datetime  # aware; a date without a time is midnight (local) of that day
    date_only: bool  # the row gave a date but no time of day
    count: float


def _parse_time(text: str, zone: ZoneInfo, line: int) -> tuple[datetime, bool]:
    text = text.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CurveError(
            f"line {line}: datetime_local {text!r} is not an ISO 8601 date and time"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    # `date.fromisoformat` accepts exactly the date-only forms `datetime.fromisoformat` does.
    try:
        date.fromisoformat(text)
    except ValueError:
        return value, False
    return value, True


def _parse_count(text: str | None, line: int) -> float:
    try:
        count = float((text or "").replace(",", ""))
    except ValueError:
        count = math.nan
    if not math.isfinite(count):
        raise CurveError(f"line {line}: cumulative_arrivals {text!r} is not a number")
    if count < 0:
        raise CurveError(f"line {line}: cumulative_arrivals is negative")
    return count


def read_curve_rows(path: Path, *, zone: ZoneInfo = ARMENIA) -> Iterator[CurveRow]:
    """The rows of a CSV with columns `datetime_local,cumulative_arrivals`, each checked alone
    as it is read.

    Times without an offset are local times in `zone`. A time that does not parse, a count that
    is not a non-negative number, a missing column or a file that is not UTF-8 text raise
    `CurveError` naming the line; how rows must follow one another is the caller's rule.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CurveError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise CurveError(f"{path}: cannot be read ({exc.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    needed = {"datetime_local", "cumulative_arrivals"}
    if reader.fieldnames is None or not needed <= set(reader.fieldnames):
        raise CurveError(
            f"{path}: the header must name the columns datetime_local and cumulative_arrivals"
        )
    for row in reader:
        line = reader.line_num
        when, date_only = _parse_time(row["datetime_local"] or "", zone, line)
        yield CurveRow(line, when, date_only, _parse_count(row["cumulative_arrivals"], line))


def read_curve(path: Path, *, zone: ZoneInfo = ARMENIA) -> ArrivalCurve:
    """A curve from a CSV with columns `datetime_local,cumulative_arrivals`.

    Times without an offset are local times in `zone` (a date alone is its midnight). Rows must
    rise in time and never fall in the cumulative count; every problem is reported with its line
    number.
    """
    times: list[datetime] = []
    cumulative: list[float] = []
    for row in read_curve_rows(path, zone=zone):
        if times and row.when <= times[-1]:
            raise CurveError(f"line {row.line}: datetime_local is not after the line before")
        if cumulative and row.count < cumulative[-1]:
            raise CurveError(
                f"line {row.line}: cumulative_arrivals falls (a cumulative count cannot)"
            )
        times.append(row.when)
        cumulative.append(row.count)
    return ArrivalCurve(tuple(times), tuple(cumulative))


def default_curve_points() -> list[tuple[datetime, int]]:
    """The built-in curve, hour by hour, interpolated between the anchors (integers)."""
    anchors = [
        (datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ARMENIA), count)
        for text, count in DEFAULT_ANCHORS
    ]
    curve = ArrivalCurve(tuple(t for t, _ in anchors), tuple(float(c) for _, c in anchors))
    points = []
    when = anchors[0][0]
    while when <= anchors[-1][0]:
        points.append((when, round(curve.at(when))))
        when += timedelta(hours=1)
    return points


def write_default_curve(path: Path = DEFAULT_CURVE_FILE) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["datetime_local", "cumulative_arrivals"])
        for when, count in default_curve_points():
            writer.writerow([when.strftime("%Y-%m-%dT%H:%M"), count])


def default_curve() -> ArrivalCurve:
    """The 2023 curve, read from the CSV shipped with Haven (a copy anyone can reuse)."""
    return read_curve(DEFAULT_CURVE_FILE)
