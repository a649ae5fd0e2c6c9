"""Verified backups of Haven's database, and their restore: `haven backup`, `haven restore`.

A backup is one tar file holding two members:

- `manifest.json`: the format and its version, the database vendor, Haven's latest applied
  migration per app, when it was made, the payload's size and SHA-256, and for every table its
  row count and a checksum of its rows;
- the payload: `database.sqlite3` (a copy made with SQLite's online backup API) or
  `database.pgdump` (`pg_dump -Fc`).

Both are consistent while Haven keeps writing. On SQLite the online backup API copies the database
in one read transaction, and the figures are computed on that copy. On PostgreSQL a REPEATABLE READ
transaction exports its snapshot and stays open while `pg_dump --snapshot` dumps exactly that
snapshot, and the figures are computed in the same transaction: the manifest describes exactly the
rows in the dump.

A table's checksum is the sum, modulo 2**256, of the SHA-256 of each row's canonical form (a JSON
list of its column values as Python sees them through Django's fields: times in UTC, UUIDs
hyphenated, decimals as written, JSON with sorted keys). The sum does not depend on the order rows
are read in, so it is the same on both vendors whatever their collations, and it can be computed
from a dump read in storage order (`verify` on PostgreSQL reads the rows out of the dump with
`pg_restore --data-only`, without restoring anything).

A restore first reads the manifest and refuses, changing nothing, a backup of another vendor, one
made by a newer Haven (a migration unknown here), a database that holds data (unless forced), and
a damaged file or one whose rows do not match its manifest. On SQLite the payload is written to a
temporary file beside the database, checked (integrity and every table's figures), and renamed
over the database, its old write-ahead log removed. On PostgreSQL the dump's rows are checked,
then `pg_restore --clean --if-exists --no-owner --single-transaction` replaces the database's
tables, and the figures are computed again on the restored database. Stop the server first.
"""

import contextlib
import copy
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.db import connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.core import audit

FORMAT = "haven-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PAYLOADS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# Tables that `haven migrate` fills by itself: a database holding rows only there holds no data.
MIGRATE_FILLS = {"django_migrations", "django_content_type", "auth_permission"}
CHECK_ALIAS = "haven_backup_check"
# Debian installs each major version's client side by side (postgresql-client-15, -16, …).
PG_VERSIONS = Path("/usr/lib/postgresql")
CHUNK = 4096
MODULUS = 1 << 256


class BackupError(Exception):
    """A backup or a restore refused or failed; the message says why, for the operator."""


# --- figures: per table, a row count and a checksum ---------------------------------------------


def _canonical(value: Any) -> Any:
    """A column value as JSON, the same whichever vendor it was read from."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            return value.astimezone(UTC).isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, timedelta):
        return (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    raise BackupError(_("cannot checksum a value of type %(type)s") % {"type": type(value)})


def row_digest(values: Iterable[Any]) -> int:
    text = json.dumps(
        [_canonical(v) for v in values], ensure_ascii=False, separators=(",", ":"), sort_keys=True
    )
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


@dataclass
class TableFigures:
    rows: int = 0
    total: int = 0
    checked: bool = True
    columns: tuple[str, ...] = ()

    def add(self, values: Iterable[Any]) -> None:
        self.rows += 1
        self.total = (self.total + row_digest(values)) % MODULUS

    def as_json(self) -> dict[str, Any]:
        checksum = f"{self.total:064x}" if self.checked else None
        return {"rows": self.rows, "checksum": checksum, "columns": list(self.columns)}


def checked_models() -> dict[str, type[models.Model]]:
    """Every table Haven's models own (with the many-to-many tables), by table name."""
    found: dict[str, type[models.Model]] = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.managed and not meta.proxy and not meta.swapped:
            found.setdefault(meta.db_table, model)
    # Django's record of applied migrations is a model outside the app registry.
    found.setdefault(MigrationRecorder.Migration._meta.db_table, MigrationRecorder.Migration)
    return found


def _columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if f.column]


def quoted_table(name: str) -> str:
    """A table name quoted for SQL on both databases, whatever it holds: an embedded double quote
    is doubled. (Django's quote_name leaves a name with quotes in it as it is, and the tables of
    a backup being checked are named by whoever made the file.)"""
    if "\x00" in name:
        raise BackupError(_("a table name holds a NUL character"))
    return '"' + name.replace('"', '""') + '"'


def _user_tables(connection: BaseDatabaseWrapper) -> list[str]:
    with connection.cursor() as cursor:
        names = connection.introspection.table_names(cursor)
    return sorted(n for n in names if not n.startswith("sqlite_"))


Expected = Mapping[str, Mapping[str, Any]]


def checked_fields(
    model: type[models.Model], present: Iterable[str], expected: Mapping[str, Any] | None
) -> list[models.Field[Any, Any]] | None:
    """The fields whose columns a table's checksum covers, in order; None if some is unknown.

    A backup's manifest lists the columns its checksums cover, and the same columns are read
    when it is checked, so that a backup made before a migration added a column still checks.
    Otherwise: the model's columns that the table has.
    """
    by_column = {f.column: f for f in _columns(model)}
    if expected is not None and "columns" in expected:
        wanted = [str(column) for column in expected["columns"]]
        if any(column not in by_column for column in wanted):
            return None
        return [by_column[column] for column in wanted]
    present = set(present)
    return [f for f in by_column.values() if f.column in present]


def database_figures(alias: str = "default", expected: Expected | None = None) -> dict[str, Any]:
    """Row count and checksum of every table, read through the connection `alias`.

    Tables without a model (left by an app since removed) are counted but not checksummed.
    """
    connection = connections[alias]
    known = checked_models()
    figures: dict[str, dict[str, Any]] = {}
    for table in _user_tables(connection):
        model = known.get(table)
        result = TableFigures()
        fields = None
        if model is not None:
            with connection.cursor() as cursor:
                description = connection.introspection.get_table_description(cursor, table)
            present = [column.name for column in description]
            fields = checked_fields(model, present, (expected or {}).get(table))
        if model is None or fields is None:
            result.checked = False
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM {quoted_table(table)}")  # noqa: S608
                result.rows = int(cursor.fetchone()[0])
        else:
            result.columns = tuple(f.column for f in fields)
            names = [f.attname for f in fields]
            rows: models.QuerySet[Any, tuple[Any, ...]] = (
                models.QuerySet(model=model, using=alias).order_by().values_list(*names)
            )
            for values in rows.iterator(chunk_size=CHUNK):
                result.add(values)
        figures[table] = result.as_json()
    return figures


def holds_data(alias: str = "default") -> bool:
    """Whether the database has rows anywhere but in the tables `haven migrate` fills itself."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        for table in _user_tables(connection):
            if table not in MIGRATE_FILLS:
                cursor.execute(f"SELECT 1 FROM {quoted_table(table)} LIMIT 1")  # noqa: S608
                if cursor.fetchone() is not None:
                    return True
    return False


def compare_figures(
    expected: Mapping[str, Mapping[str, Any]], found: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """One line per table whose rows differ between the manifest and a database; [] if none."""
    problems = []
    for table in sorted(set(expected) | set(found)):
        want, got = expected.get(table), found.get(table)
        if want is None and got is not None and got["rows"] == 0:
            continue  # an empty table the backup's Haven did not have: nothing lost
        if want is None:
            problems.append(_("table %(table)s is not in the backup") % {"table": table})
        elif got is None:
            problems.append(_("table %(table)s is missing") % {"table": table})
        elif want["rows"] != got["rows"]:
            problems.append(
                _("table %(table)s has %(found)d rows, the backup says %(expected)d")
                % {"table": table, "found": got["rows"], "expected": want["rows"]}
            )
        elif want["checksum"] is not None and got["checksum"] is None:
            problems.append(
                _("table %(table)s has columns this Haven does not know: it cannot be checked")
                % {"table": table}
            )
        elif want["checksum"] != got["checksum"]:
            problems.append(
                _("table %(table)s: its rows differ from the backup's (checksum)")
                % {"table": table}
            )
    return problems


def _applied_migrations(alias: str) -> dict[str, str]:
    """Per app, the latest applied migration (names are numbered, so the greatest is the last)."""
    latest: dict[str, str] = {}
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        for app, name in cursor.fetchall():
            latest[app] = max(latest.get(app, name), name)
    return latest


# --- the file ------------------------------------------------------------------------------------


@dataclass
class Backup:
    path: Path
    manifest: dict[str, Any]

    @property
    def vendor(self) -> str:
        return str(self.manifest["vendor"])

    @property
    def total_rows(self) -> int:
        return sum(int(t["rows"]) for t in self.manifest["tables"].values())


def _damaged(path: Path, why: object) -> BackupError:
    return BackupError(
        _("%(path)s is damaged or is not a Haven backup (%(why)s); nothing was changed")
        % {"path": path, "why": why}
    )


def read_manifest(path: Path) -> Backup:
    """The backup's manifest, checked for shape; BackupError if the file is not a backup."""
    try:
        with tarfile.open(path, "r:") as tar:
            member = tar.getmember(MANIFEST)
            stream = tar.extractfile(member)
            if stream is None:
                raise _damaged(path, _("no manifest"))
            manifest = json.loads(stream.read())
    except FileNotFoundError:
        raise BackupError(_("%(path)s does not exist") % {"path": path}) from None
    except (tarfile.TarError, KeyError, OSError, ValueError) as exc:
        raise _damaged(path, exc) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _damaged(path, _("no Haven manifest"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            _(
                "%(path)s is a backup of format version %(version)s;"
                " this Haven reads version %(ours)d"
            )
            % {"path": path, "version": manifest.get("format_version"), "ours": FORMAT_VERSION}
        )
    needed = ("vendor", "payload", "migrations", "tables", "created_at")
    if any(key not in manifest for key in needed) or manifest["vendor"] not in PAYLOADS:
        raise _damaged(path, _("incomplete manifest"))
    return Backup(path=path, manifest=manifest)


@contextlib.contextmanager
def payload_copy(backup: Backup, directory: Path) -> Iterator[Path]:
    """The payload extracted into `directory`, its size and SHA-256 checked; removed afterwards."""
    payload = backup.manifest["payload"]
    fd, name = tempfile.mkstemp(prefix=".haven-restore-", dir=directory)
    target = Path(name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with tarfile.open(backup.path, "r:") as tar:
                    member = tar.getmember(payload["name"])
                    stream = tar.extractfile(member)
                    if stream is None or not member.isfile():
                        raise _damaged(backup.path, _("no payload"))
                    while chunk := stream.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            except (tarfile.TarError, KeyError, OSError, EOFError) as exc:
                raise _damaged(backup.path, exc) from None
            out.flush()
            os.fsync(out.fileno())
        if size != payload["size"] or digest.hexdigest() != payload["sha256"]:
            raise _damaged(backup.path, _("the database inside does not match its checksum"))
        yield target
    finally:
        for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)


def _write_archive(output: Path, manifest: dict[str, Any], payload: Path) -> None:
    """The tar written beside `output` and renamed into place: never a half-written backup."""
    partial = output.with_name(f".{output.name}.partial")
    try:
        # Owner-only from the first byte: a backup holds everyone's personal data.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:") as tar:
            text = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(text)
            info.mtime = int(timezone.now().timestamp())
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(text))
            tar.add(payload, arcname=manifest["payload"]["name"], recursive=False)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, 0o600)  # a backup holds everyone's personal data
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# The name `default_output` gives: only files named so are ever pruned.
BACKUP_NAME = re.compile(r"haven-\d{8}T\d{6}Z\.tar")


def default_output() -> Path:
    stamp = timezone.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(settings.VAR_DIR) / "backups" / f"haven-{stamp}.tar"


def check_prunable(output: Path | None, keep: int) -> None:
    """Refuse `--keep` that pruning could not honour, before any backup is made: fewer than one,
    or an output not named as Haven names its backups (it would never be pruned itself, and a
    nightly job would overwrite it while removing the dated ones)."""
    if keep < 1:
        raise BackupError(_("--keep must be at least 1 (the backup just made)"))
    if output is not None and not BACKUP_NAME.fullmatch(output.name):
        raise BackupError(
            _(
                "--keep counts only backups named haven-<UTC time>.tar (such as"
                " haven-20231001T020000Z.tar), and %(name)s is not: leave --output out, or give"
                " the directory a file named so"
            )
            % {"name": output.name}
        )


def prune_backups(newest: Path, keep: int) -> list[Path]:
    """Remove all but the `keep` newest backups in `newest`'s directory, `newest` (the backup just
    made, and verified) counted first; the removed files, newest first. Only regular files with
    the name Haven gives its backups (haven-<UTC time>.tar) and an earlier time than `newest`
    are counted and removed (never a symbolic link, never a backup that another run made since);
    nothing else. Audited, also when a removal fails part way."""
    check_prunable(newest, keep)
    newest = newest.resolve()
    older = sorted(
        (
            path
            for path in newest.parent.iterdir()
            if BACKUP_NAME.fullmatch(path.name)
            and path.name < newest.name
            and not path.is_symlink()
            and path.is_file()
        ),
        key=lambda path: path.name,  # the UTC time in the name
        reverse=True,
    )
    removed: list[Path] = []
    failure: OSError | None = None
    for path in older[keep - 1 :]:
        try:
            path.unlink()
        except OSError as exc:
            failure = exc
            break
        removed.append(path)
    if removed:
        audit.record(
            user=None,
            action="database.backups_pruned",
            object_type="database",
            object_uuid=None,
            detail={"kept": keep, "newest": newest.name, "removed": [p.name for p in removed]},
        )
    if failure is not None:
        raise BackupError(
            _("the new backup is sound, but an older one could not be removed: %(why)s")
            % {"why": failure}
        )
    return removed


# --- a second connection on a database file ------------------------------------------------------


@contextlib.contextmanager
def sqlite_alias(path: Path) -> Iterator[str]:
    """A Django connection alias on the SQLite file `path`, for reading figures through models."""
    config = copy.deepcopy(connections.settings["default"])
    for key in ("HOST", "PORT", "USER", "PASSWORD"):
        config[key] = ""
    config.update(
        ENGINE="django.db.backends.sqlite3",
        NAME=str(path),
        OPTIONS={"timeout": 20},
        TEST={"NAME": None},
        CONN_MAX_AGE=0,
    )
    connections.settings[CHECK_ALIAS] = config
    try:
        yield CHECK_ALIAS
    finally:
        connections[CHECK_ALIAS].close()
        del connections[CHECK_ALIAS]
        del connections.settings[CHECK_ALIAS]


# --- making a backup -----------------------------------------------------------------------------


def _manifest(
    vendor: str, migrations: dict[str, str], figures: dict[str, Any], payload: Path
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "vendor": vendor,
        "created_at": timezone.now().astimezone(UTC).isoformat(),
        "migrations": migrations,
        "payload": {
            "name": PAYLOADS[vendor],
            "size": payload.stat().st_size,
            "sha256": _file_sha256(payload),
        },
        "tables": figures,
        "checksum": "sum mod 2**256 of sha256(canonical JSON of each row)",
    }


def make_backup(output: Path | None = None) -> Backup:
    """Back up the configured database into `output` (a tar file); audit it."""
    output = (output or default_output()).resolve()
    output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    vendor = connections["default"].vendor
    with tempfile.TemporaryDirectory(prefix=".haven-backup-", dir=output.parent) as work:
        payload = Path(work) / PAYLOADS.get(vendor, "payload")
        if vendor == "sqlite":
            migrations, figures = _sqlite_backup(payload)
        elif vendor == "postgresql":
            migrations, figures = _postgresql_backup(payload)
        else:
            raise BackupError(_("Haven cannot back up a %(vendor)s database") % {"vendor": vendor})
        manifest = _manifest(vendor, migrations, figures, payload)
        _write_archive(output, manifest, payload)
    backup = Backup(path=output, manifest=manifest)
    audit.record(
        user=None,
        action="database.backup",
        object_type="database",
        object_uuid=None,
        detail={
            "file": output.name,
            "vendor": vendor,
            "rows": backup.total_rows,
            "sha256": manifest["payload"]["sha256"],
        },
    )
    return backup


def _sqlite_path() -> Path:
    return Path(str(connections["default"].settings_dict["NAME"]))


def _sqlite_backup(payload: Path) -> tuple[dict[str, str], dict[str, Any]]:
    import sqlite3

    source_path = _sqlite_path()
    if not source_path.exists():
        raise BackupError(_("the database %(path)s does not exist") % {"path": source_path})
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=20)
    target = sqlite3.connect(payload)
    try:
        # One step (pages=-1): one read transaction over the whole database, so the copy is the
        # database as it was at one moment, however busy the writers are.
        source.backup(target, pages=-1)
    finally:
        target.close()
        source.close()
    with sqlite_alias(payload) as alias:
        return _applied_migrations(alias), database_figures(alias)


# --- PostgreSQL tools ----------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore for the server's major version (or a newer one), else on PATH."""
    connection = connections["default"]
    # Verifying a PostgreSQL backup on a Haven configured for SQLite: any installed version.
    major = 0
    if connection.vendor == "postgresql":
        # pg_version is PostgreSQL's wrapper's own attribute, unknown to the base class's stubs.
        major = connection.pg_version // 10000  # type: ignore[attr-defined]
    installed: list[tuple[int, Path]] = []
    for candidate in PG_VERSIONS.glob(f"*/bin/{name}"):
        version = candidate.parent.parent.name
        if version.isdigit():
            installed.append((int(version), candidate))
    usable = sorted(version_path for version_path in installed if version_path[0] >= major)
    if usable:
        # The server's own version; with no server to match, the newest reads every dump.
        return str(usable[0][1] if major else usable[-1][1])
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise BackupError(
        _(
            "%(tool)s is not installed: install Debian's postgresql-client-%(major)d"
            " (the client of the server's version %(major)d)"
        )
        % {"tool": name, "major": major}
    )


def pg_environment() -> dict[str, str]:
    """libpq's environment for the configured database: the password never on a command line."""
    config = connections["default"].settings_dict
    env = dict(os.environ)
    for key, var in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("NAME", "PGDATABASE"),
    ):
        if config.get(key):
            env[var] = str(config[key])
    sslmode = config.get("OPTIONS", {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return env


def _run(command: list[str], *, stdout: IO[bytes] | int | None = None) -> None:
    result = subprocess.run(  # noqa: S603 - a fixed tool with paths Haven chose
        command, env=pg_environment(), stdout=stdout, stderr=subprocess.PIPE, check=False
    )
    if result.returncode != 0:
        raise BackupError(
            _("%(tool)s failed: %(error)s")
            % {"tool": Path(command[0]).name, "error": result.stderr.decode(errors="replace")}
        )


def _postgresql_backup(payload: Path) -> tuple[dict[str, str], dict[str, Any]]:
    pg_dump = pg_tool("pg_dump")
    connection = connections["default"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        command = [pg_dump, "-Fc", "--no-password", f"--snapshot={snapshot}", "-f", str(payload)]
        dump = subprocess.Popen(  # noqa: S603 - a fixed tool with paths Haven chose
            command, env=pg_environment(), stderr=subprocess.PIPE
        )
        try:
            # Computed in this transaction, whose snapshot pg_dump is dumping meanwhile.
            migrations = _applied_migrations("default")
            figures = database_figures("default")
        finally:
            # The transaction (and its snapshot) stays open until pg_dump has finished.
            errors = dump.communicate()[1]
    if dump.returncode != 0:
        raise BackupError(
            _("pg_dump failed: %(error)s") % {"error": errors.decode(errors="replace")}
        )
    return migrations, figures


# --- checking a backup ---------------------------------------------------------------------------


def check_compatible(backup: Backup) -> None:
    """Refuse a backup of another vendor, or of a Haven newer than this one."""
    vendor = connections["default"].vendor
    if backup.vendor != vendor:
        raise BackupError(
            _(
                "%(path)s is a backup of a %(theirs)s database; the configured database is"
                " %(ours)s: restore it into a %(theirs)s database; nothing was changed"
            )
            % {"path": backup.path, "theirs": backup.vendor, "ours": vendor}
        )
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    for app, name in sorted(backup.manifest["migrations"].items()):
        if (app, name) not in known:
            raise BackupError(
                _(
                    "%(path)s was made by a newer Haven (migration %(app)s.%(name)s is unknown"
                    " here): upgrade Haven first; nothing was changed"
                )
                % {"path": backup.path, "app": app, "name": name}
            )


def _raise_mismatch(problems: list[str], what: str) -> None:
    if problems:
        raise BackupError(f"{what}:\n  " + "\n  ".join(problems))


def verify_backup(path: Path) -> Backup:
    """Check a backup without restoring it: the payload's checksum, then every table's figures."""
    backup = read_manifest(path)
    directory = Path(tempfile.gettempdir())
    with payload_copy(backup, directory) as payload:
        if backup.vendor == "sqlite":
            found = _sqlite_file_figures(payload, backup.manifest["tables"])
        else:
            found = dump_figures(payload, backup.manifest["tables"])
    _raise_mismatch(
        compare_figures(backup.manifest["tables"], found),
        _("%(path)s does not hold the data its manifest describes") % {"path": path},
    )
    return backup


def _sqlite_file_figures(path: Path, expected: Expected) -> dict[str, Any]:
    import sqlite3

    check = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (verdict,) = check.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    finally:
        check.close()
    if verdict != "ok":
        raise BackupError(_("the database in the backup is damaged: %(why)s") % {"why": verdict})
    with sqlite_alias(path) as alias:
        return database_figures(alias, expected)


_COPY_START = re.compile(r'^COPY (?:"?[^ ."]+"?\.)?"?([^ "(]+)"? \((.*)\) FROM stdin;$')
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)")


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] == "x":
            return chr(int(code[1:], 16))
        if code[0].isdigit():
            return chr(int(code, 8))
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(one, text)


def _copy_value(field: models.Field[Any, Any], text: str) -> Any:
    """A value of COPY's text format as Django's field would have read it from the database."""
    if text == r"\N":
        return None
    value = _unescape(text)
    # A foreign key holds its target's type.
    base = field.target_field if isinstance(field, models.ForeignKey) else field
    kind = base.get_internal_type()
    if kind == "BooleanField":
        return value == "t"
    if kind.endswith(("IntegerField", "AutoField")):
        return int(value)
    if kind == "FloatField":
        return float(value)
    if kind == "DecimalField":
        return Decimal(value)
    if kind == "UUIDField":
        return uuid.UUID(value)
    if kind == "DateTimeField":
        return datetime.fromisoformat(value)
    if kind == "DateField":
        return date.fromisoformat(value)
    if kind == "TimeField":
        return time.fromisoformat(value)
    if kind == "JSONField":
        return json.loads(value)
    if kind == "BinaryField":
        return bytes.fromhex(value[2:])
    if kind == "DurationField":
        raise BackupError(_("cannot read an interval from a dump"))
    return value


def dump_figures(payload: Path, expected: Expected) -> dict[str, Any]:
    """Figures of the rows inside a `pg_dump -Fc` file, read out by `pg_restore --data-only`."""
    pg_restore = pg_tool("pg_restore")
    # pg_dump writes a COPY block for every table, an empty one too.
    figures: dict[str, TableFigures] = {}
    known = checked_models()
    command = [pg_restore, "--data-only", "-f", "-", str(payload)]
    process = subprocess.Popen(  # noqa: S603 - a fixed tool with paths Haven chose
        command, env=pg_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None  # noqa: S101 - asked for with stdout=PIPE
    table: str | None = None
    # The model's columns, in the model's order (the order database_figures reads them in), each
    # with its position in the COPY block.
    fields: list[tuple[models.Field[Any, Any], int]] = []
    for raw in process.stdout:
        line = raw.decode().rstrip("\n")
        if table is None:
            start = _COPY_START.match(line)
            if start:
                table = start.group(1)
                model = known.get(table)
                columns = [c.strip().strip('"') for c in start.group(2).split(",")]
                position = {column: index for index, column in enumerate(columns)}
                chosen = checked_fields(model, columns, expected.get(table)) if model else None
                result = figures.setdefault(table, TableFigures())
                result.checked = chosen is not None
                fields = [(f, position[f.column]) for f in chosen or ()]
                result.columns = tuple(f.column for f in chosen or ())
            continue
        if line == "\\.":
            table = None
            continue
        result = figures[table]
        if not result.checked:
            result.rows += 1
            continue
        parts = line.split("\t")
        values = [_copy_value(field, parts[index]) for field, index in fields]
        result.add(values)
    errors = process.communicate()[1]
    if process.returncode != 0:
        raise BackupError(
            _("pg_restore failed: %(error)s") % {"error": errors.decode(errors="replace")}
        )
    return {name: result.as_json() for name, result in sorted(figures.items())}


# --- restoring -----------------------------------------------------------------------------------


def restore_backup(path: Path, *, force: bool = False) -> Backup:
    """Replace the configured database by the backup at `path`, verified; audit it.

    Refuses (changing nothing) a damaged file, a backup of another vendor or of a newer Haven,
    and a database that holds data unless `force`.
    """
    backup = read_manifest(path)
    check_compatible(backup)
    if backup.vendor == "sqlite":
        _sqlite_restore(backup, force=force)
    else:
        _postgresql_restore(backup, force=force)
    audit.record(
        user=None,
        action="database.restore",
        object_type="database",
        object_uuid=None,
        detail={
            "file": backup.path.name,
            "created_at": backup.manifest["created_at"],
            "rows": backup.total_rows,
            "sha256": backup.manifest["payload"]["sha256"],
        },
    )
    return backup


def _refuse_data(force: bool) -> None:
    if not force and holds_data("default"):
        raise BackupError(
            _(
                "the configured database holds data: restoring would replace it. Back it up"
                " first, then restore with --force; nothing was changed"
            )
        )


def _sqlite_restore(backup: Backup, *, force: bool) -> None:
    import sqlite3

    target = _sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.stat().st_size:
        _refuse_data(force)
    # Written beside the target, so that the final rename is atomic (one file system).
    with payload_copy(backup, target.parent) as payload:
        found = _sqlite_file_figures(payload, backup.manifest["tables"])
        _raise_mismatch(
            compare_figures(backup.manifest["tables"], found),
            _("%(path)s does not hold the data its manifest describes; nothing was changed")
            % {"path": backup.path},
        )
        connections.close_all()
        if target.exists():
            # Fold the old write-ahead log into the old file, then drop the log and its index:
            # left beside the new file they would be replayed into it.
            old = sqlite3.connect(target, timeout=20)
            try:
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                old.close()
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(payload, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _postgresql_restore(backup: Backup, *, force: bool) -> None:
    pg_restore = pg_tool("pg_restore")
    _refuse_data(force)
    with payload_copy(backup, Path(tempfile.gettempdir())) as payload:
        # A dump that pg_restore cannot read, or whose rows are not those of the manifest, is
        # refused before the database is touched.
        _raise_mismatch(
            compare_figures(
                backup.manifest["tables"], dump_figures(payload, backup.manifest["tables"])
            ),
            _("%(path)s does not hold the data its manifest describes; nothing was changed")
            % {"path": backup.path},
        )
        connections.close_all()
        _run(
            [
                pg_restore,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                "--no-password",
                "-d",
                str(connections["default"].settings_dict["NAME"]),
                str(payload),
            ]
        )
    _raise_mismatch(
        compare_figures(
            backup.manifest["tables"], database_figures("default", backup.manifest["tables"])
        ),
        _("the restored database does not hold the data of %(path)s") % {"path": backup.path},
    )
