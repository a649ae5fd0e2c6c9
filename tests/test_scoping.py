"""Selectors scope every read by site: another site's record is NotFound, never 'forbidden'."""

import pytest

from haven.core.errors import InvalidInput, NotFound
from haven.core.models import AuditEvent
from haven.registry import selectors
from haven.registry.actions import register_household
from haven.registry.models import Household
from haven.registry.schemas import HouseholdIn
from tests import factories
from tests.conftest import Personas

Pair = tuple[Household, Household]


@pytest.fixture
def two_households(personas: Personas) -> tuple[Household, Household]:
    kor, _ = register_household(
        data=HouseholdIn.model_validate(factories.household("KOR")), acting_user=personas.alice
    )
    goris, _ = register_household(
        data=HouseholdIn.model_validate(factories.household("GORIS")), acting_user=personas.bob
    )
    return kor, goris


def test_registrar_sees_only_own_site(personas: Personas, two_households: Pair) -> None:
    kor, goris = two_households
    assert list(selectors.households_for(personas.alice)) == [kor]
    assert selectors.household_for(personas.alice, kor.uuid) == kor
    with pytest.raises(NotFound):
        selectors.household_for(personas.alice, goris.uuid)
    goris_head = goris.members.get(relationship="head")
    with pytest.raises(NotFound):
        selectors.person_for(personas.alice, goris_head.uuid, purpose="test")
    assert not AuditEvent.objects.filter(action="person.view").exists()


def test_caseworker_sees_assigned_sites(personas: Personas, two_households: Pair) -> None:
    kor, _goris = two_households
    assert set(selectors.households_for(personas.carol)) == {kor}


def test_coordinator_sees_all(personas: Personas, two_households: Pair) -> None:
    assert set(selectors.households_for(personas.dan)) == set(two_households)


def test_partner_analyst_sees_no_person(personas: Personas, two_households: Pair) -> None:
    assert not selectors.households_for(personas.erin).exists()
    assert not selectors.persons_for(personas.erin).exists()
    assert not selectors.search_persons(personas.erin, "").exists()


def test_inactive_user_sees_nothing(personas: Personas, two_households: Pair) -> None:
    personas.dan.is_active = False
    personas.dan.save()
    assert not selectors.households_for(personas.dan).exists()


def test_person_read_is_audited(personas: Personas, two_households: Pair) -> None:
    head = two_households[0].members.get(relationship="head")
    selectors.person_for(personas.alice, head.uuid, purpose="test")
    event = AuditEvent.objects.get(action="person.view")
    assert (event.user, event.object_uuid, event.detail) == (
        personas.alice,
        head.uuid,
        {"via": "test"},
    )


def test_search_finds_names_in_any_script(personas: Personas, two_households: Pair) -> None:
    found = {p.given_name for p in selectors.search_persons(personas.dan, "Арам")}
    assert found == {"Арам"}
    assert selectors.search_persons(personas.alice, "Арам").count() == 1
    assert selectors.search_persons(personas.bob, "Հասմիկ").count() == 1


def test_search_finds_a_name_typed_in_another_script(
    personas: Personas, two_households: Pair
) -> None:
    # Each household holds Հարությունյան (Armenian), Арутюнян (Russian) and Harutyunyan (Latin).
    for query in ("Harutyunyan", "Арутюнян", "Հարությունյան", "Arutiunian"):
        found = selectors.search_persons(personas.alice, query)
        assert {p.family_name for p in found} == {"Հարությունյան", "Арутюнян", "Harutyunyan"}
    # The given name too: Hasmik and Асмик are Հասմիկ.
    assert {p.given_name for p in selectors.search_persons(personas.dan, "Асмик")} == {"Հասմիկ"}
    # Still scoped: bob sees only Goris.
    assert {p.site.code for p in selectors.search_persons(personas.bob, "Arutyunyan")} == {"GORIS"}


def test_household_reads_shown_to_a_user_are_audited(
    personas: Personas, two_households: Pair
) -> None:
    kor = two_households[0]
    selectors.household_for(personas.alice, kor.uuid)  # a lookup that shows nothing: not a read
    assert not AuditEvent.objects.filter(action="household.view").exists()
    selectors.household_for(personas.alice, kor.uuid, purpose="api")
    assert AuditEvent.objects.get(action="household.view").object_uuid == kor.uuid
    selectors.page_of_households(personas.dan, site_code=None, cursor=None, limit=10)
    listed = AuditEvent.objects.filter(action="household.list")
    assert {e.object_uuid for e in listed} == {h.uuid for h in two_households}
    assert {e.user for e in listed} == {personas.dan}


def test_search_ignores_case_in_every_script(personas: Personas, two_households: Pair) -> None:
    assert selectors.search_persons(personas.dan, "арам").count() == 2
    assert selectors.search_persons(personas.dan, "հԱՍՄԻԿ").count() == 2
    assert selectors.search_persons(personas.dan, "harutyunyan ANI").count() == 2


def test_a_cursor_names_a_visible_household_and_nothing_more(
    personas: Personas, two_households: Pair
) -> None:
    kor, goris = two_households
    extra, _ = register_household(
        data=HouseholdIn.model_validate(factories.household("KOR")), acting_user=personas.alice
    )
    page = selectors.page_of_households(personas.alice, site_code=None, cursor=None, limit=1)
    assert page.households == [kor]
    assert page.next_cursor == str(kor.uuid)
    following = selectors.page_of_households(
        personas.alice, site_code=None, cursor=page.next_cursor, limit=1
    )
    assert following.households == [extra]
    with pytest.raises(InvalidInput):  # another site's household is no cursor for alice
        selectors.page_of_households(
            personas.alice, site_code=None, cursor=str(goris.uuid), limit=1
        )
