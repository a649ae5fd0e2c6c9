"""Goods at the distribution point (haven.assistance.distributions): in kind only, eligibility, the
minimum interval, the daily maximum and alternatives, counted by identity across sites, in
Yerevan's calendar; idempotent by client UUID; and two desks at once give one item."""

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.utils import timezone

from haven.assistance import actions, distributions
from haven.assistance.distributions import check, distribute
from haven.assistance.models import Distribution, Programme
from haven.core.errors import Conflict, InvalidInput
from haven.core.models import AuditEvent, Site, User
from haven.registry.actions import register_household
from haven.registry.models import Person
from haven.registry.schemas import HouseholdIn
from tests import factories
from tests.conftest import Personas
from tests.test_identity_decisions import Registry

YEREVAN = ZoneInfo("Asia/Yerevan")
Clock = Callable[..., None]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Set the time (Yerevan wall-clock): clock(2023, 10, 1, 10)."""

    def set_to(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> None:
        moment = datetime(year, month, day, hour, minute, tzinfo=YEREVAN)
        monkeypatch.setattr(timezone, "now", lambda: moment)

    set_to(2023, 10, 1, 10)
    return set_to


def in_kind(personas: Personas, **overrides: Any) -> Programme:
    data: dict[str, Any] = {
        "code": "food",
        "name": "Food parcels",
        "kind": "in_kind",
        "item": "food parcel",
        "amount": 1,
        "frequency": "once",
        "starts_on": "2023-10-01",
    }
    data.update(overrides)
    return actions.add_programme(data=actions.parse_programme(data), acting_user=personas.dan)


def person(personas: Personas, site: str = "KOR", size: int = 1, **overrides: Any) -> Person:
    household, _ = register_household(
        data=HouseholdIn.model_validate(factories.household(site, size=size, **overrides)),
        acting_user=personas.dan,
    )
    return household.members.get(relationship="head")


def give(
    programme: Programme, someone: Person, personas: Personas, site: Site | None = None
) -> Any:
    return distribute(
        programme=programme,
        person=someone,
        site=site or personas.kor,
        acting_user=personas.dan,
        uuid=uuid.uuid4(),
    )


def refused(programme: Programme, someone: Person, personas: Personas, rule: str) -> str:
    before = (Distribution.objects.count(), AuditEvent.objects.count())
    with pytest.raises(InvalidInput) as raised:
        give(programme, someone, personas)
    assert [e.field for e in raised.value.errors] == [rule]
    assert (Distribution.objects.count(), AuditEvent.objects.count()) == before
    message = raised.value.errors[0].message
    assert check(programme, someone) == [message]
    return message


def test_a_distribution_is_recorded_by_identity_with_its_audit_row(
    personas: Personas, clock: Clock
) -> None:
    food = in_kind(personas)
    hasmik = person(personas)
    assert check(food, hasmik) == []

    given = give(food, hasmik, personas, personas.goris)

    assert (given.identity, given.person, given.site, given.quantity) == (
        hasmik.identity,
        hasmik,
        personas.goris,
        1,
    )
    assert given.distributed_by == personas.dan
    event = AuditEvent.objects.get(action="assistance.distribute")
    assert (event.object_uuid, event.record_site) == (hasmik.uuid, personas.kor)
    assert event.detail["programme"] == "food"
    assert event.detail["at_site"] == "GORIS"


def test_cash_is_not_handed_out(personas: Personas, clock: Clock) -> None:
    grant = in_kind(personas, code="grant", kind="cash", item="", amount=100_000)
    message = refused(grant, person(personas), personas, "kind")
    assert "pays cash" in message


def test_nothing_before_the_programme_begins(personas: Personas, clock: Clock) -> None:
    later = in_kind(personas, starts_on="2023-10-15")
    assert "begins on 2023-10-15" in refused(later, person(personas), personas, "starts_on")
    clock(2023, 10, 15, 0, 5)
    give(later, person(personas, "GORIS"), personas)


def test_only_people_the_rules_include(personas: Personas, clock: Clock) -> None:
    baby_kits = in_kind(personas, code="baby", item="baby kit", age_max=2)
    adult = person(personas)  # born 1980
    assert "not eligible" in refused(baby_kits, adult, personas, "eligibility")
    baby = person(personas, members=[factories.member(birth_date="2022-12-01")])
    give(baby_kits, baby, personas)


def test_the_minimum_interval_in_yerevan_days(personas: Personas, clock: Clock) -> None:
    food = in_kind(personas, min_days_between=7)
    hasmik = person(personas)
    clock(2023, 10, 1, 23, 30)  # late on the 1st in Yerevan: 19:30 UTC
    give(food, hasmik, personas)

    clock(2023, 10, 7, 23, 59)
    message = refused(food, hasmik, personas, "min_days_between")
    assert "last given on 2023-10-01" in message
    assert "next from 2023-10-08" in message

    clock(2023, 10, 8, 0, 1)  # still the 7th in UTC
    give(food, hasmik, personas)


def test_the_daily_maximum(personas: Personas, clock: Clock) -> None:
    water = in_kind(personas, code="water", item="water bottle", max_per_day=2)
    hasmik = person(personas)
    give(water, hasmik, personas)
    give(water, hasmik, personas)
    message = refused(water, hasmik, personas, "max_per_day")
    assert "given 2 times today, the most a day is 2" in message
    assert "next from 2023-10-02" in message
    clock(2023, 10, 2, 0, 0)
    give(water, hasmik, personas)


def test_alternatives_one_per_interval_naming_the_other_item(
    personas: Personas, clock: Clock
) -> None:
    blanket = in_kind(
        personas, code="blanket", item="blanket", exclusive_group="bedding", min_days_between=30
    )
    sleeping_bag = in_kind(
        personas, code="bag", item="sleeping bag", exclusive_group="bedding", min_days_between=7
    )
    soap = in_kind(personas, code="soap", item="soap")
    hasmik = person(personas)
    give(blanket, hasmik, personas)
    give(soap, hasmik, personas)  # another group: no bearing

    clock(2023, 10, 5, 12)
    message = refused(sleeping_bag, hasmik, personas, "exclusive_group")
    assert "blanket was given on 2023-10-01" in message
    # The group's interval: the largest of its programmes' (30 days), whichever is asked for.
    assert "next from 2023-10-31" in message
    clock(2023, 10, 30, 23, 59)
    refused(sleeping_bag, hasmik, personas, "exclusive_group")
    clock(2023, 10, 31, 9)
    give(sleeping_bag, hasmik, personas)


@pytest.mark.parametrize("first", ["blanket", "bag"])
def test_alternatives_do_not_depend_on_the_order_they_are_asked_for(
    personas: Personas, clock: Clock, first: str
) -> None:
    blanket = in_kind(
        personas, code="blanket", item="blanket", exclusive_group="warm", min_days_between=30
    )
    sleeping_bag = in_kind(personas, code="bag", item="sleeping bag", exclusive_group="warm")
    given, asked = (blanket, sleeping_bag) if first == "blanket" else (sleeping_bag, blanket)
    hasmik = person(personas)
    give(given, hasmik, personas)

    clock(2023, 10, 3, 12)  # two days later
    message = refused(asked, hasmik, personas, "exclusive_group")
    assert f"{given.item} was given on 2023-10-01" in message
    assert "next from 2023-10-31" in message
    clock(2023, 10, 31, 9)
    give(asked, hasmik, personas)


def test_alternatives_without_an_interval_are_one_a_day(personas: Personas, clock: Clock) -> None:
    tea = in_kind(personas, code="tea", item="hot tea", exclusive_group="drink")
    coffee = in_kind(personas, code="coffee", item="coffee", exclusive_group="drink")
    hasmik = person(personas)
    give(tea, hasmik, personas)
    give(tea, hasmik, personas)  # no limit on tea itself
    assert "hot tea was given on 2023-10-01" in refused(coffee, hasmik, personas, "exclusive_group")
    clock(2023, 10, 2, 8)
    give(coffee, hasmik, personas)


def test_a_household_item_counts_its_members(personas: Personas, clock: Clock) -> None:
    kits = in_kind(personas, code="kits", item="hygiene kit", unit="household", amount=2)
    head = person(personas, size=4)
    assert give(kits, head, personas).quantity == 8


def test_a_household_item_is_the_households_once_whichever_member_comes(
    personas: Personas, clock: Clock
) -> None:
    kits = in_kind(
        personas,
        code="kits",
        item="hygiene kit",
        unit="household",
        min_days_between=30,
        max_per_day=1,
    )
    head = person(personas, size=3)
    members = list(Person.objects.filter(household=head.household).order_by("pk"))
    other = person(personas, size=2)  # another household: no bearing
    assert give(kits, members[1], personas).quantity == 3

    for member in members:
        reasons = check(kits, member)
        assert len(reasons) == 2
        assert "last given to this household on 2023-10-01" in reasons[0]
        assert "given 1 time to this household today" in reasons[1]
    with pytest.raises(InvalidInput) as raised:
        give(kits, head, personas, personas.goris)
    assert [e.field for e in raised.value.errors] == ["min_days_between", "max_per_day"]
    assert give(kits, other, personas).quantity == 2

    clock(2023, 10, 31, 9)
    give(kits, members[2], personas)
    assert Distribution.objects.filter(person__household=head.household).count() == 2


def test_a_household_item_counts_alternatives_of_any_member(
    personas: Personas, clock: Clock
) -> None:
    tents = in_kind(personas, code="tent", item="tent", unit="household", exclusive_group="shelter")
    tarps = in_kind(
        personas,
        code="tarp",
        item="tarpaulin",
        unit="household",
        exclusive_group="shelter",
        min_days_between=14,
    )
    head = person(personas, size=2)
    member = Person.objects.filter(household=head.household).exclude(pk=head.pk).get()
    give(tents, head, personas)
    message = refused(tarps, member, personas, "exclusive_group")
    assert "tent was given to this household on 2023-10-01 instead" in message
    assert "next from 2023-10-15" in message


def test_a_household_registered_twice_with_its_heads_linked_has_its_share_once(
    personas: Personas, clock: Clock
) -> None:
    kits = in_kind(personas, code="kits", item="hygiene kit", unit="household", max_per_day=1)
    at_kornidzor = person(personas, size=2)
    at_goris = person(personas, "GORIS", size=2)
    member_at_goris = (
        Person.objects.filter(household=at_goris.household).exclude(pk=at_goris.pk).get()
    )
    give(kits, at_kornidzor, personas)
    assert check(kits, member_at_goris) == []  # not yet known to be one household

    # The heads linked as one person (what haven.identity does when it links them).
    Person.objects.filter(pk=at_goris.pk).update(identity=at_kornidzor.identity)
    assert "given 1 time to this household today" in refused(
        kits, member_at_goris, personas, "max_per_day"
    )
    # The other members' own identities are untouched: a per-person item is still theirs.
    water = in_kind(personas, code="water", item="water bottle", max_per_day=1)
    give(water, at_kornidzor, personas)
    give(water, member_at_goris, personas)


def test_linked_records_at_two_sites_are_one_person(
    personas: Personas, clock: Clock, settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    registry = Registry(personas)  # a (Kornidzor), b (Goris), c (Vayk): one woman
    food = in_kind(personas, min_days_between=7, max_per_day=1)
    unlinked = registry.people["b"]
    give(food, registry.people["a"], personas, personas.kor)
    give(food, unlinked, personas, personas.goris)  # not yet known to be her: given

    registry.link_automatically("abc")
    for label in "abc":
        someone = Person.objects.get(pk=registry.people[label].pk)
        reasons = check(food, someone)
        assert len(reasons) == 2
        assert "last given on 2023-10-01" in reasons[0]
        # Both handings-out count, the one to the record not yet linked then included.
        assert "given 2 times today" in reasons[1]
        with pytest.raises(InvalidInput):
            give(food, someone, personas, personas.vayk)
    assert set(Distribution.objects.values_list("identity", flat=True)) == {
        registry.people["a"].uuid,
        registry.people["b"].uuid,
    }


def test_a_retry_returns_the_first_and_another_payload_is_a_conflict(
    personas: Personas, clock: Clock
) -> None:
    food = in_kind(personas, max_per_day=1)
    hasmik, aram = person(personas), person(personas, "GORIS")
    key = uuid.uuid4()
    first = distribute(programme=food, person=hasmik, site=personas.kor, acting_user=None, uuid=key)
    again = distribute(programme=food, person=hasmik, site=personas.kor, acting_user=None, uuid=key)
    assert again.pk == first.pk
    with pytest.raises(Conflict, match="different details"):
        distribute(programme=food, person=aram, site=personas.kor, acting_user=None, uuid=key)
    assert Distribution.objects.count() == 1
    assert AuditEvent.objects.filter(action="assistance.distribute").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_desks_at_the_same_moment_give_one_item(
    personas: Personas, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite takes its write lock at BEGIN")
    food = in_kind(personas, max_per_day=1)
    hasmik = person(personas)
    desks = [personas.kor, personas.goris]
    user = User.objects.get(pk=personas.dan.pk)

    # Each desk reads the rules slowly: without the lock, both would find nothing given yet.
    checked = distributions._refusals

    def slow(*args: Any) -> Any:
        found = checked(*args)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(distributions, "_refusals", slow)
    start = threading.Barrier(len(desks))
    outcomes: list[str] = []

    def desk(site: Site) -> None:
        try:
            start.wait()
            distribute(
                programme=food, person=hasmik, site=site, acting_user=user, uuid=uuid.uuid4()
            )
            outcomes.append("given")
        except InvalidInput as refused_here:
            outcomes.append(refused_here.errors[0].field)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=desk, args=(site,)) for site in desks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["given", "max_per_day"]
    assert Distribution.objects.count() == 1
