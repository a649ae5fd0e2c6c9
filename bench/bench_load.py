"""Load: concurrent simulated registrars, mixed reads and writes, against each database.

For SQLite and for PostgreSQL in turn: a fresh database (a new SQLite file in a temporary
HAVEN_VAR_DIR; a scratch PostgreSQL database `haven_load_<random>`, dropped afterwards) is migrated
and pre-filled with a simulated influx (`haven simulate`), then served by `haven serve` (gunicorn,
the production server) on a free loopback port. `--registrars` registrars (threads, each with its
own keep-alive connection) at the six sites of 2023 work for `--seconds` in a closed loop — no
think time, so the figures are the server's capacity, not a desk's pace:

    a household of 1-6 members, simulated (names in Armenian, Cyrillic and Latin scripts; one in
    ten is someone already registered, arriving again), each member checked while typed
    (POST /api/identity/check), then registered (POST /api/households, with the client's UUIDs);
    a search of the site's registrations; one household or person read; one time in ten a
    crossing count (POST /api/crossings).

Half the registrars work in a browser (signed in with a password, a session and its CSRF token;
the search is the Registrations page, the read a person's page); the other half are devices with
a token (`haven token create`; the search is the paged households API, the read a household or a
person by API). Any exception or unexpected status is an error; afterwards every acknowledged
household is looked up in the database (present once, with its members and one audit row), and
the run exits non-zero on any error or mismatch.

    .venv/bin/python bench/bench_load.py                  # 50 registrars x 5 min a database
    .venv/bin/python bench/bench_load.py --smoke          # 10 registrars x 15 s; what CI runs
    .venv/bin/python bench/bench_load.py --databases postgresql --database-url postgres://...

PostgreSQL is the server at --database-url, else HAVEN_BENCH_PG_URL, else HAVEN_TEST_POSTGRES_URL
(set by scripts/test), else postgres://postgres@127.0.0.1:5432; only loopback servers are accepted.
When none answers, the table says so and PostgreSQL is skipped.
"""

import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from bench_registration import (
    DEFAULT_PG_URL,
    LOOPBACK,
    PYTHON,
    REPO,
    BenchError,
    _loopback_url,
    _pg_admin,
    _with_database,
    cpu_seconds,
    dbside,
    free_port,
    haven_env,
    http_status,
    machine_line,
    pg_available,
    run,
    run_main,
    stop_group,
    write_json,
)

FULL = {"registrars": 50, "seconds": 300, "people": 20_000, "pool": 6000}
SMOKE = {"registrars": 10, "seconds": 15, "people": 1000, "pool": 1000}
SITES = ("KOR", "GORIS", "VAYK", "SISIAN", "KAPAN", "YEREVAN")  # haven.simulate.influx.SITES_2023
MAX_MEMBERS = 6
RETURNING_SHARE = 0.1  # registrations of someone already registered (the check finds them)
CROSSING_SHARE = 0.1  # registrations after which a crossing count is recorded
OLDEST = 110  # years: templates with anyone older are left out (Haven refuses over 120)
REQUEST_TIMEOUT = 60.0  # seconds a client waits for an answer before counting an error
SIGN_IN_TIMEOUT = 300.0  # seconds the registrars may take to sign in, all together

SIGN_IN = "sign in (page)"
CHECK = "identity check (API)"
REGISTER = "register household (API)"
SEARCH_PAGE = "search registrations (page)"
LIST_API = "list site's households (API)"
READ_PERSON_PAGE = "read person (page)"
READ_HOUSEHOLD_API = "read household (API)"
READ_PERSON_API = "read person (API)"
CROSSING = "record crossing count (API)"
OPERATIONS = (
    SIGN_IN,
    CHECK,
    REGISTER,
    SEARCH_PAGE,
    LIST_API,
    READ_PERSON_PAGE,
    READ_HOUSEHOLD_API,
    READ_PERSON_API,
    CROSSING,
)
CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


# --- what the registrars type --------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """A household already in the database, as one registrar at its site may read it."""

    household: str
    persons: tuple[str, ...]
    family_name: str


def _age_years(member: dict[str, Any], registered: datetime, now: datetime) -> int:
    if member.get("birth_date"):
        return now.year - int(str(member["birth_date"])[:4])
    return int(member["estimated_age"]) + now.year - registered.year


def read_templates(path: Path, now: datetime) -> list[dict[str, Any]]:
    """Simulated households, head first and at most MAX_MEMBERS, fit to register today."""
    templates = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            household = json.loads(line)
            registered = datetime.fromisoformat(household["registered_at"])
            members = sorted(household["members"], key=lambda m: m["relationship"] != "head")
            members = members[:MAX_MEMBERS]
            if any(_age_years(m, registered, now) > OLDEST for m in members):
                continue
            years = now.year - registered.year
            for member in members:
                if member.get("estimated_age") is not None:
                    member["estimated_age"] = int(member["estimated_age"]) + years
            household["members"] = members
            templates.append(household)
    return templates


def records_by_site(path: Path) -> dict[str, list[Record]]:
    """The pre-filled households, by site: what each site's registrars may search and read."""
    found: dict[str, list[Record]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            household = json.loads(line)
            found.setdefault(household["site"], []).append(
                Record(
                    household=household["uuid"],
                    persons=tuple(m["uuid"] for m in household["members"]),
                    family_name=household["members"][0]["family_name"],
                )
            )
    return found


def new_household(template: dict[str, Any], site: str) -> dict[str, Any]:
    """`template` as a new registration at `site` now: new UUIDs, the same people."""
    members = [{**member, "uuid": str(uuid.uuid4())} for member in template["members"]]
    return {
        **template,
        "uuid": str(uuid.uuid4()),
        "site": site,
        "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "members": members,
    }


def check_body(member: dict[str, Any], household: dict[str, Any]) -> dict[str, Any]:
    """A member as the desk's check is sent it while the registrar types."""
    body = {
        key: member[key]
        for key in ("given_name", "family_name", "patronymic", "sex", "birth_date", "estimated_age")
        if member.get(key) not in (None, "")
    }
    body["origin_settlement"] = household.get("origin_settlement", "")
    return body


# --- one registrar -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    token: str
    site: str
    browser: bool  # signs in with a password and uses pages; otherwise a device with a token


@dataclass
class Tally:
    """One registrar's answers: latencies per operation, errors, what was acknowledged."""

    requests: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)  # of the answered requests
    errors: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    households: dict[str, int] = field(default_factory=dict)  # uuid -> members
    crossings: list[str] = field(default_factory=list)


class Registrar:
    """A registrar's keep-alive HTTP connection, cookies and work loop."""

    def __init__(
        self,
        account: Account,
        *,
        port: int,
        templates: list[dict[str, Any]],
        returning: list[dict[str, Any]],
        records: list[Record],
        seed: int,
    ) -> None:
        self.account = account
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=REQUEST_TIMEOUT)
        self.cookies: dict[str, str] = {}
        self.templates = templates
        self.returning = returning
        self.records = list(records)
        self.rng = random.Random(seed)  # noqa: S311 - a workload, not a secret
        self.tally = Tally()
        self.cursor: str | None = None

    def _send(
        self, method: str, path: str, body: bytes | None, content_type: str
    ) -> tuple[int, bytes]:
        headers = {"Accept-Encoding": "identity"}
        if self.account.browser:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            if method != "GET" and "csrftoken" in self.cookies:
                headers["X-CSRFToken"] = self.cookies["csrftoken"]
        else:
            headers["Authorization"] = f"Bearer {self.account.token}"
        if body is not None:
            headers["Content-Type"] = content_type
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(header)
            except CookieError:
                continue
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response.status, data

    def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        expect: int,
        json_body: Any = None,
        form: dict[str, str] | None = None,
    ) -> bytes | None:
        """One timed request; its body when it answered `expect`, else None (an error)."""
        body: bytes | None = None
        content_type = ""
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            content_type = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            content_type = "application/x-www-form-urlencoded"
        self.tally.requests[operation] = self.tally.requests.get(operation, 0) + 1
        started = time.perf_counter()
        try:
            status, data = self._send(method, path, body, content_type)
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()  # the next request opens a new connection
            self._failed(operation, f"{method} {path}: {type(exc).__name__}: {exc}")
            return None
        elapsed = time.perf_counter() - started
        self.tally.seconds.setdefault(operation, []).append(elapsed)
        if status != expect:
            self._failed(operation, f"{method} {path}: {status} (expected {expect}) {data[:300]!r}")
            return None
        return data

    def _failed(self, operation: str, what: str) -> None:
        self.tally.errors[operation] = self.tally.errors.get(operation, 0) + 1
        if len(self.tally.examples) < 3:
            self.tally.examples.append(f"{self.account.username}: {what}")

    def sign_in(self) -> bool:
        page = self.call(SIGN_IN, "GET", "/login/", expect=200)
        token = CSRF_FIELD.search(page or b"")
        if token is None:
            if page is not None:
                self._failed(SIGN_IN, "GET /login/: no CSRF token in the form")
            return False
        form = {
            "username": self.account.username,
            "password": self.account.password,
            "csrfmiddlewaretoken": token.group(1).decode(),
        }
        signed_in = self.call(SIGN_IN, "POST", "/login/", expect=302, form=form)
        return signed_in is not None and "sessionid" in self.cookies

    def work(self, clock: "Clock") -> None:
        """Sign in (a browser), wait for every registrar to be ready, then register until the
        deadline."""
        try:
            ready = not self.account.browser or self.sign_in()
            try:
                clock.start.wait(timeout=SIGN_IN_TIMEOUT)
            except threading.BrokenBarrierError:
                self._failed(SIGN_IN, "the registrars were not all signed in in time")
                return
            # The wait for the others outlasts the server's keep-alive (gunicorn closes a connection
            # idle for 2 s), as a pause at a desk would: the work starts on a new connection.
            self.conn.close()
            while ready and time.perf_counter() < clock.deadline:
                self.register_one(clock.deadline)
        finally:
            self.conn.close()

    def register_one(self, deadline: float) -> None:
        """One household at the desk, then the reads between two households."""
        site = self.account.site
        returning = self.returning and self.rng.random() < RETURNING_SHARE
        template = self.rng.choice(self.returning if returning else self.templates)
        household = new_household(template, site)
        for member in household["members"]:
            if time.perf_counter() >= deadline:
                return
            self.call(
                CHECK,
                "POST",
                "/api/identity/check",
                expect=200,
                json_body=check_body(member, household),
            )
        if time.perf_counter() >= deadline:
            return
        if self.call(REGISTER, "POST", "/api/households", expect=201, json_body=household):
            members = household["members"]
            self.tally.households[household["uuid"]] = len(members)
            self.records.append(
                Record(
                    household["uuid"],
                    tuple(m["uuid"] for m in members),
                    members[0]["family_name"],
                )
            )
        if time.perf_counter() < deadline:
            self.search()
        if time.perf_counter() < deadline and self.records:
            self.read(self.rng.choice(self.records))
        if time.perf_counter() < deadline and self.rng.random() < CROSSING_SHARE:
            self.count_crossing()

    def search(self) -> None:
        if self.account.browser:
            name = self.rng.choice(self.records).family_name if self.records else "a"
            self.call(SEARCH_PAGE, "GET", f"/registrations/?q={quote(name)}", expect=200)
            return
        query = {"site": self.account.site, "limit": "20"}
        if self.cursor:
            query["cursor"] = self.cursor
        page = self.call(LIST_API, "GET", f"/api/households?{urlencode(query)}", expect=200)
        if page is not None:
            self.cursor = json.loads(page).get("next_cursor")

    def read(self, record: Record) -> None:
        person = self.rng.choice(record.persons)
        if self.account.browser:
            self.call(READ_PERSON_PAGE, "GET", f"/persons/{person}/", expect=200)
        elif self.rng.random() < 0.5:
            self.call(READ_HOUSEHOLD_API, "GET", f"/api/households/{record.household}", expect=200)
        else:
            self.call(READ_PERSON_API, "GET", f"/api/persons/{person}", expect=200)

    def count_crossing(self) -> None:
        end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        count: dict[str, Any] = {
            "uuid": str(uuid.uuid4()),
            "site": self.account.site,
            "period_start": (end - timedelta(hours=1)).isoformat(),
            "period_end": end.isoformat(),
            "people": self.rng.randint(0, 900),
            "vehicles": self.rng.randint(0, 200),
        }
        if self.call(CROSSING, "POST", "/api/crossings", expect=201, json_body=count):
            self.tally.crossings.append(count["uuid"])


class Clock:
    """The registrars start together once all are signed in: the last to reach the barrier sets
    the deadline before it opens."""

    def __init__(self, parties: int, seconds: float) -> None:
        self.seconds = seconds
        self.began = self.deadline = 0.0
        self.start = threading.Barrier(parties, action=self._begin)

    def _begin(self) -> None:
        self.began = time.perf_counter()
        self.deadline = self.began + self.seconds


# --- the server and the database -----------------------------------------------------------------


@contextmanager
def scratch_database(kind: str, work: Path, pg_url: str) -> Iterator[str]:
    """A fresh, empty database of `kind` as a HAVEN_DATABASE_URL; a PostgreSQL one is dropped
    afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{work / 'haven.sqlite3'}"
        return
    name = f"haven_load_{secrets.token_hex(4)}"
    _pg_admin(pg_url, "CREATE DATABASE {}", name)
    try:
        yield _with_database(pg_url, name)
    finally:
        _pg_admin(pg_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


def vacuum_analyze(url: str) -> None:
    """What autovacuum does within minutes of a bulk load: planner statistics."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute("VACUUM ANALYZE")


@dataclass(frozen=True)
class Served:
    port: int
    session: int  # the server's session id (gunicorn's master and workers)
    log: Path


@contextmanager
def haven_serve(
    env: dict[str, str], log: Path, *, workers: int | None, threads: int | None
) -> Iterator[Served]:
    """`haven serve` on a free loopback port until /login/ answers; stopped with its workers."""
    port = free_port()
    cmd = [PYTHON, "-m", "haven", "serve", "--host", LOOPBACK, "--port", str(port)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments, no shell
            cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while http_status(port, "/login/") != 200:
            if process.poll() is not None:
                raise BenchError(f"haven serve exited ({process.returncode}):\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise BenchError("haven serve did not answer within 180 s")
            time.sleep(0.2)
        yield Served(port, process.pid, log)
    finally:
        stop_group(process)


def server_problems(log: Path) -> list[str]:
    """Lines of the server's log that tell of a failure (tracebacks, worker timeouts, 5xx)."""
    problems = []
    for line in log.read_text(errors="replace").splitlines():
        failed = any(word in line for word in ("[ERROR]", "[CRITICAL]", "Traceback"))
        if failed or re.search(r'" 5\d\d ', line):
            problems.append(line.strip())
    return problems


# --- a run on one database -----------------------------------------------------------------------


@dataclass
class Result:
    database: str
    rows: list[list[str]]
    errors: int
    examples: list[str]
    notes: list[str]
    numbers: dict[str, Any]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def operation_row(
    name: str, requests: int, seconds: list[float], errors: int, window: float
) -> list[str]:
    """Latencies are of the requests answered (errors with a wrong status included);
    throughput counts the requests answered as expected."""
    answered = sorted(seconds)
    if len(answered) >= 2:
        cuts = statistics.quantiles(answered, n=100, method="inclusive")
        p50, p95, p99 = cuts[49], cuts[94], cuts[98]
    elif answered:
        p50 = p95 = p99 = answered[0]
    else:
        return [name, f"{requests:,}", f"{errors:,}", "", "", "", "", ""]
    return [
        name,
        f"{requests:,}",
        f"{errors:,}",
        _ms(p50),
        _ms(p95),
        _ms(p99),
        _ms(answered[-1]),
        f"{(requests - errors) / window:,.1f}",
    ]


def run_registrars(
    accounts: list[Account],
    *,
    port: int,
    seconds: float,
    templates: list[dict[str, Any]],
    returning: list[dict[str, Any]],
    records: dict[str, list[Record]],
    seed: int,
) -> tuple[list[Tally], "Phases", bool]:
    """Every registrar in its own thread: signing in, then `seconds` of work. Their tallies, the
    time each phase took, and whether they all stopped in time."""
    registrars = [
        Registrar(
            account,
            port=port,
            templates=templates,
            returning=returning,
            records=records.get(account.site, []),
            seed=seed * 1000 + number,
        )
        for number, account in enumerate(accounts)
    ]
    clock = Clock(len(registrars), seconds)
    threads = [threading.Thread(target=r.work, args=(clock,), daemon=True) for r in registrars]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    ends = started + SIGN_IN_TIMEOUT + seconds + REQUEST_TIMEOUT * 2
    for thread in threads:
        thread.join(timeout=max(0.0, ends - time.perf_counter()))
    ended = time.perf_counter()
    in_time = not any(thread.is_alive() for thread in threads)
    began = clock.began or ended
    return [r.tally for r in registrars], Phases(began - started, ended - began), in_time


@dataclass(frozen=True)
class Phases:
    sign_in: float  # seconds from starting the registrars until all were signed in
    work: float  # seconds from then until the last registrar stopped


def _say(kind: str, what: str, since: float) -> None:
    print(f"{kind}: {what} ({time.perf_counter() - since:.0f} s)", file=sys.stderr, flush=True)


def bench_database(
    kind: str, pg_url: str, args: argparse.Namespace, root: Path, pool_file: Path
) -> Result:
    work = root / kind
    work.mkdir()
    began = time.perf_counter()
    with scratch_database(kind, work, pg_url) as url:
        # One var directory for every database: `haven serve` collects the static files once.
        env = haven_env(database_url=url, var_dir=root / "var")
        run([PYTHON, "-m", "haven", "migrate", "--no-input"], env, timeout=600)
        _say(kind, "migrated", began)
        prefill_file = work / "prefill.jsonl"
        filled = time.perf_counter()
        run(
            [PYTHON, "-m", "haven", "simulate", "--people", str(args.people),
             "--seed", str(args.seed), "--out", str(prefill_file)],
            env,
            timeout=3600,
        )  # fmt: skip
        filled = time.perf_counter() - filled
        if kind == "postgresql":
            vacuum_analyze(url)
        before = dbside(["inspect"], env, timeout=300)
        _say(kind, f"pre-filled with {before['persons']:,} persons", began)
        browsers = (args.registrars + 1) // 2
        made = dbside(
            ["registrars", "--sites", ",".join(SITES), "--count", str(args.registrars),
             "--passwords", str(browsers)],
            env,
            timeout=600,
        )["registrars"]  # fmt: skip
        accounts = [
            Account(
                m["username"], m["password"], m["token"], m["site"], browser=bool(m["password"])
            )
            for m in made
        ]
        now = datetime.now(UTC)
        returning = read_templates(prefill_file, now)
        records = records_by_site(prefill_file)
        templates = read_templates(pool_file, now)
        log = work / "serve.log"
        with haven_serve(env, log, workers=args.workers, threads=args.threads) as served:
            _say(kind, f"serving; {len(accounts)} registrars for {args.seconds} s", began)
            cpu_before = cpu_seconds(served.session)
            tallies, phases, in_time = run_registrars(
                accounts,
                port=served.port,
                seconds=args.seconds,
                templates=templates,
                returning=returning,
                records=records,
                seed=args.seed,
            )
            cpu_after = cpu_seconds(served.session)
        problems = server_problems(log)
        sent = {
            "households": {u: n for t in tallies for u, n in t.households.items()},
            "crossings": [c for t in tallies for c in t.crossings],
        }
        sent_file = work / "sent.json"
        sent_file.write_text(json.dumps(sent))
        stored = dbside(["verify", "--sent", str(sent_file)], env, timeout=600)
        _say(kind, "verified", began)
    return result_of(
        kind,
        tallies=tallies,
        phases=phases,
        in_time=in_time,
        before=before,
        stored=stored,
        problems=problems,
        server_cpu=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        prefill_seconds=filled,
        serve_line=_serve_line(log),
    )


def _serve_line(log: Path) -> str:
    """How gunicorn ran, in its own words (its log): the worker class and how many booted."""
    text = log.read_text(errors="replace")
    booted = len(re.findall(r"Booting worker with pid", text))
    worker = re.search(r"Using worker: (\S+)", text)
    return f"haven serve: gunicorn, {booted} {worker.group(1) if worker else '?'} workers"


def result_of(
    kind: str,
    *,
    tallies: list[Tally],
    phases: Phases,
    in_time: bool,
    before: dict[str, Any],
    stored: dict[str, Any],
    problems: list[str],
    server_cpu: float | None,
    prefill_seconds: float,
    serve_line: str,
) -> Result:
    rows = []
    all_seconds: list[float] = []
    errors = requests = 0
    examples = [e for t in tallies for e in t.examples][:5]
    for operation in OPERATIONS:
        sent = sum(t.requests.get(operation, 0) for t in tallies)
        if not sent:
            continue
        seconds = [s for t in tallies for s in t.seconds.get(operation, [])]
        failed = sum(t.errors.get(operation, 0) for t in tallies)
        # Signing in comes before the timed work, all registrars at once: its own phase.
        window = phases.sign_in if operation == SIGN_IN else phases.work
        rows.append(operation_row(operation, sent, seconds, failed, window))
        errors += failed
        if operation != SIGN_IN:
            all_seconds += seconds
            requests += sent
    work_errors = errors - sum(t.errors.get(SIGN_IN, 0) for t in tallies)
    rows.append(operation_row("all but sign in", requests, all_seconds, work_errors, phases.work))
    for row in rows:
        row.insert(0, kind)
    households = stored["households_sent"]
    written = before["households"] + households
    mismatches = {
        key: stored[key]
        for key in ("missing", "duplicated", "members_differ", "audit_rows_differ")
        if stored[key]
    }
    if stored["crossings_found"] != stored["crossings_sent"]:
        mismatches["crossings"] = f"{stored['crossings_found']} of {stored['crossings_sent']}"
    if stored["households_total"] != written:
        mismatches["households_total"] = f"{stored['households_total']}, expected {written}"
    if not in_time:
        mismatches["clients"] = "some registrars had not stopped 2 minutes after the end"
    if problems:
        mismatches["server log"] = problems[:5]
    if mismatches:
        errors += 1
        examples.append(f"{kind}: verification failed: {mismatches}")
    cpu = "" if server_cpu is None else f"; server CPU {server_cpu:,.0f} s (sign-in included)"
    notes = [
        f"{kind}: pre-filled with {before['persons']:,} persons in {before['households']:,}"
        f" households by haven simulate ({prefill_seconds:.0f} s); sign-in {phases.sign_in:.0f} s,"
        f" then {phases.work:.0f} s of work",
        f"{kind}: households written and acknowledged {households:,}"
        f" ({stored['persons_sent']:,} persons), crossing counts {stored['crossings_sent']:,};"
        + (
            " verified: each present once, members as sent, one household.register audit row"
            " each; no other household written"
            if not mismatches
            else " VERIFICATION FAILED"
        ),
        f"{kind}: {serve_line}{cpu}",
    ]
    return Result(
        database=kind,
        rows=rows,
        errors=errors,
        examples=examples,
        notes=notes,
        numbers={
            "sign_in_seconds": phases.sign_in,
            "work_seconds": phases.work,
            "households": households,
            "persons": stored["persons_sent"],
            "crossings": stored["crossings_sent"],
            "prefill": before,
            "verify": stored,
            "server_cpu_seconds": server_cpu,
            "mismatches": mismatches,
            "rows": rows,
        },
    )


HEADER = ["database", "operation", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"]
HEADER += ["req/s"]


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(cells: list[str]) -> str:
        text = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return " | ".join(text)

    return "\n".join([line(HEADER), "-+-".join("-" * w for w in widths), *map(line, rows)])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="10 registrars x 15 s, 1,000 people")
    parser.add_argument("--registrars", type=int, help="concurrent registrars (50; smoke 10)")
    parser.add_argument("--seconds", type=int, help="seconds of load a database (300; smoke 15)")
    parser.add_argument("--people", type=int, help="people pre-filled (20,000; smoke 1,000)")
    parser.add_argument(
        "--pool", type=int, help="people simulated as new arrivals, re-used (6,000; smoke 1,000)"
    )
    parser.add_argument("--database-url", help="the PostgreSQL server to make a scratch DB on")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, help="haven serve --workers (its default if unset)")
    parser.add_argument("--threads", type=int, help="haven serve --threads (its default if unset)")
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
    if min(args.registrars, args.seconds, args.people, args.pool) < 1:
        parser.error("--registrars, --seconds, --people and --pool must be positive")
    if min(args.workers or 1, args.threads or 1) < 1:
        parser.error("--workers and --threads must be positive")
    pg_url = _loopback_url(
        args.database_url
        or os.environ.get("HAVEN_BENCH_PG_URL")
        or os.environ.get("HAVEN_TEST_POSTGRES_URL")
        or DEFAULT_PG_URL
    )

    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    began = time.perf_counter()
    results: list[Result] = []
    skipped: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="haven-bench-load-"))
    try:
        # New arrivals: another simulated influx, the same for every database (no database needed).
        pool_file = root / "pool.jsonl"
        env = haven_env(database_url=f"sqlite:///{root / 'unused.sqlite3'}", var_dir=root / "var")
        dbside(
            ["payloads", "--people", str(args.pool), "--seed", str(args.seed + 1),
             "--out", str(pool_file)],
            env,
            timeout=600,
        )  # fmt: skip
        for kind in kinds:
            if kind == "postgresql":
                problem = pg_available(pg_url)
                if problem is not None:
                    skipped.append(f"postgresql: skipped, no server: {problem}")
                    continue
            result = bench_database(kind, pg_url, args, root, pool_file)
            results.append(result)
            print(table(result.rows), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    total = time.perf_counter() - began

    print()
    print(table([row for r in results for row in r.rows]))
    print()
    for line in [n for r in results for n in r.notes] + skipped:
        print(line)
    print(
        f"registrars: {args.registrars} threads (half signed-in browsers, half device tokens),"
        " each on its own keep-alive http.client connection, closed loop (no think time),"
        " on this machine"
    )
    print(machine_line(load_before, total))
    errors = sum(r.errors for r in results)
    for example in [e for r in results for e in r.examples]:
        print(f"error: {example}")
    if args.json is not None:
        write_json(
            args.json,
            started_at=started_at,
            load_before=load_before,
            total=total,
            figures=[],
            results={r.database: r.numbers for r in results},
            errors=errors,
        )
    return 1 if errors else 0


if __name__ == "__main__":
    run_main(main)
