"""Tables for partners (UNHCR, USAID, NGOs): HXL-tagged CSV and XLSX, small cells suppressed.

Each table has a header row for people and, under it, the HXL hashtag row that tools such as
libhxl and HDX read (hashtags and attributes from the HXL dictionary and the conventions in use
on HDX; `+suppressed` is our own attribute):

- `daily-arrivals`: people counted crossing, per local day and crossing point (every day × every
  site with counts, 0 where nothing was counted). `#affected+refugees+new+ind`.
- `population`: unique people by host province, by sex and five-year age band
  (`+age_0_4` … `+age_80_plus`, the HDX HAPI style) and households registered there. Host province
  is the province of the site where the household registered, until shelters exist.
- `needs`: unique people with each UNHCR specific-needs code, by sex, national figures only
  (some codes, such as children associated with armed groups, must never be published below
  national level).
- Shelter occupancy: not produced, shelters do not exist yet.

Every count goes through `haven.reports.suppression`: counts from 1 to 4 are left empty, and
others where they could give one away through a published sum; the `#meta+suppressed` column of
each row names the hashtags of its empty cells. The sums taken as published are each table's own
(a province's women and men make its people) and the national totals, which the situation
figures publish. Exports are a partner product: they are suppressed whoever downloads them.

A text cell that a spreadsheet would run as a formula (one starting with =, +, -, @, a tab or a
carriage return) is written with a leading apostrophe.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook

from haven.core.models import Site
from haven.registry.reference import specific_needs_codes
from haven.registry.tallies import BANDS
from haven.reports.figures import SEXES, Bucket, Situation
from haven.reports.suppression import THRESHOLD, Sum, Suppressed, suppress, table_sums

COUNTRY = "ARM"  # the host country (ISO 3166 alpha-3) of this deployment
SOURCE = "Haven registration"
SUPPRESSED_TAG = "#meta+suppressed"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SITE_TYPES: dict[str, str] = {  # Site.kind → the #loc+type words of HXL examples
    Site.Kind.CROSSING: "border_crossing",
    Site.Kind.HUB: "transit_centre",
    Site.Kind.SHELTER: "collective_centre",
}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMATS = tuple(CONTENT_TYPES)

Cell = str | int | None


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    headers: tuple[str, ...]
    tags: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    suppressed_cells: int


def _band_tag(band: str) -> str:
    if band.endswith("+"):
        return f"+age_{band[:-1]}_plus"
    low, high = band.split("-")
    return f"+age_{low}_{high}"


def _flags(result: Suppressed[Any], cells: Sequence[tuple[Hashable, str]]) -> str:
    """The hashtags of a row's suppressed cells, space-separated."""
    return " ".join(tag for key, tag in cells if key in result.hidden)


# --- daily arrivals ------------------------------------------------------------------------------


_TOTAL = "\0total"  # the key of a margin: no site code, date or name can be it


def _day_site_table(
    buckets: Sequence[Bucket],
) -> tuple[list[str], list[str], Suppressed[tuple[Hashable, Hashable]]]:
    """Daily counts as a days × sites table (0 where a site counted nothing that day), suppressed
    against each day's, each site's and the overall total."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for bucket in buckets:
        counts[(bucket.start.date().isoformat(), bucket.site)] += bucket.count
    days = sorted({day for day, _ in counts})
    sites = sorted({site for _, site in counts})
    values: dict[tuple[Hashable, Hashable], int] = {}
    for day in days:
        for site in sites:
            values[(day, site)] = counts.get((day, site), 0)
        values[(day, _TOTAL)] = sum(values[(day, s)] for s in sites)
    for site in [*sites, _TOTAL]:
        values[(_TOTAL, site)] = sum(values[(d, site)] for d in days)
    sums = table_sums(days, sites, row_total=_TOTAL, column_total=_TOTAL)
    return days, sites, suppress(values, sums)


def daily_arrivals(situation: Situation) -> Table:
    sites = {s.code: s for s in Site.objects.all()}
    day_list, code_list, result = _day_site_table(situation.arrivals_daily)
    tag = "#affected+refugees+new+ind"
    rows: list[tuple[Cell, ...]] = []
    for day in day_list:
        for code in code_list:
            site = sites.get(code)
            rows.append(
                (
                    day,
                    COUNTRY,
                    site.name if site else code,
                    code,
                    SITE_TYPES.get(site.kind, site.kind) if site else "",
                    site.province if site else "",
                    result.shown((day, code)),
                    _flags(result, [((day, code), tag)]),
                )
            )
    return Table(
        name="daily-arrivals",
        title="Daily arrivals by crossing point",
        headers=(
            "Date",
            "Country (ISO3)",
            "Crossing point",
            "Crossing point code",
            "Crossing point type",
            "Province",
            "New arrivals (persons)",
            "Suppressed",
        ),
        tags=(
            "#date",
            "#country+code",
            "#loc+name",
            "#loc+code",
            "#loc+type",
            "#adm1+name",
            tag,
            SUPPRESSED_TAG,
        ),
        rows=tuple(rows),
        # The margins are not written: only the hidden cells of the rows count.
        suppressed_cells=sum(1 for key in result.hidden if _TOTAL not in key),
    )


# --- population by host province ----------------------------------------------------------------

_PEOPLE = "#affected+refugees"


def population(situation: Situation) -> Table:
    provinces = sorted(
        {cell.province for cell in situation.population}
        | {p.name for p in situation.households_by_province}
    )
    households = {p.name: p.persons for p in situation.households_by_province}
    values: dict[tuple[str, str], int] = defaultdict(int)
    for cell in situation.population:
        values[(cell.province, f"{cell.sex}:{cell.band}")] += cell.persons
    national = _TOTAL  # the national row: published in the situation figures, not written here
    columns = ["ind", "hh", *SEXES, *(f"{s}:{b}" for s in SEXES for b in BANDS)]
    for province in [*provinces, national]:
        for column in columns:
            values.setdefault((province, column), 0)
    for province in provinces:
        for sex in SEXES:
            values[(province, sex)] = sum(values[(province, f"{sex}:{b}")] for b in BANDS)
        values[(province, "ind")] = sum(values[(province, s)] for s in SEXES)
        values[(province, "hh")] = households.get(province, 0)
    for column in columns:
        values[(national, column)] = sum(values[(p, column)] for p in provinces)
    sums: list[Sum[tuple[str, str]]] = []
    for province in [*provinces, national]:
        sums.append(Sum((province, "ind"), tuple((province, s) for s in SEXES)))
        for sex in SEXES:
            sums.append(Sum((province, sex), tuple((province, f"{sex}:{b}") for b in BANDS)))
    for column in columns:
        sums.append(Sum((national, column), tuple((p, column) for p in provinces)))
    result = suppress(values, sums)

    tags = {
        "ind": f"{_PEOPLE}+ind",
        "hh": f"{_PEOPLE}+hh",
        "F": f"{_PEOPLE}+f",
        "M": f"{_PEOPLE}+m",
        **{f"{s}:{b}": f"{_PEOPLE}+{s.lower()}{_band_tag(b)}" for s in SEXES for b in BANDS},
    }
    names = {
        "ind": "Persons total",
        "hh": "Households",
        "F": "Female total",
        "M": "Male total",
        **{f"{s}:{b}": f"{'Female' if s == 'F' else 'Male'} {b}" for s in SEXES for b in BANDS},
    }
    day = situation.as_of.date().isoformat()
    rows = tuple(
        (
            day,
            COUNTRY,
            province,
            *(result.shown((province, c)) for c in columns),
            SOURCE,
            _flags(result, [((province, c), tags[c]) for c in columns]),
        )
        for province in provinces
    )
    return Table(
        name="population",
        title="Population by host province, sex and age",
        headers=(
            "As-of date",
            "Country (ISO3)",
            "Host province",
            *(names[c] for c in columns),
            "Source",
            "Suppressed",
        ),
        tags=(
            "#date+reported",
            "#country+code",
            "#adm1+name",
            *(tags[c] for c in columns),
            "#meta+source",
            SUPPRESSED_TAG,
        ),
        rows=rows,
        suppressed_cells=sum(1 for key in result.hidden if key[0] != national),
    )


# --- specific needs ------------------------------------------------------------------------------


def needs(situation: Situation) -> Table:
    labels = specific_needs_codes()
    values: dict[tuple[str, str], int] = {}
    sums: list[Sum[tuple[str, str]]] = []
    codes = [n.code for n in situation.needs]
    for need in situation.needs:
        values[(need.code, "ind")] = need.persons
        values[(need.code, "F")] = need.female
        values[(need.code, "M")] = need.male
        sums.append(Sum((need.code, "ind"), ((need.code, "F"), (need.code, "M"))))
    result = suppress(values, sums)
    tags = {"ind": f"{_PEOPLE}+ind", "F": f"{_PEOPLE}+f", "M": f"{_PEOPLE}+m"}
    day = situation.as_of.date().isoformat()
    rows = tuple(
        (
            day,
            COUNTRY,
            code,
            labels[code].label if code in labels else "",
            *(result.shown((code, c)) for c in ("ind", "F", "M")),
            _flags(result, [((code, c), tags[c]) for c in ("ind", "F", "M")]),
        )
        for code in codes
    )
    return Table(
        name="needs",
        title="People with specific needs (UNHCR codes), national",
        headers=(
            "As-of date",
            "Country (ISO3)",
            "Specific need code",
            "Specific need",
            "Persons",
            "Female",
            "Male",
            "Suppressed",
        ),
        tags=(
            "#date+reported",
            "#country+code",
            "#need+code",
            "#need+name",
            tags["ind"],
            tags["F"],
            tags["M"],
            SUPPRESSED_TAG,
        ),
        rows=rows,
        suppressed_cells=len(result.hidden),
    )


# --- the situation figures as partners see them --------------------------------------------------

PARTNER_TOTALS = ("crossings", "registrations", "unique_people", "households", "backlog")


def _one_sum(parts: dict[str, int], total: int) -> tuple[dict[str, int | None], int | None]:
    """Parts that add up to a published total, suppressed together."""
    values: dict[str, int] = {**parts, _TOTAL: total}
    result = suppress(values, [Sum(_TOTAL, tuple(parts))])
    return {k: result.shown(k) for k in parts}, result.shown(_TOTAL)


def _daily_table(buckets: Sequence[Bucket]) -> list[dict[str, Any]]:
    days, sites, result = _day_site_table(buckets)
    return [
        {"site": site, "date": day, "count": result.shown((day, site))}
        for day in days
        for site in sites
    ]


def partner_situation(situation: Situation) -> dict[str, Any]:
    """The situation figures a partner analyst may read: totals and daily and demographic
    breakdowns with small cells suppressed (None), no hourly series and no person-level data.

    The breakdowns are suppressed against the totals they add up to (the pyramid's bands and
    sexes to the unique people, origins and provinces to the unique people, households by
    province to the households, daily counts to each day's and each site's total).
    """
    totals = suppress({name: int(getattr(situation, name)) for name in PARTNER_TOTALS})
    # People housed: a total like the others, suppressed when small (None: no shelter recorded).
    housed = None if situation.housed is None else suppress({"housed": situation.housed})
    unique = situation.unique_people

    pyramid_values: dict[tuple[Hashable, Hashable], int] = {}
    everyone = _TOTAL
    for row in situation.pyramid:
        pyramid_values[(row.band, "F")] = row.female
        pyramid_values[(row.band, "M")] = row.male
        pyramid_values[(row.band, everyone)] = row.female + row.male
    for sex in [*SEXES, everyone]:
        pyramid_values[(everyone, sex)] = sum(pyramid_values[(b, sex)] for b in BANDS)
    pyramid = suppress(
        pyramid_values, table_sums(BANDS, SEXES, row_total=everyone, column_total=everyone)
    )

    need_rows = []
    for need in situation.needs:
        parts, persons = _one_sum({"female": need.female, "male": need.male}, need.persons)
        need_rows.append({"code": need.code, "persons": persons, **parts})

    origin_parts = {place.name: place.persons for place in situation.origins}
    origin_parts |= {"\0other": situation.origins_other, "\0unknown": situation.origins_unknown}
    origins, _ = _one_sum(origin_parts, unique)
    provinces, _ = _one_sum({p.name: p.persons for p in situation.host_provinces}, unique)
    households, _ = _one_sum(
        {p.name: p.persons for p in situation.households_by_province}, situation.households
    )
    return {
        "as_of": situation.as_of.isoformat(),
        "time_zone": situation.time_zone,
        **{name: totals.shown(name) for name in PARTNER_TOTALS},
        "housed": None if housed is None else housed.shown("housed"),
        "paid": situation.paid,
        "arrivals_daily": _daily_table(situation.arrivals_daily),
        "registrations_daily": _daily_table(situation.registrations_daily),
        "pyramid": [
            {
                "band": row.band,
                "female": pyramid.shown((row.band, "F")),
                "male": pyramid.shown((row.band, "M")),
            }
            for row in situation.pyramid
        ],
        "needs": need_rows,
        "origins": [
            {"name": place.name, "persons": origins[place.name]} for place in situation.origins
        ],
        "origins_other": origins["\0other"],
        "origins_unknown": origins["\0unknown"],
        "host_provinces": [{"name": k, "persons": v} for k, v in provinces.items()],
        "households_by_province": [{"name": k, "persons": v} for k, v in households.items()],
        "suppression": {
            "threshold": THRESHOLD,
            "note": "Counts from 1 to 4, and counts that could reveal one through a published"
            " total, are null.",
        },
    }


BUILDERS = {"daily-arrivals": daily_arrivals, "population": population, "needs": needs}
NAMES = tuple(BUILDERS)


# --- writing -------------------------------------------------------------------------------------


def safe_text(value: str) -> str:
    """A text cell that a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cells(row: Sequence[Cell]) -> list[str | int]:
    return ["" if v is None else safe_text(v) if isinstance(v, str) else v for v in row]


def to_csv(table: Table) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_cells(table.headers))
    writer.writerow(table.tags)  # hashtags are ours and start with '#'
    for row in table.rows:
        writer.writerow(_cells(row))
    return out.getvalue().encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = table.name[:31]
    sheet.append(_cells(table.headers))
    sheet.append(list(table.tags))
    for row in table.rows:
        sheet.append(
            [None if v is None else safe_text(v) if isinstance(v, str) else v for v in row]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class Export:
    content: bytes
    content_type: str
    filename: str
    table: Table


def export(name: str, fmt: str, situation: Situation) -> Export:
    """The export `name` in format `fmt` of the situation; ValueError for an unknown either."""
    if name not in BUILDERS:
        raise ValueError(f"unknown export {name!r}: one of {', '.join(NAMES)}")
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    table = BUILDERS[name](situation)
    content = to_csv(table) if fmt == "csv" else to_xlsx(table)
    stamp = _stamp(situation.as_of)
    return Export(content, CONTENT_TYPES[fmt], f"haven-{name}-{stamp}.{fmt}", table)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M")
