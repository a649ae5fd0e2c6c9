"""A caseworker's search for a sought person: who registered, at any site, may be them?

The searcher says a name as they would say it ("Асмик Арутюнян", "Harutyunyan Hasmik", "Асмик
Мгеровна Арутюнян"), in any script, and perhaps a birth year, sex and home settlement. The name is
read each way it sensibly can be (given family; family given; given patronymic family; family given
patronymic), each reading is looked up and scored by the desk-time check
(`haven.identity.check.find_candidates`: the identity model's weights and comparisons, so the
probability is the model's calibrated, absolute probability), and each person keeps their best
reading. What the searcher does not know (the year, the sex) counts neither for nor against.
Every candidate shown is an audited read.
"""

import re

from django.utils import timezone
from django.utils.translation import gettext as _

from haven.core.errors import FieldError, InvalidInput
from haven.core.models import User
from haven.identity.check import Candidate, find_candidates
from haven.identity.scoring import SWAPPED
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
    best: dict[int, Candidate] = {}
    for given, family, patronymic in readings(parts):
        for candidate in find_candidates(
            user=user,
            given_name=given,
            family_name=family,
            patronymic=patronymic,
            sex=sex or "",
            birth_year=birth_year,
            origin=origin.strip(),
            limit=limit,
            threshold=MIN_PROBABILITY,
            audit=False,
        ):
            known = best.get(candidate.person.pk)
            if known is None or _preference(candidate) < _preference(known):
                best[candidate.person.pk] = candidate
    # By weight, not probability: near certainty, probabilities round to the same float.
    found = sorted(best.values(), key=lambda c: (-c.match_weight, c.person.pk))[:limit]
    if found:
        audit_listed(
            user,
            "person.trace",
            [(c.person.uuid, c.person.site_id) for c in found],
            via="trace_find",
            query=name.strip(),
        )
    return found


def _preference(candidate: Candidate) -> tuple[bool, float]:
    """Which reading of the name stands for a person found by several: one in which the names
    agree as read, over one in which they agree swapped (the same evidence seen the other way
    round, which the model does not weigh for how common the names are), then the stronger."""
    swapped = any(reason.level == SWAPPED for reason in candidate.reasons)
    return swapped, -candidate.match_weight


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput([FieldError(field, message)])
