"""POST /api/households answers 201 from what it wrote, without reading it back: the body must be
exactly what a GET of the stored record gives, for every kind of value a household can hold."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from haven.registry.schemas import parse_birth_date
from tests import factories
from tests.api_support import ApiClient
from tests.conftest import Personas


def _rich_household() -> dict[str, Any]:
    payload = factories.household(size=4, registered_at="2023-09-26T23:30:00.250001+04:00")
    head, spouse, child, young = payload["members"]
    head.update(
        patronymic="Արամի",
        phone="+374 (91) 55-44-33",
        documents=[
            {"kind": "passport", "number": "am 1234567", "issuing_country": "arm"},
            {"kind": "social_card", "number": "1234-5678/9"},
        ],
        specific_needs=["sm-mi", " DS-PM ", "sm-mi"],
        disability={"walking": 3, "seeing": 1, "communicating": 4},
    )
    spouse.update(patronymic="Ivanovich", given_name="Арам", family_name="Harutyunyan")
    child.update(given_name="  Ani  ", birth_date="2012-03")
    young.update(estimated_age=0)
    return payload


@pytest.mark.parametrize("make", [_rich_household, lambda: factories.household(size=1)])
def test_created_answer_is_the_stored_record(personas: Personas, make: Any) -> None:
    alice = ApiClient(personas.alice)
    payload = make()

    created = alice.post("/api/households", payload)

    assert created.status_code == 201
    stored = alice.get(f"/api/households/{payload['uuid']}")
    assert stored.status_code == 200
    assert created.json() == stored.json()
    # A retry answers from the stored record: the same body again.
    again = alice.post("/api/households", payload)
    assert again.status_code == 200
    assert again.json() == created.json()


def test_registering_reads_nothing_back(personas: Personas) -> None:
    alice = ApiClient(personas.alice)
    payload = _rich_household()

    with CaptureQueriesContext(connection) as queries:
        response = alice.post("/api/households", payload)

    assert response.status_code == 201
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert not [sql for sql in selects if "registry_person" in sql]
    assert not [sql for sql in selects if "registry_identitydocument" in sql]
    # The token, the site, and whether the household uuid is already taken.
    assert len(selects) == 3


def test_birth_date_errors_are_raised_every_time() -> None:
    # Parsed values are cached; a bad value must fail again, not come back from the cache.
    for _ in range(2):
        with pytest.raises(ValueError, match="month 13"):
            parse_birth_date("1990-13")
    assert parse_birth_date(" 1990-02 ") == parse_birth_date("1990-02") == (1990, 2, None)
