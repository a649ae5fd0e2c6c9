"""The influx simulator: realistic statistics, valid payloads, determinism, truth, curve, DB."""

import csv
import io
import json
import random
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from haven.core.models import AuditEvent, User
from haven.names import detect_script, name_problem
from haven.registry.models import CrossingCount, Household, Person
from haven.registry.schemas import CrossingCountIn, HouseholdIn
from haven.simulate import names
from haven.simulate.curve import (
    ARMENIA,
    DEFAULT_CURVE_FILE,
    CurveError,
    default_curve,
    default_curve_points,
    read_curve,
)
from haven.simulate.influx import Influx, simulate_influx
from tests.conftest import Personas

PEOPLE = 6000


@pytest.fixture(scope="module")
def influx() -> Influx:
    return simulate_influx(people=PEOPLE, seed=7)


def _age(member: dict[str, Any], registered: date) -> int:
    if member.get("birth_date") is None:
        return int(member["estimated_age"])
    parts = [int(p) for p in member["birth_date"].split("-")]
    year, month, day = (
        parts[0],
        parts[1] if len(parts) > 1 else 7,
        parts[2] if len(parts) > 2 else 1,
    )
    return registered.year - year - ((registered.month, registered.day) < (month, day))


def test_population_looks_like_the_2023_arrivals(influx: Influx) -> None:
    firsts = [r for r in influx.registrations if not r.duplicate]
    sizes = [len(r.payload["members"]) for r in firsts]
    assert sum(sizes) == PEOPLE
    assert 3.6 <= sum(sizes) / len(sizes) <= 4.4
    assert Counter(sizes)[1] > 0
    assert max(sizes) >= 8
    ages = [
        _age(m, datetime.fromisoformat(r.payload["registered_at"]).date())
        for r in firsts
        for m in r.payload["members"]
    ]
    under_18 = sum(a < 18 for a in ages) / len(ages)
    over_65 = sum(a >= 65 for a in ages) / len(ages)
    assert 0.27 <= under_18 <= 0.35, under_18
    assert 0.14 <= over_65 <= 0.22, over_65


def test_relationships_are_consistent_with_ages(influx: Influx) -> None:
    for registration in influx.registrations:
        if registration.duplicate:
            continue
        members = registration.payload["members"]
        on = datetime.fromisoformat(registration.payload["registered_at"]).date()
        head = next(m for m in members if m["relationship"] == "head")
        for member in members:
            if member["relationship"] == "parent":
                assert _age(member, on) >= _age(head, on) + 15
            if member["relationship"] == "grandchild":
                assert _age(member, on) + 30 <= _age(head, on)


def test_every_household_passes_validation(influx: Influx) -> None:
    assert len(influx.registrations) > 1500
    for registration in influx.registrations:
        household = HouseholdIn.model_validate(registration.payload)
        assert str(household.uuid) == registration.payload["uuid"]
        assert registration.payload["registered_at"].endswith("+04:00")


def test_names_come_in_every_script_with_some_typos(influx: Influx) -> None:
    members = [m for r in influx.registrations for m in r.payload["members"]]
    scripts = Counter(detect_script(m["family_name"]).value for m in members)
    for script in ("armenian", "latin", "cyrillic"):
        assert scripts[script] / len(members) > 0.15, scripts
    # Households are usually typed in one script.
    single = sum(
        len({detect_script(m["family_name"]) for m in r.payload["members"]}) == 1
        for r in influx.registrations
    )
    assert single / len(influx.registrations) > 0.85
    # Patronymics in the Russian form, and in the Armenian genitive.
    patronymics = [m["patronymic"] for m in members if m["patronymic"]]
    assert any(p.endswith(("ович", "овна")) for p in patronymics)
    assert any(p.endswith("ի") for p in patronymics)
    # A long tail of surnames, not only the 53 of the reference list.
    armenian = {m["family_name"] for m in members if detect_script(m["family_name"]) == "armenian"}
    assert len(armenian) > 500
    # Birth dates in every precision.
    kinds = Counter(
        "age" if m.get("birth_date") is None else len(m["birth_date"].split("-")) for m in members
    )
    assert set(kinds) == {"age", 1, 2, 3}
    assert kinds[3] / len(members) > 0.5
    assert any(m["phone"].startswith("+374") for m in members)
    assert any(m["documents"] for m in members)
    assert any(m["specific_needs"] for m in members)
    assert any(m["disability"] for m in members)


def test_older_people_have_more_difficulties(influx: Influx) -> None:
    share: dict[str, list[int]] = defaultdict(list)
    for registration in influx.registrations:
        on = datetime.fromisoformat(registration.payload["registered_at"]).date()
        for member in registration.payload["members"]:
            if not member["disability"]:
                continue
            band = "older" if _age(member, on) >= 65 else "younger"
            share[band].append(int(max(member["disability"].values()) >= 2))
    assert sum(share["older"]) / len(share["older"]) > 2 * (
        sum(share["younger"]) / len(share["younger"])
    )


def test_surname_list_has_thousands_of_names() -> None:
    surnames, weights = names.surnames()
    assert len(surnames) > 2000
    assert len({s.armenian for s in surnames}) == len(surnames)
    for surname in surnames:
        for form in (surname.armenian, *surname.latin, *surname.russian):
            assert name_problem(form) is None, form
    assert weights[0] == max(weights)


def test_patronymic_forms() -> None:
    mher = names.GivenName("Մհեր", ("Mher",), ("Мгер",), "M", 1.0, 1.0)
    rng = random.Random(1)  # noqa: S311 - a seeded generator, as the simulator uses
    assert names.patronymic(mher, names.Rendering.ARMENIAN, sex="M", rng=rng) == "Մհերի"
    assert names.patronymic(mher, names.Rendering.PASSPORT, sex="F", rng=rng) == "Mheri"
    assert names.patronymic(mher, names.Rendering.RUSSIAN, sex="M", rng=rng) == "Мгерович"
    assert names.patronymic(mher, names.Rendering.RUSSIAN, sex="F", rng=rng) == "Мгеровна"


def test_typos_stay_valid_names() -> None:
    rng = random.Random(3)  # noqa: S311 - a seeded generator, as the simulator uses
    for word in ("Hovhannisyan", "Арутюнян", "Հարությունյան", "Ter-Grigoryan"):
        variants = {names.typo(word, rng) for _ in range(50)}
        assert len(variants) > 5
        for variant in variants:
            assert name_problem(variant) is None
            assert variant[0] == word[0]


def test_duplicates_are_at_another_site_and_only_in_the_truth(influx: Influx) -> None:
    records = list(influx.truth_rows())
    assert len(records) == PEOPLE + influx.duplicate_records
    assert abs(influx.duplicate_records - 0.03 * PEOPLE) <= 15
    sites_of: dict[int, list[str]] = defaultdict(list)
    for registration in influx.registrations:
        for _, true_id in registration.truth:
            sites_of[true_id].append(registration.site)
    twice = {k: v for k, v in sites_of.items() if len(v) == 2}
    assert len(twice) == influx.duplicate_records
    assert all(v[0] != v[1] for v in twice.values())
    assert max(len(v) for v in sites_of.values()) == 2


def test_crossing_counts_add_up_to_the_people(influx: Influx) -> None:
    people = sum(c.payload["people"] for c in influx.crossings)
    vehicles = sum(c.payload["vehicles"] for c in influx.crossings)
    assert people == PEOPLE
    assert vehicles == round(PEOPLE / 4.8)
    for hour in influx.crossings:
        CrossingCountIn.model_validate(hour.payload)
    # The peak is on 27–28 September, Armenia time.
    peak = max(influx.crossings, key=lambda c: c.payload["people"])
    assert peak.payload["period_start"][:10] in {"2023-09-26", "2023-09-27", "2023-09-28"}


def test_registration_follows_arrival_with_a_backlog(influx: Influx) -> None:
    for registration in influx.registrations:
        assert registration.registered_at >= registration.arrival
    assert 0.15 * PEOPLE <= influx.max_backlog <= 0.3 * PEOPLE


def test_default_curve_passes_through_the_public_figure() -> None:
    with DEFAULT_CURVE_FILE.open(encoding="utf-8") as f:
        rows = {row["datetime_local"]: int(row["cumulative_arrivals"]) for row in csv.DictReader(f)}
    assert rows["2023-09-26T08:00"] == 13_550
    curve = default_curve()
    assert curve.at(datetime.fromisoformat("2023-09-26T08:00+04:00")) == 13_550
    assert 99_000 <= curve.total <= 101_000
    assert curve.times[0].date() == date(2023, 9, 24)
    assert curve.times[-1] <= datetime(2023, 10, 4, 0, 0, tzinfo=ARMENIA)
    # The shipped file is exactly what the anchors produce.
    assert [(t.strftime("%Y-%m-%dT%H:%M"), c) for t, c in default_curve_points()] == list(
        rows.items()
    )
    # Slow first day, peak on the 27th–28th.
    daily = {
        day: curve.at(datetime(2023, 9, day + 1, tzinfo=ARMENIA))
        - curve.at(datetime(2023, 9, day, tzinfo=ARMENIA))
        for day in range(24, 30)
    }
    assert max(daily, key=lambda d: daily[d]) in {27, 28}
    assert daily[24] < 1000


def test_a_curve_from_a_file_is_scaled_and_followed(tmp_path: Path) -> None:
    path = tmp_path / "curve.csv"
    path.write_text(
        "datetime_local,cumulative_arrivals\n"
        "2023-09-25T10:00,0\n"
        "2023-09-25T12:00+04:00,5000\n"
        "2023-09-25T14:00,10000\n",
        encoding="utf-8",
    )
    curve = read_curve(path)
    influx = simulate_influx(people=400, seed=1, curve=curve, duplicate_share=0)
    start = datetime(2023, 9, 25, 10, tzinfo=ARMENIA)
    end = datetime(2023, 9, 25, 14, tzinfo=ARMENIA)
    assert all(start <= r.arrival <= end for r in influx.registrations)
    assert sum(c.payload["people"] for c in influx.crossings) == 400
    assert len(influx.crossings) == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("when,count\n2023-09-25T10:00,0\n", "header"),
        ("datetime_local,cumulative_arrivals\n2023-09-25T10:00,0\nsoon,5\n", "line 3"),
        ("datetime_local,cumulative_arrivals\n2023-09-25T10:00,9\n2023-09-25T11:00,5\n", "falls"),
        ("datetime_local,cumulative_arrivals\n2023-09-25T10:00,0\n2023-09-25T10:00,5\n", "after"),
        ("datetime_local,cumulative_arrivals\n2023-09-25T10:00,x\n", "not a number"),
    ],
)
def test_a_bad_curve_file_is_refused_clearly(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "curve.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CurveError, match=message):
        read_curve(path)
    with pytest.raises(CommandError, match="--curve"):
        call_command("simulate", people=10, curve=path, no_db=True, stdout=io.StringIO())


def _run_no_db(tmp_path: Path, name: str, seed: int) -> tuple[bytes, bytes]:
    out, truth = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.csv"
    call_command(
        "simulate", people=700, seed=seed, out=out, truth=truth, no_db=True, stdout=io.StringIO()
    )
    return out.read_bytes(), truth.read_bytes()


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = _run_no_db(tmp_path, "a", 11)
    second = _run_no_db(tmp_path, "b", 11)
    other = _run_no_db(tmp_path, "c", 12)
    assert first == second
    assert first[0] != other[0]
    lines = first[0].decode("utf-8").splitlines()
    households = [json.loads(line) for line in lines]
    for household in households:
        HouseholdIn.model_validate(household)
    truth = list(csv.DictReader(io.StringIO(first[1].decode("utf-8"))))
    assert list(truth[0]) == ["person_uuid", "true_person_id"]
    member_uuids = {m["uuid"] for h in households for m in h["members"]}
    assert {row["person_uuid"] for row in truth} == member_uuids


@pytest.mark.django_db(transaction=True)
def test_simulate_into_the_database(tmp_path: Path) -> None:
    out = io.StringIO()
    truth = tmp_path / "truth.csv"
    call_command("simulate", people=300, seed=5, truth=truth, stdout=out)
    rows = list(csv.DictReader(truth.open(encoding="utf-8")))
    households = Household.objects.count()
    assert Person.objects.count() == len(rows) >= 300
    assert set(map(str, Person.objects.values_list("uuid", flat=True))) == {
        r["person_uuid"] for r in rows
    }
    assert AuditEvent.objects.filter(action="household.register").count() == households
    assert (
        AuditEvent.objects.filter(action="crossing.record").count() == CrossingCount.objects.count()
    )
    assert sum(CrossingCount.objects.values_list("people", flat=True)) == 300
    simulator = User.objects.get(username="simulator")
    assert simulator.role == User.Role.COORDINATOR
    assert not simulator.has_usable_password()
    assert Household.objects.filter(registered_by=simulator).count() == households
    assert Household.objects.values("site").distinct().count() >= 4
    assert "persons/s" in out.getvalue()
    # Nothing about the truth is stored: no person holds a true id anywhere.
    true_ids = {r["true_person_id"] for r in rows}
    assert not AuditEvent.objects.filter(detail__icontains="true_person").exists()
    assert len(true_ids) < len(rows)  # there are duplicates, known only to the file
    # Running it again registers nothing twice.
    again = io.StringIO()
    call_command("simulate", people=300, seed=5, stdout=again)
    assert Household.objects.count() == households
    assert "exists" in again.getvalue()


def test_simulate_refuses_a_registrar_who_cannot_write_everywhere(personas: Personas) -> None:
    with pytest.raises(CommandError, match="may not register people at"):
        call_command("simulate", people=50, as_user="alice", stdout=io.StringIO())
    assert Household.objects.count() == 0


def test_simulate_refuses_bad_arguments(db: None) -> None:
    with pytest.raises(CommandError, match="--people"):
        call_command("simulate", people=0, stdout=io.StringIO())
    with pytest.raises(CommandError, match="--duplicate-share"):
        call_command("simulate", people=10, duplicate_share=0.9, stdout=io.StringIO())
    assert Household.objects.count() == 0
