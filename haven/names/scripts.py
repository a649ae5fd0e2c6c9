"""Which writing system a name is typed in, and whether it is a plausible name at all.

Registrars type names as people say them: in Armenian script, in Russian Cyrillic, or in one of
several Latin spellings. Haven keeps the name exactly as typed and records its script, so later
steps (transliteration, matching) know what they are reading.
"""

import enum
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar


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


@dataclass(frozen=True)
class NameProblem:
    """Why a typed name cannot be stored: a code and its values, so that a caller with a
    translation catalogue can say it in the registrar's language; str() gives the English."""

    code: str
    values: tuple[tuple[str, str | int], ...] = ()

    # The English sentences, by code; the same %(name)s placeholders in every language.
    MESSAGES: ClassVar[dict[str, str]] = {
        "too_long": "must be at most %(max)s characters (it has %(length)s)",
        "empty": "must not be empty",
        "control": "contains a control or invisible character (%(codepoint)s)",
        "not_letter": "contains %(char)s, which is not a letter of the Armenian, Cyrillic or"
        " Latin alphabet",
        "no_letter": "must contain at least one letter",
        "mixed": "mixes alphabets (Armenian, Cyrillic, Latin) in one name; type it in one alphabet",
    }

    def render(self, template: str) -> str:
        return template % dict(self.values)

    def __str__(self) -> str:
        return self.render(self.MESSAGES[self.code])


def name_problem(text: str, *, max_length: int = 100) -> NameProblem | None:
    """Why a typed name cannot be stored; None if it is fine."""
    if len(text) > max_length:
        # Checked before the cache, so that oversized input never fills it.
        return NameProblem("too_long", (("max", max_length), ("length", len(text))))
    return _short_name_problem(text)


@lru_cache(maxsize=65536)
def _short_name_problem(text: str) -> NameProblem | None:
    if not text.strip():
        return NameProblem("empty")
    for char in text:
        category = unicodedata.category(char)
        if category.startswith("C"):
            return NameProblem("control", (("codepoint", f"U+{ord(char):04X}"),))
    letters = 0
    for char in unicodedata.normalize("NFC", text):
        if char in NAME_PUNCTUATION:
            continue
        if unicodedata.category(char) == "Mn":
            continue  # combining accents typed separately
        if letter_script(char) is None:
            return NameProblem("not_letter", (("char", repr(char)),))
        letters += 1
    if letters == 0:
        return NameProblem("no_letter")
    if detect_script(text) is Script.MIXED:
        return NameProblem("mixed")
    return None
