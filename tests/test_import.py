"""`haven import FILE`: good files, bad lines, wrong encodings, BOMs, re-imports, dry runs."""

import csv
import io
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from haven.core.models import AuditEvent
from haven.registry.models import Household, Person
from tests import factories
from tests.conftest import Personas

DATA = Path(__file__).resolve().parent / "data"


def _write(path: Path, lines: list[Any], *, encoding: str = "utf-8") -> Path:
    text = "\n".join(
        line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines
    )
    path.write_bytes((text + "\n").encode(encoding))
    return path


def _import(path: Path, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import", str(path), stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_a_good_file_is_registered(personas: Personas, tmp_path: Path) -> None:
    households = [factories.household("KOR"), factories.household("GORIS", size=5)]
    path = _write(tmp_path / "good.jsonl", households)
    out, _ = _import(path)
    assert "2 households (8 persons) registered" in out
    assert Household.objects.count() == 2
    assert Person.objects.count() == 8
    stored = Person.objects.get(uuid=households[1]["members"][1]["uuid"])
    assert stored.given_name == "Арам"
    assert stored.given_name_script == "cyrillic"
    assert AuditEvent.objects.filter(action="household.register", user=personas.admin).count() == 2


def test_the_checked_in_sample_file_imports(personas: Personas, tmp_path: Path) -> None:
    out, _ = _import(DATA / "households_sample.jsonl", as_user="dan")
    assert "3 households (9 persons) registered" in out
    assert set(Household.objects.values_list("site__code", flat=True)) == {"KOR", "GORIS", "VAYK"}


def test_bad_lines_are_reported_and_nothing_of_them_written(
    personas: Personas, tmp_path: Path
) -> None:
    good = factories.household("KOR")
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    lines: list[Any] = [
        good,  # 1
        "",  # 2: empty, skipped
        "{not json",  # 3
        "[1, 2]",  # 4
        factories.household(members=[factories.member(given_name="")]),  # 5
        factories.household(site="NOWHERE"),  # 6
        factories.household(registered_at=future),  # 7
        factories.household(members=[]),  # 8
        factories.household(members=[factories.member(birth_date="1990-02-30")]),  # 9
        json.dumps(factories.household()) + " " * (1024 * 1024),  # 10: over 1 MB
        factories.household(members=[factories.member(given_name="Anna\u0007")]),  # 11
        factories.household(uuid=good["uuid"], phone="+374 99 000000"),  # 12: uuid reused
    ]
    path = _write(tmp_path / "bad.jsonl", lines)
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(CommandError, match="10 of 12 lines rejected"):
        _import(path, rejects=rejects)
    assert Household.objects.count() == 1
    assert Household.objects.get().uuid.hex == good["uuid"].replace("-", "")
    rows = list(csv.DictReader(rejects.open(encoding="utf-8")))
    by_line = {int(r["line"]): (r["field"], r["message"]) for r in rows}
    assert by_line[3][0] == "json"
    assert "not valid JSON" in by_line[3][1]
    assert by_line[4] == ("__all__", "a line must hold one JSON object (a household), not list")
    assert by_line[5] == ("members.0.given_name", "must not be empty")
    assert by_line[6][0] == "site"
    assert "NOWHERE not found" in by_line[6][1]
    assert by_line[7] == ("registered_at", "is in the future")
    assert by_line[8][0] == "members"
    assert by_line[9][0] == "members.0.birth_date"
    assert by_line[10] == ("__all__", "the line is longer than 1 MB")
    assert by_line[11][0] == "members.0.given_name"
    assert "control" in by_line[11][1]
    assert by_line[12][0] == "uuid"
    assert "different details" in by_line[12][1]
    assert 1 not in by_line
    assert 2 not in by_line


def test_the_report_names_each_line_on_stderr(personas: Personas, tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl", [factories.household(), "{", factories.household()])
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 3 lines rejected"):
        call_command("import", str(path), stdout=io.StringIO(), stderr=err)
    assert "line 2: json: not valid JSON" in err.getvalue()
    assert Household.objects.count() == 2


def test_a_windows_1251_file_is_refused_clearly(personas: Personas, tmp_path: Path) -> None:
    household = factories.household(
        origin_settlement="Степанакерт",
        members=[factories.member(given_name="Анаит", family_name="Арутюнян")],
    )
    path = _write(tmp_path / "cp1251.jsonl", [household], encoding="cp1251")
    with pytest.raises(CommandError, match=r"line 1 is not UTF-8.*Windows-1251"):
        _import(path)
    assert Household.objects.count() == 0


def test_a_bad_encoding_further_down_stops_the_whole_file(
    personas: Personas, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    first = json.dumps(factories.household(), ensure_ascii=False).encode()
    second = json.dumps(
        factories.household(
            origin_settlement="Шуши",
            members=[factories.member(given_name="Гаяне", family_name="Саргсян")],
        ),
        ensure_ascii=False,
    ).encode("cp1251")
    path.write_bytes(first + b"\n" + second + b"\n")
    with pytest.raises(CommandError, match="line 2 is not UTF-8"):
        _import(path)
    assert Household.objects.count() == 0


def test_a_utf16_file_is_refused_clearly(personas: Personas, tmp_path: Path) -> None:
    path = _write(tmp_path / "utf16.jsonl", [factories.household()], encoding="utf-16")
    with pytest.raises(CommandError, match="UTF-16"):
        _import(path)
    assert Household.objects.count() == 0


def test_a_utf8_bom_is_tolerated(personas: Personas, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bom.jsonl", [factories.household(), factories.household()], encoding="utf-8-sig"
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    out, _ = _import(path)
    assert "2 households" in out
    assert Household.objects.count() == 2


def test_reimporting_is_idempotent(personas: Personas, tmp_path: Path) -> None:
    path = _write(tmp_path / "good.jsonl", [factories.household() for _ in range(3)])
    _import(path)
    persons = Person.objects.count()
    events = AuditEvent.objects.count()
    out, _ = _import(path)
    assert "0 households (0 persons) registered" in out
    assert "3 households already registered" in out
    assert Person.objects.count() == persons
    assert AuditEvent.objects.count() == events


def test_dry_run_writes_nothing(personas: Personas, tmp_path: Path) -> None:
    path = _write(tmp_path / "good.jsonl", [factories.household(), factories.household("VAYK")])
    out, _ = _import(path, dry_run=True)
    assert "2 of 2 lines are valid" in out
    assert Household.objects.count() == 0
    assert AuditEvent.objects.count() == 0
    bad = _write(tmp_path / "bad.jsonl", [factories.household(), "[]"])
    with pytest.raises(CommandError, match="1 of 2 lines rejected"):
        _import(bad, dry_run=True)
    assert Household.objects.count() == 0


def test_a_registrar_imports_only_at_their_own_site(personas: Personas, tmp_path: Path) -> None:
    path = _write(tmp_path / "two.jsonl", [factories.household("KOR"), factories.household("VAYK")])
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 2 lines rejected"):
        call_command("import", str(path), as_user="alice", stdout=io.StringIO(), stderr=err)
    assert "line 2: site: site VAYK not found" in err.getvalue()
    assert list(Household.objects.values_list("site__code", flat=True)) == ["KOR"]


def test_a_missing_file_or_user_is_a_clear_error(personas: Personas, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        _import(tmp_path / "nothing.jsonl")
    path = shutil.copy(DATA / "households_sample.jsonl", tmp_path / "sample.jsonl")
    with pytest.raises(CommandError, match="no active user named 'zed'"):
        _import(Path(path), as_user="zed")
    assert Household.objects.count() == 0


def test_a_simulated_file_imports(personas: Personas, tmp_path: Path) -> None:
    out = tmp_path / "sim.jsonl"
    call_command("simulate", people=120, seed=3, out=out, no_db=True, stdout=io.StringIO())
    call_command(
        "site", "add", "SISIAN", "Sisian", kind="hub", province="Syunik", stdout=io.StringIO()
    )
    call_command(
        "site", "add", "KAPAN", "Kapan", kind="hub", province="Syunik", stdout=io.StringIO()
    )
    call_command(
        "site", "add", "YEREVAN", "Yerevan", kind="hub", province="Yerevan", stdout=io.StringIO()
    )
    report, _ = _import(out, as_user="dan")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert f"{len(lines)} households" in report
    assert Person.objects.count() == sum(len(json.loads(line)["members"]) for line in lines)
