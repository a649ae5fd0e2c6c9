"""The caseworkers' tracing pages, end to end through Django's test client: record a request, see
who may be them with the model's probability and reasons, mark found, ask, tell, close; notes;
and nothing for anyone who does not trace."""

from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from haven.core.models import AuditEvent
from haven.tracing import actions
from haven.tracing.models import StatusNote, TracingRequest
from tests.check_support import ensure_model, register
from tests.conftest import Personas, sign_in

HASMIK = {
    "given_name": "Հասմիկ",
    "family_name": "Հարությունյան",
    "sex": "F",
    "birth_date": "1980-05-17",
}
FORM = {
    "sought_name": "Асмик Арутюнян",
    "sought_birth_year": "1980",
    "sought_sex": "F",
    "searcher_name": "Ани",
    "searcher_contact": "+374 91 000000",
    "searcher_language": "ru",
    "site": "KOR",
    "consent": "on",
}


@pytest.fixture(autouse=True)
def _model() -> None:
    ensure_model()


def as_user(client: Client, user: Any) -> Client:
    sign_in(client, user)
    return client


def test_a_caseworker_records_a_request_and_sees_who_may_be_them(
    client: Client, personas: Personas
) -> None:
    hasmik = register(personas.bob, "GORIS", [HASMIK]).members.get()
    as_user(client, personas.carol)

    response = client.post("/tracing/new/", FORM)

    request = TracingRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/tracing/{request.uuid}/"
    assert (request.site, request.source, request.created_by) == (
        personas.kor,
        "caseworker",
        personas.carol,
    )
    page = client.get(f"/tracing/{request.uuid}/").content.decode()
    assert hasmik.given_name in page
    assert "same given name" in page  # a reason in words
    assert "We are still looking" in page
    assert AuditEvent.objects.filter(
        action="person.trace", object_uuid=hasmik.uuid, user=personas.carol
    ).exists()
    assert AuditEvent.objects.filter(action="tracing.request.view", user=personas.carol).exists()


def test_found_asked_told_and_closed(client: Client, personas: Personas) -> None:
    hasmik = register(personas.bob, "GORIS", [HASMIK]).members.get()
    as_user(client, personas.carol)
    client.post("/tracing/new/", FORM)
    request = TracingRequest.objects.get()
    url = f"/tracing/{request.uuid}/"

    client.post(f"{url}found/", {"person": str(hasmik.uuid)})
    page = client.get(url).content.decode()
    assert "Ask the person found first" in page
    assert "Goris" not in page.split('id="tell"')[1].split("</p>")[0]

    client.post(f"{url}disclosure/", {"allowed": "no", "person": str(hasmik.uuid)})
    told = client.get(url).content.decode().split('id="tell"')[1].split("</p>")[0]
    assert "message was passed on" in told

    client.post(f"{url}disclosure/", {"allowed": "yes", "person": str(hasmik.uuid)})
    told = client.get(url).content.decode().split('id="tell"')[1].split("</p>")[0]
    assert hasmik.site.name in told

    client.post(f"{url}close/", {"outcome": "reunited"})
    request.refresh_from_db()
    assert request.status == "reunited"
    assert request.closed_at is not None


def test_a_form_without_consent_or_a_usable_name_is_shown_again_and_stores_nothing(
    client: Client, personas: Personas
) -> None:
    as_user(client, personas.carol)
    response = client.post("/tracing/new/", {**FORM, "consent": "", "sought_name": "!!!"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "the searcher must consent" in page or "consent" in page
    assert "field-error" in page
    assert not TracingRequest.objects.exists()


def test_a_public_request_is_matched_when_a_caseworker_first_opens_it(
    client: Client, personas: Personas
) -> None:
    hasmik = register(personas.bob, "GORIS", [HASMIK]).members.get()
    request, _ = actions.open_request(
        data=actions.parse_request(
            {
                "sought_name": "Hasmik Harutyunyan",
                "searcher_name": "Ani",
                "searcher_contact": "ani@example.org",
                "consent": True,
            }
        ),
        acting_user=None,
        source=TracingRequest.Source.PUBLIC,
        site=None,
        match=False,
    )
    assert not request.matches.exists()
    page = as_user(client, personas.carol).get(f"/tracing/{request.uuid}/").content.decode()
    assert hasmik.given_name in page
    assert request.matches.filter(person=hasmik).exists()


@pytest.mark.parametrize("who", ["alice", "erin"])
def test_who_does_not_trace_gets_nothing(client: Client, personas: Personas, who: str) -> None:
    as_user(client, personas.dan)
    client.post("/tracing/new/", FORM)
    request = TracingRequest.objects.get()
    as_user(client, getattr(personas, who))
    for url in ["/tracing/", "/tracing/new/", f"/tracing/{request.uuid}/"]:
        assert client.get(url).status_code == 404
    assert (
        client.post(f"/tracing/{request.uuid}/close/", {"outcome": "withdrawn"}).status_code == 404
    )
    request.refresh_from_db()
    assert request.status == "open"


def test_a_request_at_another_site_is_404_like_one_that_does_not_exist(
    client: Client, personas: Personas
) -> None:
    as_user(client, personas.dan)
    client.post("/tracing/new/", {**FORM, "site": "GORIS"})
    at_goris = TracingRequest.objects.get()
    as_user(client, personas.carol)  # Kornidzor and Vayk
    assert client.get(f"/tracing/{at_goris.uuid}/").status_code == 404
    assert client.get(f"/tracing/{uuid4()}/").status_code == 404
    assert at_goris.sought_name not in client.get("/tracing/").content.decode()


def test_status_notes_on_a_registered_person(client: Client, personas: Personas) -> None:
    person = register(personas.alice, "KOR", [HASMIK]).members.get()
    as_user(client, personas.carol)
    response = client.post(
        f"/tracing/person/{person.uuid}/notes/",
        {"status": "believed_missing", "asserted_by": "her brother", "text": "not seen since"},
    )
    assert response.status_code == 302
    note = StatusNote.objects.get()
    assert (note.person, note.status, note.recorded_by) == (
        person,
        "believed_missing",
        personas.carol,
    )
    page = client.get(f"/tracing/person/{person.uuid}/notes/").content.decode()
    assert "her brother" in page
    # Another site's caseworker, and a registrar, see nothing of it.
    bob_page = as_user(client, personas.bob).get(f"/tracing/person/{person.uuid}/notes/")
    assert bob_page.status_code == 404


def test_the_queue_is_an_audited_read_of_the_requests_it_shows(
    client: Client, personas: Personas
) -> None:
    as_user(client, personas.dan)
    client.post("/tracing/new/", FORM)
    client.post("/tracing/new/", {**FORM, "sought_name": "Арам Арутюнян", "site": "GORIS"})
    at_kor, at_goris = TracingRequest.objects.order_by("site__code").reverse()
    assert (at_kor.site, at_goris.site) == (personas.kor, personas.goris)

    as_user(client, personas.carol)  # Kornidzor and Vayk: only the Kornidzor request
    page = client.get("/tracing/").content.decode()
    assert at_kor.sought_name in page
    assert at_goris.sought_name not in page

    event = AuditEvent.objects.get(action="tracing.request.listed", user=personas.carol)
    assert (event.object_uuid, event.record_site_id) == (at_kor.uuid, personas.kor.pk)
    assert event.detail == {"via": "queue"}
    assert not AuditEvent.objects.filter(
        action="tracing.request.listed", object_uuid=at_goris.uuid
    ).exists()
