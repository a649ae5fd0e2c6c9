"""Payment once, on a simulated influx with duplicates: people registered twice (at the same or
another site, in another script), linked by the identity model's batch run, reviewed by a
caseworker; two programmes paying the same benefit. Nobody whose records are one identity is
ever paid twice, whatever the order of lists, recomputations and decisions."""

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from haven.assistance import actions
from haven.assistance.entitlements import compute
from haven.assistance.models import Payment, Programme
from haven.assistance.payments import create_list
from haven.identity import batch
from haven.identity.actions import decide_pairs
from haven.identity.engine import Engine
from haven.identity.models import CandidatePair
from haven.identity.simulated import simulated_features
from haven.registry.models import Person
from haven.simulate.influx import Influx, simulate_influx
from haven.simulate.loader import ensure_sites, load_influx
from tests.conftest import Personas

PEOPLE = 450
SEED = 2
LIVE = ("listed", "paid")


@pytest.fixture(scope="module")
def influx() -> Influx:
    return simulate_influx(people=PEOPLE, seed=SEED, duplicate_share=0.15)


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    engine = Engine(simulated_features(PEOPLE, SEED))
    try:
        return engine.train()
    finally:
        engine.close()


@pytest.fixture
def linked(
    personas: Personas, influx: Influx, model: dict[str, Any], settings: Any, tmp_path: Path
) -> Personas:
    settings.VAR_DIR = tmp_path
    ensure_sites(acting_user=personas.dan)
    assert load_influx(influx, acting_user=personas.dan, progress=False).problems == []
    batch.save_model(model, records=PEOPLE, labels=0, user=None)
    batch.run_linkage(acting_user=personas.dan)
    return personas


def grant(personas: Personas, code: str) -> Programme:
    data = {
        "code": code,
        "name": code,
        "kind": "cash",
        "benefit": "arrival",
        "amount": 100_000,
        "frequency": "once",
        "starts_on": "2023-10-01",
        "possible_duplicates": "hold",
    }
    return actions.add_programme(data=actions.parse_programme(data), acting_user=personas.dan)


def live_payments_by_identity() -> Counter[UUID]:
    """Live payments of the benefit by each paid record's identity now."""
    return Counter(
        Payment.objects.filter(benefit="arrival", status__in=LIVE).values_list(
            "person__identity", flat=True
        )
    )


def truth(influx: Influx) -> dict[UUID, int]:
    return {UUID(person): true for person, true in influx.truth_rows()}


@pytest.mark.django_db
def test_no_identity_is_paid_twice_across_programmes_sites_and_reviews(
    linked: Personas, influx: Influx
) -> None:
    dan = linked.dan
    true_of = truth(influx)
    records = dict(Person.objects.values_list("uuid", "site_id"))
    duplicated = [t for t, n in Counter(true_of.values()).items() if n > 1]
    assert len(duplicated) > 20  # the influx has people registered more than once
    sites_of: dict[int, set[int]] = defaultdict(set)
    for person, true in true_of.items():
        sites_of[true].add(records[person])
    assert any(len(sites_of[t]) > 1 for t in duplicated)  # … some at two sites
    pending = list(CandidatePair.objects.filter(status=CandidatePair.Status.PENDING))
    assert pending  # and some the model is unsure of

    state, agency = grant(linked, "state-grant"), grant(linked, "agency-grant")
    compute(programme=state, period=1, acting_user=dan)
    compute(programme=agency, period=1, acting_user=dan)
    first = create_list(programme=state, period=1, acting_user=dan)
    second = create_list(programme=agency, period=1, acting_user=dan)

    # The second programme pays nobody the first paid; the held are held by both.
    assert first.payments > 0
    assert second.payments == 0
    assert first.left_off["held"] == second.left_off["held"] > 0
    assert max(live_payments_by_identity().values()) == 1

    # The caseworker decides every open pair as the truth has it; lists are made again.
    identity_of = dict(Person.objects.values_list("pk", "uuid"))
    for pair in pending:
        same = true_of[identity_of[pair.person_a_id]] == true_of[identity_of[pair.person_b_id]]
        decide_pairs(pair_ids=[pair.pk], verdict="same" if same else "different", acting_user=dan)
    for programme in (agency, state, agency):
        compute(programme=programme, period=1, acting_user=dan)
        create_list(programme=programme, period=1, acting_user=dan)

    paid = live_payments_by_identity()
    assert max(paid.values()) == 1
    assert CandidatePair.objects.filter(status=CandidatePair.Status.PENDING).count() == 0
    # Everyone entitled is now paid: no identity left waiting.
    entitled = set(Person.objects.values_list("identity", flat=True))
    assert set(paid) == entitled

    # Measured against the truth: a true person is paid more than once only where the model
    # never saw their records as one (no link, no pair); those are few.
    identities_of_true: dict[int, set[UUID]] = defaultdict(set)
    for person_uuid, ident in Person.objects.values_list("uuid", "identity"):
        identities_of_true[true_of[person_uuid]].add(ident)
    paid_twice = [t for t, idents in identities_of_true.items() if len(idents) > 1]
    assert len(paid_twice) <= 0.1 * len(duplicated)
    assert sum(paid.values()) == len(entitled)
