"""POST /api/households/batch: many households in one request, all-or-nothing per household."""

import math
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries, Settings

from haven.core.models import AuditEvent
from haven.registry.models import Household, Person
from tests import factories
from tests.api_support import ApiClient, fields_of, row_counts
from tests.conftest import Personas

BATCH = "/api/households/batch"


@pytest.fixture
def alice(personas: Personas) -> ApiClient:
    return ApiClient(personas.alice)


def test_batch_of_new_households_registers_all_with_audit_rows(alice: ApiClient) -> None:
    households = [factories.household(size=3) for _ in range(5)]
    before = row_counts()

    response = alice.post(BATCH, {"households": households})

    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 5
    assert body["exists"] == body["rejected"] == 0
    assert [r["index"] for r in body["results"]] == list(range(5))
    assert [r["uuid"] for r in body["results"]] == [h["uuid"] for h in households]
    assert {r["status"] for r in body["results"]} == {"created"}
    after = row_counts()
    assert after["households"] == before["households"] + 5
    assert after["persons"] == before["persons"] + 15
    assert after["audit"] == before["audit"] + 5
    assert set(
        AuditEvent.objects.filter(action="household.register").values_list("object_uuid", flat=True)
    ) == {Household.objects.get(uuid=h["uuid"]).uuid for h in households}


def test_batch_with_valid_invalid_conflicting_and_foreign_items(alice: ApiClient) -> None:
    stored, retried = factories.household(), factories.household()
    assert alice.post("/api/households", stored).status_code == 201
    assert alice.post("/api/households", retried).status_code == 201
    taken_member = factories.household()
    taken_member["members"][1]["uuid"] = stored["members"][1]["uuid"]
    invalid = factories.household()
    invalid["members"][0]["given_name"] = ""
    invalid["members"][2]["sex"] = "X"
    fresh = [factories.household(), factories.household(size=5)]
    items: list[Any] = [
        fresh[0],  # 0 created
        invalid,  # 1 invalid: two field errors
        dict(stored, origin_settlement="Մարտունի"),  # 2 conflict: same uuid, other payload
        retried,  # 3 exists: a retry
        factories.household("GORIS"),  # 4 not_found: another registrar's site
        taken_member,  # 5 conflict: one member already registered elsewhere
        "not a household",  # 6 invalid: wrong type
        fresh[1],  # 7 created
        fresh[0],  # 8 exists: the same household twice in one batch
    ]
    before = row_counts()

    response = alice.post(BATCH, {"households": items})

    assert response.status_code == 200
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [
        "created",
        "invalid",
        "conflict",
        "exists",
        "not_found",
        "conflict",
        "invalid",
        "created",
        "exists",
    ]
    assert [r["index"] for r in body["results"]] == list(range(len(items)))
    assert (body["created"], body["exists"], body["rejected"]) == (2, 2, 5)
    assert {e["field"] for e in body["results"][1]["errors"]} == {
        "members.0.given_name",
        "members.2.sex",
    }
    assert body["results"][1]["uuid"] == invalid["uuid"]
    assert body["results"][6]["uuid"] is None
    assert body["results"][6]["errors"][0]["field"] == "body"
    assert body["results"][2]["message"]
    assert body["results"][5]["message"]
    # Only the two new households were written, each whole, each with its audit row.
    after = row_counts()
    assert after["households"] == before["households"] + 2
    assert after["persons"] == before["persons"] + 3 + 5
    assert after["audit"] == before["audit"] + 2
    for rejected in (invalid, taken_member):
        assert not Household.objects.filter(uuid=rejected["uuid"]).exists()
        member_uuids = [m["uuid"] for m in rejected["members"]]
        assert (
            Person.objects.filter(uuid__in=member_uuids, household__uuid=rejected["uuid"]).count()
            == 0
        )
    assert Household.objects.get(uuid=stored["uuid"]).origin_settlement == "Ստեփանակերտ"


def test_batch_over_the_limit_is_422_naming_households_and_writes_nothing(
    alice: ApiClient, settings: Settings
) -> None:
    before = row_counts()
    over = [factories.household() for _ in range(settings.HAVEN_BATCH_LIMIT + 1)]

    response = alice.post(BATCH, {"households": over})

    assert settings.HAVEN_BATCH_LIMIT == 1000
    assert response.status_code == 422
    assert fields_of(response) == ["households"]
    assert "1001" in response.json()["errors"][0]["message"]
    assert row_counts() == before


def test_batch_limit_follows_the_setting(alice: ApiClient, settings: Settings) -> None:
    settings.HAVEN_BATCH_LIMIT = 2
    before = row_counts()

    refused = alice.post(BATCH, {"households": [factories.household() for _ in range(3)]})
    accepted = alice.post(BATCH, {"households": [factories.household() for _ in range(2)]})

    assert refused.status_code == 422
    assert fields_of(refused) == ["households"]
    assert accepted.status_code == 200
    assert row_counts()["households"] == before["households"] + 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (b'{"items": []}', "items"),
        (b"{}", "households"),
        (b'{"households": {"uuid": "x"}}', "households"),
        (b'{"households": []}', "households"),
    ],
    ids=["malformed", "list", "unknown-key", "missing", "not-a-list", "empty"],
)
def test_malformed_batch_is_422_naming_the_field_and_writes_nothing(
    alice: ApiClient, body: bytes, field: str
) -> None:
    before = row_counts()

    response = alice.post(BATCH, body)

    assert response.status_code == 422
    assert fields_of(response) == [field]
    assert row_counts() == before


def test_partner_analyst_batch_writes_nothing(personas: Personas) -> None:
    erin = ApiClient(personas.erin)
    before = row_counts()

    response = erin.post(BATCH, {"households": [factories.household("KOR")]})

    assert response.status_code == 200
    assert response.json()["results"][0]["status"] == "not_found"
    assert row_counts() == before


def _insert_statements(model: type[Model], rows: int) -> int:
    """How many INSERTs this database needs for `rows` rows of `model` in one bulk_create.

    SQLite caps the parameters of a statement, so a bulk insert of many wide rows is split; that
    grows with rows per statement limit, not with queries per household.
    """
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    size = connection.ops.bulk_batch_size(fields, [None] * rows)
    return math.ceil(rows / size) if size else 1


def test_batch_queries_do_not_grow_with_the_number_of_households(
    personas: Personas, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    alice = ApiClient(personas.alice)
    alice.get("/api/households")  # the token's last_used_at is written once, not in the count
    with CaptureQueriesContext(connection) as small:
        response = alice.post(BATCH, {"households": [factories.household()]})
    assert response.json()["created"] == 1

    many = [factories.household(size=3) for _ in range(60)]
    chunking = (
        _insert_statements(Person, 180)
        - 1
        + _insert_statements(Household, 60)
        - 1
        + _insert_statements(AuditEvent, 60)
        - 1
    )
    with django_assert_max_num_queries(len(small.captured_queries) + chunking):
        response = alice.post(BATCH, {"households": many})
    assert response.json()["created"] == 60
