"""Writing a simulated influx into Haven, through the same actions as every other door.

Sites are added with `haven.core.actions.add_site`, households with
`haven.registry.actions.register_households` (one call per batch of 1,000: the bulk path) and
crossing counts with `record_crossing_count`. Nothing here touches a model's manager to write,
except creating the simulator's own account, which is audited like any other write.
"""

import secrets
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from tqdm import tqdm

from haven.core.actions import add_site, create_user
from haven.core.errors import NotFound
from haven.core.models import Site, User
from haven.core.selectors import site_for_registration
from haven.registry.actions import Outcome, record_crossing_count, register_households
from haven.registry.schemas import CrossingCountIn, HouseholdIn
from haven.simulate.influx import SITES_2023, Influx

BATCH_SIZE = 1000
SIMULATOR_USERNAME = "simulator"
T = TypeVar("T")


def batches(items: Iterable[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def ensure_sites(*, acting_user: User | None) -> list[Site]:
    """The 2023 registration sites, added where missing. Returns those that were added."""
    added = []
    existing = set(Site.objects.values_list("code", flat=True))
    for site in SITES_2023:
        if site.code not in existing:
            added.append(
                add_site(
                    code=site.code,
                    name=site.name,
                    kind=site.kind,
                    province=site.province,
                    acting_user=acting_user,
                )
            )
    return added


def simulator_user() -> User:
    """A coordinator or administrator to write the influx as; a "simulator" coordinator if none."""
    user = (
        User.objects.filter(is_active=True, role=User.Role.COORDINATOR).order_by("pk").first()
        or User.objects.filter(is_active=True, role=User.Role.ADMIN).order_by("pk").first()
    )
    if user is not None:
        return user
    return create_user(
        username=SIMULATOR_USERNAME + "-" + secrets.token_hex(2)
        if User.objects.filter(username=SIMULATOR_USERNAME).exists()
        else SIMULATOR_USERNAME,
        role=User.Role.COORDINATOR,
        password=None,
        acting_user=None,
    )


def check_can_register(user: User, codes: Iterable[str]) -> list[str]:
    """The site codes among `codes` that `user` may not register people at."""
    refused = []
    for code in sorted(set(codes)):
        try:
            site_for_registration(user, code)
        except NotFound:
            refused.append(code)
    return refused


@dataclass
class LoadReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    persons_created: int = 0
    crossing_counts: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def load_influx(influx: Influx, *, acting_user: User, progress: bool = True) -> LoadReport:
    """Register every simulated household and record every crossing count, as `acting_user`."""
    report = LoadReport()
    started = time.perf_counter()
    total = sum(len(r.payload["members"]) for r in influx.registrations)
    with tqdm(
        total=total, unit="person", desc="registering", file=sys.stderr, disable=not progress
    ) as bar:
        for batch in batches(influx.registrations):
            items = [HouseholdIn.model_validate(r.payload) for r in batch]
            results = register_households(items=items, acting_user=acting_user)
            for item, result in zip(items, results, strict=True):
                report.outcomes[result.outcome.value] += 1
                if result.outcome is Outcome.CREATED:
                    report.persons_created += len(item.members)
                elif result.outcome is not Outcome.EXISTS:
                    report.problems.append(f"{item.uuid}: {result.message}")
            bar.update(sum(len(item.members) for item in items))
    for hour in influx.crossings:
        _, created = record_crossing_count(
            data=CrossingCountIn.model_validate(hour.payload), acting_user=acting_user
        )
        report.crossing_counts += int(created)
    report.seconds = time.perf_counter() - started
    return report
