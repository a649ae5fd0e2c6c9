"""`haven forecast --curve FILE.csv --as-of ISO8601 [--prior-total N]`: the arrivals forecast.

    haven forecast --curve crossings.csv --as-of 2023-09-26T08:00 --prior-total 120000
    haven forecast --curve crossings.csv --as-of 2023-09-28 --registered 41000 --desk-throughput 900

FILE has the columns `datetime_local,cumulative_arrivals` (the simulator's curve format). Times
without an offset are local to HAVEN_TIME_ZONE; a date without a time is a report whose hour is
unknown (see haven.reports.curves for what that means, and for revisions). Only the reports known
at --as-of are used. Prints the forecast as JSON (see haven.reports.forecast for the method):
predicted_total, interval_80 and interval_95 ([low, high]; high is null when the reports do not
bound the total), date_90pct and date_99pct (ISO 8601 with the offset), identifiable and a note
when not, the models' weights and warnings. With --registered and --desk-throughput, also when
the registration backlog is projected to clear; with --band, the projected curve for a chart.
Messages are in English (a command-line tool for analysts; the pages translate).
"""

import json
from argparse import ArgumentParser
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from haven.reports.curves import CurveError, parse_as_of, read_reports, reports_as_of
from haven.reports.forecast import (
    DEFAULT_PRIOR_SD,
    Forecast,
    ForecastError,
    backlog_clears,
    forecast_arrivals,
    forecast_band,
)


def _positive(value: str) -> float:
    return float(value.replace(",", "").replace("_", ""))


class Command(BaseCommand):
    help = "Forecast cumulative arrivals (final total, 90 % and 99 % dates) from a curve file."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--curve", type=Path, required=True, help="CSV: datetime_local,cumulative_arrivals"
        )
        parser.add_argument(
            "--as-of",
            dest="as_of",
            required=True,
            help="ISO 8601 moment; reports after it are not used (a date alone: its end)",
        )
        parser.add_argument(
            "--prior-total",
            dest="prior_total",
            type=_positive,
            help="a guess of the final total, e.g. the population of the area of origin",
        )
        parser.add_argument(
            "--prior-sd",
            dest="prior_sd",
            type=float,
            default=DEFAULT_PRIOR_SD,
            help=f"relative uncertainty of --prior-total (log-normal sd; {DEFAULT_PRIOR_SD})",
        )
        parser.add_argument(
            "--registered",
            type=_positive,
            help="people registered by --as-of (with --desk-throughput: when the backlog clears)",
        )
        parser.add_argument(
            "--desk-throughput",
            dest="desk_throughput",
            type=_positive,
            help="people the desks register an hour",
        )
        parser.add_argument(
            "--band", action="store_true", help="also print the projected curve (for a chart)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        zone = ZoneInfo(settings.TIME_ZONE)  # HAVEN_TIME_ZONE
        prior_total: float | None = options["prior_total"]
        prior_sd: float = options["prior_sd"]
        if prior_total is not None and not prior_total > 0:
            raise CommandError("--prior-total: must be a positive number of people")
        if not 0 < prior_sd <= 3:
            raise CommandError("--prior-sd: must be above 0 and at most 3 (0.25 is ±25 %)")
        registered, throughput = options["registered"], options["desk_throughput"]
        if (registered is None) != (throughput is None):
            raise CommandError("--registered and --desk-throughput go together")
        if registered is not None and (registered < 0 or throughput <= 0):
            raise CommandError(
                "--registered must not be negative and --desk-throughput must be positive"
            )
        try:
            as_of = parse_as_of(options["as_of"], zone=zone)
        except CurveError as exc:
            raise CommandError(f"--as-of: {exc}") from exc
        try:
            reports = read_reports(options["curve"], zone=zone)
        except CurveError as exc:
            raise CommandError(f"--curve: {exc}") from exc
        try:
            known = reports_as_of(reports, as_of, zone=zone)
        except CurveError as exc:
            raise CommandError(str(exc)) from exc
        try:
            forecast = forecast_arrivals(
                known.times,
                known.counts,
                as_of=known.as_of,
                prior_total=prior_total,
                prior_sd=prior_sd,
                warnings=known.warnings,
            )
        except ForecastError as exc:
            raise CommandError(str(exc)) from exc
        result = forecast.as_dict(zone)
        result["time_zone"] = str(zone)
        if registered is not None:
            result["backlog"] = self._backlog(forecast, registered, throughput, zone)
        if options["band"]:
            result["band"] = [
                {
                    "time": p.when.astimezone(zone).isoformat(timespec="minutes"),
                    "median": round(p.median),
                    "low_80": round(p.low_80),
                    "high_80": round(p.high_80),
                }
                for p in forecast_band(forecast, points=25)
            ]
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))

    def _backlog(
        self, forecast: Forecast, registered: float, throughput: float, zone: ZoneInfo
    ) -> dict[str, Any]:
        def clears(quantile: float) -> str | None:
            when = backlog_clears(
                forecast,
                registered=registered,
                throughput_per_hour=throughput,
                horizon=timedelta(days=60),
                quantile=quantile,
            )
            return None if when is None else when.astimezone(zone).isoformat(timespec="minutes")

        median = clears(0.5)
        return {
            "registered": round(registered),
            "waiting": max(0, round(forecast.observed - registered)),
            "desk_throughput_per_hour": throughput,
            "clears": median,
            "clears_80": [clears(0.1), clears(0.9)],
            "note": None if median else "does not clear within 60 days at this throughput",
        }
