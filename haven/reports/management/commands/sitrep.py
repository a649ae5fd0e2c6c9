"""`haven sitrep`: the situation report for a moment, as HTML, PDF or JSON.

    haven sitrep --as-of 2023-09-26T08:00 --format pdf --out sitrep.pdf
    haven sitrep --format json                      # now, to standard output

Times without an offset are local to HAVEN_TIME_ZONE; a date alone is the end of that day. The
changes are counted since `--previous` (default: twelve hours before). Every figure is computed
for the moment asked, so a report for a past moment comes out the same each time.
"""

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation

from haven.core import audit
from haven.reports.curves import parse_as_of
from haven.reports.sitrep import build_report, render_html, render_pdf, zone


class Command(BaseCommand):
    help = "Write the situation report for a moment (HTML, PDF or JSON)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--as-of", help="ISO 8601 moment (default: now)")
        parser.add_argument(
            "--previous", help="moment of the previous report (default: 12 hours before)"
        )
        parser.add_argument("--format", choices=("html", "pdf", "json"), default="html")
        parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
        parser.add_argument(
            "--language", choices=("en", "hy", "ru"), default="en", help="language of the report"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = self._moment(options["as_of"], "--as-of") or timezone.now()
        previous = self._moment(options["previous"], "--previous")
        if previous is not None and previous >= as_of:
            raise CommandError("--previous must come before --as-of")
        with translation.override(options["language"]):
            report = build_report(as_of, previous_as_of=previous)
            output = options["format"]
            if output == "pdf":
                if options["out"] is None:
                    raise CommandError("--format pdf needs --out FILE (PDF is not text)")
                data = render_pdf(report)
            elif output == "json":
                data = (json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n").encode()
            else:
                data = render_html(report).encode()
        # Who produced which report is on record, as for the page (here: the operator's shell).
        audit.record(
            user=None,
            action="reports.sitrep",
            object_type="situation",
            object_uuid=None,
            detail={"as_of": report.as_of.isoformat(), "format": output, "via": "cli"},
        )
        out: Path | None = options["out"]
        if out is None:
            self.stdout.write(data.decode(), ending="")
            return
        try:
            out.write_bytes(data)
        except OSError as exc:
            raise CommandError(f"{out}: cannot be written ({exc.strerror})") from None
        self.stderr.write(f"wrote {out} ({len(data):,} bytes): {report.headline}")

    def _moment(self, text: str | None, option: str) -> Any:
        if not text:
            return None
        try:
            return parse_as_of(text, zone=zone())
        except ValueError as exc:
            raise CommandError(f"{option}: {exc}") from None
