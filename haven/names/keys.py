"""Comparable forms and phonetic keys of Armenian names, whatever script they were typed in.

One person's surname reaches Haven as Հովհաննիսյան, Hovhannisyan, Hovannisian, Ohanessian,
Оганесян or Oganesyan. `normalise` brings every spelling to plain lower-case Latin, for string
similarity; `name_key` goes further and gives all these spellings one key, for blocking and exact
agreement, while keeping different names apart (Khachatryan and Khachaturyan are two surnames, so
the key keeps vowels rather than reducing names to consonants).

How the key comes about, in order (each step is there for spellings in the reference lists):

1. Transliterate (Armenian by passport practice, Cyrillic by the Russian scheme) and `normalise`.
2. Family names: the patronymic suffix -yan/-ian/-jan/-ean is set aside, and so is the Karabakh
   -yants/-янц: it is the older, spoken form of the same suffix on the same family names, and
   people registered in Karabakh under -yants are registered in Armenia under -yan.
3. Word-initial sounds that Russian and Western Armenian write differently: հ is dropped (Russian
   does: Акоп, Арутюнян); Hovh-/Ohan-/Ovan-/Ogan- are one (Russian writes հ after ո as в or г);
   ո is vo or o (Voskanyan, Oskanian); Մհ- is Mh- or Mg- (Մհեր, Мгер).
4. Consonants in classes: voiced and voiceless are one (Western Armenian swaps them: Hagop/Hakob,
   Bedros/Petros, Dikran/Tigran, ջ/ճ), ղ/gh is g (Russian and Western Armenian write g or k); kh/x,
   ch/tch/j/dzh, sh, zh, ts/dz each one class; German spellings (Chatschatrjan) are recognised by
   their tsch. h is dropped except before a consonant, where Russian writes it х (Шахраманян).
5. Vowels: e, i and y are one (Hovhannisyan/Oganesyan, Gabrielyan/Gabriyelyan, Yeva/Eva), ou/ow/u
   are u, Russian ё after a consonant is e (Artyom/Artem); repeated letters count once.
6. A front vowel (e/i) between consonants in the last syllable is dropped, when the word has
   another vowel: Armenian drops it before an ending (Sargis → Sargsyan, Sargsi, the patronymic
   "of Sargis") and spellings disagree on it (Sarkisian, Nersessian/Nersisyan, Astghik/Asthik).

The keys are lower-case ASCII; their letters are classes (k is g/k/gh/q, c is ch/j, w is sh, j is
zh, q is ts/dz, x is kh), so a key is for comparing, not for showing.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from haven.names.translit import to_latin

Part = Literal["given", "family", "patronymic"]

# Letters that stand for a sound the Armenian transliterations write as a digraph: ISO 9985's
# č š ž ǰ ġ ç (and c’ for ց) would otherwise lose their meaning with their diacritics.
_LETTER_DIGRAPHS = str.maketrans(
    {
        "č": "ch",
        "š": "sh",
        "ž": "zh",
        "ǰ": "j",
        "ġ": "gh",
        "ç": "ts",
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "ı": "i",
    }
)
# Apostrophes and the marks that stand for them, including the aspiration mark of ISO 9985 and
# BGN/PCGN and the Armenian apostrophe.
_APOSTROPHES = "’'ʼ‘`´՚′"
_ISO_TS = re.compile(f"c[{_APOSTROPHES}]")  # ISO 9985 ց: c with its apostrophe
_NOT_LETTER = re.compile(r"[^a-z]+")


@lru_cache(maxsize=262144)
def normalise(text: str) -> str:
    """A name in plain lower-case ASCII Latin, whatever script it was typed in: transliterated,
    without accents or apostrophes, words separated by one space."""
    latin = unicodedata.normalize("NFC", to_latin(text).lower())
    latin = _ISO_TS.sub("ts", latin).translate(_LETTER_DIGRAPHS)
    decomposed = unicodedata.normalize("NFKD", latin)
    kept: list[str] = []
    for char in decomposed:
        if char in _APOSTROPHES or unicodedata.combining(char):
            continue
        kept.append(char if char.isascii() else " " if not char.isalpha() else "")
    return " ".join(_NOT_LETTER.sub(" ", "".join(kept)).split())


# --- the phonetic key ----------------------------------------------------------------------------

_VOWELS = "aeiouy"
_FAMILY_SUFFIX = re.compile(r"(?:[yie]|(?<=[^aeiouy])j)an(?:ts|tz|z|c)?$")
_GERMAN_INITIAL_CH = re.compile(r"^ch")
_HOV = re.compile(r"^h?o(?:vh|v|h|g)(?=[aeiouy])")  # Hovh-, Hov-, Oh-, Og- before a vowel
_INITIAL_H = re.compile(r"^h+")
_INITIAL_VO = re.compile(r"^vo(?=[^aeiouy])")  # Voskanyan / Oskanian
_INITIAL_MH = re.compile(r"^m[hg](?=[aeiouy])")  # Մհեր: Mher / Мгер
_RUSSIAN_YO = re.compile(r"(?<=[^aeiouy])[yi]o")  # Артём written Artyom, Artiom or Артем
_CONSONANT = re.compile(r"dzh|tch|dj|ch|zh|sh|kh|gh|ph|ts|tz|dz|ck|[bcdfgjkpqtwx]")
_CONSONANT_CLASS = {
    "dzh": "C",
    "tch": "C",
    "dj": "C",
    "ch": "C",
    "j": "C",
    "zh": "Z",
    "sh": "S",
    "kh": "X",
    "gh": "K",
    "ck": "K",
    "c": "K",
    "q": "K",
    "g": "K",
    "k": "K",
    "ph": "F",
    "f": "F",
    "ts": "Q",
    "tz": "Q",
    "dz": "Q",
    "b": "P",
    "p": "P",
    "d": "T",
    "t": "T",
    "w": "v",
}
_H_BEFORE_CONSONANT = re.compile(r"(?<=[aeiouy])h(?=[^aeiouyh])")
_REPEATS = re.compile(r"(.)\1+")
_STEM_FRONT_VOWEL = re.compile(r"(?<=[^aeou])e(?=[^aeou]+$)")
_KEY_LETTERS = str.maketrans(
    {"C": "c", "Z": "j", "S": "w", "X": "x", "K": "k", "F": "f", "Q": "q", "P": "p", "T": "t"}
)
_FRONT_VOWELS = str.maketrans({"i": "e", "y": "e"})


def _consonant_class(match: re.Match[str]) -> str:
    found = match.group()
    if found != "x":
        return _CONSONANT_CLASS[found]
    # x is kh in ISO 9985 and in Xachatryan, Mxitar; ks in Alex, Alexander.
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if not before or before not in _VOWELS or (after and after not in _VOWELS):
        return "X"
    return "Ks"


def _word_key(word: str, *, family: bool) -> str:
    suffix = ""
    if family:
        found = _FAMILY_SUFFIX.search(word)
        if found is not None and found.start() >= 2:
            word, suffix = word[: found.start()], "ean"
    if "tsch" in word:  # German spelling: tsch is ch, sch is sh, ch is kh, j is y
        word = word.replace("tsch", "č").replace("sch", "š")
        word = _GERMAN_INITIAL_CH.sub("kh", word).replace("j", "y")
        word = word.replace("č", "ch").replace("š", "sh")
    word = _HOV.sub("ov", word)
    word = _INITIAL_H.sub("", word)
    word = _INITIAL_VO.sub("o", word)
    word = _INITIAL_MH.sub("m", word)
    word = word.replace("ow", "u").replace("ou", "u").replace("ew", "ev")
    word = _RUSSIAN_YO.sub("e", word)
    word = _CONSONANT.sub(_consonant_class, word)
    word = _H_BEFORE_CONSONANT.sub("X", word).replace("h", "")
    word = _REPEATS.sub(r"\1", word.translate(_FRONT_VOWELS))
    if suffix or not family:
        dropped = _STEM_FRONT_VOWEL.sub("", word)
        if any(vowel in dropped for vowel in "aeou"):
            word = _REPEATS.sub(r"\1", dropped)
    return word.translate(_KEY_LETTERS) + suffix


@lru_cache(maxsize=262144)
def name_key(text: str, part: Part) -> str:
    """The phonetic key of a name: equal for the spellings of one Armenian name in Armenian,
    Latin and Cyrillic script; "" when the text has no letters to key."""
    if part == "patronymic":
        return name_key(patronymic_root(text), "given")
    family = part == "family"
    return "".join(_word_key(word, family=family) for word in normalise(text).split())


# Russian patronymic endings (Мгерович, Мгеровна, Сергеевич), longest first.
_RUSSIAN_PATRONYMIC = re.compile(r"(?:ovitch|evitch|ovich|evich|ovych|evych|ovna|evna)$")
# The Armenian genitive the patronymic is written in: Մհերի Mheri, Արայի Arayi, Վահեի Vahei.
_ARMENIAN_GENITIVE = re.compile(r"(?:(?<=[aeiou])y)?i$")


def _word_root(word: str) -> str:
    russian = _RUSSIAN_PATRONYMIC.search(word)
    if russian is not None and russian.start() >= 2:
        word = word[: russian.start()]
    genitive = _ARMENIAN_GENITIVE.search(word)
    if genitive is not None and genitive.start() >= 3:
        word = word[: genitive.start()]
    return word


@lru_cache(maxsize=65536)
def patronymic_root(text: str) -> str:
    """The father's given name inside a patronymic, normalised: Мгерович and Мгеровна → mger,
    Mheri and Մհերի → mher; a given name on its own is returned as it is (normalised)."""
    return " ".join(_word_root(word) for word in normalise(text).split())


@dataclass(frozen=True)
class NameForms:
    """What linkage compares of one name part: `latin` for string similarity (the normalised
    name; for a patronymic, the father's name inside it) and `key` for blocking and agreement."""

    latin: str
    key: str


@lru_cache(maxsize=262144)  # names repeat: a registry is mostly its few thousand commonest names
def name_forms(text: str, part: Part) -> NameForms:
    """The comparable forms of one name part, typed in any script."""
    latin = patronymic_root(text) if part == "patronymic" else normalise(text)
    return NameForms(latin=latin, key=name_key(text, part))
