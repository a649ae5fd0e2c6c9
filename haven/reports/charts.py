"""Charts for the dashboard and the situation report, drawn on the server as inline SVG.

The same string goes into the page, the printable situation report (WeasyPrint) and a file, so
each chart is self-contained: no script, no external font or image, every style a presentation
attribute (which a page's CSS may still override). Series differ by dash pattern and weight as
well as colour, so a black-and-white print stays readable. Every chart carries a `<title>` and a
`<desc>` that states its figures in words, for screen readers and for anyone who cannot see it.

The functions take plain data (aware datetimes, numbers, labels the caller has translated) and
return a `SafeString`: all text inside is escaped here, so a template may insert it as it is.
Bad input (a naive datetime, a negative or non-numeric count, a band whose low is above its high)
raises ValueError naming the problem; no data at all draws a "no data yet" chart.
"""

import hashlib
import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, tzinfo

from django.utils import dateformat
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

__all__ = ["backlog_chart", "bar_chart", "cumulative_chart", "nice_ticks", "pyramid_chart"]

WIDTH = 640  # the viewBox width; the chart scales to its container (width="100%")
FONT = 12
SMALL = 11
INK = "#222"
AXIS = "#666"
GRID = "#e3e3e3"
BAND = "#d9d9d9"
# Okabe–Ito colours (safe for colour-blind readers), each with its own dash and weight so the
# lines stay apart in greyscale: (colour, stroke width, dash pattern or "").
LINE_STYLES = (
    ("#0b4f8a", 2.5, ""),
    ("#d55e00", 2.0, "8 4"),
    ("#009e73", 2.0, "2 3"),
    ("#cc79a7", 2.0, "10 3 2 3"),
    ("#6b4c00", 1.5, "4 2"),
)
MEDIAN_STYLE = ("#444", 1.5, "5 3")
MALE_FILL = "#3b6ea5"
FEMALE_FILL = "#e7b46a"
BAR_FILL = "#3b6ea5"
AREA_FILL = "#f1c48e"
AREA_LINE = "#a0522d"

_ID = "\x00"  # stands for the chart's id until the body is known; escaped text never holds it
# Characters XML 1.0 forbids (and DEL): a label holding one would break the whole page.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

Point = tuple[datetime, float]


# --- text -------------------------------------------------------------------------------------


def _esc(text: str) -> str:
    """Text for an SVG element or attribute: escaped, without the control characters XML forbids."""
    return html.escape(_CONTROL.sub("", text), quote=True)


_NARROW = frozenset(" .,:;'’|!iIljtf()[]-")
_WIDE = frozenset("MWmw—%@")


def _text_width(text: str, size: float) -> float:
    """A generous estimate of how wide text is drawn in a sans-serif face (no font metrics here).

    Calibrated on DejaVu Sans, the usual sans-serif on servers, which draws Armenian wide."""
    em = 0.0
    for char in text:
        code = ord(char)
        if char in _NARROW:
            em += 0.32
        elif char.isdigit():
            em += 0.6
        elif char in _WIDE:
            em += 1.0
        elif 0x0531 <= code <= 0x058F:  # Armenian
            em += 0.8 if char.isupper() else 0.74
        elif code >= 0x2E80:  # CJK and other full-width scripts
            em += 1.0
        else:
            em += 0.74 if char.isupper() else 0.6
    return em * size


def _fit(text: str, max_width: float, size: float) -> str:
    """The text, cut with an ellipsis where it would run wider than max_width."""
    if _text_width(text, size) <= max_width:
        return text
    room = max_width - _text_width("…", size)
    kept = ""
    for char in text:
        if _text_width(kept + char, size) > room:
            break
        kept += char
    return kept.rstrip() + "…"


def _count_text(value: float) -> str:
    """A count with the language's thousands separator (all three languages group by 3)."""
    separator = str(get_format("THOUSAND_SEPARATOR"))
    return f"{round(value):,}".replace(",", separator)


def _when(moment: datetime, tz: tzinfo, fmt: str = "j M H:i") -> str:
    return dateformat.format(moment.astimezone(tz), fmt)


def _n(value: float) -> str:
    """A coordinate: one decimal is finer than any screen or printer needs."""
    return f"{value:.1f}"


# --- checking input ---------------------------------------------------------------------------


def _moment(value: object, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{what}: expected a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what}: naive datetime {value.isoformat()}; charts need aware datetimes")
    return value


def _zone(moment: datetime) -> tzinfo:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}; charts need aware datetimes")
    return moment.tzinfo


def _amount(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what}: {value!r} is not a finite number")
    if value < 0:
        raise ValueError(f"{what}: {value!r} is negative; counts cannot be")
    return float(value)


def _cell(value: object, what: str) -> float | None:
    """A count that may be suppressed (None)."""
    return None if value is None else _amount(value, what)


def _points(points: Iterable[tuple[datetime, float]], what: str) -> list[Point]:
    checked = []
    for i, pair in enumerate(points):
        try:
            moment, value = pair
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}]: expected (datetime, number), got {pair!r}") from None
        checked.append((_moment(moment, f"{what}[{i}]"), _amount(value, f"{what}[{i}]")))
    checked.sort(key=lambda p: p[0])
    return checked


# --- scales and ticks -------------------------------------------------------------------------


def nice_ticks(top: float, *, count: int = 5) -> list[float]:
    """Ticks from 0 up to at least top, at a 1-2-5 step of at least 1 (these are counts of people).

    >>> nice_ticks(13_550)
    [0.0, 5000.0, 10000.0, 15000.0]
    """
    if not math.isfinite(top) or top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    step = max(step, 1.0)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


class _Linear:
    """Maps a domain interval onto a range of SVG coordinates."""

    def __init__(self, d0: float, d1: float, r0: float, r1: float) -> None:
        self.d0, self.r0 = d0, r0
        self.k = (r1 - r0) / (d1 - d0) if d1 != d0 else 0.0

    def __call__(self, value: float) -> float:
        return self.r0 + (value - self.d0) * self.k


_HOUR_STEPS = (1, 2, 3, 6, 12)
_DAY_STEPS = (1, 2, 3, 7, 14, 28, 56, 91, 182, 364)


def _time_ticks(
    start: datetime, end: datetime, tz: tzinfo, width: float
) -> list[tuple[datetime, str, str]]:
    """Ticks on local hours or local midnights: (moment, label, date line under it or "")."""
    hours = (end - start).total_seconds() / 3600
    local = start.astimezone(tz)
    for step in _HOUR_STEPS if hours <= 48 else ():  # beyond two days, whole days read better
        if hours / step <= width / 48:
            moment = local.replace(minute=0, second=0, microsecond=0)
            while moment < local or moment.hour % step:
                moment += timedelta(hours=1)
            ticks: list[tuple[datetime, str, str]] = []
            last_day: date | None = None
            while moment <= end:
                day = moment.date()
                date_line = _when(moment, tz, "j M") if day != last_day else ""
                ticks.append((moment, _when(moment, tz, "H:i"), date_line))
                last_day = day
                moment += timedelta(hours=step)
            return ticks
    first: date = local.date()
    if local.time() != time(0):
        first += timedelta(days=1)
    days = next((s for s in _DAY_STEPS if hours / 24 / s <= width / 60), _DAY_STEPS[-1])
    ticks = []
    day = first
    while (moment := datetime.combine(day, time(0), tzinfo=tz)) <= end:
        ticks.append((moment, _when(moment, tz, "j M"), ""))
        day += timedelta(days=days)
    return ticks


def _thin(xy: list[tuple[float, float]], columns: float) -> list[tuple[float, float]]:
    """At most four points per pixel column (first, lowest, highest, last): the same picture."""
    if len(xy) <= 2 * columns:
        return xy
    kept: list[tuple[float, float]] = []
    column: list[tuple[float, float]] = []
    for point in xy:
        if column and int(point[0]) != int(column[0][0]):
            kept.extend(_column_extremes(column))
            column = []
        column.append(point)
    kept.extend(_column_extremes(column))
    return kept


def _column_extremes(column: list[tuple[float, float]]) -> list[tuple[float, float]]:
    low = min(column, key=lambda p: p[1])
    high = max(column, key=lambda p: p[1])
    chosen = {id(column[0]): column[0], id(low): low, id(high): high, id(column[-1]): column[-1]}
    return sorted(chosen.values(), key=column.index)


# --- drawing ----------------------------------------------------------------------------------


def _attributes(attrs: Mapping[str, str | float]) -> str:
    """Keyword arguments as SVG attributes: font_size= is font-size, class_= is class."""
    return "".join(f' {k.rstrip("_").replace("_", "-")}="{v}"' for k, v in attrs.items())


class _Svg:
    """Collects the elements of one chart and closes it with its title, description and id."""

    def __init__(self, height: float) -> None:
        self.height = height
        self.parts: list[str] = []
        self.hatch = False

    def add(self, element: str) -> None:
        self.parts.append(element)

    def text(self, x: float, y: float, text: str, **attrs: str | float) -> None:
        extra = _attributes(attrs)
        self.parts.append(f'<text x="{_n(x)}" y="{_n(y)}"{extra}>{_esc(text)}</text>')

    def line(
        self, x1: float, y1: float, x2: float, y2: float, stroke: str, **attrs: str | float
    ) -> None:
        extra = _attributes(attrs)
        ends = f'x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"'
        self.parts.append(f'<line {ends} stroke="{stroke}"{extra}/>')

    def polyline(self, xy: Iterable[tuple[float, float]], style: tuple[str, float, str]) -> None:
        colour, width, dash = style
        points = " ".join(f"{_n(x)},{_n(y)}" for x, y in xy)
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{width}"'
            f'{dashes} stroke-linejoin="round" stroke-linecap="butt"/>'
        )

    def polygon(self, xy: Iterable[tuple[float, float]], fill: str) -> None:
        points = " ".join(f"{_n(x)},{_n(y)}" for x, y in xy)
        self.parts.append(f'<polygon points="{points}" fill="{fill}" stroke="none"/>')

    def rect(self, x: float, y: float, w: float, h: float, fill: str, cls: str = "") -> None:
        klass = f' class="{cls}"' if cls else ""
        self.parts.append(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 0.0))}" height="{_n(h)}"'
            f' fill="{fill}"{klass}/>'
        )

    def hatched(self, x: float, y: float, w: float, h: float) -> None:
        """A box striped at 45°: a value withheld (small-cell suppression), not a zero."""
        self.hatch = True
        self.parts.append(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}"'
            f' fill="url(#{_ID}-hatch)" stroke="{AXIS}" stroke-width="0.8" class="suppressed"/>'
        )

    def finish(self, title: str, desc: str, kind: str) -> SafeString:
        defs = ""
        if self.hatch:
            defs = (
                f'<defs><pattern id="{_ID}-hatch" width="5" height="5"'
                ' patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
                '<rect width="5" height="5" fill="#fff"/>'
                f'<line x1="0" y1="0" x2="0" y2="5" stroke="{AXIS}" stroke-width="2"/>'
                "</pattern></defs>"
            )
        body = "".join(self.parts)
        # A stable id from the content: the same chart gets the same id (cacheable), different
        # charts on one page do not share ids.
        uid = "hc" + hashlib.blake2b(body.encode(), digest_size=5).hexdigest()
        svg = (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_n(self.height)}"'
            f' width="100%" role="img" aria-labelledby="{_ID}-title {_ID}-desc"'
            f' class="haven-chart haven-chart-{kind}" font-family="sans-serif"'
            f' font-size="{FONT}" fill="{INK}">'
            f'<title id="{_ID}-title">{_esc(title)}</title>'
            f'<desc id="{_ID}-desc">{_esc(desc)}</desc>'
            f"{defs}{body}</svg>"
        )
        return mark_safe(svg.replace(_ID, uid))  # noqa: S308  every text in it went through _esc


def _heading(svg: _Svg, title: str, show_title: bool) -> float:
    """Draws the title when asked (for a chart saved as a file); returns where the chart starts."""
    if not show_title:
        return 8.0
    svg.text(8, 20, _fit(title, WIDTH - 16, 14), font_size=14, font_weight="bold")
    return 30.0


def _no_data(title: str, show_title: bool, kind: str, message: str | None) -> SafeString:
    message = message or _("No data yet")
    svg = _Svg(140)
    top = _heading(svg, title, show_title)
    svg.add(
        f'<rect x="8" y="{_n(top)}" width="{WIDTH - 16}" height="{_n(132 - top)}" fill="none"'
        f' stroke="{GRID}" stroke-width="1.5" stroke-dasharray="4 4"/>'
    )
    svg.text(
        WIDTH / 2, (top + 132) / 2 + 5, message, text_anchor="middle", fill=AXIS, class_="empty"
    )
    return svg.finish(title, message, kind)


def _legend(svg: _Svg, top: float, items: Sequence[tuple[str, str]]) -> float:
    """One row (wrapping) of legend entries, each a swatch SVG fragment drawn at (0, 0) and a label.

    Returns the y below the legend."""
    x, y = 64.0, top + 10
    for swatch, label in items:
        label = _fit(label, 220, SMALL)
        width = 30 + _text_width(label, SMALL) + 18
        if x + width > WIDTH - 8 and x > 64:
            x, y = 64.0, y + 18
        svg.add(f'<g transform="translate({_n(x)},{_n(y)})">{swatch}</g>')
        svg.text(x + 30, y + 4, label, font_size=SMALL)
        x += width
    return y + 14


def _line_swatch(style: tuple[str, float, str]) -> str:
    colour, width, dash = style
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line x1="0" y1="0" x2="24" y2="0" stroke="{colour}" stroke-width="{width}"{dashes}/>'


def _time_frame(
    svg: _Svg,
    *,
    top: float,
    y_label: str,
    start: datetime,
    end: datetime,
    y_top: float,
    tz: tzinfo,
) -> tuple[_Linear, _Linear]:
    """Draws the gridlines and both axes of a time chart; returns the x (time) and y scales."""
    left, right, bottom = 64.0, WIDTH - 16.0, svg.height - 36
    if y_label:
        svg.text(left - 56, top + 10, _fit(y_label, WIDTH - 80, SMALL), font_size=SMALL, fill=AXIS)
        top += 20
    ticks = nice_ticks(y_top)
    y = _Linear(0, ticks[-1], bottom, top)
    x = _Linear(start.timestamp(), end.timestamp(), left, right)
    for value in ticks:
        svg.line(left, y(value), right, y(value), GRID)
        svg.text(left - 6, y(value) + 4, _count_text(value), text_anchor="end", font_size=SMALL)
    for moment, label, date_line in _time_ticks(start, end, tz, right - left):
        at = x(moment.timestamp())
        svg.line(at, bottom, at, bottom + 5, AXIS)
        svg.text(at, bottom + 17, label, text_anchor="middle", font_size=SMALL, class_="x-tick")
        if date_line:
            svg.text(at, bottom + 30, date_line, text_anchor="middle", font_size=SMALL)
    svg.line(left, bottom, right, bottom, AXIS)
    svg.line(left, top, left, bottom, AXIS)
    return x, y


def _marker(
    svg: _Svg, at: float, top: float, bottom: float, label: str, cls: str, *, dash: str
) -> None:
    """A vertical line across the plot with its label at the top, on the side with room."""
    svg.line(at, top, at, bottom, INK, stroke_dasharray=dash, class_=cls)
    room_right = WIDTH - 16 - at
    if room_right >= _text_width(label, SMALL) + 8 or room_right > at - 64:
        svg.text(at + 4, top + 10, _fit(label, max(room_right - 4, 40), SMALL), font_size=SMALL)
    else:
        svg.text(at - 4, top + 10, _fit(label, at - 68, SMALL), font_size=SMALL, text_anchor="end")


def _beyond(
    rows: list[tuple[datetime, float, float]], as_of: datetime
) -> list[tuple[datetime, float, float]]:
    """The rows from as_of on, starting exactly at as_of when the rows straddle it."""
    later = next((i for i, row in enumerate(rows) if row[0] >= as_of), len(rows))
    if later in (0, len(rows)) or rows[later][0] == as_of:
        return rows[later:]
    (t0, low0, high0), (t1, low1, high1) = rows[later - 1], rows[later]
    share = (as_of - t0) / (t1 - t0)
    edge = (as_of, low0 + share * (low1 - low0), high0 + share * (high1 - high0))
    return [edge, *rows[later:]]


def _domain(moments: Sequence[datetime]) -> tuple[datetime, datetime]:
    start, end = min(moments), max(moments)
    if end - start < timedelta(hours=1):  # one moment: give it an hour either side
        start, end = start - timedelta(hours=1), end + timedelta(hours=1)
    return start, end


# --- the charts -------------------------------------------------------------------------------


def cumulative_chart(
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    *,
    title: str,
    y_label: str = "",
    forecast_median: Sequence[tuple[datetime, float]] | None = None,
    forecast_band: Sequence[tuple[datetime, float, float]] | None = None,
    as_of: datetime | None = None,
    tz: tzinfo | None = None,
    median_label: str | None = None,
    band_label: str | None = None,
    as_of_label: str | None = None,
    empty_message: str | None = None,
    show_title: bool = False,
) -> SafeString:
    """Cumulative lines (e.g. crossed, registered, unique people) over time, in the order given.

    The forecast band (time, low, high) is shaded and its median drawn dashed, from as_of on
    (earlier forecast points are left out; the edge is interpolated at as_of); as_of draws a
    vertical marker. Times are labelled in tz (default: that of as_of, else of the first point).
    """
    lines = {label: _points(points, f"series {label!r}") for label, points in series.items()}
    median = _points(forecast_median or (), "forecast_median")
    band = []
    for i, triple in enumerate(forecast_band or ()):
        try:
            moment, low, high = triple
        except (TypeError, ValueError):
            raise ValueError(f"forecast_band[{i}]: expected (datetime, low, high)") from None
        where = f"forecast_band[{i}]"
        low_value, high_value = _amount(low, where), _amount(high, where)
        if low_value > high_value:
            raise ValueError(f"{where}: low {low!r} is above high {high!r}")
        band.append((_moment(moment, where), low_value, high_value))
    band.sort(key=lambda b: b[0])
    if as_of is not None:
        _moment(as_of, "as_of")
        band = _beyond(band, as_of)
        median = [(m, v) for m, v, _same in _beyond([(m, v, v) for m, v in median], as_of)]
    moments = [m for pts in lines.values() for m, _v in pts] + [m for m, _v in median]
    moments += [b[0] for b in band]
    if not moments:
        return _no_data(title, show_title, "cumulative", empty_message)
    if as_of is not None:
        moments.append(as_of)
    tz = tz or _zone(as_of or moments[0])
    start, end = _domain(moments)
    y_top = max(
        [v for pts in lines.values() for _m, v in pts]
        + [v for _m, v in median]
        + [b[2] for b in band]
    )
    median_label = median_label or _("Forecast (median)")
    band_label = band_label or _("Forecast range")

    svg = _Svg(360)
    top = _heading(svg, title, show_title)
    legend = [
        (_line_swatch(LINE_STYLES[i % len(LINE_STYLES)]), label) for i, label in enumerate(lines)
    ]
    if band:
        legend.append((f'<rect x="0" y="-5" width="24" height="10" fill="{BAND}"/>', band_label))
    if median:
        legend.append((_line_swatch(MEDIAN_STYLE), median_label))
    top = _legend(svg, top, legend)
    x, y = _time_frame(svg, top=top, y_label=y_label, start=start, end=end, y_top=y_top, tz=tz)
    plot_top, bottom = y(nice_ticks(y_top)[-1]), y(0)
    if band:
        upper = [(x(m.timestamp()), y(high)) for m, _low, high in band]
        lower = [(x(m.timestamp()), y(low)) for m, low, _high in reversed(band)]
        svg.add('<g class="forecast-band">')
        svg.polygon(upper + lower, BAND)
        svg.add("</g>")
    columns = WIDTH - 80
    if median:
        svg.add('<g class="forecast-median">')
        svg.polyline(_thin([(x(m.timestamp()), y(v)) for m, v in median], columns), MEDIAN_STYLE)
        svg.add("</g>")
    for i, (label, points) in enumerate(lines.items()):
        if not points:
            continue
        style = LINE_STYLES[i % len(LINE_STYLES)]
        svg.add(f'<g class="series" data-label="{_esc(label)}">')
        xy = [(x(m.timestamp()), y(v)) for m, v in points]
        if len(xy) == 1:  # a single count is a dot, not an invisible line
            svg.add(f'<circle cx="{_n(xy[0][0])}" cy="{_n(xy[0][1])}" r="3" fill="{style[0]}"/>')
        else:
            svg.polyline(_thin(xy, columns), style)
        svg.add("</g>")

    parts = []
    for label, points in lines.items():
        if points:
            moment, value = points[-1]
            parts.append(
                _("%(series)s: %(value)s at %(time)s.")
                % {"series": label, "value": _count_text(value), "time": _when(moment, tz)}
            )
    if median:
        moment, value = median[-1]
        parts.append(
            _("%(forecast)s: %(value)s by %(time)s.")
            % {"forecast": median_label, "value": _count_text(value), "time": _when(moment, tz)}
        )
    if band:
        moment, low, high = band[-1]
        parts.append(
            _("%(range)s at %(time)s: %(low)s to %(high)s.")
            % {
                "range": band_label,
                "time": _when(moment, tz),
                "low": _count_text(low),
                "high": _count_text(high),
            }
        )
    if as_of is not None:
        label = as_of_label or _("as of %(time)s") % {"time": _when(as_of, tz)}
        _marker(svg, x(as_of.timestamp()), plot_top, bottom, label, "as-of", dash="3 3")
        parts.insert(0, _("As of %(time)s.") % {"time": _when(as_of, tz, "j M Y H:i")})
    return svg.finish(title, " ".join(parts), "cumulative")


def backlog_chart(
    points: Sequence[tuple[datetime, float]],
    *,
    title: str,
    y_label: str = "",
    as_of: datetime | None = None,
    clearance: datetime | None = None,
    tz: tzinfo | None = None,
    clearance_label: str | None = None,
    as_of_label: str | None = None,
    empty_message: str | None = None,
    show_title: bool = False,
) -> SafeString:
    """The registration backlog (crossed, not yet registered) over time, as a shaded area.

    clearance, when given, is the projected moment the backlog reaches zero: a dashed line runs
    from the last point down to it, with a marker.
    """
    series = _points(points, "points")
    if as_of is not None:
        _moment(as_of, "as_of")
    if clearance is not None:
        _moment(clearance, "clearance")
    if not series:
        return _no_data(title, show_title, "backlog", empty_message)
    moments = [m for m, _v in series] + [m for m in (as_of, clearance) if m is not None]
    tz = tz or _zone(as_of or series[0][0])
    start, end = _domain(moments)
    y_top = max(v for _m, v in series)

    svg = _Svg(300)
    top = _heading(svg, title, show_title)
    x, y = _time_frame(svg, top=top, y_label=y_label, start=start, end=end, y_top=y_top, tz=tz)
    plot_top, bottom = y(nice_ticks(y_top)[-1]), y(0)
    xy = _thin([(x(m.timestamp()), y(v)) for m, v in series], WIDTH - 80)
    svg.add('<g class="backlog">')
    svg.polygon([(xy[0][0], bottom), *xy, (xy[-1][0], bottom)], AREA_FILL)
    svg.polyline(xy, (AREA_LINE, 2.0, ""))
    svg.add("</g>")

    last_moment, last_value = series[-1]
    peak_moment, peak_value = max(series, key=lambda p: p[1])
    parts = [
        _("%(value)s at %(time)s; the highest was %(peak)s at %(peak_time)s.")
        % {
            "value": _count_text(last_value),
            "time": _when(last_moment, tz),
            "peak": _count_text(peak_value),
            "peak_time": _when(peak_moment, tz),
        }
    ]
    if as_of is not None:
        label = as_of_label or _("as of %(time)s") % {"time": _when(as_of, tz)}
        _marker(svg, x(as_of.timestamp()), plot_top, bottom, label, "as-of", dash="3 3")
        parts.insert(0, _("As of %(time)s.") % {"time": _when(as_of, tz, "j M Y H:i")})
    if clearance is not None:
        at = x(clearance.timestamp())
        svg.add('<g class="clearance">')
        svg.polyline([xy[-1], (at, bottom)], (AREA_LINE, 1.5, "5 3"))
        svg.add(f'<circle cx="{_n(at)}" cy="{_n(bottom)}" r="4" fill="#fff" stroke="{INK}"/>')
        svg.add("</g>")
        label = clearance_label or _("clears about %(time)s") % {"time": _when(clearance, tz)}
        _marker(svg, at, plot_top + 16, bottom, label, "clearance-marker", dash="1 3")
        parts.append(
            _("Projected to clear about %(time)s.") % {"time": _when(clearance, tz, "j M Y H:i")}
        )
    return svg.finish(title, " ".join(parts), "backlog")


def pyramid_chart(
    bands: Sequence[tuple[str, int | None, int | None]],
    *,
    title: str,
    male_label: str | None = None,
    female_label: str | None = None,
    unknown_sex: int | None = None,
    unknown_label: str | None = None,
    suppressed_label: str | None = None,
    empty_message: str | None = None,
    show_title: bool = False,
) -> SafeString:
    """A population pyramid: males to the left, females to the right, each bar labelled.

    bands run from the youngest (drawn at the bottom) to the oldest; None is a suppressed cell,
    drawn hatched. unknown_sex, when given, is noted under the chart ("Sex not recorded: N", or
    unknown_label, the whole note, when the caller words it).
    """
    rows = []
    for i, row in enumerate(bands):
        try:
            name, male_raw, female_raw = row
        except (TypeError, ValueError):
            raise ValueError(f"bands[{i}]: expected (label, male, female), got {row!r}") from None
        rows.append(
            (
                str(name),
                _cell(male_raw, f"bands[{i}] male"),
                _cell(female_raw, f"bands[{i}] female"),
            )
        )
    unknown = None if unknown_sex is None else _amount(unknown_sex, "unknown_sex")
    male_label = male_label or _("Male")
    female_label = female_label or _("Female")
    suppressed_label = suppressed_label or _("suppressed")
    if not rows or all(m is None and f is None for _l, m, f in rows):
        return _no_data(title, show_title, "pyramid", empty_message)

    row_height = 20.0
    svg = _Svg(0)
    top = _heading(svg, title, show_title) + 4
    counts = [v for _l, m, f in rows for v in (m, f) if v is not None]
    biggest = max(counts, default=0.0) or 1.0
    label_width = min(max(_text_width(label, SMALL) for label, _m, _f in rows) + 12, 140)
    value_room = max(_text_width(_count_text(biggest), SMALL), _text_width(suppressed_label, SMALL))
    value_room += 10
    middle = WIDTH / 2
    half = middle - label_width / 2 - value_room - 8
    scale = _Linear(0, biggest, 0, half)
    left_edge, right_edge = middle - label_width / 2, middle + label_width / 2
    svg.text(left_edge - 4, top + 10, male_label, text_anchor="end", font_weight="bold")
    svg.text(right_edge + 4, top + 10, female_label, font_weight="bold")
    top += 18
    parts = []
    for i, (label, male, female) in enumerate(reversed(rows)):
        row_top = top + i * row_height
        bar_top, text_y = row_top + 3, row_top + row_height / 2 + 4
        svg.text(middle, text_y, _fit(label, label_width - 8, SMALL), text_anchor="middle")
        for value, side in ((male, -1), (female, 1)):
            edge = left_edge if side < 0 else right_edge
            fill = MALE_FILL if side < 0 else FEMALE_FILL
            anchor = "end" if side < 0 else "start"
            cls = "male" if side < 0 else "female"
            if value is None:
                width = 14.0
                svg.hatched(edge - width if side < 0 else edge, bar_top, width, row_height - 6)
                text = suppressed_label
            else:
                width = scale(value)
                svg.rect(
                    edge - width if side < 0 else edge, bar_top, width, row_height - 6, fill, cls
                )
                text = _count_text(value)
            svg.text(edge + side * (width + 4), text_y, text, text_anchor=anchor, font_size=SMALL)
        parts.append(
            _("%(band)s: %(male_label)s %(male)s, %(female_label)s %(female)s.")
            % {
                "band": label,
                "male_label": male_label,
                "male": suppressed_label if male is None else _count_text(male),
                "female_label": female_label,
                "female": suppressed_label if female is None else _count_text(female),
            }
        )
    bottom = top + len(rows) * row_height
    svg.line(left_edge, top, left_edge, bottom, AXIS)
    svg.line(right_edge, top, right_edge, bottom, AXIS)
    parts.reverse()  # the description reads youngest first, as the caller listed the bands
    if unknown is not None:
        note = unknown_label or _("Sex not recorded: %(count)s") % {"count": _count_text(unknown)}
        svg.text(8, bottom + 18, _fit(note, WIDTH - 16, SMALL), font_size=SMALL, class_="note")
        parts.append(note + ".")
        bottom += 18
    svg.height = bottom + 10
    return svg.finish(title, " ".join(parts), "pyramid")


def bar_chart(
    items: Sequence[tuple[str, int | None]],
    *,
    title: str,
    suppressed_label: str | None = None,
    empty_message: str | None = None,
    show_title: bool = False,
) -> SafeString:
    """Horizontal bars in the order given (e.g. needs, origin settlements, host provinces).

    Long labels are cut with an ellipsis (the full label stays in a tooltip and in the
    description); None is a suppressed cell, drawn hatched and labelled.
    """
    rows = []
    for i, row in enumerate(items):
        try:
            name, raw = row
        except (TypeError, ValueError):
            raise ValueError(f"items[{i}]: expected (label, count), got {row!r}") from None
        rows.append((str(name), _cell(raw, f"items[{i}] ({name!r})")))
    suppressed_label = suppressed_label or _("suppressed")
    if not rows:
        return _no_data(title, show_title, "bars", empty_message)

    row_height = 22.0
    svg = _Svg(0)
    top = _heading(svg, title, show_title)
    biggest = max((v for _l, v in rows if v is not None), default=0.0) or 1.0
    label_width = min(max(_text_width(label, FONT) for label, _v in rows) + 10, WIDTH * 0.4)
    value_room = max(_text_width(_count_text(biggest), SMALL), _text_width(suppressed_label, SMALL))
    left = 8 + label_width
    scale = _Linear(0, biggest, 0, WIDTH - 8 - value_room - 6 - left)
    parts = []
    for i, (label, value) in enumerate(rows):
        row_top = top + i * row_height
        text_y = row_top + row_height / 2 + 4
        shown = _fit(label, label_width - 10, FONT)
        svg.add(f"<g><title>{_esc(label)}</title>")
        svg.text(left - 8, text_y, shown, text_anchor="end", class_="bar-label")
        svg.add("</g>")
        if value is None:
            width = 14.0
            svg.hatched(left, row_top + 4, width, row_height - 8)
            text = suppressed_label
        else:
            width = scale(value)
            svg.rect(left, row_top + 4, width, row_height - 8, BAR_FILL, "bar")
            text = _count_text(value)
        svg.text(left + width + 5, text_y, text, font_size=SMALL, class_="bar-value")
        parts.append(_("%(label)s: %(value)s.") % {"label": label, "value": text})
    bottom = top + len(rows) * row_height
    svg.line(left, top, left, bottom, AXIS)
    svg.height = bottom + 8
    return svg.finish(title, " ".join(parts), "bars")
