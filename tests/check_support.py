"""Helpers for the desk-time check's tests: a trained linkage model, and people to find.

The check scores with a trained model. Haven ships a starter model; while it is not there (a
checkout being built) the tests train one the way the batch does, once per test run, on a
simulated influx that never enters the test database (its people would be found by the checks).
"""

import hashlib
import json
from functools import cache
from typing import Any

from django.utils import timezone

from haven.core.models import User
from haven.identity.check import STARTER_MODEL
from haven.identity.engine import Engine
from haven.identity.models import LinkageModel
from haven.identity.simulated import simulated_features
from haven.registry.actions import register_household
from haven.registry.models import Household
from haven.registry.schemas import HouseholdIn
from tests import factories

TRAINING_PEOPLE = 2000


@cache
def trained_model() -> dict[str, Any]:
    engine = Engine(simulated_features(TRAINING_PEOPLE, seed=2023))
    try:
        return engine.train()
    finally:
        engine.close()


def ensure_model() -> str:
    """A model for the check to score with: the shipped starter model, or one trained here and
    stored as the batch stores its models. Returns the version the check will report."""
    if STARTER_MODEL.exists():
        return "starter"
    model = trained_model()
    text = json.dumps(model, sort_keys=True)
    LinkageModel.objects.create(
        version=1,
        trained_at=timezone.now(),
        trained_by=None,
        records=TRAINING_PEOPLE,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        settings=model,
    )
    return "v1"


def register(user: User, site: str, members: list[dict[str, Any]], **household: Any) -> Household:
    """One household of these members (factories.member overrides) registered by `user`."""
    people = [
        factories.member(relationship="head" if i == 0 else "other", **m)
        for i, m in enumerate(members)
    ]
    payload = factories.household(site=site, size=1, **household)
    payload["members"] = people
    registered, _ = register_household(data=HouseholdIn.model_validate(payload), acting_user=user)
    return registered
