"""Reference lists shipped with Haven: UNHCR specific-needs codes and the Washington Group set."""

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Code:
    code: str
    label: str


@cache
def specific_needs_codes() -> dict[str, Code]:
    with (DATA_DIR / "unhcr_specific_needs_codes.csv").open(encoding="utf-8") as f:
        return {row["code"]: Code(row["code"], row["label"]) for row in csv.DictReader(f)}


# The six Washington Group short-set domains, in questionnaire order, as stored on a person.
WG_DOMAINS: tuple[tuple[str, str], ...] = (
    ("seeing", "Difficulty seeing, even if wearing glasses"),
    ("hearing", "Difficulty hearing, even if using a hearing aid"),
    ("walking", "Difficulty walking or climbing steps"),
    ("remembering", "Difficulty remembering or concentrating"),
    ("selfcare", "Difficulty with self-care, such as washing all over or dressing"),
    ("communicating", "Difficulty communicating in the usual language"),
)
WG_ANSWERS = {
    1: "no difficulty",
    2: "some difficulty",
    3: "a lot of difficulty",
    4: "cannot do at all",
}


@cache
def settlements_nk() -> list[tuple[str, str, int]]:
    """Settlements of origin: (Armenian name, common Latin name, population)."""
    with (DATA_DIR / "places_nk.csv").open(encoding="utf-8") as f:
        rows = []
        for row in csv.DictReader(f):
            try:
                population = int(row["population"].replace(",", ""))
            except ValueError:
                continue
            latin = row["common_latin"].split("(")[0].strip()
            rows.append((row["armenian"], latin, population))
        return rows
