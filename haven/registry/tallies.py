"""The running counts behind the situation figures (registry.FigureTally), kept on write.

The registration actions add each batch's households and records to the tally in the batch's own
transaction, and a correction of sex, date of birth or needs moves its record from one count to
another; `haven.reports.figures` then reads the situation after the last registration from a few
thousand tally rows instead of every record. Nothing else writes households or persons
(`haven.registry.actions` is the only writer), so the tally and the records cannot drift; the
figures' tests compare the two after every kind of change, and `rebuild` counts afresh.

Records are tallied by year of birth, not by age: an age band on a given date follows from the
year alone except in the years whose people reach a band's first age that year (one year in
five), where it depends on whether their birthday has come; the figures read those from an index.

Counts are added with INSERT … ON CONFLICT DO UPDATE (SQLite 3.24+ and PostgreSQL alike), keys in
sorted order so that concurrent batches on PostgreSQL wait for each other instead of deadlocking.
"""

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from haven.registry.models import FigureTally, Household, Person

BAND_YEARS = 5
OLDEST_BAND_FROM = 80  # 80 and over is one band
BANDS: tuple[str, ...] = (
    *(f"{a}-{a + BAND_YEARS - 1}" for a in range(0, OLDEST_BAND_FROM, BAND_YEARS)),
    f"{OLDEST_BAND_FROM}+",
)
LAST_BAND = len(BANDS) - 1

# (kind, site_id, hour, sex, birth_year, text); counted as (households, persons)
Key = tuple[str, int, int, str, int, str]
Counts = Counter[Key]


def band_of_age(age: int) -> int:
    """The five-year band of an age in whole years (below 0 counts as 0)."""
    return min(max(age, 0) // BAND_YEARS, LAST_BAND)


def needs_text(needs: Any) -> str:
    """Specific needs as one canonical text: the distinct codes, sorted, as a JSON list ("" if
    none)."""
    if isinstance(needs, str):
        needs = json.loads(needs)
    codes = sorted({str(code) for code in needs or ()})
    return json.dumps(codes) if codes else ""


def hour_of(registered_at: datetime) -> int:
    """Whole hours since 1970-01-01 UTC."""
    return int(registered_at.timestamp()) // 3600


def household_keys(site_id: int, registered_at: datetime, origin: str) -> tuple[Key, Key]:
    return (
        (FigureTally.Kind.HOUR.value, site_id, hour_of(registered_at), "", 0, ""),
        (FigureTally.Kind.ORIGIN.value, site_id, 0, "", 0, origin),
    )


def person_keys(site_id: int, sex: str, birth_year: int, needs: Any) -> list[Key]:
    """The counts one record is in: its year of birth, and its needs if it has any."""
    keys = [(FigureTally.Kind.PEOPLE.value, site_id, 0, sex, birth_year, "")]
    text = needs_text(needs)
    if text:
        keys.append((FigureTally.Kind.NEEDS.value, site_id, 0, sex, 0, text))
    return keys


def stored_person_keys(person: Person) -> list[Key]:
    return person_keys(person.site_id, person.sex, person.birth_year, person.specific_needs)


def add(households: Counts, persons: Counts) -> None:
    """Add to the tally, in the caller's transaction."""
    keys = sorted(set(households) | set(persons))
    rows = [(*k, households[k], persons[k]) for k in keys if households[k] or persons[k]]
    if not rows:
        return
    table = connection.ops.quote_name(FigureTally._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (kind, site_id, hour, sex, birth_year, text, households,"  # noqa: S608 - our table name
            " persons) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (kind, site_id, hour, sex, birth_year, text) DO UPDATE SET"
            f" households = {table}.households + excluded.households,"
            f" persons = {table}.persons + excluded.persons",
            rows,
        )


def _counted(
    households: Iterable[tuple[int, datetime, str, int]],
    persons: Iterable[tuple[int, str, int, Any]],
) -> tuple[Counts, Counts, int, int]:
    """Households (site, registered_at, origin, members) and records (site, sex, birth year,
    needs) counted; with how many of each."""
    household_counts: Counts = Counter()
    person_counts: Counts = Counter()
    household_total = person_total = 0
    for site_id, registered_at, origin, members in households:
        hour, origin_key = household_keys(site_id, registered_at, origin)
        household_counts[hour] += 1
        person_counts[hour] += members
        person_counts[origin_key] += members
        household_total += 1
    for site_id, sex, birth_year, needs in persons:
        for key in person_keys(site_id, sex, birth_year, needs):
            person_counts[key] += 1
        person_total += 1
    return household_counts, person_counts, household_total, person_total


def count_new(households: Sequence[Household], person_rows: Sequence[dict[str, Any]]) -> None:
    """Add newly written households and their records (rows as the actions insert them) to the
    tally, in the caller's transaction."""
    household_counts, person_counts, _, _ = _counted(
        ((h.site_id, h.registered_at, h.origin_settlement, h.member_count) for h in households),
        (
            (row["site_id"], row["sex"], row["birth_year"], row["specific_needs"])
            for row in person_rows
        ),
    )
    add(household_counts, person_counts)


def recount(before: list[Key], after: list[Key]) -> None:
    """Move one record from the counts it was in to those it is in now (a correction)."""
    moved: Counts = Counter(after)
    moved.subtract(before)
    add(Counter(), moved)


REBUILD_CHUNK = 5000


def rebuild() -> tuple[int, int]:
    """Count everything stored afresh (the migration that made the tally, or a repair): the tally
    emptied and refilled. Returns (households, persons) counted. Reads only the columns that
    existed when the tally was made, a few thousand rows at a time."""
    FigureTally.objects.all().delete()
    household_counts, person_counts, household_total, person_total = _counted(
        Household.objects.order_by()
        .values_list("site_id", "registered_at", "origin_settlement", "member_count")
        .iterator(chunk_size=REBUILD_CHUNK),
        Person.objects.order_by()
        .values_list("site_id", "sex", "birth_year", "specific_needs")
        .iterator(chunk_size=REBUILD_CHUNK),
    )
    add(household_counts, person_counts)
    return household_total, person_total
