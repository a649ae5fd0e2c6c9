"""Which writing system a name is typed in, and whether it is a plausible name at all.

Registrars type names as people say them: in Armenian script, in Russian Cyrillic, or in one of
several Latin spellings. Haven keeps the name exactly as typed and records its script, so later
steps (transliteration, matching) know what they are reading.
"""

import enum
import unicodedata
from functools import lru_cache


class Script(enum.StrEnum):
    ARMENIAN = "armenian"
    CYRILLIC = "cyrillic"
    LATIN = "latin"
    MIXED = "mixed"
    NONE = ""


_SCRIPT_PREFIXES = {
    "ARMENIAN": Script.ARMENIAN,
    "CYRILLIC": Script.CYRILLIC,
    "LATIN": Script.LATIN,
}

# Punctuation that belongs inside names: hyphenated and apostrophised names, and the Armenian
# apostrophe-like marks that transliterations use for aspirated consonants (T’ovmasyan).
NAME_PUNCTUATION = frozenset(" -'’ʼ‘`.")


@lru_cache(maxsize=4096)
def letter_script(char: str) -> Script | None:
    """The script of one letter, or None for a character that is not a letter of a known script."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    for prefix, script in _SCRIPT_PREFIXES.items():
        if name.startswith(prefix):
            return script
    return None


@lru_cache(maxsize=65536)  # names repeat: a registry is mostly its few thousand commonest names
def detect_script(text: str) -> Script:
    """The script a name is written in; MIXED when letters of several scripts appear."""
    found: set[Script] = set()
    for char in unicodedata.normalize("NFC", text):
        script = letter_script(char)
        if script is not None:
            found.add(script)
    if not found:
        return Script.NONE
    if len(found) > 1:
        return Script.MIXED
    return found.pop()


def name_problem(text: str, *, max_length: int = 100) -> str | None:
    """Why a typed name cannot be stored, said to the person who typed it; None if it is fine."""
    if len(text) > max_length:
        # Checked before the cache, so that oversized input never fills it.
        return f"must be at most {max_length} characters (it has {len(text)})"
    return _short_name_problem(text)


@lru_cache(maxsize=65536)
def _short_name_problem(text: str) -> str | None:
    if not text.strip():
        return "must not be empty"
    for char in text:
        category = unicodedata.category(char)
        if category.startswith("C"):
            return f"contains a control or invisible character (U+{ord(char):04X})"
    letters = 0
    for char in unicodedata.normalize("NFC", text):
        if char in NAME_PUNCTUATION:
            continue
        if unicodedata.category(char) == "Mn":
            continue  # combining accents typed separately
        if letter_script(char) is None:
            return (
                f"contains {char!r}, which is not a letter of the Armenian, Cyrillic or Latin"
                " alphabet"
            )
        letters += 1
    if letters == 0:
        return "must contain at least one letter"
    if detect_script(text) is Script.MIXED:
        return "mixes alphabets (Armenian, Cyrillic, Latin) in one name; type it in one alphabet"
    return None
