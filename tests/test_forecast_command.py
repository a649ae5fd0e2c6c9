"""`haven forecast --curve FILE --as-of ISO8601 [--prior-total N]`: the JSON contract, the time
zone, date-only reports, revisions, the backlog and every kind of bad input."""

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from haven.simulate.curve import DEFAULT_CURVE_FILE

HEADER = "datetime_local,cumulative_arrivals\n"


def forecast(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("forecast", *args, stdout=out)
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def curve_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "curve.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return str(path)


def test_the_json_contract_on_the_2023_curve() -> None:
    result = forecast("--curve", str(DEFAULT_CURVE_FILE), "--as-of", "2023-10-01T12:00")
    for key in (
        "as_of",
        "observed",
        "predicted_total",
        "share_arrived",
        "interval_80",
        "interval_95",
        "date_90pct",
        "date_99pct",
        "identifiable",
        "note",
        "models",
        "warnings",
        "time_zone",
    ):
        assert key in result, key
    assert result["as_of"] == "2023-10-01T12:00+04:00"
    assert result["time_zone"] == "Asia/Yerevan"
    assert result["observed"] == 96_000  # the curve at 1 October 12:00
    assert result["identifiable"] is True
    assert result["note"] is None
    low80, high80 = result["interval_80"]
    low95, high95 = result["interval_95"]
    assert result["observed"] <= low95 <= low80 <= result["predicted_total"] <= high80 <= high95
    assert low80 <= 100_000 <= high80  # the curve's final total
    assert result["share_arrived"] == pytest.approx(96_000 / result["predicted_total"], abs=1e-3)
    date_90 = datetime.fromisoformat(result["date_90pct"])
    date_99 = datetime.fromisoformat(result["date_99pct"])
    assert date_90.utcoffset() is not None
    assert date_90 < date_99
    # 90 % of 100,000 had arrived late on 30 September.
    assert datetime.fromisoformat("2023-09-30T00:00+04:00") < date_90
    assert date_90 < datetime.fromisoformat("2023-10-02T12:00+04:00")
    assert sum(m["weight"] for m in result["models"]) == pytest.approx(1.0, abs=1e-3)
    assert {m["name"] for m in result["models"]} <= {
        "logistic",
        "gompertz",
        "richards",
        "lognormal",
        "loglogistic",
        "pulse",
    }
    assert result["warnings"] == []


def test_early_on_the_forecast_says_it_cannot_tell_and_a_prior_bounds_it() -> None:
    early = forecast("--curve", str(DEFAULT_CURVE_FILE), "--as-of", "2023-09-26T08:00")
    assert early["observed"] == 13_550  # the public figure of that morning
    assert early["identifiable"] is False
    assert early["interval_80"] == [13_550, None]
    assert "peak" in early["note"]

    prior = forecast(
        "--curve",
        str(DEFAULT_CURVE_FILE),
        "--as-of",
        "2023-09-26T08:00",
        "--prior-total",
        "120,000",
    )
    assert prior["identifiable"] is True
    assert prior["prior"] == {"total": 120_000, "sd": 0.25}
    low, high = prior["interval_80"]
    assert 13_550 <= low < 120_000 < high
    assert "prior" in prior["note"]


def test_times_without_an_offset_are_local_to_haven_time_zone(
    tmp_path: Path, settings: Any
) -> None:
    settings.TIME_ZONE = "UTC"
    path = curve_file(
        tmp_path, "2023-09-25T08:00,100\n2023-09-25T20:00,900\n2023-09-26T08:00,3000\n"
    )
    result = forecast("--curve", path, "--as-of", "2023-09-26T08:00")
    assert result["as_of"] == "2023-09-26T08:00+00:00"
    assert result["time_zone"] == "UTC"
    # An offset in the file or the as-of is kept.
    result = forecast("--curve", path, "--as-of", "2023-09-26T12:00+04:00")
    assert result["as_of"] == "2023-09-26T08:00+00:00"


def test_a_date_without_a_time_is_not_used_before_its_day_is_over(tmp_path: Path) -> None:
    path = curve_file(
        tmp_path,
        "2023-09-24,150\n2023-09-25,6500\n2023-09-26,23500\n2023-09-27,45000\n",
    )
    during = forecast("--curve", path, "--as-of", "2023-09-27T08:00")
    assert during["observed"] == 23_500
    assert any("line 5 (2023-09-27)" in w for w in during["warnings"])
    whole_day = forecast("--curve", path, "--as-of", "2023-09-27")
    assert whole_day["observed"] == 45_000
    assert whole_day["as_of"] == "2023-09-28T00:00+04:00"
    assert not any("not used" in w for w in whole_day["warnings"])


def test_a_downward_revision_gives_a_warning_and_a_forecast(tmp_path: Path) -> None:
    path = curve_file(
        tmp_path,
        "2023-09-25T08:00,1500\n2023-09-25T20:00,7000\n2023-09-26T08:00,6500\n"
        "2023-09-26T20:00,23500\n",
    )
    result = forecast("--curve", path, "--as-of", "2023-09-27T00:00")
    assert result["observed"] == 23_500
    assert any("line 3" in w and "revised to 6,500" in w for w in result["warnings"])


def test_the_backlog_and_the_band(tmp_path: Path) -> None:
    result = forecast(
        "--curve",
        str(DEFAULT_CURVE_FILE),
        "--as-of",
        "2023-09-30T08:00",
        "--registered",
        "70000",
        "--desk-throughput",
        "900",
        "--band",
    )
    backlog = result["backlog"]
    assert backlog["waiting"] == 88_500 - 70_000
    clears = datetime.fromisoformat(backlog["clears"])
    # 18,500 waiting at 900 an hour: at least 20 hours, more with the arrivals still coming.
    assert clears > datetime.fromisoformat("2023-10-01T04:00+04:00")
    optimistic, pessimistic = (datetime.fromisoformat(t) for t in backlog["clears_80"])
    assert optimistic <= clears <= pessimistic
    band = result["band"]
    assert band[0]["time"] == "2023-09-30T08:00+04:00"
    assert band[0]["median"] == 88_500
    assert all(p["low_80"] <= p["median"] <= p["high_80"] for p in band)


@pytest.mark.parametrize(
    ("body", "args", "message"),
    [
        ("when,count\n2023-09-25T10:00,0\n", (), "--curve: .*header"),
        (HEADER + "2023-09-25T10:00,0\nsoon,5\n2023-09-25T12:00,9\n", (), "--curve: line 3"),
        (HEADER + "2023-09-25T10:00,0\n2023-09-25T11:00,lots\n", (), "line 3.*not a number"),
        (HEADER + "2023-09-25T10:00,0\n2023-09-25T11:00,-5\n", (), "line 3.*negative"),
        (
            HEADER + "2023-09-25T10:00,0\n2023-09-25T09:00,5\n",
            (),
            "line 3.*not after the line before",
        ),
        (
            HEADER + "2023-09-25T10:00,0\n2023-09-25T11:00,5\n2023-09-25T12:00,9\n",
            ("--as-of", "2023-09-25T09:00"),
            "before the first report",
        ),
        (
            HEADER + "2023-09-25T10:00,0\n2023-09-25T11:00,5\n2023-09-25T12:00,9\n",
            ("--as-of", "2023-09-25T11:30"),
            "only 2 report.*at least three",
        ),
        (
            HEADER + "2023-09-25T10:00,0\n2023-09-25T11:00,5\n2023-09-25T12:00,9\n",
            ("--as-of", "tomorrow"),
            "--as-of: .*ISO 8601",
        ),
        (
            HEADER + "2023-09-25T10:00,0\n2023-09-25T11:00,5\n2023-09-25T12:00,9\n",
            ("--prior-total", "0"),
            "--prior-total",
        ),
        (
            HEADER + "2023-09-25T10:00,0\n2023-09-25T11:00,5\n2023-09-25T12:00,9\n",
            ("--prior-total", "1000", "--prior-sd", "-1"),
            "--prior-sd",
        ),
        (
            HEADER + "2023-09-25T10:00,0\n2023-09-25T11:00,5\n2023-09-25T12:00,9\n",
            ("--registered", "5"),
            "go together",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_problem(
    tmp_path: Path, body: str, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "curve.csv"
    path.write_text(body, encoding="utf-8")
    if "--as-of" not in args:
        args = (*args, "--as-of", "2023-09-25T12:00")
    with pytest.raises(CommandError, match=message):
        forecast("--curve", str(path), *args)


def test_a_missing_file_and_one_that_is_not_text_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"--curve: .*cannot be read"):
        forecast("--curve", str(tmp_path / "none.csv"), "--as-of", "2023-09-25T12:00")
    binary = tmp_path / "curve.csv"
    binary.write_bytes(b"\xff\xfe\x00datetime_local")
    with pytest.raises(CommandError, match=r"--curve: .*not UTF-8"):
        forecast("--curve", str(binary), "--as-of", "2023-09-25T12:00")
