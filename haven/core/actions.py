"""Writes to core records (sites, device tokens), each with its audit row in its transaction."""

import secrets
from collections.abc import Sequence
from zoneinfo import available_timezones

from django.db import transaction
from django.utils import timezone

from haven.core import audit
from haven.core.errors import FieldError, InvalidInput
from haven.core.models import ApiToken, Site, User, hash_token


def add_site(
    *,
    code: str,
    name: str,
    kind: str,
    province: str,
    time_zone: str = "Asia/Yerevan",
    acting_user: User | None,
) -> Site:
    errors = []
    if not code or len(code) > 32 or not all(c.isalnum() or c in "-_" for c in code):
        errors.append(FieldError("code", "must be 1–32 letters, digits, - or _"))
    elif Site.objects.filter(code=code).exists():
        errors.append(FieldError("code", f"a site with code {code} already exists"))
    if not name.strip() or len(name) > 200:
        errors.append(FieldError("name", "must be 1–200 characters"))
    if kind not in Site.Kind.values:
        errors.append(FieldError("kind", f"must be one of {', '.join(Site.Kind.values)}"))
    if not province.strip() or len(province) > 100:
        errors.append(FieldError("province", "must be 1–100 characters"))
    if time_zone not in available_timezones():
        errors.append(
            FieldError("time_zone", f"{time_zone!r} is not a time zone, e.g. Asia/Yerevan")
        )
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        site = Site.objects.create(
            code=code, name=name.strip(), kind=kind, province=province.strip(), time_zone=time_zone
        )
        audit.record(
            user=acting_user,
            action="site.add",
            object_type="site",
            object_uuid=None,
            site=site,
            detail={"code": code},
        )
    return site


def create_api_token(*, user: User, name: str, acting_user: User | None) -> tuple[ApiToken, str]:
    """A new device token for `user`. Returns the stored token and the secret, shown only once."""
    raw = "hvn_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], token_hash=hash_token(raw), prefix=raw[:8]
        )
        audit.record(
            user=acting_user,
            action="token.create",
            object_type="api_token",
            object_uuid=token.uuid,
            detail={"for_user": user.username, "name": token.name},
        )
    return token, raw


def revoke_api_token(*, token: ApiToken, acting_user: User | None) -> None:
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            user=acting_user,
            action="token.revoke",
            object_type="api_token",
            object_uuid=token.uuid,
        )


def create_user(
    *,
    username: str,
    role: str,
    password: str | None,
    site: Site | None = None,
    assigned_sites: Sequence[Site] = (),
    acting_user: User | None,
) -> User:
    """A new account with its audit row; `password=None` leaves it unable to log in."""
    with transaction.atomic():
        user = User(username=username, role=role, site=site)
        if role == User.Role.ADMIN:
            user.is_staff = user.is_superuser = True
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save()
        if assigned_sites:
            user.assigned_sites.set(assigned_sites)
        audit.record(
            user=acting_user,
            action="user.create",
            object_type="user",
            object_uuid=None,
            site=site,
            detail={"username": username, "role": role},
        )
    return user


def set_password(*, user: User, password: str, acting_user: User | None) -> None:
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(
            user=acting_user,
            action="user.set_password",
            object_type="user",
            object_uuid=None,
            site=user.site,
            detail={"username": user.username},
        )
