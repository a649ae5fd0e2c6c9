"""The reports' API: the situation at a moment and the partner exports; who may read what.

Coordinators read every figure; partner analysts read suppressed aggregates at whole hours;
every other role gets 404, as for something that does not exist. Every read is audited, and a
refused request writes nothing.
"""

import io
from datetime import timedelta
from typing import Any

import hxl
import pytest
from django.test import Client
from django.utils import timezone

from haven.core.models import AuditEvent, User
from haven.reports.suppression import THRESHOLD
from tests.api_support import ApiClient, fields_of
from tests.conftest import Personas
from tests.test_report_figures import World, crowded_influx, world

__all__ = ["world"]  # the fixture, shared with the figures' tests

SITUATION = "/api/reports/situation"
EXPORTS = "/api/reports/exports"
PATHS = [
    (SITUATION, {}),
    (f"{EXPORTS}/daily-arrivals", {"format": "csv"}),
    (f"{EXPORTS}/population", {"format": "xlsx"}),
    (f"{EXPORTS}/needs", {}),
]


@pytest.fixture
def influx(world: World) -> World:
    return crowded_influx(world)


def _user(personas: Personas, name: str) -> User:
    user: User = getattr(personas, name)
    return user


@pytest.mark.parametrize(("path", "params"), PATHS)
@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("alice", False),  # registrar
        ("carol", False),  # caseworker
        ("admin", False),  # administrator
        ("dan", True),  # coordinator
        ("erin", True),  # partner analyst
    ],
)
def test_who_may_read_the_reports(
    influx: World, path: str, params: dict[str, str], persona: str, allowed: bool
) -> None:
    user = _user(influx.personas, persona)
    client = ApiClient(user)
    before = AuditEvent.objects.count()
    response = client.get(path, as_of="2023-09-28T00:00+04:00", **params)
    if allowed:
        assert response.status_code == 200, response.content
        event = AuditEvent.objects.order_by("-pk").first()
        assert event is not None
        assert event.user == user
        assert event.action in {"report.situation", "report.export"}
        assert AuditEvent.objects.count() == before + 1
    else:
        assert response.status_code == 404
        assert response.json() == {"detail": "report not found"}
        assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(("path", "params"), PATHS)
def test_the_reports_need_a_login(influx: World, path: str, params: dict[str, str]) -> None:
    response = Client().get(path, params)
    assert response.status_code == 401


def test_an_inactive_partner_is_not_let_in(influx: World) -> None:
    erin = influx.personas.erin
    client = ApiClient(erin)
    erin.is_active = False
    erin.save()
    assert client.get(SITUATION).status_code == 401


def test_a_coordinator_reads_every_figure_at_the_moment(influx: World) -> None:
    response = ApiClient(influx.personas.dan).get(SITUATION, as_of="2023-09-26T09:30:00+04:00")
    assert response.status_code == 200
    body = response.json()
    assert body["as_of"] == "2023-09-26T09:30:00+04:00"
    assert body["registrations"] == 7
    assert body["unique_people"] == 6
    assert body["households"] == 3
    assert body["housed"] is None
    assert body["registrations_hourly"]
    assert {n["code"]: n["persons"] for n in body["needs"]}["WR-WR"] == 1  # not suppressed
    event = AuditEvent.objects.get(action="report.situation")
    assert event.detail == {"as_of": body["as_of"], "suppressed": False, "via": "api"}


def test_a_partner_reads_suppressed_figures_at_the_whole_hour(influx: World) -> None:
    response = ApiClient(influx.personas.erin).get(SITUATION, as_of="2023-09-28T00:45+04:00")
    assert response.status_code == 200
    body = response.json()
    assert body["as_of"] == "2023-09-28T00:00:00+04:00"
    assert body["unique_people"] == 31
    assert "registrations_hourly" not in body
    assert "population" not in body
    values = [v for row in body["pyramid"] for v in (row["female"], row["male"]) if v is not None]
    assert all(not 0 < v < THRESHOLD for v in values)
    assert all(need["persons"] is None for need in body["needs"])
    assert body["suppression"]["threshold"] == THRESHOLD
    event = AuditEvent.objects.get(action="report.situation")
    assert event.detail["suppressed"] is True


def test_a_moment_without_an_offset_is_armenian(influx: World) -> None:
    body = ApiClient(influx.personas.dan).get(SITUATION, as_of="2023-09-26T09:30").json()
    assert body["as_of"] == "2023-09-26T09:30:00+04:00"


def test_an_offset_whose_plus_was_not_encoded_is_read(influx: World) -> None:
    client = ApiClient(influx.personas.dan)
    response = client.client.get(
        f"{SITUATION}?as_of=2023-09-26T05:30:00+00:00", headers=client.headers
    )
    assert response.status_code == 200, response.content
    assert response.json()["as_of"] == "2023-09-26T09:30:00+04:00"


def test_now_is_the_default(influx: World) -> None:
    body = ApiClient(influx.personas.dan).get(SITUATION).json()
    assert body["registrations"] == 32
    assert body["as_of"][:10] == timezone.localdate().isoformat()


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("yesterday", "is not an ISO 8601 date and time"),
        ("2023-09-26", "give a time as well as the date, e.g. 2023-09-26T08:00"),
        ("2023-13-01T08:00", "is not an ISO 8601 date and time"),
        ("2023-09-26T25:00", "is not an ISO 8601 date and time"),
        ((timezone.now() + timedelta(days=2)).isoformat(), "is in the future"),
    ],
)
@pytest.mark.parametrize("path", [SITUATION, f"{EXPORTS}/population"])
def test_a_bad_moment_is_refused(influx: World, as_of: str, message: str, path: str) -> None:
    client = ApiClient(influx.personas.dan)
    before = AuditEvent.objects.count()
    response = client.get(path, as_of=as_of)
    assert response.status_code == 422
    assert fields_of(response) == ["as_of"]
    assert message in response.json()["errors"][0]["message"]
    assert AuditEvent.objects.count() == before


def test_an_unknown_export_or_format_is_refused(influx: World) -> None:
    client = ApiClient(influx.personas.erin)
    before = AuditEvent.objects.count()
    shelters = client.get(f"{EXPORTS}/shelters")
    assert shelters.status_code == 422
    assert fields_of(shelters) == ["name"]
    assert "daily-arrivals" in shelters.json()["errors"][0]["message"]
    pdf = client.get(f"{EXPORTS}/needs", format="pdf")
    assert pdf.status_code == 422
    assert fields_of(pdf) == ["format"]
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_partner_downloads_an_export(influx: World, fmt: str) -> None:
    response = ApiClient(influx.personas.erin).get(
        f"{EXPORTS}/population", format=fmt, as_of="2023-09-28T00:30+04:00"
    )
    assert response.status_code == 200
    expected_type = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats"
    assert response["Content-Type"].startswith(expected_type)
    assert response["Content-Disposition"] == (
        f'attachment; filename="haven-population-20230928T0000.{fmt}"'
    )
    dataset: Any = hxl.data(io.BytesIO(response.content)).cache()
    assert "#adm1+name" in dataset.display_tags
    assert dataset.validate() is True
    event = AuditEvent.objects.get(action="report.export")
    assert event.user == influx.personas.erin
    assert event.detail["export"] == "population"
    assert event.detail["format"] == fmt
    assert event.detail["as_of"] == "2023-09-28T00:00:00+04:00"
    assert event.detail["rows"] == 2
    assert event.detail["suppressed_cells"] > 0


def test_the_operations_are_documented(influx: World) -> None:
    document = Client().get("/api/openapi.json").json()
    situation = document["paths"][SITUATION]["get"]
    assert {"200", "404", "422"} <= set(situation["responses"])
    export = document["paths"][f"{EXPORTS}/{{name}}"]["get"]
    content = export["responses"]["200"]["content"]
    assert "text/csv; charset=utf-8" in content
    assert {p["name"] for p in export["parameters"]} == {"name", "format", "as_of"}
