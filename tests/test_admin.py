"""The admin audits every change it makes, and offers no unaudited door to personal data."""

from django.test import Client

from haven.core.actions import create_api_token
from haven.core.models import ApiToken, AuditEvent, Site
from tests.conftest import Personas, sign_in


def test_adding_a_site_in_the_admin_is_audited(personas: Personas, client: Client) -> None:
    sign_in(client, personas.admin)
    response = client.post(
        "/admin/core/site/add/",
        {
            "code": "KAPAN",
            "name": "Kapan hub",
            "kind": "hub",
            "province": "Syunik",
            "time_zone": "Asia/Yerevan",
        },
    )
    assert response.status_code == 302
    site = Site.objects.get(code="KAPAN")
    event = AuditEvent.objects.get(action="site.add")
    assert event.user == personas.admin
    assert event.record_site == site
    assert event.detail["via"] == "admin"


def test_changing_a_users_role_in_the_admin_is_audited(personas: Personas, client: Client) -> None:
    sign_in(client, personas.admin)
    response = client.post(
        f"/admin/core/user/{personas.erin.pk}/change/",
        {
            "username": "erin",
            "role": "coordinator",
            "is_active": "on",
            "date_joined_0": "2023-09-20",
            "date_joined_1": "08:00:00",
            "assigned_sites": [],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    personas.erin.refresh_from_db()
    assert personas.erin.role == "coordinator"
    event = AuditEvent.objects.get(action="user.change")
    assert "role" in event.detail["change"].lower()


def test_tokens_cannot_be_made_in_the_admin_but_can_be_revoked(
    personas: Personas, client: Client
) -> None:
    token, _ = create_api_token(user=personas.alice, name="tablet", acting_user=None)
    sign_in(client, personas.admin)
    assert client.get("/admin/core/apitoken/add/").status_code == 403
    response = client.post(
        "/admin/core/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoke", object_uuid=token.uuid).count() == 1
    assert ApiToken.objects.count() == 1


def test_persons_and_households_are_not_in_the_admin(personas: Personas, client: Client) -> None:
    sign_in(client, personas.admin)
    assert client.get("/admin/registry/person/").status_code == 404
    assert client.get("/admin/registry/household/").status_code == 404


def test_audit_log_is_read_only_in_the_admin(personas: Personas, client: Client) -> None:
    sign_in(client, personas.admin)
    assert client.get("/admin/core/auditevent/add/").status_code == 403
