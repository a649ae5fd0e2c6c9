"""Armenian and Russian Cyrillic names written in Latin letters.

Three ways of writing Armenian in Latin letters meet in a registry: ISO 9985 (one letter for one
letter, with diacritics), BGN/PCGN (digraphs, aspirates marked with ’, positional ե/ո/և) and what
Armenian passports print (BGN without the apostrophes, ռ as r: Harutyunyan, Khachatryan). The
letter tables are the reference CSV files in `data/`; only the positional rules, which those files
state in prose, are code. Russian Cyrillic uses one conventional scheme (х kh, ц ts, ю yu, я ya).

Everything keeps the input's case (Խ → Kh, ԽԱՉ → KHACH), spaces and hyphens; characters of other
scripts pass through unchanged.
"""

import csv
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

System = Literal["iso9985", "bgn", "passport"]

DATA_DIR = Path(__file__).resolve().parent / "data"

# The vowel letters after which BGN/PCGN writes ե as ye and և as yev (the table's context rule);
# ու counts too, and is recognised by its second letter ւ following ո.
_ARMENIAN_VOWELS = frozenset("աեէըիոօ")
_ARMENIAN_HYPHEN = "\u058a"

# Russian Cyrillic, the scheme Russian-speaking registrars' Latin spellings follow
# (Арутюнян → Arutyunyan, Хачатрян → Khachatryan, Агаджанян → Agadzhanyan).
_CYRILLIC = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "yo",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    # Letters of neighbouring Cyrillic alphabets that turn up in names typed on Ukrainian or
    # Belarusian keyboards.
    "і": "i",
    "ї": "yi",
    "є": "ye",
    "ґ": "g",
    "ў": "u",
}


@dataclass(frozen=True)
class _Letter:
    """How one Armenian letter (or the digraph ու, or և) is written in one system."""

    plain: str  # the usual value
    positional: str  # the value word-initially (and, for ե/և, after a vowel); = plain if none
    upper: str  # the value of the capital letter, when the table gives it (ISO 9985)


@cache
def _table(system: System) -> dict[str, _Letter]:
    """The letter table of one system, keyed by lower-case Armenian (ու and և included)."""
    if system == "iso9985":
        return _iso_table()
    return _bgn_table(passport=system == "passport")


def _iso_table() -> dict[str, _Letter]:
    letters: dict[str, _Letter] = {}
    with (DATA_DIR / "translit_iso9985.csv").open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            lower = unicodedata.normalize("NFC", row["latin_lower"])
            upper = unicodedata.normalize("NFC", row["latin_upper"])
            letters[row["armenian_lower"]] = _Letter(lower, lower, upper)
    return letters


def _bgn_table(*, passport: bool) -> dict[str, _Letter]:
    letters: dict[str, _Letter] = {}
    column = "passport_style_practice" if passport else "latin_lower"
    with (DATA_DIR / "translit_bgn.csv").open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            value = row[column].strip().lower()
            if value.startswith("("):  # ւ: "not listed separately", it lives inside ու
                continue
            plain, _, positional = (part.strip() for part in value.partition("/"))
            letters[row["armenian_lower"]] = _Letter(plain, positional or plain, "")
    # Outside ու, ւ is classical spelling, where it is read v (Ղեւոնդ); the table leaves it out.
    letters.setdefault("ւ", _Letter("v", "v", ""))
    return letters


def _is_armenian(char: str) -> bool:
    return "\u0531" <= char <= "\u058a"


def _is_cyrillic(char: str) -> bool:
    return "\u0400" <= char <= "\u04ff"


def _cased(latin: str, *, upper: bool, all_caps: bool, table_upper: str = "") -> str:
    """A Latin value in the case of the letter it stands for."""
    if not upper or not latin:
        return latin
    if all_caps:
        return latin.upper()
    if table_upper:
        return table_upper
    return latin[0].upper() + latin[1:]


def _all_caps(text: str, start: int, end: int) -> bool:
    """Whether the capital letter text[start:end] stands in a word written in capitals: the next
    letter is a capital too, or (at the end of a word) the previous one is."""
    if end < len(text) and text[end].isalpha():
        return text[end].isupper()
    return start > 0 and text[start - 1].isalpha() and text[start - 1].isupper()


def _armenian(text: str, i: int, system: System) -> tuple[str, int]:
    """The Latin for the Armenian letter at text[i] (two letters for ու and եւ), and the index
    after it."""
    table = _table(system)
    char = text[i]
    lower = char.lower()
    following = text[i + 1].lower() if i + 1 < len(text) else ""
    end = i + 1
    key = lower
    if lower in "ոե" and following == "ւ":
        key = "ու" if lower == "ո" else "և"
        end = i + 2
    if char == _ARMENIAN_HYPHEN:
        return "-", end
    letter = table.get(key)
    if letter is None:  # Armenian punctuation: kept as typed
        return char, end
    value = letter.plain
    if letter.positional != letter.plain:
        previous = text[i - 1].lower() if i > 0 else ""
        word_initial = not previous.isalpha()
        after_vowel = previous in _ARMENIAN_VOWELS or (
            previous == "ւ" and i > 1 and text[i - 2].lower() == "ո"
        )
        if key == "ո":
            # vo at the start of a word, except the word ով ("who"), which is ov.
            after = text[i + 2] if i + 2 < len(text) else ""
            is_ov = following == "վ" and not after.isalpha()
            if word_initial and not is_ov:
                value = letter.positional
        elif word_initial or after_vowel:
            value = letter.positional
    upper = char != lower
    if not upper:
        return value, end
    return _cased(
        value,
        upper=True,
        all_caps=_all_caps(text, i, end),
        table_upper=letter.upper if value == letter.plain else "",
    ), end


def _transliterate(text: str, system: System, *, armenian: bool, cyrillic: bool) -> str:
    text = unicodedata.normalize("NFC", text)
    if any("\ufb13" <= char <= "\ufb17" for char in text):
        # The Armenian ligatures (ﬓ մն ...) are two letters each.
        text = "".join(
            unicodedata.normalize("NFKC", c) if "\ufb13" <= c <= "\ufb17" else c for c in text
        )
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if armenian and _is_armenian(char):
            latin, i = _armenian(text, i, system)
            out.append(latin)
            continue
        if cyrillic and _is_cyrillic(char):
            lower = char.lower()
            value = _CYRILLIC.get(lower)
            if value is None:
                out.append(char)
            else:
                out.append(_cased(value, upper=char != lower, all_caps=_all_caps(text, i, i + 1)))
            i += 1
            continue
        out.append(char)
        i += 1
    return unicodedata.normalize("NFC", "".join(out))


@lru_cache(maxsize=65536)
def armenian_to_latin(text: str, system: System = "passport") -> str:
    """Armenian letters in text written in Latin by ISO 9985, BGN/PCGN or passport practice."""
    return _transliterate(text, system, armenian=True, cyrillic=False)


@lru_cache(maxsize=65536)
def cyrillic_to_latin(text: str) -> str:
    """Russian Cyrillic letters in text written in Latin (х kh, ц ts, ж zh, ю yu, я ya, й y)."""
    return _transliterate(text, "passport", armenian=False, cyrillic=True)


@lru_cache(maxsize=65536)
def to_latin(text: str, system: System = "passport") -> str:
    """Text in any of Haven's scripts in Latin letters: Armenian by `system`, Cyrillic by the
    Russian scheme, Latin as it is (NFC); a name mixing scripts is converted letter by letter."""
    return _transliterate(text, system, armenian=True, cyrillic=True)
