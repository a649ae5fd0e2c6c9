"""Shelter allocation: the solver's optimum on small cases where it is known, never a split
household nor a shelter over capacity, the greedy baseline beside it, and accepting it all or
nothing (a concurrent check-in that makes one assignment no longer fit applies nothing)."""

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from haven.core.models import AuditEvent, User
from haven.registry.actions import register_household
from haven.registry.models import Household
from haven.registry.schemas import HouseholdIn
from haven.shelter import actions
from haven.shelter.allocation import (
    AllocationError,
    FreeBeds,
    WaitingHousehold,
    accept,
    greedy,
    objective,
    plan,
    propose,
    review,
    verify,
)
from haven.shelter.models import Shelter, Stay
from haven.simulate.shelters import shelter_payloads
from tests import factories
from tests.conftest import Personas


def family(key: int, persons: int, **more: Any) -> WaitingHousehold:
    values: dict[str, Any] = {"origin_province": "Syunik", "step_free": False}
    values.update(more)
    return WaitingHousehold(key=key, uuid=f"h{key}", persons=persons, **values)


def beds(key: int, free: int, province: str = "Syunik", *, step_free: bool = False) -> FreeBeds:
    return FreeBeds(key=key, code=f"S{key}", province=province, step_free=step_free, free=free)


def where(proposal: Any) -> dict[str, str]:
    return {a.household.uuid: a.shelter.code for a in proposal.assignments}


def test_a_big_household_gets_the_only_shelter_it_fits() -> None:
    waiting = [family(1, 2), family(2, 2), family(3, 6)]
    shelters = [beds(1, 6), beds(2, 4)]

    proposal = plan(waiting, shelters)

    assert where(proposal) == {"h1": "S2", "h2": "S2", "h3": "S1"}
    assert (proposal.households_placed, proposal.households_waiting) == (3, 0)
    # The greedy rule puts the first two in the first shelter, and the six then fit nowhere.
    assert len(greedy(waiting, shelters)) == 2
    assert proposal.objective > proposal.greedy_objective


def test_a_mobility_need_goes_to_the_step_free_shelter_only() -> None:
    waiting = [family(1, 3), family(2, 3, step_free=True)]
    shelters = [beds(1, 3), beds(2, 3, step_free=True)]

    proposal = plan(waiting, shelters)

    assert where(proposal) == {"h1": "S1", "h2": "S2"}
    assert proposal.step_free_unmet == 0
    # Neither rule ever sends a mobility need up steps.
    assert all(a.shelter.step_free for a in greedy(waiting, shelters) if a.household.step_free)


def test_the_preferred_province_is_honoured_when_there_is_room() -> None:
    waiting = [family(1, 4, preferred_province="Lori"), family(2, 4)]
    shelters = [beds(1, 4, "Syunik"), beds(2, 4, "Lori")]

    proposal = plan(waiting, shelters)

    assert where(proposal) == {"h1": "S2", "h2": "S1"}


def test_least_travel_when_nothing_else_differs() -> None:
    proposal = plan([family(1, 3, origin_province="Syunik")], [beds(1, 3, "Shirak"), beds(2, 3)])
    assert where(proposal) == {"h1": "S2"}


def test_relatives_share_a_shelter() -> None:
    waiting = [family(1, 2, relatives="g"), family(2, 2), family(3, 2, relatives="g")]
    shelters = [beds(1, 4), beds(2, 2)]

    proposal = plan(waiting, shelters)

    assert where(proposal)["h1"] == where(proposal)["h3"]


def test_never_split_never_over_capacity_on_a_simulated_case() -> None:
    shelters = [
        beds(n, p["beds"], p["province"], step_free=p["step_free"])
        for n, p in enumerate(shelter_payloads(30, seed=7), start=1)
    ]
    waiting = [
        family(n, 1 + n % 9, step_free=n % 19 == 0, preferred_province="Kotayk" if n % 3 else None)
        for n in range(1, 400)
    ]

    proposal = plan(waiting, shelters)

    assert (proposal.split_households, proposal.over_capacity, proposal.step_free_unmet) == (
        0,
        0,
        0,
    )
    assert proposal.objective >= proposal.greedy_objective  # never proposes worse than the rule
    check = verify(proposal.assignments, shelters)
    assert check.problems == []


def test_verify_catches_what_breaks_the_rules() -> None:
    one, shelter = family(1, 3, step_free=True), beds(1, 4)
    from haven.shelter.allocation import Assignment

    check = verify([Assignment(one, shelter), Assignment(one, shelter)], [shelter])
    assert (check.split_households, check.over_capacity, check.step_free_unmet) == (1, 1, 2)
    assert objective([]) == 0


# --- with the database -------------------------------------------------------------------------


def shelter(personas: Personas, code: str, beds_: int, **more: Any) -> Shelter:
    data: dict[str, Any] = {
        "code": code,
        "name": code,
        "kind": "collective",
        "province": "Syunik",
        "town": "Goris",
        "beds": beds_,
    }
    data.update(more)
    return actions.add_shelter(data=actions.parse_shelter(data), acting_user=personas.dan)


def household(personas: Personas, size: int) -> Household:
    created, _ = register_household(
        data=HouseholdIn.model_validate(factories.household(size=size)),
        acting_user=personas.alice,
    )
    return created


def test_propose_and_accept_check_everyone_in_and_audit(personas: Personas) -> None:
    first, second = shelter(personas, "A", 5), shelter(personas, "B", 4)
    families = [household(personas, 3), household(personas, 4), household(personas, 2)]

    proposal = propose(user=personas.dan)
    assert (proposal.households_placed, proposal.split_households) == (3, 0)
    accept(proposal, acting_user=personas.dan)

    assert Stay.objects.filter(checked_out_at__isnull=True).count() == 3
    assert actions.occupancy(first) + actions.occupancy(second) == 9
    assert {s.household_id for s in Stay.objects.all()} == {f.pk for f in families}
    row = AuditEvent.objects.get(action="shelter.allocation.accept")
    assert (row.detail["households"], row.detail["persons"]) == (3, 9)
    assert AuditEvent.objects.filter(action="shelter.check_in").count() == 3
    assert propose(user=personas.dan).households_waiting == 0  # nobody waits any more


def test_accept_applies_nothing_when_one_no_longer_fits(personas: Personas) -> None:
    small = shelter(personas, "A", 3)
    shelter(personas, "B", 4)
    household(personas, 3)
    household(personas, 4)
    proposal = propose(user=personas.dan)
    # Meanwhile someone checks a walk-in household into A, and B's beds are lowered.
    actions.check_in(household=household(personas, 1), shelter=small, acting_user=personas.dan)

    with pytest.raises(AllocationError, match=r"no longer fits in A.*nothing was applied"):
        accept(proposal, acting_user=personas.dan)

    assert Stay.objects.count() == 1  # only the walk-in
    assert not AuditEvent.objects.filter(action="shelter.allocation.accept").exists()


def test_accept_applies_nothing_when_beds_were_lowered(personas: Personas) -> None:
    room = shelter(personas, "A", 6)
    household(personas, 3)
    household(personas, 3)
    proposal = propose(user=personas.dan)
    actions.set_beds(shelter=room, beds=4, acting_user=personas.dan)

    with pytest.raises(AllocationError, match="no longer fits in A"):
        accept(proposal, acting_user=personas.dan)
    assert not Stay.objects.exists()


def test_only_a_coordinator_allocates(personas: Personas) -> None:
    shelter(personas, "A", 6)
    with pytest.raises(AllocationError, match="may not allocate"):
        propose(user=personas.alice)


# --- the command -------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("shelter", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_the_figures_and_accepts(personas: Personas) -> None:
    shelter(personas, "A", 5, step_free=True)
    household(personas, 3)
    household(personas, 4)

    shown = json.loads(run("allocate", "--json", "--as-user", "dan"))
    for key in (
        "households_placed",
        "households_waiting",
        "split_households",
        "over_capacity",
        "objective",
        "greedy_objective",
    ):
        assert key in shown
    assert (shown["households_placed"], shown["households_waiting"]) == (1, 1)
    assert not Stay.objects.exists()  # proposing writes nothing

    done = json.loads(run("allocate", "--accept", "--json", "--as-user", "dan"))
    assert done["accepted"] is True
    assert Stay.objects.count() == 1
    assert "households_placed" in run("allocate", "--as-user", "dan")


def test_an_edited_proposal_is_checked_then_accepted(personas: Personas, tmp_path: Any) -> None:
    shelter(personas, "A", 4)
    shelter(personas, "B", 4)
    one = household(personas, 3)
    document = json.loads(run("allocate", "--json", "--as-user", "dan"))
    document["assignments"] = [{"household": str(one.uuid), "shelter": "B"}]
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document))

    run("allocate", "--accept", "--from", str(path), "--as-user", "dan")
    assert Stay.objects.get().shelter.code == "B"

    document["assignments"] = [{"household": str(household(personas, 5).uuid), "shelter": "A"}]
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match=r"invalid.*A would hold 5 people in 4 free beds"):
        run("allocate", "--accept", "--from", str(path), "--as-user", "dan")


def test_bad_input_gets_a_clear_message(personas: Personas) -> None:
    with pytest.raises(CommandError, match="there are no shelters"):
        run("allocate", "--as-user", "dan")
    shelter(personas, "A", 4)
    with pytest.raises(CommandError, match="no household is waiting"):
        run("allocate", "--accept", "--as-user", "dan")
    with pytest.raises(CommandError, match="may not allocate"):
        run("allocate", "--as-user", "alice")


def test_add_and_list(personas: Personas) -> None:
    run(
        "add",
        "--code",
        "VAYK-1",
        "--name",
        "Vayk school",
        "--kind",
        "collective",
        "--province",
        "Vayots Dzor",
        "--town",
        "Vayk",
        "--beds",
        "40",
        "--step-free",
        "--as-user",
        "dan",
    )
    listed = json.loads(run("list", "--json", "--as-user", "dan"))
    assert (listed[0]["code"], listed[0]["free"], listed[0]["step_free"]) == ("VAYK-1", 40, True)
    with pytest.raises(CommandError, match="province"):
        run("add", "--code", "X", "--name", "X", "--kind", "hotel", "--province", "Mars",
            "--town", "X", "--beds", "4", "--as-user", "dan")  # fmt: skip


def test_simulate_adds_shelters(personas: Personas) -> None:
    out = StringIO()
    call_command("simulate", "--people", "20", "--shelters", "12", "--seed", "5", stdout=out)
    assert Shelter.objects.count() == 12
    assert "shelters added:        12" in out.getvalue()
    payloads = shelter_payloads(200, seed=1)
    for p in payloads:
        low, high = {"collective": (20, 300), "hotel": (10, 80), "host_family": (2, 8)}[p["kind"]]
        assert low <= p["beds"] <= high
    assert 0.1 < sum(p["step_free"] for p in payloads) / 200 < 0.3


# --- shelter managers and the reviewed allocation -------------------------------------------


def manager(personas: Personas, *shelters: Shelter) -> User:
    user = User.objects.create_user(username="mia", role=User.Role.SHELTER_MANAGER)
    for managed in shelters:
        managed.managers.add(user)
    return user


def test_a_shelter_manager_allocates_to_their_own_shelters_only(personas: Personas) -> None:
    mine, theirs = shelter(personas, "A", 4), shelter(personas, "B", 10)
    mia = manager(personas, mine)
    small, big = household(personas, 3), household(personas, 6)

    proposal = propose(user=mia)

    assert [s.code for s in proposal.shelters] == ["A"]
    assert where(proposal) == {str(small.uuid): "A"}  # the six fit nowhere of hers
    assert propose(user=personas.dan, shelter_codes=["B"]).shelters[0].code == "B"
    with pytest.raises(AllocationError, match="no shelter has the code 'B'"):
        review(user=mia, choices=[(str(big.uuid), "B")])
    # Nor can a proposal made for someone else be accepted by her.
    for_dan = review(user=personas.dan, choices=[(str(big.uuid), "B")])
    with pytest.raises(AllocationError, match="may not allocate to shelter B"):
        accept(for_dan, acting_user=mia)
    assert not Stay.objects.exists()
    accept(proposal, acting_user=mia)
    assert Stay.objects.get().shelter == mine
    assert AuditEvent.objects.get(action="shelter.allocation.accept").user == mia
    assert actions.occupancy(theirs) == 0


def test_review_checks_the_choices_against_now(personas: Personas) -> None:
    room = shelter(personas, "A", 5)
    first, second = household(personas, 3), household(personas, 2)
    choices = [(str(first.uuid), "A"), (str(second.uuid), "A")]

    reviewed = review(user=personas.dan, choices=choices)
    assert (reviewed.households_placed, reviewed.persons_placed) == (2, 5)
    assert reviewed.greedy_objective > 0

    actions.check_in(household=household(personas, 1), shelter=room, acting_user=personas.dan)
    with pytest.raises(AllocationError, match="A would hold 5 people in 4 free beds"):
        review(user=personas.dan, choices=choices)
    actions.check_in(household=second, shelter=room, acting_user=personas.dan)
    with pytest.raises(AllocationError, match=f"household {second.uuid} is not waiting"):
        review(user=personas.dan, choices=choices)


@pytest.mark.parametrize("who", ["alice", "carol", "erin"])
def test_other_roles_may_not_allocate(personas: Personas, who: str) -> None:
    shelter(personas, "A", 6)
    household(personas, 2)
    with pytest.raises(AllocationError, match="may not allocate"):
        review(user=getattr(personas, who), choices=[])
