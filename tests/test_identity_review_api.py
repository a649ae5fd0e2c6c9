"""The review queue's JSON API: pages of pairs, one pair, decisions, undo; who may do what.

The pairs come from the batch run over a simulated influx (see tests/test_identity_review_pages.py
for the fixtures); every refused request is checked to have changed nothing.
"""

from typing import Any

import pytest

from haven.core.models import AuditEvent, User
from haven.identity.models import CandidatePair, Decision, Link
from haven.registry.models import Person
from tests.api_support import ApiClient, fields_of
from tests.conftest import Personas
from tests.test_identity_review_pages import (
    REVIEW_SITES,
    Linked,
    link_influx,
    pair_state,
    touches,
    trained_model,
)

PAIRS = "/api/identity/pairs"
DECISIONS = "/api/identity/decisions"

__all__ = ["trained_model"]  # the module-scoped fixture, trained once for this module too


@pytest.fixture
def linked(personas: Personas, trained_model: dict[str, Any]) -> Linked:
    return link_influx(personas, trained_model)


def _all_pages(client: ApiClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = client.get(PAIRS, **query)
        assert response.status_code == 200, response.content
        body = response.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def _pairs(status: str) -> list[CandidatePair]:
    return list(
        CandidatePair.objects.filter(status=status)
        .select_related("person_a__site", "person_b__site")
        .order_by("-match_probability", "pk")
    )


def _pending_for(sites: set[str]) -> list[CandidatePair]:
    return [p for p in _pairs("pending") if touches(p, sites)]


def _hidden_from_carol() -> CandidatePair:
    pairs = CandidatePair.objects.select_related("person_a__site", "person_b__site")
    return next(p for p in pairs if not touches(p, REVIEW_SITES))


# --- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "linked"])
def test_a_caseworker_pages_through_the_pairs_touching_her_sites(
    personas: Personas, linked: Linked, status: str
) -> None:
    items = _all_pages(ApiClient(personas.carol), status=status, limit=7)
    expected = [p.pk for p in _pairs(status) if touches(p, REVIEW_SITES)]
    assert expected
    assert [item["id"] for item in items] == expected
    for item in items:
        assert {item["person_a"]["site"], item["person_b"]["site"]} & REVIEW_SITES
        assert item["status"] == status


def test_a_coordinator_sees_every_pair_most_probable_first(
    personas: Personas, linked: Linked
) -> None:
    items = _all_pages(ApiClient(personas.dan), status="linked", limit=200)
    assert [item["id"] for item in items] == [p.pk for p in _pairs("linked")]
    probabilities = [item["match_probability"] for item in items]
    assert probabilities == sorted(probabilities, reverse=True)


def test_the_default_is_the_pairs_needing_a_decision(personas: Personas, linked: Linked) -> None:
    items = _all_pages(ApiClient(personas.dan))
    assert items
    assert {item["status"] for item in items} == {"pending"}
    assert len(items) == CandidatePair.objects.filter(status="pending").count()


def test_a_pair_in_the_list_has_both_records_and_the_reasons(
    personas: Personas, linked: Linked
) -> None:
    pair = linked.trio_pair(0, 2)  # Kornidzor (Armenian) and Vayk (Cyrillic)
    items = _all_pages(ApiClient(personas.carol), status=pair.status, site="VAYK")
    item = next(i for i in items if i["id"] == pair.pk)

    a, b = item["person_a"], item["person_b"]
    assert (a["given_name"], a["given_name_script"], a["site"]) == ("Հասմիկ", "armenian", "KOR")
    assert (b["given_name"], b["given_name_script"], b["site"]) == ("Асмик", "cyrillic", "VAYK")
    assert a["birth_date"] == b["birth_date"] == "1980-05-17"
    assert 0.5 < item["match_probability"] <= 1
    reasons = {r["field"]: r for r in item["explanation"]}
    assert reasons["documents"]["level"] == "shared_number"
    assert reasons["documents"]["text"] == "a document number in common"
    assert reasons["documents"]["weight"] > 0
    assert "Armenian" in reasons["given"]["text"]
    assert "Cyrillic" in reasons["given"]["text"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"band": "maybe"}, "band"),
        ({"limit": 0}, "limit"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "99999999"}, "cursor"),
        ({"cursor": "HIDDEN"}, "cursor"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    personas: Personas, linked: Linked, params: dict[str, Any], field: str
) -> None:
    if params.get("cursor") == "HIDDEN":
        params = {"cursor": str(_hidden_from_carol().pk)}
    response = ApiClient(personas.carol).get(PAIRS, **params)
    assert response.status_code == 422
    assert fields_of(response) == [field]


def test_filters_by_band_and_site(personas: Personas, linked: Linked) -> None:
    client = ApiClient(personas.carol)
    for item in _all_pages(client, status="linked", band="duplicate", site="KOR"):
        assert item["band"] == "duplicate"
        assert "KOR" in (item["person_a"]["site"], item["person_b"]["site"])
    # Another site than hers is not found, as a site that does not exist.
    goris = client.get(PAIRS, site="GORIS")
    nowhere = client.get(PAIRS, site="NOWHERE")
    assert goris.status_code == nowhere.status_code == 404
    assert goris.json() == nowhere.json()


def test_listing_audits_every_record_shown(personas: Personas, linked: Linked) -> None:
    before = AuditEvent.objects.count()
    body = ApiClient(personas.carol).get(PAIRS, status="linked", limit=10).json()
    shown = {i[side]["uuid"] for i in body["items"] for side in ("person_a", "person_b")}
    events = AuditEvent.objects.order_by("pk")[before:]
    listed = [e for e in events if e.action == "person.list"]
    assert {str(e.object_uuid) for e in listed} == shown
    assert all(e.detail == {"via": "api"} for e in listed)


def test_one_pair_in_full_is_an_audited_read(personas: Personas, linked: Linked) -> None:
    pair = linked.trio_pair(0, 1)
    before = AuditEvent.objects.count()
    response = ApiClient(personas.carol).get(f"{PAIRS}/{pair.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == pair.pk
    assert body["record_a"]["documents"] == [
        {"kind": "passport", "number": "AM4455667", "issuing_country": ""}
    ]
    assert body["record_b"]["given_name"] == "Hasmik"
    assert [m["uuid"] for m in body["household_a"]] == [str(linked.hasmik[0].uuid)]
    assert body["decisions"] == []
    if pair.status == "linked":
        assert {link["reason"] for link in body["links"]} == {"model"}
    viewed = AuditEvent.objects.filter(pk__gt=before, action="person.view")
    assert {e.object_uuid for e in viewed} == {linked.hasmik[0].uuid, linked.hasmik[1].uuid}


# --- deciding -----------------------------------------------------------------------------------


def test_deciding_many_pairs_as_the_same_person(personas: Personas, linked: Linked) -> None:
    chosen = _pending_for(REVIEW_SITES)[:2]
    assert len(chosen) == 2
    response = ApiClient(personas.carol).post(
        DECISIONS,
        {"pairs": [p.pk for p in chosen], "verdict": "same", "note": "photos match"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert [p["id"] for p in body["pairs"]] == [p.pk for p in chosen]
    assert {p["status"] for p in body["pairs"]} == {"confirmed"}
    assert {p["decided_by"] for p in body["pairs"]} == {"carol"}
    for pair, out in zip(chosen, body["pairs"], strict=True):
        a = Person.objects.get(pk=pair.person_a_id)
        b = Person.objects.get(pk=pair.person_b_id)
        assert a.identity == b.identity
        assert out["person_a"]["identity"] == out["person_b"]["identity"] == str(a.identity)
        moved = Link.objects.filter(pair=pair, reason="decision")
        assert moved.exists()
        assert all(link.to_identity == a.identity for link in moved)
        assert Decision.objects.get(pair=pair).note == "photos match"
        assert AuditEvent.objects.filter(
            action="identity.decide_same", user=personas.carol, detail__pair=pair.pk
        ).exists()


def test_deciding_different_people(personas: Personas, linked: Linked) -> None:
    pair = _pending_for(REVIEW_SITES)[0]
    identities = (pair.person_a.identity, pair.person_b.identity)
    response = ApiClient(personas.carol).post(
        DECISIONS, {"pairs": [pair.pk], "verdict": "different"}
    )
    assert response.status_code == 200
    assert response.json()["pairs"][0]["status"] == "rejected"
    a = Person.objects.get(pk=pair.person_a_id)
    b = Person.objects.get(pk=pair.person_b_id)
    assert (a.identity, b.identity) == identities


def test_undo_restores_the_identities(personas: Personas, linked: Linked) -> None:
    client = ApiClient(personas.carol)
    pair = _pending_for(REVIEW_SITES)[0]
    before = pair_state()[3]
    client.post(DECISIONS, {"pairs": [pair.pk], "verdict": "same"})
    assert pair_state()[3] != before

    response = client.post(f"{PAIRS}/{pair.pk}/undo", {})
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert pair_state()[3] == before
    assert Link.objects.filter(pair=pair, reason="undo").exists()
    # The decision stays as history.
    detail = client.get(f"{PAIRS}/{pair.pk}").json()
    assert [d["verdict"] for d in detail["decisions"]] == ["same"]
    assert {link["reason"] for link in detail["links"]} >= {"decision", "undo"}


def _alone(pair: CandidatePair) -> bool:
    """No other pair holds either record: undoing this one link separates the two."""
    people = [pair.person_a_id, pair.person_b_id]
    others = CandidatePair.objects.exclude(pk=pair.pk)
    return not (others.filter(person_a__in=people) | others.filter(person_b__in=people)).exists()


def test_undo_takes_an_automatic_link_apart(personas: Personas, linked: Linked) -> None:
    pair = next(p for p in _pairs("linked") if touches(p, REVIEW_SITES) and _alone(p))
    a_id, b_id = pair.person_a_id, pair.person_b_id
    assert Person.objects.get(pk=a_id).identity == Person.objects.get(pk=b_id).identity

    response = ApiClient(personas.carol).post(f"{PAIRS}/{pair.pk}/undo", {})
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert Person.objects.get(pk=a_id).identity != Person.objects.get(pk=b_id).identity
    assert Link.objects.filter(pair=pair, reason="undo", made_by=personas.carol).count() == 1


def test_undoing_one_of_several_links_keeps_the_others(personas: Personas, linked: Linked) -> None:
    """The trio is joined by three pairs: taking one link apart leaves two that still join it."""
    pairs = [linked.trio_pair(0, 1), linked.trio_pair(1, 2), linked.trio_pair(0, 2)]
    if any(p.status != "linked" for p in pairs):
        pytest.fail(f"the trio should be linked automatically: {[p.status for p in pairs]}")
    response = ApiClient(personas.dan).post(f"{PAIRS}/{pairs[2].pk}/undo", {})
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    identities = {Person.objects.get(pk=p.pk).identity for p in linked.hasmik}
    assert len(identities) == 1


def test_undo_with_nothing_to_undo_is_409(personas: Personas, linked: Linked) -> None:
    pair = _pending_for(REVIEW_SITES)[0]
    before = pair_state()
    response = ApiClient(personas.carol).post(f"{PAIRS}/{pair.pk}/undo", {})
    assert response.status_code == 409
    assert "nothing" in response.json()["detail"] or "no decision" in response.json()["detail"]
    assert pair_state() == before


def test_a_contradicting_decision_is_409_and_changes_nothing(
    personas: Personas, linked: Linked
) -> None:
    client = ApiClient(personas.dan)
    for first, second in ((0, 1), (1, 2)):
        pair = linked.trio_pair(first, second)
        assert client.post(DECISIONS, {"pairs": [pair.pk], "verdict": "same"}).status_code == 200
    before = pair_state()
    response = client.post(
        DECISIONS, {"pairs": [linked.trio_pair(0, 2).pk], "verdict": "different"}
    )
    assert response.status_code == 409
    assert "confirmed as the same person" in response.json()["detail"]
    assert pair_state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pairs": ["PAIR"], "verdict": "maybe"}, "verdict"),
        ({"pairs": [], "verdict": "same"}, "pairs"),
        ({"verdict": "same"}, "pairs"),
        ({"pairs": ["PAIR"], "verdict": "same", "note": "x" * 501}, "note"),
        ({"pairs": ["PAIR"], "verdict": "same", "reviewer": "me"}, "reviewer"),
        ({"pairs": "PAIR", "verdict": "same"}, "pairs"),
        ("not json", "body"),
        (["PAIR"], "body"),
    ],
)
def test_bad_input_is_422_and_changes_nothing(
    personas: Personas, linked: Linked, body: Any, field: str
) -> None:
    pair = _pending_for(REVIEW_SITES)[0]

    def fill(value: Any) -> Any:
        if value == "PAIR":
            return pair.pk
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    before = pair_state()
    response = ApiClient(personas.carol).post(DECISIONS, fill(body))
    assert response.status_code == 422
    assert fields_of(response) == [field]
    assert pair_state() == before


@pytest.mark.parametrize("other", ["unknown", "hidden", "negative", "huge"])
def test_one_pair_not_found_decides_none(personas: Personas, linked: Linked, other: str) -> None:
    mine = _pending_for(REVIEW_SITES)[0]
    other_id = {
        "unknown": 999_999_999,
        "hidden": _hidden_from_carol().pk,
        "negative": -4,
        "huge": 2**70,
    }[other]
    before = pair_state()
    response = ApiClient(personas.carol).post(
        DECISIONS, {"pairs": [mine.pk, other_id], "verdict": "same"}
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "pair not found"}
    assert pair_state() == before


# --- who may do what ----------------------------------------------------------------------------


def test_a_hidden_pair_answers_as_an_unknown_one(personas: Personas, linked: Linked) -> None:
    client = ApiClient(personas.carol)
    hidden = _hidden_from_carol()
    before = pair_state()
    for path in (f"{PAIRS}/{hidden.pk}", f"{PAIRS}/999999999"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "pair not found"}
    for path in (f"{PAIRS}/{hidden.pk}/undo", f"{PAIRS}/999999999/undo"):
        response = client.post(path, {})
        assert response.status_code == 404
        assert response.json() == {"detail": "pair not found"}
    assert pair_state() == before


@pytest.mark.parametrize("who", ["alice", "bob", "erin"])
def test_other_roles_get_404_on_everything(personas: Personas, linked: Linked, who: str) -> None:
    user: User = getattr(personas, who)
    client = ApiClient(user)
    pair = CandidatePair.objects.order_by("pk").first()
    assert pair is not None
    before = pair_state()
    audit_before = AuditEvent.objects.count()

    assert client.get(PAIRS).status_code == 404
    assert client.get(PAIRS, status="linked", site="KOR").status_code == 404
    assert client.get(f"{PAIRS}/{pair.pk}").status_code == 404
    valid = client.post(DECISIONS, {"pairs": [pair.pk], "verdict": "same"})
    invalid = client.post(DECISIONS, {"pairs": [], "verdict": "maybe"})
    assert valid.status_code == invalid.status_code == 404
    assert valid.json() == invalid.json() == {"detail": "pair not found"}
    assert client.post(f"{PAIRS}/{pair.pk}/undo", {}).status_code == 404
    assert pair_state() == before
    # Only the device token's own bookkeeping: no record was read.
    assert not AuditEvent.objects.filter(
        pk__gt=audit_before, action__in=["person.list", "person.view"]
    ).exists()


def test_the_operations_are_in_the_openapi_document(personas: Personas) -> None:
    schema = ApiClient(personas.dan).get("/api/openapi.json").json()
    assert "/api/identity/pairs" in schema["paths"]
    assert "/api/identity/pairs/{pair_id}" in schema["paths"]
    assert "/api/identity/pairs/{pair_id}/undo" in schema["paths"]
    decisions = schema["paths"]["/api/identity/decisions"]["post"]
    body = decisions["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"pairs", "verdict", "note"}
