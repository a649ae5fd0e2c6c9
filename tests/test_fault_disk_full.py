"""The disk under a SQLite Haven fills up while devices register households, then frees again.

A real Haven (`haven serve`) keeps its database on a small tmpfs that a filler file nearly fills;
households are registered through the JSON API with a device token until the disk is full. Then:
the answer is a clear 503 ("the server's storage is full; nothing was saved"), never a stack trace;
the database is sound; every acknowledged household is there exactly once and whole, every refused
one absent. Once the filler is deleted, the same server (not restarted) registers again, the
refused households included.

The tmpfs is mounted directly when the tests run as root, or else inside a user and mount
namespace (`unshare --user --map-root-user --mount`) held open by a sleeping process, whose
namespaces the server and the checks then enter with `nsenter`. Only SQLite is concerned: on the
suite's PostgreSQL run the test is skipped (it would test the same SQLite setup again).
"""

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from haven.core.middleware import DatabaseUnavailableMiddleware
from tests.fault_support import (
    COMMAND_SECONDS,
    SITE,
    Client,
    free_port,
    households,
    stop_group,
)

DISK_MB = 16
LEFT_FREE = 640 * 1024  # bytes the filler leaves: a few dozen large households
REGISTRAR = "registrar.disk"
PASSWORD = "disk-full-registrar-password-5"

PREPARE = f"""
from django.core.management import call_command
from haven.core.actions import add_site, create_api_token, create_user
from haven.core.models import User
call_command("migrate", verbosity=0)
site = add_site(code={SITE!r}, name="Kornidzor", kind="crossing", province="Syunik",
                acting_user=None)
user = create_user(username={REGISTRAR!r}, role=User.Role.REGISTRAR,
                   password={PASSWORD!r}, site=site, acting_user=None)
print(create_api_token(user=user, name="disk full test", acting_user=None)[1])
"""

# Run inside the disk's mount namespace: the rows of a query, or PRAGMA integrity_check, as JSON.
QUERY = """
import json, sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
print(json.dumps(connection.execute(sys.argv[2]).fetchall()))
"""

SERVE = [sys.executable, "-m", "haven", "serve", "--workers", "1", "--threads", "2"]

SQLITE_ONLY = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the disk under a SQLite database; PostgreSQL run skips"
)


class SmallDisk:
    """A tmpfs at `path`; `prefix` runs a command where the tmpfs is visible."""

    def __init__(self, path: Path, prefix: list[str], holder: subprocess.Popen[bytes] | None):
        self.path = path
        self.prefix = prefix
        self.holder = holder

    def run(self, *argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed arguments
            [*self.prefix, *argv],
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
            **kwargs,
        )

    def query(self, sql: str) -> list[Any]:
        result = self.run(sys.executable, "-c", QUERY, str(self.path / "haven.sqlite3"), sql)
        assert result.returncode == 0, result.stderr
        rows: list[Any] = json.loads(result.stdout)
        return rows

    def fill(self, leave: int) -> None:
        """A filler file taking all the free space but `leave` bytes."""
        code = (
            "import os, sys; s = os.statvfs(sys.argv[1]); free = s.f_bavail * s.f_frsize;"
            " f = open(os.path.join(sys.argv[1], 'filler'), 'wb');"
            " f.write(b'\\0' * max(free - int(sys.argv[2]), 0)); f.close()"
        )
        result = self.run(sys.executable, "-c", code, str(self.path), str(leave))
        assert result.returncode == 0, result.stderr

    def free(self) -> None:
        result = self.run("rm", "-f", str(self.path / "filler"))
        assert result.returncode == 0, result.stderr


@contextlib.contextmanager
def small_disk(path: Path, megabytes: int) -> Iterator[SmallDisk]:
    path.mkdir()
    size = f"size={megabytes}m"
    if os.geteuid() == 0:
        mounted = subprocess.run(  # noqa: S603 - fixed arguments
            ["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(path)],  # noqa: S607 - a system tool
            capture_output=True,
            check=False,
        )
        if mounted.returncode == 0:
            try:
                yield SmallDisk(path, [], None)
            finally:
                subprocess.run(["umount", "-l", str(path)], check=False)  # noqa: S603, S607
            return
    script = f'mount -t tmpfs -o {size} tmpfs "$0" && echo ready && exec sleep 3600'
    command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, str(path)]
    holder = subprocess.Popen(  # noqa: S603 - system tools, fixed arguments
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != b"ready":
        holder.kill()
        holder.wait()
        pytest.skip("cannot mount a tmpfs: not root, and no user namespaces here")
    prefix = ["nsenter", f"--target={holder.pid}", "--user", "--mount", "--preserve-credentials"]
    try:
        yield SmallDisk(path, prefix, holder)
    finally:
        holder.kill()
        holder.wait()


class Server:
    """`haven serve` where the disk is visible, in a process group of its own."""

    def __init__(self, disk: SmallDisk, environment: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                [*disk.prefix, *SERVE, "--port", str(self.port)],
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180  # the first start compresses the static files
        client = Client(self.port)
        while True:
            assert self.process.poll() is None, f"haven serve exited:\n{self.tail()}"
            with contextlib.suppress(OSError):
                if client.request("GET", "/login/").status == 200:
                    return
            assert time.monotonic() < deadline, "haven serve did not start"
            time.sleep(0.1)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop_group(self.process, timeout=30)


def large(count: int, *, seed: int) -> list[dict[str, Any]]:
    """Households made large (30 members) so that a few dozen fill the space left."""
    made = households(count, seed=seed)
    for number, household in enumerate(made):
        template = household["members"]
        members = []
        for index in range(30):
            member = dict(template[index % len(template)])
            member["uuid"] = str(uuid.UUID(int=(seed << 64) + number * 100 + index + 1))
            member["relationship"] = "head" if index == 0 else "other"
            members.append(member)
        household["members"] = members
    return made


def stored(disk: SmallDisk) -> dict[str, tuple[int, int]]:
    """Per stored household uuid: (its declared member count, the person rows it has)."""
    rows = disk.query(
        "SELECT h.uuid, h.member_count, COUNT(p.id) FROM registry_household h"
        " LEFT JOIN registry_person p ON p.household_id = h.id GROUP BY h.id"
    )
    found: dict[str, tuple[int, int]] = {}
    for household_uuid, declared, persons in rows:
        key = str(uuid.UUID(household_uuid))
        assert key not in found, f"household {key} stored twice"
        found[key] = (declared, persons)
    return found


@SQLITE_ONLY
def test_a_full_disk_refuses_clearly_and_recovers_without_restart(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", DISK_MB) as disk:
        environment = {
            **os.environ,
            # The suite's var directory: its secret key, and static files collected once.
            "HAVEN_VAR_DIR": str(settings.VAR_DIR),
            "HAVEN_DATABASE_URL": f"sqlite:///{disk.path / 'haven.sqlite3'}",
        }
        environment.pop("DJANGO_SETTINGS_MODULE", None)
        shell = [sys.executable, "-m", "haven", "shell", "--no-startup", "--command", PREPARE]
        prepared = disk.run(*shell, env=environment)
        assert prepared.returncode == 0, prepared.stderr
        token = prepared.stdout.strip().splitlines()[-1]
        server = Server(disk, environment, tmp_path / "server.log")
        try:
            client = Client(server.port, token)
            disk.fill(LEFT_FREE)
            sent = large(400, seed=11)
            acknowledged: list[str] = []
            refused: list[dict[str, Any]] = []
            for household in sent:
                answer = client.post_json("/api/households", household)
                if answer.status == 201:
                    acknowledged.append(household["uuid"])
                    continue
                refused.append(household)
                assert answer.status == 503, f"{answer.status}: {answer.body[:3000]!r}"
                assert answer.headers.get("Retry-After")
                detail = answer.json()["detail"]
                assert "storage is full" in detail, detail
                assert "nothing was saved" in detail, detail
                if len(refused) == 3:  # full, and it stays full
                    break
            assert len(refused) == 3, "the disk never filled"
            assert acknowledged, "nothing registered before the disk filled"

            assert disk.query("PRAGMA integrity_check") == [["ok"]]
            found = stored(disk)
            assert sorted(found) == sorted(acknowledged)  # each once; no refused one
            for household_uuid in acknowledged:
                assert found[household_uuid] == (30, 30), household_uuid

            disk.free()
            first_pid = server.process.pid
            for household in [*refused, *large(2, seed=12)]:
                answer = client.post_json("/api/households", household)
                assert answer.status == 201, f"{answer.status}: {answer.body[:3000]!r}"
            assert server.process.poll() is None
            assert server.process.pid == first_pid
            assert disk.query("PRAGMA integrity_check") == [["ok"]]
            found = stored(disk)
            assert len(found) == len(acknowledged) + len(refused) + 2
            assert all(counts == (30, 30) for counts in found.values())
        finally:
            server.stop()


def _django_error(exc: sqlite3.Error) -> OperationalError:
    """The error as Django's database wrapper raises it: its own class, the driver's as cause."""
    error = OperationalError(*exc.args)
    error.__cause__ = exc
    return error


def _full_database_error(tmp_path: Path) -> OperationalError:
    """A real SQLITE_FULL: a database capped at a few pages, written past its cap."""
    capped = sqlite3.connect(tmp_path / "capped.sqlite3")
    capped.execute("CREATE TABLE t (x BLOB)")
    capped.execute("PRAGMA max_page_count = 4")
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            capped.execute("INSERT INTO t VALUES (zeroblob(100000))")
    finally:
        capped.close()
    return _django_error(raised.value)


def _unreachable_database_error(tmp_path: Path) -> OperationalError:
    """A real "unable to open database file": the database path is a directory."""
    with pytest.raises(sqlite3.OperationalError) as raised:
        sqlite3.connect(tmp_path / "no" / "such" / "dir.sqlite3").execute("SELECT 1")
    return _django_error(raised.value)


def test_database_errors_become_a_clear_503(rf: RequestFactory, tmp_path: Path) -> None:
    def never_called(request: HttpRequest) -> HttpResponse:
        raise AssertionError("process_exception alone answers")

    middleware = DatabaseUnavailableMiddleware(never_called)
    full, unreachable = _full_database_error(tmp_path), _unreachable_database_error(tmp_path)

    page = middleware.process_exception(rf.post("/desk/"), full)
    assert page is not None
    assert page.status_code == 503
    assert page["Content-Type"].startswith("text/html")
    assert page["Retry-After"]
    assert "storage is full; nothing was saved" in page.content.decode()

    api = middleware.process_exception(rf.post("/api/households"), unreachable)
    assert api is not None
    assert api.status_code == 503
    assert api["Content-Type"] == "application/json"
    assert json.loads(api.content) == {
        "detail": "The database is not answering; nothing was saved. Try again."
    }
    # Anything else is not the middleware's business.
    assert middleware.process_exception(rf.get("/desk/"), ValueError("no")) is None


def test_a_database_error_that_is_a_bug_stays_a_logged_500(
    rf: RequestFactory, tmp_path: Path
) -> None:
    """A "no such table" or a syntax error is Haven's own bug, not an unavailable database: it must
    not be answered "try again" (nor lose its traceback), but reach Django's 500 handling."""
    with pytest.raises(sqlite3.OperationalError) as raised:
        sqlite3.connect(tmp_path / "bug.sqlite3").execute("SELECT * FROM no_such_table")
    bug = _django_error(raised.value)
    middleware = DatabaseUnavailableMiddleware(lambda request: HttpResponse())
    assert middleware.process_exception(rf.post("/api/households"), bug) is None
    assert middleware.process_exception(rf.get("/desk/"), bug) is None
