"""Writing audit rows. Callers are actions (inside their transaction) and audited reads."""

from datetime import datetime
from typing import Any
from uuid import UUID

from django.utils import timezone

from haven.core.models import AuditEvent, Site, User


def audit_row(
    *,
    user: User | None,
    action: str,
    object_type: str,
    object_uuid: UUID | None,
    site_id: int | None,
    detail: dict[str, Any],
    at: datetime,
) -> dict[str, Any]:
    """An audit row as database values, for haven.core.bulk.insert_rows on hot paths."""
    return {
        "at": at,
        "user_id": user.pk if user is not None else None,
        "acting_site_id": user.site_id if user is not None else None,
        "record_site_id": site_id,
        "action": action,
        "object_type": object_type,
        "object_uuid": object_uuid,
        "detail": detail,
    }


def record(
    *,
    user: User | None,
    action: str,
    object_type: str,
    object_uuid: UUID | None,
    site: Site | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Save one audit row now, inside the caller's transaction."""
    row = audit_row(
        user=user,
        action=action,
        object_type=object_type,
        object_uuid=object_uuid,
        site_id=site.pk if site is not None else None,
        detail=detail or {},
        at=at or timezone.now(),
    )
    return AuditEvent.objects.create(**row)
