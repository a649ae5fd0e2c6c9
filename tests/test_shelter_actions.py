"""Shelters and stays: a shelter is added with a checked capacity; a whole household checks in
only if it fits and is in no other shelter; capacity never goes below who is staying; each step
audited. Households are registered through the real registration action."""

import json
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from haven.core.errors import Conflict, InvalidInput, NotFound
from haven.core.models import AuditEvent, User
from haven.registry.actions import close_household, register_household, reopen_household
from haven.registry.models import Household
from haven.registry.schemas import HouseholdIn
from haven.shelter import actions, selectors
from haven.shelter.allocation import propose, waiting_households
from haven.shelter.models import Shelter, Stay
from tests import factories
from tests.conftest import Personas


def shelter_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "GOR-SCH-1",
        "name": "Goris school No. 1",
        "kind": "collective",
        "province": "Syunik",
        "town": "Goris",
        "beds": 5,
        "rooms": 2,
        "step_free": True,
    }
    data.update(overrides)
    return data


def add(personas: Personas, **overrides: Any) -> Shelter:
    return actions.add_shelter(
        data=actions.parse_shelter(shelter_data(**overrides)), acting_user=personas.dan
    )


def household(personas: Personas, size: int) -> Household:
    created, _ = register_household(
        data=HouseholdIn.model_validate(factories.household(size=size)),
        acting_user=personas.alice,
    )
    return created


def test_a_household_checks_in_whole_and_out_again(personas: Personas) -> None:
    shelter = add(personas)
    family = household(personas, 3)

    stay = actions.check_in(household=family, shelter=shelter, acting_user=personas.dan)

    assert (stay.persons, stay.checked_out_at) == (3, None)
    assert actions.occupancy(shelter) == 3
    actions.check_out(household=family, acting_user=personas.dan)
    assert actions.occupancy(shelter) == 0
    assert Stay.objects.get().checked_out_at is not None  # kept, closed
    assert list(
        AuditEvent.objects.filter(object_uuid=shelter.uuid)
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["shelter.add", "shelter.check_in", "shelter.check_out"]


def test_a_closed_case_waits_for_no_bed_and_is_refused_at_check_in(personas: Personas) -> None:
    shelter = add(personas)
    departed, waiting = household(personas, 2), household(personas, 1)
    assert {h.key for h in waiting_households()} == {departed.pk, waiting.pk}

    close_household(household=departed, reason="departed", acting_user=personas.dan)

    assert [h.key for h in waiting_households()] == [waiting.pk]
    proposal = propose(user=personas.dan)
    assert [a.household.key for a in proposal.assignments] == [waiting.pk]
    with pytest.raises(Conflict, match="case is closed: reopen it before checking it in"):
        actions.check_in(household=departed, shelter=shelter, acting_user=personas.dan)
    assert not Stay.objects.filter(household=departed).exists()
    assert not AuditEvent.objects.filter(action="shelter.check_in").exists()

    reopen_household(household=departed, acting_user=personas.dan)
    actions.check_in(household=departed, shelter=shelter, acting_user=personas.dan)
    assert actions.occupancy(shelter) == 2


def test_a_household_that_does_not_fit_is_refused_and_never_split(personas: Personas) -> None:
    shelter = add(personas, beds=5)
    actions.check_in(household=household(personas, 3), shelter=shelter, acting_user=personas.dan)
    too_many = household(personas, 3)

    with pytest.raises(InvalidInput, match="2 free beds; the household is 3 people"):
        actions.check_in(household=too_many, shelter=shelter, acting_user=personas.dan)
    assert actions.occupancy(shelter) == 3
    assert not Stay.objects.filter(household=too_many).exists()


def test_a_household_is_in_one_shelter_at_a_time(personas: Personas) -> None:
    first = add(personas)
    second = add(personas, code="VAYK-HOTEL", name="Vayk hotel", province="Vayots Dzor")
    family = household(personas, 2)
    actions.check_in(household=family, shelter=first, acting_user=personas.dan)
    with pytest.raises(Conflict, match="already in a shelter"):
        actions.check_in(household=family, shelter=second, acting_user=personas.dan)
    with pytest.raises(Conflict, match="not in a shelter"):
        actions.check_out(household=household(personas, 1), acting_user=personas.dan)


def test_capacity_is_never_set_below_who_is_staying(personas: Personas) -> None:
    shelter = add(personas, beds=5)
    actions.check_in(household=household(personas, 4), shelter=shelter, acting_user=personas.dan)
    with pytest.raises(InvalidInput, match="fewer than the 4 people staying"):
        actions.set_beds(shelter=shelter, beds=3, acting_user=personas.dan)
    shelter.refresh_from_db()
    assert shelter.beds == 5
    assert actions.set_beds(shelter=shelter, beds=4, acting_user=personas.dan).beds == 4


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"province": "Karabakh"}, "province"),
        ({"beds": -1}, "beds"),
        ({"kind": "tent"}, "kind"),
        ({"code": "lower case"}, "code"),
        ({"town": ""}, "town"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_shelter_is_refused_naming_its_field(
    personas: Personas, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        add(personas, **overrides)
    assert field in {error.field for error in raised.value.errors}
    assert not Shelter.objects.exists()


def test_a_code_used_twice_is_a_conflict(personas: Personas) -> None:
    add(personas)
    with pytest.raises(Conflict):
        add(personas, name="Another")
    assert Shelter.objects.count() == 1


# --- occupancy over time and presence (haven.shelter.selectors) ----------------------------


def test_occupancy_at_a_past_moment_counts_the_stays_open_then(personas: Personas) -> None:
    shelter = add(personas, beds=10)
    first, second = household(personas, 3), household(personas, 2)
    actions.check_in(household=first, shelter=shelter, acting_user=personas.dan)
    after_first = timezone.now()
    actions.check_in(household=second, shelter=shelter, acting_user=personas.dan)
    both = timezone.now()
    actions.check_out(household=first, acting_user=personas.dan)

    assert selectors.occupancy_at(after_first) == {shelter.pk: 3}
    assert selectors.occupancy_at(both) == {shelter.pk: 5}
    assert selectors.occupancy_at(timezone.now()) == {shelter.pk: 2}
    assert selectors.occupancy_at(after_first - timedelta(days=1)) == {}
    with pytest.raises(ValueError, match="timezone-aware"):
        selectors.occupancy_at(datetime(2023, 9, 26))  # noqa: DTZ001 - the naive moment refused


def test_the_presence_list_names_who_is_staying_and_audits_each(personas: Personas) -> None:
    shelter = add(personas)
    staying, left = household(personas, 2), household(personas, 1)
    actions.check_in(household=staying, shelter=shelter, acting_user=personas.dan)
    actions.check_in(household=left, shelter=shelter, acting_user=personas.dan)
    actions.check_out(household=left, acting_user=personas.dan)

    out = StringIO()
    call_command("shelter", "presence", shelter.code, "--json", "--as-user", "dan", stdout=out)
    rows = json.loads(out.getvalue())

    members = {str(p.uuid) for p in staying.members.all()}
    assert {row["person"] for row in rows} == members
    assert {row["household"] for row in rows} == {str(staying.uuid)}
    assert set(rows[0]) == {
        "household",
        "person",
        "given_name",
        "family_name",
        "sex",
        "birth_date",
        "checked_in_at",
    }
    audited = AuditEvent.objects.filter(action="person.view", detail__via="shelter_presence")
    assert {str(e.object_uuid) for e in audited} == members


@pytest.mark.parametrize("who", ["alice", "carol", "erin"])
def test_the_presence_list_is_not_for_other_roles(personas: Personas, who: str) -> None:
    shelter = add(personas)
    actions.check_in(household=household(personas, 2), shelter=shelter, acting_user=personas.dan)
    with pytest.raises(NotFound):
        selectors.presence(getattr(personas, who), shelter.code)
    with pytest.raises(NotFound):
        selectors.presence(personas.dan, "NO-SUCH")


def test_a_shelter_manager_reads_the_presence_of_their_shelters_only(personas: Personas) -> None:
    mine, theirs = add(personas), add(personas, code="GOR-SCH-2", name="Goris school No. 2")
    mia = User.objects.create_user(username="mia", role=User.Role.SHELTER_MANAGER)
    mine.managers.add(mia)
    for shelter in (mine, theirs):
        actions.check_in(
            household=household(personas, 2), shelter=shelter, acting_user=personas.dan
        )

    shelter, residents = selectors.presence(mia, mine.code)

    assert (shelter, len(residents)) == (mine, 2)
    assert residents[0].head
    with pytest.raises(NotFound):
        selectors.presence(mia, theirs.code)
    assert list(selectors.shelters_for(mia)) == [mine]
    assert AuditEvent.objects.filter(user=mia, action="person.view").count() == 2
