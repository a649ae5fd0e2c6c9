"""Reading a cumulative arrivals curve for the forecast: which reports were known at a moment,
what a date without a time means, and what to do with a figure revised downwards.

The file is the simulator's curve format (`datetime_local,cumulative_arrivals`; see
haven.simulate.curve, whose row parsing this shares). The rules that differ from the simulator's:

- **A date without a time** ("2023-09-26") is a report whose hour is unknown: it was made at some
  moment of that local day. It is *known* only from the end of that day (the next midnight), so a
  forecast as of a moment inside that day does not use it (a warning says so): the figure may have
  been published after the as-of time. For fitting, it is placed at the middle of the part of its
  day that its neighbours leave open (12:00 when the neighbours are other days), which is never
  more than half a day from the truth.
- **An `--as-of` without a time** means the end of that day (its next midnight, local): "as of
  26 September" includes everything reported on the 26th.
- **A downward revision** (a report lower than an earlier one) is accepted: the later figure is
  taken as the corrected one, and earlier figures above it are lowered to it (they are taken as
  overstated). Only reports known at the as-of time take part, so a revision published later
  changes nothing in an earlier forecast. Each revision gives a warning naming its line.
- Rows must follow one another in time (a date-only row after a timed row of the same day is
  fine: it was reported later that day). Anything else — a missing column, a time that does not
  parse, a count that is negative or not a number, an `--as-of` before the first report, fewer than
  three reports — raises `CurveError` naming the problem and the line.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from haven.simulate.curve import CurveError, CurveRow, read_curve_rows

__all__ = [
    "CurveError",
    "Report",
    "Reports",
    "parse_as_of",
    "place_reports",
    "read_reports",
    "reports_as_of",
]


@dataclass(frozen=True)
class Report:
    line: int
    when: datetime  # the time used for fitting
    known_from: datetime  # the earliest as-of time at which the figure was surely public
    date_only: bool
    count: float
    earliest: datetime  # the earliest time it can have been made (its time, or its day's start)

    def label(self, zone: tzinfo) -> str:
        local = self.when.astimezone(zone)
        shown = local.date().isoformat() if self.date_only else local.isoformat(timespec="minutes")
        return f"line {self.line} ({shown})"


@dataclass(frozen=True)
class Reports:
    """The reports a forecast as of `as_of` may use, ready to fit: rising times, counts never
    falling (revisions applied)."""

    as_of: datetime
    times: tuple[datetime, ...]
    counts: tuple[float, ...]
    warnings: tuple[str, ...]


def _day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def _follows(before: CurveRow, row: CurveRow, zone: tzinfo) -> bool:
    """Whether `row` can have been reported after `before` (a date alone is any time that day)."""
    if before.date_only and row.date_only:
        return row.when.date() > before.when.date()
    if before.date_only:
        return row.when > _day_bounds(before.when.date(), zone)[0]
    if row.date_only:
        return before.when < _day_bounds(row.when.date(), zone)[1]
    return row.when > before.when


def place_reports(rows: Iterable[CurveRow], zone: tzinfo) -> list[Report]:
    """Reports from parsed rows: order checked, date-only rows given a time and a known-from.

    A date-only row lies in the part of its day after the row before it and before the row after
    it; it is placed in the middle of that part, and known from its end.
    """
    rows = list(rows)
    if not rows:
        raise CurveError("the file has a header but no reports")
    reports: list[Report] = []
    for i, row in enumerate(rows):
        if i and not _follows(rows[i - 1], row, zone):
            raise CurveError(f"line {row.line}: datetime_local is not after the line before")
        if not row.date_only:
            reports.append(Report(row.line, row.when, row.when, False, row.count, row.when))
            continue
        earliest, latest = _day_bounds(row.when.date(), zone)
        if reports:
            earliest = max(earliest, reports[-1].when)
        following = rows[i + 1] if i + 1 < len(rows) else None
        if following is not None and not following.date_only:
            latest = min(latest, following.when)
        reports.append(
            Report(row.line, earliest + (latest - earliest) / 2, latest, True, row.count, earliest)
        )
    return reports


def read_reports(path: Path, *, zone: ZoneInfo) -> list[Report]:
    """The reports of a curve file; times without an offset are local to `zone`."""
    return place_reports(read_curve_rows(path, zone=zone), zone)


def parse_as_of(text: str, *, zone: tzinfo) -> datetime:
    """An ISO 8601 moment; without an offset it is local to `zone`; a date alone is the end of
    that day."""
    text = text.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CurveError(f"{text!r} is not an ISO 8601 date and time") from None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return _day_bounds(day, zone)[1]


def reports_as_of(reports: Sequence[Report], as_of: datetime, *, zone: tzinfo) -> Reports:
    """The reports known at `as_of`, with downward revisions applied (and warned about)."""
    if not reports:
        raise CurveError("the file has a header but no reports")
    first = reports[0]
    if as_of < first.when:
        raise CurveError(
            f"the as-of time {as_of.astimezone(zone).isoformat(timespec='minutes')} is before the"
            f" first report ({first.label(zone)})"
        )
    warnings: list[str] = []
    known = [r for r in reports if r.known_from <= as_of]
    withheld = [r for r in reports if r.earliest < as_of < r.known_from]
    for r in withheld:
        warnings.append(
            f"{r.label(zone)} is not used: it gives a date without a time, so it may have been"
            " reported after the as-of time"
        )
    if len(known) < 3:
        raise CurveError(
            f"only {len(known)} report(s) known at the as-of time"
            f" {as_of.astimezone(zone).isoformat(timespec='minutes')}; a forecast needs at least"
            " three"
        )
    counts = [r.count for r in known]
    # Walk back from the latest figure: anything above a later figure was overstated.
    lowest = counts[-1]
    revised: list[tuple[Report, float, float]] = []
    for i in range(len(counts) - 2, -1, -1):
        if counts[i] > lowest:
            revised.append((known[i], counts[i], lowest))
            counts[i] = lowest
        else:
            lowest = counts[i]
    for report, was, now in reversed(revised[-20:] if len(revised) > 20 else revised):
        warnings.append(
            f"{report.label(zone)}: {was:,.0f} is above a later report; taken as overstated"
            f" (revised to {now:,.0f})"
        )
    if len(revised) > 20:
        warnings.append(f"{len(revised) - 20} more earlier figures lowered the same way")
    return Reports(
        as_of=as_of,
        times=tuple(r.when for r in known),
        counts=tuple(counts),
        warnings=tuple(warnings),
    )
