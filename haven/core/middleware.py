"""When the database fails mid-request: a clear 503 instead of a stack trace.

A database that does not answer (the PostgreSQL server down or restarting, a connection cut) or
that cannot write (SQLite's "database or disk is full", PostgreSQL's disk_full) raises
django.db.OperationalError or InterfaceError out of whatever view was running. Each request's
writes are one transaction, so nothing of it was saved: the answer says so, asks the client to
try again later (`Retry-After`), and is JSON for the API (`{"detail": "…"}`) and a short page
otherwise. The API's own exception handler (haven/api.py) calls `database_unavailable` too,
because django-ninja catches exceptions before Django's middleware sees them.
"""

import logging
import sqlite3
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views import defaults

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
DISK_FULL_SQLSTATE = "53100"  # PostgreSQL's disk_full


def storage_full(exc: BaseException) -> bool:
    """Whether a database error says the disk under the database is full."""
    cause = exc.__cause__ or exc
    if isinstance(cause, sqlite3.Error) and getattr(cause, "sqlite_errorcode", None) == 13:
        return True  # SQLITE_FULL
    if getattr(cause, "sqlstate", None) == DISK_FULL_SQLSTATE:
        return True
    text = str(exc).lower()
    return "database or disk is full" in text or "no space left on device" in text


# SQLite's primary result codes that mean the database cannot be reached or written now (busy,
# locked, out of memory, read-only, I/O error, full, cannot open, locking protocol), as opposed
# to SQLITE_ERROR ("no such table", a syntax error): a bug, which must stay a logged 500.
SQLITE_UNAVAILABLE_CODES = frozenset({5, 6, 7, 8, 10, 13, 14, 15})


def unavailable(exc: BaseException) -> bool:
    """Whether a database error means "not reachable or not writable now", not a bug in Haven.

    PostgreSQL (psycopg) raises OperationalError only for the connection, the server's state or
    its resources (a missing table is a ProgrammingError); SQLite raises it for both, so its
    result code decides."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if isinstance(cause, sqlite3.Error):
        code = getattr(cause, "sqlite_errorcode", None)
        if code is None:
            return storage_full(exc)
        return code & 0xFF in SQLITE_UNAVAILABLE_CODES
    return True


def database_unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 answer for a database error: JSON under /api/, a page elsewhere."""
    full = storage_full(exc)
    if full:
        detail = _("The server's storage is full; nothing was saved. Try again later.")
    else:
        detail = _("The database is not answering; nothing was saved. Try again.")
    logger.error(
        "database unavailable on %s %s: %s", request.method, request.path, exc, exc_info=exc
    )
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": detail}, status=503)
    else:
        title = _("Haven cannot save right now")
        page = (
            '<!doctype html><html><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title></head>"
            f"<body><h1>{escape(title)}</h1><p>{escape(detail)}</p></body></html>"
        )
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500: a database error raised outside a view (a middleware reading the
    session or the user: process_exception never sees those) still gets the 503, not a 500."""
    exc = sys.exc_info()[1]
    if exc is not None and unavailable(exc):
        return database_unavailable(request, exc)
    return defaults.server_error(request)


class DatabaseUnavailableMiddleware:
    """Database errors out of a view become `database_unavailable`'s 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if unavailable(exc):
            return database_unavailable(request, exc)
        return None  # anything else is Django's logged 500
