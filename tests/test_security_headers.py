"""Every response carries the security headers; forms refuse a POST without the CSRF token; the
session cookie is HttpOnly and SameSite=Lax (Secure in production), its key changes at sign-in and
signing out ends it on the server.

The production profile's own values are read from a fresh interpreter in
tests/test_production_profile.py; here they are applied with pytest-django's `settings`.
"""

import re
from html import unescape
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.base import SessionBase
from django.test import Client
from django.utils.module_loading import import_string
from pytest_django import Settings

from haven.registry.models import Household
from tests.conftest import PASSWORD, Personas, sign_in
from tests.test_desk_pages import MEMBERS, _desk_post

pytestmark = pytest.mark.django_db

STATIC_FILE = "/static/registry/desk.js"


def csp(response: Any) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    policy: dict[str, list[str]] = {}
    for part in response["Content-Security-Policy"].split(";"):
        words = part.split()
        if words:
            policy[words[0]] = words[1:]
    return policy


def _signed_in(personas: Personas) -> Client:
    return sign_in(Client(), personas.alice)


def _responses(personas: Personas) -> dict[str, Any]:
    alice = _signed_in(personas)
    return {
        "a staff page": alice.get("/desk/"),
        "an API response": alice.get("/api/households"),
        "a static file": Client().get(STATIC_FILE),
        "the public form": Client().get("/find/"),
        "the sign-in page": Client().get("/login/"),
        "a page that is not there": alice.get("/no-such-page/"),
    }


def test_every_kind_of_response_carries_every_security_header(personas: Personas) -> None:
    responses = _responses(personas)
    assert responses["a staff page"].status_code == 200
    assert responses["an API response"].status_code == 200
    assert responses["an API response"]["Content-Type"].startswith("application/json")
    assert responses["a static file"].status_code == 200
    assert responses["the public form"].status_code == 200
    assert responses["a page that is not there"].status_code == 404
    for kind, response in responses.items():
        policy = csp(response)
        assert policy["default-src"] == ["'self'"], kind
        assert policy["script-src"] == ["'self'"], kind
        assert policy["object-src"] == ["'none'"], kind
        assert policy["base-uri"] == ["'none'"], kind
        assert policy["frame-ancestors"] == ["'none'"], kind
        assert policy["form-action"] == ["'self'"], kind
        assert policy["img-src"] == ["'self'", "data:"], kind
        assert policy["style-src"][0] == "'self'", kind
        assert "'unsafe-inline'" not in response["Content-Security-Policy"], kind
        assert "'unsafe-eval'" not in response["Content-Security-Policy"], kind

        features = dict(
            item.strip().split("=", 1) for item in response["Permissions-Policy"].split(",")
        )
        for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
            assert features[feature] == "()", (kind, feature)
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", kind
        assert response["Cross-Origin-Resource-Policy"] == "same-origin", kind
        assert response["X-Content-Type-Options"] == "nosniff", kind
        assert response["Referrer-Policy"] == "same-origin", kind
        # Plain HTTP on a single machine: no HSTS (tests/test_production_profile.py has it).
        assert "Strict-Transport-Security" not in response, kind


def _nothing_inline_but_styles(page: Any) -> str:
    """The page's HTML, checked for what the policy would refuse: a style attribute, an inline
    script (data in a JSON <script> is not run) or an event handler attribute."""
    assert page.status_code == 200
    html: str = unescape(page.content.decode())
    path = page.request["PATH_INFO"]
    assert not re.search(r"<[^>]+\sstyle=", html), path
    inline_scripts = re.findall(r"<script(?![^>]*\ssrc=)([^>]*)>", html)
    assert all('type="application/json"' in s for s in inline_scripts), (path, inline_scripts)
    assert not re.search(r"<[^>]+\son[a-z]+=", html), path
    return html


def test_a_staff_pages_inline_style_carries_that_responses_nonce(personas: Personas) -> None:
    alice = _signed_in(personas)
    alice.post("/desk/", _desk_post(alice, MEMBERS))
    person = Household.objects.get().members.first()
    assert person is not None
    pages = [
        alice.get("/desk/"),
        alice.get("/registrations/"),
        alice.get(f"/persons/{person.uuid}/"),
        Client().get("/login/"),
    ]
    nonces = set()
    for page in pages:
        html = _nothing_inline_but_styles(page)
        [nonce] = [s[len("'nonce-") : -1] for s in csp(page)["style-src"] if s.startswith("'nonce")]
        nonces.add(nonce)
        assert re.findall(r"<style([^>]*)>", html) == [f' nonce="{nonce}"'], page.request[
            "PATH_INFO"
        ]
    assert len(nonces) == len(pages)  # a new nonce for every response


def test_the_public_pages_have_no_inline_style_and_no_nonce() -> None:
    """The public form's answers must not differ from one request to the next (what could tell
    whether someone is registered), so its styles are a static file."""
    page = Client().get("/find/")
    html = _nothing_inline_but_styles(page)
    assert "<style" not in html
    assert csp(page)["style-src"] == ["'self'"]
    [stylesheet] = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    css = Client().get(stylesheet)
    assert css.status_code == 200
    assert css["Content-Type"].startswith("text/css")
    assert b".trap {" in b"".join(css.streaming_content)  # type: ignore[attr-defined]


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(
    personas: Personas,
) -> None:
    alice = sign_in(Client(enforce_csrf_checks=True), personas.alice)
    data = _desk_post(alice, MEMBERS)

    refused = alice.post("/desk/", data)
    assert refused.status_code == 403
    assert not Household.objects.exists()

    # The same form with the token the page gave registers the household: only the token lacked.
    page = alice.get("/desk/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    accepted = alice.post("/desk/", {**data, "csrfmiddlewaretoken": token[1]})
    assert accepted.status_code in (200, 302, 303)
    assert Household.objects.count() == 1


def _store() -> type[SessionBase]:
    store: type[SessionBase] = import_string(f"{django_settings.SESSION_ENGINE}.SessionStore")
    return store


def _sign_in_with_the_form(client: Client, username: str) -> Any:
    client.get("/login/")
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()
    return response


def test_the_session_cookie_is_httponly_and_samesite_lax(personas: Personas) -> None:
    client = Client()
    response = _sign_in_with_the_form(client, "alice")
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    # Gone when the browser closes (no Max-Age), and on the server after a shift.
    assert cookie["max-age"] == ""
    assert django_settings.SESSION_COOKIE_AGE == 12 * 3600


def test_in_production_the_session_and_csrf_cookies_are_secure_and_host_only(
    personas: Personas, settings: Settings
) -> None:
    # The values the production profile sets (tests/test_production_profile.py reads them from
    # the profile itself), over HTTPS as the proxy reports it.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_NAME = "__Host-sessionid"
    settings.CSRF_COOKIE_NAME = "__Host-csrftoken"
    client = Client(enforce_csrf_checks=True, secure=True)
    page = client.get("/login/")
    csrf_cookie = page.cookies["__Host-csrftoken"]
    assert csrf_cookie["secure"] is True
    assert csrf_cookie["samesite"] == "Lax"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    response = client.post(
        "/login/",
        {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token[1]},
        headers={"Referer": "https://testserver/login/"},
    )
    assert response.status_code == 302
    cookie = response.cookies["__Host-sessionid"]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["domain"] == ""  # "__Host-" cookies must name no domain


def test_signing_in_gives_a_new_session_key(personas: Personas) -> None:
    # A session key someone planted before sign-in (session fixation) is not the one signed in.
    client = Client()
    planted = _store()()
    planted["seen_the_form"] = True
    planted.save()
    assert planted.session_key is not None
    client.cookies[django_settings.SESSION_COOKIE_NAME] = planted.session_key

    _sign_in_with_the_form(client, "alice")
    signed_in_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert signed_in_key != planted.session_key
    assert not _store()().exists(planted.session_key)
    assert client.get("/desk/").status_code == 200


def test_signing_out_ends_the_session_on_the_server(personas: Personas) -> None:
    client = Client()
    _sign_in_with_the_form(client, "alice")
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert _store()().exists(key)

    response = client.post("/logout/")
    assert response.status_code == 302
    assert not _store()().exists(key)

    # The old cookie, replayed from elsewhere, no longer signs anyone in.
    replay = Client()
    replay.cookies[django_settings.SESSION_COOKIE_NAME] = key
    desk = replay.get("/desk/")
    assert desk.status_code == 302
    assert desk["Location"].startswith("/login/")
