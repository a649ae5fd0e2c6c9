"""A person's audit trail: every recorded read and write of them or their household.

Only coordinators and administrators may read it, and reading it is itself audited. Anyone else
gets NotFound, exactly as for a person who does not exist.
"""

from dataclasses import dataclass
from uuid import UUID

from django.db.models import QuerySet

from haven.core import audit
from haven.core.errors import NotFound
from haven.core.models import AuditEvent, User
from haven.core.selectors import sees_all_sites
from haven.registry.models import Person
from haven.registry.selectors import persons_for


@dataclass
class AuditTrail:
    person: Person
    events: QuerySet[AuditEvent]


def may_read_audit_trail(user: User) -> bool:
    return sees_all_sites(user)


def person_audit_trail(user: User, person_uuid: UUID) -> AuditTrail:
    """The events about one person and their household, newest first; the read is recorded."""
    if not may_read_audit_trail(user):
        raise NotFound("person", person_uuid)
    person = persons_for(user).select_related("household", "site").filter(uuid=person_uuid).first()
    if person is None:
        raise NotFound("person", person_uuid)
    audit.record(
        user=user,
        action="person.audit_trail",
        object_type="person",
        object_uuid=person.uuid,
        site=person.site,
        detail={"via": "page"},
    )
    events = (
        AuditEvent.objects.filter(object_uuid__in=[person.uuid, person.household.uuid])
        .select_related("user", "acting_site", "record_site")
        .order_by("-at", "-id")
    )
    return AuditTrail(person=person, events=events)
