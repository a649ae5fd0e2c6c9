"""Reads for tracing: which requests a user handles, each read of a request audited."""

from uuid import UUID

from django.db.models import Count, F, Q, QuerySet

from haven.core import audit
from haven.core.errors import NotFound
from haven.core.models import User
from haven.core.selectors import sees_all_sites, sites_with_personal_data
from haven.tracing.models import TracingRequest
from haven.tracing.search import may_trace


def requests_for(user: User) -> QuerySet[TracingRequest]:
    """The requests a user handles: a caseworker their site's and those no site holds yet (the
    public form's and imports'); coordinators and administrators every one; others none."""
    if not may_trace(user):
        return TracingRequest.objects.none()
    if sees_all_sites(user):
        return TracingRequest.objects.all()
    return TracingRequest.objects.filter(
        Q(site__isnull=True) | Q(site__in=sites_with_personal_data(user))
    )


def queue_for(user: User) -> QuerySet[TracingRequest]:
    """Open requests first, those with unseen new matches at the top."""
    return (
        requests_for(user)
        .annotate(
            new_matches=Count(
                "matches", filter=Q(matches__is_new=True, matches__seen_at__isnull=True)
            )
        )
        .order_by(F("closed_at").asc(nulls_first=True), "-new_matches", "-created_at", "-id")
    )


def request_for(user: User, request_uuid: UUID, *, purpose: str) -> TracingRequest:
    """One request with its searcher's details; the read is audited."""
    request = (
        requests_for(user)
        .select_related("searcher", "found", "site")
        .filter(uuid=request_uuid)
        .first()
    )
    if request is None:
        raise NotFound("tracing request", request_uuid)
    audit.record(
        user=user,
        action="tracing.request.view",
        object_type="tracing_request",
        object_uuid=request.uuid,
        site=request.site,
        detail={"via": purpose},
    )
    return request
