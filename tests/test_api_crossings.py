"""POST/GET /api/crossings: crossing counts, idempotent writes, aggregate reads for every role."""

from collections.abc import Callable
from typing import Any

import pytest

from haven.core.models import AuditEvent
from haven.registry.models import CrossingCount
from tests import factories
from tests.api_support import ApiClient, fields_of, row_counts
from tests.conftest import Personas

CROSSINGS = "/api/crossings"


@pytest.fixture
def alice(personas: Personas) -> ApiClient:
    return ApiClient(personas.alice)


def test_record_crossing_count_201_with_audit_row(alice: ApiClient) -> None:
    payload = factories.crossing()
    before = row_counts()

    response = alice.post(CROSSINGS, payload)

    assert response.status_code == 201
    body = response.json()
    assert body["uuid"] == payload["uuid"]
    assert body["site"] == "KOR"
    assert (body["people"], body["vehicles"]) == (412, 97)
    assert body["period_start"] == "2023-09-25T06:00:00Z"
    after = row_counts()
    assert after["crossings"] == before["crossings"] + 1
    assert after["audit"] == before["audit"] + 1
    event = AuditEvent.objects.get(action="crossing.record")
    assert str(event.object_uuid) == payload["uuid"]
    assert event.user == alice.user


def test_retry_is_200_with_the_same_body(alice: ApiClient) -> None:
    payload = factories.crossing()
    first = alice.post(CROSSINGS, payload)
    before = row_counts()

    again = alice.post(CROSSINGS, payload)

    assert again.status_code == 200
    assert again.json() == first.json()
    assert row_counts() == before


def test_reused_uuid_with_other_figures_is_409(alice: ApiClient) -> None:
    payload = factories.crossing()
    alice.post(CROSSINGS, payload)
    before = row_counts()

    response = alice.post(CROSSINGS, dict(payload, people=413))

    assert response.status_code == 409
    assert response.json()["detail"]
    assert row_counts() == before
    assert CrossingCount.objects.get(uuid=payload["uuid"]).people == 412


@pytest.mark.parametrize(
    ("persona", "site"), [("alice", "NOWHERE"), ("bob", "KOR"), ("erin", "KOR")]
)
def test_unknown_site_another_site_or_partner_analyst_is_404(
    personas: Personas, persona: str, site: str
) -> None:
    client = ApiClient(getattr(personas, persona))
    before = row_counts()

    response = client.post(CROSSINGS, factories.crossing(site))

    assert response.status_code == 404
    assert response.json() == {"detail": "site not found"}
    assert row_counts() == before


def _set(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        payload.update(changes)

    return change


BAD_COUNTS = {
    "end before start": (_set(period_end="2023-09-25T09:00:00+04:00"), "period_end"),
    "end in the future": (
        _set(period_start="2099-01-01T00:00:00+04:00", period_end="2099-01-01T01:00:00+04:00"),
        "period_end",
    ),
    "period over a week": (_set(period_end="2023-10-05T10:00:00+04:00"), "period_end"),
    "negative people": (_set(people=-1), "people"),
    "people of wrong type": (_set(people="many"), "people"),
    "vehicles of wrong type": (_set(vehicles=[1]), "vehicles"),
    "no offset": (_set(period_start="2023-09-25T10:00:00"), "period_start"),
    "uuid malformed": (_set(uuid="x"), "uuid"),
    "unknown field": (_set(buses=3), "buses"),
}


@pytest.mark.parametrize("case", BAD_COUNTS.keys())
def test_invalid_count_is_422_naming_the_field_and_writes_nothing(
    alice: ApiClient, case: str
) -> None:
    change, field = BAD_COUNTS[case]
    payload = factories.crossing()
    change(payload)
    before = row_counts()

    response = alice.post(CROSSINGS, payload)

    assert response.status_code == 422
    assert field in fields_of(response), response.json()
    assert row_counts() == before


@pytest.mark.parametrize("body", [b"{", b"[1, 2]", b"", b"\xc3\x28"])
def test_malformed_body_is_422_naming_body(alice: ApiClient, body: bytes) -> None:
    before = row_counts()

    response = alice.post(CROSSINGS, body)

    assert response.status_code == 422
    assert fields_of(response) == ["body"]
    assert row_counts() == before


def test_counts_are_aggregates_every_role_may_list(personas: Personas) -> None:
    alice, bob = ApiClient(personas.alice), ApiClient(personas.bob)
    kor = [factories.crossing("KOR", people=n) for n in (10, 20)]
    goris = factories.crossing("GORIS", people=5)
    for payload in kor:
        assert alice.post(CROSSINGS, payload).status_code == 201
    assert bob.post(CROSSINGS, goris).status_code == 201

    for persona in ("alice", "bob", "carol", "dan", "erin"):
        client = ApiClient(getattr(personas, persona))
        listed = client.get(CROSSINGS, site="KOR")
        assert listed.status_code == 200
        assert sorted(c["people"] for c in listed.json()) == [10, 20]
        everything = client.get(CROSSINGS).json()
        assert {c["uuid"] for c in everything} == {p["uuid"] for p in [*kor, goris]}


def test_list_of_unknown_site_is_404(alice: ApiClient) -> None:
    assert alice.get(CROSSINGS, site="NOWHERE").status_code == 404
