"""Settlements of origin typed in any script, reduced to one key per place.

"Մարտակերտի շրջան", "Martakert Province" and "Мартакертский район" are one place: every form
the reference table lists (Armenian, BGN/PCGN, ISO 9985, common Latin, Russian) maps to the key of
its Armenian name. A place the table does not know falls back to the phonetic key of what was
typed, so two spellings of an unlisted village still agree.
"""

import csv
import re
from functools import cache, lru_cache
from pathlib import Path

from haven.names import name_forms

PLACES_CSV = Path(__file__).resolve().parent.parent / "registry" / "data" / "places_nk.csv"
_NOTE = re.compile(r"\(.*?\)")


def _key(text: str) -> str:
    return name_forms(text, "given").key


@cache
def _known() -> dict[str, str]:
    known: dict[str, str] = {}
    with PLACES_CSV.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            canonical = _key(row["armenian"])
            if not canonical:
                continue
            for column in ("armenian", "bgn_pcgn", "iso9985", "common_latin", "russian"):
                cell = row.get(column) or ""
                forms = [cell.split("(")[0], *re.findall(r"also ([^)]+)\)", cell)]
                for form in (f.strip() for part in forms for f in part.split(";")):
                    key = _key(_NOTE.sub("", form))
                    if key:
                        known.setdefault(key, canonical)
    return known


@lru_cache(maxsize=8192)
def origin_key(text: str) -> str:
    """The place's key: the listed place it names, or the key of the text as typed."""
    key = _key(text) if text.strip() else ""
    return _known().get(key, key)
