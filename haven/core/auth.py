"""Who is calling the JSON API: a device with a token, or a browser with a session.

Devices send `Authorization: Bearer hvn_…`; only the token's sha256 is stored, so the token is
found by its hash. Browsers use their Django session, and then every unsafe method needs the CSRF
token, as a form would. An inactive user, a revoked token or a wrong one is simply not
authenticated (401): the answer never says which of these it was.
"""

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from haven.core.models import ApiToken, User, hash_token

TOKEN_PREFIX = "hvn_"  # noqa: S105 - the public prefix of every token, not a secret
# Writing last_used_at on every request would turn each read into a write; a minute is precise
# enough to tell a device in use from a forgotten one.
LAST_USED_PRECISION = timedelta(minutes=1)


def user_for_token(raw: str) -> User | None:
    """The active user a device token belongs to, or None for a wrong, revoked or idle one."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        # Conditional, so that concurrent requests from one device write it once.
        ApiToken.objects.filter(pk=token.pk).exclude(
            last_used_at__gt=now - LAST_USED_PRECISION
        ).update(last_used_at=now)
    return token.user


class DeviceToken(HttpBearer):
    """`Authorization: Bearer hvn_…`, as printed by `haven token create`."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token.strip())
        if user is not None:
            request.user = user
        return user


class BrowserSession(SessionAuth):
    """The logged-in browser's session; unsafe methods must carry the CSRF token.

    A request that sends an Authorization header is a device's: its token decides, and a session
    cookie beside it is not a second chance. A request without a logged-in session is answered 401
    before the CSRF check, so a device that forgot its token learns that, not "CSRF failed".
    """

    def __call__(self, request: HttpRequest) -> Any:
        if "Authorization" in request.headers:
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = request.user
        if isinstance(user, User) and user.is_active:
            return user
        return None


def api_auth() -> list[Any]:
    """The authentication every API operation accepts, tried in this order."""
    return [DeviceToken(), BrowserSession()]


def request_user(request: HttpRequest) -> User:
    """The authenticated user of an API request (ninja has checked it before the view runs)."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):  # pragma: no cover - ninja refuses unauthenticated calls
        raise TypeError("request is not authenticated")
    return user
