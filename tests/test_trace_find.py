"""`haven trace find`: a caseworker's search for a sought person, by name in any script.

People are registered through the real registration action; the search scores them with the
identity model (the starter model, or one trained for the tests: tests/check_support.py).
"""

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from haven.core.models import AuditEvent
from haven.identity.check import find_candidates
from haven.registry.models import Person
from haven.tracing.search import find_people, readings
from tests.check_support import ensure_model, register
from tests.conftest import Personas

HASMIK = {
    "given_name": "Հասմիկ",
    "family_name": "Հարությունյան",
    "patronymic": "Մհերի",
    "sex": "F",
    "birth_date": "1980-05-17",
}
# Another woman of the same name, five years older, registered elsewhere.
NAMESAKE = {**HASMIK, "patronymic": "", "birth_date": "1975-02-03"}
ARAM = {
    "given_name": "Արամ",
    "family_name": "Հարությունյան",
    "sex": "M",
    "birth_date": "1978",
}
KEYS = [
    "person_uuid",
    "probability",
    "reasons",
    "given_name",
    "family_name",
    "patronymic",
    "sex",
    "birth_date",
    "birth_year_estimated",
    "site",
    "household_uuid",
]


@pytest.fixture
def registered(personas: Personas) -> dict[str, Person]:
    ensure_model()
    household = register(personas.bob, "GORIS", [HASMIK, ARAM])
    older = register(personas.alice, "KOR", [NAMESAKE])
    return {
        "hasmik": household.members.get(given_name="Հասմիկ"),
        "aram": household.members.get(given_name="Արամ"),
        "namesake": older.members.get(),
    }


def trace(*args: str) -> list[dict[str, Any]]:
    out = StringIO()
    call_command("trace", "find", *args, "--json", stdout=out)
    result: list[dict[str, Any]] = json.loads(out.getvalue())
    return result


def uuids(found: list[dict[str, Any]]) -> list[str]:
    return [c["person_uuid"] for c in found]


@pytest.mark.parametrize("name", ["Асмик Арутюнян", "Hasmik Harutyunyan"])
def test_a_woman_registered_in_armenian_is_found_from_another_script(
    registered: dict[str, Person], name: str
) -> None:
    found = trace("--name", name, "--birth-year", "1980", "--sex", "F")

    hasmik, namesake = registered["hasmik"], registered["namesake"]
    assert found[0]["person_uuid"] == str(hasmik.uuid)
    assert str(namesake.uuid) in uuids(found)
    by_uuid = {c["person_uuid"]: c for c in found}
    assert found[0]["probability"] > by_uuid[str(namesake.uuid)]["probability"]
    assert str(registered["aram"].uuid) not in uuids(found)[:1]
    probabilities = [c["probability"] for c in found]
    assert probabilities == sorted(probabilities, reverse=True)


def test_the_probability_is_the_models_not_relative_to_the_list(
    registered: dict[str, Person],
) -> None:
    found = trace("--name", "Hasmik Harutyunyan", "--birth-year", "1980", "--sex", "F")
    # With the namesake left out of the list, the first's figure does not move.
    alone = trace("--name", "Hasmik Harutyunyan", "--birth-year", "1980", "--sex", "F", "--limit=1")
    # The desk-time check's figure for the same reading: the model's probability.
    checked, *_others = find_candidates(
        user=None,
        given_name="Hasmik",
        family_name="Harutyunyan",
        sex="F",
        birth_year=1980,
        threshold=0.0,
        audit=False,
    )

    assert len(alone) == 1
    assert alone[0]["probability"] == found[0]["probability"]
    assert checked.person == registered["hasmik"]
    assert found[0]["probability"] == round(checked.probability, 4)
    assert sum(c["probability"] for c in found) != pytest.approx(1.0)


def test_a_family_name_first_is_found(registered: dict[str, Person]) -> None:
    found = trace("--name", "Арутюнян Асмик", "--birth-year", "1980", "--sex", "F")

    assert found[0]["person_uuid"] == str(registered["hasmik"].uuid)
    names = {r["field"]: r["level"] for r in found[0]["reasons"]}
    assert names["given"] in {"same_spelling", "same_name"}
    assert names["family"] in {"same_spelling", "same_name"}


def test_a_patronymic_in_the_name_is_read_as_one(registered: dict[str, Person]) -> None:
    found = trace("--name", "Асмик Мгеровна Арутюнян", "--birth-year", "1980")

    assert found[0]["person_uuid"] == str(registered["hasmik"].uuid)


def test_no_birth_year_or_sex_is_missing_evidence_not_a_mismatch(
    registered: dict[str, Person],
) -> None:
    found = trace("--name", "Hasmik Harutyunyan")

    hasmik, namesake = str(registered["hasmik"].uuid), str(registered["namesake"].uuid)
    assert {hasmik, namesake} <= set(uuids(found))
    for candidate in found:
        fields = {r["field"] for r in candidate["reasons"]}
        assert "birth_date" not in fields
        assert "sex" not in fields
    # Unknown is neither for nor against: both women are as likely, on their names alone.
    by_uuid = {c["person_uuid"]: c["probability"] for c in found}
    assert by_uuid[hasmik] == pytest.approx(by_uuid[namesake], abs=0.05)
    with_year = trace("--name", "Hasmik Harutyunyan", "--birth-year", "1980", "--sex", "F")
    assert with_year[0]["probability"] > by_uuid[hasmik]


def test_reasons_name_the_fields_and_the_scripts(registered: dict[str, Person]) -> None:
    found = trace("--name", "Асмик Арутюнян", "--birth-year", "1980", "--sex", "F")

    reasons = {r["field"]: r for r in found[0]["reasons"]}
    assert reasons["family"]["scripts"] == ["cyrillic", "armenian"]
    assert reasons["given"]["scripts"] == ["cyrillic", "armenian"]
    assert reasons["family"]["text"] == "same family name, Cyrillic ↔ Armenian"
    assert reasons["birth_date"]["level"] == "same_year_partial"
    assert reasons["sex"]["level"] == "same"
    weights = [r["weight"] for r in found[0]["reasons"]]
    assert weights == sorted(weights, reverse=True)


def test_the_json_contract(registered: dict[str, Person]) -> None:
    found = trace("--name", "Hasmik Harutyunyan", "--birth-year", "1980", "--sex", "F")

    first, hasmik = found[0], registered["hasmik"]
    assert list(first) == KEYS
    assert first["person_uuid"] == str(hasmik.uuid)
    assert isinstance(first["probability"], float)
    assert list(first["reasons"][0]) == ["field", "level", "weight", "scripts", "text"]
    assert (first["given_name"], first["family_name"], first["patronymic"]) == (
        "Հասմիկ",
        "Հարությունյան",
        "Մհերի",
    )
    assert (first["sex"], first["birth_date"], first["site"]) == ("F", "1980-05-17", "GORIS")
    assert first["household_uuid"] == str(hasmik.household.uuid)


def test_nobody_found_is_an_empty_list(registered: dict[str, Person]) -> None:
    assert trace("--name", "Zzyzx Qwertyan", "--birth-year", "1990") == []
    assert not AuditEvent.objects.filter(action="person.trace").exists()


def test_the_table_without_json(registered: dict[str, Person]) -> None:
    out = StringIO()
    call_command("trace", "find", "--name", "Асмик Арутюнян", "--birth-year", "1980", stdout=out)

    first = out.getvalue().splitlines()[0]
    assert "Հասմիկ Մհերի Հարությունյան" in first
    assert "GORIS" in first
    assert str(registered["hasmik"].uuid) in first


def test_each_candidate_shown_is_an_audited_read(
    personas: Personas, registered: dict[str, Person]
) -> None:
    found = trace("--name", "Hasmik Harutyunyan", "--as-user", "carol")

    events = AuditEvent.objects.filter(action="person.trace")
    assert sorted(str(e.object_uuid) for e in events) == sorted(uuids(found))
    event = events.get(object_uuid=registered["hasmik"].uuid)
    assert event.user == personas.carol
    assert event.detail == {"via": "trace_find", "query": "Hasmik Harutyunyan"}
    assert event.record_site_id == registered["hasmik"].site_id


def test_without_a_user_the_read_is_havens_own(registered: dict[str, Person]) -> None:
    found = find_people(name="Hasmik Harutyunyan", birth_year=1980, sex="F", origin="")

    assert found[0].person == registered["hasmik"]
    events = AuditEvent.objects.filter(action="person.trace")
    assert sorted(str(e.object_uuid) for e in events) == sorted(str(c.person.uuid) for c in found)
    assert {e.user for e in events} == {None}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "12345"], "name: '12345' contains '1'"),
        (["--name", "李明 王"], "not a letter of the Armenian, Cyrillic or Latin alphabet"),
        (["--name", "   "], "name: must not be empty"),
        (["--name", "Hasmik", "--birth-year", "1850"], "birth_year: 1850 is not a possible year"),
        (["--name", "Hasmik", "--birth-year", "3000"], "birth_year: 3000 is not a possible year"),
        (["--name", "Hasmik", "--birth-year", "nineteen"], "birth_year: 'nineteen' is not a year"),
        (["--name", "Hasmik", "--sex", "X"], "sex: must be F or M"),
        (["--name", "a b c d e f"], "name: has 6 parts"),
        (["--name", "Hasmik", "--as-user", "alice"], "'alice' may not search for people"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(
    registered: dict[str, Person], args: list[str], message: str
) -> None:
    before = AuditEvent.objects.count()

    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        call_command("trace", "find", *args, "--json", stdout=StringIO())

    assert AuditEvent.objects.count() == before


def test_readings_of_a_name() -> None:
    assert readings(["Асмик", "Арутюнян"]) == [
        ("Асмик", "Арутюнян", ""),
        ("Арутюнян", "Асмик", ""),
    ]
    assert readings(["Асмик", "Мгеровна", "Арутюнян"])[0] == ("Асмик", "Арутюнян", "Мгеровна")
    assert readings(["Арутюнян", "Асмик", "Мгеровна"])[1] == ("Асмик", "Арутюнян", "Мгеровна")
    assert readings(["Hasmik"]) == [("Hasmik", "", ""), ("", "Hasmik", "")]
