"""The situation at any moment: crossed, registered, unique people, backlog and their breakdowns.

`situation_at(as_of)` answers for any past moment (or now) from what is stored, so a figure quoted
at 08:00 on 26 September can be computed again later; `timeline(start, end, step)` gives the
cumulative curves at regular steps for charts. Both are SQL aggregates (GROUP BY in the database,
never a Python loop over persons), the same on SQLite and PostgreSQL.

What each figure means:

- **crossings**: people counted crossing (`CrossingCount`) in periods that had ended by `as_of`,
  plus, for a period that straddles `as_of`, the share of its people in proportion to the part of
  the period that has passed (people are taken to cross evenly within a period). Crossing counts
  are aggregate rows, a few per site and hour, and are read as rows; their per-hour and per-day
  figures split a period across the hours it covers in the same proportion.
- **registrations**: person records of households registered (`Household.registered_at`) by
  `as_of`, duplicates included.
- **unique_people**: distinct identities among those records. Identity knowledge is *as of now*:
  records linked by `haven dedupe` or a caseworker after `as_of` count once at `as_of` too. Two
  records found to be one person were always one person, so a past backlog or pyramid is the best
  estimate today; the same holds for the person's recorded sex, date of birth and needs, which are
  read as corrected. (Link rows carry their times; an "as it was known then" view would read
  them, but a report published then is kept as the file it was.)
- **households**: households registered by `as_of` (each registration; households are not
  deduplicated).
- **backlog**: crossed minus unique people registered, never below 0.
- **pyramid**, **host provinces**, **origins**: one record per identity (its first record, the
  lowest id registered by `as_of`). Ages are whole years at the local date of `as_of`; a birth
  date known only to the year counts from 1 January (so an age estimated on the day of
  registration stays that age through the year), known to the month from its first day.
  Five-year bands, 80 and over in one.
- **needs**: identities with each UNHCR specific-needs code on any of their records; by sex of
  the identity's first record.
- **host provinces**: the province of the site where the household registered. Shelters do not
  exist yet; when they do, the host province becomes the shelter's.
- **housed**: people in an open shelter stay at `as_of` (checked in by then, not yet out: stays
  are never deleted, so any past moment is read back); None while no shelter is recorded at all.
- **paid**: people (identities) paid at least once by `as_of`, as the bank's reconciliation
  said (a payment's settlement time); None while no payment list exists.

Hours and days are the deployment's (settings.TIME_ZONE). Registration buckets are computed in
SQL as whole hours counted from the Unix epoch in UTC and shifted by the zone's offset at `as_of`,
then labelled and grouped into local days in Python: exact for every zone whose offset is whole
hours (Armenia's is +04:00 all year), without calling a per-row Python function that SQLite's
`Trunc(..., tzinfo=...)` would (seconds at a million rows).

Speed, with a million records. After the last registration (the dashboard's "now") the records
are not read: the registration actions keep a tally in the same transaction as the records
(registry.FigureTally, haven.registry.tallies) by site and hour, by origin, by sex and year of
birth, and by needs, a few thousand rows; ages on the day asked follow from the year of birth,
except for the people of the years that reach a band's first age that year, whose birthdays are
read from an index of dates of birth. A past moment is counted from the records: registrations and
households by site and hour and by origin from the households alone (each carries its member
count, and an index holds every column read, in time order, so a past moment reads a range of it);
one statement groups the moment's records by one integer key (site, sex, age band) and needs,
reading an index that holds those columns. Either way identities enter only through the records
whose identity is shared, found from the identity Link rows (every identity move writes one, so a
record whose identity no link names holds its own, shared with nobody), read from an identity
index that holds the columns needed; one statement corrects for those few percent. They run in
one read-only snapshot, with PostgreSQL's JIT off. The result is cached, keyed by the moment and a
cheap data version (the newest row of each table the figures read, and the sites), so a repeat
with nothing changed costs a few index lookups; a moment after the last registration is keyed by
the last registration's time, so "now" asked again is the same entry.
Figures measured in bench/README.md (bench/bench_reports.py).
"""

import json
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from numpy.typing import NDArray

from haven.assistance.models import Payment, PaymentList
from haven.core.models import AuditEvent, Site
from haven.identity.models import Link
from haven.identity.places import origin_key
from haven.registry.models import (
    CrossingCount,
    FigureTally,
    Household,
    Person,
    PersonCorrection,
)
from haven.registry.reference import settlements_nk
from haven.registry.tallies import BAND_YEARS, BANDS, OLDEST_BAND_FROM, band_of_age
from haven.shelter.models import Shelter, Stay
from haven.shelter.selectors import housed_at

SEXES = ("F", "M")
TOP_ORIGINS = 10
CACHE_ENTRIES = 64
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIMELINE_STEPS = 10_000

P = Person._meta.db_table
H = Household._meta.db_table
L = Link._meta.db_table


# --- the result ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """A count at one site in one local hour or day (`start` is the hour's or the day's start)."""

    site: str
    start: datetime
    count: int


@dataclass(frozen=True)
class PyramidRow:
    band: str
    female: int
    male: int


@dataclass(frozen=True)
class NeedCount:
    code: str
    persons: int
    female: int
    male: int


@dataclass(frozen=True)
class PlaceCount:
    name: str
    persons: int


@dataclass(frozen=True)
class PopulationCell:
    """Unique people by host province, sex and age band: what the partner export tabulates."""

    province: str
    sex: str
    band: str
    persons: int


@dataclass(frozen=True)
class Situation:
    as_of: datetime
    time_zone: str
    crossings: int
    registrations: int
    unique_people: int
    households: int
    backlog: int
    housed: int | None
    paid: int | None
    arrivals_hourly: tuple[Bucket, ...]
    arrivals_daily: tuple[Bucket, ...]
    registrations_hourly: tuple[Bucket, ...]
    registrations_daily: tuple[Bucket, ...]
    pyramid: tuple[PyramidRow, ...]
    needs: tuple[NeedCount, ...]
    origins: tuple[PlaceCount, ...]  # the most frequent settlements of origin, most first
    origins_other: int  # people from every other settlement
    origins_unknown: int  # people whose settlement of origin was not recorded
    host_provinces: tuple[PlaceCount, ...]
    households_by_province: tuple[PlaceCount, ...]
    population: tuple[PopulationCell, ...] = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types: times as ISO 8601 with their offset."""
        return _jsonable(asdict(self))  # type: ignore[no-any-return]  # a dict in, a dict out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Timeline:
    """Cumulative figures at `moments` (start, start + step, …, up to end), for charts."""

    moments: tuple[datetime, ...]
    crossings: tuple[int, ...]
    registrations: tuple[int, ...]
    unique_people: tuple[int, ...]
    backlog: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[no-any-return]  # a dict in, a dict out


# --- the cache -----------------------------------------------------------------------------------

_cache: "OrderedDict[tuple[Any, ...], Any]" = OrderedDict()
_cache_lock = threading.Lock()


def cached(key: tuple[Any, ...]) -> Any:
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    return None


def remember(key: tuple[Any, ...], value: Any) -> None:
    with _cache_lock:
        _cache[key] = value
        _cache.move_to_end(key)
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def data_version() -> tuple[Any, ...]:
    """What the figures were computed from, cheaply: the newest row of each table they read
    (its id and a value that differs between databases, so a test database rolled back and
    refilled is not mistaken for the one before) and every site's code, kind and province.

    Rows are only ever added to these tables (corrections and identity moves add rows of their
    own), so a change of data is a change of newest row. Shelter stays are the exception: a
    check-out closes a stay in place, so they count by their newest row and by how many are
    closed (a stay is never reopened), and the shelters by their newest row.
    """

    def newest(model: Any, *fields: str) -> tuple[Any, ...] | None:
        row = model.objects.order_by("-pk").values_list("pk", *fields).first()
        return tuple(row) if row is not None else None

    return (
        connection.alias,
        connection.settings_dict.get("NAME"),
        newest(CrossingCount, "uuid"),
        CrossingCount.objects.count(),
        newest(Household, "uuid"),
        newest(Person, "uuid", "identity"),
        newest(PersonCorrection, "uuid"),
        newest(Link, "person_id", "to_identity", "made_at"),
        tuple(Site.objects.order_by("pk").values_list("pk", "code", "kind", "province")),
        _shelter_version(),
    )


def _shelter_version() -> tuple[int, int | None, int, int | None, int | None, int | None]:
    """The shelters, stays and payments, in one statement: how many shelters, the newest stay,
    how many stays are closed (a check-out changes no newest row), the latest check-in or
    check-out (microseconds since the epoch, see `_housed_at`), the newest payment list, and the
    newest reconciliation (payments become paid only by one, and each writes one audit row: an
    indexed look-up of the audit log)."""
    shelters, stays = Shelter._meta.db_table, Stay._meta.db_table
    lists, events = PaymentList._meta.db_table, AuditEvent._meta.db_table
    last_in, last_out = _epoch_micros("MAX(checked_in_at)"), _epoch_micros("MAX(checked_out_at)")
    sql = (
        f"SELECT (SELECT COUNT(*) FROM {shelters}), (SELECT MAX(id) FROM {stays}),"  # noqa: S608 - table names from the models
        f" (SELECT COUNT(*) FROM {stays} WHERE checked_out_at IS NOT NULL),"
        f" (SELECT {last_in} FROM {stays}), (SELECT {last_out} FROM {stays}),"
        f" (SELECT MAX(id) FROM {lists}),"
        f" (SELECT {_epoch_micros('MAX(at)')} FROM {events} WHERE action = %s)"
    )
    count, newest, closed, latest_in, latest_out, last_list, reconciled = _rows(
        sql, ["assistance.reconcile"]
    )[0]
    latest = max((m for m in (latest_in, latest_out) if m is not None), default=None)
    return (
        int(count),
        newest,
        int(closed),
        None if latest is None else int(latest),
        last_list,
        None if reconciled is None else int(reconciled),
    )


# --- SQL pieces that differ between the databases ---------------------------------------------


def _epoch_seconds(column: str) -> str:
    """Whole seconds since 1970-01-01 UTC of a datetime column (SQLite stores UTC text)."""
    if connection.vendor == "postgresql":
        return f"FLOOR(EXTRACT(EPOCH FROM {column}))::bigint"
    return f"CAST(strftime('%%s', {column}) AS INTEGER)"


def _epoch_micros(column: str) -> str:
    """Microseconds since 1970-01-01 UTC, exactly (for moments that must not round)."""
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
    # Django writes 'YYYY-MM-DD HH:MM:SS[.ffffff]'; the padding reads a missing fraction as 0.
    return (
        f"(CAST(strftime('%%s', {column}) AS INTEGER) * 1000000"
        f" + CAST(substr({column} || '.000000', 21, 6) AS INTEGER))"
    )


def _needs_codes(column: str, alias: str) -> str:
    """A FROM-clause item giving one row per code in a JSON list column, as alias.value."""
    if connection.vendor == "postgresql":
        return f"jsonb_array_elements_text({column}) AS {alias}(value)"
    return f"json_each({column}) AS {alias}"


def _moment(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _age_band_sql(on: date) -> tuple[str, list[int]]:
    """The band index (0 … len(BANDS)-1) of p's age in whole years on `on`, and its params.

    Dates as numbers YYYYMMDD: the difference divided by 10,000 is the age in whole years (the
    birthday has come when the month and day part is past), by 50,000 the five-year band.
    """
    born = "(p.birth_year * 10000 + COALESCE(p.birth_month, 1) * 100 + COALESCE(p.birth_day, 1))"
    gap = f"(%s - {born})"
    last = len(BANDS) - 1
    sql = (
        f"CASE WHEN {gap} < 0 THEN 0 WHEN {gap} >= {OLDEST_BAND_FROM * 10000} THEN {last}"
        f" ELSE {gap} / {BAND_YEARS * 10000} END"
    )
    today = on.year * 10000 + on.month * 100 + on.day
    return sql, [today] * 3


@contextmanager
def _reading() -> Iterator[None]:
    """The figures' queries in one transaction, so that they all read one state of the data
    (and the data version they are cached under is that state's): on PostgreSQL a repeatable-read
    snapshot, unless a caller's transaction is already open, and JIT compilation off, which
    spends up to a second compiling these queries (it judges them by row estimates), more than
    they take to run. SQLite's WAL keeps one snapshot per read transaction."""
    fresh = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if fresh:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SET LOCAL jit = off")
        yield


def _rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# Every identity that a record was moved to (every move writes a Link). A record whose identity
# is held by another record too is either such a moved record or the one that kept its own UUID,
# which is then a link's target: records outside this set are one identity each.
_LINKED = f"SELECT to_identity FROM {L}"  # noqa: S608 - table names from the models


def _PERSON_FIGURES() -> str:
    # The index that holds every person column the figures group by (registry.Person's
    # person_figures): SQLite reads it alone rather than the wide rows, or than walking the
    # table through an index of site_id (PostgreSQL plans its own index-only scans).
    return "INDEXED BY person_figures" if connection.vendor == "sqlite" else ""


# --- the situation -------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _check_aware(**moments: datetime) -> None:
    for name, moment in moments.items():
        if timezone.is_naive(moment):
            raise ValueError(f"{name} must be timezone-aware, not {moment.isoformat()}")


def _last_registration() -> datetime | None:
    """The latest registered_at, from the (site, registered_at) index: one lookup per site."""
    latest = [
        Household.objects.filter(site_id=pk).aggregate(latest=Max("registered_at"))["latest"]
        for pk in Site.objects.values_list("pk", flat=True)
    ]
    moments = [m for m in latest if m is not None]
    return max(moments) if moments else None


def situation_at(as_of: datetime, *, top_origins: int = TOP_ORIGINS) -> Situation:
    """Every figure of the situation at `as_of` (timezone-aware), computed or from the cache."""
    _check_aware(as_of=as_of)
    zone = _zone()
    as_of = as_of.astimezone(zone)
    with _reading():
        version = data_version()
        crossings = _crossings_at(as_of, zone, version)
        last = _last_registration()
        # After the last registration every later moment counts the same people: one entry.
        everyone = last is None or as_of >= last
        counted_to = last if last is not None and everyone else as_of
        people_key = ("people", version, counted_to, as_of.date(), zone.key, top_origins)
        people = cached(people_key)
        if people is None:
            people = _people_at(counted_to, as_of.date(), zone, top_origins, everyone=everyone)
            remember(people_key, people)
        housed = _housed_at(as_of, version)
    total_crossed, arrivals_hourly, arrivals_daily = crossings
    return Situation(
        as_of=as_of,
        time_zone=zone.key,
        crossings=round(total_crossed),
        backlog=max(0, round(total_crossed) - people.unique_people),
        housed=housed,
        paid=_paid_at(as_of, version),
        arrivals_hourly=arrivals_hourly,
        arrivals_daily=arrivals_daily,
        **people.fields(),
    )


def _paid_at(as_of: datetime, version: tuple[Any, ...]) -> int | None:
    """Identities with a payment the bank confirmed by `as_of`; None while no list exists."""
    *_stays, last_list, reconciled = version[-1]
    if last_list is None:
        return None
    # After the newest reconciliation every later moment has the same people paid.
    moment = (as_of - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    latest = reconciled is None or moment >= reconciled
    key = ("paid", version, "latest" if latest else as_of)
    hit = cached(key)
    if hit is None:
        hit = (
            Payment.objects.filter(status=Payment.Status.PAID, settled_at__lte=as_of)
            .values("identity")
            .distinct()
            .count()
        )
        remember(key, hit)
    return hit  # type: ignore[no-any-return]  # stored by this function


def _housed_at(as_of: datetime, version: tuple[Any, ...]) -> int | None:
    """People in an open stay at `as_of`; None while no shelter is recorded. After the latest
    check-in or check-out every later moment has the same people: one cache entry, as for the
    people registered."""
    shelters, _newest, _closed, latest, _list, _reconciled = version[-1]
    if not shelters:
        return None
    moment = (as_of - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    key = ("housed", version, "latest" if latest is None or moment >= latest else as_of)
    hit = cached(key)
    if hit is None:
        hit = housed_at(as_of)
        remember(key, hit)
    return hit  # type: ignore[no-any-return]  # stored by this function


# Crossings --------------------------------------------------------------------------------------


def _crossing_rows(until: datetime) -> list[tuple[str, datetime, datetime, int]]:
    return list(
        CrossingCount.objects.filter(period_start__lt=until)
        .order_by("period_start", "pk")
        .values_list("site__code", "period_start", "period_end", "people")
    )


def _crossings_at(
    as_of: datetime, zone: ZoneInfo, version: tuple[Any, ...]
) -> tuple[float, tuple[Bucket, ...], tuple[Bucket, ...]]:
    key = ("crossings", version, as_of, zone.key)
    hit = cached(key)
    if hit is not None:
        return hit  # type: ignore[no-any-return]  # stored by this function
    hourly: dict[tuple[str, datetime], float] = defaultdict(float)
    total = 0.0
    for site, start, end, people in _crossing_rows(as_of):
        total += people * _share(start, end, as_of)
        for hour_start, share in _hour_shares(start, min(end, as_of), end - start, zone):
            hourly[(site, hour_start)] += people * share
    daily: dict[tuple[str, datetime], float] = defaultdict(float)
    for (site, hour_start), people_count in hourly.items():
        daily[(site, _day_start(hour_start, zone))] += people_count
    result = (total, _buckets(hourly), _buckets(daily))
    remember(key, result)
    return result


def _share(start: datetime, end: datetime, until: datetime) -> float:
    """The part of a period [start, end) that has passed by `until`."""
    if end <= until:
        return 1.0
    if start >= until:
        return 0.0
    return (until - start) / (end - start)


def _hour_shares(
    start: datetime, stop: datetime, length: timedelta, zone: tzinfo
) -> Iterable[tuple[datetime, float]]:
    """The local hours that [start, stop) covers, each with its part of a period `length` long."""
    moment = start
    while moment < stop:
        local = moment.astimezone(zone)
        hour = local.replace(minute=0, second=0, microsecond=0)
        following = min((hour + timedelta(hours=1)).astimezone(UTC), stop)
        yield hour, (following - moment) / length
        moment = following


def _day_start(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    return datetime.combine(local.date(), datetime.min.time(), tzinfo=zone)


def _buckets(counts: dict[tuple[str, datetime], float]) -> tuple[Bucket, ...]:
    return tuple(
        Bucket(site=site, start=start, count=round(value))
        for (site, start), value in sorted(
            counts.items(), key=lambda item: (item[0][1], item[0][0])
        )
    )


# People -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _People:
    registrations: int
    unique_people: int
    households: int
    registrations_hourly: tuple[Bucket, ...]
    registrations_daily: tuple[Bucket, ...]
    pyramid: tuple[PyramidRow, ...]
    needs: tuple[NeedCount, ...]
    origins: tuple[PlaceCount, ...]
    origins_other: int
    origins_unknown: int
    host_provinces: tuple[PlaceCount, ...]
    households_by_province: tuple[PlaceCount, ...]
    population: tuple[PopulationCell, ...]

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


SITE_KEY = 1000  # group keys: site_id * SITE_KEY + sex code + age band
SEX_CODES = {100: "F", 200: "M", 300: ""}
HOUR_KEY = 10_000_000  # site_id * HOUR_KEY + hours since 1970 in local time


def _person_key(table: str, band: str) -> str:
    """One integer for a record's site, sex and age band: both databases group a single integer
    far faster than three columns (SQLite sorts to group)."""
    return (
        f"{table}.site_id * {SITE_KEY} + CASE {table}.sex WHEN 'F' THEN 100 WHEN 'M' THEN 200"
        f" ELSE 300 END + {band}"
    )


def _split_key(key: int) -> tuple[int, str, int]:
    site_id, rest = divmod(int(key), SITE_KEY)
    return site_id, SEX_CODES[rest // 100 * 100], rest % 100


def _household_groups(
    offset: int, registered: str, by_time: list[Any]
) -> list[tuple[int | None, str, int, int]]:
    """Records and households by (site, local hour) as one key with origin None, and by
    settlement of origin with key None: household rows only, each counting its records from
    its stored member count."""
    hour = f"h.site_id * {HOUR_KEY} + ({_epoch_seconds('h.registered_at')} + %s) / 3600"
    source = f"FROM {H} h {registered}"
    if connection.vendor == "postgresql":
        return _rows(
            f"SELECT {hour} AS hour, h.origin_settlement, SUM(h.member_count), COUNT(*) {source}"
            " GROUP BY GROUPING SETS ((hour), (h.origin_settlement))",
            [offset, *by_time],
        )
    # SQLite has no grouping sets: both groupings, one after the other.
    return _rows(
        f"SELECT {hour}, NULL, SUM(h.member_count), COUNT(*) {source} GROUP BY 1"
        f" UNION ALL SELECT NULL, h.origin_settlement, SUM(h.member_count), COUNT(*) {source}"
        " GROUP BY 2",
        [offset, *by_time, *by_time],
    )


@dataclass
class _Counted:
    """Every record counted once, before identities are taken into account."""

    hours: dict[tuple[int, int], tuple[int, int]]  # (site, local hour) → households, records
    origins: Counter[str]  # records by settlement of origin as typed
    population: Counter[tuple[int, str, int]]  # records by site, sex, age band
    record_needs: Counter[tuple[str, str]]  # records by need and sex


def _counted_from_records(on: date, offset: int, registered: str, by_time: list[Any]) -> _Counted:
    """The records registered by a moment, counted from the records."""
    band_sql, band_params = _age_band_sql(on)
    # Registrations by site and hour, and by settlement of origin: household columns, with each
    # household's records counted from its stored member count (no person rows read).
    hours: dict[tuple[int, int], tuple[int, int]] = {}
    origins: Counter[str] = Counter()
    for key, origin, total, household_count in _household_groups(offset, registered, by_time):
        count = int(total)  # PostgreSQL sums bigints as numeric
        if key is None:
            origins[origin] += count
            continue
        site_id, index = divmod(int(key), HOUR_KEY)
        hours[(site_id, index)] = (household_count, count)

    # Every record by site, sex, age band and needs: the one query that reads every record (on
    # SQLite from the index that holds the columns it groups by, not the wide rows).
    if by_time:  # the moment's households (a range of their time index), then their persons
        source = f"FROM {H} h JOIN {P} p {_PERSON_FIGURES()} ON p.household_id = h.id {registered}"
    else:
        source = f"FROM {P} p {_PERSON_FIGURES()}"
    population: Counter[tuple[int, str, int]] = Counter()
    record_needs: Counter[tuple[str, str]] = Counter()
    for key, needs, count in _rows(
        f"SELECT {_person_key('p', band_sql)}, p.specific_needs, COUNT(*) {source} GROUP BY 1, 2",
        [*band_params, *by_time],
    ):
        site_id, sex, band = _split_key(key)
        population[(site_id, sex, band)] += count
        for code in _codes(needs):
            record_needs[(code, sex)] += count
    return _Counted(hours, origins, population, record_needs)


def _counted_from_tally(on: date, offset: int) -> _Counted:
    """Every record stored, counted from the tally kept on write (registry.tallies), ages on
    `on`. The tally counts records by year of birth: an age on `on` follows from the year, but
    for the years whose people reach a band's first age (5, 10, …, 80) in `on`'s year, those whose
    birthday has not yet come are one band younger; they are counted from an index of the
    persons by date of birth (one year in five, the part of it after `on`'s day)."""
    hours: dict[tuple[int, int], tuple[int, int]] = {}
    origins: Counter[str] = Counter()
    by_year: Counter[tuple[int, str, int]] = Counter()
    record_needs: Counter[tuple[str, str]] = Counter()
    shift = offset // 3600
    for kind, site_id, hour, sex, year, text, household_count, count in (
        FigureTally.objects.exclude(households=0, persons=0)
        .order_by()
        .values_list(
            "kind", "site_id", "hour", "sex", "birth_year", "text", "households", "persons"
        )
    ):
        sex = sex if sex in SEXES else ""
        if kind == FigureTally.Kind.HOUR:
            hours[(site_id, hour + shift)] = (household_count, count)
        elif kind == FigureTally.Kind.ORIGIN:
            origins[text] += count
        elif kind == FigureTally.Kind.PEOPLE:
            by_year[(site_id, sex, year)] += count
        else:
            for code in _codes(text):
                record_needs[(code, sex)] += count
    turning = [on.year - age for age in range(BAND_YEARS, OLDEST_BAND_FROM + 1, BAND_YEARS)]
    waiting: Counter[tuple[int, str, int]] = Counter()
    for key, year, count in _rows(
        f"SELECT {_person_key('p', '0')}, p.birth_year, COUNT(*) FROM {P} p"  # noqa: S608 - table names from the models
        f" WHERE p.birth_year IN ({', '.join(['%s'] * len(turning))})"
        " AND (p.birth_month > %s OR (p.birth_month = %s AND COALESCE(p.birth_day, 1) > %s))"
        " GROUP BY 1, 2",
        [*turning, on.month, on.month, on.day],
    ):
        site_id, sex, _ = _split_key(key)
        waiting[(site_id, sex, year)] += count
    population: Counter[tuple[int, str, int]] = Counter()
    for (site_id, sex, year), count in by_year.items():
        age = on.year - year
        later = waiting[(site_id, sex, year)]
        population[(site_id, sex, band_of_age(age))] += count - later
        if later:
            population[(site_id, sex, band_of_age(age - 1))] += later
    return _Counted(hours, origins, +population, record_needs)


def _people_at(
    until: datetime,
    on: date,
    zone: ZoneInfo,
    top_origins: int,
    *,
    everyone: bool,
    from_tally: bool = True,
) -> _People:
    """Everything about the people registered by `until` (`everyone`: every record stored, as
    `until` is the last registration), ages on the date `on`. Everyone is counted from the tally
    kept on write (registry.FigureTally) unless `from_tally` is false or the zone's offset is not
    whole hours (the tally keeps UTC hours); a past moment from the records."""
    sites = {
        pk: (code, province)
        for pk, code, province in Site.objects.values_list("pk", "code", "province")
    }
    by_time = [] if everyone else [_moment(until)]
    registered = "" if everyone else "WHERE h.registered_at <= %s"
    band_sql, band_params = _age_band_sql(on)
    offset = int((until.astimezone(zone).utcoffset() or timedelta()).total_seconds())
    if everyone and from_tally and offset % 3600 == 0:
        counted = _counted_from_tally(on, offset)
    else:
        counted = _counted_from_records(on, offset, registered, by_time)
    hourly: dict[tuple[str, datetime], float] = defaultdict(float)
    households: Counter[int] = Counter()
    registrations = 0
    for (site_id, index), (household_count, count) in counted.hours.items():
        households[site_id] += household_count
        start = datetime.fromtimestamp(index * 3600 - offset, UTC).astimezone(zone)
        hourly[(sites[site_id][0], start)] += count
        registrations += count
    daily: dict[tuple[str, datetime], float] = defaultdict(float)
    for (code, start), people in hourly.items():
        daily[(code, _day_start(start, zone))] += people
    origin_counts, population, record_needs = (
        counted.origins,
        counted.population,
        counted.record_needs,
    )

    # Records whose identity other records may share (see _LINKED), in one statement: those
    # that are not the first of their identity (taken away from the counts above), and the needs
    # of the shared identities (each record's taken away, each identity's added back, by the sex
    # of its first record). A few percent of the records; SQLite finds them by the identity
    # index, PostgreSQL by a parallel scan.
    codes = _needs_codes("m.needs", "n")
    later_records = 0
    for kind, key, text, sex, count in _rows(
        f"WITH m AS (SELECT p.id, p.identity, p.household_id, p.site_id, p.sex,"  # noqa: S608 - table names from the models
        f" {band_sql} AS band, p.specific_needs AS needs,"
        " ROW_NUMBER() OVER (PARTITION BY p.identity ORDER BY p.id) AS rn"
        f" FROM {P} p {f'JOIN {H} h ON h.id = p.household_id' if by_time else ''}"
        f" WHERE p.identity IN ({_LINKED}) {registered.replace('WHERE', 'AND')})"
        f" SELECT 'later', {_person_key('m', 'm.band')}, o.origin_settlement, NULL, COUNT(*)"
        f" FROM m JOIN {H} o ON o.id = m.household_id WHERE m.rn > 1 GROUP BY 2, 3"
        " UNION ALL SELECT 'record', NULL, n.value, m.sex, COUNT(DISTINCT m.id)"
        f" FROM m CROSS JOIN {codes} GROUP BY 3, 4"
        " UNION ALL SELECT 'identity', NULL, x.code, f.sex, COUNT(*)"
        f" FROM (SELECT DISTINCT m.identity, n.value AS code FROM m CROSS JOIN {codes}) x"
        " JOIN m f ON f.identity = x.identity AND f.rn = 1 GROUP BY 3, 4",
        [*band_params, *by_time],
    ):
        if kind == "later":
            site_id, record_sex, band = _split_key(key)
            population[(site_id, record_sex, band)] -= count
            origin_counts[text] -= count
            later_records += count
        else:
            record_needs[(text, sex)] += count if kind == "identity" else -count
    origins, other, unknown = _top_places(origin_counts, top_origins)

    people_by_site: Counter[int] = Counter()
    for (site_id, _, _), n in population.items():
        people_by_site[site_id] += n
    return _People(
        registrations=registrations,
        unique_people=registrations - later_records,
        households=sum(households.values()),
        registrations_hourly=_buckets(hourly),
        registrations_daily=_buckets(daily),
        pyramid=tuple(
            PyramidRow(
                band=label,
                female=sum(n for (_, sex, b), n in population.items() if b == i and sex == "F"),
                male=sum(n for (_, sex, b), n in population.items() if b == i and sex == "M"),
            )
            for i, label in enumerate(BANDS)
        ),
        needs=_need_counts(record_needs),
        origins=origins,
        origins_other=other,
        origins_unknown=unknown,
        host_provinces=_by_province(people_by_site, sites),
        households_by_province=_by_province(households, sites),
        population=_population_cells(population, sites),
    )


def _codes(value: Any) -> set[str]:
    """The codes of a stored specific_needs value (a list; SQLite returns it as JSON text)."""
    if isinstance(value, str):
        value = json.loads(value)
    return {str(code) for code in value or ()}


def _need_counts(counts: Counter[tuple[str, str]]) -> tuple[NeedCount, ...]:
    codes = sorted({code for code, _ in counts})
    result = []
    for code in codes:
        female, male = counts[(code, "F")], counts[(code, "M")]
        if female + male > 0:
            result.append(NeedCount(code=code, persons=female + male, female=female, male=male))
    return tuple(result)


def _by_province(
    per_site: dict[int, int], sites: dict[int, tuple[str, str]]
) -> tuple[PlaceCount, ...]:
    totals: Counter[str] = Counter()
    for site_id, n in per_site.items():
        totals[sites[site_id][1]] += n
    return tuple(
        PlaceCount(name=name, persons=n)
        for name, n in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
        if n
    )


def _population_cells(
    population: Counter[tuple[int, str, int]], sites: dict[int, tuple[str, str]]
) -> tuple[PopulationCell, ...]:
    cells: Counter[tuple[str, str, int]] = Counter()
    for (site_id, sex, band), n in population.items():
        cells[(sites[site_id][1], sex, band)] += n
    return tuple(
        PopulationCell(province=province, sex=sex, band=BANDS[band], persons=n)
        for (province, sex, band), n in sorted(cells.items())
        if n
    )


@cache
def _place_names() -> dict[str, str]:
    """The common Latin name of each listed settlement, by its key."""
    return {origin_key(armenian): latin for armenian, latin, _ in settlements_nk()}


def _top_places(counts: Counter[str], top: int) -> tuple[tuple[PlaceCount, ...], int, int]:
    """Settlements as typed, joined by place (any script or spelling), the `top` most frequent
    first; then everyone from the other places, and everyone whose place was not recorded."""
    names = _place_names()
    by_place: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    unknown = 0
    for text, n in counts.items():
        key = origin_key(text) if text and text.strip() else ""
        if not key:
            unknown += n
            continue
        by_place[key] += n
        spellings[key][text.strip()] += n
    ranked = sorted(by_place.items(), key=lambda item: (-item[1], item[0]))
    shown = [
        PlaceCount(name=names.get(key) or spellings[key].most_common(1)[0][0], persons=n)
        for key, n in ranked[:top]
        if n > 0
    ]
    other = sum(n for _, n in ranked[top:])
    return tuple(shown), other, unknown


# --- the timeline --------------------------------------------------------------------------------


def timeline(start: datetime, end: datetime, step: timedelta) -> Timeline:
    """Cumulative crossings, registrations, unique people and backlog at start, start + step, …
    (the last moment at or before end). One query per series, then cumulative sums."""
    _check_aware(start=start, end=end)
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    if end < start:
        raise ValueError("end must not be before start")
    steps = int((end - start) / step) + 1
    if steps > MAX_TIMELINE_STEPS:
        raise ValueError(f"{steps} steps is more than {MAX_TIMELINE_STEPS}: take a longer step")
    zone = _zone()
    start = start.astimezone(zone)
    moments = tuple(start + i * step for i in range(steps))
    with _reading():
        key = ("timeline", data_version(), start, step, steps)
        hit = cached(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]  # stored by this function
        crossed = _crossings_series(moments)
        registrations, unique = _people_series(moments, step)
    crossings_int = np.rint(crossed).astype(np.int64)
    result = Timeline(
        moments=moments,
        crossings=tuple(int(v) for v in crossings_int),
        registrations=tuple(int(v) for v in registrations),
        unique_people=tuple(int(v) for v in unique),
        backlog=tuple(int(v) for v in np.maximum(crossings_int - unique, 0)),
    )
    remember(key, result)
    return result


def _crossings_series(moments: tuple[datetime, ...]) -> NDArray[np.float64]:
    rows = _crossing_rows(moments[-1])
    if not rows:
        return np.zeros(len(moments))
    at = np.array([m.timestamp() for m in moments])
    starts = np.array([row[1].timestamp() for row in rows])
    ends = np.array([row[2].timestamp() for row in rows])
    people = np.array([row[3] for row in rows], dtype=np.float64)
    # The passed part of each period at each moment (rows × moments), weighted by its people.
    passed = np.clip((at[None, :] - starts[:, None]) / (ends - starts)[:, None], 0.0, 1.0)
    return (people[:, None] * passed).sum(axis=0)  # type: ignore[no-any-return]  # float array


def _people_series(
    moments: tuple[datetime, ...], step: timedelta
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Records and unique people registered by each moment: each record (or identity, at its
    first registration) is counted from the first moment at or after it."""
    start_us = (moments[0] - EPOCH) // timedelta(microseconds=1)
    step_us = step // timedelta(microseconds=1)
    end = _moment(moments[-1])

    def index_of(column: str) -> str:
        at = _epoch_micros(column)
        return f"CASE WHEN {at} <= %s THEN 0 ELSE ({at} - %s + %s - 1) / %s END"

    index_params = [start_us, start_us, step_us, step_us]
    records = _rows(  # households' records from their member counts, as above
        f"SELECT {index_of('h.registered_at')}, SUM(h.member_count) FROM {H} h"  # noqa: S608 - table names from the models
        " WHERE h.registered_at <= %s GROUP BY 1",
        [*index_params, end],
    )
    # Records whose identity others may share: each counted at its registration, and each
    # identity at its first.
    shared = _rows(
        f"WITH m AS (SELECT p.identity, h.registered_at AS at FROM {P} p"  # noqa: S608 - table names from the models
        f" JOIN {H} h ON h.id = p.household_id"
        f" WHERE p.identity IN ({_LINKED}) AND h.registered_at <= %s)"
        f" SELECT 0, {index_of('m.at')}, COUNT(*) FROM m GROUP BY 2"
        f" UNION ALL SELECT 1, {index_of('f.first_at')}, COUNT(*)"
        " FROM (SELECT MIN(m.at) AS first_at FROM m GROUP BY m.identity) f GROUP BY 2",
        [end, *index_params, *index_params],
    )
    shared_records = [(index, count) for kind, index, count in shared if kind == 0]
    shared_first = [(index, count) for kind, index, count in shared if kind == 1]
    size = len(moments)

    def per_step(rows: list[tuple[Any, ...]]) -> NDArray[np.int64]:
        counts = np.zeros(size, dtype=np.int64)
        for index, count in rows:
            counts[min(int(index), size - 1)] += int(count)
        return counts

    records_per_step = per_step(records)
    unique_per_step = records_per_step - per_step(shared_records) + per_step(shared_first)
    return np.cumsum(records_per_step), np.cumsum(unique_per_step)
