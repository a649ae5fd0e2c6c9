"""Retention (haven.registry.retention, `haven retention`): households whose case was closed and
closed tracing requests are anonymised once closed longer than HAVEN_RETENTION_DAYS; the rows
hold no names or contacts afterwards, the situation figures do not change, the people are no
longer found by name, records still owed something are kept, a dry run and a second run change
nothing, and every anonymised record has an audit row that names what was removed but not the
values. Everything is registered, closed and traced through the real actions; the clock is set
back (timezone.now) only to close records in the past."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from haven.assistance import reconcile
from haven.assistance.models import Payment, PaymentList
from haven.core.errors import Conflict
from haven.core.models import AuditEvent
from haven.registry import actions, selectors
from haven.registry.models import (
    Household,
    IdentityDocument,
    Person,
    PersonCorrection,
)
from haven.reports import figures
from haven.shelter import actions as shelter_actions
from haven.tracing import actions as tracing_actions
from haven.tracing.models import StatusNote, TraceKey, TraceMatch, TracingRequest
from haven.tracing.search import find_people
from tests.check_support import ensure_model, register
from tests.conftest import Personas, sign_in
from tests.test_assistance_export import make_list
from tests.test_shelter_actions import add as add_shelter

YEREVAN = ZoneInfo("Asia/Yerevan")
PASSPORT = "AN7654321"
PHONE = "+37491555111"
HOUSEHOLD_PHONE = "+37493222333"
HASMIK = {
    "given_name": "Հասմիկ",
    "family_name": "Հարությունյան",
    "patronymic": "Արամի",
    "sex": "F",
    "birth_date": "1980-05-17",
    "phone": PHONE,
    "documents": [{"kind": "passport", "number": PASSPORT}],
    "specific_needs": ["SM-CI"],
    "disability": {"walking": 3},
}
ARAM = {"given_name": "Արամ", "family_name": "Հարությունյան", "sex": "M", "birth_date": "1978"}
GAYANE = {
    "given_name": "Գայանե",
    "family_name": "Մկրտչյան",
    "sex": "F",
    "birth_date": "1991-02-03",
}
NAMES = ("Հասմիկ", "Հարությունյան", "Արամի", "Արամ", PASSPORT, PHONE, HOUSEHOLD_PHONE)


@pytest.fixture(autouse=True)
def _model() -> None:
    ensure_model()


@contextmanager
def clock_at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> Iterator[None]:
    """The actions' clock set to `moment`, to close a record in the past."""
    with monkeypatch.context() as patched:
        patched.setattr(timezone, "now", lambda: moment)
        yield


def days_ago(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)


def closed_household(
    personas: Personas,
    monkeypatch: pytest.MonkeyPatch,
    *,
    days: int,
    members: list[dict[str, Any]] | None = None,
    **household: Any,
) -> Household:
    registered = register(
        personas.alice, "KOR", members or [HASMIK, ARAM], phone=HOUSEHOLD_PHONE, **household
    )
    with clock_at(monkeypatch, days_ago(days)):
        return actions.close_household(
            household=registered, reason="departed", acting_user=personas.dan
        )


def run(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("retention", "--json", *args, stdout=out)
    return json.loads(out.getvalue())  # type: ignore[no-any-return]  # the command's JSON object


def person_rows(household: Household) -> list[Any]:
    return list(Person.objects.filter(household=household).order_by("pk").values())


def state() -> list[Any]:
    """Everything retention may change."""
    return [
        list(Person.objects.order_by("pk").values()),
        list(Household.objects.order_by("pk").values()),
        list(TracingRequest.objects.order_by("pk").values()),
        list(IdentityDocument.objects.order_by("pk").values()),
        list(PersonCorrection.objects.order_by("pk").values()),
        list(StatusNote.objects.order_by("pk").values()),
        list(TraceMatch.objects.order_by("pk").values_list("pk", flat=True)),
        list(TraceKey.objects.order_by("pk").values_list("pk", flat=True)),
        list(AuditEvent.objects.order_by("pk").values("pk", "detail")),
    ]


def raw_text(table: str, pk: int) -> str:
    """A row as the database holds it, every column as text."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608 - a model's table
        return " ".join(str(value) for value in cursor.fetchone())


# --- what is anonymised and what is not --------------------------------------------------------


def test_a_household_closed_beyond_the_period_is_anonymised_in_the_database(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = closed_household(personas, monkeypatch, days=800)
    hasmik = Person.objects.get(household=old, given_name="Հասմիկ")
    actions.correct_person(
        person=Person.objects.select_related("household", "site").get(pk=hasmik.pk),
        field="family_name",
        value="Арутюнян",
        reason="spelt as in her Russian passport",
        acting_user=personas.dan,
    )
    report = run()

    assert report["anonymised"] == {"households": 1, "persons": 2, "tracing_requests": 0}
    assert report["period_days"] == 730
    assert report["removed"]["persons"]["names"] == 2
    assert report["removed"]["persons"]["documents"] == 1
    assert report["removed"]["persons"]["phone"] == 1
    assert report["removed"]["persons"]["date_of_birth"] == 1  # Aram's is known to the year only
    assert report["removed"]["persons"]["disability_answers"] == 1
    assert report["removed"]["persons"]["corrections"] == 1
    assert report["removed"]["households"] == {"phone": 1, "registration_digest": 1}
    for row in person_rows(old):
        for name in ("given_name", "family_name", "patronymic", "name_search", "phone"):
            assert row[name] == ""
        for key in ("given_key", "family_key", "patronymic_key"):
            assert row[key] == ""
        assert row["birth_month"] is None
        assert row["birth_day"] is None
        assert row["wg_walking"] is None
        assert row["anonymised_at"] is not None
        text = raw_text(Person._meta.db_table, row["id"])
        assert not any(value in text for value in (*NAMES, "Арутюнян"))
    kept = Person.objects.get(pk=hasmik.pk)
    assert (kept.sex, kept.birth_year, kept.specific_needs) == ("F", 1980, ["SM-CI"])
    assert kept.identity == hasmik.identity
    assert kept.site_id == hasmik.site_id
    assert not IdentityDocument.objects.filter(person__household=old).exists()
    correction = PersonCorrection.objects.get(person=hasmik)
    assert (correction.old_value, correction.new_value, correction.reason) == (None, None, "")
    assert correction.field == "family_name"
    old.refresh_from_db()
    assert old.phone == ""
    assert old.payload_digest == ""
    assert old.anonymised_at is not None
    assert old.origin_settlement == "Ստեփանակերտ"
    assert old.member_count == 2
    assert HOUSEHOLD_PHONE not in raw_text(Household._meta.db_table, old.pk)


def test_records_closed_within_the_period_or_open_are_untouched(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    recent = closed_household(personas, monkeypatch, days=700)
    still_open = register(personas.alice, "KOR", [GAYANE], phone=HOUSEHOLD_PHONE)
    before = (person_rows(recent), person_rows(still_open))
    report = run()
    assert report["anonymised"] == {"households": 0, "persons": 0, "tracing_requests": 0}
    assert (person_rows(recent), person_rows(still_open)) == before
    recent.refresh_from_db()
    assert recent.phone == HOUSEHOLD_PHONE
    assert recent.anonymised_at is None


def test_the_period_comes_from_the_setting_and_zero_is_never(
    personas: Personas, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    household = closed_household(personas, monkeypatch, days=40)
    settings.HAVEN_RETENTION_DAYS = 0
    assert run()["anonymised"]["households"] == 0
    settings.HAVEN_RETENTION_DAYS = 30
    report = run()
    assert report["period_days"] == 30
    assert report["anonymised"]["households"] == 1
    household.refresh_from_db()
    assert household.anonymised_at is not None


def test_a_negative_period_is_refused_when_the_settings_are_read(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env.update(HAVEN_VAR_DIR=str(tmp_path / "var"), HAVEN_RETENTION_DAYS="-5")
    result = subprocess.run(
        [sys.executable, "-c", "import haven.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "HAVEN_RETENTION_DAYS must be a number of days" in result.stderr
    assert "-5" in result.stderr


# --- open obligations --------------------------------------------------------------------------


def test_a_household_in_an_open_shelter_stay_is_kept(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked in, then its case closed (it left without being checked out): kept until the
    stay is closed too. (A closed case cannot be checked in: haven.shelter.actions.check_in.)"""
    household = register(personas.alice, "KOR", [HASMIK, ARAM], phone=HOUSEHOLD_PHONE)
    shelter = add_shelter(personas)
    shelter_actions.check_in(household=household, shelter=shelter, acting_user=personas.dan)
    with clock_at(monkeypatch, days_ago(800)):
        household = actions.close_household(
            household=household, reason="departed", acting_user=personas.dan
        )
    before = person_rows(household)
    report = run()
    assert report["anonymised"]["households"] == 0
    assert report["kept_open_obligation"] == {
        "households": 1,
        "persons": 2,
        "tracing_requests": 0,
    }
    assert report["kept_reasons"] == {"open_shelter_stay": 1}
    assert person_rows(household) == before

    shelter_actions.check_out(household=household, acting_user=personas.dan)
    assert run()["anonymised"]["households"] == 1


def test_a_household_with_a_payment_not_yet_reconciled_is_kept(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment_list = make_list(personas, households=1)
    household = Payment.objects.select_related("person__household").first().person.household  # type: ignore[union-attr]  # the list has payments
    with clock_at(monkeypatch, days_ago(800)):
        actions.close_household(household=household, reason="resettled", acting_user=personas.dan)
    before = person_rows(household)
    report = run()
    assert report["kept_reasons"] == {"unreconciled_payment": 1}
    assert person_rows(household) == before

    rows = ["reference,amount,status,reason"] + [
        f"{p.reference},{p.amount},paid," for p in Payment.objects.filter(payment_list=payment_list)
    ]
    reconcile.reconcile(
        payment_list=payment_list,
        data=("\r\n".join(rows) + "\r\n").encode(),
        filename="bank.csv",
        encoding=None,
        acting_user=personas.dan,
    )
    paid_before = list(Payment.objects.order_by("pk").values("amount", "status", "person_id"))
    assert run()["anonymised"]["households"] == 1
    # The programme's accounts stay as they were: amounts, status, to whom.
    assert list(Payment.objects.order_by("pk").values("amount", "status", "person_id")) == (
        paid_before
    )
    assert PaymentList.objects.get(pk=payment_list.pk).status == PaymentList.Status.RECONCILED


def open_request(personas: Personas, **data: Any) -> TracingRequest:
    payload = {
        "sought_name": "Асмик Арутюнян",
        "sought_birth_year": 1980,
        "sought_sex": "F",
        "sought_relatives": ["Арам"],
        "distinguishing": "a scar on her left hand",
        "searcher_name": "Ани Арутюнян",
        "searcher_contact": "+374 91 000000",
        "consent": True,
        **data,
    }
    request, _ = tracing_actions.open_request(
        data=tracing_actions.parse_request(payload),
        acting_user=personas.carol,
        source=TracingRequest.Source.CASEWORKER,
        site=personas.kor,
    )
    return request


def test_a_household_named_by_an_open_tracing_request_is_kept(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    household = closed_household(personas, monkeypatch, days=800)
    request = open_request(personas)
    assert TraceMatch.objects.filter(request=request, person__household=household).exists()
    report = run()
    assert report["kept_reasons"] == {"open_tracing_request": 1}
    assert report["anonymised"] == {"households": 0, "persons": 0, "tracing_requests": 0}

    tracing_actions.close_request(request=request, outcome="withdrawn", user=personas.carol)
    report = run()
    # The request was closed today: it stays whole; the household no longer waits for it.
    assert report["anonymised"] == {"households": 1, "persons": 2, "tracing_requests": 0}
    assert not TraceMatch.objects.filter(person__household=household).exists()
    assert TracingRequest.objects.get(pk=request.pk).sought_name == "Асмик Арутюнян"


# --- tracing requests --------------------------------------------------------------------------


def test_a_tracing_request_closed_beyond_the_period_is_anonymised(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(personas.bob, "GORIS", [HASMIK, ARAM])
    old = open_request(personas)
    tracing_actions.add_status_note(
        status="believed_alive",
        asserted_by="Ани Арутюнян",
        asserted_at=None,
        text="seen in Goris by her cousin",
        user=personas.carol,
        request=old,
    )
    with clock_at(monkeypatch, days_ago(800)):
        tracing_actions.close_request(request=old, outcome="withdrawn", user=personas.carol)
    recent = open_request(personas, sought_name="Արամ Հարությունյան", sought_sex="M")
    tracing_actions.close_request(request=recent, outcome="withdrawn", user=personas.carol)
    still_open = open_request(personas, sought_name="Գայանե Մկրտչյան")
    untouched = {
        r.pk: TracingRequest.objects.filter(pk=r.pk).values().get() for r in (recent, still_open)
    }
    assert TraceMatch.objects.filter(request=old).exists()

    report = run()
    assert report["anonymised"] == {"households": 0, "persons": 0, "tracing_requests": 1}
    assert report["removed"]["tracing_requests"] == {
        "matches": 1,
        "name_keys": 1,
        "searcher": 1,
        "sought_person": 1,
        "status_notes": 1,
    }
    row = TracingRequest.objects.filter(pk=old.pk).values().get()
    for name in (
        "sought_name",
        "sought_relatives",
        "distinguishing",
        "searcher_name",
        "searcher_contact",
    ):
        assert row[name] == ""
    assert row["anonymised_at"] is not None
    assert (row["status"], row["sought_sex"], row["sought_birth_year"]) == ("withdrawn", "F", 1980)
    text = raw_text(TracingRequest._meta.db_table, old.pk)
    assert "Асмик" not in text
    assert "+374 91 000000" not in text
    assert "scar" not in text
    assert not TraceMatch.objects.filter(request=old).exists()
    assert not TraceKey.objects.filter(request=old).exists()
    note = StatusNote.objects.get(request=old)
    assert (note.text, note.asserted_by, note.status) == ("", "", "believed_alive")
    for pk, values in untouched.items():
        assert TracingRequest.objects.filter(pk=pk).values().get() == values


# --- dry run, idempotence, bad input -----------------------------------------------------------


def test_a_dry_run_reports_the_same_and_changes_nothing(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed_household(personas, monkeypatch, days=800)
    closed_household(personas, monkeypatch, days=10)
    request = open_request(personas, sought_name="Գայանե Մկրտչյան")
    with clock_at(monkeypatch, days_ago(1000)):
        tracing_actions.close_request(request=request, outcome="withdrawn", user=personas.carol)
    before = state()
    dry = run("--dry-run")
    assert state() == before
    assert dry["dry_run"] is True
    real = run()
    assert real["dry_run"] is False
    assert {k: v for k, v in dry.items() if k not in {"dry_run", "as_of", "closed_before"}} == {
        k: v for k, v in real.items() if k not in {"dry_run", "as_of", "closed_before"}
    }
    assert real["anonymised"] == {"households": 1, "persons": 2, "tracing_requests": 1}


def test_a_second_run_removes_nothing(personas: Personas, monkeypatch: pytest.MonkeyPatch) -> None:
    closed_household(personas, monkeypatch, days=800)
    first = run()
    assert first["anonymised"]["persons"] == 2
    after_first = state()
    second = run()
    assert second["anonymised"] == {"households": 0, "persons": 0, "tracing_requests": 0}
    assert second["removed"] == {}
    assert state() == after_first


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2024-13-45", "is not a date or a moment"),
        ("yesterday", "is not a date or a moment"),
        ("2024-02-30T10:00", "is not a date or a moment"),
        ("2999-01-01", "is in the future"),
    ],
)
def test_a_bad_as_of_is_refused_and_changes_nothing(
    personas: Personas, monkeypatch: pytest.MonkeyPatch, as_of: str, message: str
) -> None:
    closed_household(personas, monkeypatch, days=800)
    before = state()
    with pytest.raises(CommandError, match=message):
        call_command("retention", "--as-of", as_of, stdout=StringIO())
    assert state() == before


def test_as_of_counts_the_period_back_from_that_moment(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed_household(personas, monkeypatch, days=800)
    earlier = (timezone.now() - timedelta(days=100)).astimezone(YEREVAN).date().isoformat()
    report = run("--as-of", earlier)
    # 800 days ago is 700 days before that date: within the period.
    assert report["anonymised"]["households"] == 0
    assert report["as_of"].startswith(earlier)
    future = (timezone.now() + timedelta(days=100)).astimezone(YEREVAN).isoformat()
    later = closed_household(personas, monkeypatch, days=700, members=[GAYANE])
    report = run("--dry-run", "--as-of", future)
    assert report["anonymised"]["households"] == 2
    assert Household.objects.get(pk=later.pk).anonymised_at is None


def test_the_text_report_names_the_period_and_the_counts(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed_household(personas, monkeypatch, days=800)
    out = StringIO()
    call_command("retention", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Retention period: 730 days" in text
    assert "Dry run: nothing was changed" in text
    assert "persons" in text
    assert "names 2" in text
    assert "open shelter stay" in text


# --- audit -------------------------------------------------------------------------------------


def test_each_record_gets_an_audit_row_without_the_removed_values(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    household = closed_household(personas, monkeypatch, days=800)
    # A registrar's search typed her name: the audit row of that read copied it.
    found = selectors.search_persons(personas.alice, "Հասմիկ")
    selectors.audit_listed(
        personas.alice,
        "person.list",
        [(p.uuid, p.site_id) for p in found],
        via="search",
        query="Հասմիկ",
    )
    call_command("retention", "--as-user", "dan", stdout=StringIO())
    members = list(Person.objects.filter(household=household))
    events = AuditEvent.objects.filter(action="retention.anonymise")
    assert {(e.object_type, e.object_uuid) for e in events} == {
        ("household", household.uuid),
        *(("person", p.uuid) for p in members),
    }
    assert all(e.user == personas.dan for e in events)
    hasmik = next(p for p in members if p.birth_year == 1980)
    event = events.get(object_uuid=hasmik.uuid)
    assert set(event.detail["removed"]) >= {"names", "phone", "documents", "audit_copies"}
    run_row = AuditEvent.objects.get(action="retention.run")
    assert run_row.detail["anonymised"]["persons"] == 2
    everything = json.dumps(
        list(AuditEvent.objects.values_list("detail", flat=True)), ensure_ascii=False
    )
    assert not any(value in everything for value in NAMES)
    search_row = AuditEvent.objects.get(action="person.list", object_uuid=hasmik.uuid)
    assert search_row.detail == {"via": "search", "query": "[removed]"}
    assert search_row.user == personas.alice


# --- what reads the records --------------------------------------------------------------------


def test_the_situation_figures_do_not_change(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed_household(personas, monkeypatch, days=800)
    closed_household(personas, monkeypatch, days=900, members=[GAYANE, ARAM])
    register(personas.bob, "GORIS", [HASMIK])  # her again, at Goris, still served
    later = (datetime(2023, 10, 2, 9, 0, tzinfo=YEREVAN)).isoformat()
    register(personas.bob, "GORIS", [ARAM], registered_at=later)
    moments = [
        datetime(2023, 9, 26, 12, 0, tzinfo=YEREVAN),  # a past moment: counted from the records
        datetime(2023, 12, 31, 12, 0, tzinfo=YEREVAN),  # after the last: from the tally
        timezone.now(),
    ]
    figures.clear_cache()
    before = [figures.situation_at(moment) for moment in moments]
    assert before[0].registrations == 5
    assert before[1].registrations == 6
    assert run()["anonymised"]["persons"] == 4
    figures.clear_cache()
    after = [figures.situation_at(moment) for moment in moments]
    assert after == before


def test_an_anonymised_age_counts_from_the_year_of_birth(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one figure that can move: someone who turns 25 on 20 November 2023 is 20–24 on
    30 September with their birthday, 25–29 counted from the year alone; the same at the year's
    end, and every count stays."""
    born = {"given_name": "Նարե", "family_name": "Սարգսյան", "sex": "F", "birth_date": "1998-11-20"}
    closed_household(personas, monkeypatch, days=800, members=[born])
    autumn = datetime(2023, 9, 30, 12, 0, tzinfo=YEREVAN)
    year_end = datetime(2023, 12, 31, 12, 0, tzinfo=YEREVAN)
    figures.clear_cache()
    before = figures.situation_at(autumn), figures.situation_at(year_end)
    run()
    figures.clear_cache()
    after = figures.situation_at(autumn), figures.situation_at(year_end)
    assert after[1] == before[1]
    bands = [{row.band: row.female for row in s.pyramid if row.female} for s in (*before, *after)]
    assert bands == [{"20-24": 1}, {"25-29": 1}, {"25-29": 1}, {"25-29": 1}]
    assert after[0].registrations == before[0].registrations == 1
    assert after[0].population != before[0].population


def test_an_anonymised_person_is_no_longer_found_by_name(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    household = closed_household(personas, monkeypatch, days=800)
    hasmik = Person.objects.get(household=household, birth_year=1980)

    def found() -> tuple[bool, bool, bool, bool]:
        desk = selectors.search_persons(personas.dan, "Harutyunyan")
        by_document = selectors.search_persons(personas.dan, PASSPORT)
        traced = find_people(name="Асмик Арутюнян", birth_year=1980, sex="F", origin="")
        by_uuid = selectors.search_persons(personas.dan, str(hasmik.uuid))
        return (
            desk.filter(pk=hasmik.pk).exists(),
            by_document.filter(pk=hasmik.pk).exists(),
            any(c.person.pk == hasmik.pk for c in traced),
            by_uuid.filter(pk=hasmik.pk).exists(),
        )

    assert found() == (True, True, True, True)
    run()
    # Only its uuid still finds the record: with nothing that says who it was.
    assert found() == (False, False, False, True)


# --- closing a case, and the pages -------------------------------------------------------------


def test_closing_and_reopening_a_case_is_audited_and_refused_twice(personas: Personas) -> None:
    household = register(personas.alice, "KOR", [HASMIK])
    closed = actions.close_household(
        household=household, reason="integrated", acting_user=personas.dan
    )
    assert closed.closed_reason == "integrated"
    assert closed.closed_at is not None
    with pytest.raises(Conflict):
        actions.close_household(household=household, reason="departed", acting_user=personas.dan)
    actions.reopen_household(household=household, acting_user=personas.dan)
    household.refresh_from_db()
    assert household.closed_at is None
    assert household.closed_reason == ""
    assert list(
        AuditEvent.objects.filter(
            object_uuid=household.uuid, action__in=["household.close", "household.reopen"]
        )
        .order_by("pk")
        .values_list("action", "detail")
    ) == [
        ("household.close", {"reason": "integrated"}),
        ("household.reopen", {"was": "integrated"}),
    ]


def test_an_anonymised_household_cannot_be_reopened_or_corrected(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    household = closed_household(personas, monkeypatch, days=800)
    run()
    with pytest.raises(Conflict):
        actions.reopen_household(household=household, acting_user=personas.dan)
    person = Person.objects.select_related("household", "site").filter(household=household)[0]
    with pytest.raises(Conflict):
        actions.correct_person(
            person=person,
            field="given_name",
            value="Հասմիկ",
            reason="restore",
            acting_user=personas.dan,
        )


def test_a_correction_racing_retention_cannot_write_the_names_back(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    household = closed_household(personas, monkeypatch, days=800)
    # A caseworker's page read the record before retention ran: the copy still has her names.
    stale = Person.objects.select_related("household", "site").get(
        household=household, given_name="Հասմիկ"
    )
    run()
    assert stale.anonymised_at is None

    with pytest.raises(Conflict, match="anonymised"):
        actions.correct_person(
            person=stale,
            field="birth_date",
            value="1980-05-18",
            reason="typed wrong",
            acting_user=personas.dan,
        )

    row = Person.objects.get(pk=stale.pk)
    assert row.anonymised_at is not None
    assert (row.given_name, row.family_name, row.patronymic, row.name_search) == ("", "", "", "")
    assert (row.birth_month, row.birth_day) == (None, None)
    assert not PersonCorrection.objects.filter(person=row).exists()
    assert not AuditEvent.objects.filter(action="person.correct").exists()


def test_a_decision_note_goes_with_the_other_record_of_the_pair(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    from haven.identity.actions import decide_pairs
    from haven.identity.models import CandidatePair, Decision
    from tests.test_identity_decisions import Registry

    registry = Registry(personas)
    pending = CandidatePair.Status.PENDING
    both_open = registry.pair("ab", pending)
    one_closed = registry.pair("de", pending)
    d, e = registry.people["d"], registry.people["e"]
    assert (one_closed.person_a_id, one_closed.person_b_id) == (d.pk, e.pk)
    decide_pairs(
        pair_ids=[both_open.pk], verdict="same", note="same mother", acting_user=personas.dan
    )
    decide_pairs(
        pair_ids=[one_closed.pk],
        verdict="different",
        note="Aram Petrosyan of Goris is not Арам Петросян",
        acting_user=personas.dan,
    )
    # Only e, the pair's second record, is closed and anonymised: the decision's audit row is
    # about d and names e as the other.
    with clock_at(monkeypatch, days_ago(800)):
        actions.close_household(household=e.household, reason="departed", acting_user=personas.dan)

    report = run()

    assert report["anonymised"]["persons"] == 1
    assert Person.objects.get(pk=d.pk).anonymised_at is None
    assert Decision.objects.get(pair=one_closed).note == ""
    row = AuditEvent.objects.get(action="identity.decide_different")
    assert (row.object_uuid, row.detail["other"]) == (d.uuid, str(e.uuid))
    assert row.detail["note"] == "[removed]"
    assert row.detail["pair"] == one_closed.pk  # who decided what on which pair stays
    assert "Петросян" not in raw_text(AuditEvent._meta.db_table, row.pk)
    removed = AuditEvent.objects.get(action="retention.anonymise", object_uuid=e.uuid)
    assert {"review_notes", "audit_copies"} <= set(removed.detail["removed"])
    # A decision on two open records keeps its note, in the pair and in the audit trail.
    assert Decision.objects.get(pair=both_open).note == "same mother"
    kept = AuditEvent.objects.get(action="identity.decide_same")
    assert kept.detail["note"] == "same mother"


def test_a_coordinator_closes_a_case_from_the_person_page(
    personas: Personas, client: Client
) -> None:
    household = register(personas.alice, "KOR", [HASMIK, ARAM])
    person = Person.objects.filter(household=household).first()
    assert person is not None
    url = reverse("household_case", kwargs={"person_uuid": person.uuid})
    page = reverse("person", kwargs={"person_uuid": person.uuid})

    sign_in(client, personas.carol)  # a caseworker sees the person but may not close
    assert 'id="id_closed_reason"' not in client.get(page).content.decode()
    assert client.post(url, {"action": "close", "reason": "departed"}).status_code == 404
    sign_in(client, personas.bob)  # a registrar of another site does not see the household
    assert client.post(url, {"action": "close", "reason": "departed"}).status_code == 404
    household.refresh_from_db()
    assert household.closed_at is None

    sign_in(client, personas.dan)
    assert 'id="id_closed_reason"' in client.get(page).content.decode()
    assert client.post(url, {"action": "close", "reason": ""}).status_code == 302
    household.refresh_from_db()
    assert household.closed_at is None
    response = client.post(url, {"action": "close", "reason": "resettled"}, follow=True)
    household.refresh_from_db()
    assert household.closed_reason == "resettled"
    assert "closed on" in response.content.decode()
    client.post(url, {"action": "reopen"})
    household.refresh_from_db()
    assert household.closed_at is None


def test_the_person_page_of_an_anonymised_person_says_when(
    personas: Personas, monkeypatch: pytest.MonkeyPatch, client: Client
) -> None:
    household = closed_household(personas, monkeypatch, days=800)
    run()
    person = Person.objects.filter(household=household).first()
    assert person is not None
    assert person.anonymised_at is not None
    sign_in(client, personas.dan)
    response = client.get(reverse("person", kwargs={"person_uuid": person.uuid}))
    assert response.status_code == 200
    html = response.content.decode()
    day = timezone.localtime(person.anonymised_at).date().isoformat()
    assert f"anonymised on {day}" in html
    assert 'id="anonymised"' in html
    assert "Correct a field" not in html
    assert not any(value in html for value in NAMES)
    registrations = client.get(reverse("registrations"), {"q": str(person.uuid)})
    assert registrations.status_code == 200
    assert f"anonymised on {day}" in registrations.content.decode()


def test_a_case_is_closed_and_reopened_from_the_command_line(personas: Personas) -> None:
    household = register(personas.alice, "KOR", [HASMIK])
    out = StringIO()
    call_command(
        "household",
        "close",
        str(household.uuid),
        "--reason",
        "deceased",
        "--as-user",
        "dan",
        stdout=out,
    )
    assert out.getvalue().startswith(f"closed {household.uuid} (deceased)")
    household.refresh_from_db()
    assert household.closed_reason == "deceased"
    event = AuditEvent.objects.get(action="household.close", object_uuid=household.uuid)
    assert event.user == personas.dan
    with pytest.raises(CommandError, match="already closed"):
        call_command("household", "close", str(household.uuid), "--reason", "other")
    with pytest.raises(CommandError, match="may not close"):
        call_command("household", "reopen", str(household.uuid), "--as-user", "carol")
    with pytest.raises(CommandError, match="no household"):
        call_command("household", "reopen", "5f0c1f7e-0000-4000-8000-000000000000")
    call_command("household", "reopen", str(household.uuid), stdout=StringIO())
    household.refresh_from_db()
    assert household.closed_at is None
