"""The OpenAPI document describes every operation, including the bodies the views parse."""

import json
from typing import Any

import pytest
from django.test import Client

from tests.conftest import Personas


@pytest.fixture
def document(db: None) -> dict[str, Any]:
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    assert isinstance(node, dict)
    return node


@pytest.mark.parametrize(
    ("path", "model", "fields"),
    [
        ("/api/households", "HouseholdIn", {"uuid", "site", "registered_at", "members"}),
        ("/api/households/batch", "HouseholdBatchIn", {"households"}),
        ("/api/crossings", "CrossingCountIn", {"uuid", "site", "period_start", "people"}),
    ],
)
def test_request_bodies_are_documented(
    document: dict[str, Any], path: str, model: str, fields: set[str]
) -> None:
    body = document["paths"][path]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    assert ref == f"#/components/schemas/{model}"
    schema = _resolve(document, ref)
    assert fields <= set(schema["properties"])


def test_every_nested_reference_resolves(document: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert "#/components/schemas/Member" in refs
    for ref in refs:
        _resolve(document, ref)


def test_operations_declare_their_error_responses(document: dict[str, Any]) -> None:
    post = document["paths"]["/api/households"]["post"]
    assert {"200", "201", "404", "409", "422"} <= set(post["responses"])
    security = document["components"]["securitySchemes"]
    assert security["DeviceToken"] == {"type": "http", "scheme": "bearer"}
    assert security["BrowserSession"]["in"] == "cookie"


def test_docs_page_is_served(personas: Personas) -> None:
    response = Client().get("/api/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content


def test_the_document_has_no_duplicate_keys(db: None) -> None:
    """A key written twice (200 beside "200") is valid Python but not valid OpenAPI: Swagger UI at
    /api/docs refuses the whole document with "duplicated mapping key"."""
    duplicates: list[str] = []

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _value in pairs]
        duplicates.extend(key for key in set(keys) if keys.count(key) > 1)
        return dict(pairs)

    response = Client().get("/api/openapi.json")
    json.loads(response.content, object_pairs_hook=no_duplicates)
    assert duplicates == []
