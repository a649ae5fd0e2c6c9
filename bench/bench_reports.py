"""The situation figures with a million people registered: cold, warm, memory; exports.

Prints one table (measure | database | value | target | note). For SQLite and for PostgreSQL in
turn, a fresh database is filled with a simulated influx through the bulk path (the simulator's
`load_influx`, as `haven simulate` does) and the simulator's duplicate records are linked to the
person they belong to, as a batch run would (`haven.identity.batch`'s own link writer, fed the
simulator's truth: what `haven dedupe` would find at best). Then a second, fresh process measures
`haven.reports.figures`:

- **cold**: `situation_at` with the cache emptied first, at three moments: 08:00 on 26 September
  2023 (the public "13,550 arrived" moment), the peak (28 September 12:00) and now (after the last
  registration, what the dashboard asks); median and worst of `--repeat` runs;
- **warm**: the same call again with nothing changed (the data-version check only);
- the hourly `timeline` over the whole influx, cold;
- the three partner exports as CSV and XLSX (suppression included), from the warm figures;
- the measuring process's peak memory (ru_maxrss: Django, the figures and their cache) and the
  peak of Python allocations during one cold `situation_at` (tracemalloc).

The figures are checked against the simulation: records loaded, unique people (the simulated
people), crossings.

    .venv/bin/python bench/bench_reports.py                       # full: 1,000,000 people
    .venv/bin/python bench/bench_reports.py --smoke               # seconds; what CI runs
    .venv/bin/python bench/bench_reports.py --database-url URL    # measure a filled database

Django reads its settings once per process, so each database's part runs in child processes
(this script with --load or --measure) that print their results as JSON.
"""

import argparse
import json
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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

COLD_TARGET_MS = 1000.0  # issue 4: dashboard and sitrep figures for 1,000,000 persons
WARM_TARGET_MS = 100.0
PDF_TARGET_MS = 5000.0  # issue 4: the PDF of the situation report
ARMENIA = ZoneInfo("Asia/Yerevan")
MOMENTS = {
    "26 Sep 08:00": datetime(2023, 9, 26, 8, tzinfo=ARMENIA),
    "28 Sep 12:00 (peak)": datetime(2023, 9, 28, 12, tzinfo=ARMENIA),
    "now": None,
}
WARM_CALLS = 20

FULL = {"people": 1_000_000, "repeat": 5}
SMOKE = {"people": 3000, "repeat": 2}


# --- the children: one database, inside Django ---------------------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.settings")
    import django

    django.setup()


def load(influx_file: Path) -> dict[str, Any]:
    """Register the influx, link its duplicates as a batch run would, return what was loaded."""
    _django()
    from django.db import connection
    from django.utils import timezone

    from haven.identity import batch
    from haven.identity.models import LinkageRun
    from haven.registry.models import Person
    from haven.simulate.influx import Influx
    from haven.simulate.loader import ensure_sites, load_influx, simulator_user

    with influx_file.open("rb") as handle:
        influx: Influx = pickle.load(handle)  # noqa: S301 - written by our own parent process
    acting = simulator_user()
    ensure_sites(acting_user=acting)
    print(f"{connection.vendor}: registering the influx ...", file=sys.stderr, flush=True)
    report = load_influx(influx, acting_user=acting, progress=True)
    if report.problems:
        raise SystemExit(f"the load refused households: {report.problems[:5]}")

    # The simulator's truth as a batch run's clusters: each person's records get one identity.
    records: dict[int, list[str]] = defaultdict(list)
    for person_uuid, true_person in influx.truth_rows():
        records[true_person].append(person_uuid)
    shared = [uuids for uuids in records.values() if len(uuids) > 1]
    wanted = [u for uuids in shared for u in uuids]
    pk_of: dict[str, int] = {}
    for start in range(0, len(wanted), 20_000):
        chunk = wanted[start : start + 20_000]
        pk_of.update(
            (str(u), pk)
            for u, pk in Person.objects.filter(uuid__in=chunk).values_list("uuid", "pk")
        )
    starter = json.loads((REPO / "haven/identity/data/starter_model.json").read_text("utf-8"))
    model = batch.save_model(starter, records=0, labels=0, user=None)
    run_row = LinkageRun.objects.create(started_at=timezone.now(), model=model)
    linked = batch._link_clusters(  # the batch's own writer of identities and Link rows
        [[pk_of[u] for u in uuids] for uuids in shared], run=run_row, user=None
    )
    analyzed = "no ANALYZE (Haven runs none on SQLite)"
    if connection.vendor == "postgresql":
        # What autovacuum does within minutes of a load this size (planner statistics, the
        # visibility map for index-only scans); done now so that every run measures the same.
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        analyzed = f"VACUUM ANALYZE after the load ({time.perf_counter() - started:.0f} s)"
    return {
        "load_seconds": report.seconds,
        "records": sum(len(r.payload["members"]) for r in influx.registrations),
        "people": influx.people,
        "crossed": sum(c.payload["people"] for c in influx.crossings),
        "linked": linked,
        "analyzed": analyzed,
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def measure(repeat: int) -> dict[str, Any]:
    """Time the figures on the database this process is configured for (nothing is written)."""
    _django()
    from django.db import connection
    from django.utils import timezone

    from haven.registry.models import Household, Person
    from haven.reports import exports, figures

    with connection.cursor() as cursor:
        cursor.execute(
            "SHOW server_version"
            if connection.vendor == "postgresql"
            else "SELECT sqlite_version()"
        )
        product = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
        version = f"{product} {cursor.fetchone()[0]}"
    result: dict[str, Any] = {
        "vendor": connection.vendor,
        "version": version,
        "persons": Person.objects.count(),
        "households": Household.objects.count(),
        "cold_ms": {},
        "warm_ms": {},
        "figures": {},
    }
    for label, moment in MOMENTS.items():
        cold = []
        for _ in range(repeat):
            figures.clear_cache()
            at = moment or timezone.now()
            started = time.perf_counter()
            situation = figures.situation_at(at)
            cold.append(time.perf_counter() - started)
        warm = []
        for _ in range(WARM_CALLS):
            at = moment or timezone.now()
            started = time.perf_counter()
            again = figures.situation_at(at)
            warm.append(time.perf_counter() - started)
        if moment is not None and again != situation:
            raise SystemExit(f"a warm call at {label} gave other figures than the cold one")
        result["cold_ms"][label] = [_ms(s) for s in cold]
        result["warm_ms"][label] = [_ms(s) for s in warm]
        result["figures"][label] = {
            "crossings": situation.crossings,
            "registrations": situation.registrations,
            "unique_people": situation.unique_people,
            "households": situation.households,
            "backlog": situation.backlog,
        }

    first = datetime(2023, 9, 24, 0, tzinfo=ARMENIA)
    last = datetime(2023, 10, 8, 0, tzinfo=ARMENIA)
    figures.clear_cache()
    started = time.perf_counter()
    line = figures.timeline(first, last, timedelta(hours=1))
    result["timeline_ms"] = _ms(time.perf_counter() - started)
    result["timeline_steps"] = len(line.moments)
    result["timeline_max_backlog"] = max(line.backlog)

    situation = figures.situation_at(timezone.now())
    export_ms: dict[str, float] = {}
    for name in exports.NAMES:
        for fmt in exports.FORMATS:
            started = time.perf_counter()
            exported = exports.export(name, fmt, situation)
            export_ms[f"{name}.{fmt}"] = _ms(time.perf_counter() - started)
            if not exported.content:
                raise SystemExit(f"the export {name}.{fmt} is empty")
    started = time.perf_counter()
    exports.partner_situation(situation)
    export_ms["partner situation"] = _ms(time.perf_counter() - started)
    result["export_ms"] = export_ms

    # The situation report: its figures, the report before it, the timeline and the forecast
    # (what the dashboard and the page build), cold and again; then its PDF.
    from haven.reports.sitrep import build_report, render_pdf

    moment = MOMENTS["26 Sep 08:00"] or timezone.now()
    figures.clear_cache()
    started = time.perf_counter()
    build_report(moment)
    result["sitrep_cold_ms"] = _ms(time.perf_counter() - started)
    started = time.perf_counter()
    report = build_report(moment)
    result["sitrep_warm_ms"] = _ms(time.perf_counter() - started)
    started = time.perf_counter()
    pdf = render_pdf(report)
    result["sitrep_pdf_ms"] = _ms(time.perf_counter() - started)
    result["sitrep_pdf_bytes"] = len(pdf)

    figures.clear_cache()
    tracemalloc.start()
    figures.situation_at(timezone.now())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result["python_peak_mb"] = round(peak / 1e6, 1)
    result["max_rss_mb"] = round(peak_rss_kb() / 1e3, 1)
    return result


def peak_rss_kb() -> float:
    """This process's peak resident memory in kB: Linux's VmHWM, which starts afresh with the
    program (ru_maxrss would also count the parent's memory at the fork before the exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # kB on Linux


# --- the parent: children per database, and the table --------------------------------------------


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    command = [PYTHON, str(Path(__file__).resolve()), *args]
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments, no shell
            command, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, check=False
        )
    except KeyboardInterrupt:
        raise BenchError("interrupted") from None
    if done.returncode != 0:
        raise BenchError(f"{' '.join(args[:1])} failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def figures_of(kind: str, loaded: dict[str, Any] | None, result: dict[str, Any]) -> list[Figure]:
    rows: list[Figure] = []
    persons = result["persons"]
    if loaded is not None:
        rows.append(
            Figure(
                "load (load_influx) and links",
                kind,
                f"{loaded['load_seconds']:.0f} s",
                "",
                f"{persons:,} persons in {result['households']:,} households;"
                f" {loaded['linked']:,} records linked to their person; {loaded['analyzed']};"
                f" {result['version']}",
            )
        )
    for label in MOMENTS:
        cold, warm = result["cold_ms"][label], result["warm_ms"][label]
        got = result["figures"][label]
        rows.append(
            Figure(
                f"situation_at cold, {label}",
                kind,
                f"{statistics.median(cold):.0f} ms",
                f"<= {COLD_TARGET_MS:.0f} ms",
                f"median of {len(cold)}, worst {max(cold):.0f} ms; {persons:,} persons;"
                f" {got['registrations']:,} registered, {got['unique_people']:,} unique,"
                f" {got['crossings']:,} crossed, backlog {got['backlog']:,}",
                statistics.median(cold) <= COLD_TARGET_MS,
            )
        )
        rows.append(
            Figure(
                f"situation_at warm, {label}",
                kind,
                f"{statistics.median(warm):.1f} ms",
                f"<= {WARM_TARGET_MS:.0f} ms",
                f"median of {len(warm)}, worst {max(warm):.1f} ms; nothing changed",
                statistics.median(warm) <= WARM_TARGET_MS,
            )
        )
    rows.append(
        Figure(
            "timeline cold (hourly)",
            kind,
            f"{result['timeline_ms']:.0f} ms",
            "",
            f"{result['timeline_steps']} steps, 24 Sep – 8 Oct; largest backlog"
            f" {result['timeline_max_backlog']:,}",
        )
    )
    exported = result["export_ms"]
    rows.append(
        Figure(
            "exports (3 × CSV and XLSX)",
            kind,
            f"{sum(v for k, v in exported.items() if '.' in k):.0f} ms",
            "",
            "; ".join(f"{k} {v:.0f} ms" for k, v in exported.items()),
        )
    )
    rows.append(
        Figure(
            "situation report built (figures, previous, timeline, forecast)",
            kind,
            f"{result['sitrep_cold_ms']:.0f} ms",
            "",
            f"26 Sep 08:00, cold; {result['sitrep_warm_ms']:.0f} ms again with nothing changed"
            " (the figures cached, the timeline and the forecast computed anew)",
        )
    )
    rows.append(
        Figure(
            "situation report as PDF (WeasyPrint)",
            kind,
            f"{result['sitrep_pdf_ms']:.0f} ms",
            f"<= {PDF_TARGET_MS:.0f} ms",
            f"{result['sitrep_pdf_bytes']:,} bytes, six charts",
            result["sitrep_pdf_ms"] <= PDF_TARGET_MS,
        )
    )
    rows.append(
        Figure(
            "memory",
            kind,
            f"{result['max_rss_mb']:.0f} MB",
            "",
            "peak resident memory (VmHWM) of the measuring process; Python allocations during"
            f" one cold situation_at: {result['python_peak_mb']:.1f} MB peak",
        )
    )
    return rows


def check(loaded: dict[str, Any], result: dict[str, Any]) -> None:
    """The figures after the last registration against what the simulation sent."""
    now = result["figures"]["now"]
    expected = {
        "registrations": loaded["records"],
        "unique_people": loaded["people"],
        "crossings": loaded["crossed"],
    }
    wrong = {k: (now[k], v) for k, v in expected.items() if now[k] != v}
    if wrong:
        raise BenchError(f"figures disagree with the simulation (got, expected): {wrong}")


def bench_database(
    kind: str, pg_url: str, influx_file: Path, args: argparse.Namespace, root: Path
) -> tuple[list[Figure], dict[str, Any]]:
    work = root / kind
    work.mkdir()
    with database(kind, work, pg_url) as url:
        env = haven_env(database_url=url, var_dir=work / "var")
        run([PYTHON, "-m", "haven", "migrate", "--no-input"], env, timeout=300)
        loaded = _child(["--load", str(influx_file)], env)
        result = _child(["--measure", "--repeat", str(args.repeat)], env)
    check(loaded, result)
    return figures_of(kind, loaded, result), result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a small run that takes seconds")
    parser.add_argument("--people", type=int, help="people who arrive (1,000,000; smoke 3,000)")
    parser.add_argument("--repeat", type=int, help="cold runs per moment (5; smoke 2)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--database-url", help="measure this filled database instead (nothing is written)"
    )
    parser.add_argument("--load", type=Path, help=argparse.SUPPRESS)  # child: fill a database
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # child
    args = parser.parse_args(argv)
    preset = SMOKE if args.smoke else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.load is not None:
        print(json.dumps(load(args.load)))
        return 0
    if args.measure:
        print(json.dumps(measure(args.repeat)))
        return 0
    if args.people < 1 or args.repeat < 1:
        parser.error("--people and --repeat must be positive")

    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    began = time.perf_counter()
    figures: list[Figure] = []
    results: dict[str, Any] = {}
    if args.database_url:
        env = haven_env(database_url=args.database_url, var_dir=Path(tempfile.mkdtemp()))
        result = _child(["--measure", "--repeat", str(args.repeat)], env)
        results[result["vendor"]] = result
        figures += figures_of(result["vendor"], None, result)
    else:
        kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
        unknown = set(kinds) - {"sqlite", "postgresql"}
        if unknown or not kinds:
            parser.error(f"--databases takes sqlite and/or postgresql, not {', '.join(unknown)}")
        pg_url = _loopback_url(
            os.environ.get("HAVEN_BENCH_PG_URL")
            or os.environ.get("HAVEN_TEST_POSTGRES_URL")
            or DEFAULT_PG_URL
        )
        root = Path(tempfile.mkdtemp(prefix="haven-bench-reports-"))
        try:
            print(f"simulating {args.people:,} people ...", file=sys.stderr, flush=True)
            sys.path.insert(0, str(REPO))
            from haven.simulate.influx import simulate_influx  # plain Python: no settings

            influx_file = root / "influx.pickle"
            with influx_file.open("wb") as handle:
                pickle.dump(
                    simulate_influx(people=args.people, seed=args.seed),
                    handle,
                    protocol=pickle.HIGHEST_PROTOCOL,
                )
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
