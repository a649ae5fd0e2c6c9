"""The shelter pages through Django's test client: a shelter manager works for the shelters they
manage (every other shelter is a 404), coordinators for all, nobody else for any; the presence
list is an audited read without protection data; capacity never goes below who is staying; a
household checks out; an allocation is proposed, edited and accepted all or nothing."""

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from haven.core.models import AuditEvent, User
from haven.registry.actions import register_household
from haven.registry.models import Household
from haven.registry.schemas import HouseholdIn
from haven.shelter import actions
from haven.shelter.models import Shelter, Stay
from tests import factories
from tests.conftest import PASSWORD, Personas, sign_in

LIST = "/shelters/"
ALLOCATION = "/shelters/allocation/"


@dataclass
class World:
    personas: Personas
    mia: User  # shelter manager of A
    sam: User  # assistance officer
    a: Shelter
    b: Shelter


def add_shelter(personas: Personas, code: str, beds: int, **more: Any) -> Shelter:
    data: dict[str, Any] = {
        "code": code,
        "name": f"School {code}",
        "kind": "collective",
        "province": "Syunik",
        "town": "Goris",
        "beds": beds,
        "step_free": True,
    }
    data.update(more)
    return actions.add_shelter(data=actions.parse_shelter(data), acting_user=personas.dan)


def household(personas: Personas, size: int, **member: Any) -> Household:
    payload = factories.household(size=size)
    payload["members"][0].update(member)
    created, _ = register_household(
        data=HouseholdIn.model_validate(payload), acting_user=personas.alice
    )
    return created


@pytest.fixture
def world(personas: Personas) -> World:
    mia = User.objects.create_user(
        username="mia", password=PASSWORD, role=User.Role.SHELTER_MANAGER
    )
    sam = User.objects.create_user(
        username="sam", password=PASSWORD, role=User.Role.ASSISTANCE_OFFICER
    )
    a, b = add_shelter(personas, "A", 6), add_shelter(personas, "B", 8)
    a.managers.add(mia)
    return World(personas, mia, sam, a, b)


def as_user(client: Client, user: User) -> Client:
    sign_in(client, user)
    return client


# --- who sees what -----------------------------------------------------------------------------


def test_a_manager_lands_on_and_lists_only_their_shelters(client: Client, world: World) -> None:
    as_user(client, world.mia)
    assert client.get("/")["Location"] == LIST
    actions.check_in(
        household=household(world.personas, 2), shelter=world.a, acting_user=world.personas.dan
    )

    page = client.get(LIST).content.decode()

    assert 'data-shelter="A"' in page
    assert 'data-shelter="B"' not in page
    assert 'data-occupied="2"' in page
    assert 'data-free="4"' in page
    assert 'href="/shelters/"' in page  # the nav link
    assert 'href="/desk/"' not in page


def test_a_coordinator_sees_every_shelter(client: Client, world: World) -> None:
    page = as_user(client, world.personas.dan).get(LIST).content.decode()
    assert 'data-shelter="A"' in page
    assert 'data-shelter="B"' in page
    assert client.get("/shelters/B/").status_code == 200


def test_a_manager_gets_404_for_another_shelter(client: Client, world: World) -> None:
    staying = household(world.personas, 2)
    actions.check_in(household=staying, shelter=world.b, acting_user=world.personas.dan)
    as_user(client, world.mia)

    assert client.get("/shelters/A/").status_code == 200
    assert client.get("/shelters/B/").status_code == 404
    assert client.get("/shelters/NO-SUCH/").status_code == 404
    assert client.post("/shelters/B/", {"beds": 20}).status_code == 404
    assert (
        client.post("/shelters/B/check-out/", {"household": str(staying.uuid)}).status_code == 404
    )
    # Nor through their own shelter: the household is not staying there.
    assert (
        client.post("/shelters/A/check-out/", {"household": str(staying.uuid)}).status_code == 404
    )
    assert Stay.objects.get().checked_out_at is None
    world.b.refresh_from_db()
    assert world.b.beds == 8
    assert not AuditEvent.objects.filter(user=world.mia, action="person.view").exists()


@pytest.mark.parametrize("who", ["alice", "carol", "erin", "sam"])
def test_every_other_role_gets_404_everywhere(client: Client, world: World, who: str) -> None:
    user = getattr(world, who, None) or getattr(world.personas, who)
    staying = household(world.personas, 2)
    actions.check_in(household=staying, shelter=world.a, acting_user=world.personas.dan)
    as_user(client, user)

    for url in (LIST, "/shelters/A/", ALLOCATION):
        assert client.get(url).status_code == 404, url
    assert client.post("/shelters/A/", {"beds": 3}).status_code == 404
    assert (
        client.post("/shelters/A/check-out/", {"household": str(staying.uuid)}).status_code == 404
    )
    assert client.post(ALLOCATION, {"step": "propose"}).status_code == 404
    assert Stay.objects.get().checked_out_at is None
    assert not AuditEvent.objects.filter(user=user, action="person.view").exists()


def test_signed_out_goes_to_the_login(client: Client, world: World) -> None:
    assert client.get(LIST)["Location"].startswith("/login/")


# --- the shelter page --------------------------------------------------------------------------


def test_the_presence_list_is_audited_and_shows_no_protection_data(
    client: Client, world: World
) -> None:
    needs = household(
        world.personas,
        3,
        given_name="Լիլիթ",
        phone="+374 93 765432",
        specific_needs=["DS-PM", "WR-WR"],
        documents=[{"kind": "passport", "number": "AN0654321"}],
    )
    other = household(world.personas, 1, given_name="Gor", sex="M")
    for h in (needs, other):
        actions.check_in(household=h, shelter=world.a, acting_user=world.personas.dan)
    as_user(client, world.mia)

    page = client.get("/shelters/A/").content.decode()

    assert "Լիլիթ" in page
    assert "Gor" in page
    assert "Арам" in page
    assert "1978" in page  # year of birth
    assert "needs step-free" in page
    assert page.count("needs step-free") == 1  # only the household that needs it
    for secret in ("DS-PM", "WR-WR", "+374 93 765432", "+374 91 123456", "AN0654321"):
        assert secret not in page, secret
    members = {p.uuid for h in (needs, other) for p in h.members.all()}
    audited = AuditEvent.objects.filter(
        user=world.mia, action="person.view", detail__via="shelter_presence"
    )
    assert {e.object_uuid for e in audited} == members
    assert audited.count() == 4


def test_capacity_below_occupancy_is_refused_and_changes_nothing(
    client: Client, world: World
) -> None:
    actions.check_in(
        household=household(world.personas, 4), shelter=world.a, acting_user=world.personas.dan
    )
    as_user(client, world.mia)

    response = client.post("/shelters/A/", {"beds": 3})

    assert response.status_code == 400
    page = response.content.decode()
    assert "3 beds are fewer than the 4 people staying here now" in page
    assert "The capacity was not changed" in page
    world.a.refresh_from_db()
    assert world.a.beds == 6
    assert not AuditEvent.objects.filter(action="shelter.beds").exists()
    assert client.post("/shelters/A/", {"beds": -1}).status_code == 400
    assert client.post("/shelters/A/", {"beds": "many"}).status_code == 400
    world.a.refresh_from_db()
    assert world.a.beds == 6


def test_capacity_is_set(client: Client, world: World) -> None:
    as_user(client, world.mia)
    response = client.post("/shelters/A/", {"beds": 10}, follow=True)
    assert "The shelter now has 10 beds." in response.content.decode()
    world.a.refresh_from_db()
    assert world.a.beds == 10
    row = AuditEvent.objects.get(action="shelter.beds")
    assert (row.user, row.detail) == (world.mia, {"from": 6, "to": 10})


def test_a_household_checks_out_and_occupancy_shows_it(client: Client, world: World) -> None:
    leaving, staying = household(world.personas, 2), household(world.personas, 3)
    for h in (leaving, staying):
        actions.check_in(household=h, shelter=world.a, acting_user=world.personas.dan)
    as_user(client, world.mia)
    page = client.get("/shelters/A/").content.decode()
    assert '<dd id="occupied">5</dd>' in page

    response = client.post("/shelters/A/check-out/", {"household": str(leaving.uuid)}, follow=True)

    page = response.content.decode()
    assert "The household is checked out: 2 people." in page
    assert '<dd id="occupied">3</dd>' in page
    assert str(leaving.uuid) not in page
    assert Stay.objects.get(household=leaving).checked_out_at is not None
    assert AuditEvent.objects.get(action="shelter.check_out").user == world.mia
    # The chart and its table: the last 14 days, today with the 3 people staying now.
    assert page.count("<tr><td>20") == 14
    assert '<td class="num">3</td></tr></tbody>' in page
    # Checking out again: the household is no longer there.
    again = client.post("/shelters/A/check-out/", {"household": str(leaving.uuid)})
    assert again.status_code == 404
    assert client.post("/shelters/A/check-out/", {"household": "nonsense"}).status_code == 404


# --- allocation ----------------------------------------------------------------------------


def choices(page: str) -> dict[str, str]:
    """The household → shelter choices a page's form would post, as selected."""
    posted: dict[str, str] = {}
    for name, body in re.findall(r'<select name="(to-[^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        posted[name] = chosen.group(1) if chosen else ""
    return posted


def test_a_manager_proposes_edits_and_accepts_for_their_shelter(
    client: Client, world: World
) -> None:
    add_shelter(world.personas, "C", 5).managers.add(world.mia)
    three, four, five = (household(world.personas, n) for n in (3, 4, 5))
    as_user(client, world.mia)

    page = client.post(ALLOCATION, {"step": "propose"}).content.decode()

    for figure in (
        "households_placed",
        "households_waiting",
        "split_households",
        "over_capacity",
        "objective",
        "greedy_objective",
    ):
        assert f'data-figure="{figure}"' in page
    assert '<option value="B"' not in page  # not hers
    posted = choices(page)
    assert set(posted) == {f"to-{h.uuid}" for h in (three, four, five)}
    assert sorted(posted.values()) == ["", "A", "C"]  # 6 and 5 beds: two of the three fit
    heads = AuditEvent.objects.filter(user=world.mia, detail__via="shelter_allocation")
    assert heads.count() == 2  # the two placed; the one left waiting is not named
    assert not Stay.objects.exists()  # proposing writes nothing

    # She places the three in A and the five in C, leaving the four waiting.
    edited = {f"to-{three.uuid}": "A", f"to-{four.uuid}": "", f"to-{five.uuid}": "C"}
    checked = client.post(ALLOCATION, {"step": "review", **edited}).content.decode()
    assert "The allocation fits" in checked
    assert choices(checked)[f"to-{three.uuid}"] == "A"

    response = client.post(ALLOCATION, {"step": "accept", "proposal": "x", **edited})

    assert response.status_code == 302
    assert response["Location"] == LIST
    assert {s.household: s.shelter.code for s in Stay.objects.select_related("shelter")} == {
        three: "A",
        five: "C",
    }
    row = AuditEvent.objects.get(action="shelter.allocation.accept")
    assert (row.user, row.detail["households"], row.detail["persons"]) == (world.mia, 2, 8)
    assert AuditEvent.objects.filter(action="shelter.check_in", user=world.mia).count() == 2


def test_a_manager_cannot_allocate_to_another_shelter(client: Client, world: World) -> None:
    family = household(world.personas, 2)
    as_user(client, world.mia)

    response = client.post(ALLOCATION, {"step": "accept", f"to-{family.uuid}": "B"})

    assert response.status_code == 409
    assert "Nothing was applied" in response.content.decode()
    assert not Stay.objects.exists()
    assert not AuditEvent.objects.filter(action="shelter.allocation.accept").exists()


def test_accept_applies_nothing_when_a_check_in_meanwhile_took_the_beds(
    client: Client, world: World
) -> None:
    first, second = household(world.personas, 3), household(world.personas, 3)
    as_user(client, world.mia)
    page = client.post(ALLOCATION, {"step": "propose"}).content.decode()
    posted = choices(page)
    assert posted == {f"to-{first.uuid}": "A", f"to-{second.uuid}": "A"}
    # Meanwhile a walk-in family is checked into A at the door.
    walk_in = household(world.personas, 2)
    actions.check_in(household=walk_in, shelter=world.a, acting_user=world.personas.dan)

    response = client.post(ALLOCATION, {"step": "accept", **posted})

    assert response.status_code == 409
    text = response.content.decode()
    assert "Nothing was applied" in text
    assert "A would hold 6 people in 4 free beds" in text
    assert list(Stay.objects.values_list("household", flat=True)) == [walk_in.pk]
    assert not AuditEvent.objects.filter(action="shelter.allocation.accept").exists()
    assert 'data-figure="households_placed"' in text  # a new proposal for the beds free now


def test_accept_applies_nothing_when_a_household_was_housed_meanwhile(
    client: Client, world: World
) -> None:
    first, second = household(world.personas, 2), household(world.personas, 2)
    as_user(client, world.mia)
    posted = choices(client.post(ALLOCATION, {"step": "propose"}).content.decode())
    actions.check_in(household=second, shelter=world.b, acting_user=world.personas.dan)

    response = client.post(ALLOCATION, {"step": "accept", **posted})

    assert response.status_code == 409
    assert f"household {second.uuid} is not waiting" in response.content.decode()
    assert not Stay.objects.filter(household=first).exists()


def test_bad_allocation_posts_change_nothing(client: Client, world: World) -> None:
    household(world.personas, 2)
    as_user(client, world.mia)
    assert client.post(ALLOCATION, {"step": "nonsense"}).status_code == 400
    assert client.post(ALLOCATION, {"step": "accept", "to-nonsense": "A"}).status_code == 400
    nothing = client.post(ALLOCATION, {"step": "accept"})
    assert nothing.status_code == 409
    assert "nothing to accept" in nothing.content.decode()
    assert client.get(ALLOCATION).status_code == 200
    assert not Stay.objects.exists()


def test_a_coordinator_allocates_to_every_shelter(client: Client, world: World) -> None:
    big = household(world.personas, 8)
    as_user(client, world.personas.dan)
    posted = choices(client.post(ALLOCATION, {"step": "propose"}).content.decode())
    assert posted == {f"to-{big.uuid}": "B"}  # only B holds eight
    assert client.post(ALLOCATION, {"step": "accept", **posted}).status_code == 302
    assert Stay.objects.get().shelter == world.b


def test_a_manager_of_no_shelter_is_told_so(client: Client, world: World) -> None:
    world.a.managers.clear()
    household(world.personas, 2)
    as_user(client, world.mia)
    assert "You manage no shelter yet" in client.get(LIST).content.decode()
    page = client.post(ALLOCATION, {"step": "propose"}).content.decode()
    assert "No allocation can be proposed" in page


def test_a_manager_reads_no_names_of_households_left_waiting(client: Client, world: World) -> None:
    fits = household(world.personas, 3, given_name="Anahit")
    too_big = household(world.personas, 8, given_name="Vardges")  # only B (not hers) holds 8
    as_user(client, world.mia)

    page = client.post(ALLOCATION, {"step": "propose"}).content.decode()

    assert "Anahit" in page
    assert "Vardges" not in page
    assert f"household {str(too_big.uuid)[:8]}" in page
    read = AuditEvent.objects.filter(user=world.mia, detail__via="shelter_allocation")
    assert {str(event.object_uuid) for event in read} == {
        str(fits.members.get(relationship="head").uuid)
    }
