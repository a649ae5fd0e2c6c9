"""`haven backup [--output PATH] [--keep N]`: a verified backup of the database; `--verify PATH`
checks one.

The backup is one tar file: `manifest.json` (vendor, migrations, per table a row count and a
checksum) and the database (`database.sqlite3`, or `database.pgdump` from `pg_dump -Fc`). See
haven/core/backup.py.

`--keep N` (for a nightly job): once the new backup is written and verified, only the N newest
backups Haven named itself (haven-<UTC time>.tar) in its directory are kept, the new one
counted; nothing else there is touched (an --output named otherwise is refused with --keep).
"""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from haven.core.backup import (
    BackupError,
    check_prunable,
    make_backup,
    prune_backups,
    verify_backup,
)


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
        parser.add_argument(
            "--keep",
            type=int,
            metavar="N",
            help=(
                "after the new backup is verified, remove all but the N newest haven-<time>.tar"
                " backups in its directory (the new one counted)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        keep: int | None = options["keep"]
        if keep is not None and options["verify"] is not None:
            raise CommandError(_("--keep goes with making a backup, not with --verify"))
        removed = []
        try:
            if keep is not None:
                check_prunable(options["output"], keep)
            if options["verify"] is not None:
                backup = verify_backup(options["verify"])
                message = _("%(path)s is a sound backup: %(tables)d tables, %(rows)d rows")
            else:
                backup = make_backup(options["output"])
                message = _("backed up %(tables)d tables, %(rows)d rows, to %(path)s")
                if keep is not None:
                    # Older backups go only once the new one is known to be sound.
                    verify_backup(backup.path)
                    removed = prune_backups(backup.path, keep)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        tables = len(backup.manifest["tables"])
        self.stdout.write(
            message % {"path": backup.path, "tables": tables, "rows": backup.total_rows}
        )
        for path in removed:
            self.stdout.write(_("removed the older backup %(path)s") % {"path": path})
