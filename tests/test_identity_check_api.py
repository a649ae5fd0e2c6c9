"""POST /api/identity/check: who already registered, at any site, may be the person being typed.

Against the real database with a trained model: the same woman typed in another alphabet is found
with the reasons naming the alphabets, a namesake is not; what each role sees of a candidate; who
may ask at all; bad input refused with nothing written; every candidate shown audited; and a
latency smoke over a few thousand registered people.
"""

import statistics
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from haven.core.models import AuditEvent, User
from haven.registry.models import Household, Person
from haven.simulate.influx import simulate_influx
from haven.simulate.loader import ensure_sites, load_influx, simulator_user
from tests.api_support import ApiClient, fields_of, row_counts
from tests.check_support import ensure_model, register
from tests.conftest import Personas, sign_in

CHECK = "/api/identity/check"

HASMIK_AT_GORIS = {
    "given_name": "Հասմիկ",
    "family_name": "Հարությունյան",
    "patronymic": "Արամի",
    "sex": "F",
    "birth_date": "1980-05-17",
    "phone": "+374 91 123456",
    "documents": [{"kind": "nk_passport", "number": "AK0123456"}],
    "specific_needs": ["SM-CI"],
}


@pytest.fixture
def model(personas: Personas) -> str:
    return ensure_model()


@pytest.fixture
def hasmik(personas: Personas, model: str) -> Person:
    household = register(personas.bob, "GORIS", [HASMIK_AT_GORIS])
    return household.members.get()


def _check(user: User, **person: Any) -> Any:
    response = ApiClient(user).post(CHECK, person)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    ("given", "family", "script"),
    [("Hasmik", "Harutyunyan", "latin"), ("Асмик", "Арутюнян", "cyrillic")],
)
def test_the_same_woman_typed_in_another_alphabet_is_found(
    personas: Personas, hasmik: Person, model: str, given: str, family: str, script: str
) -> None:
    body = _check(
        personas.alice, given_name=given, family_name=family, sex="F", birth_date="1980-05-17"
    )

    assert body["model"] == model
    [candidate] = body["candidates"]
    assert candidate["person_uuid"] == str(hasmik.uuid)
    assert candidate["household_uuid"] == str(hasmik.household.uuid)
    assert candidate["site"] == {"code": "GORIS", "name": "Goris hub"}
    assert (candidate["given_name"], candidate["family_name"]) == ("Հասմիկ", "Հարությունյան")
    assert candidate["birth_date"] == "1980-05-17"
    assert candidate["sex"] == "F"
    assert body["threshold"] <= candidate["probability"] <= 1
    reasons = {r["field"]: r for r in candidate["reasons"]}
    family_reason = reasons["family"]
    assert family_reason["scripts"] == [script, "armenian"]
    assert family_reason["level"] in {"same_spelling", "same_name"}
    assert family_reason["weight"] > 0
    alphabet = script.capitalize()
    assert family_reason["text"] == f"same family name, {alphabet} ↔ Armenian"
    assert reasons["given"]["text"] == f"same given name, {alphabet} ↔ Armenian"
    assert reasons["birth_date"]["level"] == "same_date"
    assert reasons["birth_date"]["text"] == "same date of birth"
    assert reasons["sex"]["text"] == "same sex"
    # Strongest evidence first.
    weights = [r["weight"] for r in candidate["reasons"]]
    assert weights == sorted(weights, reverse=True)


def test_names_written_the_other_way_round_are_found(personas: Personas, hasmik: Person) -> None:
    body = _check(
        personas.alice,
        given_name="Арутюнян",
        family_name="Асмик",
        sex="F",
        birth_date="1980-05-17",
    )

    [candidate] = body["candidates"]
    assert candidate["person_uuid"] == str(hasmik.uuid)
    reasons = {r["field"]: r for r in candidate["reasons"]}
    assert reasons["given"]["level"] == reasons["family"]["level"] == "swapped"
    assert reasons["family"]["text"] == (
        "family name swapped with the other name, Cyrillic ↔ Armenian"
    )
    assert reasons["family"]["weight"] > 0


def test_a_patronymic_in_another_form_agrees(personas: Personas, hasmik: Person) -> None:
    body = _check(
        personas.alice,
        given_name="Hasmik",
        family_name="Harutyunyan",
        patronymic="Арамовна",
        sex="F",
        birth_date="1980-05-17",
    )
    [candidate] = body["candidates"]
    reason = next(r for r in candidate["reasons"] if r["field"] == "patronymic")
    assert reason["text"] == "same patronymic, Cyrillic ↔ Armenian"


def test_a_mistyped_birth_date_is_carried_by_the_phone(personas: Personas, hasmik: Person) -> None:
    body = _check(
        personas.alice,
        given_name="Hasmik",
        family_name="Harutyunyan",
        sex="F",
        birth_date="1980-12-05",
        phone="+374 91 123456",
    )
    [candidate] = body["candidates"]
    reasons = {r["field"]: r["text"] for r in candidate["reasons"]}
    assert reasons["phone"] == "same phone number"
    assert reasons["birth_date"] == "same year of birth, another date"


def test_day_and_month_swapped_is_evidence_not_a_mismatch(personas: Personas, model: str) -> None:
    register(personas.dan, "VAYK", [{**HASMIK_AT_GORIS, "birth_date": "1985-03-04"}])
    body = _check(
        personas.alice,
        given_name="Hasmik",
        family_name="Harutyunyan",
        sex="F",
        birth_date="1985-04-03",
    )
    [candidate] = body["candidates"]
    assert candidate["site"]["code"] == "VAYK"
    reason = next(r for r in candidate["reasons"] if r["field"] == "birth_date")
    assert reason["text"] == "same date of birth with day and month swapped"
    assert reason["weight"] > 0


@pytest.mark.parametrize(
    ("sex", "birth_date"),
    [
        ("F", "2004-09-02"),  # her daughter, named after her
        ("M", "1962"),  # not her at all
    ],
)
def test_a_namesake_of_another_age_is_not_a_candidate(
    personas: Personas, hasmik: Person, sex: str, birth_date: str
) -> None:
    body = _check(
        personas.alice,
        given_name="Hasmik",
        family_name="Harutyunyan",
        sex=sex,
        birth_date=birth_date,
    )
    assert body["candidates"] == []
    assert not AuditEvent.objects.filter(action="person.check").exists()


@pytest.mark.parametrize(
    ("years_out", "level"), [(0, "same_year_partial"), (2, "estimate_within_2")]
)
def test_an_estimated_age_is_compared_with_the_year_it_gives(
    personas: Personas, hasmik: Person, years_out: int, level: str
) -> None:
    age = timezone.localdate().year - 1980 - years_out
    body = _check(
        personas.alice,
        given_name="Hasmik",
        family_name="Harutyunyan",
        sex="F",
        estimated_age=age,
        origin_settlement="Stepanakert",
    )
    [candidate] = body["candidates"]
    reasons = {r["field"]: r for r in candidate["reasons"]}
    assert reasons["birth_date"]["level"] == level
    # Registered as Ստեփանակերտ, typed in Latin: one place.
    assert reasons["origin"]["text"] == "same origin settlement"


# --- what each role sees ------------------------------------------------------------------------


def test_a_registrar_sees_only_what_tells_people_apart(personas: Personas, model: str) -> None:
    # The same person at the registrar's own site and at another: neither shows more.
    register(personas.alice, "KOR", [HASMIK_AT_GORIS])
    register(personas.bob, "GORIS", [HASMIK_AT_GORIS])

    body = _check(
        personas.alice,
        given_name="Hasmik",
        family_name="Harutyunyan",
        sex="F",
        birth_date="1980-05-17",
    )

    assert sorted(c["site"]["code"] for c in body["candidates"]) == ["GORIS", "KOR"]
    for candidate in body["candidates"]:
        assert candidate["phone"] is None
        assert candidate["documents"] is None
        assert "specific_needs" not in candidate
        assert "disability" not in candidate
        assert "relationship" not in candidate


@pytest.mark.parametrize(
    ("who", "full_at"),
    [("carol", {"KOR"}), ("dan", {"KOR", "GORIS"}), ("admin", {"KOR", "GORIS"})],
)
def test_phone_and_documents_only_where_the_caller_reads_full_records(
    personas: Personas, model: str, who: str, full_at: set[str]
) -> None:
    register(personas.alice, "KOR", [HASMIK_AT_GORIS])
    register(personas.bob, "GORIS", [HASMIK_AT_GORIS])

    body = _check(
        getattr(personas, who),
        given_name="Hasmik",
        family_name="Harutyunyan",
        sex="F",
        birth_date="1980-05-17",
    )

    seen = {c["site"]["code"]: c for c in body["candidates"]}
    assert set(seen) == {"KOR", "GORIS"}
    for code, candidate in seen.items():
        if code in full_at:
            assert candidate["phone"] == "+37491123456"
            assert candidate["documents"] == [
                {"kind": "nk_passport", "number": "AK0123456", "issuing_country": ""}
            ]
        else:
            assert candidate["phone"] is None
            assert candidate["documents"] is None


def test_a_partner_analyst_gets_404_and_nothing_is_written(
    personas: Personas, hasmik: Person
) -> None:
    client = ApiClient(personas.erin)
    before = row_counts()
    response = client.post(
        CHECK,
        {"given_name": "Hasmik", "family_name": "Harutyunyan", "sex": "F", "birth_date": "1980"},
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "person not found"}
    assert row_counts() == before


def test_an_anonymous_caller_is_refused(personas: Personas, hasmik: Person) -> None:
    response = Client().post(CHECK, {}, content_type="application/json")
    assert response.status_code == 401


def test_a_browser_session_needs_the_csrf_token(personas: Personas, hasmik: Person) -> None:
    client = Client(enforce_csrf_checks=True)
    sign_in(client, personas.alice)
    person = {
        "given_name": "Hasmik",
        "family_name": "Harutyunyan",
        "sex": "F",
        "birth_date": "1980",
    }

    refused = client.post(CHECK, person, content_type="application/json")
    assert refused.status_code == 403
    assert not AuditEvent.objects.filter(action="person.check").exists()

    client.get("/desk/")  # the page sets the CSRF cookie the desk's script sends back
    token = client.cookies["csrftoken"].value
    answered = client.post(
        CHECK, person, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert answered.status_code == 200
    assert [c["person_uuid"] for c in answered.json()["candidates"]] == [str(hasmik.uuid)]


# --- bad input ----------------------------------------------------------------------------------

GOOD = {"given_name": "Hasmik", "family_name": "Harutyunyan", "sex": "F", "birth_date": "1980"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"given_name": "", "family_name": ""}, "given_name", "must not be empty"),
        ({"family_name": "!!!"}, "family_name", "which is not a letter"),
        ({"family_name": "Harutյunyan"}, "family_name", "mixes alphabets"),
        ({"patronymic": "12"}, "patronymic", "not a letter"),
        ({"birth_date": "1980-02-30"}, "birth_date", "1980-02 has 29 days"),
        ({"birth_date": "1980-13"}, "birth_date", "month 13"),
        ({"birth_date": "17.05.1980"}, "birth_date", "YYYY, YYYY-MM or YYYY-MM-DD"),
        ({"birth_date": "2999-01-01"}, "birth_date", "is after the registration"),
        ({"birth_date": "1850"}, "birth_date", "more than 120 years"),
        ({"birth_date": None}, "birth_date", "or an estimated age"),
        ({"birth_date": None, "estimated_age": 300}, "estimated_age", "at most 120"),
        ({"sex": "X"}, "sex", "must be one of"),
        ({"phone": "call me"}, "phone", "must be a phone number"),
        ({"documents": ["A" * 41]}, "documents", "at most 40 characters"),
        ({"needs": ["SM-CI"]}, "needs", "is not a field Haven knows"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    personas: Personas, hasmik: Person, change: dict[str, Any], field: str, message: str
) -> None:
    client = ApiClient(personas.alice)
    before = row_counts()
    response = client.post(CHECK, {**GOOD, **change})

    assert response.status_code == 422, response.content
    assert field in fields_of(response)
    messages = " ".join(e["message"] for e in response.json()["errors"])
    assert message in messages
    assert row_counts() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "is not valid JSON"),
        (b'{"given_name": "\xff"}', "is not UTF-8"),
        ("[]", "must be an object"),
    ],
)
def test_a_body_that_is_not_a_person_is_422(
    personas: Personas, hasmik: Person, body: str | bytes, message: str
) -> None:
    client = ApiClient(personas.alice)
    before = row_counts()
    response = client.post(CHECK, body)
    assert response.status_code == 422
    assert fields_of(response) == ["body"]
    assert message in response.json()["errors"][0]["message"]
    assert row_counts() == before


# --- the audit ----------------------------------------------------------------------------------


def test_each_candidate_shown_is_an_audited_read(personas: Personas, model: str) -> None:
    at_kor = register(personas.alice, "KOR", [HASMIK_AT_GORIS]).members.get()
    at_goris = register(personas.bob, "GORIS", [HASMIK_AT_GORIS]).members.get()
    register(personas.bob, "GORIS", [{**HASMIK_AT_GORIS, "birth_date": "2004-09-02"}])
    client = ApiClient(personas.alice)
    before = row_counts()

    response = client.post(
        CHECK,
        {"given_name": "Hasmik", "family_name": "Harutyunyan", "sex": "F", "birth_date": "1980"},
    )

    body = response.json()
    assert len(body["candidates"]) == 2
    after = row_counts()
    assert after == {**before, "audit": before["audit"] + 2}
    events = AuditEvent.objects.filter(action="person.check").order_by("object_uuid")
    assert sorted((e.object_uuid, e.record_site_id) for e in events) == sorted(
        [(at_kor.uuid, personas.kor.pk), (at_goris.uuid, personas.goris.pk)]
    )
    for event in events:
        assert event.user == personas.alice
        assert event.detail == {"via": "desk_check"}


# --- cost ---------------------------------------------------------------------------------------


@pytest.fixture
def thousands(db: None) -> list[Person]:
    ensure_sites(acting_user=None)
    influx = simulate_influx(people=3000, seed=41)
    report = load_influx(influx, acting_user=simulator_user(), progress=False)
    assert report.persons_created >= 3000
    return list(Person.objects.order_by("?")[:40])


def test_a_check_is_cheap_with_thousands_registered(
    personas: Personas, model: str, thousands: list[Person]
) -> None:
    client = ApiClient(personas.dan)
    client.post(CHECK, GOOD)  # the first request loads the model and warms the caches
    timings, found, queries = [], 0, []
    for person in thousands:
        typed = {
            "given_name": person.given_name,
            "family_name": person.family_name,
            "patronymic": person.patronymic,
            "sex": person.sex,
            "birth_date": person.birth_date,
        }
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.post(CHECK, typed)
            timings.append(time.perf_counter() - started)
        queries.append(len(captured))
        assert response.status_code == 200
        found += str(person.uuid) in {c["person_uuid"] for c in response.json()["candidates"]}

    assert Household.objects.count() > 500
    # A person checked as registered finds their own record (nearly always first).
    assert found >= len(thousands) * 0.9
    # Not a benchmark (bench/ has it): generous bounds that catch a scan or an N+1.
    assert statistics.median(timings) < 0.5
    assert max(queries) <= 16, queries
