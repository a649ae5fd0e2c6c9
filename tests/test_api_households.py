"""POST/GET /api/households: register one household, read it, list with cursor pagination."""

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from haven.core.models import AuditEvent
from haven.registry.models import Household
from tests import factories
from tests.api_support import ApiClient, fields_of, row_counts
from tests.conftest import Personas


@pytest.fixture
def alice(personas: Personas) -> ApiClient:
    return ApiClient(personas.alice)


def test_register_creates_household_with_members_and_audit_row(alice: ApiClient) -> None:
    payload = factories.household(size=4)
    payload["members"][0]["documents"] = [
        {"kind": "passport", "number": "AM1234567", "issuing_country": "arm"}
    ]
    payload["members"][0]["specific_needs"] = ["sm-mi"]
    payload["members"][0]["disability"] = {"walking": 3}
    before = row_counts()

    response = alice.post("/api/households", payload)

    assert response.status_code == 201
    body = response.json()
    assert body["uuid"] == payload["uuid"]
    assert body["site"] == "KOR"
    assert body["origin_settlement"] == "Ստեփանակերտ"
    assert body["phone"] == "+37491123456"
    assert [m["uuid"] for m in body["members"]] == [m["uuid"] for m in payload["members"]]
    head, spouse, child, young = body["members"]
    assert head["given_name"] == "Հասմիկ"
    assert head["given_name_script"] == "armenian"
    assert head["birth_date"] == "1980-05-17"
    assert head["documents"] == [
        {"kind": "passport", "number": "AM1234567", "issuing_country": "ARM"}
    ]
    assert head["specific_needs"] == ["SM-MI"]
    assert head["disability"]["walking"] == 3
    assert spouse["family_name"] == "Арутюнян"
    assert spouse["family_name_script"] == "cyrillic"
    assert spouse["birth_date"] == "1978"
    assert child["birth_date"] == "2012-03"
    assert child["birth_date_estimated"] is False
    assert young["birth_date"] == "2019"
    assert young["birth_date_estimated"] is True
    after = row_counts()
    assert after["households"] == before["households"] + 1
    assert after["persons"] == before["persons"] + 4
    assert after["audit"] == before["audit"] + 1
    event = AuditEvent.objects.get(action="household.register")
    assert str(event.object_uuid) == payload["uuid"]
    assert event.user == alice.user


def test_retry_with_same_payload_answers_200_with_same_body(alice: ApiClient) -> None:
    payload = factories.household()
    first = alice.post("/api/households", payload)
    before = row_counts()

    again = alice.post("/api/households", payload)

    assert again.status_code == 200
    assert again.json() == first.json()
    assert row_counts() == before


def test_reused_uuid_with_different_payload_is_409_and_writes_nothing(alice: ApiClient) -> None:
    payload = factories.household()
    assert alice.post("/api/households", payload).status_code == 201
    changed = dict(payload, origin_settlement="Մարտունի")
    before = row_counts()

    response = alice.post("/api/households", changed)

    assert response.status_code == 409
    assert payload["uuid"] in response.json()["detail"]
    assert row_counts() == before
    assert Household.objects.get(uuid=payload["uuid"]).origin_settlement == "Ստեփանակերտ"


def test_unknown_site_and_another_registrars_site_give_the_same_404(
    personas: Personas, alice: ApiClient
) -> None:
    before = row_counts()

    unknown = alice.post("/api/households", factories.household("NOWHERE"))
    other = alice.post("/api/households", factories.household("GORIS"))

    assert unknown.status_code == other.status_code == 404
    assert unknown.json() == other.json()
    assert row_counts() == before


def test_partner_analyst_cannot_register(personas: Personas) -> None:
    erin = ApiClient(personas.erin)
    before = row_counts()

    response = erin.post("/api/households", factories.household("KOR"))

    assert response.status_code == 404
    assert row_counts() == before


def _set_member(index: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        payload["members"][index].update(changes)

    return change


def _set(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        payload.update(changes)

    return change


def _second_head(payload: dict[str, Any]) -> None:
    payload["members"][1]["relationship"] = "head"


def _drop(field: str) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        del payload[field]

    return change


BAD_PAYLOADS = {
    "empty given name": (_set_member(0, given_name=""), "members.0.given_name"),
    "blank family name": (_set_member(1, family_name="   "), "members.1.family_name"),
    "over-long name": (_set_member(0, given_name="Ա" * 101), "members.0.given_name"),
    "control character": (_set_member(2, given_name="An\x07i"), "members.2.given_name"),
    "newline in name": (_set_member(0, family_name="Harut\nyunyan"), "members.0.family_name"),
    "mixed-script garbage": (_set_member(0, given_name="Աnи"), "members.0.given_name"),
    "digits in name": (_set_member(0, given_name="Ani2"), "members.0.given_name"),
    "birth date in the future": (_set_member(0, birth_date="2030-01-01"), "members.0.birth_date"),
    "birth after registration": (_set_member(1, birth_date="2023-10"), "members.1.birth_date"),
    "over 120 years": (_set_member(0, birth_date="1890"), "members.0.birth_date"),
    "impossible day": (_set_member(0, birth_date="1980-02-30"), "members.0.birth_date"),
    "birth date format": (_set_member(0, birth_date="17/05/1980"), "members.0.birth_date"),
    "no birth date or age": (_set_member(0, birth_date=None), "members.0.birth_date"),
    "no members": (_set(members=[]), "members"),
    "two heads": (_second_head, "members"),
    "unknown relationship": (_set_member(1, relationship="cousin"), "members.1.relationship"),
    "sex of wrong type": (_set_member(0, sex=1), "members.0.sex"),
    "members not a list": (_set(members="three people"), "members"),
    "uuid of wrong type": (_set(uuid=12345), "uuid"),
    "uuid malformed": (_set(uuid="not-a-uuid"), "uuid"),
    "registered_at without offset": (_set(registered_at="2023-09-26T08:00:00"), "registered_at"),
    "registered_at in the future": (
        _set(registered_at="2099-01-01T00:00:00+04:00"),
        "registered_at",
    ),
    "site missing": (_drop("site"), "site"),
    "unknown field": (_set(colour="blue"), "colour"),
    "bad phone": (_set(phone="call me"), "phone"),
    "unknown needs code": (_set_member(0, specific_needs=["XX-YY"]), "members.0.specific_needs"),
    "disability answer out of range": (
        _set_member(0, disability={"seeing": 7}),
        "members.0.disability.seeing",
    ),
}


@pytest.mark.parametrize("case", BAD_PAYLOADS.keys())
def test_invalid_household_is_422_naming_the_field_and_writes_nothing(
    alice: ApiClient, case: str
) -> None:
    change, field = BAD_PAYLOADS[case]
    payload = factories.household()
    change(payload)
    before = row_counts()

    response = alice.post("/api/households", payload)

    assert response.status_code == 422, response.content
    assert field in fields_of(response), response.json()
    assert all(error["message"] for error in response.json()["errors"])
    assert row_counts() == before


@pytest.mark.parametrize(
    "body",
    [
        b'{"uuid": "',
        b"",
        b"not json at all",
        b"\xff\xfe\x00garbage",
        json.dumps([factories.household()]).encode(),
        b'"a string"',
        b"null",
    ],
    ids=["truncated", "empty", "text", "binary", "list", "string", "null"],
)
def test_malformed_body_is_422_naming_body_and_writes_nothing(
    alice: ApiClient, body: bytes
) -> None:
    before = row_counts()

    response = alice.post("/api/households", body)

    assert response.status_code == 422
    assert fields_of(response) == ["body"]
    assert row_counts() == before


def test_registrar_writing_to_another_site_is_404_and_writes_nothing(personas: Personas) -> None:
    bob = ApiClient(personas.bob)
    before = row_counts()

    response = bob.post("/api/households", factories.household("KOR"))

    assert response.status_code == 404
    assert row_counts() == before


def test_caseworker_registers_at_assigned_site_only(personas: Personas) -> None:
    carol = ApiClient(personas.carol)
    assert carol.post("/api/households", factories.household("VAYK")).status_code == 201
    assert carol.post("/api/households", factories.household("GORIS")).status_code == 404


# --- reading -------------------------------------------------------------------------------------


def test_get_household_is_scoped_to_the_users_sites(personas: Personas, alice: ApiClient) -> None:
    payload = factories.household()
    created = alice.post("/api/households", payload).json()
    path = f"/api/households/{payload['uuid']}"

    assert alice.get(path).json() == created
    assert ApiClient(personas.carol).get(path).status_code == 200
    assert ApiClient(personas.dan).get(path).status_code == 200
    bob = ApiClient(personas.bob).get(path)
    assert bob.status_code == 404
    assert bob.json() == alice.get(f"/api/households/{uuid.uuid4()}").json()
    assert ApiClient(personas.erin).get(path).status_code == 404


def test_get_household_with_a_malformed_uuid_is_422(alice: ApiClient) -> None:
    response = alice.get("/api/households/not-a-uuid")
    assert response.status_code == 422
    assert fields_of(response) == ["household_uuid"]


def _register(client: ApiClient, site: str, count: int) -> list[str]:
    uuids = []
    for _ in range(count):
        payload = factories.household(site, size=2)
        assert client.post("/api/households", payload).status_code == 201
        uuids.append(payload["uuid"])
    return uuids


def test_cursor_pagination_walks_every_page_without_duplicates(personas: Personas) -> None:
    alice = ApiClient(personas.alice)
    registered = _register(alice, "KOR", 7)
    _register(ApiClient(personas.bob), "GORIS", 3)

    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = alice.get("/api/households", **params)
        assert response.status_code == 200
        body = response.json()
        assert len(body["items"]) <= 3
        seen.extend(item["uuid"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert len(seen) == len(set(seen))
    assert seen == registered
    assert all(
        len(item["members"]) == 2 for item in alice.get("/api/households", limit=7).json()["items"]
    )


def test_coordinator_lists_every_site_or_one(personas: Personas) -> None:
    kor = _register(ApiClient(personas.alice), "KOR", 2)
    goris = _register(ApiClient(personas.bob), "GORIS", 2)
    dan = ApiClient(personas.dan)

    everything = dan.get("/api/households").json()
    only_goris = dan.get("/api/households", site="GORIS").json()

    assert {item["uuid"] for item in everything["items"]} == set(kor + goris)
    assert everything["next_cursor"] is None
    assert [item["uuid"] for item in only_goris["items"]] == goris


def test_list_of_another_site_is_404(personas: Personas) -> None:
    _register(ApiClient(personas.bob), "GORIS", 1)
    alice = ApiClient(personas.alice)

    assert alice.get("/api/households", site="GORIS").status_code == 404
    assert alice.get("/api/households", site="NOWHERE").status_code == 404
    assert alice.get("/api/households").json()["items"] == []


def test_partner_analyst_gets_no_households(personas: Personas) -> None:
    _register(ApiClient(personas.alice), "KOR", 1)
    erin = ApiClient(personas.erin)

    assert erin.get("/api/households").status_code == 404
    assert erin.get("/api/households", site="KOR").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "!!not-a-cursor!!"}, "cursor"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_field(
    alice: ApiClient, params: dict[str, Any], field: str
) -> None:
    response = alice.get("/api/households", **params)
    assert response.status_code == 422
    assert fields_of(response) == [field]
