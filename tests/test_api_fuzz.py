"""The JSON API fuzzed against its own OpenAPI document with schemathesis.

Every operation of `haven.api.api` gets generated requests, valid by the document and invalid,
from a coordinator's device and a registrar's (the two ways the API scopes: every site, and one
site), through Haven's WSGI application in this process. No answer may be a server error; every
answer must be a status the document declares, with the content type and body shape it declares;
and a request the document says is invalid must be refused with a 4xx. Generation is
derandomised: a run is the same run every time.
"""

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, CheckFunction, not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from haven.core.models import User
from tests import factories
from tests.api_support import ApiClient, fields_of, row_counts, token_for
from tests.conftest import Personas

# Examples per operation, role and generation mode: 14 operations x 2 roles x 2 modes x 20 make
# up to 1,120 requests (fewer when an operation has few distinct invalid inputs).
EXAMPLES = 20
MINIMUM_REQUESTS = 1000
SITES = ["KOR", "GORIS"]
BATCH = "POST /api/households/batch"

CONFORMANCE: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def invalid_households_are_reported(
    ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """The batch's contract in place of `negative_data_rejection`: an invalid envelope is refused
    (422), an invalid household in a valid envelope is reported in its result (the others still
    register), so an invalid batch is never answered with nothing rejected."""
    if response.status_code == 200:
        assert response.json()["rejected"] >= 1, "an invalid household was not reported"
    else:
        assert 400 <= response.status_code < 500
    return None


def checks_for(label: str, mode: GenerationMode) -> list[CheckFunction]:
    if mode is GenerationMode.POSITIVE:
        return CONFORMANCE
    if label == BATCH:
        return [*CONFORMANCE, invalid_households_are_reported]
    return [*CONFORMANCE, negative_data_rejection]


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """Haven's WSGI handler, serving inside the test's transaction.

    Django closes "old" connections when a request starts and ends; inside the test's
    transaction that would close the connection the test runs in, so the handler is kept from
    doing it for the test, as django.test.Client does.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def known(personas: Personas) -> dict[str, list[str]]:
    """Records the fuzzer can reach: a household at each site and a crossing count."""
    found: dict[str, list[str]] = {"households": [], "persons": []}
    for user, site in ((personas.alice, "KOR"), (personas.bob, "GORIS")):
        client = ApiClient(user)
        payload = factories.household(site)
        assert client.post("/api/households", payload).status_code == 201
        found["households"].append(payload["uuid"])
        found["persons"].extend(m["uuid"] for m in payload["members"])
        assert client.post("/api/crossings", factories.crossing(site)).status_code == 201
    return found


def aim(
    case: schemathesis.Case[Any], known: dict[str, list[str]], pick: Callable[[list[str]], str]
) -> None:
    """Point a generated request at records and sites that exist, so that it gets past the
    404s into the code behind them (a registrar's other site still answers 404)."""
    for name, kind in (("household_uuid", "households"), ("person_uuid", "persons")):
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = pick(known[kind])
    if case.query and "site" in case.query:
        case.query["site"] = pick(SITES)
    body: Any = case.body
    bodies = [body] if isinstance(body, dict) else []
    if isinstance(body, dict) and isinstance(body.get("households"), list):
        bodies.extend(h for h in body["households"] if isinstance(h, dict))
    for body in bodies:
        if "site" in body:
            body["site"] = pick(SITES)


def complete(body: Any) -> None:
    """Fill in what the OpenAPI document cannot say of a valid body (names of one alphabet,
    dates of birth before the registration, a past period, one head a household), keeping what
    was generated for everything else, so that valid bodies reach the actions and the database."""
    if not isinstance(body, dict):
        return
    for household in body.get("households", []) if isinstance(body.get("households"), list) else []:
        complete(household)
    if "period_start" in body:
        valid = factories.crossing()
        body.update(period_start=valid["period_start"], period_end=valid["period_end"])
    if "given_name" in body:  # the desk's identity check: one person
        body.update({k: v for k, v in factories.member().items() if k in NAME_FIELDS})
        body.update(phone="", documents=[], origin_settlement="")
    if isinstance(body.get("members"), list):
        valid = factories.household()
        body.update(registered_at=valid["registered_at"], origin_settlement="", phone="")
        for index, member in enumerate(body["members"]):
            if isinstance(member, dict):
                member.update({k: v for k, v in factories.member().items() if k in NAME_FIELDS})
                member.update(phone="", documents=[], specific_needs=[], estimated_age=None)
                member["relationship"] = "head" if index == 0 else "child"


NAME_FIELDS = {"given_name", "family_name", "patronymic", "birth_date"}


def fuzz(
    operation: Any,
    mode: GenerationMode,
    user: User,
    known: dict[str, list[str]],
    answered: Counter[tuple[str, int]],
) -> None:
    headers = {"Authorization": f"Bearer {token_for(user)}"}
    checks = checks_for(operation.label, mode)

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the failure is reported as found
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: schemathesis.Case[Any], data: st.DataObject) -> None:
        # A request the document calls invalid is sent as generated. A valid one is, half the
        # time each, aimed at records and sites that exist, and given what Haven checks beyond
        # the document (so that generated values reach the actions and the database).
        if mode is GenerationMode.POSITIVE:
            if data.draw(st.booleans(), label="aimed"):

                def pick(items: list[str]) -> str:
                    return data.draw(st.sampled_from(items))

                aim(case, known, pick)
            if data.draw(st.booleans(), label="completed"):
                complete(case.body)
        response = case.call(headers=headers)
        answered[(operation.label, response.status_code)] += 1
        case.validate_response(response, checks=checks, headers=headers)

    run()


def test_api_survives_fuzzing(
    personas: Personas,
    known: dict[str, list[str]],
    wsgi_app: WSGIHandler,
    capsys: pytest.CaptureFixture[str],
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", wsgi_app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid
        operations.append(result.ok())
    assert len(operations) >= 14
    answered: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []
    for user in (personas.dan, personas.alice):
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    fuzz(operation, mode, user, known, answered)
                except (Exception, BaseExceptionGroup) as exc:
                    # Every operation is fuzzed, then every failure is reported.
                    failures.append(f"{user.role} {mode.value} {operation.label}:\n{exc}")

    assert not failures, "\n\n".join(failures)
    sent = sum(answered.values())
    assert sent >= MINIMUM_REQUESTS, f"only {sent} requests: {answered}"
    assert {label for label, _ in answered} == {operation.label for operation in operations}
    assert not [status for _, status in answered if status >= 500]
    # The fuzzer got past the front door: each role had answers besides 404 and 422.
    assert {status for _, status in answered} >= {200, 201, 404, 422}
    with capsys.disabled():  # the figure for the record: `pytest -s tests/test_api_fuzz.py`
        by_status = sorted(Counter(status for _, status in answered.elements()).items())
        sys.stdout.write(
            f"\nfuzzed {sent} requests over {len(operations)} operations:"
            f" {', '.join(f'{status}: {count}' for status, count in by_status)}\n"
        )


# What the fuzzing found: text PostgreSQL cannot store (NUL) reached its queries and answered 500.
# Each is now refused as the input it is, naming the field, with nothing written.
NUL = "K\x00R"


def _check_payload() -> dict[str, Any]:
    person = factories.member()
    fields = ("given_name", "family_name", "sex", "birth_date")
    return {key: person[key] for key in fields}


@pytest.mark.parametrize(
    ("path", "query", "body", "field"),
    [
        ("/api/households", {"site": NUL}, None, "site"),
        ("/api/households", {"cursor": NUL}, None, "cursor"),
        ("/api/crossings", {"site": NUL}, None, "site"),
        ("/api/identity/pairs", {"site": NUL}, None, "site"),
        ("/api/reports/situation", {"as_of": NUL}, None, "as_of"),
        ("/api/households", None, factories.household(NUL), "site"),
        ("/api/crossings", None, factories.crossing(NUL), "site"),
        ("/api/identity/check", None, _check_payload() | {"documents": [NUL]}, "documents"),
        (
            "/api/identity/check",
            None,
            _check_payload() | {"origin_settlement": NUL},
            "origin_settlement",
        ),
        ("/api/identity/decisions", None, {"pairs": [1], "verdict": "same", "note": NUL}, "note"),
    ],
)
def test_text_a_database_cannot_store_is_refused(
    personas: Personas, path: str, query: dict[str, str] | None, body: Any, field: str
) -> None:
    client = ApiClient(personas.dan)
    before = row_counts()
    response = client.post(path, body) if query is None else client.get(path, **query)
    assert response.status_code == 422, response.content
    assert fields_of(response) == [field]
    assert "U+0000" in response.json()["errors"][0]["message"]
    assert row_counts() == before


def test_a_batch_reports_its_household_a_database_cannot_store(personas: Personas) -> None:
    client = ApiClient(personas.dan)
    before = row_counts()
    response = client.post("/api/households/batch", {"households": [factories.household(NUL)]})
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["status"] == "invalid"
    assert [e["field"] for e in result["errors"]] == ["site"]
    assert row_counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"people": True}, "people"),
        ({"people": "412"}, "people"),
        ({"period_start": 1695700000}, "period_start"),
    ],
)
def test_json_types_are_the_documents(personas: Personas, body: dict[str, Any], field: str) -> None:
    """What the fuzzing also found: `true` was read as the number 1, "412" as 412 and a Unix time
    as a moment, where the document says integer and date-time string."""
    client = ApiClient(personas.dan)
    before = row_counts()
    response = client.post("/api/crossings", factories.crossing() | body)
    assert response.status_code == 422, response.content
    assert fields_of(response) == [field]
    assert row_counts() == before
    whole = client.post("/api/crossings", factories.crossing(people=412.0))
    assert whole.status_code == 201  # 412.0 is an integer, as JSON Schema counts
