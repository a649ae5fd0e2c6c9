"""Writing audit rows. Callers are actions (inside their transaction) and audited reads."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from django.utils import timezone

from haven.core.models import AuditEvent, Site, User


def audit_event(
    *,
    user: User | None,
    action: str,
    object_type: str,
    object_uuid: UUID | None,
    site: Site | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """An unsaved audit row; `record` and `record_many` save them."""
    return AuditEvent(
        at=at or timezone.now(),
        user=user if user is not None and user.pk else None,
        acting_site_id=user.site_id if user is not None else None,
        record_site=site,
        action=action,
        object_type=object_type,
        object_uuid=object_uuid,
        detail=detail or {},
    )


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


def record(**kwargs: Any) -> AuditEvent:
    event = audit_event(**kwargs)
    event.save()
    return event


def record_many(events: Iterable[AuditEvent]) -> None:
    AuditEvent.objects.bulk_create(list(events), batch_size=2000)
