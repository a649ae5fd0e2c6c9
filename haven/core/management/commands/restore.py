"""`haven restore PATH [--force]`: replace the database by a verified backup; `--check` checks it.

Refuses, changing nothing, a damaged file, a backup of another database vendor or of a newer
Haven, and a database that already holds data unless --force. See haven/core/backup.py.
"""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from haven.core.backup import BackupError, restore_backup, verify_backup


class Command(BaseCommand):
    help = (
        "Restore a backup made by `haven backup` (a tar file: manifest.json and the database)"
        " into the configured database, then check every table's row count and checksum against"
        " the manifest. Stop Haven's server first."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="the backup file")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace the configured database even though it holds data",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="only check the backup (its data against its manifest); restore nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["check"]:
                backup = verify_backup(options["path"])
                message = _("%(path)s is a sound backup: %(tables)d tables, %(rows)d rows")
            else:
                backup = restore_backup(options["path"], force=options["force"])
                message = _(
                    "restored %(tables)d tables, %(rows)d rows, from %(path)s (made %(created)s);"
                    " every table matches the backup's checksums"
                )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        values = {
            "path": backup.path,
            "tables": len(backup.manifest["tables"]),
            "rows": backup.total_rows,
            "created": backup.manifest["created_at"],
        }
        self.stdout.write(message % values)
