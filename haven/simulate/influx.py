"""A whole simulated influx: arrivals on a curve, a registration backlog, sites, the way each
registrar typed each name, people registered twice, hourly crossing counts and the ground truth.

`simulate_influx` is pure and deterministic: the same seed and arguments give the same payloads,
byte for byte. Writing them to a database is the `haven simulate` command's job, through the
registry's actions.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from haven.simulate.curve import ARMENIA, ArrivalCurve, default_curve
from haven.simulate.households import HouseholdFactory, TrueHousehold, TruePerson, phone_number
from haven.simulate.names import Rendering, WeightedChoice, patronymic, typo


@dataclass(frozen=True)
class SimSite:
    code: str
    name: str
    kind: str
    province: str
    share: float  # of first registrations
    travel_minutes: tuple[int, int]  # from the crossing, fastest and slowest


# Where people were registered in 2023: at the crossing, in the Goris and Vayk hubs, and in the
# humanitarian centres that opened in the following days.
SITES_2023: tuple[SimSite, ...] = (
    SimSite("KOR", "Kornidzor crossing point", "crossing", "Syunik", 0.30, (5, 40)),
    SimSite("GORIS", "Goris humanitarian hub", "hub", "Syunik", 0.42, (30, 90)),
    SimSite("VAYK", "Vayk humanitarian hub", "hub", "Vayots Dzor", 0.12, (180, 260)),
    SimSite("SISIAN", "Sisian humanitarian centre", "hub", "Syunik", 0.06, (70, 130)),
    SimSite("KAPAN", "Kapan humanitarian centre", "hub", "Syunik", 0.05, (80, 150)),
    SimSite("YEREVAN", "Yerevan humanitarian centre", "hub", "Yerevan", 0.05, (330, 480)),
)
CROSSING_SITE = "KOR"
PEOPLE_PER_VEHICLE = 4.8

# How a registration is typed, and how often.
RENDERING_SHARES = {
    Rendering.ARMENIAN: 0.42,
    Rendering.PASSPORT: 0.22,
    Rendering.LATIN_VARIANT: 0.10,
    Rendering.RUSSIAN: 0.26,
}
TYPO_RATE = 0.03  # per name typed
DUPLICATE_TYPO_RATE = 0.25


@dataclass
class Registration:
    """One household registration as sent to Haven, and the truth behind each of its members."""

    payload: dict[str, Any]
    site: str
    registered_at: datetime
    arrival: datetime
    truth: list[tuple[str, int]]  # (person uuid, true person number)
    duplicate: bool = False


@dataclass
class CrossingHour:
    payload: dict[str, Any]


@dataclass
class Influx:
    registrations: list[Registration]
    crossings: list[CrossingHour]
    people: int  # true people who arrived
    duplicate_records: int
    max_backlog: int
    stats: dict[str, Any] = field(default_factory=dict)

    def truth_rows(self) -> Iterator[tuple[str, int]]:
        for registration in self.registrations:
            yield from registration.truth


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(moment: datetime) -> str:
    return moment.astimezone(ARMENIA).isoformat(timespec="seconds")


class _Writer:
    """Renders true people as a registrar types them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.renderings = WeightedChoice(list(RENDERING_SHARES), list(RENDERING_SHARES.values()))

    def rendering(self) -> Rendering:
        return self.renderings.draw(self.rng)

    def _typed(self, text: str, rate: float) -> str:
        return typo(text, self.rng) if self.rng.random() < rate else text

    def birth(self, person: TruePerson, on: date, *, duplicate: bool) -> dict[str, Any]:
        rng = self.rng
        age = person.age_on(on)
        if duplicate and rng.random() < 0.35:
            return {"birth_date": f"{person.birth.year:04d}"}
        full, month, year = (0.55, 0.6, 0.82) if age >= 65 else (0.74, 0.8, 0.93)
        if age < 5:
            full, month, year = 0.92, 0.96, 0.99
        draw = rng.random()
        if draw < full:
            return {"birth_date": person.birth.isoformat()}
        if draw < month:
            return {"birth_date": f"{person.birth.year:04d}-{person.birth.month:02d}"}
        if draw < year:
            return {"birth_date": f"{person.birth.year:04d}"}
        # "About 70": older people's ages are often rounded when guessed.
        estimate = age if age < 20 else round(age / 5) * 5 if rng.random() < 0.5 else age
        return {"estimated_age": max(0, min(estimate, 110))}

    def member(
        self,
        person: TruePerson,
        household: TrueHousehold,
        rendering: Rendering,
        *,
        relationship: str,
        on: date,
        duplicate: bool,
    ) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < 0.03:
            rendering = self.rendering()  # now and then one member is typed differently
        rate = DUPLICATE_TYPO_RATE if duplicate else TYPO_RATE
        given = self._typed(person.given.render(rendering, rng), rate)
        family = self._typed(household.surname.render(rendering, rng), rate)
        father = ""
        if rng.random() < (0.6 if duplicate else 0.75):
            father = patronymic(person.father, rendering, sex=person.sex, rng=rng)
            father = self._typed(father, rate)
        member: dict[str, Any] = {
            "uuid": _uuid(rng),
            "given_name": given,
            "family_name": family,
            "patronymic": father,
            "sex": person.sex,
            "relationship": relationship,
            "phone": person.phone if not duplicate or rng.random() < 0.5 else "",
            "documents": person.documents if not duplicate or rng.random() < 0.6 else [],
            "specific_needs": person.specific_needs,
            "disability": person.disability,
        }
        member.update(self.birth(person, on, duplicate=duplicate))
        return member

    def origin(self, household: TrueHousehold, rendering: Rendering) -> str:
        if self.rng.random() < 0.05:
            return ""
        armenian, latin, russian = household.origin
        if rendering is Rendering.ARMENIAN:
            return armenian
        if rendering is Rendering.RUSSIAN:
            return russian
        return latin


def _registration_times(
    rng: random.Random,
    arrivals: list[tuple[datetime, int, SimSite]],
    curve: ArrivalCurve,
) -> list[datetime]:
    """When each household is registered: after travelling to its site and waiting its turn.

    The desks together register people at a rate that starts at a tenth of the peak arrival rate
    and rises over four and a half days to 85 % of it, as staff and desks were added; meanwhile a
    backlog builds up (in 2023 it reached 20–25 thousand people).
    """
    peak = max(
        (curve.cumulative[i + 1] - curve.cumulative[i])
        / max((curve.times[i + 1] - curve.times[i]).total_seconds() / 3600, 1e-9)
        for i in range(len(curve.times) - 1)
    )
    start = curve.times[0]

    def rate(moment: datetime) -> float:  # people per hour
        hours = (moment - start).total_seconds() / 3600
        return max(1.0, peak * (0.1 + 0.75 * min(1.0, max(0.0, hours) / 110)))

    earliest = []
    for index, (arrival, _size, site) in enumerate(arrivals):
        travel = timedelta(minutes=rng.randint(*site.travel_minutes))
        earliest.append((arrival + travel, index))
    earliest.sort()
    times: list[datetime] = [start] * len(arrivals)
    clock = start
    for ready, index in earliest:
        size = arrivals[index][1]
        clock = max(clock, ready)
        clock += timedelta(seconds=size * 3600 / rate(clock))
        times[index] = clock.replace(microsecond=0)
    return times


def _crossing_counts(
    rng: random.Random, people_arrivals: list[tuple[datetime, int]]
) -> list[CrossingHour]:
    """People counted crossing at the crossing point in each hour, and vehicles (≈ people/4.8)."""
    per_hour: dict[datetime, int] = {}
    for moment, size in people_arrivals:
        hour = moment.astimezone(ARMENIA).replace(minute=0, second=0, microsecond=0)
        per_hour[hour] = per_hour.get(hour, 0) + size
    hours = []
    cumulative = 0
    vehicles_so_far = 0
    for hour in sorted(per_hour):
        cumulative += per_hour[hour]
        vehicles_total = round(cumulative / PEOPLE_PER_VEHICLE)
        payload = {
            "uuid": _uuid(rng),
            "site": CROSSING_SITE,
            "period_start": _iso(hour),
            "period_end": _iso(hour + timedelta(hours=1)),
            "people": per_hour[hour],
            "vehicles": vehicles_total - vehicles_so_far,
        }
        vehicles_so_far = vehicles_total
        hours.append(CrossingHour(payload))
    return hours


def simulate_influx(
    *,
    people: int,
    seed: int,
    curve: ArrivalCurve | None = None,
    duplicate_share: float = 0.03,
) -> Influx:
    """Simulate `people` arrivals (plus their duplicate registrations) from one seed."""
    if people < 1:
        raise ValueError("people must be at least 1")
    if not 0 <= duplicate_share <= 0.5:
        raise ValueError("duplicate_share must be between 0 and 0.5")
    rng = random.Random(seed)
    curve = (curve or default_curve()).scaled(people)
    factory = HouseholdFactory(rng)
    writer = _Writer(rng)
    sites = WeightedChoice(list(SITES_2023), [s.share for s in SITES_2023])

    households: list[TrueHousehold] = []
    arrivals: list[tuple[datetime, int, SimSite]] = []
    remaining = people
    while remaining > 0:
        size = min(factory.draw_size(), remaining)
        arrival = curve.sample(rng).replace(microsecond=0)
        household = factory.make(arrival.astimezone(ARMENIA).date(), size=size)
        households.append(household)
        arrivals.append((arrival, size, sites.draw(rng)))
        remaining -= size
    registered = _registration_times(rng, arrivals, curve)

    registrations: list[Registration] = []
    for household, (arrival, _size, site), at in zip(households, arrivals, registered, strict=True):
        registrations.append(
            _register(writer, household, household.members, site.code, at, arrival)
        )

    duplicates = _duplicates(rng, writer, households, arrivals, registrations, duplicate_share)
    duplicate_records = sum(len(r.truth) for r in duplicates)
    registrations.extend(duplicates)
    registrations.sort(key=lambda r: (r.registered_at, r.payload["uuid"]))
    crossings = _crossing_counts(rng, [(a, s) for a, s, _ in arrivals])
    return Influx(
        registrations=registrations,
        crossings=crossings,
        people=people,
        duplicate_records=duplicate_records,
        max_backlog=_max_backlog(arrivals, registered),
    )


def _register(
    writer: _Writer,
    household: TrueHousehold,
    members: list[TruePerson],
    site: str,
    at: datetime,
    arrival: datetime,
    *,
    duplicate: bool = False,
) -> Registration:
    rng = writer.rng
    rendering = writer.rendering()
    on = at.astimezone(ARMENIA).date()
    relationships = [m.relationship for m in members]
    if duplicate:
        # The first person registered again heads the new registration; the rest are their
        # children when they were the head's children, otherwise simply "other".
        anchor = members[0]
        relationships = ["head"] + [
            "child"
            if anchor.relationship in {"head", "spouse"} and m.relationship == "child"
            else "other"
            for m in members[1:]
        ]
    payload_members = [
        writer.member(m, household, rendering, relationship=rel, on=on, duplicate=duplicate)
        for m, rel in zip(members, relationships, strict=True)
    ]
    phone = household.phone
    if duplicate:
        phone = members[0].phone or (phone_number(rng) if rng.random() < 0.3 else "")
    payload = {
        "uuid": _uuid(rng),
        "site": site,
        "registered_at": _iso(at),
        "origin_settlement": writer.origin(household, rendering),
        "phone": phone,
        "members": payload_members,
    }
    truth = [(m["uuid"], p.number) for m, p in zip(payload_members, members, strict=True)]
    return Registration(payload, site, at, arrival, truth, duplicate=duplicate)


def _duplicates(
    rng: random.Random,
    writer: _Writer,
    households: list[TrueHousehold],
    arrivals: list[tuple[datetime, int, SimSite]],
    firsts: list[Registration],
    share: float,
) -> list[Registration]:
    """People registered a second time at another site, alone or with some of their children."""
    target = round(share * sum(len(h.members) for h in households))
    order = list(range(len(households)))
    rng.shuffle(order)
    made: list[Registration] = []
    count = 0
    for index in order:
        if count >= target:
            break
        household = households[index]
        adults = [m for m in household.members if m.age_on(arrivals[index][0].date()) >= 18]
        if not adults:
            continue
        preferred = [m for m in adults if m.relationship in {"head", "spouse"}] or adults
        anchor = rng.choice(preferred)
        group = [anchor]
        if anchor.relationship in {"head", "spouse"} and rng.random() < 0.5:
            children = [m for m in household.members if m.relationship == "child"]
            group += [c for c in children if rng.random() < 0.6]
        group = group[: max(1, target - count)]
        first = firsts[index]
        others = [s for s in SITES_2023 if s.code != first.site]
        site = rng.choice(others)
        later = first.registered_at + timedelta(minutes=rng.randint(90, 5 * 24 * 60))
        made.append(
            _register(
                writer, household, group, site.code, later, arrivals[index][0], duplicate=True
            )
        )
        count += len(group)
    return made


def _max_backlog(arrivals: list[tuple[datetime, int, SimSite]], registered: list[datetime]) -> int:
    """The most people who had arrived but were not yet registered, at any moment."""
    events: list[tuple[datetime, int]] = [(a, s) for a, s, _ in arrivals]
    events += [(r, -s) for (_, s, _), r in zip(arrivals, registered, strict=True)]
    events.sort(key=lambda e: (e[0], e[1]))
    waiting = worst = 0
    for _, change in events:
        waiting += change
        worst = max(worst, waiting)
    return worst
