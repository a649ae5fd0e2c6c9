"""The desk-time duplicate check with a million people registered: latency, recall, queries.

Prints one table (measure | database | value | target | note). For SQLite and for PostgreSQL in
turn, a fresh database is filled with a simulated influx through the bulk path (the simulator's
`load_influx`, as `haven simulate` does), then the simulator's duplicate records (people registered
a second time at another site, often in another script, with typos) are checked as a registrar's
desk asks: `POST /api/identity/check` through Django's whole request path in one process (session
login, middleware, django-ninja, the check, the audit rows, the JSON answer), and
`find_candidates` alone. The duplicate registrations that serve as queries are held back from the
load, so the only earlier record of each queried person is their first registration: the recall
figure is the share of checks that show it.

    .venv/bin/python bench/bench_desk_check.py                 # full: 1,000,000 people
    .venv/bin/python bench/bench_desk_check.py --smoke         # seconds; what CI runs
    .venv/bin/python bench/bench_desk_check.py --json out.json # also write the figures

Django reads its settings once per process, so each database's part runs in a child process (this
script with --child) that prints its figures as JSON.
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
from dataclasses import replace
from datetime import UTC, date, datetime
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

P95_TARGET_MS = 100.0  # issue 3: desk-time check with 1,000,000 persons registered
WARMUP = 20  # checks before timing: the URLconf, the API, the model and the caches load
QUERY_COUNT_SAMPLE = 10  # checks whose SQL statements are counted
REGISTRAR_SITE = "GORIS"
REGISTRAR = "bench-desk-registrar"

FULL = {"people": 1_000_000, "queries": 2000}
# 5,000 people rather than fewer: at the simulator's 3 % duplicate share they give the 120
# duplicate records that 20 warm-up checks and 100 timed ones need.
SMOKE = {"people": 5000, "queries": 100}


# --- the child: one database, inside Django ------------------------------------------------------


def _query_body(member: dict[str, Any], payload: dict[str, Any], today: date) -> dict[str, Any]:
    """A duplicate record as the desk's check is sent it.

    An estimated age was guessed on the day of the simulated registration (2023); the check counts
    it back from today, so it is sent aged by the years since, to name the same birth year.
    """
    body: dict[str, Any] = {
        "given_name": member["given_name"],
        "family_name": member["family_name"],
        "patronymic": member.get("patronymic", ""),
        "sex": member["sex"],
        "origin_settlement": payload.get("origin_settlement", ""),
    }
    if member.get("birth_date"):
        body["birth_date"] = member["birth_date"]
    else:
        registered = date.fromisoformat(payload["registered_at"][:10])
        body["estimated_age"] = int(member["estimated_age"]) + today.year - registered.year
    return body


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def child(influx_file: Path, *, queries: int, seed: int) -> dict[str, Any]:
    """Load the influx (less the held-back duplicates) into this process's database, then time
    the checks. Returns the figures."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.settings")
    import django

    django.setup()
    from django.urls import resolve

    # Every module a check uses is imported now, not after a load that takes many minutes: the
    # run measures the code as it was when it started.
    resolve("/api/identity/check")
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from haven.core.actions import create_user
    from haven.core.models import Site, User
    from haven.identity.api_check import MAX_CANDIDATES, CheckIn
    from haven.identity.check import CANDIDATES_SCANNED, current_weights, find_candidates
    from haven.identity.models import LinkageModel
    from haven.registry.models import Person
    from haven.simulate.influx import Influx
    from haven.simulate.loader import ensure_sites, load_influx, simulator_user

    with influx_file.open("rb") as handle:
        influx: Influx = pickle.load(handle)  # noqa: S301 - written by our own parent process

    # The queries: whole duplicate registrations, drawn at random, held back from the load.
    duplicates = [r for r in influx.registrations if r.duplicate]
    random.Random(seed).shuffle(duplicates)  # noqa: S311 - a reproducible draw, not a secret
    held, members = [], 0
    for registration in duplicates:
        if members >= queries + WARMUP:
            break
        held.append(registration)
        members += len(registration.payload["members"])
    held_ids = {id(r) for r in held}
    loaded = replace(
        influx, registrations=[r for r in influx.registrations if id(r) not in held_ids]
    )
    true_person = dict(loaded.truth_rows())  # person uuid -> true person number
    today = timezone.localdate()
    checks = [
        (_query_body(member, r.payload, today), dict(r.truth)[member["uuid"]])
        for r in held
        for member in r.payload["members"]
    ]
    warmup, timed = checks[:WARMUP], checks[WARMUP : WARMUP + queries]

    acting = simulator_user()
    ensure_sites(acting_user=acting)
    print(f"{connection.vendor}: registering {len(true_person):,} persons ...", file=sys.stderr)
    report = load_influx(loaded, acting_user=acting, progress=True)
    if report.problems:
        raise SystemExit(f"the load refused households: {report.problems[:5]}")
    persons = Person.objects.count()
    if persons != len(true_person):
        raise SystemExit(f"{persons} persons stored, {len(true_person)} sent")
    with connection.cursor() as cursor:
        cursor.execute(
            "SHOW server_version"
            if connection.vendor == "postgresql"
            else "SELECT sqlite_version()"
        )
        product = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
        version = f"{product} {cursor.fetchone()[0]}"
    if connection.vendor == "postgresql":
        # What autovacuum does within minutes of a load this size (statistics for the planner, the
        # visibility map for index-only counts); done now so that every run measures the same.
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        analyzed = f"VACUUM ANALYZE after the load ({time.perf_counter() - started:.0f} s)"
    else:
        analyzed = "no ANALYZE (Haven runs none on SQLite)"

    registrar = create_user(
        username=REGISTRAR,
        role=User.Role.REGISTRAR,
        password=None,
        site=Site.objects.get(code=REGISTRAR_SITE),
        acting_user=None,
    )
    client = Client(SERVER_NAME="127.0.0.1")  # CSRF is not enforced by the test client
    client.force_login(registrar)

    def ask(body: dict[str, Any]) -> dict[str, Any]:
        response = client.post("/api/identity/check", body, content_type="application/json")
        if response.status_code != 200:
            raise SystemExit(f"the check answered {response.status_code}: {response.content!r}")
        answer: dict[str, Any] = response.json()
        return answer

    for body, _ in warmup:
        ask(body)
    print(f"{connection.vendor}: {len(timed):,} checks through the API ...", file=sys.stderr)
    api_ms: list[float] = []
    found = shown = 0
    model = ""
    for body, truth in timed:
        started = time.perf_counter()
        answer = ask(body)
        api_ms.append((time.perf_counter() - started) * 1000)
        model = answer["model"]
        uuids = [c["person_uuid"] for c in answer["candidates"]]
        shown += len(uuids)
        found += any(true_person.get(u) == truth for u in uuids)

    statements: list[int] = []
    sample_sql: list[str] = []
    for body, _ in timed[:QUERY_COUNT_SAMPLE]:
        with CaptureQueriesContext(connection) as captured:
            ask(body)
        statements.append(len(captured.captured_queries))
        sample_sql = [q["sql"] for q in captured.captured_queries]

    print(f"{connection.vendor}: {len(timed):,} checks of find_candidates ...", file=sys.stderr)
    function_ms: list[float] = []
    scanned_found = 0
    for body, truth in timed:
        data = CheckIn.model_validate(body)
        year, month, day, estimated = data.as_member().birth_parts(today)
        arguments: dict[str, Any] = {
            "user": registrar,
            "given_name": data.given_name,
            "family_name": data.family_name,
            "patronymic": data.patronymic,
            "sex": data.sex,
            "birth_year": year,
            "birth_month": month,
            "birth_day": day,
            "birth_estimated": estimated,
            "registered_year": today.year,
            "origin": data.origin_settlement,
        }
        started = time.perf_counter()
        find_candidates(**arguments, limit=MAX_CANDIDATES)  # as the API asks
        function_ms.append((time.perf_counter() - started) * 1000)
        # Untimed: is the person among everyone the lookup reads, whatever their score? A miss
        # there is the blocking's, a miss only in the answer is the scoring's.
        everyone = find_candidates(**arguments, limit=CANDIDATES_SCANNED, threshold=0.0)
        scanned_found += any(true_person.get(str(c.person.uuid)) == truth for c in everyone)

    return {
        "vendor": connection.vendor,
        "version": version,
        "persons": persons,
        "households": len(loaded.registrations),
        "load_seconds": report.seconds,
        "analyzed": analyzed,
        "checks": len(timed),
        "api_ms": api_ms,
        "function_ms": function_ms,
        "found": found,
        "scanned_found": scanned_found,
        "candidates_shown": shown,
        "statements": statements,
        "sample_sql": sample_sql,
        "model": model,
        "model_expected": current_weights().version,
        "trained_models": LinkageModel.objects.count(),
        "threshold": float(settings.HAVEN_IDENTITY_POSSIBLE),
    }


# --- the parent: one child per database, and the table -------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def figures_of(kind: str, result: dict[str, Any]) -> list[Figure]:
    api, function = result["api_ms"], result["function_ms"]
    checks = result["checks"]
    p95 = _percentile(api, 0.95)
    function_p95 = _percentile(function, 0.95)
    statements = result["statements"]
    where = (
        f"{checks:,} duplicate records checked by a registrar at {REGISTRAR_SITE}, in-process"
        f" django.test.Client (session login), {result['persons']:,} persons registered"
    )
    return [
        Figure(
            "load (load_influx)",
            kind,
            f"{result['load_seconds']:.0f} s",
            "",
            f"{result['persons']:,} persons in {result['households']:,} households,"
            f" {result['persons'] / result['load_seconds']:,.0f} persons/s; {result['analyzed']};"
            f" {result['version']}",
        ),
        Figure("check API latency p50", kind, _ms(_percentile(api, 0.5)), "", where),
        Figure(
            "check API latency p95",
            kind,
            _ms(p95),
            f"<= {P95_TARGET_MS:.0f} ms",
            f"mean {_ms(statistics.fmean(api))}",
            p95 <= P95_TARGET_MS,
        ),
        Figure(
            "check API latency p99",
            kind,
            _ms(_percentile(api, 0.99)),
            "",
            f"max {_ms(max(api))}",
        ),
        Figure(
            "find_candidates p95",
            kind,
            _ms(function_p95),
            f"<= {P95_TARGET_MS:.0f} ms",
            f"p50 {_ms(_percentile(function, 0.5))}; the same checks, the function alone",
            function_p95 <= P95_TARGET_MS,
        ),
        Figure(
            "found the person registered before",
            kind,
            f"{result['found'] / checks:.1%}",
            "",
            f"{result['found']:,} of {checks:,}: the earlier record among the candidates shown"
            f" (at most 5, probability >= {result['threshold']:g}); among all the lookup reads:"
            f" {result['scanned_found'] / checks:.1%}",
        ),
        Figure(
            "candidates shown per check",
            kind,
            f"{result['candidates_shown'] / checks:.2f}",
            "",
            "mean",
        ),
        Figure(
            "SQL statements per check",
            kind,
            f"{statistics.median(statements):g}",
            "",
            f"median of {len(statements)} API checks (min {min(statements)}, max"
            f" {max(statements)}), session and audit rows included",
        ),
        Figure(
            "model",
            kind,
            result["model"],
            "",
            f"{result['trained_models']} trained models in the database: the starter model, what"
            " a desk scores with on day one"
            if result["model"] == "starter"
            else f"{result['trained_models']} trained models in the database",
        ),
    ]


def bench_database(
    kind: str, pg_url: str, influx_file: Path, args: argparse.Namespace, root: Path
) -> tuple[list[Figure], dict[str, Any]]:
    work = root / kind
    work.mkdir()
    with database(kind, work, pg_url) as url:
        env = haven_env(database_url=url, var_dir=work / "var")
        run([PYTHON, "-m", "haven", "migrate", "--no-input"], env, timeout=300)
        command = [
            PYTHON, str(Path(__file__).resolve()),
            "--child", str(influx_file),
            "--queries", str(args.queries),
            "--seed", str(args.seed),
        ]  # fmt: skip
        try:
            done = subprocess.run(  # noqa: S603 - our own interpreter and arguments, no shell
                command, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, check=False
            )
        except KeyboardInterrupt:
            raise BenchError("interrupted") from None
        if done.returncode != 0:
            raise BenchError(f"{kind}: the check benchmark failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["model"] != result["model_expected"]:
        raise BenchError(f"the API scored with {result['model']}, not {result['model_expected']}")
    return figures_of(kind, result), result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a small run that takes seconds")
    parser.add_argument("--people", type=int, help="people who arrive (1,000,000; smoke 5,000)")
    parser.add_argument("--queries", type=int, help="timed checks (2,000; smoke 100)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--sql", action="store_true", help="print one check's SQL statements")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # one database's part
    args = parser.parse_args(argv)
    preset = SMOKE if args.smoke else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.child is not None:
        print(json.dumps(child(args.child, queries=args.queries, seed=args.seed)))
        return 0
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    unknown = set(kinds) - {"sqlite", "postgresql"}
    if unknown or not kinds:
        parser.error(f"--databases takes sqlite and/or postgresql, not {', '.join(unknown)}")
    if args.people < 1 or args.queries < 2:
        parser.error("--people must be positive and --queries at least 2")
    pg_url = _loopback_url(
        os.environ.get("HAVEN_BENCH_PG_URL")
        or os.environ.get("HAVEN_TEST_POSTGRES_URL")
        or DEFAULT_PG_URL
    )

    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    began = time.perf_counter()
    figures: list[Figure] = []
    results: dict[str, dict[str, Any]] = {}
    root = Path(tempfile.mkdtemp(prefix="haven-bench-desk-"))
    try:
        print(f"simulating {args.people:,} people ...", file=sys.stderr, flush=True)
        sys.path.insert(0, str(REPO))
        from haven.simulate.influx import simulate_influx  # plain Python: no Django settings

        influx = simulate_influx(people=args.people, seed=args.seed)
        needed = args.queries + WARMUP
        if influx.duplicate_records < needed:
            parser.error(
                f"{args.people:,} people give {influx.duplicate_records} duplicate records;"
                f" {needed} are needed (--queries plus {WARMUP} to warm up): simulate more people"
            )
        influx_file = root / "influx.pickle"
        with influx_file.open("wb") as handle:
            pickle.dump(influx, handle, protocol=pickle.HIGHEST_PROTOCOL)
        del influx
        measured, results = each_database(
            kinds, pg_url, lambda kind: bench_database(kind, pg_url, influx_file, args, root)
        )
        figures += measured
    finally:
        shutil.rmtree(root, ignore_errors=True)
    total = time.perf_counter() - began
    print()
    print(table(figures))
    print()
    print(machine_line(load_before, total))
    if args.sql:
        for kind, result in results.items():
            print(f"\nthe SQL statements of one check on {kind}:")
            for statement in result["sample_sql"]:
                print(f"  {statement}")
    if args.json is not None:
        write_json(
            args.json,
            started_at=started_at,
            load_before=load_before,
            total=total,
            figures=figures,
            results=results,
        )
    return 0


if __name__ == "__main__":
    run_main(main)
