"""The situation report: what the government, agencies and the press read every few hours.

One moment (`as_of`) and the report before it: the headline sentence as a journalist would quote
it, the key figures with their "as of" time and the change since the previous report, the
arrivals forecast from the crossing counts, when the registration backlog clears at the desks'
observed pace, and the charts. Every figure comes from `haven.reports.figures`, so a report for a
past moment is reproduced exactly; the dashboard, the report page and `haven sitrep` all build
their pages from `build_report`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Min
from django.template.loader import render_to_string
from django.utils import formats
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from haven.registry.models import CrossingCount, Household
from haven.registry.reference import specific_needs_codes
from haven.reports import charts
from haven.reports.figures import (
    Situation,
    Timeline,
    cached,
    data_version,
    remember,
    situation_at,
    timeline,
)
from haven.reports.forecast import (
    BandPoint,
    Forecast,
    ForecastError,
    backlog_clears,
    forecast_arrivals,
    forecast_band,
)

# The report before this one, unless the caller names it: reports went out about twice a day.
PREVIOUS_REPORT = timedelta(hours=12)
# The desks' pace is what they registered over this last stretch.
THROUGHPUT_WINDOW = timedelta(hours=12)
# The timeline's step: hourly while a flow is days long, coarser for a long one (charts and the
# forecast need a few hundred points, not tens of thousands).
MAX_STEPS = 400


@dataclass(frozen=True)
class Change:
    key: str
    label: str
    now: int
    before: int

    @property
    def delta(self) -> int:
        return self.now - self.before

    @property
    def now_text(self) -> str:
        return _number(self.now)

    @property
    def delta_text(self) -> str:
        sign = "+" if self.delta > 0 else "−" if self.delta < 0 else "±"
        return f"{sign}{_number(abs(self.delta))}"


@dataclass(frozen=True)
class Report:
    as_of: datetime  # local
    previous_as_of: datetime
    situation: Situation
    previous: Situation
    timeline: Timeline
    forecast: Forecast | None
    forecast_problem: str | None  # why there is no forecast, in words
    band: tuple[BandPoint, ...]
    throughput_per_hour: float  # unique people registered an hour, over THROUGHPUT_WINDOW
    backlog_clears: datetime | None
    headline: str
    changes: tuple[Change, ...]

    @property
    def as_of_text(self) -> str:
        return when_text(self.as_of)

    @property
    def previous_text(self) -> str:
        return when_text(self.previous_as_of)

    @property
    def backlog_clears_text(self) -> str | None:
        return None if self.backlog_clears is None else when_text(self.backlog_clears)

    @property
    def forecast_lines(self) -> list[tuple[str, str]]:
        """The forecast in words, one (label, value) per line."""
        result = self.forecast
        if result is None:
            return []
        low, high = result.interval_80
        lines = [
            (_("Expected total arrivals"), _number(round(result.predicted_total))),
            (
                _("%(share)s range") % {"share": "80 %"},
                _("%(low)s to %(high)s")
                % {"low": _number(round(low)), "high": _number(round(high))}
                if high is not None
                else _("at least %(low)s") % {"low": _number(round(low))},
            ),
            (_("Arrived so far"), f"{result.share_arrived:.0%}"),
        ]
        for label, moment in (
            (_("%(share)s arrived by") % {"share": "90 %"}, result.date_90pct),
            (_("%(share)s arrived by") % {"share": "99 %"}, result.date_99pct),
        ):
            lines.append((label, when_text(moment) if moment else _("not yet known")))
        return lines

    @property
    def forecast_caveat(self) -> str | None:
        """What the forecast cannot yet say, in words (None when the reports bound the total)."""
        result = self.forecast
        if result is None or result.identifiable:
            return None
        return _(
            "The reports do not yet bound the final total. At least %(low)s will arrive,"
            " possibly far more; the expected total and dates are a middle estimate, not a"
            " reliable figure. An expected total (HAVEN_EXPECTED_ARRIVALS, such as the"
            " population of the area of origin) would bound them."
        ) % {"low": _number(round(result.interval_80[0]))}

    @property
    def housed_text(self) -> str:
        value = self.situation.housed
        return _("not recorded yet") if value is None else _number(value)

    @property
    def paid_text(self) -> str:
        value = self.situation.paid
        return _("not recorded yet") if value is None else _number(value)

    @property
    def daily(self) -> list[tuple[str, str, str, str]]:
        """Per day and site: (day, site, people crossed, people registered), oldest first."""
        crossed = {(b.start, b.site): b.count for b in self.situation.arrivals_daily}
        registered = {(b.start, b.site): b.count for b in self.situation.registrations_daily}
        rows = []
        for start, site in sorted(set(crossed) | set(registered)):
            rows.append(
                (
                    formats.date_format(local(start), "j E Y"),
                    site,
                    _number(crossed.get((start, site), 0)),
                    _number(registered.get((start, site), 0)),
                )
            )
        return rows

    def as_dict(self) -> dict[str, Any]:
        zone = self.as_of.tzinfo or ZoneInfo(settings.TIME_ZONE)

        def when(value: datetime | None) -> str | None:
            return None if value is None else value.astimezone(zone).isoformat()

        return {
            "as_of": when(self.as_of),
            "previous_as_of": when(self.previous_as_of),
            "headline": self.headline,
            "figures": self.situation.as_dict(),
            "changes": {
                c.key: {"now": c.now, "before": c.before, "change": c.delta} for c in self.changes
            },
            "forecast": None if self.forecast is None else self.forecast.as_dict(zone),
            "forecast_problem": self.forecast_problem,
            "registration": {
                "throughput_per_hour": round(self.throughput_per_hour, 1),
                "backlog_clears": when(self.backlog_clears),
            },
            "timeline": self.timeline.as_dict(),
        }


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local(moment: datetime) -> datetime:
    return moment.astimezone(zone())


def _first_activity() -> datetime | None:
    crossed = CrossingCount.objects.aggregate(first=Min("period_start"))["first"]
    registered = Household.objects.aggregate(first=Min("registered_at"))["first"]
    moments = [m for m in (crossed, registered) if m is not None]
    return min(moments) if moments else None


def _timeline(as_of: datetime) -> Timeline:
    first = _first_activity()
    if first is None or first >= as_of:
        return timeline(as_of - timedelta(hours=1), as_of, timedelta(hours=1))
    start = first.replace(minute=0, second=0, microsecond=0)
    hours = max(1, int((as_of - start) / timedelta(hours=1) / MAX_STEPS) + 1)
    step = timedelta(hours=hours)
    count = int((as_of - start) / step)
    # The last step ends exactly at as_of, so the curve's last point is the headline figure.
    return timeline(as_of - step * count, as_of, step)


def _forecast(line: Timeline, as_of: datetime) -> tuple[Forecast | None, str | None]:
    """The arrivals forecast from the crossing counts up to as_of (from their first rise)."""
    points = [(t, c) for t, c in zip(line.moments, line.crossings, strict=True) if t <= as_of]
    # Nothing crossed yet carries no information on the flow: start one step before the first.
    first = next((i for i, (_, c) in enumerate(points) if c > 0), None)
    if first is None:
        return None, _("No crossings have been counted yet.")
    points = points[max(first - 1, 0) :]
    # The forecaster wants strictly rising times; repeated figures are fine.
    try:
        result = forecast_arrivals(
            [t for t, _ in points],
            [float(c) for _, c in points],
            as_of=as_of,
            prior_total=settings.HAVEN_EXPECTED_ARRIVALS,
        )
    except ForecastError as exc:
        return None, str(exc)
    return result, None


def _throughput(line: Timeline, as_of: datetime) -> float:
    since = as_of - THROUGHPUT_WINDOW
    before = [u for t, u in zip(line.moments, line.unique_people, strict=True) if t <= since]
    start = before[-1] if before else 0
    end = line.unique_people[-1] if line.unique_people else 0
    return max(end - start, 0) / (THROUGHPUT_WINDOW / timedelta(hours=1))


def _number(value: int) -> str:
    return formats.number_format(value, force_grouping=True)


def when_text(moment: datetime) -> str:
    """ "08:00 on 26 September 2023", in the active language, local time."""
    moment = local(moment)
    return _("%(time)s on %(date)s") % {
        "time": formats.time_format(moment, "H:i"),
        "date": formats.date_format(moment, "j E Y"),
    }


def headline(situation: Situation) -> str:
    """The sentence a journalist would quote."""
    figures = {
        "when": when_text(situation.as_of),
        "crossed": _number(situation.crossings),
        "registered": _number(situation.unique_people),
        "backlog": _number(situation.backlog),
    }
    if situation.crossings == 0 and situation.unique_people == 0:
        return _("By %(when)s no arrivals had been counted or registered.") % figures
    if situation.backlog > 0:
        return (
            _(
                "By %(when)s, %(crossed)s people had crossed; %(registered)s had been registered"
                " and about %(backlog)s were still waiting to be registered."
            )
            % figures
        )
    return (
        _(
            "By %(when)s, %(crossed)s people had crossed and %(registered)s had been registered:"
            " no one who crossed was still waiting to be registered."
        )
        % figures
    )


def _changes(now: Situation, before: Situation) -> tuple[Change, ...]:
    pairs = (
        ("crossings", _("Crossed"), now.crossings, before.crossings),
        ("unique_people", _("People registered"), now.unique_people, before.unique_people),
        ("registrations", _("Registrations"), now.registrations, before.registrations),
        ("households", _("Households"), now.households, before.households),
        ("backlog", _("Waiting to be registered"), now.backlog, before.backlog),
    )
    return tuple(Change(key, label, a, b) for key, label, a, b in pairs)


def build_report(as_of: datetime, *, previous_as_of: datetime | None = None) -> Report:
    """The situation report for `as_of` (aware), with the changes since `previous_as_of`
    (default: PREVIOUS_REPORT earlier). Built once per moment, language and state of the data:
    asked again with nothing changed, it is the same report, from the figures' cache."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be an aware datetime")
    as_of = local(as_of)
    previous_as_of = local(previous_as_of or as_of - PREVIOUS_REPORT)
    if previous_as_of >= as_of:
        raise ValueError("the previous report must come before this one")
    key = (
        "report",
        as_of,
        previous_as_of,
        get_language(),
        settings.HAVEN_EXPECTED_ARRIVALS,
        data_version(),
    )
    hit = cached(key)
    if isinstance(hit, Report):
        return hit
    report = _build(as_of, previous_as_of)
    remember(key, report)
    return report


def _build(as_of: datetime, previous_as_of: datetime) -> Report:
    situation = situation_at(as_of)
    previous = situation_at(previous_as_of)
    line = _timeline(as_of)
    result, problem = _forecast(line, as_of)
    throughput = _throughput(line, as_of)
    band: tuple[BandPoint, ...] = ()
    clears = None
    if result is not None:
        # A curve drawn into the future looks like a figure: only when the reports bound it.
        if result.identifiable:
            band = tuple(forecast_band(result))
        if situation.backlog > 0 and throughput > 0:
            # Backlog in people who crossed: registered people are unique people.
            clears = backlog_clears(
                result, registered=situation.unique_people, throughput_per_hour=throughput
            )
    return Report(
        as_of=as_of,
        previous_as_of=previous_as_of,
        situation=situation,
        previous=previous,
        timeline=line,
        forecast=result,
        forecast_problem=problem,
        band=band,
        throughput_per_hour=throughput,
        backlog_clears=clears,
        headline=headline(situation),
        changes=_changes(situation, previous),
    )


@dataclass(frozen=True)
class Charts:
    cumulative: SafeString
    backlog: SafeString
    pyramid: SafeString
    needs: SafeString
    origins: SafeString
    provinces: SafeString


def report_charts(report: Report) -> Charts:
    """The report's charts as inline SVG."""
    line = report.timeline
    moments = [local(t) for t in line.moments]
    series = {
        _("Crossed"): list(zip(moments, map(float, line.crossings), strict=True)),
        _("People registered"): list(zip(moments, map(float, line.unique_people), strict=True)),
    }
    band = [(local(p.when), p.low_80, p.high_80) for p in report.band]
    median = [(local(p.when), p.median) for p in report.band]
    situation = report.situation
    origins = [(p.name, p.persons) for p in situation.origins]
    if situation.origins_other:
        origins.append((_("other places"), situation.origins_other))
    return Charts(
        cumulative=charts.cumulative_chart(
            series,
            title=_("People crossed and registered"),
            show_title=True,
            y_label=_("people"),
            forecast_median=median or None,
            forecast_band=band or None,
            as_of=report.as_of,
            tz=zone(),
        ),
        backlog=charts.backlog_chart(
            list(zip(moments, map(float, line.backlog), strict=True)),
            title=_("Waiting to be registered"),
            show_title=True,
            y_label=_("people"),
            as_of=report.as_of,
            clearance=report.backlog_clears,
            tz=zone(),
        ),
        pyramid=charts.pyramid_chart(
            [(row.band, row.male, row.female) for row in situation.pyramid],
            title=_("People registered by sex and age"),
            show_title=True,
        ),
        needs=charts.bar_chart(
            [(_need_label(n.code), n.persons) for n in situation.needs],
            title=_("Specific needs"),
            show_title=True,
        ),
        origins=charts.bar_chart(origins, title=_("Settlements of origin"), show_title=True),
        provinces=charts.bar_chart(
            [(p.name, p.persons) for p in situation.host_provinces],
            title=_("Registered in province"),
            show_title=True,
        ),
    )


def _need_label(code: str) -> str:
    """ "SM-CI: Chronic illness", from UNHCR's list; the code alone if it is not on it."""
    known = specific_needs_codes().get(code)
    return f"{code}: {known.label}" if known else code


def render_html(report: Report, *, standalone: bool = True) -> str:
    """The report as an HTML page (standalone: a document of its own, for a file or the PDF)."""
    return render_to_string(
        "reports/sitrep_document.html" if standalone else "reports/_sitrep.html",
        {"report": report, "charts": report_charts(report)},
    )


def render_pdf(report: Report) -> bytes:
    """The report as PDF, drawn by WeasyPrint from the standalone HTML."""
    from weasyprint import HTML  # imported here: it loads Pango, which only the PDF needs

    pdf: bytes = HTML(string=render_html(report)).write_pdf()
    return pdf
