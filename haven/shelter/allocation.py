"""Who sleeps where: a proposed allocation of the waiting households to the shelters' free beds.

A household is *waiting* when it is registered and not in an open `Stay`. `propose` reads them and
the shelters' free beds, solves a mixed-integer programme with HiGHS (`scipy.optimize.milp`) and
returns a `Proposal` that a coordinator reviews (and may edit, as a list of household → shelter)
before `accept` checks every household in through `haven.shelter.actions.check_in`, all or
nothing. Beside it, `greedy` shows what the simple rule would have done, scored by the same
objective. A shelter manager allocates too, to the shelters they manage only: their proposals
offer those shelters' beds, and `accept` refuses any other. A proposal that comes back from a
page is not trusted: `review` checks its choices against the waiting households and free beds
of now before it is accepted.

The rules, every one checked after solving (`verify`): a household is one unit, never split; no
shelter gets more people than its free beds; a household with a mobility need (a member who has a
lot of difficulty walking or cannot walk, Washington Group 3 or 4, or is recorded with DS-PM,
DS-PS or ER-FR) goes only to a step-free shelter.

The objective, for each household of n people placed in shelter s (`placement_value`):

    n × (100                          a person with a bed: placing people comes first
         + 20 if s is in the household's preferred province
         − 3 per 100 km by road from its registration site's province to s's province
         + 10 if a relative household is in the same shelter, else 5 if in the same province)

so a bed given is worth far more than any preference or journey (a person's other terms lie
within −12 … +30). The *preferred province* is the province of relatives already sheltered: the
province where most of the household's relative households are staying now. *Relatives* are
households whose heads share a family-name key (`Person.family_key`, so that Harutyunyan and
Арутюнян match) and an origin settlement and who registered within a day of the next one of them:
families who fled one village together, registered at different desks. Road distance is the
great-circle distance between the provinces' centres times 1.4 (Armenia's roads wind through
mountains: Kapan–Yerevan is about 300 km by road, 215 km as the crow flies).

The model is aggregated so that 25,000 households × 1,000 shelters solves in seconds: households
of the same size, mobility need, registration province and preferred province form a *class*;
shelters of the same province and step-free-ness a *group* (they are alike to the objective).
First an integer programme sends y[class, group] households to each group, within its free beds
and within how many households of each size its shelters could hold; then, for each group, a
small integer programme packs its households into its shelters (z[size, shelter], as many people
as fit, Σ size × z ≤ free beds); the few households that packing leaves over go, biggest first,
to the best shelter that still has room for all of them. Concrete households fill the slots in a
fixed order (relatives next to each other, so that they share a shelter where the counts allow).
The relatives' terms are not in the programmes; the preferred province and this order carry them,
and the reported objective counts them for both the solver and the greedy rule.
"""

import math
import time
import uuid as uuid_lib
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np
from django.db import IntegrityError, transaction
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from haven.core import audit
from haven.core.errors import Conflict, HavenError, InvalidInput
from haven.core.models import User
from haven.registry.models import Household, Person
from haven.shelter.actions import check_in
from haven.shelter.models import Shelter, Stay
from haven.shelter.selectors import needs_step_free, runs_shelters, shelters_for

PERSON_WEIGHT = 100.0
PREFERENCE_WEIGHT = 20.0
TRAVEL_WEIGHT_PER_100_KM = 3.0
RELATIVES_SHELTER_WEIGHT = 10.0
RELATIVES_PROVINCE_WEIGHT = 5.0
ROAD_FACTOR = 1.4
RELATIVES_WITHIN = timedelta(days=1)
SOLVER_SECONDS_LIMIT = 60.0
MIP_GAP = 1e-4

# The provinces' administrative centres (latitude, longitude), for the road distances.
PROVINCE_CENTRES: dict[str, tuple[float, float]] = {
    "Yerevan": (40.18, 44.51),
    "Aragatsotn": (40.30, 44.36),  # Ashtarak
    "Ararat": (39.96, 44.55),  # Artashat
    "Armavir": (40.15, 44.04),  # Armavir
    "Gegharkunik": (40.35, 45.13),  # Gavar
    "Kotayk": (40.50, 44.77),  # Hrazdan
    "Lori": (40.81, 44.49),  # Vanadzor
    "Shirak": (40.79, 43.85),  # Gyumri
    "Syunik": (39.21, 46.41),  # Kapan
    "Tavush": (40.88, 45.15),  # Ijevan
    "Vayots Dzor": (39.76, 45.33),  # Yeghegnadzor
}


class AllocationError(HavenError):
    """An allocation that cannot be proposed or applied; nothing was written."""


def road_km(a: str, b: str) -> float:
    """Estimated road distance between two provinces' centres (0 within a province)."""
    if a == b or a not in PROVINCE_CENTRES or b not in PROVINCE_CENTRES:
        return 0.0
    (lat1, lon1), (lat2, lon2) = PROVINCE_CENTRES[a], PROVINCE_CENTRES[b]
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return ROAD_FACTOR * 2 * 6371.0 * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class WaitingHousehold:
    """A household waiting for a bed, as the allocation sees it. Lists of them are in
    registration order (the greedy rule's order)."""

    key: int  # Household.pk
    uuid: str
    persons: int
    step_free: bool
    origin_province: str  # the registration site's
    preferred_province: str | None = None
    relatives: str | None = None  # a relative group's key, when there are relatives


@dataclass(frozen=True)
class FreeBeds:
    """A shelter's beds not taken now."""

    key: int  # Shelter.pk
    code: str
    province: str
    step_free: bool
    free: int


@dataclass(frozen=True)
class Assignment:
    household: WaitingHousehold
    shelter: FreeBeds


@dataclass
class Proposal:
    """A proposed allocation and its figures (`figures()` is what the command prints)."""

    id: UUID
    assignments: list[Assignment]
    households: list[WaitingHousehold]
    shelters: list[FreeBeds]
    objective: float
    greedy_objective: float
    greedy_households_placed: int
    greedy_persons_placed: int
    solver_seconds: float
    split_households: int = 0
    over_capacity: int = 0
    step_free_unmet: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def households_placed(self) -> int:
        return len(self.assignments)

    @property
    def households_waiting(self) -> int:
        """Households left without a bed by this proposal."""
        return len(self.households) - len(self.assignments)

    @property
    def persons_placed(self) -> int:
        return sum(a.household.persons for a in self.assignments)

    @property
    def persons_waiting(self) -> int:
        return sum(h.persons for h in self.households) - self.persons_placed

    def figures(self) -> dict[str, Any]:
        return {
            "proposal": str(self.id),
            "households_placed": self.households_placed,
            "households_waiting": self.households_waiting,
            "persons_placed": self.persons_placed,
            "persons_waiting": self.persons_waiting,
            "free_beds": sum(s.free for s in self.shelters),
            "shelters": len(self.shelters),
            "split_households": self.split_households,
            "over_capacity": self.over_capacity,
            "step_free_unmet": self.step_free_unmet,
            "objective": round(self.objective, 1),
            "greedy_objective": round(self.greedy_objective, 1),
            "greedy_households_placed": self.greedy_households_placed,
            "greedy_persons_placed": self.greedy_persons_placed,
            "solver_seconds": round(self.solver_seconds, 3),
            "notes": self.notes,
        }


# --- the objective and the checks ------------------------------------------------------------


def placement_value(household: WaitingHousehold, province: str) -> float:
    """The objective's terms for one household placed in a shelter of `province`, relatives
    aside (they depend on where the others go: see `objective`)."""
    per_person = (
        PERSON_WEIGHT
        - TRAVEL_WEIGHT_PER_100_KM * road_km(household.origin_province, province) / 100
    )
    if household.preferred_province == province:
        per_person += PREFERENCE_WEIGHT
    return household.persons * per_person


def objective(assignments: Iterable[Assignment]) -> float:
    """The value of an allocation (higher is better): the same function scores solver and greedy."""
    placed = list(assignments)
    shelters: dict[str, Counter[int]] = defaultdict(Counter)
    provinces: dict[str, Counter[str]] = defaultdict(Counter)
    for a in placed:
        if a.household.relatives:
            shelters[a.household.relatives][a.shelter.key] += 1
            provinces[a.household.relatives][a.shelter.province] += 1
    total = 0.0
    for a in placed:
        total += placement_value(a.household, a.shelter.province)
        group = a.household.relatives
        if group:
            if shelters[group][a.shelter.key] > 1:
                total += RELATIVES_SHELTER_WEIGHT * a.household.persons
            elif provinces[group][a.shelter.province] > 1:
                total += RELATIVES_PROVINCE_WEIGHT * a.household.persons
    return total


@dataclass
class Check:
    split_households: int
    over_capacity: int
    step_free_unmet: int
    problems: list[str]


def verify(assignments: Sequence[Assignment], shelters: Sequence[FreeBeds]) -> Check:
    """Count what breaks the rules: a household placed twice or in part, a shelter over its free
    beds, a mobility need sent up steps."""
    problems: list[str] = []
    times = Counter(a.household.key for a in assignments)
    split = sum(1 for n in times.values() if n > 1)
    if split:
        problems.append(f"{split} households placed more than once")
    free = {s.key: s.free for s in shelters}
    used: Counter[int] = Counter()
    for a in assignments:
        used[a.shelter.key] += a.household.persons
    over = [key for key, n in used.items() if n > free.get(key, 0)]
    codes = {s.key: s.code for s in shelters}
    for key in over:
        problems.append(
            f"{codes.get(key, key)} would hold {used[key]} people in {free.get(key, 0)} free beds"
        )
    unmet = sum(1 for a in assignments if a.household.step_free and not a.shelter.step_free)
    if unmet:
        problems.append(f"{unmet} households with a mobility need placed in shelters with steps")
    return Check(split, len(over), unmet, problems)


# --- the greedy baseline -----------------------------------------------------------------------


def greedy(
    households: Sequence[WaitingHousehold], shelters: Sequence[FreeBeds]
) -> list[Assignment]:
    """The simple rule: households in registration order, each into the first shelter (by code)
    with room for all of it (step-free if needed), in its preferred province if one there has
    room."""
    ordered = sorted(shelters, key=lambda s: s.code)
    free = {s.key: s.free for s in ordered}
    placed: list[Assignment] = []
    for household in households:
        fits = [
            s
            for s in ordered
            if free[s.key] >= household.persons and (s.step_free or not household.step_free)
        ]
        if not fits:
            continue
        preferred = [s for s in fits if s.province == household.preferred_province]
        chosen = (preferred or fits)[0]
        free[chosen.key] -= household.persons
        placed.append(Assignment(household, chosen))
    return placed


# --- the optimisation --------------------------------------------------------------------------

ClassKey = tuple[int, bool, str, str]  # size, step-free need, origin province, preferred ("")
GroupKey = tuple[str, bool]  # province, step-free


def _milp(
    values: Sequence[float],
    upper: Sequence[float],
    rows: Sequence[tuple[list[tuple[int, float]], float, float]],
    time_limit: float,
) -> list[int]:
    """Maximise values · x over integers 0 ≤ x ≤ upper under the rows (low ≤ a · x ≤ high)."""
    count = len(values)
    if not count:
        return []
    r: list[int] = []
    c: list[int] = []
    a: list[float] = []
    for number, (entries, _low, _high) in enumerate(rows):
        for col, coef in entries:
            r.append(number)
            c.append(col)
            a.append(coef)
    matrix = coo_array((a, (r, c)), shape=(len(rows), count)).tocsr()
    result = milp(
        c=-np.asarray(values, dtype=float),
        constraints=LinearConstraint(
            matrix,
            np.asarray([low for _e, low, _h in rows], dtype=float),
            np.asarray([high for _e, _l, high in rows], dtype=float),
        ),
        integrality=np.ones(count),
        bounds=Bounds(np.zeros(count), np.asarray(upper, dtype=float)),
        options={"time_limit": time_limit, "mip_rel_gap": MIP_GAP},
    )
    if result.x is None:
        raise AllocationError(f"the solver found no allocation: {result.message}")
    return [int(v) for v in np.rint(result.x)]


def solve(
    households: Sequence[WaitingHousehold],
    shelters: Sequence[FreeBeds],
    *,
    time_limit: float = SOLVER_SECONDS_LIMIT,
) -> list[Assignment]:
    """The allocation of the aggregated model (see the module's docstring), in three steps: which
    households go to which group of shelters (one integer programme), how each group's share
    packs into its shelters (one small integer programme per group), then the few households
    that the packing left over into any beds still free, best value first."""
    deadline = time.perf_counter() + time_limit
    classes: dict[ClassKey, list[WaitingHousehold]] = defaultdict(list)
    for h in households:
        classes[(h.persons, h.step_free, h.origin_province, h.preferred_province or "")].append(h)
    groups: dict[GroupKey, list[FreeBeds]] = defaultdict(list)
    for s in sorted(shelters, key=lambda s: s.code):
        if s.free > 0:
            groups[(s.province, s.step_free)].append(s)
    if not classes or not groups:
        return []
    class_keys = sorted(classes)
    group_keys = sorted(groups)
    sizes = sorted({k[0] for k in class_keys})

    # 1. Classes to groups: y[class, group].
    values: list[float] = []
    upper: list[float] = []
    y_index: dict[tuple[ClassKey, GroupKey], int] = {}
    for c in class_keys:
        for g in group_keys:
            if c[1] and not g[1]:
                continue  # a mobility need goes up no steps
            if all(s.free < c[0] for s in groups[g]):
                continue  # no shelter of the group holds a household this big
            y_index[(c, g)] = len(values)
            values.append(placement_value(classes[c][0], g[0]))
            upper.append(len(classes[c]))
    rows: list[tuple[list[tuple[int, float]], float, float]] = []
    for c in class_keys:  # each class sends at most its households
        entries = [(y_index[(c, g)], 1.0) for g in group_keys if (c, g) in y_index]
        if entries:
            rows.append((entries, 0, len(classes[c])))
    for g in group_keys:  # each group takes at most its free beds ...
        entries = [(i, float(c[0])) for (c, gg), i in y_index.items() if gg == g]
        rows.append((entries, 0, sum(s.free for s in groups[g])))
        for k in sizes:  # ... and at most as many households of k as its shelters could hold
            entries = [(i, 1.0) for (c, gg), i in y_index.items() if gg == g and c[0] == k]
            if entries:
                rows.append((entries, 0, sum(s.free // k for s in groups[g])))
    x = _milp(values, upper, rows, max(1.0, deadline - time.perf_counter()))
    buckets: dict[tuple[int, GroupKey], list[WaitingHousehold]] = defaultdict(list)
    unsent: list[WaitingHousehold] = []
    for c in class_keys:
        queue = sorted(classes[c], key=_relatives_first)
        taken = 0
        for g in group_keys:
            n = x[y_index[(c, g)]] if (c, g) in y_index else 0
            buckets[(c[0], g)].extend(queue[taken : taken + n])
            taken += n
        unsent.extend(queue[taken:])

    # 2. Each group's households into its shelters: z[size, shelter], as many people as fit.
    placed: list[Assignment] = []
    free = {s.key: s.free for s in shelters}
    for g in group_keys:
        counts = {k: len(buckets[(k, g)]) for k in sizes if buckets.get((k, g))}
        if not counts:
            continue
        z_index: dict[tuple[int, int], int] = {}
        values, upper, rows = [], [], []
        for s in groups[g]:
            for k in counts:
                if k <= s.free:
                    z_index[(k, s.key)] = len(values)
                    values.append(float(k))
                    upper.append(min(s.free // k, counts[k]))
        for s in groups[g]:
            entries = [(z_index[(k, s.key)], float(k)) for k in counts if (k, s.key) in z_index]
            if entries:
                rows.append((entries, 0, s.free))
        for k, n in counts.items():
            entries = [(z_index[(k, s.key)], 1.0) for s in groups[g] if (k, s.key) in z_index]
            if entries:
                rows.append((entries, 0, n))
        z = _milp(values, upper, rows, max(1.0, deadline - time.perf_counter()))
        for k in counts:
            bucket = sorted(
                buckets[(k, g)],
                key=lambda h: (-placement_value(h, g[0]), *_relatives_first(h)),
            )
            slots = [
                s
                for s in groups[g]
                for _ in range(z[z_index[(k, s.key)]] if (k, s.key) in z_index else 0)
            ]
            for h, s in zip(bucket, slots, strict=False):
                placed.append(Assignment(h, s))
                free[s.key] -= h.persons
            unsent.extend(bucket[len(slots) :])

    # 3. What the packing left: into the beds still free, the best place for the biggest first.
    room = [s for s in shelters if free[s.key] > 0]
    for h in sorted(unsent, key=lambda h: (-h.persons, h.key)):
        fits = [s for s in room if free[s.key] >= h.persons and (s.step_free or not h.step_free)]
        if fits:
            best = max(fits, key=lambda s: (placement_value(h, s.province), -free[s.key], s.code))
            placed.append(Assignment(h, best))
            free[best.key] -= h.persons
            room = [s for s in room if free[s.key] > 0]
    return placed


def _relatives_first(h: WaitingHousehold) -> tuple[str, int]:
    return (h.relatives or "~", h.key)


def plan(
    households: Sequence[WaitingHousehold],
    shelters: Sequence[FreeBeds],
    *,
    time_limit: float = SOLVER_SECONDS_LIMIT,
) -> Proposal:
    """Solve, check and score an allocation of plain data; refuse one that breaks a rule."""
    started = time.perf_counter()
    assignments = solve(households, shelters, time_limit=time_limit)
    seconds = time.perf_counter() - started
    check = verify(assignments, shelters)
    if check.problems:
        raise AllocationError("the proposed allocation is invalid: " + "; ".join(check.problems))
    baseline = greedy(households, shelters)
    notes = []
    if objective(baseline) > objective(assignments):
        # The decomposition can lose a few beds to packing; never propose worse than the rule.
        assignments = baseline
        notes.append("the greedy allocation scored higher than the solver's and is proposed")
    return Proposal(
        id=uuid_lib.uuid4(),
        assignments=sorted(assignments, key=lambda a: (a.shelter.code, a.household.key)),
        households=list(households),
        shelters=list(shelters),
        objective=objective(assignments),
        greedy_objective=objective(baseline),
        greedy_households_placed=len(baseline),
        greedy_persons_placed=sum(a.household.persons for a in baseline),
        solver_seconds=seconds,
        split_households=check.split_households,
        over_capacity=check.over_capacity,
        step_free_unmet=check.step_free_unmet,
        notes=notes,
    )


# --- reading the registry ------------------------------------------------------------------


def may_allocate(user: User | None) -> bool:
    """Allocating reads every site's waiting households (their size, province, step-free need
    and head's name): a coordinator or an administrator, to every shelter, or a shelter manager,
    to the shelters they manage."""
    return runs_shelters(user)


def free_beds(shelter_ids: Collection[int] | None = None) -> list[FreeBeds]:
    """Every shelter's beds not taken by an open stay (never below zero); only the shelters of
    `shelter_ids` when it is given."""
    shelters = Shelter.objects.order_by("code")
    stays = Stay.objects.filter(checked_out_at__isnull=True)
    if shelter_ids is not None:
        shelters = shelters.filter(pk__in=list(shelter_ids))
        stays = stays.filter(shelter_id__in=list(shelter_ids))
    taken: Counter[int] = Counter()
    for shelter_id, persons in stays.values_list("shelter_id", "persons"):
        taken[shelter_id] += persons
    return [
        FreeBeds(
            key=pk, code=code, province=province, step_free=step_free, free=max(0, beds - taken[pk])
        )
        for pk, code, province, step_free, beds in shelters.values_list(
            "pk", "code", "province", "step_free", "beds"
        )
    ]


def _relative_groups(
    heads: Iterable[tuple[int, str, str, datetime]],
) -> dict[int, str]:
    """Household → relative group key, for households that have relatives (module docstring)."""
    by_name: dict[tuple[str, str], list[tuple[datetime, int]]] = defaultdict(list)
    for household, family_key, origin, registered_at in heads:
        if family_key and origin.strip():
            by_name[(family_key, origin.strip().casefold())].append((registered_at, household))
    groups: dict[int, str] = {}
    for (family_key, origin), members in by_name.items():
        members.sort()
        chains: list[list[int]] = []
        previous: datetime | None = None
        for registered_at, household in members:
            if previous is None or registered_at - previous > RELATIVES_WITHIN:
                chains.append([])
            chains[-1].append(household)
            previous = registered_at
        for number, chain in enumerate(c for c in chains if len(c) > 1):
            for member in chain:
                groups[member] = f"{family_key}|{origin}|{number}"
    return groups


def waiting_households() -> list[WaitingHousehold]:
    """The registered households not in a shelter, in registration order, with their needs, their
    relatives and the province where their relatives already are. A household whose case was
    closed (departed, resettled, a duplicate; haven.registry.actions.close_household) no longer
    waits for a bed."""
    staying = Stay.objects.filter(checked_out_at__isnull=True)
    rows = list(
        Household.objects.exclude(pk__in=staying.values("household_id"))
        .filter(member_count__gt=0, closed_at__isnull=True)
        .order_by("registered_at", "pk")
        .values_list(
            "pk", "uuid", "member_count", "site__province", "registered_at", "origin_settlement"
        )
    )
    needs: set[int] = set()
    heads: dict[int, str] = {}
    members = Person.objects.exclude(household__in=staying.values("household_id")).values_list(
        "household_id", "relationship", "family_key", "wg_walking", "specific_needs"
    )
    for household, relationship, family_key, walking, codes in members.iterator(chunk_size=5000):
        if needs_step_free(walking, codes):
            needs.add(household)
        if relationship == Person.Relationship.HEAD:
            heads[household] = family_key
    sheltered = list(
        staying.filter(household__members__relationship=Person.Relationship.HEAD).values_list(
            "household_id",
            "household__members__family_key",
            "household__origin_settlement",
            "household__registered_at",
            "shelter__province",
        )
    )
    groups = _relative_groups(
        [(pk, heads.get(pk, ""), origin, at) for pk, _u, _n, _p, at, origin in rows]
        + [(pk, key, origin, at) for pk, key, origin, at, _province in sheltered]
    )
    where: dict[str, Counter[str]] = defaultdict(Counter)
    for pk, _key, _origin, _at, province in sheltered:
        if pk in groups:
            where[groups[pk]][province] += 1
    preferred = {
        group: min(counts, key=lambda p: (-counts[p], p)) for group, counts in where.items()
    }
    return [
        WaitingHousehold(
            key=pk,
            uuid=str(uuid),
            persons=persons,
            step_free=pk in needs,
            origin_province=province,
            preferred_province=preferred.get(groups.get(pk, "")),
            relatives=groups.get(pk),
        )
        for pk, uuid, persons, province, _at, _origin in rows
    ]


def _scope(user: User | None, shelter_codes: Collection[str] | None) -> list[int] | None:
    """The shelters an allocation by `user` may fill (None: every shelter, for the system)."""
    if user is not None and not may_allocate(user):
        raise AllocationError(
            f"{user.username} may not allocate shelter (not a coordinator or shelter manager)"
        )
    if user is None and shelter_codes is None:
        return None
    shelters = shelters_for(user) if user is not None else Shelter.objects.all()
    if shelter_codes is not None:
        shelters = shelters.filter(code__in=list(shelter_codes))
    return list(shelters.values_list("pk", flat=True))


def propose(
    *,
    user: User | None,
    shelter_codes: Collection[str] | None = None,
    time_limit: float = SOLVER_SECONDS_LIMIT,
) -> Proposal:
    """The allocation proposed now for every waiting household, to the shelters `user` works for
    (a shelter manager: their own), only those of `shelter_codes` when given. Writes nothing."""
    shelters = free_beds(_scope(user, shelter_codes))
    if not shelters:
        raise AllocationError("there are no shelters: add some first (haven shelter add)")
    return plan(waiting_households(), shelters, time_limit=time_limit)


def review(
    *,
    user: User | None,
    choices: Sequence[tuple[str, str]],
    proposal_id: UUID | None = None,
    shelter_codes: Collection[str] | None = None,
) -> Proposal:
    """An allocation sent back by a reviewer ((household uuid, shelter code) pairs, as proposed
    or edited), checked by `edited` against the state of now, not against what the page showed:
    the households must still be waiting, the shelters be ones `user` works for, and each
    shelter's free beds now must hold what it is given. Scored beside the greedy rule on the same
    state. Solves nothing and writes nothing."""
    shelters = free_beds(_scope(user, shelter_codes))
    if not shelters:
        raise AllocationError("there are no shelters: add some first (haven shelter add)")
    households = waiting_households()
    baseline = greedy(households, shelters)
    current = Proposal(
        id=proposal_id or uuid_lib.uuid4(),
        assignments=[],
        households=households,
        shelters=shelters,
        objective=0.0,
        greedy_objective=objective(baseline),
        greedy_households_placed=len(baseline),
        greedy_persons_placed=sum(a.household.persons for a in baseline),
        solver_seconds=0.0,
    )
    return edited(current, choices)


def edited(proposal: Proposal, choices: Sequence[tuple[str, str]]) -> Proposal:
    """The proposal as a reviewer changed it: (household uuid, shelter code) pairs replace its
    assignments; checked against the same rules, and scored."""
    households = {h.uuid: h for h in proposal.households}
    shelters = {s.code: s for s in proposal.shelters}
    assignments: list[Assignment] = []
    for number, (household, code) in enumerate(choices):
        if household not in households:
            raise AllocationError(f"assignments.{number}: household {household} is not waiting")
        if code not in shelters:
            raise AllocationError(f"assignments.{number}: no shelter has the code {code!r}")
        assignments.append(Assignment(households[household], shelters[code]))
    check = verify(assignments, proposal.shelters)
    if check.problems:
        raise AllocationError("the edited allocation is invalid: " + "; ".join(check.problems))
    proposal.assignments = assignments
    proposal.objective = objective(assignments)
    proposal.split_households = check.split_households
    proposal.over_capacity = check.over_capacity
    proposal.step_free_unmet = check.step_free_unmet
    return proposal


# --- applying it -------------------------------------------------------------------------------


def accept(proposal: Proposal, *, acting_user: User | None) -> int:
    """Check every household of the proposal in, in one transaction: if one no longer fits (someone
    checked in meanwhile, beds were lowered) or is already in a shelter, nothing is applied and the
    error names the household and the shelter. Returns the households checked in."""
    if acting_user is not None and not may_allocate(acting_user):
        raise AllocationError(
            f"{acting_user.username} may not allocate shelter (not a coordinator or shelter"
            " manager)"
        )
    if not proposal.assignments:
        raise AllocationError("nothing to accept: the proposal places no household")
    if acting_user is not None:
        theirs = set(shelters_for(acting_user).values_list("pk", flat=True))
        for a in proposal.assignments:
            if a.shelter.key not in theirs:
                raise AllocationError(
                    f"{acting_user.username} may not allocate to shelter {a.shelter.code};"
                    " nothing was applied"
                )
    households = Household.objects.in_bulk([a.household.key for a in proposal.assignments])
    shelters = Shelter.objects.in_bulk([a.shelter.key for a in proposal.assignments])
    with transaction.atomic():
        for a in proposal.assignments:
            household, shelter = households.get(a.household.key), shelters.get(a.shelter.key)
            if household is None or shelter is None:
                raise AllocationError(
                    f"household {a.household.uuid} or shelter {a.shelter.code} no longer exists;"
                    " nothing was applied"
                )
            try:
                check_in(household=household, shelter=shelter, acting_user=acting_user)
            except (InvalidInput, Conflict, IntegrityError) as exc:
                # IntegrityError: checked in elsewhere at the same moment (one open stay each).
                raise AllocationError(
                    f"household {a.household.uuid} no longer fits in {a.shelter.code} ({exc});"
                    " nothing was applied: propose again"
                ) from exc
        audit.record(
            user=acting_user,
            action="shelter.allocation.accept",
            object_type="allocation",
            object_uuid=proposal.id,
            detail={
                "households": proposal.households_placed,
                "persons": proposal.persons_placed,
                "shelters": len({a.shelter.key for a in proposal.assignments}),
                "households_waiting": proposal.households_waiting,
                "objective": round(proposal.objective, 1),
                "greedy_objective": round(proposal.greedy_objective, 1),
            },
        )
    return proposal.households_placed
