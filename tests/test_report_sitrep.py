"""The situation report and the coordinator's dashboard: figures for a moment, the changes since
the report before, the forecast, who may see them, and the three formats of `haven sitrep`.

The registry is filled through the real actions (crossing counts every hour, households at known
times), and every figure on a page is checked against counts made here independently.
"""

import json
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from haven.core.models import AuditEvent, User
from haven.registry.actions import record_crossing_count, register_household
from haven.registry.models import Person
from haven.registry.schemas import CrossingCountIn, HouseholdIn
from haven.reports.sitrep import build_report
from tests import factories
from tests.conftest import PASSWORD, Personas, verify_session

YEREVAN = factories.YEREVAN
START = datetime(2023, 9, 25, 0, 0, tzinfo=YEREVAN)
# People crossing in each of 36 hours: a rise and a peak, as in a real flow.
HOURLY = [5 * h + 10 for h in range(36)]


@pytest.fixture
def influx(personas: Personas) -> dict[str, Any]:
    for hour, people in enumerate(HOURLY):
        begin = START + timedelta(hours=hour)
        payload = factories.crossing(
            period_start=begin.isoformat(),
            period_end=(begin + timedelta(hours=1)).isoformat(),
            people=people,
        )
        record_crossing_count(data=CrossingCountIn(**payload), acting_user=personas.alice)
    registered = []
    for index in range(12):
        when = START + timedelta(hours=3 * index + 1)
        data = factories.household("KOR", size=2, registered_at=when.isoformat())
        register_household(data=HouseholdIn(**data), acting_user=personas.alice)
        registered.append(when)
    return {"registered": registered}


def _people_by(moment: datetime) -> int:
    return Person.objects.filter(household__registered_at__lte=moment).count()


def _crossed_by(moment: datetime) -> int:
    hours = int((moment - START) / timedelta(hours=1))
    return sum(HOURLY[: max(0, min(hours, len(HOURLY)))])


def test_the_report_gives_the_figures_of_its_moment_and_the_changes(influx: Any) -> None:
    as_of = START + timedelta(hours=24)
    report = build_report(as_of)

    crossed, people = _crossed_by(as_of), _people_by(as_of)
    assert report.situation.crossings == crossed
    assert report.situation.unique_people == people
    assert report.situation.backlog == crossed - people
    earlier = as_of - timedelta(hours=12)
    changes = {c.key: c for c in report.changes}
    assert changes["crossings"].before == _crossed_by(earlier)
    assert changes["crossings"].delta == crossed - _crossed_by(earlier)
    assert changes["unique_people"].delta == people - _people_by(earlier)
    # The sentence a journalist would quote, with the figures in it.
    assert report.headline == (
        f"By 00:00 on 26 September 2023, {crossed:,} people had crossed; {people:,} had been"
        f" registered and about {crossed - people:,} were still waiting to be registered."
    )
    # The curve ends at the headline figure.
    assert report.timeline.moments[-1] == as_of
    assert report.timeline.crossings[-1] == crossed


def test_a_past_report_comes_out_the_same_after_more_arrive(
    personas: Personas, influx: Any
) -> None:
    as_of = START + timedelta(hours=20)
    before = build_report(as_of).as_dict()
    later = START + timedelta(hours=30)
    register_household(
        data=HouseholdIn(**factories.household("KOR", registered_at=later.isoformat())),
        acting_user=personas.alice,
    )

    again = build_report(as_of).as_dict()
    assert again["figures"] == before["figures"]
    assert again["headline"] == before["headline"]


def test_the_forecast_is_drawn_from_the_crossings_up_to_the_moment(influx: Any) -> None:
    report = build_report(START + timedelta(hours=30))

    assert report.forecast is not None
    assert report.forecast.observed == pytest.approx(_crossed_by(START + timedelta(hours=30)))
    low, high = report.forecast.interval_80
    assert low >= report.forecast.observed
    assert high is None or high >= report.forecast.predicted_total >= low
    # Still rising: the reports do not bound the total, and the report says so in words
    # rather than drawing a curve into the future.
    assert not report.forecast.identifiable
    assert report.band == ()
    assert report.forecast_caveat is not None
    assert report.forecast_caveat.startswith("The reports do not yet bound the final total.")


def test_an_expected_total_bounds_the_forecast_and_its_band_is_drawn(
    influx: Any, settings: Any
) -> None:
    settings.HAVEN_EXPECTED_ARRIVALS = 5000
    report = build_report(START + timedelta(hours=30))

    assert report.forecast is not None
    assert report.forecast.identifiable
    assert report.forecast.prior_total == 5000
    assert report.forecast_caveat is None
    assert report.band
    assert all(p.low_80 <= p.median <= p.high_80 for p in report.band)


def test_before_anything_crossed_there_is_no_forecast_and_it_says_why(personas: Personas) -> None:
    report = build_report(START)

    assert report.forecast is None
    assert report.forecast_problem == "No crossings have been counted yet."
    assert (
        report.headline
        == "By 00:00 on 25 September 2023 no arrivals had been counted or registered."
    )


def _login(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return verify_session(client, user)


def test_the_dashboard_shows_the_figures_and_refreshes_itself(
    personas: Personas, influx: Any
) -> None:
    response = _login(personas.dan).get("/reports/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<meta http-equiv="refresh" content="300">' in html
    people = Person.objects.count()
    assert f'data-value="{people}"' in html
    assert html.count("<svg") == 6
    assert AuditEvent.objects.filter(action="reports.dashboard", user=personas.dan).count() == 1


@pytest.mark.parametrize("who", ["alice", "carol", "erin"])
def test_only_coordinators_see_the_situation(personas: Personas, influx: Any, who: str) -> None:
    client = _login(getattr(personas, who))
    assert client.get("/reports/").status_code == 404
    assert client.get("/reports/sitrep/").status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="reports.").exists()


def test_the_sitrep_page_for_a_past_moment_and_its_downloads(
    personas: Personas, influx: Any
) -> None:
    client = _login(personas.admin)
    page = client.get("/reports/sitrep/", {"as_of": "2023-09-25T18:00"})
    assert page.status_code == 200
    as_of = START + timedelta(hours=18)
    assert f'data-value="{_crossed_by(as_of)}"' in page.content.decode()

    data = client.get("/reports/sitrep/", {"as_of": "2023-09-25T18:00", "format": "json"})
    body = json.loads(data.content)
    assert body["figures"]["crossings"] == _crossed_by(as_of)
    assert body["as_of"] == "2023-09-25T18:00:00+04:00"
    assert data["Content-Disposition"] == 'attachment; filename="haven-sitrep-20230925-1800.json"'

    pdf = client.get("/reports/sitrep/", {"as_of": "2023-09-25T18:00", "format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    audited = AuditEvent.objects.filter(action="reports.sitrep", user=personas.admin)
    assert [e.detail["format"] for e in audited.order_by("id")] == ["page", "json", "pdf"]


def test_a_bad_moment_or_format_is_refused_and_nothing_is_audited(
    personas: Personas, influx: Any
) -> None:
    client = _login(personas.dan)
    page = client.get("/reports/sitrep/", {"as_of": "26 September"})
    assert page.status_code == 400
    assert "26 September is not a date and time." in page.content.decode()
    assert client.get("/reports/sitrep/", {"format": "docx"}).status_code == 400
    assert not AuditEvent.objects.filter(action__startswith="reports.").exists()


def test_the_command_writes_json_html_and_pdf(
    personas: Personas, influx: Any, tmp_path: Path
) -> None:
    out = StringIO()
    call_command("sitrep", "--as-of", "2023-09-25T12:00", "--format", "json", stdout=out)
    body = json.loads(out.getvalue())
    assert body["figures"]["crossings"] == _crossed_by(START + timedelta(hours=12))
    assert body["changes"]["crossings"]["before"] == 0

    html = tmp_path / "report.html"
    call_command("sitrep", "--as-of", "2023-09-25T12:00", "--out", str(html), stderr=StringIO())
    assert body["headline"] in html.read_text(encoding="utf-8")

    audited = AuditEvent.objects.filter(action="reports.sitrep", user=None).order_by("id")
    assert [(e.detail["format"], e.detail["via"]) for e in audited] == [
        ("json", "cli"),
        ("html", "cli"),
    ]

    pdf = tmp_path / "report.pdf"
    call_command(
        "sitrep",
        "--as-of",
        "2023-09-25T12:00",
        "--format",
        "pdf",
        "--out",
        str(pdf),
        "--language",
        "ru",
        stderr=StringIO(),
    )
    assert pdf.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "yesterday"], "--as-of: 'yesterday' is not an ISO 8601 date and time"),
        (["--as-of", "2023-09-25T12:00", "--previous", "2023-09-26"], "--previous must come"),
        (["--format", "pdf"], "--format pdf needs --out FILE"),
    ],
)
def test_the_command_names_what_is_wrong(personas: Personas, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("sitrep", *args, stdout=StringIO())


def test_an_empty_registry_has_a_dashboard_that_says_so(personas: Personas) -> None:
    response = _login(personas.dan).get("/reports/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "no arrivals had been counted or registered." in html
    assert "No forecast yet: No crossings have been counted yet." in html
    assert html.count("<svg") == 6
