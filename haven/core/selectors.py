"""Which sites a user may see and write to. Every other selector scopes through these."""

from django.db.models import QuerySet

from haven.core.errors import NotFound
from haven.core.models import Site, User

Role = User.Role

PERSONAL_DATA_ROLES = frozenset({Role.REGISTRAR, Role.CASEWORKER, Role.COORDINATOR, Role.ADMIN})
ALL_SITES_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN})
REGISTERING_ROLES = frozenset({Role.REGISTRAR, Role.CASEWORKER, Role.COORDINATOR, Role.ADMIN})


def sees_personal_data(user: User) -> bool:
    return user.is_active and user.role in PERSONAL_DATA_ROLES


def sees_all_sites(user: User) -> bool:
    return user.is_active and user.role in ALL_SITES_ROLES


def sites_with_personal_data(user: User) -> QuerySet[Site]:
    """Sites whose people this user may read; empty for roles that see aggregates only."""
    if not sees_personal_data(user):
        return Site.objects.none()
    if sees_all_sites(user):
        return Site.objects.all()
    if user.role == Role.CASEWORKER:
        return user.assigned_sites.all()
    if user.site_id is None:
        return Site.objects.none()
    return Site.objects.filter(pk=user.site_id)


def site_for_registration(user: User, code: str) -> Site:
    """The site `code` if this user may register people there; otherwise NotFound.

    An unknown code and a site the user may not write to give the same answer, so that nobody can
    learn which sites exist by guessing codes.
    """
    if not user.is_active or user.role not in REGISTERING_ROLES:
        raise NotFound("site", code)
    site = sites_with_personal_data(user).filter(code=code).first()
    if site is None:
        raise NotFound("site", code)
    return site


def site_for_aggregates(user: User, code: str) -> Site:
    """The site `code` for reading aggregate figures (crossing counts): every active role may."""
    if not user.is_active:
        raise NotFound("site", code)
    site = Site.objects.filter(code=code).first()
    if site is None:
        raise NotFound("site", code)
    return site
