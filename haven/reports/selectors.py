"""Reads of the reports, scoped to who asks: coordinators see every figure, partner analysts
aggregates with small cells suppressed, everyone else nothing (NotFound, as for a page that does
not exist). Every read is audited.
"""

import re
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from haven.core import audit
from haven.core.errors import FieldError, InvalidInput, NotFound
from haven.core.models import User
from haven.reports import exports
from haven.reports.figures import situation_at

Role = User.Role
_UNENCODED_PLUS = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")
REPORT_ROLES = frozenset({Role.COORDINATOR, Role.PARTNER_ANALYST})


def may_read_reports(user: User) -> bool:
    return user.is_active and user.role in REPORT_ROLES


def sees_suppressed_only(user: User) -> bool:
    """Partner analysts read aggregates with small cells suppressed, at whole hours."""
    return user.role == Role.PARTNER_ANALYST


def reader(user: User, kind: str, key: object = "") -> User:
    """The user, if they may read reports; NotFound otherwise."""
    if not may_read_reports(user):
        raise NotFound(kind, key)
    return user


def parse_as_of(text: str | None, *, now: datetime | None = None) -> datetime:
    """The moment a report is for: ISO 8601 with a UTC offset, or without one in the deployment's
    time zone; now when not given. A date without a time, an unparseable text and a moment in
    the future are refused (InvalidInput naming as_of)."""
    now = now or timezone.now()
    if text is None or not text.strip():
        return now
    # A "+" left unencoded in a query string arrives as a space: "…T08:00 04:00".
    text = _UNENCODED_PLUS.sub(r"\1+\2", text.strip())

    def refuse(message: str) -> InvalidInput:
        return InvalidInput([FieldError("as_of", message)])

    try:
        day = parse_date(text)
    except ValueError:
        day = None
    if day is not None:
        # A date alone names no moment (the morning's report, the evening's?).
        example = datetime.combine(day, time(8)).isoformat(timespec="minutes")
        raise refuse(f"give a time as well as the date, e.g. {example}")
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise refuse(f"{text[:40]!r} is not an ISO 8601 date and time")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    if moment > now:
        raise refuse("is in the future")
    return moment


def whole_hour(moment: datetime) -> datetime:
    local = moment.astimezone(ZoneInfo(settings.TIME_ZONE))
    return local.replace(minute=0, second=0, microsecond=0)


def situation_for(user: User, as_of: datetime, *, via: str) -> dict[str, Any]:
    """The situation figures this user may read, as JSON types; the read is audited."""
    reader(user, "report", "situation")
    if sees_suppressed_only(user):
        # Whole hours only: figures a few minutes apart would tell one registration's details.
        body = exports.partner_situation(situation_at(whole_hour(as_of)))
    else:
        body = situation_at(as_of).as_dict()
    audit.record(
        user=user,
        action="report.situation",
        object_type="report",
        object_uuid=None,
        detail={"as_of": body["as_of"], "suppressed": sees_suppressed_only(user), "via": via},
    )
    return body


def export_for(user: User, name: str, fmt: str, as_of: datetime, *, via: str) -> exports.Export:
    """One partner export (always suppressed, whoever downloads it); the download is audited."""
    reader(user, "report", name)
    if name not in exports.BUILDERS:
        raise NotFound("export", name)
    if fmt not in exports.CONTENT_TYPES:
        raise InvalidInput([FieldError("format", f"one of {', '.join(exports.FORMATS)}")])
    moment = whole_hour(as_of) if sees_suppressed_only(user) else as_of
    result = exports.export(name, fmt, situation_at(moment))
    audit.record(
        user=user,
        action="report.export",
        object_type="report",
        object_uuid=None,
        detail={
            "export": name,
            "format": fmt,
            "as_of": moment.isoformat(),
            "rows": len(result.table.rows),
            "suppressed_cells": result.table.suppressed_cells,
            "via": via,
        },
    )
    return result
