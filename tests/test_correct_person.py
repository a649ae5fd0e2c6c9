"""correct_person: a field changes, the old value and the reason stay on record."""

import uuid

import pytest

from haven.core.errors import Conflict, InvalidInput
from haven.core.models import AuditEvent
from haven.registry.actions import correct_person, register_household
from haven.registry.models import Person, PersonCorrection
from haven.registry.schemas import HouseholdIn
from tests import factories
from tests.conftest import Personas


@pytest.fixture
def head(personas: Personas) -> Person:
    household, _ = register_household(
        data=HouseholdIn.model_validate(factories.household()), acting_user=personas.alice
    )
    return household.members.get(relationship="head")


def test_correction_keeps_old_value_reason_and_author(personas: Personas, head: Person) -> None:
    correction = correct_person(
        person=head,
        field="family_name",
        value="Հարությունյանց",
        reason="Read from passport",
        acting_user=personas.alice,
    )

    head.refresh_from_db()
    assert head.family_name == "Հարությունյանց"
    assert correction.old_value == "Հարությունյան"
    assert correction.new_value == "Հարությունյանց"
    assert correction.corrected_by == personas.alice
    event = AuditEvent.objects.get(action="person.correct")
    assert event.object_uuid == head.uuid
    assert event.detail["field"] == "family_name"


def test_correcting_a_name_updates_its_script(personas: Personas, head: Person) -> None:
    correct_person(
        person=head,
        field="given_name",
        value="Asmik",
        reason="as in passport",
        acting_user=personas.alice,
    )
    head.refresh_from_db()
    assert (head.given_name, head.given_name_script) == ("Asmik", "latin")


def test_birth_date_correction_to_a_partial_date(personas: Personas, head: Person) -> None:
    correct_person(
        person=head,
        field="birth_date",
        value="1981-03",
        reason="typed wrong",
        acting_user=personas.alice,
    )
    head.refresh_from_db()
    assert (head.birth_year, head.birth_month, head.birth_day) == (1981, 3, None)
    assert PersonCorrection.objects.get().old_value == "1980-05-17"


def test_retry_with_same_correction_uuid_corrects_once(personas: Personas, head: Person) -> None:
    key = uuid.uuid4()
    for _ in range(2):
        correct_person(
            person=head,
            field="sex",
            value="M",
            reason="wrong box",
            acting_user=personas.alice,
            correction_uuid=key,
        )
    assert PersonCorrection.objects.count() == 1
    with pytest.raises(Conflict):
        correct_person(
            person=head,
            field="phone",
            value="+37491000000",
            reason="x",
            acting_user=personas.alice,
            correction_uuid=key,
        )


@pytest.mark.parametrize(
    ("field", "value", "reason", "error_field"),
    [
        ("given_name", "", "typo", "given_name"),
        ("given_name", "Hasмик", "typo", "given_name"),
        ("birth_date", "2999", "typo", "birth_date"),
        ("birth_date", "1980-02-30", "typo", "birth_date"),
        ("sex", "Q", "typo", "sex"),
        ("site", "GORIS", "moved", "field"),
        ("given_name", "Ani", "   ", "reason"),
        ("relationship", "spouse", "not the head", "value"),
    ],
)
def test_bad_corrections_change_nothing(
    personas: Personas, head: Person, field: str, value: str, reason: str, error_field: str
) -> None:
    before = Person.objects.values().get(pk=head.pk)
    with pytest.raises(InvalidInput) as error:
        correct_person(
            person=head, field=field, value=value, reason=reason, acting_user=personas.alice
        )
    assert error_field in {e.field for e in error.value.errors}, error.value
    assert Person.objects.values().get(pk=head.pk) == before
    assert not PersonCorrection.objects.exists()
    assert not AuditEvent.objects.filter(action="person.correct").exists()


def test_same_correction_uuid_with_another_value_is_a_conflict(
    personas: Personas, head: Person
) -> None:
    key = uuid.uuid4()
    correct_person(
        person=head,
        field="phone",
        value="+374 91 000000",
        reason="new SIM",
        acting_user=personas.alice,
        correction_uuid=key,
    )
    again = correct_person(
        person=head,
        field="phone",
        value="+37491000000",
        reason="new SIM",
        acting_user=personas.alice,
        correction_uuid=key,
    )
    assert again.new_value == "+37491000000"
    with pytest.raises(Conflict):
        correct_person(
            person=head,
            field="phone",
            value="+37499999999",
            reason="new SIM",
            acting_user=personas.alice,
            correction_uuid=key,
        )
    head.refresh_from_db()
    assert head.phone == "+37491000000"


def test_dates_are_judged_in_the_sites_time_zone(personas: Personas) -> None:
    """Registered at 02:00 in Yerevan on 26 Sep (25 Sep in UTC), a baby born that day."""
    payload = factories.household(registered_at="2023-09-26T02:00:00+04:00")
    payload["members"][1]["birth_date"] = "2023-09-26"
    household, _ = register_household(
        data=HouseholdIn.model_validate(payload), acting_user=personas.alice
    )
    baby = household.members.get(uuid=payload["members"][1]["uuid"])
    correct_person(
        person=baby,
        field="phone",
        value="+37491111111",
        reason="mother's phone",
        acting_user=personas.alice,
    )
    correct_person(
        person=baby,
        field="birth_date",
        value="2023-09-26",
        reason="checked",
        acting_user=personas.alice,
    )
    baby.refresh_from_db()
    assert (baby.phone, baby.birth_day) == ("+37491111111", 26)
