"""The desk-time check on the desk page itself, without JavaScript.

With JavaScript, desk.js asks POST /api/identity/check while a member is typed (the browser test
shows it). Without it, the check shows when the server sends the form back: after "Add member"
and after a registration refused for an error. These tests drive the page with Django's client
against the real database.
"""

import re
from html import unescape
from typing import Any

import pytest
from django.test import Client

from haven.core.models import AuditEvent, User
from haven.registry.models import Household, Person
from tests.check_support import ensure_model, register
from tests.conftest import Personas, sign_in

DESK = "/desk/"

HASMIK = {
    "given_name": "Հասմիկ",
    "family_name": "Հարությունյան",
    "patronymic": "Արամի",
    "sex": "F",
    "birth_date": "1980-05-17",
    "phone": "+374 91 123456",
    "documents": [{"kind": "nk_passport", "number": "AK0123456"}],
}
# The same woman as a volunteer at Kornidzor types her, in Russian.
TYPED = {
    "given_name": "Асмик",
    "family_name": "Арутюнян",
    "sex": "F",
    "birth_date": "1980-05-17",
    "relationship": "head",
}


@pytest.fixture
def at_goris(personas: Personas) -> Person:
    ensure_model()
    return register(personas.bob, "GORIS", [HASMIK]).members.get()


def _client(user: User) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def _form(client: Client, members: list[dict[str, str]], action: str) -> dict[str, str]:
    page = client.get(DESK)
    form, spare = page.context["form"], list(page.context["spare_uuids"])
    data = {"household_uuid": form.household_uuid, "origin_settlement": "", "action": action}
    for index, member in enumerate(members):
        data[f"m-{index}-uuid"] = form.rows[0].values["uuid"] if index == 0 else spare.pop(0)
        data.update({f"m-{index}-{name}": value for name, value in member.items()})
    return data


def _panel(html: str, prefix: str) -> str:
    match = re.search(rf'<div class="check" id="check-{prefix}".*?</div>', html, re.S)
    assert match is not None, f"no check panel for {prefix}"
    return re.sub(r"\s+", " ", unescape(match.group(0)))


def test_the_page_carries_what_the_script_needs(personas: Personas) -> None:
    html = _client(personas.alice).get(DESK).content.decode()
    assert 'data-check-url="/api/identity/check"' in html
    assert 'data-time-zone="Asia/Yerevan"' in html
    assert 'data-check-title="Possibly already registered:"' in html
    assert 'data-check-registered="registered %s"' in html
    assert 'id="desk-checks"' not in html  # nothing typed, nothing checked


def test_adding_a_member_shows_who_the_first_may_already_be(
    personas: Personas, at_goris: Person
) -> None:
    client = _client(personas.alice)

    response = client.post(DESK, _form(client, [TYPED], "add_member"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="desk-checks"' in html
    panel = _panel(html, "m-0")
    assert 'role="status" aria-live="polite"' in panel
    assert "Possibly already registered:" in panel
    assert "Member 1" in panel
    assert "Հասմիկ Արամի Հարությունյան" in panel
    assert "F · 1980-05-17" in panel
    assert "Goris hub" in panel
    assert "registered 2023-09-26" in panel
    assert re.search(r'class="probability">(&gt;|>)?\d+%', panel)
    assert "same family name, Cyrillic ↔ Armenian" in panel
    assert "same date of birth" in panel
    # A registrar sees no phone or document of the record, here as in the API.
    assert "91123456" not in panel
    assert "AK0123456" not in panel
    # The new, empty row has nothing to check.
    assert 'id="check-m-1"' not in html
    event = AuditEvent.objects.get(action="person.check")
    assert (event.user, event.object_uuid) == (personas.alice, at_goris.uuid)


def test_a_refused_registration_shows_the_check_beside_the_errors(
    personas: Personas, at_goris: Person
) -> None:
    client = _client(personas.alice)
    second = {"given_name": "Aram", "family_name": "!!", "sex": "M", "birth_date": "1978"}
    second["relationship"] = "spouse"

    response = client.post(DESK, _form(client, [TYPED, second], "register"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "nothing was saved" in html
    assert "Հասմիկ Արամի Հարությունյան" in _panel(html, "m-0")
    assert 'id="check-m-1"' not in html  # a name the registration refuses is not looked up
    assert Household.objects.count() == 1


def test_the_check_is_advice_the_registration_goes_ahead(
    personas: Personas, at_goris: Person
) -> None:
    client = _client(personas.alice)

    response = client.post(DESK, _form(client, [TYPED], "register"))

    assert response.status_code == 302
    assert Person.objects.filter(given_name="Асмик", site=personas.kor).count() == 1
    # Registering checks nobody: the panel shows while the form is being filled in.
    assert not AuditEvent.objects.filter(action="person.check").exists()


@pytest.mark.parametrize(
    "change",
    [
        {"birth_date": "", "estimated_age": ""},  # not enough to look anyone up
        {"birth_date": "1980-02-30"},  # a date the registration refuses
        {"sex": ""},
        {"given_name": "Hasmik", "family_name": "Harutyunyan", "birth_date": "2004-09-02"},
    ],
)
def test_no_panel_without_a_candidate(
    personas: Personas, at_goris: Person, change: dict[str, Any]
) -> None:
    client = _client(personas.alice)

    response = client.post(DESK, _form(client, [{**TYPED, **change}], "add_member"))

    assert response.status_code == 200
    assert 'id="desk-checks"' not in response.content.decode()
    assert not AuditEvent.objects.filter(action="person.check").exists()


def test_a_coordinator_at_the_desk_sees_the_same_panel(
    personas: Personas, at_goris: Person
) -> None:
    client = _client(personas.dan)
    data = _form(client, [TYPED], "add_member")
    data["site"] = "KOR"

    response = client.post(DESK, data)

    panel = _panel(response.content.decode(), "m-0")
    assert "Goris hub" in panel
    assert "Հասմիկ Արամի Հարությունյան" in panel
