"""`haven serve [--host 127.0.0.1] [--port 8000]`: Haven under gunicorn, a production server.

    haven serve [--host H] [--port P] [--workers N] [--threads T] [--timeout SECONDS]

Refuses to start while migrations are unapplied (run `haven migrate` first, after a backup),
collects the static files so that whitenoise serves them compressed and cacheable, then becomes
gunicorn's arbiter (exec: the same process id), whose workers a SIGTERM stops gracefully and a
SIGHUP reloads. Every setting
comes from the environment (`HAVEN_*`, see haven/settings.py and the README); the command-line
options override HAVEN_WORKERS, HAVEN_THREADS and HAVEN_REQUEST_TIMEOUT.
"""

import hashlib
import os
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext as _

from haven.settings import env_int


def default_workers() -> int:
    """One process a core (at least two, at most eight), each with threads: on two cores, two
    workers of four threads registered faster than more processes (bench/bench_registration.py)."""
    return min(max(os.cpu_count() or 1, 2), 8)


def unapplied_migrations() -> list[str]:
    connection = connections["default"]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def static_sources_digest() -> str:
    """A digest of every static file's path, size and time, as the finders would collect them."""
    digest = hashlib.sha256()
    for finder in get_finders():
        for path, storage in finder.list(ignore_patterns=[]):
            stat = os.stat(storage.path(path))
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def collect_static() -> None:
    """collectstatic, compressing each file for whitenoise, unless nothing changed since the last.

    Compressing every file takes seconds; a server restarted after a crash should not wait.
    """
    root = Path(settings.STATIC_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    stamp = root / ".haven-collected"
    wanted = static_sources_digest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(wanted)


class Command(BaseCommand):
    help = "Serve Haven with gunicorn (a production server) and whitenoise for static files."
    requires_system_checks = "__all__"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on")
        parser.add_argument(
            "--workers",
            type=int,
            default=env_int("HAVEN_WORKERS", default_workers()),
            help="worker processes (HAVEN_WORKERS; default one a core, 2 to 8)",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=env_int("HAVEN_THREADS", 4),
            help="threads a worker (HAVEN_THREADS, default 4)",
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=env_int("HAVEN_REQUEST_TIMEOUT", 120),
            help="seconds a request may take before its worker is restarted"
            " (HAVEN_REQUEST_TIMEOUT, default 120)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("workers", "threads", "timeout"):
            if options[name] < 1:
                raise CommandError(
                    _("--%(name)s must be at least 1, got %(value)d")
                    % {"name": name, "value": options[name]}
                )
        if not 0 < options["port"] < 65536:
            raise CommandError(_("--port must be between 1 and 65535"))
        pending = unapplied_migrations()
        if pending:
            raise CommandError(
                _(
                    "the database has %(count)d unapplied migrations (%(first)s, …):"
                    " back it up (haven backup), then run haven migrate"
                )
                % {"count": len(pending), "first": pending[0]}
            )
        collect_static()
        # gunicorn replaces this process (same pid, so a supervisor's signals reach it), with
        # whitenoise serving the collected, compressed files instead of reading the sources.
        environment = {**os.environ, "HAVEN_STATIC_COLLECTED": "true"}
        command = [
            sys.executable, "-m", "gunicorn", "haven.wsgi",
            "--bind", f"{options['host']}:{options['port']}",
            "--workers", str(options["workers"]),
            "--worker-class", "gthread",
            "--threads", str(options["threads"]),
            "--timeout", str(options["timeout"]),
            "--graceful-timeout", "30",
            "--access-logfile", "-",
            # Path, never the query string nor the referrer: a search's ?q= holds the names,
            # phones and document numbers typed at the desk, which no log may keep.
            "--access-logformat", '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms',
            "--error-logfile", "-",
            "--name", "haven",
            "--no-control-socket",
            # Whether a request came over HTTPS is Django's to decide, from X-Forwarded-Proto
            # only when HAVEN_TRUSTED_PROXIES declares a proxy: gunicorn must not trust it from
            # a local address on its own, or a missing declaration would go unnoticed (and
            # every client would share the proxy's address for the sign-in lockout).
            "--forwarded-allow-ips", "",
        ]  # fmt: skip
        self.stdout.flush()
        os.execve(sys.executable, command, environment)  # noqa: S606 - our interpreter, fixed args
