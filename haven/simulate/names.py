"""Names for the simulator: drawn by frequency, written as a registrar would type them.

A person's name exists once (in Armenian script) and is *rendered* for each registration: in
Armenian, in passport-style Latin, in another Latin spelling or in Russian Cyrillic, sometimes with
a typo. Given names come from `data/given_names.csv` by their counts; surnames from
`data/surnames.csv` by rank plus a long tail built the way most Armenian surnames are built: a
given name, an old personal name, a trade or a nickname, plus -յան (-yan/-ян), sometimes with
Տեր- (Ter-, a priest's descendants), Մելիք- (Melik-) or the Karabakh ending -յանց (-yants).

Pure Python (no Django), so that it can be tested and benchmarked on its own.
"""

import csv
import enum
import random
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Generic, TypeVar

from haven.names import name_problem

DATA_DIR = Path(__file__).resolve().parent / "data"
T = TypeVar("T")


class Rendering(enum.StrEnum):
    """How a registrar types a name."""

    ARMENIAN = "armenian"
    PASSPORT = "passport"  # Latin as in an Armenian passport (Hovhannisyan, Harutyunyan)
    LATIN_VARIANT = "latin_variant"  # another Latin spelling (Oganesyan, Harutiunian, Hagop)
    RUSSIAN = "russian"


@dataclass(frozen=True)
class Name:
    """One name in its forms. `latin[0]` is the passport-style spelling."""

    armenian: str
    latin: tuple[str, ...]
    russian: tuple[str, ...]

    def render(self, rendering: Rendering, rng: random.Random) -> str:
        if rendering is Rendering.ARMENIAN:
            return self.armenian
        if rendering is Rendering.PASSPORT:
            return self.latin[0]
        if rendering is Rendering.RUSSIAN:
            return self.russian[0] if rng.random() < 0.8 else rng.choice(self.russian)
        others = self.latin[1:] or self.latin
        return rng.choice(others)


@dataclass(frozen=True)
class GivenName(Name):
    sex: str
    weight_adults: float  # born 1921–1988 (voter roll counts)
    weight_young: float  # born 2006–2024 (newborn counts)


class WeightedChoice(Generic[T]):
    """Draws items by weight in O(log n) with a seeded generator."""

    def __init__(self, items: list[T], weights: list[float]) -> None:
        pairs = [(item, w) for item, w in zip(items, weights, strict=True) if w > 0]
        if not pairs:
            raise ValueError("nothing to choose from: every weight is zero")
        self.items = [item for item, _ in pairs]
        self.cumulative = list(accumulate(w for _, w in pairs))

    def draw(self, rng: random.Random) -> T:
        point = rng.random() * self.cumulative[-1]
        index = min(bisect_right(self.cumulative, point), len(self.items) - 1)
        return self.items[index]


# Armenian → passport-style Latin (the Armenian passport's rules, close to BGN/PCGN without
# apostrophes) and → Russian Cyrillic (the conventional Russian forms). Digraphs first.
_TO_LATIN: list[tuple[str, str]] = [
    ("ու", "u"), ("և", "ev"), ("ա", "a"), ("բ", "b"), ("գ", "g"), ("դ", "d"), ("ե", "e"),
    ("զ", "z"), ("է", "e"), ("ը", "y"), ("թ", "t"), ("ժ", "zh"), ("ի", "i"), ("լ", "l"),
    ("խ", "kh"), ("ծ", "ts"), ("կ", "k"), ("հ", "h"), ("ձ", "dz"), ("ղ", "gh"), ("ճ", "ch"),
    ("մ", "m"), ("յ", "y"), ("ն", "n"), ("շ", "sh"), ("ո", "o"), ("չ", "ch"), ("պ", "p"),
    ("ջ", "j"), ("ռ", "r"), ("ս", "s"), ("վ", "v"), ("տ", "t"), ("ր", "r"), ("ց", "ts"),
    ("փ", "p"), ("ք", "k"), ("օ", "o"), ("ֆ", "f"), ("-", "-"),
]  # fmt: skip
_TO_RUSSIAN: list[tuple[str, str]] = [
    ("յու", "ю"), ("յա", "я"), ("յո", "ё"), ("յե", "е"), ("ու", "у"), ("և", "ев"), ("ա", "а"),
    ("բ", "б"), ("գ", "г"), ("դ", "д"), ("ե", "е"), ("զ", "з"), ("է", "э"), ("ը", "ы"),
    ("թ", "т"), ("ժ", "ж"), ("ի", "и"), ("լ", "л"), ("խ", "х"), ("ծ", "ц"), ("կ", "к"),
    ("հ", ""), ("ձ", "дз"), ("ղ", "г"), ("ճ", "ч"), ("մ", "м"), ("յ", "й"), ("ն", "н"),
    ("շ", "ш"), ("ո", "о"), ("չ", "ч"), ("պ", "п"), ("ջ", "дж"), ("ռ", "р"), ("ս", "с"),
    ("վ", "в"), ("տ", "т"), ("ր", "р"), ("ց", "ц"), ("փ", "п"), ("ք", "к"), ("օ", "о"),
    ("ֆ", "ф"), ("-", "-"),
]  # fmt: skip
_RUSSIAN_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip


def _transliterate(text: str, table: list[tuple[str, str]]) -> str:
    """Longest match first: each position tries three, two, then one source letters."""
    mapping = dict(table)
    out = []
    position = 0
    lowered = text.lower()
    while position < len(lowered):
        for width in (3, 2, 1):
            chunk = lowered[position : position + width]
            if len(chunk) == width and chunk in mapping:
                out.append(mapping[chunk])
                position += width
                break
        else:
            out.append(lowered[position])
            position += 1
    return "".join(out)


def _capitalise(text: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in text.split("-"))


def armenian_to_latin(text: str) -> str:
    """Passport-style Latin: word-initial ե is Ye, word-initial ո is Vo."""
    latin = _transliterate(text, _TO_LATIN)
    low = text.lower()
    if low.startswith("ե"):
        latin = "ye" + latin[1:]
    elif low.startswith("ո") and not low.startswith("ու"):
        latin = "vo" + latin[1:]
    return _capitalise(latin)


def armenian_to_russian(text: str) -> str:
    russian = _transliterate(text, _TO_RUSSIAN)
    if text.lower().startswith("ո") and not text.lower().startswith("ու"):
        russian = "в" + russian
    russian = russian.replace("йа", "я")
    return _capitalise(russian)


def russian_to_latin(text: str) -> str:
    """A Latin spelling made from the Russian form, as foreign documents often have it."""
    return _capitalise("".join(_RUSSIAN_TO_LATIN.get(c, c) for c in text.lower()))


def _variants(cell: str) -> tuple[str, ...]:
    """The spellings in a `a; b (note); c. NOTE …` cell, notes removed, unusable ones dropped."""
    out: list[str] = []
    for raw in cell.split(";"):
        value = raw.split(". NOTE")[0]
        value = re.sub(r"\s*\(.*?\)\s*", " ", value).strip().rstrip(".")
        value = value.split("(")[0].strip()
        if value and name_problem(value) is None and value not in out:
            out.append(value)
    return tuple(out)


def _count(cell: str) -> float:
    cell = cell.strip().replace(",", "")
    return float(cell) if cell else 0.0


@cache
def given_names() -> tuple[GivenName, ...]:
    names = []
    with (DATA_DIR / "given_names.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            latin = _variants(row["common_latin_variants"]) or (armenian_to_latin(row["armenian"]),)
            russian = _variants(row["russian"]) or (armenian_to_russian(row["armenian"]),)
            names.append(
                GivenName(
                    armenian=row["armenian"],
                    latin=latin,
                    russian=russian,
                    sex=row["sex"],
                    weight_adults=_count(row["count_adults_born_1921_1988"]),
                    weight_young=_count(row["count_newborns_2006_2024"]),
                )
            )
    return tuple(names)


class GivenNamePicker:
    """Given names by sex and birth year: the voter-roll counts for adults, newborn counts for the
    young, a blend in between, and a small floor so that every name stays possible."""

    def __init__(self) -> None:
        self._by: dict[tuple[str, str], WeightedChoice[GivenName]] = {}
        for sex in ("F", "M"):
            names = [n for n in given_names() if n.sex == sex]
            floor_a = max(n.weight_adults for n in names) * 0.002
            floor_y = max(n.weight_young for n in names) * 0.002
            adult = [n.weight_adults + floor_a for n in names]
            young = [n.weight_young + floor_y for n in names]
            total_a, total_y = sum(adult), sum(young)
            blend = [a / total_a + y / total_y for a, y in zip(adult, young, strict=True)]
            self._by[(sex, "old")] = WeightedChoice(names, adult)
            self._by[(sex, "mid")] = WeightedChoice(names, blend)
            self._by[(sex, "young")] = WeightedChoice(names, young)

    def draw(self, rng: random.Random, *, sex: str, birth_year: int) -> GivenName:
        cohort = "old" if birth_year <= 1988 else "young" if birth_year >= 2006 else "mid"
        return self._by[(sex, cohort)].draw(rng)


# Roots of the long tail: old personal names, trades and nicknames that surnames are made from.
_EXTRA_ROOTS = """
Ադամ Ազատ Աթաբեկ Ալեքսան Ախիկ Աղաբեկ Աղասի Ամբարձում Անանիա Անտոն Առաքել Ասատուր Աստվածատուր
Ավագ Ավետ Ավետիք Արզուման Արիստակես Արշակ Բաբա Բաբկեն Բաղդասար Բալասան Բարսեղ Բեգլար Բեկ
Բուդաղ Գալուստ Գասպար Գաբրիել Գեղամ Գյուլնազար Գուրգեն Դանիել Դերենիկ Դարբին Եղիշե Եղիազար
Եսայի Երանոս Զաքար Զոհրաբ Էլբակ Թադևոս Թաթուլ Թորոս Թովմաս Իսրայել Իշխան Լալա Լազար Խաչիկ
Խաչատուր Խոջա Ծատուր Կիրակոս Կոստան Հայրապետ Համբարձում Հարություն Հմայակ Հովակիմ Հովսեփ Հունան
Ղահրաման Ղազար Ղուկաս Ճաղար Մաթևոս Մամիկոն Մանուկ Մարգար Մարկոս Մարտիրոս Մելքոն Մելքում Մեսրոպ
Միհրան Միքայել Մինաս Միրզա Մկրտիչ Մնացական Մովսես Մուշեղ Մուրադ Մուրադխան Նազար Ներսես Նիկողոս
Շահեն Շահբազ Շահնազար Շմավոն Ոսկան Չալիկ Պապ Պարույր Պետրոս Պողոս Ջհանգիր Ռուստամ Սահակ Սաֆար
Սիմոն Սմբատ Սողոմոն Ստեփան Վաղարշակ Վասիլ Վարազդատ Վարոս Տեր Տիրան Տրդատ Օհան Ֆրունզ Քամալ
Աբգար Աբել Ագաջան Ալավերդ Այվազ Անդրեաս Առուստամ Ասլան Բադալ Բարխուդար Բունիաթ Գաբո Գալո Գարեգին
Գիժ Գրիշ Դալլաք Դեմիրճ Դիլան Եգոր Եփրեմ Զարգար Զուրաբ Թամրազ Թևան Իգիթխան Խալաթ Խանզադ Խառատ
Կարո Կոչար Կուրղին Հաբեթ Հակոբջան Հայկազ Հարոն Հովնան Ղարիբ Ղուլ Մադաթ Մալխաս Մանասար Մաշուր Մելիք
Մեհրաբ Միսակ Մուղդուս Նալբանդ Նահապետ Շաքար Շուքուր Ոսկեր Չոբան Պալ Պիլոս Ջանիբեկ Ջավահիր Սարիբեկ
Սարուխան Սեդրակ Սիրական Սուքիաս Վանեց Վարդ Վեքիլ Տեր-Առաքել Տոնոյ Ուլուբաբ Ուստա Փիրում Քալանթար
Քեշիշ Քոչար Քոլոզ Օրբել Օսիպ Ֆարման Աղաջան Բաբաջան Դավթյ Ալլահվերդ Բեյբուտ Գասպարով Գուլ Դոխոլ
Աբով Աղաբաբ Աղամալ Ամիրխան Ամիր Ապրես Առուշան Աթա Ավդալ Ավո Արմենակ Արտաշես Արտավազդ Բաբալ
Բալաբեկ Բաղրամ Բարսամ Բոյաջ Բուլղադար Գաֆար Գինոս Դալուք Դեմուր Դոլուխան Դուրգար Եղո Երեմ Զախար
Էմին Էվո Թումաս Թոխմախ Իսահակ Իսկանդար Խանդամիր Խոսրով Խուդավերդ Ծառուկ Կարամ Կոստանդ Կոտանջ
Հախվերդ Համազասպ Հաջի Հարո Հեքիմ Հովիվ Հոխիկ Ղարագյոզ Ղևոնդ Ճուղուր Մազման Մալում Մաղաք Մայիլ
Մանգասար Մխիթար Նալչաջ Նավասարդ Նշան Շահին Շահվերդ Շիրին Ոսկերիչ Չիլինգար Պալ Պապազ Ջանփոլադ
Սաղաթել Սանասար Սերոբ Սիրուն Սուլթան Սուրմալ Վահրամ Վանես Վասակ Վարդազար Վարդգես Տաճատ Փանոս
Փաշա Օհանջան Ֆարամազ Ադիբեկ Աթանես Ալիխան Ամիրջան Արամայիս Արեշ Արտուշ Բաբախան Բաղիշ Բեժան
Բերբեր Բոստան Գոգ Գուլակ Գևո Դաբաղ Դարչին Դերձակ Եզեկ Զատիկ Թաթոս Թոփուզ Խաժակ Կարագոզ Հայրիկ
Հանես Ղալում Մաթոս Մալո Մանաս Մեժլում Մելո Մորուք Նիկոլ Նուբար Շագո Շավարշ Ոսկի Չախալ Պանոս
Պարսադան Պետիկ Ջուլհակ Սամսոն Սաքո Սարո Սեյրան Սերգո Սուքո Վալոդ Վանո Վարդերես Վարուժ Տոնի Փափազ
Քաջ Քոթանջ Օվակ Օնիկ Ֆելիքս Աբրո Ագո Ալեք Ասո Բագրատ Բախշի Գարսևան Գոռգիզ Դիլբար Եսո Թևոս
Լևոնդ Խեչո Կոլյա Հմայակ Ղուլիջան Մանուչար Մելքիսեթ Միշո Մուկուչ Նորայր Շահգելդ Ոսկեբեկ Պողիկ
Ռաֆայել Սեթ Սուրիկ Վազգեն Տատուլ Փիլիպոս Քաղաքցի Օսեփ Ալեքսեյ Ավշար Արսեն Բարսեղյանց
"""

_ROOT_CLEAN = re.compile(r"յ$")


def _surname_roots() -> list[str]:
    roots: list[str] = []
    for name in given_names():
        if name.sex == "M" and name.armenian not in roots:
            roots.append(name.armenian)
    for root in _EXTRA_ROOTS.split():
        root = _ROOT_CLEAN.sub("", root)
        if root not in roots:
            roots.append(root)
    return roots


def _long_tail_surname(armenian: str) -> Name:
    latin = armenian_to_latin(armenian)
    russian = armenian_to_russian(armenian)
    variants = [latin]
    if latin.endswith("yan"):
        variants.append(latin[: -len("yan")] + "ian")
    from_russian = russian_to_latin(russian)
    if from_russian not in variants:
        variants.append(from_russian)
    return Name(armenian=armenian, latin=tuple(variants), russian=(russian,))


@cache
def surnames() -> tuple[tuple[Name, ...], tuple[float, ...]]:
    """Every surname the simulator may use, with its weight (Zipf-like over the rank)."""
    known: list[Name] = []
    with (DATA_DIR / "surnames.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            latin = _variants(row["common_latin_variants"]) or (armenian_to_latin(row["armenian"]),)
            russian = _variants(row["russian"]) or (armenian_to_russian(row["armenian"]),)
            known.append(Name(armenian=row["armenian"], latin=latin, russian=russian))
    seen = {name.armenian for name in known}
    # The known surnames are the most frequent; each is about 0.5–2 % of a population.
    weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(known))]
    tail: list[Name] = []
    for root in _surname_roots():
        stem = root + "յան" if not root.endswith("յան") else root
        forms = [
            stem,
            stem + "ց",  # the older Karabakh ending, -yants
            "Տեր-" + stem,
            "Մելիք-" + stem,
            root + "ջանյան",
            "Աղա" + stem.lower() if not root.startswith("Աղա") else stem,
        ]
        if not root.endswith(("ա", "ե", "ի", "ո", "օ", "է")):
            forms.append(root + "ով")  # Russified forms, among people schooled in Russian
        for form in forms:
            if form not in seen and name_problem(form) is None:
                seen.add(form)
                tail.append(_long_tail_surname(form))
    # Order the tail deterministically but not alphabetically, so rank does not follow spelling:
    # plain -յան forms first (most common), then the others.
    order = random.Random(2023)
    plain = [
        n
        for n in tail
        if "-" not in n.armenian
        and not n.armenian.endswith(("ց", "ջանյան", "ով"))
        and not n.armenian.startswith("Աղա")
    ]
    plain_names = {n.armenian for n in plain}
    rest = [n for n in tail if n.armenian not in plain_names]
    order.shuffle(plain)
    order.shuffle(rest)
    tail = plain + rest
    # The tail continues the Zipf curve below the known names: about 60 % of people carry a
    # surname outside the top 53, as a real registry of 100,000 people would.
    start = len(known)
    tail_weights = [0.9 / (start + rank + 1) ** 0.7 for rank in range(len(tail))]
    return tuple(known + tail), tuple(weights + tail_weights)


def surname_picker() -> WeightedChoice[Name]:
    names, weights = surnames()
    return WeightedChoice(list(names), list(weights))


def patronymic(father: GivenName, rendering: Rendering, *, sex: str, rng: random.Random) -> str:
    """The patronymic from the father's given name, in the registration's script.

    Armenian uses the genitive (Մհեր → Մհերի, "Mheri"); Russian the -ович/-овна forms
    (Мгерович, Мгеровна).
    """
    if rendering is Rendering.ARMENIAN:
        base = father.armenian
        return base + ("յի" if base.endswith(("ա", "ո", "ե")) else "ի")
    if rendering is Rendering.RUSSIAN:
        base = father.russian[0]
        male, female = "ович", "овна"
        if base.endswith(("а", "я")):
            base, male, female = base[:-1], "ич", "ична"
        elif base.endswith("й"):
            base, male, female = base[:-1], "евич", "евна"
        elif base.endswith(("е", "о", "и")):
            male, female = "евич", "евна"
        return base + (male if sex == "M" else female)
    base = father.render(rendering, rng)
    return base + ("yi" if base.endswith(("a", "o", "e")) else "i")


# Keyboard neighbours for typos: Latin QWERTY, Russian ЙЦУКЕН, Armenian phonetic.
_ROWS = (
    "qwertyuiop", "asdfghjkl", "zxcvbnm",
    "йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю",
    "քոեռտըւիօպ", "ասդֆգհյկլ", "զղցվբնմ",
)  # fmt: skip
_NEIGHBOURS: dict[str, str] = {}
for _row in _ROWS:
    for _i, _c in enumerate(_row):
        _NEIGHBOURS[_c] = _row[max(0, _i - 1) : _i] + _row[_i + 1 : _i + 2]


def typo(text: str, rng: random.Random) -> str:
    """One slip of the fingers: a dropped, doubled or swapped letter, or a neighbouring key."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(letters) < 3:
        return text
    for _ in range(5):
        i = rng.choice(letters[1:])  # the first letter is almost always right
        kind = rng.random()
        if kind < 0.3:
            candidate = text[:i] + text[i + 1 :]
        elif kind < 0.5:
            candidate = text[:i] + text[i] + text[i:]
        elif kind < 0.75 and i + 1 < len(text) and text[i + 1].isalpha():
            candidate = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        else:
            lower = text[i].lower()
            near = _NEIGHBOURS.get(lower, "")
            if not near:
                continue
            replacement = rng.choice(near)
            if text[i].isupper():
                replacement = replacement.upper()
            candidate = text[:i] + replacement + text[i + 1 :]
        if candidate != text and name_problem(candidate) is None:
            return candidate
    return text
