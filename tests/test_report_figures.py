"""The situation at any moment (haven.reports.figures), checked against counts made here.

A small influx is registered through the registry's actions; each test keeps its own ledger of
what it registered and counts from that, in Python, what the figures must say at several past
moments. Runs on SQLite and PostgreSQL like the rest of the suite.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from haven.core.models import Site
from haven.identity import batch
from haven.identity.models import LinkageRun
from haven.registry import tallies
from haven.registry.actions import correct_person, record_crossing_count, register_household
from haven.registry.models import FigureTally, Household, Person
from haven.registry.schemas import CrossingCountIn, HouseholdIn
from haven.registry.tallies import BANDS
from haven.reports import figures
from haven.reports.exports import partner_situation
from haven.reports.figures import situation_at, timeline
from haven.reports.sitrep import build_report
from haven.shelter import actions as shelter_actions
from haven.shelter.models import Shelter
from tests import factories
from tests.conftest import Personas

YEREVAN = factories.YEREVAN
STARTER = Path(__file__).resolve().parent.parent / "haven/identity/data/starter_model.json"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2023, 9, day, hour, minute, tzinfo=YEREVAN)


@dataclass
class Record:
    pk: int
    label: str  # records with the same label are one person (once linked)
    site: str
    registered_at: datetime
    sex: str
    birth: tuple[int, int | None, int | None]
    needs: set[str]
    origin: str


@dataclass
class World:
    personas: Personas
    records: list[Record] = field(default_factory=list)
    crossings: list[tuple[str, datetime, datetime, int]] = field(default_factory=list)
    households: list[tuple[str, datetime]] = field(default_factory=list)
    linked: bool = False

    def register(
        self, site: str, when: datetime, members: list[dict[str, Any]], origin: str = ""
    ) -> list[Person]:
        payload = factories.household(
            site,
            registered_at=when.isoformat(),
            origin_settlement=origin,
            members=[
                factories.member(
                    **{k: v for k, v in m.items() if k != "label"},
                    relationship="head" if i == 0 else "other",
                )
                for i, m in enumerate(members)
            ],
        )
        household, _ = register_household(
            data=HouseholdIn.model_validate(payload), acting_user=self.personas.dan
        )
        persons = list(household.members.order_by("pk"))
        self.households.append((site, when))
        for person, member in zip(persons, members, strict=True):
            self.records.append(
                Record(
                    pk=person.pk,
                    label=member.get("label") or str(person.uuid),
                    site=site,
                    registered_at=when,
                    sex=person.sex,
                    birth=(person.birth_year, person.birth_month, person.birth_day),
                    needs=set(person.specific_needs),
                    origin=origin,
                )
            )
        return persons

    def cross(self, site: str, start: datetime, end: datetime, people: int) -> None:
        payload = factories.crossing(
            site,
            period_start=start.isoformat(),
            period_end=end.isoformat(),
            people=people,
            vehicles=None,
        )
        record_crossing_count(
            data=CrossingCountIn.model_validate(payload), acting_user=self.personas.dan
        )
        self.crossings.append((site, start, end, people))

    def link_same_labels(self) -> None:
        """What a batch run does when it finds the records of one person."""
        starter = json.loads(STARTER.read_text(encoding="utf-8"))
        model = batch.save_model(starter, records=0, labels=0, user=None)
        run = LinkageRun.objects.create(started_at=timezone.now(), model=model)
        groups: dict[str, list[int]] = {}
        for record in self.records:
            groups.setdefault(record.label, []).append(record.pk)
        batch._link_clusters([g for g in groups.values() if len(g) > 1], run=run, user=None)
        self.linked = True

    # --- counted here, independently of the SQL ---------------------------------------------

    def crossed(self, moment: datetime) -> float:
        total = 0.0
        for _, start, end, people in self.crossings:
            if end <= moment:
                total += people
            elif start < moment:
                total += people * (moment - start).total_seconds() / (end - start).total_seconds()
        return total

    def counted(self, moment: datetime) -> list[Record]:
        return [r for r in self.records if r.registered_at <= moment]

    def firsts(self, moment: datetime) -> list[Record]:
        """One record per person: the lowest id registered by the moment."""
        seen: dict[str, Record] = {}
        for record in sorted(self.counted(moment), key=lambda r: r.pk):
            key = record.label if self.linked else str(record.pk)
            seen.setdefault(key, record)
        return list(seen.values())

    def needs(self, moment: datetime) -> dict[str, tuple[int, int]]:
        by_person: dict[str, set[str]] = {}
        first: dict[str, Record] = {}
        for record in sorted(self.counted(moment), key=lambda r: r.pk):
            key = record.label if self.linked else str(record.pk)
            by_person.setdefault(key, set()).update(record.needs)
            first.setdefault(key, record)
        result: dict[str, list[int]] = {}
        for key, codes in by_person.items():
            for code in codes:
                counts = result.setdefault(code, [0, 0])
                counts[0 if first[key].sex == "F" else 1] += 1
        return {code: (f, m) for code, (f, m) in result.items()}


def age_on(birth: tuple[int, int | None, int | None], on: date) -> int:
    year, month, day = birth
    return on.year - year - ((on.month, on.day) < (month or 1, day or 1))


def band_of(age: int) -> str:
    return BANDS[min(max(age, 0), 80) // 5]


@pytest.fixture
def world(personas: Personas, settings: Any, tmp_path: Path) -> World:
    settings.VAR_DIR = tmp_path
    figures.clear_cache()
    return World(personas)


def _influx(world: World) -> None:
    """Crossings every hour at KOR on 25–26 Sep; households at three sites; one woman
    registered twice (at KOR, then at VAYK with a need); a child whose birthday falls on 27 Sep."""
    for hour in range(8, 20):
        world.cross("KOR", at(25, hour), at(25, hour + 1), 100 + hour)
    world.cross("KOR", at(26, 8), at(26, 10), 240)  # a two-hour period
    world.register(
        "KOR",
        at(25, 9, 30),
        [
            {"label": "hasmik", "sex": "F", "birth_date": "1980-05-17"},
            {"sex": "M", "birth_date": "1978", "given_name": "Aram"},
            {"sex": "F", "birth_date": "2013-09-27", "given_name": "Ani"},
        ],
        origin="Ստեփանակերտ",
    )
    world.register(
        "GORIS",
        at(25, 23, 30),  # 19:30 UTC: still the 25th in Armenia
        [
            {"sex": "M", "estimated_age": 70, "birth_date": None, "specific_needs": ["ER-NF"]},
            {"sex": "F", "birth_date": "2021-02", "specific_needs": ["SM-CI", "DS-PM"]},
        ],
        origin="Stepanakert",
    )
    world.register(
        "VAYK",
        at(26, 9, 15),
        [
            {
                "label": "hasmik",
                "sex": "F",
                "birth_date": "1980-05-17",
                "given_name": "Hasmik",
                "family_name": "Harutyunyan",
                "specific_needs": ["WR-WR"],
            },
            {"sex": "M", "birth_date": "1950-12-31", "given_name": "Vardan"},
        ],
        origin="Martakert",
    )
    world.register("GORIS", at(27, 12), [{"sex": "F", "birth_date": "1999"}])  # no origin
    world.link_same_labels()


def crowded_influx(world: World) -> World:
    """The influx with a larger crowd at Kornidzor, so that not every cell is small (the partner
    outputs' tests)."""
    _influx(world)
    world.register(
        "KOR",
        at(26, 11),
        [{"sex": "F" if i % 2 else "M", "birth_date": f"{1970 + i % 3}"} for i in range(24)],
        origin="Stepanakert",
    )
    return world


MOMENTS = [at(25, 9), at(25, 12, 40), at(26, 0), at(26, 9), at(26, 9, 30), at(28, 0)]


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.strftime("%d-%H%M"))
def test_the_headline_figures_at_past_moments(world: World, moment: datetime) -> None:
    _influx(world)
    situation = situation_at(moment)
    crossed = round(world.crossed(moment))
    firsts = world.firsts(moment)
    assert situation.as_of == moment
    assert situation.time_zone == "Asia/Yerevan"
    assert situation.crossings == crossed
    assert situation.registrations == len(world.counted(moment))
    assert situation.unique_people == len(firsts)
    assert situation.households == sum(1 for _, when in world.households if when <= moment)
    assert situation.backlog == max(0, crossed - len(firsts))
    assert situation.housed is None
    assert situation.paid is None

    on = moment.date()
    for row in situation.pyramid:
        assert row.female == sum(
            1 for r in firsts if r.sex == "F" and band_of(age_on(r.birth, on)) == row.band
        ), row
        assert row.male == sum(
            1 for r in firsts if r.sex == "M" and band_of(age_on(r.birth, on)) == row.band
        ), row
    expected_needs = world.needs(moment)
    assert {n.code: (n.female, n.male) for n in situation.needs} == expected_needs
    assert all(n.persons == n.female + n.male for n in situation.needs)

    provinces = {"KOR": "Syunik", "GORIS": "Syunik", "VAYK": "Vayots Dzor"}
    expected_provinces: dict[str, int] = {}
    for record in firsts:
        name = provinces[record.site]
        expected_provinces[name] = expected_provinces.get(name, 0) + 1
    assert {p.name: p.persons for p in situation.host_provinces} == expected_provinces
    assert sum(c.persons for c in situation.population) == len(firsts)
    assert situation.as_dict()["unique_people"] == len(firsts)
    json.dumps(situation.as_dict())  # plain JSON types only


def test_one_person_registered_twice_counts_once(world: World) -> None:
    _influx(world)
    after_both = situation_at(at(26, 12))
    assert after_both.registrations == 7
    assert after_both.unique_people == 6
    # Hasmik counts once in the pyramid (her first record, 43 on 26 Sep), at her first
    # record's province, and her need from the second record is hers.
    forty = next(r for r in after_both.pyramid if r.band == "40-44")
    assert forty.female == 1
    assert {p.name: p.persons for p in after_both.host_provinces} == {
        "Syunik": 5,
        "Vayots Dzor": 1,
    }
    assert {n.code: n.persons for n in after_both.needs}["WR-WR"] == 1
    # Before her second registration she is one record anyway; the need is not known yet.
    before = situation_at(at(26, 9))
    assert before.registrations == before.unique_people == 5
    assert "WR-WR" not in {n.code for n in before.needs}


def test_unlinked_duplicates_count_twice_until_linked(world: World) -> None:
    world.register("KOR", at(25, 10), [{"sex": "F", "birth_date": "1990", "label": "x"}])
    world.register("GORIS", at(25, 11), [{"sex": "F", "birth_date": "1990", "label": "x"}])
    assert situation_at(at(25, 12)).unique_people == 2
    world.link_same_labels()
    # A link made now changes the past figure too: identity knowledge is as of now.
    linked = situation_at(at(25, 12))
    assert linked.unique_people == 1
    assert linked.registrations == 2
    assert sum(r.female for r in linked.pyramid) == 1


def test_a_later_first_record_does_not_hide_an_earlier_registration(world: World) -> None:
    """Records are registered out of id order (an import of an earlier day): the person counts
    from their earliest registration, represented by whichever record was registered by then."""
    world.register("VAYK", at(26, 10), [{"sex": "M", "birth_date": "1960", "label": "late"}])
    world.register("KOR", at(25, 10), [{"sex": "M", "birth_date": "1961", "label": "late"}])
    world.link_same_labels()
    early = situation_at(at(25, 12))
    assert (early.registrations, early.unique_people) == (1, 1)
    assert {p.name for p in early.host_provinces} == {"Syunik"}
    assert next(r for r in early.pyramid if r.band == "60-64").male == 1
    both = situation_at(at(26, 12))
    assert (both.registrations, both.unique_people) == (2, 1)
    assert {p.name for p in both.host_provinces} == {"Vayots Dzor"}  # the lower id now


def test_a_period_straddling_the_moment_counts_in_proportion(world: World) -> None:
    world.cross("KOR", at(26, 10), at(26, 11), 400)
    quarter = situation_at(at(26, 10, 15))
    assert quarter.crossings == 100
    assert [(b.start, b.count) for b in quarter.arrivals_hourly] == [(at(26, 10), 100)]
    assert situation_at(at(26, 10)).crossings == 0
    assert situation_at(at(26, 11)).crossings == 400
    # A two-hour period is split across its hours, and across days at midnight.
    world.cross("GORIS", at(26, 23), at(27, 1), 60)
    split = situation_at(at(27, 6))
    goris = [(b.start, b.count) for b in split.arrivals_hourly if b.site == "GORIS"]
    assert goris == [(at(26, 23), 30), (at(27, 0), 30)]
    daily = {(b.site, b.start): b.count for b in split.arrivals_daily}
    assert daily[("GORIS", at(26, 0))] == 30
    assert daily[("GORIS", at(27, 0))] == 30
    assert daily[("KOR", at(26, 0))] == 400


def test_hours_and_days_are_armenian(world: World) -> None:
    _influx(world)
    situation = situation_at(at(26, 12))
    hourly = {(b.site, b.start): b.count for b in situation.registrations_hourly}
    daily = {(b.site, b.start): b.count for b in situation.registrations_daily}
    assert hourly[("GORIS", at(25, 23))] == 2
    assert daily[("GORIS", at(25, 0))] == 2  # 19:30 UTC on the 25th, 23:30 in Yerevan
    assert daily[("KOR", at(25, 0))] == 3
    assert daily[("VAYK", at(26, 0))] == 2
    assert sum(daily.values()) == situation.registrations
    assert all(b.start.tzinfo is not None for b in situation.registrations_hourly)
    assert {b.start.utcoffset() for b in situation.registrations_daily} == {timedelta(hours=4)}


def test_ages_are_taken_on_the_day_of_the_moment(world: World) -> None:
    world.register("KOR", at(25, 10), [{"sex": "F", "birth_date": "2013-09-27"}])
    world.register("KOR", at(25, 10), [{"sex": "M", "estimated_age": 4, "birth_date": None}])

    def bands(moment: datetime) -> dict[str, tuple[int, int]]:
        return {
            r.band: (r.female, r.male) for r in situation_at(moment).pyramid if r.female + r.male
        }

    assert bands(at(26, 23, 59)) == {"5-9": (1, 0), "0-4": (0, 1)}  # 9, and 4 as estimated
    assert bands(at(27, 0)) == {"10-14": (1, 0), "0-4": (0, 1)}  # her tenth birthday


def test_origins_join_spellings_of_one_place(world: World) -> None:
    _influx(world)
    situation = situation_at(at(28, 0), top_origins=1)
    assert [(p.name, p.persons) for p in situation.origins] == [("Stepanakert", 5)]
    assert situation.origins_other == 1  # Martakert: Vardan (Hasmik counts at Stepanakert)
    assert situation.origins_unknown == 1


def test_the_timeline_agrees_with_the_situation_at_each_step(world: World) -> None:
    _influx(world)
    line = timeline(at(25, 8), at(27, 13), timedelta(hours=3))
    assert line.moments[0] == at(25, 8)
    assert line.moments[-1] == at(27, 11)
    for index, moment in enumerate(line.moments):
        situation = situation_at(moment)
        assert line.crossings[index] == situation.crossings, moment
        assert line.registrations[index] == situation.registrations, moment
        assert line.unique_people[index] == situation.unique_people, moment
        assert line.backlog[index] == situation.backlog, moment
    assert line.as_dict()["moments"][0] == at(25, 8).isoformat()


def test_a_registration_exactly_at_a_step_counts_at_that_step(world: World) -> None:
    world.register("KOR", at(25, 9), [{"sex": "F", "birth_date": "1990"}])
    world.register(
        "KOR", at(25, 9) + timedelta(microseconds=1), [{"sex": "F", "birth_date": "1991"}]
    )
    line = timeline(at(25, 8), at(25, 10), timedelta(hours=1))
    assert line.registrations == (0, 1, 2)


def test_a_repeat_with_nothing_changed_does_not_recompute(world: World) -> None:
    _influx(world)
    first = situation_at(at(26, 12))
    with CaptureQueriesContext(connection) as queries:
        again = situation_at(at(26, 12))
    assert again == first
    assert not any("GROUP BY" in q["sql"] for q in queries.captured_queries)
    assert len(queries.captured_queries) <= 15
    # "Now", asked twice a moment apart after the last registration, is one cache entry.
    situation_at(timezone.now())
    with CaptureQueriesContext(connection) as queries:
        situation_at(timezone.now())
    assert not any("GROUP BY" in q["sql"] for q in queries.captured_queries)
    # New data is seen at once.
    world.register("KOR", at(26, 11), [{"sex": "M", "birth_date": "1985"}])
    assert situation_at(at(26, 12)).registrations == first.registrations + 1


def test_a_site_moved_to_another_province_is_seen(world: World) -> None:
    world.register("VAYK", at(25, 10), [{"sex": "M", "birth_date": "1985"}])
    assert [p.name for p in situation_at(at(26, 0)).host_provinces] == ["Vayots Dzor"]
    Site.objects.filter(code="VAYK").update(province="Ararat")
    assert [p.name for p in situation_at(at(26, 0)).host_provinces] == ["Ararat"]


def test_an_empty_registry_has_zero_figures(world: World) -> None:
    situation = situation_at(at(26, 8))
    assert (situation.crossings, situation.registrations, situation.unique_people) == (0, 0, 0)
    assert situation.backlog == 0
    assert all(r.female == r.male == 0 for r in situation.pyramid)
    line = timeline(at(25, 0), at(26, 0), timedelta(hours=6))
    assert line.registrations == (0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: situation_at(datetime(2023, 9, 26, 8)), "timezone-aware"),  # noqa: DTZ001 - the point
        (lambda: timeline(at(26, 0), at(25, 0), timedelta(hours=1)), "end must not be before"),
        (lambda: timeline(at(25, 0), at(26, 0), timedelta(0)), "step must be positive"),
        (lambda: timeline(at(1, 0), at(30, 0), timedelta(seconds=1)), "take a longer step"),
    ],
)
def test_bad_moments_are_refused(world: World, call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_the_person_records_are_untouched(world: World) -> None:
    _influx(world)
    before = sorted(Person.objects.values_list("pk", "identity"))
    situation_at(at(26, 12))
    timeline(at(25, 0), at(27, 0), timedelta(hours=1))
    assert sorted(Person.objects.values_list("pk", "identity")) == before
    assert isinstance(before[0][1], UUID)


# --- the tally kept on write (registry.tallies) ----------------------------------------------


def _figures_both_ways(on: date) -> tuple[Any, Any]:
    last = max(Household.objects.values_list("registered_at", flat=True))
    args = (last, on, YEREVAN, figures.TOP_ORIGINS)
    return (
        figures._people_at(*args, everyone=True, from_tally=True),
        figures._people_at(*args, everyone=True, from_tally=False),
    )


def _tally_rows() -> list[tuple[Any, ...]]:
    return sorted(
        FigureTally.objects.exclude(households=0, persons=0).values_list(
            "kind", "site_id", "hour", "sex", "birth_year", "text", "households", "persons"
        )
    )


@pytest.mark.parametrize(
    "on",
    [
        date(2023, 9, 27),
        date(2023, 9, 28),  # birthdays into a new band (corrected below)
        date(2027, 12, 31),
        date(2028, 1, 1),  # born in 1978, the day unknown: fifty on 1 January
        date(2030, 5, 16),
        date(2030, 5, 17),  # Hasmik fifty
        date(2064, 1, 1),
    ],
)
def test_the_tally_agrees_with_the_records_after_corrections(
    world: World, personas: Personas, on: date
) -> None:
    """Everyone counted from the tally (the dashboard's "now") is what the records say, on the
    days of the influx and years later (every band moved on, some twice), after corrections of
    sex, date of birth and needs, and with duplicates linked."""
    crowded_influx(world)
    aram = Person.objects.get(given_name="Aram")
    child = Person.objects.get(given_name="Ani", household__site__code="KOR")
    vardan = Person.objects.get(given_name="Vardan")
    for person, name, value in [
        (aram, "sex", "F"),
        (aram, "birth_date", "1963-09-28"),  # 59 → 60 on the 28th
        (child, "specific_needs", ["SM-CI", "ER-NF"]),
        (vardan, "birth_date", "1943"),  # into 80 and over
        (child, "birth_date", "2013-09-28"),
    ]:
        correct_person(
            person=Person.objects.get(pk=person.pk),
            field=name,
            value=value,
            reason="checked",
            acting_user=personas.dan,
        )
    tallied, recounted = _figures_both_ways(on)
    assert tallied == recounted
    assert tallied.pyramid == tuple(r for r in recounted.pyramid)
    assert sum(r.female + r.male for r in tallied.pyramid) == tallied.unique_people


def test_the_tally_rebuilt_from_the_records_is_the_one_kept_on_write(world: World) -> None:
    crowded_influx(world)
    correct_person(
        person=Person.objects.get(given_name="Aram"),
        field="birth_date",
        value="1958-01-02",
        reason="checked",
        acting_user=world.personas.dan,
    )
    kept = _tally_rows()
    FigureTally.objects.update(persons=0, households=0)
    assert tallies.rebuild() == (Household.objects.count(), Person.objects.count())
    assert _tally_rows() == kept


def test_the_tally_counts_by_year_of_birth_hour_origin_and_needs(world: World) -> None:
    # 23:30 in Yerevan on 26 September is 19:30 UTC: hours are kept in UTC.
    world.register(
        "KOR",
        at(26, 23, 30),
        [
            {"sex": "F", "birth_date": "2013-09-26", "specific_needs": ["SM-CI", "ER-NF"]},
            {"sex": "M", "birth_date": "2010", "given_name": "Aram"},
        ],
        origin="Martakert",
    )
    site = Site.objects.get(code="KOR").pk
    hour = int(at(26, 23).timestamp()) // 3600
    assert _tally_rows() == [
        ("hour", site, hour, "", 0, "", 1, 2),
        ("needs", site, 0, "F", 0, '["ER-NF", "SM-CI"]', 0, 1),
        ("origin", site, 0, "", 0, "Martakert", 0, 2),
        ("people", site, 0, "F", 2013, "", 0, 1),
        ("people", site, 0, "M", 2010, "", 0, 1),
    ]


def test_the_tally_is_read_for_now_and_not_for_a_past_moment(world: World) -> None:
    _influx(world)
    with CaptureQueriesContext(connection) as now:
        situation_at(at(28, 0))
    figures.clear_cache()
    with CaptureQueriesContext(connection) as past:
        situation_at(at(26, 12))
    tally = FigureTally._meta.db_table
    assert any(tally in q["sql"] for q in now.captured_queries)
    assert not any(tally in q["sql"] for q in past.captured_queries)


# --- people housed (haven.shelter) ---------------------------------------------------------------


def _shelter(world: World, code: str, beds: int) -> Shelter:
    data = {"code": code, "name": code, "kind": "collective", "province": "Syunik"}
    return shelter_actions.add_shelter(
        data=shelter_actions.parse_shelter({**data, "town": "Goris", "beds": beds}),
        acting_user=world.personas.dan,
    )


def _family(world: World, size: int) -> Household:
    persons = world.register("KOR", at(26, 9), [{"sex": "F", "birth_date": "1980"}] * size)
    return persons[0].household


def test_housed_is_not_recorded_until_there_is_a_shelter(world: World) -> None:
    world.register("KOR", at(26, 9), [{"sex": "F", "birth_date": "1980"}])
    assert situation_at(timezone.now()).housed is None
    _shelter(world, "A", 10)
    assert situation_at(timezone.now()).housed == 0  # a shelter added is seen at once


def test_housed_counts_the_people_in_an_open_stay_at_any_moment(world: World) -> None:
    a, b = _shelter(world, "A", 10), _shelter(world, "B", 10)
    three, two, four = _family(world, 3), _family(world, 2), _family(world, 4)
    before = timezone.now()
    shelter_actions.check_in(household=three, shelter=a, acting_user=world.personas.dan)
    shelter_actions.check_in(household=two, shelter=b, acting_user=world.personas.dan)
    shelter_actions.check_in(household=four, shelter=a, acting_user=world.personas.dan)
    all_in = timezone.now()
    later = all_in + timedelta(days=1)
    assert situation_at(later).housed == 9
    assert situation_at(timezone.now()).housed == 9

    # A check-out changes a row rather than adding one: the cached figures must still see it.
    shelter_actions.check_out(household=three, acting_user=world.personas.dan)

    assert situation_at(later).housed == 6
    assert situation_at(timezone.now()).housed == 6
    assert situation_at(all_in).housed == 9  # the past is read back
    assert situation_at(before).housed == 0
    report = build_report(later)
    assert report.housed_text == "6"
    assert partner_situation(report.situation)["housed"] == 6
    shelter_actions.check_out(household=four, acting_user=world.personas.dan)
    assert build_report(later).housed_text == "2"
    assert partner_situation(situation_at(later))["housed"] is None  # a small count: suppressed


def test_housed_after_the_last_stay_change_is_one_cache_entry(world: World) -> None:
    a = _shelter(world, "A", 10)
    shelter_actions.check_in(household=_family(world, 2), shelter=a, acting_user=world.personas.dan)
    assert situation_at(timezone.now()).housed == 2
    with CaptureQueriesContext(connection) as queries:
        assert situation_at(timezone.now()).housed == 2
    assert not any("GROUP BY" in q["sql"] for q in queries.captured_queries)


# --- people paid (haven.assistance) --------------------------------------------------------------


def test_paid_counts_identities_the_bank_confirmed(world: World) -> None:
    from haven.assistance.actions import add_programme, parse_programme
    from haven.assistance.entitlements import compute
    from haven.assistance.payments import create_list
    from haven.assistance.reconcile import reconcile

    dan = world.personas.dan
    _family(world, 3)
    assert situation_at(timezone.now()).paid is None  # no payment list yet
    grant = add_programme(
        data=parse_programme(
            {
                "code": "grant",
                "name": "grant",
                "kind": "cash",
                "amount": 100_000,
                "frequency": "once",
                "starts_on": "2023-10-01",
            }
        ),
        acting_user=dan,
    )
    compute(programme=grant, period=1, acting_user=dan)
    listed = create_list(programme=grant, period=1, acting_user=dan)
    assert situation_at(timezone.now()).paid == 0
    before = timezone.now()
    refs = list(listed.items.order_by("pk").values_list("reference", flat=True))
    lines = ["reference,amount,status,reason"]
    lines += [f"{refs[0]},100000,paid,", f"{refs[1]},100000,paid,"]
    lines += [f"{refs[2]},100000,failed,card blocked"]
    reconcile(
        payment_list=listed,
        data="\n".join(lines).encode(),
        filename="bank.csv",
        encoding=None,
        acting_user=dan,
    )

    # The reconciliation changes rows in place: the cached figures must still see it.
    assert situation_at(timezone.now()).paid == 2
    assert situation_at(before).paid == 0
    assert build_report(timezone.now()).paid_text == "2"
