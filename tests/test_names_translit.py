"""Armenian and Cyrillic to Latin (haven.names.translit, pure Python)."""

import csv
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haven.names import armenian_to_latin, cyrillic_to_latin, to_latin
from haven.names.data import DATA_DIR
from haven.names.translit import System


def _reference_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for which in ("surnames", "given_names"):
        with (DATA_DIR / f"{which}.csv").open(encoding="utf-8", newline="") as file:
            rows.extend(csv.DictReader(file))
    return rows


REFERENCE_ROWS = _reference_rows()


@pytest.mark.parametrize(("system", "column"), [("iso9985", "iso9985"), ("bgn", "bgn_pcgn")])
def test_reference_lists_transliterate_as_listed(system: System, column: str) -> None:
    """Every Armenian name in the reference lists comes out as its ISO 9985 and BGN/PCGN
    column says (166 names, with ու, և, positional ե/ո and the aspirates)."""
    wrong = [
        (row["armenian"], armenian_to_latin(row["armenian"], system), row[column])
        for row in REFERENCE_ROWS
        if armenian_to_latin(row["armenian"], system) != row[column]
    ]
    assert wrong == []


def test_passport_style_is_bgn_without_apostrophes() -> None:
    passport = []
    for row in REFERENCE_ROWS:
        first = row["common_latin_variants"].split(";")[0]
        if "(passport-style)" in first:
            passport.append((row["armenian"], first.replace("(passport-style)", "").strip()))
    assert len(passport) > 50
    assert [(a, armenian_to_latin(a)) for a, _ in passport] == passport


@pytest.mark.parametrize(
    ("armenian", "iso", "bgn", "passport"),
    [
        # ու is one letter u in BGN and passports, letter by letter ow in ISO, u even first.
        ("Ուլուբաբյան", "Owlowbabyan", "Ulubabyan", "Ulubabyan"),
        ("Սուրեն", "Sowren", "Suren", "Suren"),
        # ե: ye at the start of a word and after a vowel letter, e elsewhere; ISO always e.
        ("Եղիազարյան", "Eġiazaryan", "Yeghiazaryan", "Yeghiazaryan"),
        ("Դանիելյան", "Danielyan", "Daniyelyan", "Daniyelyan"),
        ("Գայանե", "Gayane", "Gayane", "Gayane"),
        # ո: vo at the start of a word (not in ու, not in the word ով), o elsewhere.
        ("Ոսկանյան", "Oskanyan", "Voskanyan", "Voskanyan"),
        ("ով", "ov", "ov", "ov"),
        ("Պողոսյան", "Poġosyan", "Poghosyan", "Poghosyan"),
        # և: yev at the start, alone and after a vowel; ev after a consonant; also typed եւ.
        ("Երևան", "Erewan", "Yerevan", "Yerevan"),
        ("Երեւան", "Erewan", "Yerevan", "Yerevan"),
        ("և", "ew", "yev", "yev"),
        ("նաև", "naew", "nayev", "nayev"),
        ("Գևորգ", "Geworg", "Gevorg", "Gevorg"),
        # Aspirates: apostrophe in ISO and BGN, none in passports; ռ is ṙ, rr, r.
        ("Թովմասյան", "T’ovmasyan", "T’ovmasyan", "Tovmasyan"),
        ("Չոբանյան", "Čobanyan", "Ch’obanyan", "Chobanyan"),
        ("Ռուստամյան", "Ṙowstamyan", "Rrustamyan", "Rustamyan"),
        ("Հարությունյան", "Harowt’yownyan", "Harut’yunyan", "Harutyunyan"),
        ("Մնացականյան", "Mnac’akanyan", "Mnats’akanyan", "Mnatsakanyan"),
        ("Ջոն", "J̌on", "Jon", "Jon"),
    ],
)
def test_armenian_systems(armenian: str, iso: str, bgn: str, passport: str) -> None:
    assert armenian_to_latin(armenian, "iso9985") == unicodedata.normalize("NFC", iso)
    assert armenian_to_latin(armenian, "bgn") == bgn
    assert armenian_to_latin(armenian, "passport") == passport
    assert armenian_to_latin(armenian) == passport


@pytest.mark.parametrize(
    ("armenian", "latin"),
    [
        ("ԽԱՉԱՏՐՅԱՆ", "KHACHATRYAN"),  # a word in capitals stays in capitals
        ("Խաչատրյան", "Khachatryan"),  # a capital letter becomes a capitalised digraph
        ("ԵՐԵՎԱՆ", "YEREVAN"),
        ("Տեր-Գրիգորյան", "Ter-Grigoryan"),
        ("Տեր֊Գրիգորյան", "Ter-Grigoryan"),  # the Armenian hyphen
        ("Հասմիկ Հարությունյան", "Hasmik Harutyunyan"),
        ("ﬓ", "mn"),  # the Armenian ligatures are two letters
    ],
)
def test_case_hyphens_and_spaces_are_kept(armenian: str, latin: str) -> None:
    assert armenian_to_latin(armenian) == latin


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("Хачатрян", "Khachatryan"),
        ("ХАЧАТРЯН", "KHACHATRYAN"),
        ("Арутюнян", "Arutyunyan"),
        ("Цатурян", "Tsaturyan"),
        ("Агаджанян", "Agadzhanyan"),
        ("Жора", "Zhora"),
        ("Яна", "Yana"),
        ("Артём", "Artyom"),
        ("Айк", "Ayk"),
        ("Альберт", "Albert"),
        ("Эрмине", "Ermine"),
        ("Мкртчян", "Mkrtchyan"),
        ("Тер-Григорян", "Ter-Grigoryan"),
        ("Щукин", "Shchukin"),
    ],
)
def test_cyrillic(cyrillic: str, latin: str) -> None:
    assert cyrillic_to_latin(cyrillic) == latin
    assert to_latin(cyrillic) == latin


def test_to_latin_by_script() -> None:
    assert to_latin("Hasmik") == "Hasmik"
    assert to_latin("Z\u030caklin") == "Žaklin"  # Latin is returned in NFC
    assert to_latin("Hasмик") == "Hasmik"  # mixed scripts: letter by letter
    assert to_latin("Հասмик") == "Hasmik"
    assert to_latin("Խաչատրյան", "iso9985") == "Xačatryan"
    assert to_latin("Խաչատրյան", "bgn") == "Khach’atryan"
    assert cyrillic_to_latin("Խաչ") == "Խաչ"  # each function converts its own script only
    assert armenian_to_latin("Хач") == "Хач"
    assert to_latin("") == ""
    assert to_latin("--") == "--"


_ARMENIAN_LETTERS = [chr(c) for c in range(0x0531, 0x0557)] + [
    chr(c) for c in range(0x0561, 0x0588)
]
_CYRILLIC_LETTERS = list("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ")
_NAME_TEXT = st.text(
    alphabet=st.sampled_from([*_ARMENIAN_LETTERS, *_CYRILLIC_LETTERS, *"abcXYZ -’'"]),
    max_size=40,
)


@given(_NAME_TEXT, st.sampled_from(["iso9985", "bgn", "passport"]))
def test_to_latin_leaves_no_armenian_or_cyrillic_letter(text: str, system: System) -> None:
    latin = to_latin(text, system)
    assert not any("\u0531" <= c <= "\u0587" or "\u0400" <= c <= "\u04ff" for c in latin)
    assert latin.count(" ") == text.count(" ")
    assert latin.count("-") == text.count("-")


@given(st.text(max_size=60), st.sampled_from(["iso9985", "bgn", "passport"]))
def test_to_latin_never_raises(text: str, system: System) -> None:
    assert isinstance(to_latin(text, system), str)
