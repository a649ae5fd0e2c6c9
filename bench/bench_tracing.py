"""Finding the sought: a caseworker's tracing search over a million registered people (issue 5).

Prints one table (measure | database | value | target | note). For SQLite and for PostgreSQL in
turn, a fresh database is filled with a simulated influx through the bulk path, exactly as
`bench_reports.py` fills it (the simulator's `load_influx`, its duplicate records linked to their
person). Then a second, fresh process runs `haven.tracing.search.find_people` (what `haven trace
find` and the caseworker's page call) for descriptions of sought people written from the
simulator's truth, the way a relative would give them:

- the name in a **different script** from every registration of the person (Armenian, Russian
  Cyrillic, Latin), said as the simulator says names (its Armenian, Russian and Latin spellings;
  where a registration was mistyped and its name is not the simulator's, transliterated from it
  with `haven.names`);
- sometimes with a typo (one letter dropped, doubled, swapped or a neighbouring key: the
  simulator's `typo`), sometimes family name first;
- the birth year exactly, one year off, or not known; the sex sometimes not said; the home
  settlement sometimes said (in the description's script);
- the answer: any record of that person.

Per search, timed in a warm process (after a few searches to warm up): p50/p95/p99 against the
issue's 50 ms; recall@10 (a record of the person among the first ten) against 0.95; precision@1
(the first is a record of the person); recall@10 by kind of description. Seeded: the same seed, the
same influx and descriptions.

    .venv/bin/python bench/bench_tracing.py                                # full: 1,000,000 people
    .venv/bin/python bench/bench_tracing.py --smoke                        # seconds; what CI runs
    .venv/bin/python bench/bench_tracing.py --database-url URL --influx F  # a filled database

`--database-url` measures a database already filled from the pickled influx `--influx` (the
truth); the searches' audit rows are written to it, as every search's are.

Django reads its settings once per process, so each database's part runs in child processes
(this script with --load or --measure) that print their results as JSON.
"""

import argparse
import json
import os
import pickle
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from bench_registration import (
    DEFAULT_PG_URL,
    PYTHON,
    REPO,
    BenchError,
    Figure,
    _loopback_url,
    database,
    each_database,
    haven_env,
    machine_line,
    run,
    run_main,
    table,
    write_json,
)

sys.path.insert(0, str(REPO))

from haven.names import Script, armenian_to_latin, cyrillic_to_latin, detect_script
from haven.simulate.influx import Influx  # plain Python, as all of these: no settings
from haven.simulate.names import (
    GivenName,
    Name,
    Rendering,
    armenian_to_russian,
    given_names,
    surnames,
    typo,
)

P95_TARGET_MS = 50.0  # issue 5: a tracing search over 1,000,000 registered persons
RECALL_TARGET = 0.95  # issue 5: recall@10
LIMIT = 10
WARM_UP = 10  # searches before timing (other descriptions than the timed ones)

FULL = {"people": 1_000_000, "queries": 1000}
SMOKE = {"people": 3000, "queries": 50}

# How the descriptions vary (each drawn on its own).
TYPO_SHARE = 0.3  # one letter wrong in the given or the family name
SWAPPED_SHARE = 0.25  # family name first
YEAR_EXACT, YEAR_OFF = 0.4, 0.3  # the rest: the year is not known
SEX_UNSAID = 0.3
ORIGIN_SAID = 0.5
SCRIPTS = (Script.ARMENIAN, Script.CYRILLIC, Script.LATIN)


# --- the descriptions, from the simulator's truth (plain Python) ---------------------------------


@cache
def _spellings() -> tuple[dict[tuple[str, str], GivenName], dict[str, Name]]:
    """Every spelling the simulator writes a given name (by sex) or a surname in → the name."""
    given: dict[tuple[str, str], GivenName] = {}
    for name in given_names():
        for spelling in (name.armenian, *name.latin, *name.russian):
            given.setdefault((name.sex, spelling.lower()), name)
    family: dict[str, Name] = {}
    for surname in surnames()[0]:
        for spelling in (surname.armenian, *surname.latin, *surname.russian):
            family.setdefault(spelling.lower(), surname)
    return given, family


@cache
def _places() -> dict[str, tuple[str, str, str]]:
    """Each way the simulator writes a settlement → (Armenian, Latin, Russian)."""
    from haven.simulate.households import HouseholdFactory

    places: dict[str, tuple[str, str, str]] = {}
    for place, _weight in HouseholdFactory._places():
        for spelling in place:
            places.setdefault(spelling.lower(), place)
    return places


def _said(name: Name | None, typed: str, script: Script, rng: random.Random) -> str | None:
    """A name as a relative says it in `script`: the simulator's own spelling when the record's
    name is one of its names, else the record's spelling transliterated; None if it cannot be."""
    if name is not None:
        if script is Script.ARMENIAN:
            return name.armenian
        if script is Script.CYRILLIC:
            return name.render(Rendering.RUSSIAN, rng)
        latin = Rendering.PASSPORT if rng.random() < 0.6 else Rendering.LATIN_VARIANT
        return name.render(latin, rng)
    source = detect_script(typed)
    if script is Script.LATIN and source is Script.ARMENIAN:
        return armenian_to_latin(typed)
    if script is Script.LATIN and source is Script.CYRILLIC:
        return cyrillic_to_latin(typed)
    if script is Script.CYRILLIC and source is Script.ARMENIAN:
        return armenian_to_russian(typed)
    return None  # Latin to Armenian or Cyrillic: ambiguous, not attempted


@dataclass
class _Record:
    uuid: str
    member: dict[str, Any]
    origin: str


def _records_by_person(influx: Influx) -> dict[int, list[_Record]]:
    by_person: dict[int, list[_Record]] = defaultdict(list)
    for registration in influx.registrations:
        origin = registration.payload["origin_settlement"]
        members = {m["uuid"]: m for m in registration.payload["members"]}
        for person_uuid, true_person in registration.truth:
            by_person[true_person].append(_Record(person_uuid, members[person_uuid], origin))
    return by_person


def describe(records: list[_Record], rng: random.Random) -> dict[str, Any] | None:
    """A sought person's description from their records (the first is the first registration),
    or None when it cannot be written in a script none of them is in."""
    given_of, family_of = _spellings()
    sex = records[0].member["sex"]
    # The true names: from a record whose spellings are the simulator's (not mistyped).
    given: GivenName | None = None
    family: Name | None = None
    for record in records:
        given = given or given_of.get((sex, record.member["given_name"].lower()))
        family = family or family_of.get(record.member["family_name"].lower())
    years = [r.member["birth_date"][:4] for r in records if r.member.get("birth_date")]
    if not years:
        return None  # only an estimated age was ever recorded: the true year is unknown here
    year = int(years[0])
    registered = {detect_script(r.member["family_name"]) for r in records}
    scripts = [s for s in SCRIPTS if s not in registered]
    if not scripts:
        return None
    script = rng.choice(scripts)
    said_given = _said(given, records[0].member["given_name"], script, rng)
    said_family = _said(family, records[0].member["family_name"], script, rng)
    if not said_given or not said_family:
        return None
    kinds: dict[str, Any] = {"script": f"{' + '.join(sorted(registered))} → {script}"}
    kinds["typo"] = False
    if rng.random() < TYPO_SHARE:
        if rng.random() < 0.5:
            mistyped = typo(said_given, rng)
            kinds["typo"], said_given = mistyped != said_given, mistyped
        else:
            mistyped = typo(said_family, rng)
            kinds["typo"], said_family = mistyped != said_family, mistyped
    kinds["swapped"] = rng.random() < SWAPPED_SHARE
    name = f"{said_family} {said_given}" if kinds["swapped"] else f"{said_given} {said_family}"
    draw = rng.random()
    birth_year: int | None = year
    kinds["year"] = "exact"
    if draw >= YEAR_EXACT + YEAR_OFF:
        birth_year, kinds["year"] = None, "missing"
    elif draw >= YEAR_EXACT:
        birth_year, kinds["year"] = year + rng.choice((-1, 1)), "off by one"
    kinds["sex"] = rng.random() >= SEX_UNSAID
    origin = ""
    if rng.random() < ORIGIN_SAID:
        place = next((_places().get(r.origin.lower()) for r in records if r.origin), None)
        if place is not None:
            armenian, latin, russian = place
            origin = {Script.ARMENIAN: armenian, Script.CYRILLIC: russian}.get(script, latin)
    kinds["origin"] = bool(origin)
    return {
        "name": name,
        "birth_year": birth_year,
        "sex": sex if kinds["sex"] else None,
        "origin": origin,
        "kinds": kinds,
        "answers": [r.uuid for r in records],
    }


def descriptions(influx: Influx, count: int, seed: int) -> tuple[list[dict[str, Any]], int]:
    """`count` descriptions of people drawn at random (seeded), and how many drawn were skipped."""
    rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not a secret
    by_person = _records_by_person(influx)
    people = sorted(by_person)
    made: list[dict[str, Any]] = []
    skipped = 0
    for person in rng.sample(people, min(len(people), 2 * count + 100)):
        described = describe(by_person[person], rng)
        if described is None:
            skipped += 1
            continue
        made.append(described)
        if len(made) == count:
            return made, skipped
    raise BenchError(f"could describe only {len(made)} people of {len(people)}")


# --- the children: one database, inside Django ---------------------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.settings")
    import django

    django.setup()


def load(influx_file: Path) -> dict[str, Any]:
    """Fill the database as bench_reports.py does (its own load)."""
    from bench_reports import load as load_and_link

    result: dict[str, Any] = load_and_link(influx_file)
    return result


def measure(queries_file: Path) -> dict[str, Any]:
    """Run the searches on the database this process is configured for; time each."""
    _django()
    from django.db import connection

    from haven.registry.models import Person
    from haven.tracing.search import find_people

    work = json.loads(queries_file.read_text("utf-8"))
    queries: list[dict[str, Any]] = work["queries"]
    wanted = {u for q in queries for u in q["answers"]}
    present = 0
    listed = sorted(wanted)
    for start in range(0, len(listed), 5000):
        present += Person.objects.filter(uuid__in=listed[start : start + 5000]).count()
    if present != len(wanted):
        raise SystemExit(
            f"{len(wanted) - present:,} of the {len(wanted):,} sought records are not in this"
            " database: was it filled from this influx?"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SHOW server_version"
            if connection.vendor == "postgresql"
            else "SELECT sqlite_version()"
        )
        product = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
        version = f"{product} {cursor.fetchone()[0]}"

    def search(query: dict[str, Any]) -> list[str]:
        found = find_people(
            name=query["name"],
            birth_year=query["birth_year"],
            sex=query["sex"],
            origin=query["origin"],
            limit=LIMIT,
        )
        return [str(c.person.uuid) for c in found]

    for query in work["warm_up"]:
        search(query)
    timed: list[dict[str, Any]] = []
    for query in queries:
        started = time.perf_counter()
        found = search(query)
        elapsed = time.perf_counter() - started
        answers = set(query["answers"])
        rank = next((i + 1 for i, u in enumerate(found) if u in answers), None)
        timed.append({"ms": round(elapsed * 1000, 2), "rank": rank, "shown": len(found)})

    statements: list[int] = []
    for query in queries[:10]:
        counted = _Counter()
        with connection.execute_wrapper(counted):
            search(query)
        statements.append(counted.statements)
    return {
        "vendor": connection.vendor,
        "version": version,
        "persons": Person.objects.count(),
        "searches": timed,
        "statements": statements,
    }


class _Counter:
    """A database execute wrapper that counts the statements run through it."""

    def __init__(self) -> None:
        self.statements = 0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.statements += 1
        return execute(sql, params, many, context)


# --- the parent: children per database, and the table --------------------------------------------


def _share(hits: int, count: int) -> str:
    return f"{hits / count:.3f}" if count else "-"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _groups(queries: list[dict[str, Any]]) -> Iterator[tuple[str, list[int]]]:
    """The kinds of description recall is broken down by, and which searches are of each."""
    kinds = [q["kinds"] for q in queries]

    def where(test: Callable[[dict[str, Any]], bool]) -> list[int]:
        return [i for i, k in enumerate(kinds) if test(k)]

    yield (
        "script change only (no typo, given name first, year said)",
        where(lambda k: not k["typo"] and not k["swapped"] and k["year"] != "missing"),
    )
    yield "with a typo", where(lambda k: k["typo"])
    yield "family name first", where(lambda k: k["swapped"])
    yield "year exact", where(lambda k: k["year"] == "exact")
    yield "year one off", where(lambda k: k["year"] == "off by one")
    yield "year missing", where(lambda k: k["year"] == "missing")
    yield "sex not said", where(lambda k: not k["sex"])
    yield "home settlement said", where(lambda k: k["origin"])
    yield "home settlement not said", where(lambda k: not k["origin"])
    for script in SCRIPTS:
        said = f"→ {script}"
        yield f"said in {script}", [i for i, k in enumerate(kinds) if k["script"].endswith(said)]


def figures_of(
    kind: str, loaded: dict[str, Any] | None, result: dict[str, Any], work: dict[str, Any]
) -> list[Figure]:
    rows: list[Figure] = []
    queries = work["queries"]
    searches = result["searches"]
    if loaded is not None:
        rows.append(
            Figure(
                "load (load_influx) and links",
                kind,
                f"{loaded['load_seconds']:.0f} s",
                "",
                f"{result['persons']:,} persons; {loaded['linked']:,} records linked to their"
                f" person; {loaded['analyzed']}",
            )
        )
    ms = [s["ms"] for s in searches]
    p95 = _percentile(ms, 0.95)
    rows.append(
        Figure(
            "find_people latency p95",
            kind,
            f"{p95:.1f} ms",
            f"<= {P95_TARGET_MS:.0f} ms",
            f"p50 {_percentile(ms, 0.5):.1f} ms, p99 {_percentile(ms, 0.99):.1f} ms, worst"
            f" {max(ms):.1f} ms; {len(ms):,} searches after {len(work['warm_up'])} to warm up;"
            f" {result['persons']:,} persons; {result['version']}",
            p95 <= P95_TARGET_MS,
        )
    )
    found = [s["rank"] is not None for s in searches]
    # The measure: descriptions with a partial birth date (here the year, exact or one
    # off, as a relative recalls it). Descriptions with no year at all are reported beside it.
    dated = [i for i, q in enumerate(queries) if q["kinds"]["year"] != "missing"]
    recall = sum(found[i] for i in dated) / len(dated) if dated else 0.0
    rows.append(
        Figure(
            "recall@10, a birth year said (exact or one off)",
            kind,
            f"{recall:.3f}",
            f">= {RECALL_TARGET:.2f}",
            f"{sum(found[i] for i in dated):,} of {len(dated):,} sought people had a record among"
            f" the first {LIMIT}",
            recall >= RECALL_TARGET,
        )
    )
    rows.append(
        Figure(
            "recall@10, every description (year missing included)",
            kind,
            f"{sum(found) / len(found):.3f}",
            "reported",
            f"{sum(found):,} of {len(found):,}",
        )
    )
    first = sum(s["rank"] == 1 for s in searches)
    shown = statistics.mean(s["shown"] for s in searches)
    rows.append(
        Figure(
            "precision@1",
            kind,
            _share(first, len(searches)),
            "reported",
            f"the first shown is a record of the sought person; {shown:.1f} shown on average"
            f" (at most {LIMIT}); SQL statements per search"
            f" {statistics.mean(result['statements']):.1f} (10 searches, audit rows included)",
        )
    )
    for label, members in _groups(queries):
        hits = sum(found[i] for i in members)
        group_ms = [ms[i] for i in members]
        rows.append(
            Figure(
                f"recall@10, {label}",
                kind,
                _share(hits, len(members)),
                "",
                f"{len(members):,} searches; precision@1"
                f" {_share(sum(searches[i]['rank'] == 1 for i in members), len(members))};"
                f" p95 {_percentile(group_ms, 0.95) if group_ms else 0:.1f} ms",
            )
        )
    return rows


def check(result: dict[str, Any]) -> None:
    """Something broke (not merely slow or imprecise) when most sought people are not found."""
    searches = result["searches"]
    found = sum(s["rank"] is not None for s in searches)
    if found < len(searches) / 2:
        raise BenchError(f"only {found} of {len(searches)} sought people were found at all")


def bench_database(
    kind: str, pg_url: str, influx_file: Path, queries_file: Path, work: dict[str, Any], root: Path
) -> tuple[list[Figure], dict[str, Any]]:
    place = root / kind
    place.mkdir()
    with database(kind, place, pg_url) as url:
        env = haven_env(database_url=url, var_dir=place / "var")
        run([PYTHON, "-m", "haven", "migrate", "--no-input"], env, timeout=300)
        loaded = _child_of_this(["--load", str(influx_file)], env)
        result = _child_of_this(["--measure", str(queries_file)], env)
    check(result)
    return figures_of(kind, loaded, result, work), result


def _child_of_this(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """This script as a child process; what it printed last, as JSON."""
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments, no shell
            [PYTHON, str(Path(__file__).resolve()), *args],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
    except KeyboardInterrupt:
        raise BenchError("interrupted") from None
    if done.returncode != 0:
        raise BenchError(f"{' '.join(args[:1])} failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _write_queries(influx: Influx, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    made, skipped = descriptions(influx, args.queries + WARM_UP, args.seed + 1)
    work = {"warm_up": made[:WARM_UP], "queries": made[WARM_UP:], "skipped": skipped}
    (root / "queries.json").write_text(json.dumps(work, ensure_ascii=False), "utf-8")
    return work


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a small run that takes seconds")
    parser.add_argument("--people", type=int, help="people who arrive (1,000,000; smoke 3,000)")
    parser.add_argument("--queries", type=int, help="timed searches (1,000; smoke 50)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--database-url",
        help="search this database, filled from --influx, instead (audit rows are written)",
    )
    parser.add_argument(
        "--influx", type=Path, help="with --database-url: the pickled influx it was filled from"
    )
    parser.add_argument("--load", type=Path, help=argparse.SUPPRESS)  # child: fill a database
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child: search
    args = parser.parse_args(argv)
    preset = SMOKE if args.smoke else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.load is not None:
        print(json.dumps(load(args.load)))
        return 0
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return 0
    if args.people < 1 or args.queries < 1:
        parser.error("--people and --queries must be positive")
    if (args.database_url is None) != (args.influx is None):
        parser.error("--database-url and --influx go together")

    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    began = time.perf_counter()
    figures: list[Figure] = []
    results: dict[str, Any] = {}
    root = Path(tempfile.mkdtemp(prefix="haven-bench-tracing-"))
    try:
        if args.database_url:
            print("reading the influx ...", file=sys.stderr, flush=True)
            with args.influx.open("rb") as handle:
                influx: Influx = pickle.load(handle)  # noqa: S301 - the user's own file
            work = _write_queries(influx, args, root)
            del influx
            env = haven_env(database_url=args.database_url, var_dir=root / "var")
            result = _child_of_this(["--measure", str(root / "queries.json")], env)
            check(result)
            results[result["vendor"]] = result
            figures += figures_of(result["vendor"], None, result, work)
        else:
            kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
            unknown = set(kinds) - {"sqlite", "postgresql"}
            if unknown or not kinds:
                parser.error(
                    f"--databases takes sqlite and/or postgresql, not {', '.join(unknown)}"
                )
            pg_url = _loopback_url(
                os.environ.get("HAVEN_BENCH_PG_URL")
                or os.environ.get("HAVEN_TEST_POSTGRES_URL")
                or DEFAULT_PG_URL
            )
            print(f"simulating {args.people:,} people ...", file=sys.stderr, flush=True)
            from haven.simulate.influx import simulate_influx

            influx = simulate_influx(people=args.people, seed=args.seed)
            work = _write_queries(influx, args, root)
            influx_file = root / "influx.pickle"
            with influx_file.open("wb") as handle:
                pickle.dump(influx, handle, protocol=pickle.HIGHEST_PROTOCOL)
            del influx
            measured, results = each_database(
                kinds,
                pg_url,
                lambda kind: bench_database(
                    kind, pg_url, influx_file, root / "queries.json", work, root
                ),
            )
            figures += measured
    finally:
        shutil.rmtree(root, ignore_errors=True)
    total = time.perf_counter() - began
    print()
    print(table(figures))
    print()
    print(
        machine_line(
            load_before,
            total,
            f"; descriptions seeded {args.seed + 1}, {work['skipped']} people drawn could not be"
            " described in another script (skipped)",
        )
    )
    if args.json is not None:
        write_json(
            args.json,
            started_at=started_at,
            load_before=load_before,
            total=total,
            figures=figures,
            results=results,
            queries=work["queries"],
        )
    return 0


if __name__ == "__main__":
    run_main(main)
