"""Simulated shelters across Armenia's provinces, for `haven simulate --shelters N` and the
allocation benchmark.

Each province gets shelters in proportion to the people the state housed there on 29 September
2023 at 20:00 (Humanitarian Center briefing, `reference/places_am.csv`, column
gov_housed_2023-09-29T20:00); Yerevan, whose figure was not reported by marz, gets the marzes'
mean. Kinds and sizes are those of 2023: collective centres (schools, sanatoriums, dormitories) of
20–300 beds, hotels and guest houses of 10–80, host families of 2–8; about one in five is
step-free. Sizes lean small (log-uniform), as most buildings taken over were.
"""

import math
import random
from dataclasses import dataclass, field
from typing import Any

from haven.core.errors import Conflict
from haven.core.models import User
from haven.shelter.actions import add_shelter, parse_shelter
from haven.shelter.models import Shelter

HOUSED_2023_09_29: dict[str, int] = {
    "Aragatsotn": 1617,
    "Ararat": 6139,
    "Armavir": 2749,
    "Gegharkunik": 2398,
    "Kotayk": 7078,
    "Lori": 1404,
    "Shirak": 1067,
    "Syunik": 2094,
    "Tavush": 1237,
    "Vayots Dzor": 1613,
}
PROVINCE_WEIGHTS: dict[str, float] = {
    "Yerevan": sum(HOUSED_2023_09_29.values()) / len(HOUSED_2023_09_29),
    **{k: float(v) for k, v in HOUSED_2023_09_29.items()},
}
TOWNS: dict[str, tuple[str, ...]] = {
    "Yerevan": ("Yerevan",),
    "Aragatsotn": ("Ashtarak", "Aparan", "Talin"),
    "Ararat": ("Artashat", "Masis", "Ararat", "Vedi"),
    "Armavir": ("Armavir", "Vagharshapat", "Metsamor"),
    "Gegharkunik": ("Gavar", "Sevan", "Martuni", "Vardenis"),
    "Kotayk": ("Hrazdan", "Abovyan", "Charentsavan", "Tsaghkadzor"),
    "Lori": ("Vanadzor", "Spitak", "Alaverdi", "Stepanavan"),
    "Shirak": ("Gyumri", "Artik", "Maralik"),
    "Syunik": ("Kapan", "Goris", "Sisian", "Meghri"),
    "Tavush": ("Ijevan", "Dilijan", "Berd", "Noyemberyan"),
    "Vayots Dzor": ("Yeghegnadzor", "Vayk", "Jermuk"),
}
PROVINCE_CODES: dict[str, str] = {
    "Yerevan": "YER",
    "Aragatsotn": "ARG",
    "Ararat": "ARR",
    "Armavir": "ARM",
    "Gegharkunik": "GEG",
    "Kotayk": "KOT",
    "Lori": "LOR",
    "Shirak": "SHI",
    "Syunik": "SYU",
    "Tavush": "TAV",
    "Vayots Dzor": "VAY",
}


@dataclass(frozen=True)
class Kind:
    kind: str
    code: str
    share: float
    beds: tuple[int, int]
    step_free: float
    name: str


KINDS = (
    Kind("collective", "C", 0.40, (20, 300), 0.25, "collective centre"),
    Kind("hotel", "H", 0.25, (10, 80), 0.30, "guest house"),
    Kind("host_family", "F", 0.35, (2, 8), 0.10, "host family"),
)


def shelter_payloads(count: int, *, seed: int = 2023) -> list[dict[str, Any]]:
    """`count` shelters as `parse_shelter` payloads; the same seed gives the same shelters."""
    rng = random.Random(seed)
    provinces = list(PROVINCE_WEIGHTS)
    weights = [PROVINCE_WEIGHTS[p] for p in provinces]
    payloads: list[dict[str, Any]] = []
    for number in range(1, count + 1):
        province = rng.choices(provinces, weights)[0]
        kind = rng.choices(KINDS, [k.share for k in KINDS])[0]
        low, high = kind.beds
        beds = min(high, int(math.exp(rng.uniform(math.log(low), math.log(high + 1)))))
        town = rng.choice(TOWNS[province])
        payloads.append(
            {
                "code": f"{PROVINCE_CODES[province]}-{kind.code}{seed % 1000:03d}-{number:05d}",
                "name": f"{town} {kind.name} {number}",
                "kind": kind.kind,
                "province": province,
                "town": town,
                "beds": beds,
                "rooms": max(1, beds // (4 if kind.kind == "collective" else 2)),
                "step_free": rng.random() < kind.step_free,
            }
        )
    return payloads


@dataclass
class ShelterReport:
    added: int = 0
    existing: int = 0
    beds: int = 0
    step_free: int = 0
    by_province: dict[str, int] = field(default_factory=dict)


def add_shelters(*, count: int, seed: int, acting_user: User | None) -> ShelterReport:
    """Add the simulated shelters through `add_shelter`; a code already there is left alone, so
    running the simulator twice with one seed adds nothing the second time."""
    report = ShelterReport()
    existing = set(Shelter.objects.values_list("code", flat=True))
    for payload in shelter_payloads(count, seed=seed):
        if payload["code"] in existing:
            report.existing += 1
            continue
        try:
            shelter = add_shelter(data=parse_shelter(payload), acting_user=acting_user)
        except Conflict:
            report.existing += 1
            continue
        report.added += 1
        report.beds += shelter.beds
        report.step_free += shelter.step_free
        report.by_province[shelter.province] = report.by_province.get(shelter.province, 0) + 1
    return report
