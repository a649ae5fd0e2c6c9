"""Formula injection: no file Haven writes for a spreadsheet runs a cell as a formula.

Every CSV and XLSX export is written with text that a spreadsheet would run (a person, a site or a
province named `=HYPERLINK(…)`, `@SUM(1+1)`, `+1-2`, …) and read back. In a CSV such a cell starts
with an apostrophe (`haven.reports.exports.safe_text`, the one guard every export uses); in an
XLSX it is a string cell, never a formula. The exports: the bank's payment list (CSV, XLSX), the
partner exports (CSV, XLSX, through the API) and the import's rejects file (CSV).
"""

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from haven.assistance import export
from haven.core.models import Site
from haven.registry.models import IdentityDocument, Person
from haven.reports.exports import FORMULA_STARTS, safe_text
from tests import factories
from tests.api_support import ApiClient
from tests.conftest import Personas
from tests.test_assistance_entitlements import register
from tests.test_assistance_export import make_list

FORMULAS = (
    '=HYPERLINK("http://x","y")',
    "@SUM(1+1)",
    "+1-2",
    "-2+3*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=2+2",
)


def csv_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def assert_csv_neutralised(rows: list[list[str]]) -> None:
    """No cell starts as a formula would, and every formula written arrives behind its
    apostrophe."""
    cells = {cell for row in rows for cell in row}
    dangerous = {cell for cell in cells if cell.startswith(FORMULA_STARTS)}
    assert not dangerous
    for formula in FORMULAS:
        assert formula not in cells


def xlsx_cells(data: bytes) -> list[Any]:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]


def assert_xlsx_neutralised(data: bytes) -> list[str]:
    """No cell of the workbook is a formula; the text cells, as a spreadsheet reads them."""
    cells = xlsx_cells(data)
    assert all(cell.data_type != "f" for cell in cells)
    texts = [cell for cell in cells if isinstance(cell.value, str)]
    assert all(cell.data_type in ("s", "inlineStr") for cell in texts)
    return [cell.value for cell in texts]


def test_safe_text_is_the_one_guard() -> None:
    for formula in FORMULAS:
        assert safe_text(formula) == "'" + formula
    assert safe_text("Hasmik") == "Hasmik"
    assert safe_text("") == ""


# --- the bank's payment list ---------------------------------------------------------------------


@pytest.fixture
def formula_payees(personas: Personas) -> Any:
    """A payment list whose payees are named as formulas, with such document numbers and phones
    (names reach the database by roads other than the registration's checks: an old import, an
    edit; the export does not trust them)."""
    payment_list = make_list(personas, households=2)
    for index, person in enumerate(Person.objects.order_by("pk")):
        formula = FORMULAS[index % len(FORMULAS)]
        Person.objects.filter(pk=person.pk).update(
            given_name=formula,
            family_name=FORMULAS[(index + 1) % len(FORMULAS)],
            patronymic=FORMULAS[(index + 2) % len(FORMULAS)],
            phone="+1-2",
        )
    IdentityDocument.objects.update(number="=1+1")
    return payment_list


def test_payment_list_csv(personas: Personas, formula_payees: Any) -> None:
    out = io.BytesIO()
    export.write_csv(formula_payees, out, acting_user=personas.dan)
    rows = csv_cells(out.getvalue())
    assert len(rows) == 7
    assert_csv_neutralised(rows)
    by_header = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    names = {row["given_name"] for row in by_header}
    assert names == {"'" + formula for formula in FORMULAS}
    assert {row["given_name_latin"] for row in by_header} == names
    assert {row["phone"] for row in by_header} == {"'+1-2"}
    assert {row["document_number"] for row in by_header} >= {"'=1+1"}


def test_payment_list_xlsx(personas: Personas, formula_payees: Any) -> None:
    out = io.BytesIO()
    export.write_xlsx(formula_payees, out, acting_user=personas.dan)
    texts = assert_xlsx_neutralised(out.getvalue())
    # Written exactly as registered: a string cell is text to a spreadsheet, whatever it says.
    assert set(FORMULAS) <= set(texts)
    assert "+1-2" in texts
    assert "=1+1" in texts


# --- the partner exports -------------------------------------------------------------------------

SITE_NAMES = {
    "KOR": ('=HYPERLINK("http://x","y")', "+1-2"),
    "GORIS": ("@SUM(1+1)", "-2+3*cmd|' /C calc'!A0"),
}


@pytest.fixture
def formula_sites(personas: Personas) -> None:
    """Sites and provinces named as formulas (an administrator typed them), with people
    registered and counted crossing at each."""
    client = ApiClient(personas.dan)
    for code, (name, province) in SITE_NAMES.items():
        Site.objects.filter(code=code).update(name=name, province=province)
        for _ in range(3):
            register(personas, site=code, size=3)
        response = client.post("/api/crossings", factories.crossing(code, people=40))
        assert response.status_code == 201, response.content


@pytest.mark.usefixtures("formula_sites")
@pytest.mark.parametrize("name", ["daily-arrivals", "population", "needs"])
def test_partner_export_csv(personas: Personas, name: str) -> None:
    response = ApiClient(personas.dan).get(f"/api/reports/exports/{name}", format="csv")
    assert response.status_code == 200, response.content
    rows = csv_cells(response.content)
    assert_csv_neutralised(rows)
    written = {cell for row in rows for cell in row}
    expected = {
        "daily-arrivals": {"'" + text for pair in SITE_NAMES.values() for text in pair},
        "population": {"'" + province for _, province in SITE_NAMES.values()},
        "needs": set(),
    }[name]
    assert expected <= written


@pytest.mark.usefixtures("formula_sites")
@pytest.mark.parametrize("name", ["daily-arrivals", "population", "needs"])
def test_partner_export_xlsx(personas: Personas, name: str) -> None:
    response = ApiClient(personas.dan).get(f"/api/reports/exports/{name}", format="xlsx")
    assert response.status_code == 200, response.content
    texts = assert_xlsx_neutralised(response.content)
    assert not [text for text in texts if text.startswith(FORMULA_STARTS)]
    if name == "daily-arrivals":
        assert {"'" + text for pair in SITE_NAMES.values() for text in pair} <= set(texts)


# --- the import's rejects file -------------------------------------------------------------------


def test_import_rejects_csv(personas: Personas, tmp_path: Path) -> None:
    """A rejected line's reasons quote the file (an unknown field's name, a site code): the
    rejects file an operator opens in a spreadsheet must not run them."""
    lines = [
        {**factories.household("KOR"), FORMULAS[0]: 1},
        factories.household(site=FORMULAS[1]),
        {**factories.household("KOR"), "uuid": FORMULAS[2]},
        # A carriage return inside a value must not end the row and start one with a formula.
        {**factories.household("KOR"), "x\r=1+1": 1},
    ]
    path = tmp_path / "households.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(CommandError, match="4 of 4 lines rejected"):
        call_command(
            "import", str(path), rejects=rejects, stdout=io.StringIO(), stderr=io.StringIO()
        )
    rows = csv_cells(rejects.read_bytes())
    assert all(len(row) == 4 for row in rows)
    assert_csv_neutralised(rows)
    assert "x\r=1+1" in {row[2] for row in rows}
    fields = {row[2] for row in rows[1:]}
    assert "'" + FORMULAS[0] in fields
    assert "'" + FORMULAS[2] in {row[1] for row in rows[1:]}
