"""Helpers for the JSON API tests: authenticated JSON requests and row counts to prove that a
refused request wrote nothing."""

import json
from typing import Any

from django.test import Client

from haven.core.actions import create_api_token
from haven.core.models import AuditEvent, User
from haven.registry.models import CrossingCount, Household, IdentityDocument, Person


def token_for(user: User) -> str:
    _, raw = create_api_token(user=user, name="test device", acting_user=None)
    return raw


class ApiClient:
    """A django.test.Client that sends a device token with every request."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token_for(user)}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params, headers=self.headers)

    def post(self, path: str, data: Any) -> Any:
        body = data if isinstance(data, (str, bytes)) else json.dumps(data)
        return self.client.post(path, body, content_type="application/json", headers=self.headers)


def row_counts() -> dict[str, int]:
    return {
        "households": Household.objects.count(),
        "persons": Person.objects.count(),
        "documents": IdentityDocument.objects.count(),
        "crossings": CrossingCount.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def fields_of(response: Any) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]
