"""Tracing requests: recorded with consent, matched against everyone registered with the model's
probability and reasons, re-matched when someone new registers, found, asked, closed; status
notes. People are registered through the real registration action."""

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.utils import timezone

from haven.core.errors import Conflict, InvalidInput
from haven.core.models import AuditEvent
from haven.registry.models import Person
from haven.tracing import actions
from haven.tracing.models import StatusNote, TraceMatch, TracingRequest
from haven.tracing.selectors import queue_for, requests_for
from tests.check_support import ensure_model, register
from tests.conftest import Personas

HASMIK = {
    "given_name": "Հասմիկ",
    "family_name": "Հարությունյան",
    "sex": "F",
    "birth_date": "1980-05-17",
}
ARAM = {"given_name": "Արամ", "family_name": "Հարությունյան", "sex": "M", "birth_date": "1978"}


def request_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sought_name": "Асмик Арутюнян",
        "sought_birth_year": 1980,
        "sought_sex": "F",
        "searcher_name": "Ани Арутюнян",
        "searcher_contact": "+374 91 000000",
        "consent": True,
    }
    data.update(overrides)
    return data


def open_request(personas: Personas, **overrides: Any) -> TracingRequest:
    request, created = actions.open_request(
        data=actions.parse_request(request_data(**overrides)),
        acting_user=personas.carol,
        source=TracingRequest.Source.CASEWORKER,
        site=personas.kor,
    )
    assert created
    return request


@pytest.fixture(autouse=True)
def _model() -> None:
    ensure_model()


def test_a_request_in_russian_finds_her_registered_in_armenian(personas: Personas) -> None:
    household = register(personas.bob, "GORIS", [HASMIK, ARAM])
    hasmik = household.members.get(given_name="Հասմիկ")

    request = open_request(personas)

    best = request.matches.order_by("-match_weight").first()
    assert best is not None
    assert best.person == hasmik
    assert 0.5 < best.probability <= 1.0
    fields = {reason["field"] for reason in best.reasons}
    assert {"given", "family", "birth_date"} <= fields
    assert not best.is_new  # found when the request was made, not by a later registration
    assert request.matched_at is not None
    event = AuditEvent.objects.get(action="tracing.request.open")
    assert event.object_uuid == request.uuid
    assert event.user == personas.carol


OTHERS = [
    {"given_name": given, "family_name": family, "sex": "F", "birth_date": "1990"}
    for given in ("Գոհար", "Անի", "Սոնա", "Լիլիթ", "Մարիամ")
    for family in ("Պետրոսյան", "Սարգսյան", "Գրիգորյան")
]


def test_a_relative_named_in_her_household_is_evidence(personas: Personas) -> None:
    for other in OTHERS:  # a registry in which "Aram" is not every other name
        register(personas.alice, "KOR", [other])
    household = register(personas.bob, "GORIS", [HASMIK, ARAM])
    hasmik = household.members.get(given_name="Հասմիկ")
    plain = open_request(personas)
    with_relative = open_request(personas, sought_relatives=["Арам"])

    before = plain.matches.get(person=hasmik)
    after = with_relative.matches.get(person=hasmik)
    assert after.match_weight > before.match_weight
    assert after.probability >= before.probability
    relative = [r for r in after.reasons if r["field"] == actions.RELATIVE_FIELD]
    assert relative
    assert relative[0]["detail"] == "Арам"
    assert relative[0]["weight"] > 0


def test_a_new_registration_that_matches_an_open_request_is_new_to_its_caseworker(
    personas: Personas, django_capture_on_commit_callbacks: Any
) -> None:
    request = open_request(personas)
    assert not request.matches.exists()

    with django_capture_on_commit_callbacks(execute=True):
        household = register(personas.bob, "GORIS", [HASMIK])
    hasmik = household.members.get()

    match = TraceMatch.objects.get(request=request)
    assert match.person == hasmik
    assert match.is_new
    assert match.seen_at is None
    assert AuditEvent.objects.filter(action="tracing.match.new", object_uuid=request.uuid).exists()
    queued = queue_for(personas.carol).get(pk=request.pk)
    assert queued.new_matches == 1  # type: ignore[attr-defined]  # annotated by queue_for

    actions.mark_seen(request, personas.carol)
    assert queue_for(personas.carol).get(pk=request.pk).new_matches == 0  # type: ignore[attr-defined]


def test_a_registration_of_someone_else_leaves_the_request_alone(
    personas: Personas, django_capture_on_commit_callbacks: Any
) -> None:
    request = open_request(personas)
    with django_capture_on_commit_callbacks(execute=True):
        register(
            personas.bob, "GORIS", [{**ARAM, "given_name": "Վարդան", "family_name": "Պետրոսյան"}]
        )
    assert not request.matches.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"consent": False}, "consent"),
        ({"sought_name": "!!!"}, "sought_name"),
        ({"sought_name": "   "}, "sought_name"),
        ({"sought_sex": "X"}, "sought_sex"),
        ({"sought_birth_year": 1700}, "sought_birth_year"),
        ({"searcher_name": "", "searcher_contact": ""}, "searcher_name"),
        ({"sought_relatives": ["Ar@m"]}, "sought_relatives"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_request_is_refused_with_its_field_and_nothing_is_stored(
    personas: Personas, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        open_request(personas, **overrides)
    assert field in {error.field for error in raised.value.errors}
    assert not TracingRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="tracing.request.open").exists()


def test_an_approximate_age_stands_for_the_year(personas: Personas) -> None:
    request = open_request(personas, sought_birth_year=None, sought_age=43)
    assert request.sought_birth_year == timezone.localdate().year - 43


def test_a_retry_returns_the_stored_request_and_another_under_its_uuid_conflicts(
    personas: Personas,
) -> None:
    key = str(uuid4())
    first = open_request(personas, uuid=key)
    again, created = actions.open_request(
        data=actions.parse_request(request_data(uuid=key)),
        acting_user=personas.carol,
        source=TracingRequest.Source.CASEWORKER,
        site=personas.kor,
    )
    assert again == first
    assert not created
    with pytest.raises(Conflict):
        actions.open_request(
            data=actions.parse_request(request_data(uuid=key, sought_name="Aram Petrosyan")),
            acting_user=personas.carol,
            source=TracingRequest.Source.CASEWORKER,
            site=personas.kor,
        )


def test_found_asked_and_closed_each_audited(personas: Personas) -> None:
    household = register(personas.bob, "GORIS", [HASMIK])
    hasmik = household.members.get()
    request = open_request(personas)
    with pytest.raises(InvalidInput):
        actions.close_request(request=request, outcome="reunited", user=personas.carol)
    with pytest.raises(Conflict):
        actions.record_disclosure(
            request=request, person_uuid=hasmik.uuid, allowed=True, user=personas.carol
        )

    actions.mark_found(request=request, person=hasmik, user=personas.carol)
    actions.record_disclosure(
        request=request, person_uuid=hasmik.uuid, allowed=False, user=personas.carol
    )
    request.refresh_from_db()
    assert (request.status, request.found, request.disclosure) == ("found", hasmik, "refused")

    actions.close_request(request=request, outcome="declined", user=personas.carol)
    with pytest.raises(Conflict):
        actions.close_request(request=request, outcome="reunited", user=personas.carol)
    assert list(
        AuditEvent.objects.filter(object_uuid=request.uuid)
        .order_by("id")
        .values_list("action", flat=True)
    ) == [
        "tracing.request.open",
        "tracing.request.found",
        "tracing.request.disclosure",
        "tracing.request.close",
    ]


def test_only_a_match_can_be_marked_found(personas: Personas) -> None:
    request = open_request(personas)
    other = register(personas.bob, "GORIS", [ARAM]).members.get()
    with pytest.raises(Exception, match="not found"):
        actions.mark_found(request=request, person=other, user=personas.carol)


def test_status_notes_say_who_asserted_what_and_when(personas: Personas) -> None:
    person = register(personas.bob, "GORIS", [HASMIK]).members.get()
    asserted = timezone.now() - timedelta(days=2)
    note = actions.add_status_note(
        person=person,
        status="believed_alive",
        asserted_by="her neighbour, Goris",
        asserted_at=asserted,
        text="seen at the Goris centre",
        user=personas.carol,
    )
    assert (note.status, note.asserted_at, note.recorded_by) == (
        "believed_alive",
        asserted,
        personas.carol,
    )
    assert AuditEvent.objects.filter(action="tracing.note.add", object_uuid=person.uuid).exists()
    with pytest.raises(InvalidInput) as raised:
        actions.add_status_note(
            person=person,
            status="believed_happy",
            asserted_by="",
            asserted_at=timezone.now() + timedelta(days=1),
            text="",
            user=personas.carol,
        )
    assert {e.field for e in raised.value.errors} == {"status", "asserted_by", "asserted_at"}
    assert StatusNote.objects.count() == 1


def test_requests_are_seen_by_their_sites_caseworkers_and_coordinators(
    personas: Personas,
) -> None:
    at_kor = open_request(personas)
    public, _ = actions.open_request(
        data=actions.parse_request(request_data()),
        acting_user=None,
        source=TracingRequest.Source.PUBLIC,
        site=None,
        match=False,
    )
    at_goris = open_request(personas)
    TracingRequest.objects.filter(pk=at_goris.pk).update(site=personas.goris)

    assert set(requests_for(personas.carol)) == {at_kor, public}
    assert set(requests_for(personas.dan)) == {at_kor, public, at_goris}
    assert not requests_for(personas.alice).exists()  # a registrar
    assert not requests_for(personas.erin).exists()  # a partner analyst
    assert public.matched_at is None
    assert not public.matches.exists()


def test_persons_are_untouched_by_matching(personas: Personas) -> None:
    register(personas.bob, "GORIS", [HASMIK, ARAM])
    before = sorted(Person.objects.values_list("pk", "identity", "given_name"))
    open_request(personas, sought_relatives=["Aram"])
    assert sorted(Person.objects.values_list("pk", "identity", "given_name")) == before


def test_an_answer_counts_only_for_the_person_who_was_asked(personas: Personas) -> None:
    """Caseworker A asked X; meanwhile B marked Y found: A's yes is refused, not given to Y."""
    x = register(personas.bob, "GORIS", [HASMIK]).members.get()
    y = register(personas.alice, "KOR", [HASMIK]).members.get()  # a namesake elsewhere
    request = open_request(personas)
    assert {m.person for m in request.matches.all()} >= {x, y}
    actions.mark_found(request=request, person=x, user=personas.carol)
    actions.mark_found(request=request, person=y, user=personas.dan)
    with pytest.raises(Conflict, match="has changed"):
        actions.record_disclosure(
            request=request, person_uuid=x.uuid, allowed=True, user=personas.carol
        )
    request.refresh_from_db()
    assert (request.found, request.disclosure) == (y, "")


def test_a_yes_does_not_outlive_a_request_closed_without_reunion(personas: Personas) -> None:
    hasmik = register(personas.bob, "GORIS", [HASMIK]).members.get()
    request = open_request(personas)
    actions.mark_found(request=request, person=hasmik, user=personas.carol)
    actions.record_disclosure(
        request=request, person_uuid=hasmik.uuid, allowed=True, user=personas.carol
    )
    actions.close_request(request=request, outcome="declined", user=personas.carol)
    request.refresh_from_db()
    assert request.disclosure == "refused"
