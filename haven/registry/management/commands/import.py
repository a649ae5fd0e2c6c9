"""`haven import FILE`: register households from JSON Lines, one household a line.

    haven import households.jsonl [--as-user NAME] [--dry-run] [--rejects rejects.csv]

Each line is one household in the API's household schema (`HouseholdIn`). Valid lines are
registered in batches of 1,000 through `register_households`, the same action as the API and the
desk; every rejected line is reported with its number and reason, and the command exits non-zero
if any line was rejected. Importing the same file again registers nothing twice: its households
are reported as already registered.
"""

import codecs
import csv
import json
import sys
from argparse import ArgumentParser
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from pydantic import ValidationError
from tqdm import tqdm

from haven.core.errors import FieldError, NotFound
from haven.core.management.base import HavenCommand
from haven.core.models import User
from haven.core.selectors import site_for_registration
from haven.registry.actions import Outcome, register_households
from haven.registry.schemas import HouseholdIn, field_errors
from haven.reports.exports import safe_text

BATCH_SIZE = 1000  # one register_households call per batch: the bulk path
MAX_LINE_BYTES = 1024 * 1024


class EncodingProblem(Exception):
    """The file is not UTF-8 text; the message says where and what it probably is."""


@dataclass
class Rejection:
    line: int
    household: str
    errors: list[FieldError]


@dataclass
class ImportReport:
    lines: int = 0
    empty: int = 0
    created: int = 0
    persons_created: int = 0
    already: list[tuple[int, str]] = field(default_factory=list)
    valid: int = 0
    refused: int = 0  # valid, but at a site the user may not register at (dry run)
    rejections: list[Rejection] = field(default_factory=list)


def _guess_encoding(raw: bytes) -> str:
    """A hint for a file that is not UTF-8: the usual suspects for Armenian and Russian text."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    high = [b for b in raw if b >= 0x80]
    if high and sum(1 for b in high if 0xC0 <= b <= 0xFF) / len(high) > 0.6:
        return "Windows-1251 (Cyrillic)"
    return "a legacy 8-bit encoding"


def check_encoding(path: Path) -> None:
    """Raise EncodingProblem naming the first line that is not UTF-8 (a UTF-8 BOM is fine)."""
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise EncodingProblem(
                _(
                    "%(file)s is UTF-16 text (it starts with a UTF-16 byte order mark); save it as"
                    " UTF-8 and import it again"
                )
                % {"file": path}
            )
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        for number, raw in enumerate(f, start=1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError as exc:
                raise EncodingProblem(
                    _(
                        "line %(line)d is not UTF-8 (byte 0x%(byte)02x at position %(pos)d); the"
                        " file looks like %(guess)s. Save it as UTF-8 and import it again; nothing"
                        " was imported."
                    )
                    % {
                        "line": number,
                        "byte": raw[exc.start],
                        "pos": exc.start + 1,
                        "guess": _guess_encoding(raw),
                    }
                ) from None


def read_lines(f: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) for each line; None in place of a line over MAX_LINE_BYTES."""
    number = 0
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the oversized line
                raw = f.readline(MAX_LINE_BYTES)
            yield number, None
            continue
        yield number, raw


def parse_line(number: int, raw: bytes | None) -> HouseholdIn | Rejection | None:
    """A validated household, a rejection with its reasons, or None for an empty line."""
    if raw is None:
        return Rejection(number, "", [FieldError("__all__", _("the line is longer than 1 MB"))])
    text = raw.decode("utf-8")
    if number == 1:
        text = text.removeprefix("\ufeff")
    if not text.strip():
        return None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejection(
            number,
            "",
            [
                FieldError(
                    "json",
                    _("not valid JSON: %(msg)s at column %(col)d")
                    % {"msg": exc.msg, "col": exc.colno},
                )
            ],
        )
    if not isinstance(data, dict):
        return Rejection(
            number,
            "",
            [
                FieldError(
                    "__all__",
                    _("a line must hold one JSON object (a household), not %(t)s")
                    % {"t": type(data).__name__},
                )
            ],
        )
    household = str(data.get("uuid", ""))[:40]
    try:
        return HouseholdIn.model_validate(data)
    except ValidationError as exc:
        return Rejection(number, household, field_errors(exc))


class Command(HavenCommand):
    help = "Register households from a JSON Lines file (one household a line)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("file", type=Path, help="a UTF-8 JSON Lines file")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate every line, write nothing"
        )
        parser.add_argument(
            "--rejects", type=Path, help="also write the rejected lines' reasons to this CSV"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(_("%(file)s: no such file") % {"file": path})
        try:
            check_encoding(path)
        except EncodingProblem as exc:
            raise CommandError(f"{path}: {exc}") from None
        user = self.acting_user(options)
        report = ImportReport()
        size = path.stat().st_size
        with (
            path.open("rb") as f,
            tqdm(total=size, unit="B", unit_scale=True, desc="importing", file=sys.stderr) as bar,
        ):
            pending: list[tuple[int, HouseholdIn]] = []
            for number, raw in read_lines(f):
                report.lines = number
                bar.update(len(raw) if raw is not None else MAX_LINE_BYTES)
                parsed = parse_line(number, raw)
                if parsed is None:
                    report.empty += 1
                elif isinstance(parsed, Rejection):
                    report.rejections.append(parsed)
                else:
                    pending.append((number, parsed))
                    if len(pending) == BATCH_SIZE:
                        self._settle(pending, user, report, dry_run=options["dry_run"])
                        pending = []
            if pending:
                self._settle(pending, user, report, dry_run=options["dry_run"])
        report.rejections.sort(key=lambda r: r.line)
        self._report(report, options)

    def _settle(
        self,
        pending: list[tuple[int, HouseholdIn]],
        user: User,
        report: ImportReport,
        *,
        dry_run: bool,
    ) -> None:
        report.valid += len(pending)
        if dry_run:
            refused = set()
            for code in sorted({item.site for _, item in pending}):
                try:
                    site_for_registration(user, code)
                except NotFound:
                    refused.add(code)
            for number, item in pending:
                if item.site in refused:
                    report.refused += 1
                    report.rejections.append(
                        Rejection(
                            number,
                            str(item.uuid),
                            [FieldError("site", _("site %(s)s not found") % {"s": item.site})],
                        )
                    )
            return
        results = register_households(items=[item for _, item in pending], acting_user=user)
        for (number, item), result in zip(pending, results, strict=True):
            if result.outcome is Outcome.CREATED:
                report.created += 1
                report.persons_created += len(item.members)
            elif result.outcome is Outcome.EXISTS:
                report.already.append((number, str(item.uuid)))
            else:
                where = "site" if result.outcome is Outcome.NOT_FOUND else "uuid"
                report.rejections.append(
                    Rejection(number, str(item.uuid), [FieldError(where, result.message)])
                )

    def _report(self, report: ImportReport, options: dict[str, Any]) -> None:
        for rejection in report.rejections:
            for error in rejection.errors:
                self.stderr.write(
                    _("line %(line)d: %(field)s: %(message)s")
                    % {"line": rejection.line, "field": error.field, "message": error.message}
                )
        if options["rejects"]:
            with options["rejects"].open("w", encoding="utf-8", newline="") as f:
                # CRLF, as RFC 4180 has it: the writer then quotes a lone CR inside a value too,
                # which would otherwise end the row there (and start one with what follows).
                writer = csv.writer(f, lineterminator="\r\n")
                writer.writerow(["line", "household_uuid", "field", "message"])
                for rejection in report.rejections:
                    for error in rejection.errors:
                        # The field, the uuid and the message can quote the file's own text.
                        writer.writerow(
                            [
                                rejection.line,
                                safe_text(rejection.household),
                                safe_text(error.field),
                                safe_text(error.message),
                            ]
                        )
        write = self.stdout.write
        rejected = len({r.line for r in report.rejections})
        if options["dry_run"]:
            write(
                _(
                    "Dry run: %(valid)d of %(lines)d lines are valid households; nothing was"
                    " written."
                )
                % {"valid": report.valid - report.refused, "lines": report.lines}
            )
        else:
            write(
                _("%(n)d households (%(p)d persons) registered.")
                % {"n": report.created, "p": report.persons_created}
            )
            if report.already:
                write(
                    _(
                        "%(n)d households already registered (the same uuid and details),"
                        " left as they were."
                    )
                    % {"n": len(report.already)}
                )
        if report.empty:
            write(_("%(n)d empty lines skipped.") % {"n": report.empty})
        if rejected:
            raise CommandError(
                _("%(n)d of %(lines)d lines rejected (listed above)")
                % {"n": rejected, "lines": report.lines}
            )
