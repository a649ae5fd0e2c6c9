"""The running counts behind the situation figures (registry.FigureTally), kept on write.

The registration actions add each batch's households and records to the tally in the batch's own
transaction, and a correction of sex, date of birth or needs moves its record from one count to
another; `haven.reports.figures` then reads the situation after the last registration from a few
thousand tally rows instead of every record. Nothing else writes households or persons
(`haven.registry.actions` is the only writer), so the tally and the records cannot drift; the
figures' tests compare the two on every kind of change.

Age bands: a record is counted in its five-year band on the local date (settings.TIME_ZONE) of its
registration, and carries the date its band next changes (`Person.band_changes_on`, YYYYMMDD as a
number); a reader on a later date moves the records whose date has come, a small indexed range
(during a two-week influx under 1 % of the records).

Counts are added with INSERT … ON CONFLICT DO UPDATE (SQLite 3.24+ and PostgreSQL alike), keys in
sorted order so that concurrent batches on PostgreSQL wait for each other instead of deadlocking.
"""

import json
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from haven.registry.models import FigureTally, Household, Person

BAND_YEARS = 5
OLDEST_BAND_FROM = 80  # 80 and over is one band
BANDS: tuple[str, ...] = (
    *(f"{a}-{a + BAND_YEARS - 1}" for a in range(0, OLDEST_BAND_FROM, BAND_YEARS)),
    f"{OLDEST_BAND_FROM}+",
)
LAST_BAND = len(BANDS) - 1

# (kind, site_id, hour, sex, band, text) → (households, persons)
Key = tuple[str, int, int, str, int, str]
Counts = Counter[Key]


def date_number(on: date) -> int:
    return on.year * 10000 + on.month * 100 + on.day


def born_number(year: int, month: int | None, day: int | None) -> int:
    """A date of birth as YYYYMMDD, a month or day not known read as the first."""
    return year * 10000 + (month or 1) * 100 + (day or 1)


def band_index(born: int, on: int) -> int:
    """The five-year band of an age in whole years on `on` (both YYYYMMDD numbers): the same
    arithmetic as the figures' SQL (the difference divided by 10,000 is the age in years)."""
    gap = on - born
    if gap < 0:
        return 0
    if gap >= OLDEST_BAND_FROM * 10000:
        return LAST_BAND
    return gap // (BAND_YEARS * 10000)


def band_changes_on(born: int, band: int) -> int | None:
    """The first date (YYYYMMDD) on which someone born `born` is past `band`; None for the last."""
    if band >= LAST_BAND:
        return None
    return born + BAND_YEARS * (band + 1) * 10000


def registration_date(registered_at: datetime) -> int:
    """The local calendar date of a registration, as the figures count days."""
    return date_number(registered_at.astimezone(ZoneInfo(settings.TIME_ZONE)).date())


def needs_text(needs: Any) -> str:
    """Specific needs as one canonical text: the distinct codes, sorted, as a JSON list."""
    if isinstance(needs, str):
        needs = json.loads(needs)
    return json.dumps(sorted({str(code) for code in needs or ()}))


def hour_of(registered_at: datetime) -> int:
    """Whole hours since 1970-01-01 UTC."""
    return int(registered_at.timestamp()) // 3600


def people_key(
    site_id: int, sex: str, born: int, registered_on: int, needs: Any
) -> tuple[Key, int | None]:
    """A record's "people" key and the date its band changes."""
    band = band_index(born, registered_on)
    return (
        (FigureTally.Kind.PEOPLE.value, site_id, 0, sex, band, needs_text(needs)),
        band_changes_on(born, band),
    )


def household_keys(site_id: int, registered_at: datetime, origin: str) -> tuple[Key, Key]:
    return (
        (FigureTally.Kind.HOUR.value, site_id, hour_of(registered_at), "", 0, ""),
        (FigureTally.Kind.ORIGIN.value, site_id, 0, "", 0, origin),
    )


def add(households: Counts, persons: Counts) -> None:
    """Add to the tally, in the caller's transaction."""
    keys = sorted(set(households) | set(persons))
    rows = [
        (*key, households[key], persons[key]) for key in keys if households[key] or persons[key]
    ]
    if not rows:
        return
    table = connection.ops.quote_name(FigureTally._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (kind, site_id, hour, sex, band, text, households, persons)"  # noqa: S608 - our table name
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (kind, site_id, hour, sex, band, text) DO UPDATE SET"
            f" households = {table}.households + excluded.households,"
            f" persons = {table}.persons + excluded.persons",
            rows,
        )


def count_new(households: Sequence[Household], person_rows: Sequence[dict[str, Any]]) -> None:
    """Add newly written households and their records to the tally, in the caller's
    transaction; sets each person row's band_changes_on (call it before inserting the rows)."""
    by_id = {household.pk: household for household in households}
    household_counts: Counts = Counter()
    person_counts: Counts = Counter()
    for household in households:
        hour, origin = household_keys(
            household.site_id, household.registered_at, household.origin_settlement
        )
        household_counts[hour] += 1
        person_counts[hour] += household.member_count
        person_counts[origin] += household.member_count
    registered_on = {pk: registration_date(h.registered_at) for pk, h in by_id.items()}
    for row in person_rows:
        key, changes = people_key(
            row["site_id"],
            row["sex"],
            born_number(row["birth_year"], row["birth_month"], row["birth_day"]),
            registered_on[row["household_id"]],
            row["specific_needs"],
        )
        row["band_changes_on"] = changes
        person_counts[key] += 1
    add(household_counts, person_counts)


def recount(before: Key, after: Key) -> None:
    """Move one record from one "people" count to another (a correction)."""
    if before != after:
        add(Counter(), Counter({before: -1, after: 1}))


def person_key(person: Person, registered_at: datetime) -> tuple[Key, int | None]:
    """A stored record's "people" key as it stands, and the date its band changes."""
    return people_key(
        person.site_id,
        person.sex,
        born_number(person.birth_year, person.birth_month, person.birth_day),
        registration_date(registered_at),
        person.specific_needs,
    )


REBUILD_CHUNK = 5000


def rebuild() -> tuple[int, int]:
    """Count everything stored afresh (the migration that made the tally, or a repair): the tally
    emptied and refilled, each person's band change date rewritten. Returns (households,
    persons) counted. Reads only the columns that existed when the tally was made, in id order,
    a few thousand rows at a time."""
    FigureTally.objects.all().delete()
    table = connection.ops.quote_name(Person._meta.db_table)
    household_counts: Counts = Counter()
    person_counts: Counts = Counter()
    registered: dict[int, int] = {}
    household_total = 0
    for pk, site_id, at, origin, members in (
        Household.objects.order_by("pk")
        .values_list("pk", "site_id", "registered_at", "origin_settlement", "member_count")
        .iterator(chunk_size=REBUILD_CHUNK)
    ):
        hour, origin_count = household_keys(site_id, at, origin)
        household_counts[hour] += 1
        person_counts[hour] += members
        person_counts[origin_count] += members
        registered[pk] = registration_date(at)
        household_total += 1
    person_total = 0
    changes: list[tuple[int | None, int]] = []
    with connection.cursor() as cursor:
        for pk, household_id, site_id, sex, year, month, day, needs in (
            Person.objects.order_by("pk")
            .values_list(
                "pk",
                "household_id",
                "site_id",
                "sex",
                "birth_year",
                "birth_month",
                "birth_day",
                "specific_needs",
            )
            .iterator(chunk_size=REBUILD_CHUNK)
        ):
            key, changes_on = people_key(
                site_id, sex, born_number(year, month, day), registered[household_id], needs
            )
            person_counts[key] += 1
            changes.append((changes_on, pk))
            person_total += 1
            if len(changes) >= REBUILD_CHUNK:
                cursor.executemany(
                    f"UPDATE {table} SET band_changes_on = %s WHERE id = %s",  # noqa: S608 - our table name
                    changes,
                )
                changes.clear()
        if changes:
            cursor.executemany(
                f"UPDATE {table} SET band_changes_on = %s WHERE id = %s",  # noqa: S608 - our table name
                changes,
            )
    add(household_counts, person_counts)
    return household_total, person_total
