"""Sign-in throttling: too many failed attempts lock a username, or a client address, out.

A failed password (on Haven's sign-in page or the admin's) and a wrong second-factor code each
count one failure against the username typed and against the client address
(haven.tracing.public.client_address, which honours HAVEN_TRUSTED_PROXIES). At HAVEN_LOGIN_FAILURES
failures of one username, or HAVEN_LOGIN_ADDRESS_FAILURES from one address (higher: a reception
centre's desks often share one public address, and a few colleagues' typos must not lock the centre
out), within HAVEN_LOCKOUT_SECONDS of each other, that username or address is locked out for
HAVEN_LOCKOUT_SECONDS: while locked, no password or code is even checked, so the answer cannot tell
a right password from a wrong one. Unknown usernames are counted and locked exactly like known
ones, so the answer never tells whether a username exists. The audit record of a lockout names the
username only when it is an existing user's; anything else typed there (a password in the wrong
field, say) is recorded as the same keyed hash the counting table holds.

A successful sign-in clears the username's count (for users who need a second factor, only once the
code is right: otherwise a stolen password could reset the count of wrong codes). The address's
count is left to expire, so one working account cannot clear an address that is trying many
others'.

A browser where a user signed in fully is remembered for that user (OWASP's "device cookies"): a
cookie signed with the secret key, holding for each user who signed in there (up to ten: desks are
shared) a random nonce, a keyed hash of the username with that nonce, and the time of that user's
sign-in; each user's entry is renewed (a new nonce) at their own sign-in there and lapses
HAVEN_DEVICE_COOKIE_DAYS after it. A sign-in to that username from that browser counts its
failures against the browser (HAVEN_LOGIN_FAILURES too) instead of against the username, and is
not stopped by the username's lockout: whoever knows a username, elsewhere, cannot lock its owner
out of the browser they work in by it (the address's count applies as always, and failures typed
in that browser lock it). A forged, altered, lapsed or other user's entry counts for nothing. A
copy of the cookie taken from that browser has guesses of its own until it lapses (nothing of the
nonce is kept on the server); the address's count still bounds them.
"""

import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import ngettext

from haven.core import audit
from haven.core.models import LoginThrottle, User
from haven.tracing.public import client_address

_HASH_SALT = "haven.core.login_security"


@dataclass(frozen=True)
class Lockout:
    """A username or address is locked out until `until`."""

    until: datetime

    def minutes(self, now: datetime | None = None) -> int:
        remaining = (self.until - (now or timezone.now())).total_seconds()
        return max(1, math.ceil(remaining / 60))

    def message(self) -> str:
        minutes = self.minutes()
        return ngettext(
            "Too many failed attempts; try again in %(minutes)d minute.",
            "Too many failed attempts; try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}


def _window() -> timedelta:
    return timedelta(seconds=settings.HAVEN_LOCKOUT_SECONDS)


def _username_key(username: str) -> str:
    # Case and compatibility forms folded, so "Carol" and "carol" share one count.
    normalised = User.normalize_username(username.strip()).casefold()
    return salted_hmac(_HASH_SALT, f"username:{normalised}").hexdigest()


def _address_key(address: str) -> str:
    return salted_hmac(_HASH_SALT, f"address:{address}").hexdigest()


_DEVICE_SALT = "haven.core.login_security.device"
MAX_REMEMBERED = 10  # users remembered by one browser: a desk is shared, shift after shift


def _device_key(nonce: str) -> str:
    return salted_hmac(_HASH_SALT, f"device:{nonce}").hexdigest()


# One entry of the cookie: [entry key, nonce, when signed in (Unix seconds)]. The entry key is a
# keyed hash of the username's key and the nonce, so that two browsers' cookies do not show that
# one person signed in at both, and nothing in the cookie is the lockout table's username key.
Entry = tuple[str, str, int]


def _entry_key(user_key: str, nonce: str) -> str:
    return salted_hmac(_HASH_SALT, f"remembered:{user_key}:{nonce}").hexdigest()[:32]


def _remembered(request: HttpRequest) -> list[Entry]:
    """The entries of the request's device cookie still within HAVEN_DEVICE_COOKIE_DAYS of their
    own sign-in; [] when it has none or one that is forged or altered."""
    raw = request.COOKIES.get(settings.HAVEN_DEVICE_COOKIE_NAME, "")
    if not raw:
        return []
    days = timedelta(days=settings.HAVEN_DEVICE_COOKIE_DAYS)
    try:
        value = signing.loads(raw, salt=_DEVICE_SALT, max_age=days)
    except signing.BadSignature:  # SignatureExpired is one
        return []
    if not isinstance(value, list):
        return []
    oldest = time.time() - days.total_seconds()
    return [
        (entry[0], entry[1], entry[2])
        for entry in value[:MAX_REMEMBERED]
        if isinstance(entry, list)
        and len(entry) == 3
        and isinstance(entry[0], str)
        and isinstance(entry[1], str)
        and isinstance(entry[2], int)
        and entry[2] >= oldest  # each user's entry lapses on its own, however often others sign in
    ]


def _device_nonce(request: HttpRequest, username: str) -> str | None:
    """The nonce by which this browser remembers `username`, if it does."""
    user_key = _username_key(username)
    return next(
        (nonce for key, nonce, _at in _remembered(request) if key == _entry_key(user_key, nonce)),
        None,
    )


def remember_device(request: HttpRequest, response: HttpResponse, username: str) -> None:
    """After a complete sign-in: this browser remembers `username` (with a fresh nonce and time),
    and keeps the others it remembers as they were, newest first, up to MAX_REMEMBERED."""
    user_key = _username_key(username)
    nonce = secrets.token_urlsafe(16)
    entries: list[Entry] = [(_entry_key(user_key, nonce), nonce, int(time.time()))]
    entries += [e for e in _remembered(request) if e[0] != _entry_key(user_key, e[1])]
    response.set_cookie(
        settings.HAVEN_DEVICE_COOKIE_NAME,
        signing.dumps(
            [list(e) for e in entries[:MAX_REMEMBERED]], salt=_DEVICE_SALT, compress=True
        ),
        max_age=settings.HAVEN_DEVICE_COOKIE_DAYS * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def _known_username(username: str) -> str | None:
    """The stored username of the user `username` names, folded as the lockout folds it; None
    when no user has it (then it may be a mistyped password, and is not kept in the clear)."""
    normalised = User.normalize_username(username.strip())
    folded = normalised.casefold()
    for candidate in User.objects.filter(username__iexact=normalised).values_list(
        "username", flat=True
    )[:10]:
        if User.normalize_username(candidate).casefold() == folded:
            return str(candidate)
    return None


def _audited_username(username: str) -> dict[str, str]:
    known = _known_username(username)
    if known is not None:
        return {"username": known}
    return {"username_hash": _username_key(username)}


def _keys(request: HttpRequest, username: str) -> list[tuple[str, str]]:
    nonce = _device_nonce(request, username)
    first = (
        (LoginThrottle.Kind.DEVICE, _device_key(nonce))
        if nonce is not None
        else (LoginThrottle.Kind.USERNAME, _username_key(username))
    )
    return [first, (LoginThrottle.Kind.ADDRESS, _address_key(client_address(request)))]


def current_lockout(request: HttpRequest, username: str) -> Lockout | None:
    """The lockout on this username (or, on a browser that remembers it, on that browser) or on
    the request's address, whichever lasts longer."""
    now = timezone.now()
    until: datetime | None = None
    for kind, key in _keys(request, username):
        row = LoginThrottle.objects.filter(kind=kind, key=key, locked_until__gt=now).first()
        if row is not None and row.locked_until is not None:
            until = row.locked_until if until is None else max(until, row.locked_until)
    return Lockout(until) if until is not None else None


def record_failure(request: HttpRequest, username: str, *, stage: str) -> Lockout | None:
    """Count one failed attempt (`stage`: "password" or "code") against the username and the
    address; the lockout it starts, if it starts one (audited), or that is already running."""
    now = timezone.now()
    address = client_address(request)
    limits: dict[str, int] = {
        LoginThrottle.Kind.USERNAME: settings.HAVEN_LOGIN_FAILURES,
        LoginThrottle.Kind.DEVICE: settings.HAVEN_LOGIN_FAILURES,
        LoginThrottle.Kind.ADDRESS: settings.HAVEN_LOGIN_ADDRESS_FAILURES,
    }
    lockout: Lockout | None = None
    with transaction.atomic():
        # Counts whose last failure is older than the window have run out, lockouts included.
        LoginThrottle.objects.filter(last_failure_at__lt=now - _window()).delete()
        for kind, key in _keys(request, username):
            row, _ = LoginThrottle.objects.select_for_update().get_or_create(
                kind=kind, key=key, defaults={"last_failure_at": now}
            )
            if row.locked_until is not None and row.locked_until > now:
                lockout = Lockout(row.locked_until)
                continue
            if row.locked_until is not None or row.last_failure_at < now - _window():
                # A lockout that has run out, or failures long ago: start counting afresh.
                row.failures = 0
                row.locked_until = None
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= limits[kind]:
                row.locked_until = now + _window()
                lockout = Lockout(row.locked_until)
                audit.record(
                    user=None,
                    action="login.locked_out",
                    object_type="login",
                    object_uuid=None,
                    detail={
                        "locked": str(kind),
                        **_audited_username(username),
                        "address": address,
                        "failures": row.failures,
                        "stage": stage,
                        "until": row.locked_until.isoformat(),
                    },
                    at=now,
                )
            row.save()
    return lockout


def record_success(request: HttpRequest, username: str) -> None:
    """A complete sign-in: the username's failures, and this browser's for it, are forgotten. A
    running lockout of the username is not: its owner, signing in on a browser that remembers
    them, must not hand whoever locked it a fresh set of guesses."""
    LoginThrottle.objects.filter(
        kind=LoginThrottle.Kind.USERNAME, key=_username_key(username)
    ).exclude(locked_until__gt=timezone.now()).delete()
    nonce = _device_nonce(request, username)
    if nonce is not None:
        LoginThrottle.objects.filter(
            kind=LoginThrottle.Kind.DEVICE, key=_device_key(nonce)
        ).delete()
