"""Properties of haven.names that hold for every input, checked on generated text.

Transliteration and keys run on whatever a registrar, an import or a partner system sends, so
they must never raise, must not depend on how the text is encoded (NFC or NFD, capitals, spaces),
and must do what the module says: ISO 9985 loses nothing, passport style and the Russian scheme
give plain ASCII, Latin text comes through unchanged.
"""

import csv
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from haven.names import (
    Part,
    Script,
    System,
    armenian_to_latin,
    cyrillic_to_latin,
    detect_script,
    name_forms,
    name_key,
    name_problem,
    normalise,
    to_latin,
)
from haven.names.data import DATA_DIR

SYSTEMS: list[System] = ["iso9985", "bgn", "passport"]
PARTS: list[Part] = ["given", "family", "patronymic"]

ARMENIAN_LOWER = [chr(c) for c in range(0x0561, 0x0587)]  # ա … ֆ
ARMENIAN = [*ARMENIAN_LOWER, *(chr(c) for c in range(0x0531, 0x0557)), "և"]
RUSSIAN = list("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ")
NEIGHBOURS = list("іїєґўІЇЄҐЎ")  # Ukrainian and Belarusian letters the scheme also reads
LATIN = [*"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", *"čšžġçéèëöüÇÉŠŽ"]
SEPARATORS = [" ", "-", "’", "'"]

# Any Unicode text, including what a name never holds: controls, surrogates' neighbours,
# combining marks on their own, ligatures, other scripts.
ANY_TEXT = st.text(max_size=40)


def words(letters: list[str], max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(alphabet=st.sampled_from(letters + SEPARATORS), max_size=max_size)


NAME_TEXT = words(ARMENIAN + RUSSIAN + NEIGHBOURS + LATIN)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# --- never raises, and always the same answer ----------------------------------------------------


@given(ANY_TEXT, st.sampled_from(SYSTEMS), st.sampled_from(PARTS))
def test_everything_is_total_on_any_text(text: str, system: System, part: Part) -> None:
    latin = to_latin(text, system)
    assert isinstance(latin, str)
    assert isinstance(armenian_to_latin(text, system), str)
    assert isinstance(cyrillic_to_latin(text), str)
    assert detect_script(text) in set(Script)
    problem = name_problem(text)
    assert problem is None or str(problem)
    forms = name_forms(text, part)
    assert forms.key == "" or (forms.key.isascii() and forms.key.isalpha())
    assert forms.latin == "" or forms.latin.isascii()


@given(ANY_TEXT, st.sampled_from(SYSTEMS))
def test_transliteration_is_idempotent(text: str, system: System) -> None:
    """What comes out is Latin: reading it again changes nothing."""
    once = to_latin(text, system)
    assert to_latin(once, system) == once
    assert normalise(normalise(text)) == normalise(text)


@given(ANY_TEXT, st.sampled_from(SYSTEMS), st.sampled_from(PARTS))
def test_nfc_and_nfd_are_one_text(text: str, system: System, part: Part) -> None:
    """A name typed with a precomposed letter or with its combining accent is one name."""
    assert to_latin(nfd(text), system) == to_latin(nfc(text), system)
    assert detect_script(nfd(text)) == detect_script(nfc(text))
    assert normalise(nfd(text)) == normalise(nfc(text))
    assert name_key(nfd(text), part) == name_key(nfc(text), part)


@given(st.text(max_size=25))
def test_a_name_is_accepted_or_refused_whatever_its_normal_form(text: str) -> None:
    assert (name_problem(nfd(text)) is None) == (name_problem(nfc(text)) is None)


@given(NAME_TEXT, st.sampled_from(PARTS))
def test_keys_ignore_case(text: str, part: Part) -> None:
    assert name_key(text.upper(), part) == name_key(text.lower(), part) == name_key(text, part)
    assert normalise(text.upper()) == normalise(text.lower())


@given(NAME_TEXT, st.sampled_from(PARTS), st.sampled_from([" ", "  ", "\t", "\u00a0", "\n "]))
def test_keys_ignore_spacing(text: str, part: Part, space: str) -> None:
    """Spaces around and between words, however many and whichever, do not change a key."""
    spaced = space + text.replace(" ", space) + space
    assert normalise(spaced) == normalise(text)
    assert name_key(spaced, part) == name_key(text, part)


# --- scripts -------------------------------------------------------------------------------------


def _join(a: Script, b: Script) -> Script:
    if a is Script.NONE:
        return b
    if b is Script.NONE or a is b:
        return a
    return Script.MIXED


@given(ANY_TEXT, ANY_TEXT)
def test_the_script_of_two_words_is_the_join_of_theirs(a: str, b: str) -> None:
    assert detect_script(f"{a} {b}") == _join(detect_script(a), detect_script(b))


@given(words(ARMENIAN + RUSSIAN + NEIGHBOURS), st.sampled_from(SYSTEMS))
def test_transliterated_text_is_latin(text: str, system: System) -> None:
    assert detect_script(to_latin(text, system)) in (Script.LATIN, Script.NONE)


@given(st.text(alphabet=st.sampled_from(ARMENIAN), min_size=1, max_size=20))
def test_armenian_letters_are_armenian(text: str) -> None:
    assert detect_script(text) is Script.ARMENIAN
    assert name_problem(text) is None


@given(st.text(alphabet=st.sampled_from(RUSSIAN), min_size=1, max_size=20))
def test_russian_letters_are_cyrillic(text: str) -> None:
    assert detect_script(text) is Script.CYRILLIC


@given(ANY_TEXT)
def test_an_accepted_name_is_in_one_script(text: str) -> None:
    if name_problem(text) is None:
        assert detect_script(text) in (Script.ARMENIAN, Script.CYRILLIC, Script.LATIN)


@given(words(ARMENIAN + RUSSIAN + NEIGHBOURS), st.sampled_from(SYSTEMS))
def test_an_accepted_name_transliterated_is_accepted(text: str, system: System) -> None:
    """What the payment list and the desk show in Latin letters is itself a name (a name of
    nothing but hard and soft signs, which have no Latin letter, aside)."""
    if name_problem(text) is None and any(c.isalpha() and c not in "ъьЪЬ" for c in text):
        assert name_problem(to_latin(text, system)) is None


# --- what each system promises -------------------------------------------------------------------


@given(words(LATIN))
def test_latin_text_comes_through_unchanged(text: str) -> None:
    for system in SYSTEMS:
        assert to_latin(text, system) == nfc(text)


@given(words(ARMENIAN))
def test_passport_style_is_plain_ascii(text: str) -> None:
    """What Armenian passports print, and what the bank's payment list carries: ASCII only."""
    latin = armenian_to_latin(text, "passport")
    assert latin.replace("’", "'").isascii()
    assert latin.count(" ") == text.count(" ")


@given(words(RUSSIAN))
def test_russian_scheme_is_plain_ascii(text: str) -> None:
    latin = cyrillic_to_latin(text)
    assert latin.replace("’", "'").isascii()
    assert latin.count("-") == text.count("-")


def _iso_letters() -> dict[str, str]:
    """ISO 9985 as the reference table gives it, Latin → Armenian (lower case)."""
    with (DATA_DIR / "translit_iso9985.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    letters = {nfc(row["latin_lower"]): row["armenian_lower"] for row in rows}
    letters["ew"] = "եւ"  # և is the ligature of ե and ւ: one spelling of two letters
    return letters


ISO_LETTERS = _iso_letters()


def _read_iso_back(latin: str) -> str:
    """The Armenian of an ISO 9985 transliteration, read longest letter first."""
    longest = max(len(key) for key in ISO_LETTERS)
    out: list[str] = []
    i = 0
    while i < len(latin):
        for size in range(longest, 0, -1):
            piece = latin[i : i + size]
            if piece in ISO_LETTERS:
                out.append(ISO_LETTERS[piece])
                i += size
                break
        else:
            out.append(latin[i])
            i += 1
    return "".join(out)


@settings(max_examples=200)
@given(st.text(alphabet=st.sampled_from([*ARMENIAN_LOWER, "և", " ", "-"]), max_size=30))
def test_iso_9985_loses_nothing(text: str) -> None:
    """One letter for one letter: the Armenian can be read back from the Latin (և as եւ, which
    is how it is spelt)."""
    latin = armenian_to_latin(text, "iso9985")
    assert _read_iso_back(nfc(latin)) == text.replace("և", "եւ").replace("ու", "ու")
