"""register_household / register_households: the one write path for arrivals."""

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from haven.core.errors import Conflict, NotFound
from haven.core.models import AuditEvent
from haven.registry.actions import Outcome, register_household, register_households
from haven.registry.models import Household, IdentityDocument, Person
from haven.registry.schemas import HouseholdIn, field_errors
from tests import factories
from tests.conftest import Personas


def _counts() -> tuple[int, int, int]:
    return Household.objects.count(), Person.objects.count(), AuditEvent.objects.count()


def test_registers_household_with_members_as_typed(personas: Personas) -> None:
    payload = factories.household(size=4)
    payload["members"][0]["documents"] = [{"kind": "passport", "number": "an1234567"}]
    payload["members"][0]["specific_needs"] = ["sm-mi", "ER-NF"]
    payload["members"][0]["disability"] = {"walking": 3}

    household, created = register_household(
        data=HouseholdIn.model_validate(payload), acting_user=personas.alice
    )

    assert created
    assert household.site == personas.kor
    members = {str(p.uuid): p for p in household.members.all()}
    assert len(members) == 4
    head = members[payload["members"][0]["uuid"]]
    assert (head.given_name, head.given_name_script) == ("Հասմիկ", "armenian")
    assert head.relationship == "head"
    assert (head.birth_year, head.birth_month, head.birth_day) == (1980, 5, 17)
    assert head.specific_needs == ["ER-NF", "SM-MI"]
    assert head.wg_walking == 3
    assert IdentityDocument.objects.get(person=head).number == "AN1234567"
    spouse = members[payload["members"][1]["uuid"]]
    assert (spouse.family_name, spouse.family_name_script) == ("Арутюнян", "cyrillic")
    assert (spouse.birth_year, spouse.birth_month) == (1978, None)
    child = members[payload["members"][3]["uuid"]]
    assert (child.birth_year, child.birth_year_estimated) == (2019, True)
    event = AuditEvent.objects.get(action="household.register")
    assert event.user == personas.alice
    assert event.acting_site == personas.kor
    assert event.record_site == personas.kor
    assert event.object_uuid == household.uuid
    assert len(event.detail["members"]) == 4


def test_same_payload_again_returns_the_existing_record(personas: Personas) -> None:
    data = HouseholdIn.model_validate(factories.household())
    first, created = register_household(data=data, acting_user=personas.alice)
    before = _counts()

    again, created_again = register_household(data=data, acting_user=personas.alice)

    assert created
    assert not created_again
    assert again.pk == first.pk
    assert _counts() == before


def test_same_uuid_with_different_payload_is_a_conflict(personas: Personas) -> None:
    payload = factories.household()
    register_household(data=HouseholdIn.model_validate(payload), acting_user=personas.alice)
    before = _counts()
    payload["phone"] = "+37499000000"

    with pytest.raises(Conflict):
        register_household(data=HouseholdIn.model_validate(payload), acting_user=personas.alice)
    assert _counts() == before


def test_member_uuid_already_used_is_a_conflict(personas: Personas) -> None:
    first = factories.household()
    register_household(data=HouseholdIn.model_validate(first), acting_user=personas.alice)
    second = factories.household()
    second["members"][1]["uuid"] = first["members"][0]["uuid"]
    before = _counts()

    with pytest.raises(Conflict, match="already used for another person"):
        register_household(data=HouseholdIn.model_validate(second), acting_user=personas.alice)
    assert _counts() == before


def test_registrar_cannot_write_to_another_site(personas: Personas) -> None:
    data = HouseholdIn.model_validate(factories.household(site="GORIS"))
    with pytest.raises(NotFound):
        register_household(data=data, acting_user=personas.alice)
    unknown = HouseholdIn.model_validate(factories.household(site="NOWHERE"))
    with pytest.raises(NotFound) as unknown_error:
        register_household(data=unknown, acting_user=personas.alice)
    assert str(unknown_error.value) == "site NOWHERE not found"
    assert _counts() == (0, 0, 0)


@pytest.mark.parametrize("user", ["erin"])
def test_partner_analyst_cannot_register(personas: Personas, user: str) -> None:
    data = HouseholdIn.model_validate(factories.household())
    with pytest.raises(NotFound):
        register_household(data=data, acting_user=getattr(personas, user))


def test_coordinator_registers_at_any_site(personas: Personas) -> None:
    data = HouseholdIn.model_validate(factories.household(site="VAYK"))
    household, created = register_household(data=data, acting_user=personas.dan)
    assert created
    assert household.site == personas.vayk


def test_batch_gives_one_result_per_item_in_order(personas: Personas) -> None:
    existing = factories.household()
    register_household(data=HouseholdIn.model_validate(existing), acting_user=personas.alice)
    conflicting = dict(existing, phone="+37455000000")
    fresh = factories.household()
    other_site = factories.household(site="GORIS")
    items = [HouseholdIn.model_validate(p) for p in (fresh, existing, conflicting, other_site)]
    items.append(HouseholdIn.model_validate(fresh))  # the same household twice in one batch

    results = register_households(items=items, acting_user=personas.alice)

    assert [r.outcome for r in results] == [
        Outcome.CREATED,
        Outcome.EXISTS,
        Outcome.CONFLICT,
        Outcome.NOT_FOUND,
        Outcome.EXISTS,
    ]
    assert results[0].household is not None
    assert results[4].household == results[0].household
    assert Household.objects.count() == 2
    assert AuditEvent.objects.filter(action="household.register").count() == 2


def test_household_stores_its_member_count(personas: Personas) -> None:
    """The situation figures count records from it instead of reading the person rows."""
    items = [HouseholdIn.model_validate(factories.household(size=size)) for size in (1, 3, 5)]
    register_household(
        data=HouseholdIn.model_validate(factories.household(size=2)), acting_user=personas.alice
    )
    register_households(items=items, acting_user=personas.alice)

    for household in Household.objects.all():
        assert household.member_count == household.members.count()
    assert sorted(Household.objects.values_list("member_count", flat=True)) == [1, 2, 3, 5]


def test_batch_writes_with_a_bounded_number_of_queries(
    personas: Personas, django_assert_max_num_queries: Any
) -> None:
    items = [HouseholdIn.model_validate(factories.household(size=4)) for _ in range(200)]
    # Bulk inserts, not a query per person: SQLite caps a statement at 999 parameters, so 800
    # persons take about 22 INSERTs there (PostgreSQL fewer); per-row writes would take over 1,000.
    with django_assert_max_num_queries(40):
        results = register_households(items=items, acting_user=personas.alice)
    assert {r.outcome for r in results} == {Outcome.CREATED}
    assert Person.objects.count() == 800


def _errors(payload: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as error:
        HouseholdIn.model_validate(payload)
    return {e.field: e.message for e in field_errors(error.value)}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"given_name": ""}, "members.0.given_name", "must not be empty"),
        ({"given_name": "   "}, "members.0.given_name", "must not be empty"),
        ({"family_name": "Ա" * 101}, "members.0.family_name", "at most 100"),
        ({"given_name": "Ani\x07"}, "members.0.given_name", "control"),
        ({"given_name": "Ani\u200b"}, "members.0.given_name", "invisible"),
        ({"family_name": "Harutyunянян"}, "members.0.family_name", "mixes alphabets"),
        ({"family_name": "Անի123"}, "members.0.family_name", "'1'"),
        ({"given_name": "@@##"}, "members.0.given_name", "not a letter"),
        ({"birth_date": "2090-01-01"}, "members.0.birth_date", "after the registration"),
        ({"birth_date": "1890"}, "members.0.birth_date", "more than 120 years"),
        ({"birth_date": "1980-13"}, "members.0.birth_date", "month 13"),
        ({"birth_date": "1981-02-29"}, "members.0.birth_date", "has 28 days"),
        ({"birth_date": "17/05/1980"}, "members.0.birth_date", "YYYY"),
        ({"birth_date": None}, "members.0.birth_date", "estimated age"),
        ({"estimated_age": 130, "birth_date": None}, "members.0.estimated_age", "120"),
        ({"sex": "X"}, "members.0.sex", "'F', 'M'"),
        ({"relationship": "cousin"}, "members.0.relationship", "head"),
        ({"phone": "call me"}, "members.0.phone", "phone number"),
        ({"specific_needs": ["XX-YY"]}, "members.0.specific_needs", "XX-YY"),
        ({"disability": {"seeing": 7}}, "members.0.disability.seeing", "4"),
        ({"uuid": "not-a-uuid"}, "members.0.uuid", "UUID"),
        ({"nickname": "Ani"}, "members.0.nickname", "not a field"),
    ],
)
def test_bad_member_input_names_the_field(change: dict[str, Any], field: str, message: str) -> None:
    payload = factories.household()
    payload["members"][0].update(change)
    errors = _errors(payload)
    assert field in errors, errors
    assert message in errors[field]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"members": []}, "members", "at least one member"),
        ({"site": ""}, "site", "must not be empty"),
        ({"registered_at": "2023-09-26T08:00:00"}, "registered_at", "UTC offset"),
        ({"registered_at": "2999-01-01T00:00:00+04:00"}, "registered_at", "future"),
        ({"origin_settlement": "Stepanakert\x00"}, "origin_settlement", "control"),
        ({"uuid": 42}, "uuid", "UUID"),
        ({"members": "everyone"}, "members", "list"),
    ],
)
def test_bad_household_input_names_the_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    errors = _errors(factories.household(**change))
    assert field in errors, errors
    assert message in errors[field]


def test_two_heads_is_rejected() -> None:
    payload = factories.household()
    payload["members"][1]["relationship"] = "head"
    assert "exactly one head" in _errors(payload)["members"]


def test_two_members_with_one_uuid_is_rejected() -> None:
    payload = factories.household()
    payload["members"][1]["uuid"] = payload["members"][0]["uuid"]
    assert "two members" in _errors(payload)["members"]


def test_household_member_limit() -> None:
    payload = factories.household(size=41)
    assert "at most 40" in _errors(payload)["members"]


def test_partial_and_estimated_birth_dates_are_accepted() -> None:
    payload = factories.household()
    payload["members"][0]["birth_date"] = "1980-05"
    data = HouseholdIn.model_validate(payload)
    on = data.registered_at.date()
    assert data.members[0].birth_parts(on) == (1980, 5, None, False)


def test_digest_ignores_key_order_but_not_values() -> None:
    payload = factories.household()
    reordered = dict(reversed(list(payload.items())))
    a = HouseholdIn.model_validate(payload).digest()
    assert a == HouseholdIn.model_validate(reordered).digest()
    assert a != HouseholdIn.model_validate(dict(payload, phone="+37410000000")).digest()


def test_uuid_strings_in_any_case_are_the_same_household(personas: Personas) -> None:
    payload = factories.household()
    register_household(data=HouseholdIn.model_validate(payload), acting_user=personas.alice)
    shouted = dict(payload, uuid=payload["uuid"].upper())
    _, created = register_household(
        data=HouseholdIn.model_validate(shouted), acting_user=personas.alice
    )
    assert not created
    assert Household.objects.filter(uuid=uuid.UUID(payload["uuid"])).count() == 1


def test_batch_repeats_of_a_stored_uuid_are_judged_against_the_stored_record(
    personas: Personas,
) -> None:
    stored = factories.household()
    register_household(data=HouseholdIn.model_validate(stored), acting_user=personas.alice)
    changed = dict(stored, phone="+37455000000")
    items = [HouseholdIn.model_validate(p) for p in (changed, stored, changed)]

    results = register_households(items=items, acting_user=personas.alice)

    assert [r.outcome for r in results] == [Outcome.CONFLICT, Outcome.EXISTS, Outcome.CONFLICT]
    assert Household.objects.count() == 1


def test_conflict_message_names_no_record_of_another_site(personas: Personas) -> None:
    kor = factories.household("KOR")
    register_household(data=HouseholdIn.model_validate(kor), acting_user=personas.alice)
    goris = factories.household("GORIS")
    goris["members"][0]["uuid"] = kor["members"][0]["uuid"]
    with pytest.raises(Conflict) as error:
        register_household(data=HouseholdIn.model_validate(goris), acting_user=personas.bob)
    assert kor["uuid"] not in str(error.value)
    assert "already used" in str(error.value)
