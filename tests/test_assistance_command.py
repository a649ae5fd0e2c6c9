"""`haven assistance`: programmes, entitlements, payment lists, export and reconciliation from
the command line, each error a CommandError that wrote nothing."""

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from haven.assistance.models import Entitlement, Payment, PaymentList, Programme
from haven.core.models import AuditEvent
from tests.conftest import Personas
from tests.test_assistance_entitlements import register
from tests.test_assistance_export import read_csv
from tests.test_assistance_reconcile import csv_bytes, state

GRANT = {
    "code": "arrival-grant",
    "name": "One-off support on arrival",
    "kind": "cash",
    "amount": 100_000,
    "frequency": "once",
    "starts_on": "2023-10-01",
}


def haven(*args: str) -> str:
    out = io.StringIO()
    call_command("assistance", *args, stdout=out)
    return out.getvalue()


def programme_file(tmp_path: Path, **overrides: Any) -> Path:
    path = tmp_path / "programme.json"
    path.write_text(json.dumps({**GRANT, **overrides}), encoding="utf-8")
    return path


def paid_list(personas: Personas, tmp_path: Path) -> PaymentList:
    register(personas)
    register(personas, "GORIS")
    haven("programme", "add", "--from", str(programme_file(tmp_path)))
    haven("entitle", "arrival-grant", "--period", "1")
    haven("pay", "arrival-grant", "--period", "1")
    return PaymentList.objects.get()


def test_programme_add_and_list(personas: Personas, tmp_path: Path) -> None:
    printed = haven("programme", "add", "--from", str(programme_file(tmp_path)), "--as-user", "dan")
    assert "added arrival-grant" in printed
    grant = Programme.objects.get()
    assert (grant.amount, grant.benefit, grant.created_by) == (
        100_000,
        "arrival-grant",
        personas.dan,
    )
    assert AuditEvent.objects.filter(action="assistance.programme_add").count() == 1
    assert "arrival-grant" in haven("programme", "list")
    listed = json.loads(haven("programme", "list", "--json"))
    assert [(p["code"], p["amount"], p["currency"]) for p in listed] == [
        ("arrival-grant", 100_000, "AMD")
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"code": "x"', "is not JSON: Expecting"),
        (json.dumps({**GRANT, "amount": 0}), "amount:"),
        (json.dumps({**GRANT, "colour": "red"}), "colour:"),
    ],
)
def test_programme_add_refuses_a_bad_file_and_writes_nothing(
    personas: Personas, tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "programme.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=expected):
        haven("programme", "add", "--from", str(path))
    assert not Programme.objects.exists()


def test_programme_add_twice_is_a_conflict(personas: Personas, tmp_path: Path) -> None:
    haven("programme", "add", "--from", str(programme_file(tmp_path)))
    with pytest.raises(CommandError, match="a programme with code arrival-grant"):
        haven("programme", "add", "--from", str(programme_file(tmp_path)))
    assert Programme.objects.count() == 1


def test_entitle_pay_export_reconcile(personas: Personas, tmp_path: Path) -> None:
    register(personas)
    register(personas, "GORIS")
    haven("programme", "add", "--from", str(programme_file(tmp_path)))

    entitled = json.loads(haven("entitle", "arrival-grant", "--period", "1", "--json"))
    assert {k: entitled[k] for k in ("records", "identities", "held", "total")} == {
        "records": 6,
        "identities": 6,
        "held": 0,
        "total": 600_000,
    }
    assert "seconds" in entitled
    assert "identities  6" in haven("entitle", "arrival-grant", "--period", "1")

    printed = haven("pay", "arrival-grant", "--period", "1")
    payment_list = PaymentList.objects.get()
    assert f"list       {payment_list.number}" in printed
    assert "payments   6" in printed
    assert "total      600000" in printed
    assert "left_off   none" in printed
    again = json.loads(haven("pay", "arrival-grant", "--period", "1", "--json"))
    assert (again["payments"], again["left_off"]) == (0, {"already_paid": 6})

    out = tmp_path / "bank.csv"
    printed = haven("export", str(payment_list.number), "--format", "csv", "--out", str(out))
    assert "6 payments written" in printed
    rows = read_csv(out.read_bytes())
    assert len(rows) == 6
    assert {r["family_name_latin"] for r in rows} == {"Harutyunyan", "Arutyunyan"}
    xlsx = tmp_path / "bank.xlsx"
    haven("export", str(payment_list.number), "--format", "xlsx", "--out", str(xlsx))
    assert len(list(load_workbook(xlsx, read_only=True).worksheets[0].iter_rows())) == 7
    assert list(tmp_path.glob("*.part")) == []

    bank = tmp_path / "reconciliation.csv"
    bank.write_bytes(
        csv_bytes(
            [[r["reference"], r["amount"], "paid", ""] for r in rows[:5]]
            + [[rows[5]["reference"], rows[5]["amount"], "failed", "отказ банка"]],
            encoding="cp1251",
        )
    )
    with pytest.raises(CommandError, match="say so \\(encoding cp1251\\)"):
        haven("reconcile", str(payment_list.number), str(bank))
    assert not Payment.objects.exclude(status="listed").exists()
    settled = json.loads(
        haven("reconcile", str(payment_list.number), str(bank), "--encoding", "cp1251", "--json")
    )
    assert {k: settled[k] for k in ("paid", "failed", "unchanged", "reconciled")} == {
        "paid": 5,
        "failed": 1,
        "unchanged": 0,
        "reconciled": True,
    }
    assert Payment.objects.get(status="failed").reason == "отказ банка"
    printed = haven("reconcile", str(payment_list.number), str(bank), "--encoding", "cp1251")
    assert "unchanged     6" in printed


def test_errors_name_the_problem_and_write_nothing(personas: Personas, tmp_path: Path) -> None:
    payment_list = paid_list(personas, tmp_path)
    before = state()
    with pytest.raises(CommandError, match="programme nope not found"):
        haven("entitle", "nope", "--period", "1")
    with pytest.raises(CommandError, match="period: arrival-grant has periods 1 to 1, not 2"):
        haven("pay", "arrival-grant", "--period", "2")
    with pytest.raises(CommandError, match="payment list 99 not found"):
        haven("export", "99", "--format", "csv", "--out", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="no such directory"):
        haven("export", "1", "--format", "csv", "--out", str(tmp_path / "nowhere" / "x.csv"))
    with pytest.raises(CommandError, match="no such file"):
        haven("reconcile", str(payment_list.number), str(tmp_path / "missing.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([["H999999-0000001", 100000, "paid", ""]]))
    with pytest.raises(CommandError) as caught:
        haven("reconcile", str(payment_list.number), str(bad))
    assert "nothing was written" in str(caught.value)
    assert "row 2: reference: no payment has the reference H999999-0000001" in str(caught.value)
    assert state() == before
    assert not list(tmp_path.glob("x.csv*"))
    assert Entitlement.objects.count() == 6


def test_only_assistance_officers_may_write(personas: Personas, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="'alice' may not run assistance"):
        haven("programme", "add", "--from", str(programme_file(tmp_path)), "--as-user", "alice")
    assert not Programme.objects.exists()
