"""`haven pfif`: tracing requests to and from other family-tracing repositories, as PFIF 1.4.

haven pfif export --out FILE.xml [--sharing minimal|names|full]
    every tracing request's sought person, with its status notes, as much as HAVEN_PFIF_SHARING
    allows (--sharing may share less, never more). Audited: one row for the export.
haven pfif import FILE.xml
    the file's persons as tracing requests and its notes as status notes: all of it, or, if any
    record is wrong, nothing (each error names its record). Prints what was added and what was
    skipped, and why. Audited: one row for the import, besides one per request and note added.

Both act as --as-user (a caseworker, coordinator or administrator), else the first
administrator, else Haven itself (audited without a user). What is exported and how an import
is read: haven/tracing/pfif.py.
"""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from haven.core.management.base import HavenCommand
from haven.core.models import User
from haven.tracing.pfif import SHARING_LEVELS, PfifError, export_pfif, import_pfif, too_large
from haven.tracing.search import may_trace


class Command(HavenCommand):
    help = "PFIF 1.4: export tracing requests to, or import them from, another repository."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        export = sub.add_parser("export", help="write every tracing request as PFIF 1.4")
        super().add_arguments(export)
        export.add_argument("--out", required=True, help="the file to write (FILE.xml)")
        export.add_argument(
            "--sharing",
            choices=SHARING_LEVELS,
            help="share less than HAVEN_PFIF_SHARING allows (never more)",
        )
        read = sub.add_parser("import", help="read a PFIF 1.4 file into tracing requests")
        super().add_arguments(read)
        read.add_argument("file", help="the PFIF 1.4 XML file")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._actor(options)
        if options["subcommand"] == "export":
            self._export(options, user)
        else:
            self._import(options, user)

    def _export(self, options: dict[str, Any], user: User | None) -> None:
        out = Path(options["out"])
        if not out.parent.is_dir():
            raise CommandError(_("%(dir)s: no such directory") % {"dir": out.parent})
        try:
            document, summary = export_pfif(user=user, sharing=options["sharing"])
        except PfifError as refused:
            raise CommandError(str(refused)) from None
        out.write_bytes(document)
        self.stdout.write(
            _(
                "%(persons)d person records (%(notes)d notes) and %(placeholders)d placeholders"
                " of expired records written to %(file)s (sharing: %(sharing)s)."
            )
            % {
                "persons": summary.persons,
                "notes": summary.notes,
                "placeholders": summary.placeholders,
                "file": out,
                "sharing": options["sharing"] or settings.HAVEN_PFIF_SHARING,
            }
        )

    def _import(self, options: dict[str, Any], user: User | None) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("%(file)s: no such file") % {"file": path})
        limit: int = settings.HAVEN_PFIF_MAX_BYTES
        size = path.stat().st_size
        if size > limit:  # refused before a byte of it is read
            raise CommandError(f"{path}: {too_large(size, limit)}")
        with path.open("rb") as file:
            data = file.read(limit + 1)  # a file that grew meanwhile is refused all the same
        try:
            summary = import_pfif(data, user=user)
        except PfifError as refused:
            raise CommandError(f"{path}: {refused}") from None
        write = self.stdout.write
        write(
            _("%(file)s: persons: %(added)d added, %(expired)d expired, %(skipped)d skipped.")
            % {
                "file": path,
                "added": summary.persons_added,
                "expired": summary.persons_expired,
                "skipped": len(summary.persons_skipped),
            }
        )
        for record_id, reason in summary.persons_skipped:
            write(_("  person %(id)s skipped: %(reason)s") % {"id": record_id, "reason": reason})
        write(
            _("%(file)s: notes: %(added)d added, %(skipped)d skipped.")
            % {"file": path, "added": summary.notes_added, "skipped": len(summary.notes_skipped)}
        )
        for record_id, reason in summary.notes_skipped:
            write(_("  note %(id)s skipped: %(reason)s") % {"id": record_id, "reason": reason})

    def _actor(self, options: dict[str, Any]) -> User | None:
        """--as-user (who may trace), else the first administrator, else Haven itself."""
        if not options.get("as_user"):
            try:
                return self.acting_user(options)
            except CommandError:
                return None
        user = self.acting_user(options)
        if not may_trace(user):
            raise CommandError(
                _("%(user)r may not exchange tracing requests (not a caseworker)")
                % {"user": user.username}
            )
        return user
