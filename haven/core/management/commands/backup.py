"""`haven backup [--output PATH]`: a verified backup of the database; `--verify PATH` checks one.

The backup is one tar file: `manifest.json` (vendor, migrations, per table a row count and a
checksum) and the database (`database.sqlite3`, or `database.pgdump` from `pg_dump -Fc`). See
haven/core/backup.py.
"""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from haven.core.backup import BackupError, make_backup, verify_backup


class Command(BaseCommand):
    help = (
        "Back up the database into one tar file (manifest.json with per-table row counts and"
        " checksums, and the database: a SQLite copy or a pg_dump -Fc archive), consistent while"
        " Haven writes. --verify PATH checks a backup's data against its manifest instead."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            help="the backup file to write (default: $HAVEN_VAR_DIR/backups/haven-<time>.tar)",
        )
        parser.add_argument(
            "--verify",
            type=Path,
            metavar="PATH",
            help="check the backup at PATH (its data against its manifest) and write nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["verify"] is not None:
                backup = verify_backup(options["verify"])
                message = _("%(path)s is a sound backup: %(tables)d tables, %(rows)d rows")
            else:
                backup = make_backup(options["output"])
                message = _("backed up %(tables)d tables, %(rows)d rows, to %(path)s")
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        tables = len(backup.manifest["tables"])
        self.stdout.write(
            message % {"path": backup.path, "tables": tables, "rows": backup.total_rows}
        )
