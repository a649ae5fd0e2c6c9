"""Registration performance: batch API throughput, single-POST latency, `haven demo` start-up.

Prints one table (measure | database | value | target | note). Everything runs against real,
separate processes on loopback: a gunicorn server per database (a fresh SQLite file and a fresh
PostgreSQL database that is dropped afterwards), stdlib HTTP clients in threads, and `haven demo`
in its own empty var directory.

    .venv/bin/python bench/bench_registration.py                 # the full run (100,000 persons)
    .venv/bin/python bench/bench_registration.py --smoke         # seconds; what CI runs
    .venv/bin/python bench/bench_registration.py --json out.json # also write the figures

PostgreSQL is the server at HAVEN_BENCH_PG_URL, else HAVEN_TEST_POSTGRES_URL (set by scripts/test),
else postgres://postgres@127.0.0.1:5432; the benchmark creates its own database there
(haven_bench_<random>, through the server's `postgres` database) and drops it at the end. When no
server answers, the table says so and the PostgreSQL rows are skipped.
"""

import argparse
import http.client
import json
import os
import platform
import queue
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
DBSIDE = Path(__file__).resolve().parent / "_dbside.py"
PYTHON = sys.executable
LOOPBACK = "127.0.0.1"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432"

BATCH_TARGET = 5000.0  # persons/s (issue 2)
P99_TARGET_MS = 100.0  # single-household POST with 20 concurrent clients (issue 2)
DEMO_TARGET_S = 120.0  # "fast enough to start in under two minutes" (issue 2)

# Sizes of a full run and of a smoke run (seconds; what CI runs so that this cannot rot).
FULL: dict[str, int | None] = {
    "persons": 100_000,
    "requests": 2000,
    "paced_requests": 600,
    "demo_people": None,  # the demo's own default
}
SMOKE: dict[str, int | None] = {
    "persons": 2000,
    "requests": 100,
    "paced_requests": 20,
    "demo_people": 500,
}

# The production server for a 2-core machine: one gthread worker process per core (the work is
# CPU-bound Python, so more processes only add switching: 4 workers measured slower, with longer
# tails, than 2), threads to overlap the waits on the database, and idle keep-alive connections
# cost no worker.
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 4


class BenchError(Exception):
    """Something in the set-up failed; the message says what."""


@dataclass
class Figure:
    measure: str
    database: str
    value: str
    target: str
    note: str
    met: bool | None = None
    numbers: dict[str, Any] = field(default_factory=dict)


# --- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def haven_env(*, database_url: str | None, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env["HAVEN_VAR_DIR"] = str(var_dir)
    env["HAVEN_DEBUG"] = "false"
    env["DJANGO_SETTINGS_MODULE"] = "haven.settings"
    if database_url is not None:
        env["HAVEN_DATABASE_URL"] = database_url
    return env


def run(cmd: list[str], env: dict[str, str], *, timeout: float) -> str:
    """Run a command to completion; its stdout, or BenchError with its output."""
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments, no shell
            cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(cmd[1:4])} took over {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise BenchError(f"{' '.join(cmd[1:4])} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def dbside(args: list[str], env: dict[str, str], *, timeout: float) -> dict[str, Any]:
    out = run([PYTHON, str(DBSIDE), *args], env, timeout=timeout)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def stop_group(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """Stop a process started in its own session, and everything it started."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with suppress(ProcessLookupError):  # children left behind by a parent that already exited
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=grace)


def http_status(port: int, path: str, *, timeout: float = 2.0) -> int | None:
    """The status of GET path, or None when nothing answers yet."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


@dataclass(frozen=True)
class Server:
    workers: int
    threads: int

    def describe(self) -> str:
        return f"gunicorn haven.wsgi -k gthread -w {self.workers} --threads {self.threads}"


@dataclass(frozen=True)
class Running:
    port: int
    session: int  # the server's session id: the master's pid, shared by its workers


def cpu_seconds(session: int) -> float | None:
    """User + system CPU time used so far by the processes of a session (Linux /proc), or None.

    The server's own CPU per request does not depend on what else runs on the machine, unlike
    the latencies, so it is a figure to compare between runs on a busy machine.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return None
    for entry in entries:
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])
    return total / tick


@contextmanager
def gunicorn(
    server: Server, env: dict[str, str], log: Path, *, timeout: float = 60.0
) -> Iterator[Running]:
    """A production gunicorn on a free loopback port, stopped (with its workers) on exit."""
    port = free_port()
    cmd = [
        PYTHON, "-m", "gunicorn", "haven.wsgi",
        "--bind", f"{LOOPBACK}:{port}",
        "--workers", str(server.workers),
        "--worker-class", "gthread",
        "--threads", str(server.threads),
        "--timeout", "120",
        "--graceful-timeout", "5",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments, no shell
            cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while http_status(port, "/api/openapi.json") is None:
            if process.poll() is not None:
                raise BenchError(f"gunicorn exited ({process.returncode}):\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn did not answer within {timeout:.0f} s")
            time.sleep(0.1)
        yield Running(port, process.pid)
    finally:
        stop_group(process)


# --- databases -----------------------------------------------------------------------------------


def _loopback_url(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise BenchError(f"the PostgreSQL URL must name a loopback server, not {host!r}")
    return url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _pg_admin(url: str, statement: str, database_name: str | None = None) -> None:
    """Run `statement` ({} stands for the quoted database_name) in the server's own database.

    Not the URL's database: it may not exist (scripts/test passes the name that pytest-django
    derives its test database from).
    """
    import psycopg
    from psycopg import sql

    query = sql.SQL(statement).format(sql.Identifier(database_name or ""))
    with psycopg.connect(
        _with_database(url, "postgres"), autocommit=True, connect_timeout=5
    ) as conn:
        conn.execute(query)


def pg_available(url: str) -> str | None:
    """None when a PostgreSQL server answers at url, otherwise why not."""
    try:
        _pg_admin(url, "SELECT 1")
    except Exception as exc:  # psycopg raises many kinds: refused, auth, DNS
        return str(exc).strip().splitlines()[0]
    return None


@contextmanager
def database(kind: str, work: Path, pg_url: str) -> Iterator[str | None]:
    """A fresh, empty database of `kind`, as a HAVEN_DATABASE_URL; dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{work / 'haven.sqlite3'}"
        return
    name = f"haven_bench_{secrets.token_hex(4)}"
    _pg_admin(pg_url, "CREATE DATABASE {}", name)
    try:
        yield _with_database(pg_url, name)
    finally:
        _pg_admin(pg_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


# --- payloads ------------------------------------------------------------------------------------


@dataclass
class Payloads:
    batches: list[bytes]  # request bodies, `batch_size` households each
    batch_households: int
    batch_persons: int
    singles: list[bytes]  # one household each, for the closed-loop clients
    single_persons: int
    paced: list[bytes]  # one household each, for the paced clients
    paced_persons: int

    @property
    def households(self) -> int:
        return self.batch_households + len(self.singles) + len(self.paced)

    @property
    def persons(self) -> int:
        return self.batch_persons + self.single_persons + self.paced_persons


def _head_first(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(members, key=lambda m: m.get("relationship") != "head")


def make_payloads(
    *, persons: int, singles: int, paced: int, batch_size: int, seed: int, site: str, work: Path
) -> Payloads:
    """Simulated households: exactly `persons` people for the batches, then `singles` and `paced`
    households for the single POSTs.

    The last batch household is cut (keeping its head) so that the batches hold exactly `persons`.
    Every household is registered at the benchmark's site by the benchmark's registrar.
    """
    # Households average about four people; ask for enough that both parts are filled.
    wanted = persons + (singles + paced) * 6 + 100
    out = work / "payloads.jsonl"
    env = haven_env(database_url=f"sqlite:///{work / 'unused.sqlite3'}", var_dir=work / "var")
    dbside(
        ["payloads", "--people", str(wanted), "--seed", str(seed), "--out", str(out)],
        env,
        timeout=600,
    )
    households: list[dict[str, Any]] = []
    single_households: list[dict[str, Any]] = []
    taken = 0
    with out.open(encoding="utf-8") as lines:
        for line in lines:
            household = json.loads(line)
            household["site"] = site
            if taken < persons:
                room = persons - taken
                if len(household["members"]) > room:
                    household["members"] = _head_first(household["members"])[:room]
                households.append(household)
                taken += len(household["members"])
            elif len(single_households) < singles + paced:
                single_households.append(household)
            else:
                break
    if taken < persons or len(single_households) < singles + paced:
        raise BenchError("the simulator made fewer people than asked for")
    batches = [
        json.dumps({"households": households[i : i + batch_size]}, ensure_ascii=False).encode()
        for i in range(0, len(households), batch_size)
    ]
    closed, opened = single_households[:singles], single_households[singles:]
    return Payloads(
        batches=batches,
        batch_households=len(households),
        batch_persons=taken,
        singles=[json.dumps(h, ensure_ascii=False).encode() for h in closed],
        single_persons=sum(len(h["members"]) for h in closed),
        paced=[json.dumps(h, ensure_ascii=False).encode() for h in opened],
        paced_persons=sum(len(h["members"]) for h in opened),
    )


# --- clients -------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float
    retried: bool


def post(
    conn: http.client.HTTPConnection, path: str, body: bytes, token: str, *, since: float
) -> Answer:
    """POST on a keep-alive connection; `seconds` counts from `since` (perf_counter).

    A dropped connection is retried once: writes are idempotent by UUID, so a retry can never
    register anyone twice.
    """
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    for attempt in (0, 1):
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return Answer(response.status, data, time.perf_counter() - since, attempt == 1)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def run_clients(
    *,
    port: int,
    path: str,
    bodies: list[bytes],
    token: str,
    clients: int,
    timeout: float,
    interval: float | None = None,
) -> tuple[list[Answer], float]:
    """Send `bodies` from `clients` threads, each on its own keep-alive connection.

    Without `interval` each client sends its next request as soon as it has the answer to the
    last (a closed loop: the server sets the pace). With it, each client sends one request every
    `interval` seconds, the clients staggered evenly, and a request's time counts from when it was
    due, so that a server that falls behind is charged for the wait (no coordinated omission).

    Returns the answers in input order and the wall time from the first request to the last answer.
    """
    work: queue.Queue[int] = queue.Queue()
    for index in range(len(bodies)):
        work.put(index)
    answers: list[Answer | None] = [None] * len(bodies)
    failures: list[BaseException] = []
    start = threading.Barrier(clients + 1)
    began = 0.0

    def client(number: int) -> None:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
        start.wait()
        try:
            sent = 0
            while not failures:
                try:
                    index = work.get_nowait()
                except queue.Empty:
                    return
                if interval is None:
                    since = time.perf_counter()
                else:
                    since = began + (sent + number / clients) * interval
                    time.sleep(max(0.0, since - time.perf_counter()))
                answers[index] = post(conn, path, bodies[index], token, since=since)
                sent += 1
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    start.wait()
    rounds = len(bodies) / clients + 1
    deadline = began + timeout * rounds + (interval or 0.0) * rounds
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - began
    if failures:
        raise BenchError(f"a client failed: {failures[0]!r}")
    if any(thread.is_alive() for thread in threads) or any(a is None for a in answers):
        raise BenchError("clients did not finish in time")
    return [a for a in answers if a is not None], elapsed


def warm_up(port: int, token: str, server: Server) -> None:
    """Reach every worker thread once before timing, as a server in service would have been:
    URL resolution, the API schemas and the database connection are made on first use."""
    conns = server.workers * server.threads * 2
    path = "/api/households?limit=1"
    headers = {"Authorization": f"Bearer {token}"}

    def get() -> None:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
        try:
            for _ in range(3):
                conn.request("GET", path, headers=headers)
                conn.getresponse().read()
        finally:
            conn.close()

    threads = [threading.Thread(target=get, daemon=True) for _ in range(conns)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


# --- measures ------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def _cpu_used(server: Running, before: float | None) -> float | None:
    after = cpu_seconds(server.session)
    return None if before is None or after is None else after - before


def _cpu_note(cpu: float | None, count: int, what: str) -> str:
    if cpu is None:
        return ""
    return f"; server CPU {cpu / count * 1000:.2f} ms/{what}"


def measure_batch(
    server: Running, token: str, payloads: Payloads, *, clients: int, database_name: str
) -> Figure:
    cpu_before = cpu_seconds(server.session)
    answers, elapsed = run_clients(
        port=server.port,
        path="/api/households/batch",
        bodies=payloads.batches,
        token=token,
        clients=clients,
        timeout=300,
    )
    cpu = _cpu_used(server, cpu_before)
    totals = {"created": 0, "exists": 0, "rejected": 0}
    refused: list[Any] = []
    for answer in answers:
        if answer.status != 200:
            raise BenchError(f"a batch answered {answer.status}: {answer.body[:300]!r}")
        result = json.loads(answer.body)
        for key in totals:
            totals[key] += int(result[key])
        refused += [r for r in result["results"] if r["status"] != "created"][:3]
    if totals["created"] != payloads.batch_households:
        raise BenchError(
            f"batches created {totals} of {payloads.batch_households} households; e.g. {refused}"
        )
    rate = payloads.batch_persons / elapsed
    per_request = [a.seconds for a in answers]
    return Figure(
        measure="batch API throughput",
        database=database_name,
        value=f"{rate:,.0f} persons/s",
        target=f">= {BATCH_TARGET:,.0f} persons/s",
        note=(
            f"{payloads.batch_persons:,} persons in {payloads.batch_households:,} households,"
            f" {len(answers)} requests, {clients} clients, {elapsed:.1f} s;"
            f" request median {statistics.median(per_request):.2f} s"
            + _cpu_note(cpu, payloads.batch_persons, "person")
        ),
        met=rate >= BATCH_TARGET,
        numbers={
            "persons": payloads.batch_persons,
            "households": payloads.batch_households,
            "requests": len(answers),
            "clients": clients,
            "seconds": elapsed,
            "persons_per_second": rate,
            "request_seconds_median": statistics.median(per_request),
            "request_seconds_max": max(per_request),
            "retries": sum(a.retried for a in answers),
            "answers": totals,
            "server_cpu_seconds": cpu,
        },
    )


def measure_singles(
    server: Running,
    token: str,
    bodies: list[bytes],
    *,
    persons: int,
    clients: int,
    database_name: str,
    interval: float | None = None,
) -> list[Figure]:
    """Single-household POSTs: back to back (the issue's measure), or paced like real desks."""
    cpu_before = cpu_seconds(server.session)
    answers, elapsed = run_clients(
        port=server.port,
        path="/api/households",
        bodies=bodies,
        token=token,
        clients=clients,
        timeout=60,
        interval=interval,
    )
    cpu = _cpu_used(server, cpu_before)
    wrong = [a for a in answers if a.status != 201]
    if wrong:
        raise BenchError(
            f"{len(wrong)} single POSTs did not answer 201, e.g. {wrong[0].status}:"
            f" {wrong[0].body[:300]!r}"
        )
    latencies = sorted(a.seconds for a in answers)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    p50, p95, p99 = cuts[49], cuts[94], cuts[98]
    rate = len(answers) / elapsed
    numbers = {
        "requests": len(answers),
        "clients": clients,
        "interval_seconds": interval,
        "seconds": elapsed,
        "requests_per_second": rate,
        "p50_ms": p50 * 1000,
        "p95_ms": p95 * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": latencies[-1] * 1000,
        "persons": persons,
        "retries": sum(a.retried for a in answers),
        "server_cpu_seconds": cpu,
    }
    if interval is None:
        name = "single POST"
        how = f"{len(answers):,} POSTs, {clients} clients back to back (closed loop), keep-alive"
        target = f"<= {P99_TARGET_MS:.0f} ms"
        met: bool | None = p99 * 1000 <= P99_TARGET_MS
    else:
        name = "paced POST"
        offered = clients / interval
        how = (
            f"{len(answers):,} POSTs, {clients} clients x 1 every {interval:g} s"
            f" ({offered:g} households/s, about {offered * 3600 * persons / len(answers):,.0f}"
            " people/h; the 2023 peak was about 1,000 people/h); timed from when each was due"
        )
        target, met = "", None  # a supplement to the measure, not the target
    return [
        Figure(f"{name} latency p50", database_name, _ms(p50), "", how, None, numbers),
        Figure(f"{name} latency p95", database_name, _ms(p95), "", "", None, {}),
        Figure(
            f"{name} latency p99",
            database_name,
            _ms(p99),
            target,
            f"max {_ms(latencies[-1])}",
            met,
            {},
        ),
        Figure(
            f"{name} throughput",
            database_name,
            f"{rate:,.0f} requests/s",
            "",
            f"{rate * persons / len(answers):,.0f} persons/s"
            + _cpu_note(cpu, len(answers), "request"),
            None,
            {},
        ),
    ]


def bench_database(
    kind: str, pg_url: str, payloads: Payloads, args: argparse.Namespace, root: Path
) -> list[Figure]:
    server = Server(args.workers, args.threads)
    work = root / kind
    work.mkdir()
    with database(kind, work, pg_url) as url:
        env = haven_env(database_url=url, var_dir=work / "var")
        run([PYTHON, "-m", "haven", "migrate", "--no-input"], env, timeout=300)
        token = dbside(["setup"], env, timeout=120)["token"]
        with gunicorn(server, env, work / "gunicorn.log") as running:
            warm_up(running.port, token, server)
            batch = measure_batch(
                running, token, payloads, clients=args.batch_clients, database_name=kind
            )
            singles = measure_singles(
                running,
                token,
                payloads.singles,
                persons=payloads.single_persons,
                clients=args.clients,
                database_name=kind,
            )
            if payloads.paced:
                singles += measure_singles(
                    running,
                    token,
                    payloads.paced,
                    persons=payloads.paced_persons,
                    clients=args.clients,
                    database_name=kind,
                    interval=args.paced_interval,
                )
        stored = dbside(["inspect"], env, timeout=300)
    expected_persons = payloads.persons
    expected_households = payloads.households
    if stored["persons"] != expected_persons or stored["households"] != expected_households:
        raise BenchError(
            f"{kind}: stored {stored['persons']} persons in {stored['households']} households,"
            f" sent {expected_persons} in {expected_households}"
        )
    if (
        stored["register_audit_rows"] != expected_households
        or stored["households_without_audit_row"]
    ):
        raise BenchError(f"{kind}: audit rows do not match the households: {stored}")
    if kind == "sqlite":
        durability = (
            f"SQLite {stored['version']} journal_mode={stored['journal_mode']}"
            f" synchronous={stored['synchronous']}"
        )
    else:
        durability = (
            f"PostgreSQL {stored['version']} synchronous_commit={stored['synchronous_commit']}"
            f" fsync={stored['fsync']}"
        )
    batch.note += (
        f"; verified in the DB: {stored['persons']:,} persons, {stored['register_audit_rows']:,}"
        f" household.register audit rows (one per household); {durability}"
    )
    batch.numbers["stored"] = stored
    return [batch, *singles]


def bench_demo(people: int | None, timeout: float, root: Path) -> Figure:
    """Seconds from starting `haven demo` in an empty var dir to a 200 from /login/."""
    var_dir = root / "demo-var"
    port = free_port()
    cmd = [PYTHON, "-m", "haven", "demo", "--port", str(port)]
    if people is not None:
        cmd += ["--people", str(people)]
    env = haven_env(database_url=None, var_dir=var_dir)
    log = root / "demo.log"
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments, no shell
            cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        while http_status(port, "/login/") != 200:
            if process.poll() is not None:
                raise BenchError(f"haven demo exited ({process.returncode}):\n{log.read_text()}")
            if time.perf_counter() - started > timeout:
                raise BenchError(f"haven demo served no page within {timeout:.0f} s")
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        stop_group(process)
    people_note = f"--people {people}" if people is not None else "the demo's default size"
    return Figure(
        measure="haven demo to a served page",
        database="sqlite",
        value=f"{elapsed:.1f} s",
        target=f"< {DEMO_TARGET_S:.0f} s",
        note=f"empty var dir, {people_note}: migrate, users, simulate, serve; GET /login/ 200",
        met=elapsed < DEMO_TARGET_S,
        numbers={"seconds": elapsed, "people": people},
    )


# --- output --------------------------------------------------------------------------------------


def table(figures: list[Figure]) -> str:
    header = ("measure", "database", "value", "target", "note")
    rows = [header]
    for f in figures:
        status = "" if f.met is None else ("met; " if f.met else "MISSED; ")
        rows.append((f.measure, f.database, f.value, f.target, status + f.note))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        lines.append(" | ".join([*cells, row[4]]).rstrip())
        if number == 0:
            lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 4)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a small run that takes seconds")
    parser.add_argument(
        "--persons", type=int, help="persons sent in batches (100,000; smoke 2,000)"
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="households per request")
    parser.add_argument("--batch-clients", type=int, default=2)
    parser.add_argument("--requests", type=int, help="back-to-back single POSTs (2,000; smoke 100)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent single-POST clients")
    parser.add_argument("--paced-requests", type=int, help="paced single POSTs (600; smoke 20)")
    parser.add_argument(
        "--paced-interval", type=float, default=1.0, help="seconds between a paced client's POSTs"
    )
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="threads per worker")
    parser.add_argument("--demo-people", type=int, help="the demo's own default; smoke 500")
    parser.add_argument("--demo-timeout", type=float, default=300.0)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--no-demo", action="store_true")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    preset = SMOKE if args.smoke else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    unknown = set(kinds) - {"sqlite", "postgresql"}
    if unknown or not kinds:
        parser.error(f"--databases takes sqlite and/or postgresql, not {', '.join(unknown)}")
    counts = (args.persons, args.batch_size, args.batch_clients, args.requests, args.clients)
    if min(*counts, args.workers, args.threads) < 1 or args.paced_requests < 0:
        parser.error("counts must be positive")
    if args.paced_interval <= 0 or args.demo_timeout <= 0:
        parser.error("--paced-interval and --demo-timeout must be positive")
    if args.paced_requests == 1:
        parser.error("--paced-requests must be 0 (none) or at least 2 to give percentiles")
    if args.requests < 2:
        parser.error("--requests must be at least 2 to give percentiles")
    pg_url = _loopback_url(
        os.environ.get("HAVEN_BENCH_PG_URL")
        or os.environ.get("HAVEN_TEST_POSTGRES_URL")
        or DEFAULT_PG_URL
    )

    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    began = time.perf_counter()
    figures: list[Figure] = []
    root = Path(tempfile.mkdtemp(prefix="haven-bench-"))
    try:
        print(f"simulating {args.persons:,} persons + {args.requests:,} households ...", flush=True)
        payloads = make_payloads(
            persons=args.persons,
            singles=args.requests,
            paced=args.paced_requests,
            batch_size=args.batch_size,
            seed=args.seed,
            site="BENCH",
            work=root,
        )
        for kind in kinds:
            if kind == "postgresql":
                problem = pg_available(pg_url)
                if problem is not None:
                    figures.append(
                        Figure("all API measures", kind, "skipped", "", f"no server: {problem}")
                    )
                    continue
            print(f"benchmarking on {kind} ...", flush=True)
            figures += bench_database(kind, pg_url, payloads, args, root)
        if not args.no_demo:
            print("timing haven demo ...", flush=True)
            figures.append(bench_demo(args.demo_people, args.demo_timeout, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    total = time.perf_counter() - began

    server = Server(args.workers, args.threads).describe()
    print()
    print(table(figures))
    print()
    print(f"server: {server}, on {LOOPBACK}; clients: Python http.client threads on this machine")
    print(machine_line(load_before, total))
    if args.json is not None:
        write_json(
            args.json,
            started_at=started_at,
            load_before=load_before,
            total=total,
            figures=figures,
            server=server,
        )
    return 0


def each_database(
    kinds: list[str],
    pg_url: str,
    measure: Callable[[str], tuple[list[Figure], dict[str, Any]]],
) -> tuple[list[Figure], dict[str, Any]]:
    """Run `measure` on each database kind in turn (PostgreSQL skipped, with a row saying why,
    when no server answers); each kind's table is printed as it ends, so a long run stopped
    later keeps what it measured."""
    figures: list[Figure] = []
    results: dict[str, Any] = {}
    for kind in kinds:
        if kind == "postgresql":
            problem = pg_available(pg_url)
            if problem is not None:
                figures.append(Figure("all measures", kind, "skipped", "", f"no server: {problem}"))
                continue
        print(f"benchmarking on {kind} ...", file=sys.stderr, flush=True)
        kind_figures, results[kind] = measure(kind)
        figures += kind_figures
        print(table(kind_figures), file=sys.stderr, flush=True)
    return figures, results


def machine_line(load_before: tuple[float, ...], total: float, extra: str = "") -> str:
    """The closing lines of every benchmark's table: the machine, its load, the command."""
    load_after = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, load average"
        f" {load_before[0]:.1f} before, {load_after[0]:.1f} after{extra}; total {total:.0f} s\n"
        f"command: {' '.join(['python', *sys.argv])}"
    )


def write_json(
    path: Path,
    *,
    started_at: datetime,
    load_before: tuple[float, ...],
    total: float,
    figures: list[Figure],
    **more: Any,
) -> None:
    """A benchmark's figures as a JSON document, with when and where they were measured."""
    document = {
        "started_at": started_at.isoformat(),
        "command": sys.argv,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "seconds": total,
        "figures": [asdict(f) for f in figures],
        **more,
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # Unwind through the `finally` blocks, so that the servers and the database are cleaned up.
    raise SystemExit(128 + signum)


def run_main(main: Callable[[list[str]], int]) -> None:
    """Run a benchmark's main: a SIGTERM unwinds (databases dropped), a BenchError is one line."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run_main(main)
