"""Properties of Haven's file imports, checked on generated files.

Two importers read files from outside: `haven import` (households, JSON Lines, UTF-8) and the
bank's reconciliation file (CSV in UTF-8 or Windows-1251, or XLSX). For any bytes at all, each
either imports cleanly or refuses with an error that names where the problem is (a line; a row and
a column; or the file), and a refused file changes nothing. A generated valid file imports exactly
what it holds; the same data as UTF-8, as Windows-1251 and as XLSX reconciles the same.

Each example runs in a transaction rolled back after it, so examples do not see each other's
writes.
"""

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from haven.assistance.models import Payment, PaymentList
from haven.assistance.reconcile import reconcile
from haven.core.errors import InvalidInput
from haven.registry.models import Household, Person
from tests import factories
from tests.conftest import Personas
from tests.test_assistance_export import make_list
from tests.test_assistance_reconcile import state

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def rolled_back() -> Iterator[None]:
    """One example's writes, undone when it ends."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- haven import: households, JSON Lines --------------------------------------------------------

GIVEN = ["Հասմիկ", "Арам", "Ani", "Նարե", "Сергей", "Davit", "Գոհար", "Мгер", "Lilit", "Ռուբեն"]
FAMILY = ["Հարությունյան", "Арутюнян", "Harutyunyan", "Սարգսյան", "Оганесян", "Khachatryan"]
RELATIONS = ["spouse", "child", "parent", "sibling", "grandchild", "other"]


@st.composite
def members(draw: st.DrawFn, relationship: str) -> dict[str, Any]:
    birth = draw(
        st.one_of(
            st.integers(1910, 2022).map(str),
            st.tuples(st.integers(1910, 2022), st.integers(1, 12)).map(
                lambda d: f"{d[0]:04d}-{d[1]:02d}"
            ),
            st.dates(date(1910, 1, 1), date(2022, 12, 31)).map(lambda d: d.isoformat()),
            st.none(),
        )
    )
    return factories.member(
        uuid=str(uuid.UUID(int=draw(st.integers(1, 2**122)))),
        given_name=draw(st.sampled_from(GIVEN)),
        family_name=draw(st.sampled_from(FAMILY)),
        sex=draw(st.sampled_from(["F", "M"])),
        birth_date=birth,
        estimated_age=draw(st.integers(0, 90)) if birth is None else None,
        relationship=relationship,
    )


@st.composite
def households(draw: st.DrawFn) -> dict[str, Any]:
    head = draw(members("head"))
    others = draw(
        st.lists(
            st.sampled_from(RELATIONS).flatmap(members), max_size=5, unique_by=lambda m: m["uuid"]
        )
    )
    return factories.household(
        draw(st.sampled_from(["KOR", "GORIS", "VAYK"])),
        uuid=str(uuid.UUID(int=draw(st.integers(1, 2**122)))),
        members=[head, *[m for m in others if m["uuid"] != head["uuid"]]],
    )


def _import(path: Path, rejects: Path) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import", str(path), rejects=rejects, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _written() -> tuple[set[str], int]:
    return {
        str(u) for u in Household.objects.values_list("uuid", flat=True)
    }, Person.objects.count()


@pytest.mark.usefixtures("personas")
@EXAMPLES
@given(st.lists(households(), min_size=1, max_size=6, unique_by=lambda h: h["uuid"]))
def test_a_valid_file_imports_exactly_its_households(
    tmp_path: Path, items: list[dict[str, Any]]
) -> None:
    member_uuids = [m["uuid"] for h in items for m in h["members"]]
    if len(set(member_uuids)) != len(member_uuids):
        return  # two households drew one member uuid: not a valid file
    path = tmp_path / "households.jsonl"
    path.write_text(
        "".join(json.dumps(h, ensure_ascii=False) + "\n" for h in items), encoding="utf-8"
    )
    with rolled_back():
        out, _ = _import(path, tmp_path / "rejects.csv")
        assert f"{len(items)} households ({len(member_uuids)} persons) registered" in out
        assert _written() == ({h["uuid"] for h in items}, len(member_uuids))
        stored = dict(Person.objects.values_list("uuid", "given_name"))
        typed = {uuid.UUID(m["uuid"]): m["given_name"] for h in items for m in h["members"]}
        assert stored == typed  # names exactly as typed, in their script
        again, _ = _import(path, tmp_path / "rejects.csv")  # importing twice registers once
        assert _written() == ({h["uuid"] for h in items}, len(member_uuids))
        assert "0 households (0 persons) registered" in again


# A line of a file from outside: a valid household, or anything at all.
LINES = st.one_of(
    households().map(lambda h: json.dumps(h, ensure_ascii=False).encode()),
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=6,
    ).map(lambda v: json.dumps(v).encode()),
    households().flatmap(
        lambda h: st.sampled_from(list(h)).map(lambda key: json.dumps({**h, key: [None]}).encode())
    ),
    # A valid household but for one text: any text at all where the site or the origin goes.
    st.tuples(
        households(), st.sampled_from(["site", "origin_settlement"]), st.text(max_size=8)
    ).map(lambda t: json.dumps({**t[0], t[1]: t[2]}).encode()),
)


def _blank(number: int, line: bytes) -> bool:
    """An empty line, which the import skips (the first may hold just the byte order mark)."""
    text = line.decode("utf-8", errors="replace")
    return not (text.removeprefix("\ufeff") if number == 1 else text).strip()


@pytest.mark.usefixtures("personas")
@EXAMPLES
@given(st.lists(LINES, min_size=1, max_size=6))
def test_any_file_imports_its_valid_lines_and_names_every_other(
    tmp_path: Path, lines: list[bytes]
) -> None:
    path = tmp_path / "any.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    rejects = tmp_path / "rejects.csv"
    rejects.unlink(missing_ok=True)
    with rolled_back():
        try:
            _import(path, rejects)
        except CommandError as exc:
            message = str(exc)
            if "UTF-8" in message:  # the whole file is refused before anything is read
                assert re.search(r"line \d+", message)
                assert _written() == (set(), 0)
                return
            assert "rejected" in message
        valid = {}
        for number, line in enumerate(lines, start=1):
            try:
                data = json.loads(line)
                household = factories.household()  # the shape: every key a household may have
            except ValueError:
                continue
            if isinstance(data, dict) and set(data) <= set(household) and "members" in data:
                valid[number] = data
        written, _ = _written()
        # Every household written was a line of the file; every line not written is named.
        assert written <= {str(d.get("uuid")) for d in valid.values()}
        named = set()
        if rejects.exists():
            with rejects.open(encoding="utf-8", newline="") as f:
                named = {int(row["line"]) for row in csv.DictReader(f)}
        for number, line in enumerate(lines, start=1):
            data = valid.get(number)
            if data is not None and str(data.get("uuid")) in written:
                continue
            assert number in named or _blank(number, line), f"line {number}: not written, not named"


# --- the bank's reconciliation file -------------------------------------------------------------


@pytest.fixture
def payment_list(personas: Personas) -> PaymentList:
    return make_list(personas, households=2)


REASONS = st.text(
    alphabet=st.sampled_from(list("Счет закрыт; нет получателя ABCxyz 0-9,\"'")),
    min_size=1,
    max_size=30,
)


@st.composite
def outcomes(draw: st.DrawFn, references: list[tuple[str, int]]) -> list[list[str]]:
    """Rows a bank could send back for the list: some payments paid, some failed, some left out,
    amounts written in any of the ways banks write them."""
    rows = []
    for reference, amount in references:
        status = draw(st.sampled_from(["paid", "failed", "PAID", "Failed", None]))
        if status is None:
            continue
        written = draw(
            st.sampled_from([str(amount), f"{amount:,}".replace(",", " "), f"{amount}.00"])
        )
        reason = draw(REASONS) if status.lower() == "failed" else ""
        rows.append([reference, written, status, reason])
    return draw(st.permutations(rows))


def _csv(rows: list[list[str]], delimiter: str) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["Reference", "Amount", "Status", "Reason"])
    writer.writerows(rows)
    return out.getvalue()


def _xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["reference", "amount", "status", "reason"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _outcome(payment_list: PaymentList, data: bytes, filename: str, encoding: str | None) -> Any:
    """What a file does to the list: its payments' states after it, or its errors."""
    with rolled_back():
        try:
            result = reconcile(
                payment_list=payment_list,
                data=data,
                filename=filename,
                encoding=encoding,
                acting_user=None,
            )
        except InvalidInput as exc:
            return sorted((e.field, e.message) for e in exc.errors)
        payments = Payment.objects.filter(payment_list=payment_list).order_by("pk")
        return (
            (result.rows, result.paid, result.failed, result.unchanged, result.reconciled),
            list(payments.values_list("reference", "status", "reason")),
        )


@EXAMPLES
@given(data=st.data())
def test_utf8_windows_1251_and_xlsx_reconcile_the_same(
    payment_list: PaymentList, data: st.DataObject
) -> None:
    references = list(
        Payment.objects.filter(payment_list=payment_list)
        .order_by("pk")
        .values_list("reference", "amount")
    )
    rows = data.draw(outcomes(references), label="rows")
    delimiter = data.draw(st.sampled_from([",", ";", "\t"]), label="delimiter")
    text = _csv(rows, delimiter)
    as_utf8 = _outcome(payment_list, text.encode("utf-8"), "bank.csv", None)
    with_bom = _outcome(payment_list, b"\xef\xbb\xbf" + text.encode("utf-8"), "bank.csv", None)
    as_cp1251 = _outcome(payment_list, text.encode("cp1251"), "bank.csv", "cp1251")
    as_xlsx = _outcome(payment_list, _xlsx(rows), "bank.xlsx", None)
    assert as_utf8 == with_bom == as_cp1251 == as_xlsx
    if rows:
        (counts, payments) = as_utf8
        paid = sum(1 for row in rows if row[2].lower() == "paid")
        assert counts[:3] == (len(rows), paid, len(rows) - paid)
        assert sum(1 for _, status, _ in payments if status != "listed") == len(rows)
    else:
        assert [field for field, _ in as_utf8] == ["file"]


HEADER = b"reference,amount,status,reason\r\n"
ROW_OR_FILE = re.compile(r"^(file|encoding|row \d+: (reference|amount|status|reason))$")


@EXAMPLES
@given(
    st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=200).map(lambda b: HEADER + b),
        st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b),
        st.text(max_size=100).map(lambda t: HEADER + t.encode("utf-8")),
        # A row right but for its texts: any text where the reference and the reason go.
        st.tuples(st.text(max_size=12), st.text(max_size=12)).map(
            lambda t: HEADER + f"{t[0]},100000,failed,{t[1]}\r\n".encode()
        ),
    ),
    st.sampled_from([("bank.csv", None), ("bank.csv", "cp1251"), ("bank.xlsx", None)]),
)
def test_any_bytes_reconcile_cleanly_or_are_refused_naming_where(
    payment_list: PaymentList, data: bytes, file: tuple[str, str | None]
) -> None:
    filename, encoding = file
    with rolled_back():
        before = state()
        try:
            reconcile(
                payment_list=payment_list,
                data=data,
                filename=filename,
                encoding=encoding,
                acting_user=None,
            )
        except InvalidInput as exc:
            errors = exc.errors
        else:
            return
        assert errors
        for error in errors:
            assert ROW_OR_FILE.match(error.field), error.field
            assert error.message
        assert state() == before, "a refused file changed the database"
