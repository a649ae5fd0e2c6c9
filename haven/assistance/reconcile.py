"""The bank's reconciliation file for one payment list: which payments were paid, which failed.

The file is CSV (UTF-8, with or without a byte order mark; Windows-1251 only when the caller
declares it: a file's encoding is never guessed) or XLSX (its first sheet), with one header row
and the columns

    reference   the payment's reference on the list (H000001-0000001)
    amount      what the bank paid or tried to pay: it must be the list's amount
    status      paid or failed
    reason      why a payment failed (required when it failed; optional, and ignored, when paid)

in any order, any case. Other columns (the bank may send back the columns of the list Haven
exported: names, currency, list_number...) are ignored. A CSV may separate its columns by commas,
semicolons (Excel's choice in Russian and Armenian locales) or tabs, whichever its first non-blank
line uses most. Empty rows are skipped. An amount is ASCII digits (at most AMOUNT_DIGITS of them),
with thousands separated by spaces if at all, and at most two decimals.

Everything is checked before anything is written, and the whole file is then applied in one
transaction, or nothing is: each error names its row (the header is row 1, as a spreadsheet
numbers them) and its column. A payment already settled keeps its outcome: a file that says the
same again leaves it unchanged (importing one file twice is harmless), a file that says otherwise
is an error. Payments the file does not mention stay listed; once none is left listed the list is
reconciled. The list's row is locked for the import, so two imports of one list take turns.
"""

import codecs
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.assistance.models import Payment, PaymentList
from haven.core import audit
from haven.core.errors import FieldError, InvalidInput
from haven.core.models import User
from haven.registry.schemas import no_control_chars

ERRORS_SHOWN = 50
LOOKUP_CHUNK = 5_000
UPDATE_CHUNK = 5_000
REASON_MAX = Payment._meta.get_field("reason").max_length or 200
REQUIRED = ("reference", "amount", "status")
COLUMNS = (*REQUIRED, "reason")
OUTCOMES = (Payment.Status.PAID, Payment.Status.FAILED)
ENCODINGS = {  # what a caller may declare, and the codec it means
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "cp1251": "cp1251",
    "windows-1251": "cp1251",
}
XLSX_EXPANSION = 10  # an XLSX may hold at most this many times the byte limit, unzipped
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls)
AMOUNT = re.compile(r"^([0-9]+)(?:[.,]([0-9]{1,2}))?$")  # ASCII digits only: not Arabic-Indic
AMOUNT_DIGITS = 15  # whole digits, leading zeros aside: more than any payment, and int() is safe
DELIMITERS = (",", ";", "\t")
IGNORED_NOTED = 50  # the header's other columns named in the audit row, at most
LINE_BREAKS = str.maketrans("", "", "\n\r\t")
SPACES = re.compile(r"[\s\u00a0\u202f']")  # thousands separators people and banks write


@dataclass(frozen=True)
class Result:
    """What the file did: payments newly paid, newly failed, and already as the file says."""

    payment_list: PaymentList
    rows: int
    paid: int
    failed: int
    unchanged: int
    still_listed: int
    reconciled: bool
    ignored_columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Row:  # a million of them for a million payments: slots, and ints where amounts are whole
    number: int
    reference: str
    amount: int | Decimal
    status: str
    reason: str


class _Errors:
    """Errors collected across the file: the first ERRORS_SHOWN kept, the rest counted."""

    def __init__(self) -> None:
        self.shown: list[FieldError] = []
        self.more = 0

    def add(self, row: int | None, column: str, message: str) -> None:
        if len(self.shown) >= ERRORS_SHOWN:
            self.more += 1
            return
        where = (
            _("row %(row)d: %(column)s") % {"row": row, "column": column}
            if row is not None
            else column
        )
        self.shown.append(FieldError(where, message))

    def __bool__(self) -> bool:
        return bool(self.shown)

    def raise_if_any(self) -> None:
        if not self.shown:
            return
        errors = list(self.shown)
        if self.more:
            errors.append(
                FieldError(
                    "file",
                    _("and %(n)d more errors; nothing was imported") % {"n": self.more},
                )
            )
        raise InvalidInput(errors)


def _refuse(field: str, message: str) -> InvalidInput:
    return InvalidInput([FieldError(field, message)])


# --- reading the file ----------------------------------------------------------------------------


def _line_of(data: bytes, position: int) -> int:
    return data.count(b"\n", 0, position) + 1


def _decode(data: bytes, encoding: str | None) -> str:
    """The CSV's text: UTF-8 unless Windows-1251 is declared; an error names the first bad byte."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _refuse(
            "file",
            _("the file is UTF-16 text; save it as UTF-8 (CSV UTF-8) and import it again"),
        )
    codec = ENCODINGS.get((encoding or "utf-8").strip().lower())
    if codec is None:
        raise _refuse(
            "encoding",
            _("%(encoding)s is not an encoding Haven reads: UTF-8, or Windows-1251 (cp1251)")
            % {"encoding": encoding},
        )
    if codec == "cp1251":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if not data.isascii():
                raise _refuse(
                    "encoding",
                    _(
                        "the file is UTF-8 text, not Windows-1251: import it without declaring"
                        " an encoding"
                    ),
                )
    try:
        return data.decode(codec).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = _line_of(data, exc.start)
        if codec == "utf-8":
            message = _(
                "the file is not UTF-8: byte 0x%(byte)02x on line %(line)d cannot be read. If it"
                " was saved as Windows-1251 (Cyrillic), say so (encoding cp1251) and import it"
                " again; or save it as CSV UTF-8"
            )
        else:
            message = _(
                "the file is not Windows-1251: byte 0x%(byte)02x on line %(line)d has no"
                " character in it"
            )
        raise _refuse("file", message % {"byte": data[exc.start], "line": line}) from None


def _csv_rows(data: bytes, encoding: str | None) -> Iterator[list[str]]:
    text = _decode(data, encoding)
    delimiter = max(DELIMITERS, key=_first_line(text).count)
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    except csv.Error as exc:
        raise _refuse("file", _("not a readable CSV file: %(error)s") % {"error": exc}) from None


def _first_line(text: str) -> str:
    """The first line with something besides spaces and delimiters: the header, read before the
    delimiter is known (blank lines, and a spreadsheet's rows of empty cells, come before it)."""
    for line in io.StringIO(text, newline=""):  # lazily, \n, \r\n or \r
        if line.strip("".join(DELIMITERS) + " \r\n"):
            return line
    return ""


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    limit: int = settings.HAVEN_RECONCILE_MAX_BYTES
    unreadable = _("not a readable XLSX file (it may be damaged); save it again as XLSX or CSV")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise _refuse("file", unreadable) from None
    if unzipped > XLSX_EXPANSION * limit:
        raise _refuse(
            "file",
            _("the XLSX file unzips to %(size)d bytes, more than Haven reads: refused")
            % {"size": unzipped},
        )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file: all mean the same here
        raise _refuse("file", unreadable) from None
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell_text(value) for value in values]
    except Exception as exc:  # the sheet is read as it is yielded: its XML may be cut short
        # (ParseError), point to text it does not hold (IndexError), ... all mean one thing here.
        raise _refuse(
            "file",
            _("the XLSX file is damaged: %(error)s; save it again as XLSX or CSV")
            % {"error": str(exc) or type(exc).__name__},
        ) from None
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _records(data: bytes, filename: str, encoding: str | None) -> Iterator[list[str]]:
    if data.startswith(OLE_MAGIC):
        raise _refuse(
            "file",
            _("%(file)s is an Excel 97-2003 (.xls) file; save it as XLSX or CSV")
            % {"file": filename},
        )
    if data.startswith(ZIP_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm")):
        return _xlsx_rows(data)
    return _csv_rows(data, encoding)


def _header(number: int, cells: list[str], errors: _Errors, ignored: list[str]) -> dict[str, int]:
    """Column name → position; missing and repeated columns are errors, other columns are
    ignored (and added to `ignored`)."""
    positions: dict[str, int] = {}
    for position, cell in enumerate(cells):
        name = cell.strip().lower()
        if not name:
            continue
        if name not in COLUMNS:
            if len(ignored) < IGNORED_NOTED:  # a note for the audit row
                ignored.append(cell.strip()[:100])
        elif name in positions:
            errors.add(number, name, _("the column appears twice"))
        else:
            positions[name] = position
    for name in REQUIRED:
        if name not in positions:
            errors.add(
                number,
                name,
                _("missing column; the file needs %(columns)s") % {"columns": ", ".join(REQUIRED)},
            )
    return positions


def _amount(text: str) -> int | Decimal | str:
    """The amount the cell says, or (a str) why it is not one."""
    if not text:
        return _("empty")
    match = AMOUNT.match(SPACES.sub("", text))
    if match is None:
        return _("%(value)r is not an amount (digits, e.g. 100000)") % {"value": text}
    whole, fraction = match.group(1).lstrip("0") or "0", (match.group(2) or "").rstrip("0")
    if len(whole) > AMOUNT_DIGITS:
        return _("the amount has %(digits)d digits; an amount has at most %(max)d") % {
            "digits": len(whole),
            "max": AMOUNT_DIGITS,
        }
    if not fraction:
        return int(whole)
    try:
        return Decimal(f"{whole}.{fraction}")
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        return _("%(value)r is not an amount (digits, e.g. 100000)") % {"value": text}


def _row(number: int, cells: list[str], header: dict[str, int], errors: _Errors) -> _Row | None:
    """One data row, checked on its own; None (and its errors) when it is wrong."""

    def cell(name: str) -> str:
        position = header.get(name)
        if position is None or position >= len(cells):
            return ""
        return cells[position].strip()

    reference, amount_text = cell("reference"), cell("amount")
    status, reason = cell("status").lower(), cell("reason")
    ok = True
    # A control character (NUL among them, which PostgreSQL's text cannot hold) is no part of a
    # reference or of a reason; a reason may run over lines.
    for name, text in (("reference", reference), ("reason", reason.translate(LINE_BREAKS))):
        try:
            no_control_chars(text)
        except ValueError as exc:
            errors.add(number, name, str(exc))
            ok = False
    if not reference:
        errors.add(number, "reference", _("empty"))
        ok = False
    amount = _amount(amount_text)
    if isinstance(amount, str):
        errors.add(number, "amount", amount)
        ok = False
    if status not in OUTCOMES:
        errors.add(
            number,
            "status",
            _("%(value)r: the status is paid or failed") % {"value": cell("status")},
        )
        ok = False
    elif status == Payment.Status.FAILED and not reason:
        errors.add(number, "reason", _("a failed payment needs the bank's reason"))
        ok = False
    if len(reason) > REASON_MAX:
        errors.add(number, "reason", _("longer than %(n)d characters") % {"n": REASON_MAX})
        ok = False
    if not ok or isinstance(amount, str):
        return None
    outcome = Payment.Status.PAID if status == Payment.Status.PAID else Payment.Status.FAILED
    return _Row(number, reference, amount, outcome.value, reason if status == "failed" else "")


def _parse(
    data: bytes, filename: str, encoding: str | None, errors: _Errors, ignored: list[str]
) -> list[_Row]:
    """The file's rows that are right on their own; errors for the others. InvalidInput at once
    when the file itself cannot be read or its header is wrong. The header's columns Haven does
    not read are added to `ignored`."""
    header: dict[str, int] | None = None
    parsed: list[_Row] = []
    for number, cells in enumerate(_records(data, filename, encoding), start=1):
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _header(number, cells, errors, ignored)
            errors.raise_if_any()  # a wrong header is all there is to say
            continue
        row = _row(number, cells, header, errors)
        if row is not None:
            parsed.append(row)
    if header is None:
        raise _refuse(
            "file",
            _("the file is empty: it needs a header row (%(columns)s) and a row a payment")
            % {"columns": ", ".join(COLUMNS)},
        )
    return parsed


# --- checking against the list, and applying ----------------------------------------------------


def _check(payment_list: PaymentList, rows: list[_Row], errors: _Errors) -> list[tuple[int, _Row]]:
    """(payment id, row) for each row that changes a payment; errors for the rest that may not."""
    first_row: dict[str, int] = {}
    for row in rows:
        seen = first_row.setdefault(row.reference, row.number)
        if seen != row.number:
            errors.add(
                row.number,
                "reference",
                _("%(reference)s is also on row %(row)d: one row a payment")
                % {"reference": row.reference, "row": seen},
            )
    changes: list[tuple[int, _Row]] = []
    unique = [row for row in rows if first_row[row.reference] == row.number]
    numbers = dict(PaymentList.objects.values_list("pk", "number"))
    for start in range(0, len(unique), LOOKUP_CHUNK):
        chunk = unique[start : start + LOOKUP_CHUNK]
        found: dict[str, tuple[int, int, int, str, datetime | None]] = {
            reference: (pk, list_id, amount, status, settled_at)
            for reference, pk, list_id, amount, status, settled_at in Payment.objects.filter(
                reference__in=[row.reference for row in chunk]
            ).values_list("reference", "pk", "payment_list_id", "amount", "status", "settled_at")
        }
        for row in chunk:
            if row.reference not in found:
                errors.add(
                    row.number,
                    "reference",
                    _("no payment has the reference %(reference)s") % {"reference": row.reference},
                )
                continue
            pk, list_id, amount, status, settled_at = found[row.reference]
            if list_id != payment_list.pk:
                errors.add(
                    row.number,
                    "reference",
                    _("%(reference)s is on payment list %(other)d, not on list %(this)d")
                    % {
                        "reference": row.reference,
                        "other": numbers.get(list_id, 0),
                        "this": payment_list.number,
                    },
                )
                continue
            if row.amount != amount:
                errors.add(
                    row.number,
                    "amount",
                    _("the file says %(file)s, the list says %(list)d")
                    % {"file": row.amount, "list": amount},
                )
                continue
            if status == Payment.Status.LISTED:
                changes.append((pk, row))
            elif status != row.status:
                errors.add(
                    row.number,
                    "status",
                    _(
                        "%(reference)s was already reconciled as %(was)s on %(date)s; a file"
                        " cannot make it %(now)s"
                    )
                    % {
                        "reference": row.reference,
                        "was": status,
                        "date": f"{settled_at:%Y-%m-%d}" if settled_at else "?",
                        "now": row.status,
                    },
                )
    return changes


def _apply(changes: list[tuple[int, _Row]]) -> tuple[int, int]:
    """Settle the payments: one UPDATE a chunk of payments with one outcome and reason."""
    now = timezone.now()
    groups: dict[tuple[str, str], list[int]] = {}
    for pk, row in changes:
        groups.setdefault((row.status, row.reason), []).append(pk)
    paid = failed = 0
    for (status, reason), pks in groups.items():
        for start in range(0, len(pks), UPDATE_CHUNK):
            chunk = pks[start : start + UPDATE_CHUNK]
            done = Payment.objects.filter(pk__in=chunk, status=Payment.Status.LISTED).update(
                status=status, reason=reason, settled_at=now
            )
            if done != len(chunk):  # pragma: no cover - the list is locked while we check
                raise RuntimeError("payments changed while the list was locked")
        if status == Payment.Status.PAID:
            paid += len(pks)
        else:
            failed += len(pks)
    return paid, failed


def reconcile(
    *,
    payment_list: PaymentList,
    data: bytes,
    filename: str,
    encoding: str | None,
    acting_user: User | None,
) -> Result:
    """Apply the bank's file to the list, whole or not at all (InvalidInput lists what is wrong,
    each error naming its row and column)."""
    limit: int = settings.HAVEN_RECONCILE_MAX_BYTES
    if len(data) > limit:
        raise _refuse(
            "file",
            _(
                "the file is %(size)d bytes; the largest reconciliation file Haven reads is"
                " %(limit)d bytes (HAVEN_RECONCILE_MAX_BYTES): refused, nothing imported"
            )
            % {"size": len(data), "limit": limit},
        )
    if not data.strip():
        raise _refuse(
            "file",
            _("the file is empty: it needs a header row (%(columns)s) and a row a payment")
            % {"columns": ", ".join(COLUMNS)},
        )
    errors = _Errors()
    ignored: list[str] = []
    rows = _parse(data, filename, encoding, errors, ignored)
    if not rows and not errors:
        raise _refuse("file", _("the file has a header row but no payments"))
    with transaction.atomic():
        locked = PaymentList.objects.select_for_update().get(pk=payment_list.pk)
        changes = _check(locked, rows, errors)
        errors.raise_if_any()
        paid, failed = _apply(changes)
        still_listed = Payment.objects.filter(
            payment_list=locked, status=Payment.Status.LISTED
        ).count()
        if still_listed == 0 and locked.status != PaymentList.Status.RECONCILED:
            locked.status = PaymentList.Status.RECONCILED
            locked.reconciled_at = timezone.now()
            locked.save(update_fields=["status", "reconciled_at"])
        result = Result(
            payment_list=locked,
            rows=len(rows),
            paid=paid,
            failed=failed,
            unchanged=len(rows) - paid - failed,
            still_listed=still_listed,
            reconciled=locked.status == PaymentList.Status.RECONCILED,
            ignored_columns=tuple(ignored),
        )
        audit.record(
            user=acting_user,
            action="assistance.reconcile",
            object_type="payment_list",
            object_uuid=locked.uuid,
            detail={
                "number": locked.number,
                "file": filename[:200],
                "sha256": hashlib.sha256(data).hexdigest(),
                "rows": result.rows,
                "paid": paid,
                "failed": failed,
                "unchanged": result.unchanged,
                "still_listed": still_listed,
                "reconciled": result.reconciled,
                "ignored_columns": ignored,
            },
        )
    payment_list.status, payment_list.reconciled_at = locked.status, locked.reconciled_at
    return result
