"""GET /api/persons/{uuid}: one person's record, scoped, and every read audited."""

from typing import Any

import pytest

from haven.core.models import AuditEvent
from haven.registry.actions import correct_person
from haven.registry.models import Person
from tests import factories
from tests.api_support import ApiClient, fields_of, row_counts
from tests.conftest import Personas


@pytest.fixture
def registered(personas: Personas) -> dict[str, Any]:
    payload = factories.household("KOR")
    assert ApiClient(personas.alice).post("/api/households", payload).status_code == 201
    return payload


def _views_of(person_uuid: str) -> int:
    return AuditEvent.objects.filter(action="person.view", object_uuid=person_uuid).count()


def test_person_read_returns_the_record_and_leaves_an_audit_row(
    personas: Personas, registered: dict[str, Any]
) -> None:
    alice = ApiClient(personas.alice)
    member = registered["members"][1]

    response = alice.get(f"/api/persons/{member['uuid']}")

    assert response.status_code == 200
    body = response.json()
    assert body["uuid"] == member["uuid"]
    assert body["household"] == registered["uuid"]
    assert body["site"] == "KOR"
    assert body["given_name"] == "Арам"
    assert body["given_name_script"] == "cyrillic"
    assert body["birth_date"] == "1978"
    assert body["relationship"] == "spouse"
    assert body["corrections"] == []
    event = AuditEvent.objects.get(action="person.view", object_uuid=member["uuid"])
    assert event.user == personas.alice
    assert event.detail == {"via": "api"}
    assert event.record_site == personas.kor
    alice.get(f"/api/persons/{member['uuid']}")
    assert _views_of(member["uuid"]) == 2


def test_person_read_shows_corrections(personas: Personas, registered: dict[str, Any]) -> None:
    member = registered["members"][0]
    person = Person.objects.select_related("household").get(uuid=member["uuid"])
    correct_person(
        person=person,
        field="given_name",
        value="Հասմիկը",
        reason="misheard at the desk",
        acting_user=personas.alice,
    )

    body = ApiClient(personas.alice).get(f"/api/persons/{member['uuid']}").json()

    assert body["given_name"] == "Հասմիկը"
    (correction,) = body["corrections"]
    assert correction["old_value"] == "Հասմիկ"
    assert correction["new_value"] == "Հասմիկը"
    assert correction["reason"] == "misheard at the desk"
    assert correction["corrected_by"] == "alice"


@pytest.mark.parametrize("persona", ["bob", "erin"])
def test_other_sites_and_partner_analysts_get_404_and_no_audit_row(
    personas: Personas, registered: dict[str, Any], persona: str
) -> None:
    client = ApiClient(getattr(personas, persona))
    member_uuid = registered["members"][0]["uuid"]
    before = row_counts()

    response = client.get(f"/api/persons/{member_uuid}")

    assert response.status_code == 404
    assert "Հասմիկ" not in response.content.decode()
    assert row_counts() == before


def test_caseworker_and_coordinator_read_with_audit(
    personas: Personas, registered: dict[str, Any]
) -> None:
    member_uuid = registered["members"][0]["uuid"]
    for user in (personas.carol, personas.dan):
        assert ApiClient(user).get(f"/api/persons/{member_uuid}").status_code == 200
    readers = set(
        AuditEvent.objects.filter(action="person.view", object_uuid=member_uuid).values_list(
            "user__username", flat=True
        )
    )
    assert readers == {"carol", "dan"}


def test_unknown_and_malformed_person_uuids(personas: Personas) -> None:
    alice = ApiClient(personas.alice)

    assert alice.get("/api/persons/6b1f0c8e-7f9a-4c1e-9d52-0a4b3c2d1e0f").status_code == 404
    malformed = alice.get("/api/persons/12345")
    assert malformed.status_code == 422
    assert fields_of(malformed) == ["person_uuid"]
