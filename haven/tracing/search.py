"""A caseworker's search for a sought person: who registered, at any site, may be them?

The searcher says a name as they would say it ("Асмик Арутюнян", "Harutyunyan Hasmik", "Асмик
Мгеровна Арутюнян"), in any script, and perhaps a birth year, sex and home settlement. The name is
read each way it sensibly can be (given family; family given; given patronymic family; family given
patronymic), and each reading is scored as the desk-time check scores (`haven.identity.check.
score`: the identity model's weights and comparisons, so the probability is the model's calibrated,
absolute probability); each person keeps their best reading. What the searcher does not know (the
year, the sex) counts neither for nor against. Every candidate shown is an audited read.

Candidates are looked up as the desk check looks them up (both names' keys within the years a
guess moves a birth; one name's key and the year), with two differences that a relative's
description needs (bench/bench_tracing.py measures them): a typo in one name is forgiven (its key
one edit away, among the keys someone has: `registered_near`), and all readings are looked up
together, choosing from the keys and years alone whom to read whole, so that a common name's
hundreds of namesakes cost an index read rather than hundreds of rows.
"""

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.core.errors import FieldError, InvalidInput
from haven.core.models import User
from haven.identity.check import (
    CANDIDATES_SCANNED,
    Candidate,
    Reason,
    RegistryFrequencies,
    current_weights,
    documents_of,
    score,
)
from haven.identity.comparisons import YEARS_APART, Features, features
from haven.identity.records import PERSON_COLUMNS, person_features
from haven.identity.scoring import SWAPPED, probability
from haven.names import name_forms
from haven.registry.models import Person
from haven.registry.schemas import MAX_AGE_YEARS, checked_name
from haven.registry.selectors import audit_listed

MAX_NAME_PARTS = 5  # given, patronymic, family, and a double given or family name
MAX_NAME_LENGTH = 310  # three names of at most 100 characters, and the spaces between them
MAX_ORIGIN_LENGTH = 100
MAX_LIMIT = 100
# Below this the model is all but sure it is someone else: not worth a caseworker's reading.
MIN_PROBABILITY = 0.001
SEXES = ("F", "M")
# Who searches for the sought: caseworkers, and those above them (a registrar only checks arrivals).
TRACING_ROLES = frozenset({User.Role.CASEWORKER, User.Role.COORDINATOR, User.Role.ADMIN})


def may_trace(user: User) -> bool:
    return user.is_active and user.role in TRACING_ROLES


_SEPARATORS = re.compile(r"[\s,;]+")


def name_parts(name: str) -> list[str]:
    """The parts of a name as said, each a name Haven could have registered; InvalidInput
    naming the problem otherwise."""
    if len(name) > MAX_NAME_LENGTH:
        raise _invalid(
            "name",
            _("must be at most %(max)s characters (it has %(length)s)")
            % {"max": MAX_NAME_LENGTH, "length": len(name)},
        )
    parts = [part for part in _SEPARATORS.split(name.strip()) if part]
    if not parts:
        raise _invalid("name", _("must not be empty"))
    if len(parts) > MAX_NAME_PARTS:
        raise _invalid(
            "name",
            _("has %(count)s parts; give at most %(max)s (given, patronymic, family)")
            % {"count": len(parts), "max": MAX_NAME_PARTS},
        )
    for part in parts:
        try:
            checked_name(part)
        except ValueError as error:
            raise _invalid("name", f"{part!r} {error}") from None
    return parts


def readings(parts: list[str]) -> list[tuple[str, str, str]]:
    """The sensible (given, family, patronymic) readings of a name's parts, likeliest first."""
    if len(parts) == 1:
        return [(parts[0], "", ""), ("", parts[0], "")]
    if len(parts) == 2:
        return [(parts[0], parts[1], ""), (parts[1], parts[0], "")]
    # Given patronymic family (as said), and family given patronymic (as Russian forms write it).
    return [
        (parts[0], parts[-1], " ".join(parts[1:-1])),
        (parts[1], parts[0], " ".join(parts[2:])),
    ]


def checked_search(
    *, birth_year: int | None, sex: str | None, origin: str, limit: int
) -> list[FieldError]:
    """What is wrong with the search besides its name (an empty list if nothing)."""
    errors = []
    this_year = timezone.localdate().year
    if birth_year is not None and not this_year - MAX_AGE_YEARS <= birth_year <= this_year:
        errors.append(
            FieldError(
                "birth_year",
                _("%(year)s is not a possible year of birth (give one from %(first)s to %(last)s)")
                % {"year": birth_year, "first": this_year - MAX_AGE_YEARS, "last": this_year},
            )
        )
    if sex is not None and sex not in SEXES:
        errors.append(
            FieldError("sex", _("must be F or M (or not given), not %(sex)r") % {"sex": sex})
        )
    if len(origin) > MAX_ORIGIN_LENGTH:
        errors.append(
            FieldError(
                "origin",
                _("must be at most %(max)s characters (it has %(length)s)")
                % {"max": MAX_ORIGIN_LENGTH, "length": len(origin)},
            )
        )
    if not 1 <= limit <= MAX_LIMIT:
        errors.append(FieldError("limit", _("must be from 1 to %(max)s") % {"max": MAX_LIMIT}))
    return errors


def find_people(
    *,
    name: str,
    birth_year: int | None,
    sex: str | None,
    origin: str,
    limit: int = 10,
    user: User | None = None,
) -> list[Candidate]:
    """Registered people who may be the sought person, most probable first; each shown is
    audited as read by `user` (None: Haven's own read, the command line)."""
    errors = checked_search(birth_year=birth_year, sex=sex, origin=origin, limit=limit)
    try:
        parts = name_parts(name)
    except InvalidInput as invalid:
        errors = invalid.errors + errors
    if errors:
        raise InvalidInput(errors)
    unknown = {"birth_date"} if birth_year is None else set()
    if not sex:
        unknown.add("sex")
    sought = [
        _Reading.of(given, family, patronymic, birth_year=birth_year, sex=sex, origin=origin)
        for given, family, patronymic in readings(parts)
    ]
    found = _scored(sought, _candidate_rows(sought, birth_year), unknown, limit)
    if found:
        audit_listed(
            user,
            "person.trace",
            [(c.person.uuid, c.person.site_id) for c in found],
            via="trace_find",
            query=name.strip(),
        )
    return found


def _scored(
    sought: list["_Reading"], rows: list[tuple[Any, ...]], unknown: set[str], limit: int
) -> list[Candidate]:
    """Each row scored against the readings that found it, by its best reading; the `limit`
    strongest at or above MIN_PROBABILITY."""
    if not rows:
        return []
    docs = documents_of([r[0] for r in rows])
    weights = current_weights()
    frequencies = RegistryFrequencies(weights)
    scored: dict[int, tuple[float, float, list[Reason]]] = {}
    for row in rows:
        other: Features | None = None
        for reading in sought:
            if not reading.finds(row[-2], row[-1], row[_YEAR]):
                continue
            other = other or person_features(row[:-2], docs.get(row[0], []))
            weight, reasons = score(reading.query, other, weights, frequencies, unknown)
            chance = probability(weight)
            if chance < MIN_PROBABILITY:
                continue
            known = scored.get(row[0])
            if known is None or _preference(weight, reasons) < _preference(known[1], known[2]):
                scored[row[0]] = (chance, weight, reasons)
    # By weight, not probability: near certainty, probabilities round to the same float.
    chosen = sorted(scored.items(), key=lambda item: (-item[1][1], item[0]))[:limit]
    shown = Person.objects.select_related("site", "household").in_bulk([pk for pk, _ in chosen])
    return [
        Candidate(person=shown[pk], probability=chance, match_weight=weight, reasons=reasons)
        for pk, (chance, weight, reasons) in chosen
    ]


# A typo changes a name's key by one letter at most, mostly: these are the letters keys are made of.
KEY_LETTERS = "acefjklmnopqrstuvwxz"
_YEAR = PERSON_COLUMNS.index("birth_year")
# Persons found by both names whose keys and years are read to choose the closest from: a common
# name with its near spellings, and no year said, is a few thousand at a million registered.
PAIRS_READ = 5000
PAIRS_SCANNED = CANDIDATES_SCANNED
ONE_NAME_SCANNED = 50


@lru_cache(maxsize=4096)
def near_keys(key: str) -> frozenset[str]:
    """The key and every key one edit away (a letter dropped, added, changed, or two swapped):
    what a typo in the name makes of its key."""
    near = {key}
    for i in range(len(key) + 1):
        for letter in KEY_LETTERS:
            near.add(key[:i] + letter + key[i:])
        if i < len(key):
            near.add(key[:i] + key[i + 1 :])
            for letter in KEY_LETTERS:
                near.add(key[:i] + letter + key[i + 1 :])
        if i + 1 < len(key):
            near.add(key[:i] + key[i + 1] + key[i] + key[i + 2 :])
    near.discard("")
    return frozenset(near)


@dataclass(frozen=True)
class _Reading:
    """One reading of the sought name: its features (the query the model scores) and the keys
    it looks candidates up by."""

    query: Features
    given_key: str
    family_key: str
    swapped_given_key: str  # the names written the other way round, as the desk check looks
    swapped_family_key: str
    birth_year: int | None

    @classmethod
    def of(
        cls,
        given: str,
        family: str,
        patronymic: str,
        *,
        birth_year: int | None,
        sex: str | None,
        origin: str,
    ) -> "_Reading":
        query = features(
            unique_id=0,
            household_id=0,
            given_name=given,
            family_name=family,
            patronymic=patronymic,
            sex=sex or "",
            birth_year=birth_year or 0,
            birth_month=None,
            birth_day=None,
            birth_estimated=False,
            registered_year=timezone.now().year,
            origin=origin.strip(),
            phone="",
        )
        return cls(
            query=query,
            given_key=query.given_key,
            family_key=query.family_key,
            swapped_given_key=name_forms(family, "given").key if family else "",
            swapped_family_key=name_forms(given, "family").key if given else "",
            birth_year=birth_year,
        )

    def pair_conditions(self, registered: dict[str, dict[str, frozenset[str]]]) -> Iterator[Q]:
        """What finds this reading's likeliest candidates: both names' keys (or one of them one
        typo away, or both written the other way round) within the years a guess or a typo
        moves a birth, any year when the year is not known. `registered`: the keys near the
        sought ones that someone has, by part and key (`registered_near`)."""
        if not (self.given_key and self.family_key):
            return
        year = self.birth_year
        years = (
            Q()
            if year is None
            else Q(birth_year__gte=year - YEARS_APART, birth_year__lte=year + YEARS_APART)
        )
        given = registered["given"][self.given_key]
        family = registered["family"][self.family_key]
        yield Q(family_key=self.family_key, given_key__in=sorted(given)) & years
        yield Q(family_key__in=sorted(family), given_key=self.given_key) & years
        if self.swapped_given_key and self.swapped_family_key:
            swapped = Q(given_key=self.swapped_given_key, family_key=self.swapped_family_key)
            yield swapped & years

    def one_name_conditions(self) -> Iterator[Q]:
        """One name's key and the very year, as the desk check looks (a name spelt beyond a
        typo's reach): for the commonest names, hundreds a year, so looked up apart."""
        if self.birth_year is None:
            return
        if self.given_key:
            yield Q(given_key=self.given_key, birth_year=self.birth_year)
        if self.family_key:
            yield Q(family_key=self.family_key, birth_year=self.birth_year)

    def finds(self, given_key: str, family_key: str, birth_year: int | None) -> bool:
        """Whether one of this reading's conditions found a row with these keys."""
        year = self.birth_year
        close = year is None or (birth_year is not None and abs(birth_year - year) <= YEARS_APART)
        if close and self.given_key and self.family_key:
            if family_key == self.family_key and given_key in near_keys(self.given_key):
                return True
            if given_key == self.given_key and family_key in near_keys(self.family_key):
                return True
            if given_key and (given_key, family_key) == (
                self.swapped_given_key,
                self.swapped_family_key,
            ):
                return True
        return birth_year == year and (
            (bool(self.given_key) and given_key == self.given_key)
            or (bool(self.family_key) and family_key == self.family_key)
        )


def _candidate_rows(sought: list[_Reading], birth_year: int | None) -> list[tuple[Any, ...]]:
    """The persons the readings find: those found by both names (both as said first, then one
    a typo away; the closest birth years first), as many as the desk check scans; then a few
    found by one name and the year (the commonest names' hundreds a year, in no order that
    would favour the sought, are mostly namesakes: measured, scanning 200 of them rather than
    50 found no more and doubled the time). The model's columns, then the given and family keys.

    Chosen from the keys and years alone, and only those chosen are read whole, with their
    household: a common name's hundreds are not."""
    named = [r for r in sought if r.given_key and r.family_key]
    registered = {
        "given": registered_near("given", {r.given_key for r in named}),
        "family": registered_near("family", {r.family_key for r in named}),
    }
    pairs = Q(pk__in=[])
    for reading in sought:
        for condition in reading.pair_conditions(registered):
            pairs |= condition
    givens = {r.given_key for r in sought} | {r.swapped_given_key for r in sought}
    families = {r.family_key for r in sought} | {r.swapped_family_key for r in sought}

    def closeness(found: tuple[int, int | None, str, str]) -> tuple[int, int, int]:
        pk, year, given, family = found
        apart = 0 if birth_year is None or year is None else abs(year - birth_year)
        return (given not in givens) + (family not in families), apart, pk

    keyed = (
        Person.objects.filter(pairs)
        .order_by()
        .values_list("pk", "birth_year", "given_key", "family_key")
    )
    chosen = [f[0] for f in sorted(keyed[:PAIRS_READ], key=closeness)]
    chosen = chosen[:PAIRS_SCANNED]
    if birth_year is not None:
        singles = Q(pk__in=[])
        for reading in sought:
            for condition in reading.one_name_conditions():
                singles |= condition
        more = Person.objects.filter(singles).exclude(pk__in=chosen).order_by("pk")
        chosen += more.values_list("pk", flat=True)[:ONE_NAME_SCANNED]
    if not chosen:
        return []
    columns = (*PERSON_COLUMNS, "given_key", "family_key")
    return list(Person.objects.filter(pk__in=chosen).order_by().values_list(*columns))


NEAR_SECONDS = 60.0  # how long which near keys are registered is reused
_NEAR: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}


def registered_near(part: str, keys: set[str]) -> dict[str, frozenset[str]]:
    """For each key of a name part ("given", "family"): itself and the keys one typo away that
    someone registered has. Read from the name index (one statement for all keys), at most once
    a minute per key, as the desk check counts names: a typo's keys are hundreds, nearly all
    no one's, and those of a name spelt anew turn up within the minute."""
    now = time.monotonic()
    known: dict[str, frozenset[str]] = {}
    missing = []
    for key in keys:
        cached = _NEAR.get((part, key))
        if cached is not None and now - cached[0] < NEAR_SECONDS:
            known[key] = cached[1]
        else:
            missing.append(key)
    if missing:
        wanted = sorted(set().union(*(near_keys(key) for key in missing)))
        table = connection.ops.quote_name(Person._meta.db_table)
        column = connection.ops.quote_name(f"{part}_key")  # a plain field's column is its name
        # Which of the keys are anyone's: one index probe each, stopping at the first entry
        # (DISTINCT over IN would read every entry of a common name's key: 6-7 ms where this
        # takes 0.5 on SQLite, 2 on PostgreSQL). Names from the model, the keys as one parameter.
        params: list[Any]
        if connection.vendor == "postgresql":
            source, params = "unnest(%s::text[]) AS keys (value)", [wanted]
        else:
            source, params = "json_each(%s)", [json.dumps(wanted)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT value FROM {source} WHERE EXISTS"  # noqa: S608
                f" (SELECT 1 FROM {table} WHERE {column} = value)",
                params,
            )
            found = {row[0] for row in cursor.fetchall()}
        if len(_NEAR) > 100_000:  # names are few; a flood of odd ones must not grow this
            _NEAR.clear()
        for key in missing:
            known[key] = frozenset(near_keys(key) & found | {key})
            _NEAR[(part, key)] = (now, known[key])
    return known


def _preference(weight: float, reasons: list[Reason]) -> tuple[bool, float]:
    """Which reading of the name stands for a person found by several: one in which the names
    agree as read, over one in which they agree swapped (the same evidence seen the other way
    round, which the model does not weigh for how common the names are), then the stronger."""
    swapped = any(reason.level == SWAPPED for reason in reasons)
    return swapped, -weight


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput([FieldError(field, message)])
