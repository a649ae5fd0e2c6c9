"""A registered person as the linkage sees them: the columns read and the Features built from
them, one definition for the batch and the desk-time check."""

from collections.abc import Iterable
from typing import Any

from haven.identity.comparisons import WG_COLUMNS, Features, features

PERSON_COLUMNS = (
    "id",
    "household_id",
    "given_name",
    "family_name",
    "patronymic",
    "sex",
    "birth_year",
    "birth_month",
    "birth_day",
    "birth_year_estimated",
    "phone",
    "household__origin_settlement",
    "household__registered_at",
    "specific_needs",
    *WG_COLUMNS,
)


def person_features(row: tuple[Any, ...], documents: Iterable[str]) -> Features:
    """Features of a row of Person.objects.values_list(*PERSON_COLUMNS, ...)."""
    return features(
        unique_id=row[0],
        household_id=row[1],
        given_name=row[2],
        family_name=row[3],
        patronymic=row[4],
        sex=row[5],
        birth_year=row[6],
        birth_month=row[7],
        birth_day=row[8],
        birth_estimated=row[9],
        registered_year=row[12].year,
        phone=row[10],
        origin=row[11],
        documents=documents,
        needs=row[13] or (),
        functioning=row[14:20],
    )
