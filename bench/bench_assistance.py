"""Paying a million people: entitlements, the payment list, the bank's files, and their memory.

Prints one table (measure | database | value | target | note). For SQLite and for PostgreSQL in
turn, a fresh database is filled as bench_reports.py fills it (its own `load`: the simulator's
influx through `load_influx`, the duplicate records linked to their person, VACUUM ANALYZE on
PostgreSQL), then fresh child processes, one a step, measure on it:

- `entitlements.compute` for a cash programme paid once per person with no other rule (every
  identity is owed), against the issue's 60 s for a million;
- `payments.create_list` (the payment-once gate) for it;
- the list exported as CSV and as XLSX (`haven.assistance.export.write_csv`/`write_xlsx`, to a
  file), each in its own process: the seconds, the file's size, and the peak of the process's own
  memory above what it held before the export (RssAnon, read every 20 ms: VmRSS and VmHWM would
  count the pages of SQLite's memory-mapped database file too), after the first 100,000 rows (a
  tenth of the list when it is smaller) and at the end. Memory is flat when the two are the same
  (a row is "met" within 16 MB);
- the bank's reconciliation file of the whole list (every payment paid, made from the CSV) read
  by `haven.assistance.reconcile`: seconds and peak memory.

The rows written are checked: as many as the list has payments, one reconciled for each.

    .venv/bin/python bench/bench_assistance.py                      # full: 1,000,000 people
    .venv/bin/python bench/bench_assistance.py --smoke              # 2,000 people; what CI runs
    .venv/bin/python bench/bench_assistance.py --database-url URL   # a database already filled

With --database-url the steps run on that database, and write to it (a programme `bench-…`, its
entitlements, a payment list, its payments settled, audit rows): give it a copy.

Django reads its settings once per process, so each step runs in a child process (this script
with --load, --pay, --export or --reconcile) that prints its results as JSON.
"""

import argparse
import csv
import io
import json
import os
import pickle
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
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

ENTITLE_TARGET_S = 60.0  # issue 6: entitlements for 1,000,000 people
FULL = {"people": 1_000_000}
SMOKE = {"people": 2_000}
CHECKPOINT_ROWS = 100_000
AMOUNT = 100_000


# --- the children: one step on one database, inside Django ---------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.settings")
    import django

    django.setup()


def _memory_kb(field: str) -> float:
    """A line of /proc/self/status in kB (Linux): RssAnon is the process's own memory now
    (heap and stacks; not the pages of files it maps, such as SQLite's memory-mapped database,
    which VmRSS and VmHWM count)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return float(line.split()[1])
    return 0.0


class PeakMemory:
    """The largest RssAnon seen, read every 20 ms by a thread and whenever `read` is called."""

    def __init__(self) -> None:
        self.baseline = _memory_kb("RssAnon")
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.read()

    def read(self) -> float:
        """The peak so far above the baseline, in MB."""
        self.peak = max(self.peak, _memory_kb("RssAnon"))
        return _mb(self.peak - self.baseline)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.read()


def _mb(kb: float) -> float:
    return round(kb / 1024, 1)


def _version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


def load_database(influx_file: Path) -> dict[str, Any]:
    """Fill the database as bench_reports.py does (its own load)."""
    from bench_reports import load

    return load(influx_file)


def pay() -> dict[str, Any]:
    """A programme every identity qualifies for, its entitlements and its payment list."""
    _django()
    from django.db import connection

    from haven.assistance import actions, entitlements, payments
    from haven.registry.models import Person
    from haven.simulate.loader import simulator_user

    acting = simulator_user()
    code = f"bench-{secrets.token_hex(3)}"  # a new benefit each run: a filled database reruns
    programme = actions.add_programme(
        data=actions.parse_programme(
            {
                "code": code,
                "name": "Benchmark: one-off support on arrival",
                "kind": "cash",
                "amount": AMOUNT,
                "frequency": "once",
                "starts_on": "2023-10-01",
            }
        ),
        acting_user=acting,
    )
    records = Person.objects.count()
    memory = PeakMemory()
    started = time.perf_counter()
    entitlement_run = entitlements.compute(programme=programme, period=1, acting_user=acting)
    entitle_seconds = time.perf_counter() - started
    entitle_peak = memory.stop()
    memory = PeakMemory()
    started = time.perf_counter()
    payment_list = payments.create_list(programme=programme, period=1, acting_user=acting)
    list_seconds = time.perf_counter() - started
    list_peak = memory.stop()
    return {
        "vendor": connection.vendor,
        "version": _version(),
        "records": records,
        "programme": code,
        "entitle_seconds": round(entitle_seconds, 2),
        "entitle_records": entitlement_run.records,
        "identities": entitlement_run.identities,
        "held": entitlement_run.held,
        "entitle_peak_mb": entitle_peak,
        "list_seconds": round(list_seconds, 2),
        "list_peak_mb": list_peak,
        "list_number": payment_list.number,
        "payments": payment_list.payments,
        "total_amount": payment_list.total_amount,
        "left_off": payment_list.left_off,
    }


def export_list(number: int, fmt: str, out: Path) -> dict[str, Any]:
    """Export the list to `out`, reading this process's memory as the rows pass."""
    _django()
    from haven.assistance import export
    from haven.assistance.models import PaymentList
    from haven.simulate.loader import simulator_user

    acting = simulator_user()
    payment_list = PaymentList.objects.select_related("programme").get(number=number)
    checkpoint = min(CHECKPOINT_ROWS, max(1, payment_list.payments // 10))
    seen = {"rows": 0, "checkpoint_peak_mb": 0.0}
    original = export.rows
    memory = PeakMemory()

    def counted(of: Any) -> Iterator[tuple[Any, ...]]:
        for row in original(of):
            seen["rows"] += 1
            if seen["rows"] == checkpoint:
                seen["checkpoint_peak_mb"] = memory.read()
            yield row

    export.rows = counted  # type: ignore[assignment] # the bench counts rows as they pass
    started = time.perf_counter()
    with out.open("wb") as handle:
        if fmt == "csv":
            export.write_csv(payment_list, handle, acting_user=acting)
        else:
            export.write_xlsx(payment_list, handle, acting_user=acting)
    seconds = time.perf_counter() - started
    end_peak = memory.stop()
    written = _written_rows(out, fmt)
    if written is not None and written != payment_list.payments:
        raise SystemExit(f"{fmt}: {written} rows written for {payment_list.payments} payments")
    return {
        "format": fmt,
        "seconds": round(seconds, 2),
        "rows": seen["rows"],
        "bytes": out.stat().st_size,
        "checkpoint_rows": checkpoint,
        "checkpoint_peak_mb": seen["checkpoint_peak_mb"],
        "end_peak_mb": end_peak,
        "baseline_mb": _mb(memory.baseline),
    }


def _written_rows(out: Path, fmt: str) -> int | None:
    """The data rows in the file (XLSX read back only when small: it takes long)."""
    if fmt == "csv":
        with out.open("rb") as handle:
            return sum(1 for _ in handle) - 1
    if out.stat().st_size > 5_000_000:
        return None
    from openpyxl import load_workbook

    workbook = load_workbook(out, read_only=True)
    rows = sum(1 for _ in workbook.worksheets[0].iter_rows()) - 1
    workbook.close()
    return rows


def reconcile_list(number: int, exported_csv: Path) -> dict[str, Any]:
    """The bank's file of the whole list, every payment paid, made from the exported CSV."""
    _django()
    from haven.assistance.models import PaymentList
    from haven.assistance.reconcile import reconcile
    from haven.simulate.loader import simulator_user

    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["reference", "amount", "status"])
    with exported_csv.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            writer.writerow([row["reference"], row["amount"], "paid"])
    data = out.getvalue().encode("utf-8")
    del out
    payment_list = PaymentList.objects.get(number=number)
    memory = PeakMemory()
    started = time.perf_counter()
    result = reconcile(
        payment_list=payment_list,
        data=data,
        filename="bank.csv",
        encoding=None,
        acting_user=simulator_user(),
    )
    seconds = time.perf_counter() - started
    peak = memory.stop()
    if result.paid != payment_list.payments or not result.reconciled:
        raise SystemExit(f"reconciled {result.paid} of {payment_list.payments} payments")
    return {
        "seconds": round(seconds, 2),
        "rows": result.rows,
        "paid": result.paid,
        "bytes": len(data),
        "peak_mb": peak,
    }


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


def measure(env: dict[str, str], work: Path) -> dict[str, Any]:
    """The steps on the database of `env`, each in a fresh process."""
    print("entitlements and the payment list ...", file=sys.stderr, flush=True)
    paid = _child(["--pay"], env)
    number = str(paid["list_number"])
    exports: dict[str, Any] = {}
    for fmt in ("csv", "xlsx"):
        print(f"exporting as {fmt} ...", file=sys.stderr, flush=True)
        out = work / f"list.{fmt}"
        exports[fmt] = _child(["--export", fmt, "--list", number, "--out", str(out)], env)
    print("reconciling ...", file=sys.stderr, flush=True)
    settled = _child(["--reconcile", number, "--out", str(work / "list.csv")], env)
    for fmt in ("csv", "xlsx"):
        (work / f"list.{fmt}").unlink(missing_ok=True)
    return {**paid, "exports": exports, "reconcile": settled}


def figures_of(kind: str, loaded: dict[str, Any] | None, result: dict[str, Any]) -> list[Figure]:
    rows: list[Figure] = []
    if loaded is not None:
        rows.append(
            Figure(
                "load (load_influx) and links",
                kind,
                f"{loaded['load_seconds']:.0f} s",
                "",
                f"{loaded['records']:,} records of {loaded['people']:,} people;"
                f" {loaded['linked']:,} records linked to their person; {loaded['analyzed']}",
            )
        )
    seconds = result["entitle_seconds"]
    rows.append(
        Figure(
            "entitlements.compute",
            kind,
            f"{seconds:.1f} s",
            f"<= {ENTITLE_TARGET_S:.0f} s",
            f"{result['entitle_records']:,} records read, {result['identities']:,} identities"
            f" entitled, {result['held']:,} held; peak memory +{result['entitle_peak_mb']:.0f} MB;"
            f" {result['version']}",
            seconds <= ENTITLE_TARGET_S,
        )
    )
    rows.append(
        Figure(
            "payments.create_list",
            kind,
            f"{result['list_seconds']:.1f} s",
            "",
            f"list {result['list_number']}: {result['payments']:,} payments,"
            f" {result['total_amount']:,} AMD; left off {result['left_off'] or 'none'};"
            f" peak memory +{result['list_peak_mb']:.0f} MB",
        )
    )
    for fmt, done in result["exports"].items():
        rows.append(
            Figure(
                f"export {fmt.upper()}",
                kind,
                f"{done['seconds']:.1f} s",
                "",
                f"{done['rows']:,} rows, {done['bytes'] / 1e6:.1f} MB;"
                f" {done['rows'] / max(done['seconds'], 1e-9):,.0f} rows/s",
            )
        )
        rows.append(
            Figure(
                f"export {fmt.upper()} memory",
                kind,
                f"+{done['end_peak_mb']:.1f} MB",
                "flat",
                f"peak of the process's own memory (RssAnon, sampled) above the"
                f" {done['baseline_mb']:.0f} MB before the export:"
                f" +{done['checkpoint_peak_mb']:.1f} MB after {done['checkpoint_rows']:,} rows,"
                f" +{done['end_peak_mb']:.1f} MB after all {done['rows']:,}",
                done["end_peak_mb"] <= done["checkpoint_peak_mb"] + 16,
            )
        )
    settled = result["reconcile"]
    rows.append(
        Figure(
            "reconcile (the whole list paid)",
            kind,
            f"{settled['seconds']:.1f} s",
            "",
            f"{settled['rows']:,} rows, a {settled['bytes'] / 1e6:.1f} MB CSV; peak memory"
            f" +{settled['peak_mb']:.0f} MB",
        )
    )
    return rows


def bench_database(
    kind: str, pg_url: str, influx_file: Path, root: Path
) -> tuple[list[Figure], dict[str, Any]]:
    work = root / kind
    work.mkdir()
    with database(kind, work, pg_url) as url:
        env = haven_env(database_url=url, var_dir=work / "var")
        run([PYTHON, "-m", "haven", "migrate", "--no-input"], env, timeout=300)
        print(f"{kind}: filling the database ...", file=sys.stderr, flush=True)
        loaded = _child(["--load", str(influx_file)], env)
        result = measure(env, work)
    if result["entitle_records"] != loaded["records"]:
        raise BenchError(
            f"compute read {result['entitle_records']:,} records of {loaded['records']:,}"
        )
    if result["identities"] != loaded["people"] or result["payments"] != loaded["people"]:
        raise BenchError(
            f"{result['identities']:,} entitled and {result['payments']:,} listed, for"
            f" {loaded['people']:,} people"
        )
    return figures_of(kind, loaded, result), {"loaded": loaded, **result}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a small run that takes seconds")
    parser.add_argument("--people", type=int, help="people who arrive (1,000,000; smoke 2,000)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--database-url", help="run on this filled database instead (it is written to)"
    )
    # The children: one step each.
    parser.add_argument("--load", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pay", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--export", choices=["csv", "xlsx"], help=argparse.SUPPRESS)
    parser.add_argument("--reconcile", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--list", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.people is None:
        args.people = (SMOKE if args.smoke else FULL)["people"]
    if args.load is not None:
        print(json.dumps(load_database(args.load)))
        return 0
    if args.pay:
        print(json.dumps(pay()))
        return 0
    if args.export is not None:
        print(json.dumps(export_list(args.list, args.export, args.out)))
        return 0
    if args.reconcile is not None:
        print(json.dumps(reconcile_list(args.reconcile, args.out)))
        return 0
    if args.people < 1:
        parser.error("--people must be positive")

    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    began = time.perf_counter()
    figures: list[Figure] = []
    results: dict[str, Any] = {}
    root = Path(tempfile.mkdtemp(prefix="haven-bench-assistance-"))
    try:
        if args.database_url:
            env = haven_env(database_url=args.database_url, var_dir=root / "var")
            result = measure(env, root)
            results[result["vendor"]] = result
            figures += figures_of(result["vendor"], None, result)
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
                kinds, pg_url, lambda kind: bench_database(kind, pg_url, influx_file, root)
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
