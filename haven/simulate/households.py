"""Households as they really are (the ground truth): who lives with whom, ages, sexes, fathers,
documents, phones and needs. How a registrar later *writes* them down is `influx.py`'s business.

The household size distribution averages about four people; the compositions (couples, nuclear
families, three generations under one roof, older people alone) are chosen so that the population
comes out near the reported profile of the 2023 arrivals: about 31 % under 18 and 18 % over 65.
"""

import csv
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

from haven.registry.reference import DATA_DIR as REGISTRY_DATA_DIR
from haven.registry.reference import settlements_nk
from haven.simulate.names import GivenName, GivenNamePicker, Name, WeightedChoice, surname_picker

# People per household: 1 … 9 (9 stands for 9–11). Mean ≈ 4.0.
HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9)
HOUSEHOLD_SIZE_WEIGHTS = (8.0, 15.0, 18.0, 22.0, 17.0, 10.5, 5.0, 2.7, 1.8)

MOBILE_PREFIXES = ("97", "97", "47", "91", "93", "94", "95", "96", "98", "99", "77", "55", "41")


@cache
def russian_place_names() -> dict[str, str]:
    """The Russian name of each settlement of origin (the first, where several are in use)."""
    with (REGISTRY_DATA_DIR / "places_nk.csv").open(encoding="utf-8") as f:
        return {
            row["armenian"]: row["russian"].split(";")[0].strip()
            for row in csv.DictReader(f)
            if row["russian"].strip()
        }


@dataclass
class TruePerson:
    """One real person. `number` is the true identity the truth file reports."""

    number: int
    relationship: str  # to the head of the real household
    sex: str
    birth: date
    given: GivenName
    father: GivenName
    phone: str = ""
    documents: list[dict[str, str]] = field(default_factory=list)
    specific_needs: list[str] = field(default_factory=list)
    disability: dict[str, int] = field(default_factory=dict)

    def age_on(self, day: date) -> int:
        years = day.year - self.birth.year
        if (day.month, day.day) < (self.birth.month, self.birth.day):
            years -= 1
        return years


@dataclass
class TrueHousehold:
    number: int
    surname: Name
    origin: tuple[str, str, str]  # the settlement in Armenian, Latin and Russian
    members: list[TruePerson]
    phone: str = ""


@dataclass
class _Sketch:
    relationship: str
    sex: str
    age: int
    father: int | None = None  # index of the father within the household, if he is in it


def _ages_of_children(rng: random.Random, mother_age: int, count: int) -> list[int]:
    """Children's ages: born when their mother was 19–42, usually two to four years apart."""
    oldest_possible = max(0, mother_age - 19)
    youngest_possible = max(0, mother_age - 42)
    first = rng.randint(youngest_possible, oldest_possible) if count else 0
    first = min(first, max(youngest_possible, rng.randint(0, 36)))
    ages = []
    age = first + (count - 1) * 2
    age = min(age, oldest_possible)
    for _ in range(count):
        ages.append(max(0, age))
        age -= rng.choice((1, 2, 2, 3, 3, 4))
    return ages


def _spouse_age(rng: random.Random, head_age: int) -> int:
    return max(18, head_age - rng.choice((0, 1, 2, 3, 3, 4, 5, 6, 8)))


def compose(rng: random.Random, size: int) -> list[_Sketch]:
    """The relationships, sexes and ages of one household of `size` people."""
    if size == 1:
        if rng.random() < 0.62:
            return [_Sketch("head", "F" if rng.random() < 0.7 else "M", rng.randint(65, 92))]
        return [_Sketch("head", "M" if rng.random() < 0.6 else "F", rng.randint(18, 64))]
    kind = rng.random()
    if size == 2:
        if kind < 0.48:
            age = rng.randint(64, 88)
            return [_Sketch("head", "M", age), _Sketch("spouse", "F", _spouse_age(rng, age))]
        if kind < 0.55:
            age = rng.randint(20, 63)
            return [_Sketch("head", "M", age), _Sketch("spouse", "F", _spouse_age(rng, age))]
        if kind < 0.8:
            mother = rng.randint(22, 50)
            (child,) = _ages_of_children(rng, mother, 1)
            return [
                _Sketch("head", "F", mother),
                _Sketch("child", rng.choice("FM"), child),
            ]
        head = rng.randint(28, 58)
        return [
            _Sketch("head", rng.choice("FM"), head),
            _Sketch(
                "parent", "F" if rng.random() < 0.75 else "M", min(95, head + rng.randint(20, 35))
            ),
        ]
    if kind < 0.42:
        # A couple and their children.
        head = rng.randint(24, 62)
        spouse = _spouse_age(rng, head)
        sketch = [_Sketch("head", "M", head), _Sketch("spouse", "F", spouse)]
        for age in _ages_of_children(rng, spouse, size - 2):
            sketch.append(_Sketch("child", rng.choice("FM"), age, father=0))
        return sketch
    if kind < 0.74:
        # Three generations: a couple, their children and one or two of the head's parents.
        head = rng.randint(34, 56)
        spouse = _spouse_age(rng, head)
        parents = 1 if size == 3 or rng.random() < 0.45 else 2
        sketch = [_Sketch("head", "M", head), _Sketch("spouse", "F", spouse)]
        grandfather_age = min(95, head + rng.randint(25, 36))
        if parents == 2:
            sketch.append(_Sketch("parent", "M", grandfather_age))
            sketch.append(_Sketch("parent", "F", _spouse_age(rng, grandfather_age)))
            sketch[0].father = 2
        else:
            sex = "F" if rng.random() < 0.7 else "M"
            sketch.append(_Sketch("parent", sex, grandfather_age))
            if sex == "M":
                sketch[0].father = 2
        for age in _ages_of_children(rng, spouse, size - 2 - parents):
            sketch.append(_Sketch("child", rng.choice("FM"), age, father=0))
        return sketch
    if kind < 0.92:
        # An older couple with their married son, his wife and their grandchildren.
        head = rng.randint(60, 85)
        sketch = [_Sketch("head", "M", head)]
        if rng.random() < 0.8:
            sketch.append(_Sketch("spouse", "F", _spouse_age(rng, head)))
        son_age = max(20, head - rng.randint(22, 34))
        son = len(sketch)
        sketch.append(_Sketch("child", "M", son_age, father=0))
        if len(sketch) < size:
            daughter_in_law = _spouse_age(rng, son_age)
            sketch.append(_Sketch("other", "F", daughter_in_law))
            for age in _ages_of_children(rng, daughter_in_law, size - len(sketch)):
                sketch.append(_Sketch("grandchild", rng.choice("FM"), age, father=son))
        return sketch[:size]
    # A mother with her children (the father absent or fighting), sometimes her mother.
    mother = rng.randint(24, 50)
    sketch = [_Sketch("head", "F", mother)]
    if rng.random() < 0.4:
        sketch.append(_Sketch("parent", "F", min(92, mother + rng.randint(20, 32))))
    for age in _ages_of_children(rng, mother, size - len(sketch)):
        sketch.append(_Sketch("child", rng.choice("FM"), age))
    return sketch


def _birth_date(rng: random.Random, age: int, on: date) -> date:
    """A birth date at which the person is exactly `age` on `on`."""
    latest = on.replace(year=on.year - age) if not (on.month == 2 and on.day == 29) else on
    return latest - timedelta(days=rng.randint(0, 364))


def phone_number(rng: random.Random) -> str:
    prefix = rng.choice(MOBILE_PREFIXES)
    digits = f"{rng.randint(0, 999_999):06d}"
    style = rng.random()
    if style < 0.6:
        return f"+374 {prefix} {digits}"
    if style < 0.8:
        return f"+374{prefix}{digits}"
    return f"0{prefix} {digits[:2]} {digits[2:4]} {digits[4:]}"


def _documents(rng: random.Random, age: int) -> list[dict[str, str]]:
    letters = "ABCDEFGHJKLMNPRSTUVXZ"
    if age < 16:
        if rng.random() < 0.35:
            number = f"II-{rng.choice(letters)}{rng.choice(letters)} {rng.randint(0, 999_999):06d}"
            return [{"kind": "birth_certificate", "number": number, "issuing_country": ""}]
        return []
    documents: list[dict[str, str]] = []
    draw = rng.random()
    if draw < 0.32:
        number = f"A{rng.choice(letters)}{rng.randint(0, 9_999_999):07d}"
        documents.append({"kind": "passport", "number": number, "issuing_country": "ARM"})
    elif draw < 0.5:
        number = f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(0, 999_999):06d}"
        documents.append({"kind": "nk_passport", "number": number, "issuing_country": ""})
    elif draw < 0.58:
        number = f"{rng.randint(0, 999_999_999):09d}"
        documents.append({"kind": "id_card", "number": number, "issuing_country": "ARM"})
    if rng.random() < 0.08:
        number = f"{rng.randint(0, 9_999_999_999):010d}"
        documents.append({"kind": "social_card", "number": number, "issuing_country": "ARM"})
    return documents


# Chance that a registrar records a difficulty (answer 2–4) in each Washington Group domain.
_WG_DIFFICULTY = {
    "child": {"seeing": 0.02, "hearing": 0.01, "walking": 0.01, "remembering": 0.02,
              "selfcare": 0.01, "communicating": 0.02},
    "adult": {"seeing": 0.06, "hearing": 0.03, "walking": 0.05, "remembering": 0.03,
              "selfcare": 0.01, "communicating": 0.01},
    "older": {"seeing": 0.28, "hearing": 0.18, "walking": 0.32, "remembering": 0.14,
              "selfcare": 0.08, "communicating": 0.04},
}  # fmt: skip


def _disability(rng: random.Random, age: int) -> dict[str, int]:
    """Washington Group answers: asked of about half the people aged 5 and over."""
    if age < 5 or rng.random() < 0.5:
        return {}
    band = "child" if age < 18 else "older" if age >= 65 else "adult"
    answers = {}
    for domain, chance in _WG_DIFFICULTY[band].items():
        if rng.random() < chance:
            answers[domain] = rng.choices((2, 3, 4), weights=(6, 3, 1))[0]
        else:
            answers[domain] = 1
    return answers


def _needs(rng: random.Random, person: TruePerson, age: int, household: list[_Sketch]) -> list[str]:
    needs: list[str] = []
    alone = len(household) == 1
    if age >= 60 and alone and rng.random() < 0.6:
        needs.append("ER-NF")
    if age >= 75 and rng.random() < 0.15:
        needs.append("ER-FR")
    if rng.random() < (0.2 if age >= 60 else 0.03):
        needs.append("SM-CI")
    if any(v >= 3 for v in person.disability.values()):
        needs.append("DS-PS" if rng.random() < 0.3 else "DS-PM")
    if person.relationship == "head" and person.sex == "F" and 18 <= age < 60:
        has_children = any(s.relationship == "child" and s.age < 18 for s in household)
        has_adult_man = any(s.sex == "M" and s.age >= 18 for s in household)
        if has_children and not has_adult_man and rng.random() < 0.7:
            needs.append("SP-PT")
    if person.sex == "F" and 18 <= age <= 42:
        infant = any(s.age == 0 for s in household)
        if infant and person.relationship in {"head", "spouse", "other"} and rng.random() < 0.5:
            needs.append("WR-LC")
    if rng.random() < 0.01:
        needs.append("FU-TR")
    if age >= 16 and not person.documents and rng.random() < 0.05:
        needs.append("LP-ND")
    return needs


class HouseholdFactory:
    """Makes true households one after another from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.given = GivenNamePicker()
        self.surnames = surname_picker()
        self.sizes = WeightedChoice(list(HOUSEHOLD_SIZES), list(HOUSEHOLD_SIZE_WEIGHTS))
        places = self._places()
        self.places = WeightedChoice([p for p, _ in places], [w for _, w in places])
        self.next_person = 1
        self.next_household = 1

    @staticmethod
    def _places() -> list[tuple[tuple[str, str, str], float]]:
        russian = russian_place_names()
        seen: set[str] = set()
        places = []
        for armenian, latin, population in settlements_nk():
            if armenian in seen or population <= 0:
                continue
            seen.add(armenian)
            places.append(((armenian, latin, russian.get(armenian, latin)), float(population)))
        return places

    def draw_size(self) -> int:
        size = self.sizes.draw(self.rng)
        return size if size < 9 else self.rng.randint(9, 11)

    def make(self, on: date, *, size: int | None = None) -> TrueHousehold:
        rng = self.rng
        sketch = compose(rng, size or self.draw_size())
        surname = self.surnames.draw(rng)
        members: list[TruePerson] = []
        for part in sketch:
            birth = _birth_date(rng, part.age, on)
            given = self.given.draw(rng, sex=part.sex, birth_year=birth.year)
            members.append(
                TruePerson(
                    number=self.next_person,
                    relationship=part.relationship,
                    sex=part.sex,
                    birth=birth,
                    given=given,
                    father=given,  # replaced just below
                )
            )
            self.next_person += 1
        for part, person in zip(sketch, members, strict=True):
            if part.father is not None:
                person.father = members[part.father].given
            else:
                person.father = self.given.draw(rng, sex="M", birth_year=person.birth.year - 30)
            age = part.age
            person.documents = _documents(rng, age)
            person.disability = _disability(rng, age)
            person.specific_needs = _needs(rng, person, age, sketch)
            if age >= 16 and part.relationship != "head" and rng.random() < 0.2:
                person.phone = phone_number(rng)
        head = members[0]
        if rng.random() < 0.75:
            head.phone = phone_number(rng)
        phone = head.phone or next((m.phone for m in members if m.phone), "")
        household = TrueHousehold(
            number=self.next_household,
            surname=surname,
            origin=self.places.draw(rng),
            members=members,
            phone=phone,
        )
        self.next_household += 1
        return household
