"""Shared parts of the fault tests: a real Haven (`haven serve`, gunicorn) on a scratch database of
its own, households to send it, a client that retries like a field device, and a check of what
the database holds afterwards.

The scratch database is a SQLite file under a temporary HAVEN_VAR_DIR, or, when the suite runs on
PostgreSQL (HAVEN_DATABASE_URL names a postgres server), a database created for the test on that
server and dropped after it. Servers run in a process group of their own (arbiter and workers), so
that a fault can kill them all at once and the test leaves no process behind.
"""

import contextlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

STARTUP_SECONDS = 180  # the first start compresses every static file, slower on a busy machine
COMMAND_SECONDS = 300
SITE = "KOR"
REGISTRAR = "registrar.fault"
REGISTRAR_PASSWORD = "fault-test-registrar-password-7"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def suite_database_url() -> str:
    """The suite's PostgreSQL server URL, or "" when the suite runs on SQLite."""
    url = os.environ.get("HAVEN_DATABASE_URL", "").strip()
    return url if url.startswith(("postgres://", "postgresql://")) else ""


def with_address(url: str, host: str, port: int) -> str:
    """The database URL with another host and port (the same user, password and database)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@dataclass
class Scratch:
    """A database of the test's own: a SQLite file under var_dir, or a PostgreSQL database."""

    var_dir: Path
    database_url: str = ""  # "" for SQLite under var_dir

    @property
    def postgres(self) -> bool:
        return bool(self.database_url)

    @property
    def sqlite_path(self) -> Path:
        return self.var_dir / "haven.sqlite3"

    def environment(self, database_url: str | None = None) -> dict[str, str]:
        """The environment for a `haven` command on this database (or at another address)."""
        environment = {**os.environ, "HAVEN_VAR_DIR": str(self.var_dir)}
        url = self.database_url if database_url is None else database_url
        if url:
            environment["HAVEN_DATABASE_URL"] = url
        else:
            environment.pop("HAVEN_DATABASE_URL", None)
        # Not the test run's settings: the server reads HAVEN_* only.
        environment.pop("DJANGO_SETTINGS_MODULE", None)
        return environment

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query run directly on the database (not through Haven)."""
        if self.postgres:
            with psycopg.connect(self.database_url, autocommit=True) as connection:
                return list(connection.execute(sql.encode()).fetchall())
        with contextlib.closing(sqlite3.connect(self.sqlite_path)) as connection:
            return list(connection.execute(sql).fetchall())


_static_lock = threading.Lock()


def collected_static() -> Path:
    """The suite's own collected static files (HAVEN_VAR_DIR/static), collected once if stale.

    Each scratch Haven gets a copy, so that `haven serve` finds them current and starts in
    seconds instead of compressing every file again (a minute and more on a busy machine).
    """
    from django.conf import settings

    from haven.core.management.commands.serve import collect_static

    with _static_lock:
        collect_static()
    return Path(settings.STATIC_ROOT)


@contextlib.contextmanager
def scratch_database(tmp_path: Path) -> Iterator[Scratch]:
    """A fresh, empty database for one test, dropped afterwards (PostgreSQL) or left in tmp_path."""
    var_dir = tmp_path / "var"
    var_dir.mkdir(parents=True)
    shutil.copytree(collected_static(), var_dir / "static")
    server_url = suite_database_url()
    if not server_url:
        yield Scratch(var_dir)
        return
    with postgres_database(server_url, "haven_fault") as url:
        yield Scratch(var_dir, url)


@contextlib.contextmanager
def postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new PostgreSQL database (`<prefix>_<random>`) on the suite's server, its URL yielded, and
    dropped afterwards whatever connections a killed server left open."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def haven(scratch: Scratch, *args: str) -> str:
    """Run a `haven` command on the scratch database; its standard output, or a failure."""
    result = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "haven", *args],
        env=scratch.environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )
    assert result.returncode == 0, f"haven {' '.join(args)}: {result.stderr[-3000:]}"
    return result.stdout


PREPARE = f"""
from haven.core.actions import add_site, create_user
from haven.core.models import User
site = add_site(code={SITE!r}, name="Kornidzor", kind="crossing", province="Syunik",
                acting_user=None)
create_user(username={REGISTRAR!r}, role=User.Role.REGISTRAR, password={REGISTRAR_PASSWORD!r},
            site=site, acting_user=None)
"""


def prepare(scratch: Scratch) -> str:
    """Migrate the scratch database, add a site and its registrar; the registrar's device token."""
    haven(scratch, "migrate", "--verbosity", "0")
    haven(scratch, "shell", "--no-startup", "--command", PREPARE)
    token = haven(scratch, "token", "create", "--user", REGISTRAR, "--name", "fault test").strip()
    assert token.startswith("hvn_"), token
    return token


# --- the server ----------------------------------------------------------------------------------


class Server:
    """`haven serve` in a process group of its own: started, killed with -9, stopped."""

    def __init__(
        self, scratch: Scratch, *, workers: int = 2, threads: int = 4, database_url: str = ""
    ) -> None:
        self.scratch = scratch
        self.port = free_port()
        self.workers = workers
        self.threads = threads
        self.database_url = database_url  # "" for the scratch database itself
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = scratch.var_dir.parent / "server.log"
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "the server is running already"
        environment = self.scratch.environment(self.database_url or None)
        with self.log_path.open("ab") as log:
            command = [
                sys.executable, "-m", "haven", "serve",
                "--port", str(self.port),
                "--workers", str(self.workers),
                "--threads", str(self.threads),
            ]  # fmt: skip
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                command,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches every worker
            )
        self.starts += 1
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"haven serve exited early:\n{self.log_tail()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/login/")
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"haven serve did not answer within {STARTUP_SECONDS} s")

    def kill(self) -> None:
        """SIGKILL to the whole group: the arbiter and every worker die at the same moment."""
        assert self.process is not None
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None
        wait_for_group_gone(group)

    def stop(self) -> None:
        """A graceful stop (SIGTERM), or SIGKILL when it takes too long; nothing left behind."""
        if self.process is None:
            return
        stop_group(self.process, timeout=40)
        self.process = None

    def log_tail(self, characters: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-characters:]


def stop_group(process: "subprocess.Popen[bytes]", *, timeout: float) -> None:
    """SIGTERM to the process group `process` leads, SIGKILL when it takes longer than
    `timeout` seconds, then to any worker that outlived its arbiter; returns once all are gone."""
    group = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    wait_for_group_gone(group)


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(entry.name))
    return members


def wait_for_group_gone(group: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while group_members(group):
        assert time.monotonic() < deadline, f"processes of group {group} outlived SIGKILL"
        time.sleep(0.05)


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    """The server started, and stopped (or killed) whatever happens."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


# --- households ----------------------------------------------------------------------------------

GIVEN = {
    "F": ["Հասմիկ", "Անի", "Մարիամ", "Анна", "Нарине", "Lusine", "Gayane", "Sona", "Армине"],
    "M": ["Արամ", "Դավիթ", "Գոռ", "Тигран", "Карен", "Arsen", "Hayk", "Narek", "Ашот"],
}
FAMILY = [
    "Հարությունյան",
    "Գրիգորյան",
    "Петросян",
    "Саркисян",
    "Hakobyan",
    "Avetisyan",
    "Մովսիսյան",
]
PATRONYMIC = ["", "", "Արամի", "Тигранович", "Karenovna"]
SIZES = (1, 2, 3, 4, 4, 5, 5, 6, 7, 9)
RELATIONSHIPS = ("spouse", "child", "child", "child", "parent", "sibling", "grandchild", "other")


def households(count: int, *, seed: int, site: str = SITE) -> list[dict[str, Any]]:
    """`count` valid households of 1–9 members with names in three scripts; the same for a seed."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets

    def new_uuid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    start = datetime(2023, 9, 24, 8, 0, tzinfo=UTC)
    generated = []
    for number in range(count):
        members = []
        family = rng.choice(FAMILY)
        for position in range(rng.choice(SIZES)):
            sex = rng.choice("FM")
            member: dict[str, Any] = {
                "uuid": new_uuid(),
                "given_name": rng.choice(GIVEN[sex]),
                "family_name": family,
                "patronymic": rng.choice(PATRONYMIC),
                "sex": sex,
                "relationship": "head" if position == 0 else rng.choice(RELATIONSHIPS),
            }
            if rng.random() < 0.2:
                member["estimated_age"] = rng.randint(0, 90)
            else:
                member["birth_date"] = f"{rng.randint(1935, 2022)}-{rng.randint(1, 12):02d}"
            members.append(member)
        generated.append(
            {
                "uuid": new_uuid(),
                "site": site,
                "registered_at": (start + timedelta(seconds=30 * number)).isoformat(),
                "origin_settlement": "Ստեփանակերտ",
                "phone": f"+374 91 {rng.randint(100000, 999999)}",
                "members": members,
            }
        )
    return generated


# --- a client that retries like a device in the field --------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# gunicorn closes a keep-alive connection idle for 2 seconds; one idle for longer is not reused.
IDLE_SECONDS = 1.0


class Client:
    """One keep-alive HTTP connection with a device token; reconnects after any failure."""

    def __init__(self, port: int, token: str = "", timeout: float = 60) -> None:
        self.port = port
        self.token = token
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.last_answer = 0.0

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request; OSError or http.client.HTTPException when the connection fails."""
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.connection is not None and time.monotonic() - self.last_answer > IDLE_SECONDS:
            self.close()  # the server may be closing it right now: no race, a new one
        if self.connection is None:
            self.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=self.timeout
            )
        try:
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
            answer = Answer(response.status, dict(response.getheaders()), response.read())
            self.last_answer = time.monotonic()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";")[0]
        if response.will_close:
            self.close()
        return answer

    def post_json(self, path: str, payload: Any) -> Answer:
        body = json.dumps(payload).encode()
        return self.request("POST", path, body, {"Content-Type": "application/json"})

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass
class Tally:
    """What the uploading clients saw, shared between their threads."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # household uuid → created/exists
    retries: int = 0
    connection_failures: int = 0
    server_errors: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def upload_batch(
    client: Client, batch: Sequence[dict[str, Any]], tally: Tally, *, deadline: float
) -> None:
    """Send one batch until every household in it is acknowledged, retrying with the same UUIDs
    after a lost connection or a 5xx, as a device does. Anything else fails the test."""
    pause = 0.05
    while True:
        try:
            answer = client.post_json("/api/households/batch", {"households": list(batch)})
        except (OSError, http.client.HTTPException):
            with tally.lock:
                tally.connection_failures += 1
                tally.retries += 1
        else:
            if answer.status == 200:
                results = answer.json()["results"]
                statuses = {r["uuid"]: r["status"] for r in results}
                unexpected = {u: s for u, s in statuses.items() if s not in ("created", "exists")}
                assert not unexpected, f"batch items not acknowledged: {unexpected}"
                assert [r["uuid"] for r in results] == [h["uuid"] for h in batch]
                with tally.lock:
                    for household_uuid, status in statuses.items():
                        assert household_uuid not in tally.acknowledged, "acknowledged twice"
                        tally.acknowledged[household_uuid] = status
                return
            assert answer.status >= 500, f"{answer.status}: {answer.body[:2000]!r}"
            with tally.lock:
                tally.server_errors[answer.status] = tally.server_errors.get(answer.status, 0) + 1
                tally.retries += 1
        assert time.monotonic() < deadline, "a batch was not acknowledged in time"
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


# --- what the database holds ---------------------------------------------------------------------


def stored_households(scratch: Scratch) -> dict[uuid.UUID, list[tuple[uuid.UUID, str, str, str]]]:
    """Each stored household's members (uuid, given, family, patronymic) in insertion order; a
    household stored twice under one uuid would fail here."""
    stored: dict[uuid.UUID, list[tuple[uuid.UUID, str, str, str]]] = {}
    ids: dict[int, uuid.UUID] = {}
    declared: dict[uuid.UUID, int] = {}
    for pk, household_uuid, member_count in scratch.rows(
        "SELECT id, uuid, member_count FROM registry_household"
    ):
        key = uuid.UUID(str(household_uuid))
        assert key not in stored, f"household {key} stored twice"
        stored[key] = []
        ids[pk] = key
        declared[key] = member_count
    for household_id, person_uuid, given, family, patronymic in scratch.rows(
        "SELECT household_id, uuid, given_name, family_name, patronymic"
        " FROM registry_person ORDER BY id"
    ):
        assert household_id in ids, f"person {person_uuid} belongs to no stored household"
        stored[ids[household_id]].append((uuid.UUID(str(person_uuid)), given, family, patronymic))
    for key, members in stored.items():
        assert len(members) == declared[key], f"household {key}: {len(members)} of its members"
    return stored


def assert_wholly_present_or_absent(
    stored: dict[uuid.UUID, list[tuple[uuid.UUID, str, str, str]]],
    sent: Sequence[dict[str, Any]],
) -> int:
    """Every household sent is stored with exactly the members sent, or not at all; returns how
    many are stored."""
    present = 0
    for household in sent:
        members = stored.get(uuid.UUID(household["uuid"]))
        if members is None:
            continue
        present += 1
        expected = [
            (uuid.UUID(m["uuid"]), m["given_name"], m["family_name"], m["patronymic"])
            for m in household["members"]
        ]
        assert sorted(members) == sorted(expected), f"household {household['uuid']} differs"
    return present


def assert_consistent(scratch: Scratch, households_stored: int) -> None:
    """The audit rows and the running tallies agree with the records; the file is sound."""
    (persons,) = scratch.rows("SELECT COUNT(*) FROM registry_person")[0]
    (audited,) = scratch.rows(
        "SELECT COUNT(*) FROM core_auditevent WHERE action = 'household.register'"
    )[0]
    assert audited == households_stored, f"{audited} audit rows for {households_stored}"
    tallied = scratch.rows(
        "SELECT SUM(households), SUM(persons) FROM registry_figuretally WHERE kind = 'hour'"
    )[0]
    assert tuple(int(n or 0) for n in tallied) == (households_stored, persons), tallied
    if not scratch.postgres:
        assert scratch.rows("PRAGMA integrity_check") == [("ok",)]
        assert scratch.rows("PRAGMA foreign_key_check") == []
