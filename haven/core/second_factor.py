"""The second factor: who must have one, what an unverified session may reach, and its reset.

Coordinators, caseworkers and administrators (and any staff or superuser account) see people's
records across sites, so a password alone does not sign them in: they also enter a TOTP code from
an authenticator app (django-otp's TOTP devices). django-otp's OTPMiddleware marks a session
verified once a code was right; until then SecondFactorMiddleware treats the session as not signed
in: pages redirect to the code page (or to enrolment, for a user without a device yet), and the
JSON API answers 401 to the session. Device tokens (`Authorization: Bearer hvn_…`) are a separate
credential and unaffected. Other roles need no second factor.
"""

from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from haven.core import audit
from haven.core.models import User

SECOND_FACTOR_ROLES = frozenset({User.Role.COORDINATOR, User.Role.CASEWORKER, User.Role.ADMIN})
# What a signed-in but not yet verified session may still open: the sign-in steps themselves,
# signing out, the language switch and the public tracing form.
_OPEN_URL_NAMES = frozenset({"login", "logout", "second_factor", "enrol", "set_language"})
_OPEN_NAMESPACES = frozenset({"public"})


def requires_second_factor(user: object) -> bool:
    return isinstance(user, User) and (
        user.role in SECOND_FACTOR_ROLES or user.is_staff or user.is_superuser
    )


def is_verified(request: HttpRequest) -> bool:
    """Whether django-otp's middleware found a confirmed device verified in this session."""
    verified = getattr(request.user, "is_verified", None)
    return bool(verified is not None and verified())


def confirmed_device(user: User) -> TOTPDevice | None:
    device: TOTPDevice | None = (
        TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    )
    return device


def needs_verification(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated) and requires_second_factor(user) and not is_verified(request)


class SecondFactorMiddleware:
    """After OTPMiddleware: an unverified session of a user who needs a second factor is not
    signed in, except for the sign-in steps."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[object, ...],
        view_kwargs: dict[str, object],
    ) -> HttpResponse | None:
        if not needs_verification(request):
            return None
        if request.path_info.startswith("/api/"):
            # The API's session authentication then answers 401, as to anyone not signed in.
            request.user = AnonymousUser()
            return None
        match = request.resolver_match
        if match is not None and (
            match.url_name in _OPEN_URL_NAMES or match.namespace in _OPEN_NAMESPACES
        ):
            return None
        return redirect_to_login(request.get_full_path(), reverse("second_factor"))


def reset_second_factor(*, user: User, acting_user: User | None, via: str) -> int:
    """Remove every TOTP device of `user` (a lost phone): the next sign-in enrols a new one.
    Audited. Returns how many devices were removed."""
    with transaction.atomic():
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        audit.record(
            user=acting_user,
            action="user.second_factor_reset",
            object_type="user",
            object_uuid=None,
            detail={"via": via, "pk": user.pk, "username": user.get_username(), "removed": removed},
        )
    return int(removed)
