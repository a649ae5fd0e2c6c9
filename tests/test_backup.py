"""`haven backup` and `haven restore`, run as real commands on scratch databases of the vendor the
suite runs on (SQLite files, or PostgreSQL databases created and dropped here).

One module-wide source database is migrated and filled once and backed up once; each test restores
that backup (or a damaged or altered copy of it) into databases of its own. The concurrency test
keeps a separate process registering households while `haven backup` runs, and checks that the
backup is exactly one moment of that stream: whole households, the manifest matching the restored
rows table by table.
"""

import contextlib
import hashlib
import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.fault_support import (
    COMMAND_SECONDS,
    Scratch,
    assert_consistent,
    assert_wholly_present_or_absent,
    haven,
    households,
    postgres_database,
    stored_households,
    suite_database_url,
)

REGISTRAR = "registrar.backup"
SOURCE_HOUSEHOLDS = 40

FILL = f"""
import json, os
from django.core.management import call_command
from haven.core.actions import add_site, create_user
from haven.core.models import User
from haven.registry.actions import register_households
from haven.registry.schemas import HouseholdIn
call_command("migrate", verbosity=0)
site = add_site(code="KOR", name="Kornidzor", kind="crossing", province="Syunik", acting_user=None)
user = create_user(username={REGISTRAR!r}, role=User.Role.REGISTRAR,
                   password="backup-test-registrar-password-3", site=site, acting_user=None)
with open(os.environ["HAVEN_TEST_HOUSEHOLDS"]) as stream:
    items = [HouseholdIn.model_validate(h) for h in json.load(stream)]
register_households(items=items, acting_user=user)
"""

# Registers households one at a time until the stop file appears, printing each one's uuid and
# size once its transaction has committed.
WRITER = f"""
import os
from pathlib import Path
from haven.core.models import User
from haven.registry.actions import register_household
from haven.registry.schemas import HouseholdIn
from tests.fault_support import households
user = User.objects.get(username={REGISTRAR!r})
stop = Path(os.environ["HAVEN_TEST_STOP"])
seed = 1000
while not stop.exists():
    for data in households(5, seed=seed):
        register_household(data=HouseholdIn.model_validate(data), acting_user=user)
        print(data["uuid"], len(data["members"]), flush=True)
    seed += 1
"""

pytestmark = pytest.mark.skipif(
    connection.vendor not in ("sqlite", "postgresql"), reason="Haven runs on SQLite or PostgreSQL"
)


# --- scratch databases ---------------------------------------------------------------------------


@contextlib.contextmanager
def scratch(directory: Path, purpose: str) -> Iterator[Scratch]:
    """An empty database of the suite's vendor: a SQLite file not yet created, or a new
    PostgreSQL database (haven_bk_<purpose>_<random>) dropped afterwards."""
    var_dir = directory / f"{purpose}-{secrets.token_hex(3)}"
    var_dir.mkdir(parents=True)
    server = suite_database_url()
    if connection.vendor == "sqlite" or not server:
        yield Scratch(var_dir)
        return
    with postgres_database(server, f"haven_bk_{purpose}") as url:
        yield Scratch(var_dir, url)


def run(target: Scratch, *args: str) -> subprocess.CompletedProcess[str]:
    """A `haven` command on `target`, whatever its exit status."""
    return subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "haven", *args],
        env=target.environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )


def in_parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Independent commands at the same time: each is a process that spends seconds starting."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


def tables(target: Scratch) -> list[str]:
    """The target's tables; [] for a database never created."""
    if target.postgres:
        rows = target.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    elif target.sqlite_path.exists():
        rows = target.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        return []
    return sorted(str(name) for (name,) in rows)


def state(target: Scratch) -> dict[str, Any]:
    """What a refused restore must leave alone: the file's bytes, or every table's rows."""
    if not target.postgres:
        return {"sha256": hashlib.sha256(target.sqlite_path.read_bytes()).hexdigest()}
    counts = {}
    for table in tables(target):
        ((rows,),) = target.rows(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608 - a table name
        counts[table] = rows
    return counts


def manifest_of(path: Path) -> dict[str, Any]:
    with tarfile.open(path) as tar:
        stream = tar.extractfile("manifest.json")
        assert stream is not None
        manifest: dict[str, Any] = json.load(stream)
        return manifest


def rewritten(source: Path, target: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the backup with its manifest changed by `change`."""
    manifest = manifest_of(source)
    change(manifest)
    with tarfile.open(source) as old, tarfile.open(target, "w") as new:
        for member in old.getmembers():
            if member.name == "manifest.json":
                data = json.dumps(manifest).encode()
            else:
                stream = old.extractfile(member)
                assert stream is not None
                data = stream.read()
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
    return target


def audit_actions(target: Scratch, action: str) -> int:
    ((count,),) = target.rows(
        f"SELECT COUNT(*) FROM core_auditevent WHERE action = '{action}'"  # noqa: S608 - a literal
    )
    return int(count)


# --- the source and its backup -------------------------------------------------------------------


@dataclass
class Source:
    scratch: Scratch
    backup: Path
    sent: list[dict[str, Any]]
    directory: Path


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    directory = tmp_path_factory.mktemp("backup")
    with scratch(directory, "src") as database:
        sent = households(SOURCE_HOUSEHOLDS, seed=7)
        payload = directory / "households.json"
        payload.write_text(json.dumps(sent))
        os.environ["HAVEN_TEST_HOUSEHOLDS"] = str(payload)
        try:  # migrated and filled in one process: each takes seconds to start
            haven(database, "shell", "--no-startup", "--command", FILL)
        finally:
            del os.environ["HAVEN_TEST_HOUSEHOLDS"]
        backup = directory / "source.tar"
        output = haven(database, "backup", "--output", str(backup))
        assert f"to {backup}" in output
        yield Source(database, backup, sent, directory)


@dataclass
class Restored:
    scratch: Scratch
    output: str


@pytest.fixture(scope="module")
def restored(source: Source) -> Iterator[Restored]:
    """The source's backup restored into an empty database (the later tests restore over it)."""
    with scratch(source.directory, "dst") as target:
        result = run(target, "restore", str(source.backup))
        assert result.returncode == 0, result.stderr
        yield Restored(target, result.stdout)


# --- the tests -----------------------------------------------------------------------------------


def test_backup_holds_a_manifest_of_every_table(source: Source) -> None:
    manifest = manifest_of(source.backup)
    assert manifest["vendor"] == connection.vendor
    assert manifest["format"] == "haven-backup"
    assert manifest["migrations"]["registry"] > "0001"
    with tarfile.open(source.backup) as tar:
        stream = tar.extractfile(manifest["payload"]["name"])
        assert stream is not None
        assert hashlib.sha256(stream.read()).hexdigest() == manifest["payload"]["sha256"]
    persons = sum(len(h["members"]) for h in source.sent)
    assert manifest["tables"]["registry_household"]["rows"] == SOURCE_HOUSEHOLDS
    assert manifest["tables"]["registry_person"]["rows"] == persons
    assert set(manifest["tables"]) == set(tables(source.scratch)) - {"sqlite_sequence"}
    assert all(len(t["checksum"]) == 64 for t in manifest["tables"].values())
    # The backup is audited in the database it was made of, after its snapshot.
    assert audit_actions(source.scratch, "database.backup") == 1
    ((audited,),) = source.scratch.rows("SELECT COUNT(*) FROM core_auditevent")
    assert manifest["tables"]["core_auditevent"]["rows"] == audited - 1


def test_restore_into_an_empty_database_gives_the_same_data(
    source: Source, restored: Restored
) -> None:
    assert "every table matches" in restored.output
    target = restored.scratch
    again = source.directory / "again.tar"
    backup, verify, check = in_parallel(
        lambda: run(target, "backup", "--output", str(again)),
        lambda: run(target, "backup", "--verify", str(source.backup)),
        lambda: run(target, "restore", "--check", str(source.backup)),
    )
    assert backup.returncode == 0, backup.stderr
    assert verify.returncode == 0, verify.stderr
    assert "is a sound backup" in verify.stdout
    assert check.returncode == 0, check.stderr
    # Computed afresh on the restored database, every table's figures are the source's; the
    # audit log has one row more: the restore's own.
    before, after = manifest_of(source.backup)["tables"], manifest_of(again)["tables"]
    assert after.keys() == before.keys()
    for table in before:
        if table != "core_auditevent":
            assert after[table] == before[table], table
    assert after["core_auditevent"]["rows"] == before["core_auditevent"]["rows"] + 1
    assert audit_actions(target, "database.restore") == 1
    stored = stored_households(target)
    assert assert_wholly_present_or_absent(stored, source.sent) == SOURCE_HOUSEHOLDS
    assert_consistent(target, SOURCE_HOUSEHOLDS)


def test_backup_while_a_writer_keeps_registering(source: Source) -> None:
    stop = source.directory / f"stop-{secrets.token_hex(3)}"
    environment = {**source.scratch.environment(), "HAVEN_TEST_STOP": str(stop)}
    writer = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "haven", "shell", "--no-startup", "--command", WRITER],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()

    def read() -> None:
        assert writer.stdout is not None
        for line in writer.stdout:  # read to the end, or the writer blocks on a full pipe
            words = line.split()
            if len(words) == 2 and words[1].isdigit():
                with lock:
                    acknowledged[words[0]] = int(words[1])

    def wait_for(count: int) -> int:
        deadline = time.monotonic() + 60
        while True:
            with lock:
                if len(acknowledged) >= count:
                    return len(acknowledged)
            assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
            assert time.monotonic() < deadline, "the writer does not register"
            time.sleep(0.02)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    backup = source.directory / "concurrent.tar"
    try:
        before = wait_for(10)
        made = run(source.scratch, "backup", "--output", str(backup))
        with lock:
            during = len(acknowledged)
        wait_for(during + 10)  # the writer kept going after the backup's snapshot
    finally:
        stop.touch()
        writer.wait(timeout=60)
        reader.join(timeout=10)
    assert made.returncode == 0, made.stderr
    assert writer.returncode == 0, writer.stderr.read() if writer.stderr else ""
    manifest = manifest_of(backup)
    in_backup = manifest["tables"]["registry_household"]["rows"] - SOURCE_HOUSEHOLDS
    # A moment while the writer was writing: after `before` acknowledgements, before all.
    assert before <= in_backup < len(acknowledged)

    with scratch(source.directory, "conc") as target:
        restored = run(target, "restore", str(backup))
        # The restore compares every table with the manifest; it fails on any difference.
        assert restored.returncode == 0, restored.stderr + restored.stdout
        stored = stored_households(target)
    assert len(stored) == SOURCE_HOUSEHOLDS + in_backup
    written = {str(key): len(members) for key, members in stored.items()}
    sent = {h["uuid"] for h in source.sent}
    for household_uuid, size in written.items():
        if household_uuid not in sent:
            assert acknowledged[household_uuid] == size, household_uuid
    persons = sum(written.values())
    assert manifest["tables"]["registry_person"]["rows"] == persons


def _damaged_copies(source: Source) -> dict[str, Path]:
    data = source.backup.read_bytes()
    with tarfile.open(source.backup) as tar:
        payload = tar.getmember(manifest_of(source.backup)["payload"]["name"])
    flipped = bytearray(data)
    middle = payload.offset_data + payload.size // 2
    flipped[middle] ^= 0xFF
    copies = {
        "truncated": data[: payload.offset_data + payload.size // 3],
        "flipped": bytes(flipped),
        "not a backup": b"PK\x03\x04 a zip file, or anything else" * 100,
    }
    paths = {}
    for name, content in copies.items():
        path = source.directory / f"damaged-{name.replace(' ', '-')}.tar"
        path.write_bytes(content)
        paths[name] = path
    return paths


def test_a_damaged_backup_is_refused_and_nothing_changes(
    source: Source, restored: Restored
) -> None:
    damaged = _damaged_copies(source)

    def tamper(manifest: dict[str, Any]) -> None:
        manifest["tables"]["registry_person"]["checksum"] = "0" * 64

    tampered = rewritten(source.backup, source.directory / "tampered.tar", tamper)
    target = restored.scratch
    before = state(target)
    results = in_parallel(
        lambda: run(target, "restore", "--force", str(damaged["truncated"])),
        lambda: run(target, "restore", "--force", str(damaged["flipped"])),
        lambda: run(target, "backup", "--verify", str(damaged["not a backup"])),
        lambda: run(target, "restore", "--force", str(tampered)),
    )
    *unreadable, mismatched = results
    assert mismatched.returncode != 0
    assert "table registry_person: its rows differ" in mismatched.stderr, mismatched.stderr
    for result in unreadable:
        assert result.returncode != 0, result.stdout
        assert "damaged or is not a Haven backup" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert state(target) == before
    assert audit_actions(target, "database.restore") == 1
    if not target.postgres:
        leftovers = [p.name for p in target.var_dir.iterdir() if "restore" in p.name]
        assert leftovers == []


def test_another_vendor_or_a_newer_haven_is_refused(source: Source) -> None:
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"

    def vendor(manifest: dict[str, Any]) -> None:
        manifest["vendor"] = other

    def newer(manifest: dict[str, Any]) -> None:
        manifest["migrations"]["registry"] = "9999_from_the_future"

    foreign = rewritten(source.backup, source.directory / "foreign.tar", vendor)
    future = rewritten(source.backup, source.directory / "future.tar", newer)
    with scratch(source.directory, "empty") as target:
        refused_vendor, refused_future = in_parallel(
            lambda: run(target, "restore", str(foreign)),
            lambda: run(target, "restore", str(future)),
        )
        assert refused_vendor.returncode != 0
        assert f"is a backup of a {other} database" in refused_vendor.stderr
        assert refused_future.returncode != 0
        assert "made by a newer Haven" in refused_future.stderr
        assert "registry.9999_from_the_future" in refused_future.stderr
        assert tables(target) == []


def test_restore_over_data_needs_force(source: Source, restored: Restored) -> None:
    target = restored.scratch
    before = state(target)
    refused = run(target, "restore", str(source.backup))
    assert refused.returncode != 0
    assert "holds data" in refused.stderr
    assert "--force" in refused.stderr
    assert state(target) == before
    forced = run(target, "restore", "--force", str(source.backup))
    assert forced.returncode == 0, forced.stderr
    # Replaced by the backup, then audited once: the earlier restore's row went with it.
    assert audit_actions(target, "database.restore") == 1
    assert len(stored_households(target)) == SOURCE_HOUSEHOLDS


def test_keep_removes_only_older_backups_haven_named_once_the_new_one_is_sound(
    source: Source,
) -> None:
    """A nightly `haven backup --keep 3` into the default directory: the new backup, verified,
    and the two newest before it stay; older haven-<time>.tar files go; nothing else there is
    touched. Bad values are refused before anything is written or removed."""
    target = source.scratch
    directory = target.var_dir / "backups"
    directory.mkdir(mode=0o700, exist_ok=True)
    older = [directory / f"haven-2026010{day}T020000Z.tar" for day in range(1, 6)]
    # Not Haven's own name; a backup another run made later than this one (its name's time is
    # ahead); a symbolic link named like a backup: none is counted or removed.
    others = [
        directory / name
        for name in ("haven-before-upgrade.tar", "notes.txt", "haven-29991231T000000Z.tar")
    ]
    for path in [*older, *others]:
        path.write_bytes(b"an earlier night's file")
    link = directory / "haven-20251231T020000Z.tar"
    link.symlink_to(others[1])
    others.append(link)

    for bad, complaint in [
        (["--keep", "0"], "--keep must be at least 1"),
        (["--keep", "2", "--verify", str(source.backup)], "not with --verify"),
        (
            ["--keep", "1", "--output", str(directory / "nightly.tar")],
            "--keep counts only backups named haven-<UTC time>.tar",
        ),
    ]:
        refused = run(target, "backup", *bad)
        assert refused.returncode != 0
        assert complaint in refused.stderr
    assert sorted(directory.iterdir()) == sorted([*older, *others])

    made = run(target, "backup", "--keep", "3")
    assert made.returncode == 0, made.stderr
    kept = sorted(p for p in directory.iterdir() if p not in others)
    assert len(kept) == 3
    new = kept[-1]
    assert new not in older
    assert kept[:2] == older[3:]  # the two newest earlier ones
    assert all(path.exists() for path in others)
    for path in older[:3]:
        assert f"removed the older backup {path}" in made.stdout
    assert run(target, "backup", "--verify", str(new)).returncode == 0
    ((detail,),) = target.rows(
        "SELECT detail FROM core_auditevent WHERE action = 'database.backups_pruned'"
    )
    pruned = json.loads(detail) if isinstance(detail, str) else detail
    assert pruned["removed"] == [p.name for p in reversed(older[:3])]
    assert pruned["newest"] == new.name


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["plain", 'with "quotes"', 'x" UNION SELECT 1 --', '"already quoted"', "кирилл ՀՀ"]
)
def test_any_table_name_is_counted_as_itself(name: str) -> None:
    """A table of a backup being checked is named by whoever made the file: its name is quoted
    whole, never read as SQL."""
    from django.db import connection

    from haven.core.backup import BackupError, database_figures, quoted_table

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {quoted_table(name)} (x integer)")
        cursor.execute(f"INSERT INTO {quoted_table(name)} VALUES (1), (2)")  # noqa: S608
        cursor.execute(f"SELECT COUNT(*) FROM {quoted_table(name)}")  # noqa: S608
        assert cursor.fetchone() == (2,)
        tables = connection.introspection.table_names(cursor)
    assert name in tables
    figures = database_figures()
    assert figures[name]["rows"] == 2
    assert figures[name]["checksum"] is None  # a table no model owns is counted, not checksummed
    with pytest.raises(BackupError, match="NUL"):
        quoted_table("a\x00b")
