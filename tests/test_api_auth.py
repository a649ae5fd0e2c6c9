"""Who may call the API: device tokens (Bearer hvn_…) and browser sessions with CSRF."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory

from haven.core.actions import create_api_token, revoke_api_token
from haven.core.models import ApiToken, AuditEvent, User
from tests import factories
from tests.api_support import row_counts
from tests.conftest import PASSWORD, Personas, verify_session

HOUSEHOLDS = "/api/households"


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def _post(client: Client, data: object, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        HOUSEHOLDS, json.dumps(data), content_type="application/json", headers=headers or {}
    )


def test_valid_token_authenticates_and_writes_as_its_user(personas: Personas) -> None:
    token, raw = create_api_token(user=personas.alice, name="desk 3", acting_user=None)
    client = Client()

    assert client.get(HOUSEHOLDS, headers=_bearer(raw)).status_code == 200
    payload = factories.household()
    response = client.post(
        HOUSEHOLDS, json.dumps(payload), content_type="application/json", headers=_bearer(raw)
    )

    assert response.status_code == 201
    event = AuditEvent.objects.get(action="household.register", object_uuid=payload["uuid"])
    assert event.user == personas.alice
    assert event.acting_site == personas.kor
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_used_at_is_written_at_most_once_a_minute(personas: Personas) -> None:
    token, raw = create_api_token(user=personas.alice, name="", acting_user=None)
    client = Client()

    client.get(HOUSEHOLDS, headers=_bearer(raw))
    token.refresh_from_db()
    first = token.last_used_at
    client.get(HOUSEHOLDS, headers=_bearer(raw))
    token.refresh_from_db()
    assert token.last_used_at == first

    assert first is not None
    long_ago = first - timedelta(minutes=5)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=long_ago)
    client.get(HOUSEHOLDS, headers=_bearer(raw))
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.last_used_at > long_ago + timedelta(minutes=4)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer hvn_this-is-not-a-token",
        "Bearer not-even-the-prefix",
        "Bearer ",
        "Token hvn_abc",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
    ],
    ids=["missing", "wrong", "no-prefix", "empty", "other-scheme", "basic"],
)
def test_missing_or_wrong_token_is_401_and_writes_nothing(
    personas: Personas, header: str | None
) -> None:
    client = Client()
    headers = {"Authorization": header} if header is not None else {}
    before = row_counts()

    read = client.get(HOUSEHOLDS, headers=headers)
    write = _post(client, factories.household(), headers)

    assert read.status_code == write.status_code == 401
    assert read.json()["detail"]
    assert row_counts() == before


def test_revoked_token_is_401(personas: Personas) -> None:
    token, raw = create_api_token(user=personas.alice, name="", acting_user=None)
    revoke_api_token(token=token, acting_user=personas.admin)
    before = row_counts()

    response = _post(Client(), factories.household(), _bearer(raw))

    assert response.status_code == 401
    assert row_counts() == before


def test_token_of_an_inactive_user_is_401(personas: Personas) -> None:
    _, raw = create_api_token(user=personas.alice, name="", acting_user=None)
    User.objects.filter(pk=personas.alice.pk).update(is_active=False)

    assert Client().get(HOUSEHOLDS, headers=_bearer(raw)).status_code == 401


def test_another_users_token_acts_as_that_user(personas: Personas) -> None:
    _, raw = create_api_token(user=personas.bob, name="", acting_user=None)

    response = _post(Client(), factories.household("KOR"), _bearer(raw))

    assert response.status_code == 404


# --- browser sessions ----------------------------------------------------------------------------


def _logged_in(user: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=PASSWORD)
    return verify_session(client, user)


def _csrf(client: Client) -> dict[str, str]:
    """A CSRF cookie on the client and the matching header, as the desk page's script sends."""
    request = RequestFactory().get("/")
    token = get_token(request)
    client.cookies[settings.CSRF_COOKIE_NAME] = request.META["CSRF_COOKIE"]
    return {"X-CSRFToken": token}


def test_session_reads_without_csrf(personas: Personas) -> None:
    client = _logged_in(personas.alice)
    assert client.get(HOUSEHOLDS).status_code == 200


def test_session_write_without_csrf_is_refused_and_writes_nothing(personas: Personas) -> None:
    client = _logged_in(personas.alice)
    before = row_counts()

    response = _post(client, factories.household())

    assert response.status_code == 403
    assert row_counts() == before


def test_session_write_with_csrf_is_accepted(personas: Personas) -> None:
    client = _logged_in(personas.alice)
    payload = factories.household()

    response = _post(client, payload, _csrf(client))

    assert response.status_code == 201
    event = AuditEvent.objects.get(action="household.register", object_uuid=payload["uuid"])
    assert event.user == personas.alice


def test_session_of_a_deactivated_user_is_401(personas: Personas) -> None:
    client = _logged_in(personas.alice)
    User.objects.filter(pk=personas.alice.pk).update(is_active=False)

    assert client.get(HOUSEHOLDS).status_code == 401


def test_anonymous_browser_is_401_not_a_csrf_error(personas: Personas) -> None:
    client = Client(enforce_csrf_checks=True)

    assert _post(client, factories.household()).status_code == 401


def test_a_wrong_token_is_not_rescued_by_a_session(personas: Personas) -> None:
    client = _logged_in(personas.alice)

    response = client.get(HOUSEHOLDS, headers=_bearer("hvn_wrong"))

    assert response.status_code == 401
