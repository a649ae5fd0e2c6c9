"""A payment list as the file the bank pays from: CSV or XLSX, streamed row by row.

One row a payment, in the order of the list (its references' order), with only what payment
needs: the bank's reference, the list, programme and period, the payee's names as registered and
in Latin letters (passport-style for Armenian, the Russian scheme for Cyrillic: banks read Latin),
the payee's first identity document (kind and number), a phone (the person's, else the
household's), the amount and the currency. No needs, no protection data, no address.

The rows are read in chunks (`.iterator`), joined in SQL (a subquery finds the first document),
and written as they come: a million payments take the memory of one chunk, whatever the list's
size (bench/bench_assistance.py measures it). CSV is UTF-8 with a byte order mark, so that Excel
opens it as UTF-8, with one header row. XLSX is one sheet of inline strings written row by row
straight into the zip (the standard library's zipfile; see the XLSX section below for why not
openpyxl), with the same header row.

In the CSV, every text cell that a spreadsheet would run as a formula (starting with =, +, -, @, a
tab or a carriage return) gets a leading apostrophe (`haven.reports.exports.safe_text`), except a
phone that is a plus sign and digits (spaces allowed), "+37491123456": with no letters it can call
no function, and a bank needs the number as it is (Excel reads it as a number at most). A plus
followed by dashes or parentheses keeps the apostrophe: Excel would subtract "+374-91-…". In the
XLSX every value is written exactly: its text cells are inline strings, which a spreadsheet shows
as text and never runs as a formula.

Exporting is an audited action: one `assistance.payment_export` row naming the list, the format
and the rows written, written before the first byte leaves.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from typing import IO, Any
from xml.sax.saxutils import escape

from django.db.models import OuterRef, QuerySet, Subquery
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from haven.assistance.models import Payment, PaymentList
from haven.core import audit
from haven.core.models import User
from haven.names.translit import to_latin
from haven.registry.models import IdentityDocument
from haven.reports.exports import safe_text

READ_CHUNK = 5_000
CSV_FLUSH_ROWS = 2_000  # rows gathered into one chunk of bytes for the response
HEADERS = (
    "reference",
    "list_number",
    "programme",
    "period",
    "family_name",
    "given_name",
    "patronymic",
    "family_name_latin",
    "given_name_latin",
    "patronymic_latin",
    "document_kind",
    "document_number",
    "phone",
    "amount",
    "currency",
)
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMATS = tuple(CONTENT_TYPES)
PHONE_COLUMN = HEADERS.index("phone")
PLAIN_PHONE = re.compile(r"^\+?[0-9][0-9 ]*$")  # written as it is, formula guard or not

Cell = str | int


def filename(payment_list: PaymentList, fmt: str) -> str:
    """The file's name for a download: haven-payments-<programme>-p<period>-list<number>.<fmt>."""
    code = payment_list.programme.code
    return f"haven-payments-{code}-p{payment_list.period}-list{payment_list.number}.{fmt}"


def _rows_query(payment_list: PaymentList) -> QuerySet[Payment, tuple[Any, ...]]:
    first_document = IdentityDocument.objects.filter(person_id=OuterRef("person_id")).order_by("pk")
    return (
        Payment.objects.filter(payment_list=payment_list)
        .order_by("pk")
        .values_list(
            "reference",
            "person__family_name",
            "person__given_name",
            "person__patronymic",
            Subquery(first_document.values("kind")[:1]),
            Subquery(first_document.values("number")[:1]),
            "person__phone",
            "person__household__phone",
            "amount",
            "currency",
        )
    )


def rows(payment_list: PaymentList) -> Iterator[tuple[Cell, ...]]:
    """The data rows of the list, their values exactly (no formula guard: see `_csv_row`), in
    chunks from the database."""
    number, period = payment_list.number, payment_list.period
    code = payment_list.programme.code
    for (
        reference,
        family,
        given,
        patronymic,
        kind,
        document,
        phone,
        household_phone,
        amount,
        currency,
    ) in _rows_query(payment_list).iterator(chunk_size=READ_CHUNK):
        yield (
            reference,
            number,
            code,
            period,
            family,
            given,
            patronymic,
            to_latin(family),
            to_latin(given),
            to_latin(patronymic),
            kind or "",
            document or "",
            phone or household_phone or "",
            amount,
            currency,
        )


def _csv_row(row: Sequence[Cell]) -> list[Cell]:
    """A row as the CSV writes it: text a spreadsheet would run as a formula gets a leading
    apostrophe, but a plain phone number (+ and digits) is written as it is."""
    return [
        value
        if isinstance(value, int)
        or (column == PHONE_COLUMN and PLAIN_PHONE.match(value) is not None)
        else safe_text(value)
        for column, value in enumerate(row)
    ]


def audit_export(payment_list: PaymentList, fmt: str, *, acting_user: User | None) -> int:
    """Record the export (one row: who, which list, the format, how many rows); the rows."""
    count = Payment.objects.filter(payment_list=payment_list).count()
    audit.record(
        user=acting_user,
        action="assistance.payment_export",
        object_type="payment_list",
        object_uuid=payment_list.uuid,
        detail={
            "number": payment_list.number,
            "programme": payment_list.programme.code,
            "period": payment_list.period,
            "format": fmt,
            "rows": count,
        },
    )
    return count


def csv_chunks(payment_list: PaymentList, *, acting_user: User | None) -> Iterator[bytes]:
    """The CSV file in chunks of bytes, for a StreamingHttpResponse: the audit row is written
    when the first chunk is asked for."""
    audit_export(payment_list, "csv", acting_user=acting_user)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS)
    yield b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows(payment_list):
        writer.writerow(_csv_row(row))
        pending += 1
        if pending == CSV_FLUSH_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode("utf-8")


def write_csv(payment_list: PaymentList, out: IO[bytes], *, acting_user: User | None) -> None:
    """Write the CSV file to a binary file object."""
    for chunk in csv_chunks(payment_list, acting_user=acting_user):
        out.write(chunk)


# --- XLSX ---------------------------------------------------------------------------------------
# The package parts of a one-sheet workbook (ECMA-376): the sheet's rows are written as they come,
# inline strings, straight into the zip. openpyxl's write-only mode keeps memory as flat, but
# writes some 1,000 rows a second without lxml (a million would take a quarter of an hour); this
# writes some 25,000 (bench/bench_assistance.py).

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PARTS = {
    "[Content_Types].xml": (
        f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels"'
        ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'{_XML}<Relationships xmlns="{_RELS}"><Relationship Id="rId1"'
        f' Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'{_XML}<Relationships xmlns="{_RELS}">'
        f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_DOC_RELS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    "xl/styles.xml": (
        f'{_XML}<styleSheet xmlns="{_MAIN}">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        "</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}
_COLUMNS = [chr(ord("A") + i) for i in range(len(HEADERS))]
_XLSX_FLUSH_ROWS = 1_000
# A row is well under this many bytes of XML: past 2 GiB of them the sheet needs Zip64.
_ROW_BYTES_BOUND = 4_096


def _workbook_xml(sheet_name: str) -> str:
    return (
        f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}">'
        f'<sheets><sheet name="{escape(sheet_name, {chr(34): "&quot;"})}" sheetId="1"'
        ' r:id="rId1"/></sheets></workbook>'
    )


def _xlsx_row(number: int, values: Sequence[Cell]) -> str:
    cells = []
    for column, value in zip(_COLUMNS, values, strict=True):
        if isinstance(value, int):
            cells.append(f'<c r="{column}{number}"><v>{value}</v></c>')
        elif value:
            # Characters XML cannot hold (control characters) would spoil the file: dropped.
            text = escape(ILLEGAL_CHARACTERS_RE.sub("", value), {"\r": "&#13;"})
            cells.append(
                f'<c r="{column}{number}" t="inlineStr"><is><t xml:space="preserve">{text}</t>'
                "</is></c>"
            )
    return f'<row r="{number}">{"".join(cells)}</row>'


def write_xlsx(payment_list: PaymentList, out: IO[bytes], *, acting_user: User | None) -> None:
    """Write the XLSX file (one sheet, a header row and a row a payment) to a binary file object
    (it need not be seekable)."""
    count = audit_export(payment_list, "xlsx", acting_user=acting_user)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as package:
        for name, text in _PARTS.items():
            package.writestr(name, text)
        package.writestr("xl/workbook.xml", _workbook_xml(f"list {payment_list.number}"))
        zip64 = (count + 1) * _ROW_BYTES_BOUND >= 2**31
        with package.open("xl/worksheets/sheet1.xml", "w", force_zip64=zip64) as sheet:
            sheet.write(f'{_XML}<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
            pending = [_xlsx_row(1, HEADERS)]
            for number, row in enumerate(rows(payment_list), start=2):
                pending.append(_xlsx_row(number, row))
                if len(pending) >= _XLSX_FLUSH_ROWS:
                    sheet.write("".join(pending).encode("utf-8"))
                    pending = []
            pending.append("</sheetData></worksheet>")
            sheet.write("".join(pending).encode("utf-8"))
