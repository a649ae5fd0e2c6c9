"""The bank's reconciliation file (haven.assistance.reconcile): real CSV files in UTF-8 and
Windows-1251 and real XLSX files, applied whole or not at all. Every refused file is checked for
an error naming the problem and for a database left exactly as it was."""

import csv
import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from haven.assistance import export
from haven.assistance.models import Payment, PaymentList
from haven.assistance.reconcile import Result, reconcile
from haven.core.errors import InvalidInput
from haven.core.models import AuditEvent
from tests.conftest import Personas
from tests.test_assistance_export import make_list


def payments_of(payment_list: PaymentList) -> list[Payment]:
    return list(Payment.objects.filter(payment_list=payment_list).order_by("pk"))


def csv_bytes(
    rows: list[list[Any]],
    *,
    header: tuple[str, ...] = ("reference", "amount", "status", "reason"),
    encoding: str = "utf-8",
    bom: bool = False,
    delimiter: str = ",",
) -> bytes:
    lines = [delimiter.join(header)] + [delimiter.join(str(v) for v in row) for row in rows]
    text = "\r\n".join(lines) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def xlsx_bytes(
    rows: list[list[Any]], header: tuple[str, ...] = ("Reference", "Amount", "Status", "Reason")
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def state() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """Everything a reconciliation may change: payments, lists, audit rows."""
    return (
        list(
            Payment.objects.order_by("pk").values_list(
                "reference", "status", "reason", "settled_at"
            )
        ),
        list(PaymentList.objects.order_by("pk").values_list("number", "status", "reconciled_at")),
        AuditEvent.objects.count(),
    )


def run(
    payment_list: PaymentList,
    data: bytes,
    personas: Personas,
    *,
    filename: str = "bank.csv",
    encoding: str | None = None,
) -> Result:
    return reconcile(
        payment_list=payment_list,
        data=data,
        filename=filename,
        encoding=encoding,
        acting_user=personas.dan,
    )


def refused(
    payment_list: PaymentList,
    data: bytes,
    personas: Personas,
    *,
    filename: str = "bank.csv",
    encoding: str | None = None,
) -> list[str]:
    """The errors of a refused file, having checked that nothing changed."""
    before = state()
    with pytest.raises(InvalidInput) as caught:
        run(payment_list, data, personas, filename=filename, encoding=encoding)
    assert state() == before, "a refused file changed the database"
    return [f"{e.field}: {e.message}" for e in caught.value.errors]


def test_a_utf8_file_settles_every_payment_and_reconciles_the_list(personas: Personas) -> None:
    payment_list = make_list(personas)
    listed = payments_of(payment_list)
    rows = [[p.reference, p.amount, "paid", ""] for p in listed[:-1]]
    rows.append([listed[-1].reference, listed[-1].amount, "failed", "account closed"])

    result = run(payment_list, csv_bytes(rows, bom=True), personas)

    assert (result.rows, result.paid, result.failed, result.unchanged) == (6, 5, 1, 0)
    assert result.reconciled
    assert result.still_listed == 0
    settled = payments_of(payment_list)
    assert [p.status for p in settled] == ["paid"] * 5 + ["failed"]
    assert settled[-1].reason == "account closed"
    assert all(p.settled_at is not None for p in settled)
    payment_list.refresh_from_db()
    assert payment_list.status == PaymentList.Status.RECONCILED
    assert payment_list.reconciled_at is not None
    event = AuditEvent.objects.get(action="assistance.reconcile")
    assert event.user_id == personas.dan.pk
    assert event.object_uuid == payment_list.uuid
    assert {k: event.detail[k] for k in ("rows", "paid", "failed", "unchanged")} == {
        "rows": 6,
        "paid": 5,
        "failed": 1,
        "unchanged": 0,
    }


def test_a_partial_file_leaves_the_list_open_and_a_second_file_closes_it(
    personas: Personas,
) -> None:
    payment_list = make_list(personas)
    listed = payments_of(payment_list)
    first = run(
        payment_list, csv_bytes([[p.reference, p.amount, "paid", ""] for p in listed[:4]]), personas
    )
    assert (first.paid, first.still_listed, first.reconciled) == (4, 2, False)
    payment_list.refresh_from_db()
    assert payment_list.status == PaymentList.Status.OPEN

    # The bank's file of the whole list: the first four again (unchanged), the last two new.
    everything = [[p.reference, p.amount, "paid", ""] for p in listed]
    second = run(payment_list, csv_bytes(everything), personas)
    assert (second.paid, second.failed, second.unchanged, second.reconciled) == (2, 0, 4, True)

    before = state()
    again = run(payment_list, csv_bytes(everything), personas)  # the same file twice: harmless
    assert (again.paid, again.failed, again.unchanged, again.reconciled) == (0, 0, 6, True)
    assert state()[:2] == before[:2]


def test_a_windows_1251_file_is_read_when_declared(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    listed = payments_of(payment_list)
    rows = [[p.reference, p.amount, "failed", "счёт закрыт"] for p in listed]
    data = csv_bytes(rows, header=("Reference", "Amount", "Status", "Reason"), encoding="cp1251")
    assert b"\xf1\xf7\xb8\xf2" in data  # real Windows-1251 bytes

    errors = refused(payment_list, data, personas)
    assert len(errors) == 1
    assert "not UTF-8" in errors[0]
    assert "0xf1" in errors[0]
    assert "line 2" in errors[0]
    assert "Windows-1251" in errors[0]
    assert "cp1251" in errors[0]

    result = run(payment_list, data, personas, encoding="cp1251")
    assert result.failed == 3
    assert {p.reason for p in payments_of(payment_list)} == {"счёт закрыт"}


def test_a_utf8_file_declared_as_windows_1251_is_refused(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    rows = [[p.reference, p.amount, "failed", "счёт закрыт"] for p in payments_of(payment_list)]
    errors = refused(payment_list, csv_bytes(rows), personas, encoding="cp1251")
    assert errors == [
        "encoding: the file is UTF-8 text, not Windows-1251: import it without declaring an"
        " encoding"
    ]


def test_an_xlsx_file_is_read_with_its_numbers(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    listed = payments_of(payment_list)
    rows: list[list[Any]] = [[listed[0].reference, 100000, "Paid", None]]
    rows.append([listed[1].reference, 100000.0, "PAID", ""])
    rows.append([listed[2].reference, "100 000,00", "failed", "Անվավեր հաշիվ"])
    result = run(payment_list, xlsx_bytes(rows), personas, filename="bank.xlsx")
    assert (result.paid, result.failed, result.reconciled) == (2, 1, True)
    assert payments_of(payment_list)[2].reason == "Անվավեր հաշիվ"


def test_a_semicolon_separated_file_with_blank_lines_and_columns_in_another_order(
    personas: Personas,
) -> None:
    payment_list = make_list(personas, households=1)
    rows = [["paid", p.amount, p.reference] for p in payments_of(payment_list)]
    data = csv_bytes(rows, header=("STATUS", "amount", "Reference"), delimiter=";")
    data = data.replace(b"\r\n", b"\r\n\r\n", 1)
    assert run(payment_list, data, personas).paid == 3


def test_several_errors_are_listed_each_naming_its_row_and_column(personas: Personas) -> None:
    payment_list = make_list(personas)
    other = make_list(personas, households=1, code="winter-grant")
    p = payments_of(payment_list)
    q = payments_of(other)[0]
    rows: list[list[Any]] = [
        [p[0].reference, p[0].amount, "paid", ""],  # row 2: fine
        ["H999999-0000001", 100000, "paid", ""],  # row 3: unknown
        [q.reference, q.amount, "paid", ""],  # row 4: another list's
        [p[1].reference, 90000, "paid", ""],  # row 5: wrong amount
        [p[2].reference, p[2].amount, "paid", ""],  # row 6
        [p[2].reference, p[2].amount, "paid", ""],  # row 7: the same payment again
        [p[3].reference, p[3].amount, "bounced", ""],  # row 8: not a status
        [p[4].reference, p[4].amount, "failed", ""],  # row 9: failed without a reason
        [p[5].reference, "1e5", "paid", ""],  # row 10: not an amount
        ["", 100000, "paid", ""],  # row 11: no reference
    ]
    errors = refused(payment_list, csv_bytes(rows), personas)
    assert errors == [
        "row 8: status: 'bounced': the status is paid or failed",
        "row 9: reason: a failed payment needs the bank's reason",
        "row 10: amount: '1e5' is not an amount (digits, e.g. 100000)",
        "row 11: reference: empty",
        f"row 7: reference: {p[2].reference} is also on row 6: one row a payment",
        "row 3: reference: no payment has the reference H999999-0000001",
        f"row 4: reference: {q.reference} is on payment list {other.number}, not on list"
        f" {payment_list.number}",
        "row 5: amount: the file says 90000, the list says 100000",
    ]


def test_a_payment_settled_otherwise_cannot_be_changed_by_a_file(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    p = payments_of(payment_list)
    run(payment_list, csv_bytes([[p[0].reference, p[0].amount, "paid", ""]]), personas)
    run(payment_list, csv_bytes([[p[1].reference, p[1].amount, "failed", "no account"]]), personas)

    errors = refused(
        payment_list,
        csv_bytes(
            [
                [p[0].reference, p[0].amount, "failed", "returned"],
                [p[1].reference, p[1].amount, "paid", ""],
                [p[2].reference, p[2].amount, "paid", ""],
            ]
        ),
        personas,
    )
    assert len(errors) == 2
    assert errors[0].startswith(f"row 2: status: {p[0].reference} was already reconciled as paid")
    assert errors[0].endswith("a file cannot make it failed")
    assert errors[1].startswith(f"row 3: status: {p[1].reference} was already reconciled as failed")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            ("reference", "amount"),
            "row 1: status: missing column; the file needs reference, amount, status",
        ),
        (
            ("reference", "amount", "status", "Amount"),
            "row 1: amount: the column appears twice",
        ),
        (
            ("reference", "amount", "status", "reason", "currency", "Reason"),
            "row 1: reason: the column appears twice",
        ),
        (
            ("reference", "sum", "status", "iban"),
            "row 1: amount: missing column; the file needs reference, amount, status",
        ),
    ],
)
def test_missing_and_repeated_columns(
    personas: Personas, header: tuple[str, ...], expected: str
) -> None:
    payment_list = make_list(personas, households=1)
    p = payments_of(payment_list)[0]
    data = csv_bytes([[p.reference, p.amount, "paid", "", "AMD", ""][: len(header)]], header=header)
    assert refused(payment_list, data, personas) == [expected]


def test_other_columns_are_ignored(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    p = payments_of(payment_list)
    rows = [["AMD", p[0].reference, "", p[0].amount, "paid", "x"]]
    rows.append(["AMD", p[1].reference, "", p[1].amount, "failed", "y"])
    header = ("currency", "reference", "iban", "amount", "status", "REASON")
    result = run(payment_list, csv_bytes(rows, header=header), personas)
    assert (result.paid, result.failed, result.still_listed) == (1, 1, 1)
    assert result.ignored_columns == ("currency", "iban")
    event = AuditEvent.objects.get(action="assistance.reconcile")
    assert event.detail["ignored_columns"] == ["currency", "iban"]
    assert [(q.status, q.reason) for q in payments_of(payment_list)[:2]] == [
        ("paid", ""),
        ("failed", "y"),
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_exported_list_with_a_status_column_added_is_read(personas: Personas, fmt: str) -> None:
    """What a bank may well send back: Haven's own export, every column kept, a status added."""
    payment_list = make_list(personas, households=1)
    out = io.BytesIO()
    if fmt == "csv":
        export.write_csv(payment_list, out, acting_user=personas.dan)
        table = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")))
        table = [[*table[0], "status"]] + [[*row, "paid"] for row in table[1:]]
        buffer = io.StringIO(newline="")
        csv.writer(buffer).writerows(table)
        data = buffer.getvalue().encode()
    else:
        export.write_xlsx(payment_list, out, acting_user=personas.dan)
        workbook = load_workbook(io.BytesIO(out.getvalue()))
        sheet = workbook.worksheets[0]
        column = sheet.max_column + 1
        sheet.cell(row=1, column=column, value="status")
        for row in range(2, sheet.max_row + 1):
            sheet.cell(row=row, column=column, value="paid")
        saved = io.BytesIO()
        workbook.save(saved)
        data = saved.getvalue()
    result = run(payment_list, data, personas, filename=f"bank.{fmt}")
    assert (result.paid, result.reconciled) == (3, True)
    assert "currency" in result.ignored_columns
    assert "list_number" in result.ignored_columns


def test_a_blank_first_line_does_not_hide_the_delimiter(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    rows = [[p.reference, p.amount, "paid"] for p in payments_of(payment_list)]
    data = csv_bytes(rows, header=("reference", "amount", "status"), delimiter=";")
    # A blank line, then a spreadsheet's row of empty cells, then the header.
    assert run(payment_list, b"\r\n;;\r\n" + data, personas).paid == 3


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("9" * 5000, "row 2: amount: the amount has 5000 digits; an amount has at most 15"),
        ("1" + "0" * 15, "row 2: amount: the amount has 16 digits; an amount has at most 15"),
        (
            "\uff11\uff10\uff10\uff10\uff10\uff10",
            "row 2: amount: '１０００００' is not an amount (digits, e.g. 100000)",
        ),
        (
            "\u0661\u0660\u0660\u0660\u0660\u0660",
            "row 2: amount: '١٠٠٠٠٠' is not an amount (digits, e.g. 100000)",
        ),
    ],
)
def test_amounts_are_ascii_digits_and_not_too_long(
    personas: Personas, amount: str, expected: str
) -> None:
    payment_list = make_list(personas, households=1)
    p = payments_of(payment_list)[0]
    assert refused(payment_list, csv_bytes([[p.reference, amount, "paid", ""]]), personas) == [
        expected
    ]


def test_leading_zeros_do_not_count_towards_the_amounts_digits(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    p = payments_of(payment_list)[0]
    data = csv_bytes([[p.reference, "0" * 30 + "100000", "paid", ""]])
    assert run(payment_list, data, personas).paid == 1


def _with_sheet(data: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """The XLSX file with its sheet's XML changed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            part = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                part = change(part)
            target.writestr(item, part)
    return out.getvalue()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda xml: xml[: xml.index(b"</sheetData>")], "no element found"),  # cut short
        (  # a cell pointing past the shared strings
            lambda xml: xml.replace(
                b"<sheetData>", b'<sheetData><row r="1"><c r="A1" t="s"><v>999</v></c></row>'
            ),
            "list index out of range",
        ),
    ],
)
def test_an_xlsx_file_whose_sheet_is_damaged(
    personas: Personas, change: Callable[[bytes], bytes], expected: str
) -> None:
    payment_list = make_list(personas, households=1)
    rows = [[p.reference, p.amount, "paid", ""] for p in payments_of(payment_list)]
    data = _with_sheet(xlsx_bytes(rows), change)
    errors = refused(payment_list, data, personas, filename="bank.xlsx")
    assert len(errors) == 1
    assert errors[0].startswith("file: the XLSX file is damaged: ")
    assert expected in errors[0]
    assert errors[0].endswith("; save it again as XLSX or CSV")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf\r\n", "the file is empty"),
        (b"reference,amount,status\r\n", "the file has a header row but no payments"),
        ("reference,amount".encode("utf-16"), "the file is UTF-16 text"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "an Excel 97-2003 (.xls) file"),
        (b"PK\x03\x04 not really a zip", "not a readable XLSX file"),
        (b'reference,amount,status\r\n"H000001-0000001,1,paid\r\n', "not a readable CSV file"),
    ],
)
def test_files_that_cannot_be_read(personas: Personas, data: bytes, expected: str) -> None:
    payment_list = make_list(personas, households=1)
    errors = refused(payment_list, data, personas)
    assert len(errors) == 1
    assert expected in errors[0]


def test_an_xlsx_file_that_is_damaged_or_empty(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    good = xlsx_bytes([])
    assert (
        "not a readable XLSX file"
        in refused(payment_list, good[: len(good) // 2], personas, filename="bank.xlsx")[0]
    )
    empty = Workbook()
    out = io.BytesIO()
    empty.save(out)
    assert (
        "the file is empty"
        in refused(payment_list, out.getvalue(), personas, filename="bank.xlsx")[0]
    )


def test_an_unknown_encoding_is_refused(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    p = payments_of(payment_list)[0]
    errors = refused(
        payment_list, csv_bytes([[p.reference, p.amount, "paid", ""]]), personas, encoding="koi8-r"
    )
    assert errors == [
        "encoding: koi8-r is not an encoding Haven reads: UTF-8, or Windows-1251 (cp1251)"
    ]


def test_a_file_over_the_limit_is_refused(personas: Personas, settings: Any) -> None:
    payment_list = make_list(personas, households=1)
    rows = [[p.reference, p.amount, "paid", ""] for p in payments_of(payment_list)]
    data = csv_bytes(rows)
    settings.HAVEN_RECONCILE_MAX_BYTES = len(data) - 1
    errors = refused(payment_list, data, personas)
    assert len(errors) == 1
    assert f"the file is {len(data)} bytes" in errors[0]
    assert "HAVEN_RECONCILE_MAX_BYTES" in errors[0]


def test_at_most_fifty_errors_are_listed_and_the_rest_counted(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    rows = [[f"H999999-{n:07d}", 100000, "paid", ""] for n in range(1, 61)]
    errors = refused(payment_list, csv_bytes(rows), personas)
    assert len(errors) == 51
    assert errors[0] == "row 2: reference: no payment has the reference H999999-0000001"
    assert errors[-1] == "file: and 10 more errors; nothing was imported"


def test_amounts_with_cents_must_be_the_lists_to_the_cent(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    p = payments_of(payment_list)
    rows = [[p[0].reference, "100000.50", "paid", ""], [p[1].reference, "100000.00", "paid", ""]]
    assert refused(payment_list, csv_bytes(rows), personas) == [
        "row 2: amount: the file says 100000.5, the list says 100000"
    ]
