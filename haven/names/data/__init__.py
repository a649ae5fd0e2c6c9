"""Reference tables haven.names reads, and what the phonetic key scores on them.

The CSV files are the ISO 9985 and BGN/PCGN Armenian letter tables and the commonest Armenian
surnames and given names, each with its spellings in ISO 9985, BGN/PCGN, common Latin variants and
Russian. The test of the key and the benchmark both measure it here, the same way: the share of
listed spellings whose key is the key of their name's Armenian form, and the pairs of different
names whose keys are equal.
"""

import csv
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DATA_DIR = Path(__file__).resolve().parent

ListName = Literal["surnames", "given_names"]

# "Ohanessian (W. Arm.)", "Oganesyan (from Russian, Wikipedia-style)": the notes are not spelling.
_NOTE = re.compile(r"\([^)]*\)")


@dataclass(frozen=True)
class ReferenceName:
    """One row of a reference list: an Armenian name and its other listed spellings (each once,
    the Armenian form itself not among them)."""

    armenian: str
    spellings: tuple[str, ...]


def reference_names(which: ListName) -> list[ReferenceName]:
    names: list[ReferenceName] = []
    with (DATA_DIR / f"{which}.csv").open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            # The one free-text remark in the variant column ("... . NOTE: a distinct Armenian
            # spelling ...") is not a spelling either.
            latin = row["common_latin_variants"].split(". NOTE")[0]
            listed = [row["iso9985"], row["bgn_pcgn"]]
            listed += [_NOTE.sub("", variant) for variant in latin.split(";")]
            listed += row["russian"].split(";")
            spellings: list[str] = []
            for spelling in (s.strip() for s in listed):
                if spelling and spelling != row["armenian"] and spelling not in spellings:
                    spellings.append(spelling)
            names.append(ReferenceName(row["armenian"], tuple(spellings)))
    return names


@dataclass(frozen=True)
class KeyScore:
    """How a key function does on one reference list."""

    spellings: int
    agreeing: int
    misses: tuple[tuple[str, str], ...]  # (Armenian form, spelling whose key differs)
    name_pairs: int
    colliding: tuple[tuple[str, str], ...]  # different names with one key
    # (name, its spelling, another name) where the spelling takes the other name's key
    confused: tuple[tuple[str, str, str], ...]

    @property
    def agreement(self) -> float:
        return self.agreeing / self.spellings if self.spellings else 1.0

    @property
    def collision_rate(self) -> float:
        return len(self.colliding) / self.name_pairs if self.name_pairs else 0.0


def score(names: list[ReferenceName], key: Callable[[str], str]) -> KeyScore:
    """Agreement of each name's spellings with its Armenian form's key, and collisions between
    the Armenian forms of different names."""
    keyed = [(key(name.armenian), name.armenian) for name in names]
    by_key = dict(keyed)
    misses: list[tuple[str, str]] = []
    confused: list[tuple[str, str, str]] = []
    spellings = 0
    for name in names:
        expected = key(name.armenian)
        for spelling in name.spellings:
            spellings += 1
            found = key(spelling)
            if found != expected:
                misses.append((name.armenian, spelling))
                if found in by_key:
                    confused.append((name.armenian, spelling, by_key[found]))
    colliding = [
        (first[1], second[1])
        for first, second in itertools.combinations(keyed, 2)
        if first[0] == second[0]
    ]
    return KeyScore(
        spellings=spellings,
        agreeing=spellings - len(misses),
        misses=tuple(misses),
        name_pairs=len(names) * (len(names) - 1) // 2,
        colliding=tuple(colliding),
        confused=tuple(confused),
    )


def all_spellings(names: list[ReferenceName]) -> Iterator[str]:
    for name in names:
        yield name.armenian
        yield from name.spellings
