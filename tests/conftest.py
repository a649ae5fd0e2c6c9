"""Shared personas: two registrars at different sites, a caseworker, a coordinator, a partner
analyst and an administrator. Every scoping test uses them."""

from dataclasses import dataclass
from typing import Any

import pytest

from haven.core.models import Site, User


@dataclass
class Personas:
    kor: Site
    goris: Site
    vayk: Site
    alice: User  # registrar at Kornidzor
    bob: User  # registrar at Goris
    carol: User  # caseworker covering Kornidzor and Vayk
    dan: User  # coordinator
    erin: User  # partner analyst
    admin: User


PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Production hashing is deliberately slow; tests create many users and need not be."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_registry_count() -> None:
    """The desk check reuses its count of the registry for a minute; each test has its own."""
    from haven.identity import check

    check._TOTAL.clear()
    check._SHARES.clear()


def _user(username: str, role: str, site: Site | None = None) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, role=role, site=site)


@pytest.fixture
def personas(db: None) -> Personas:
    kor = Site.objects.create(code="KOR", name="Kornidzor", kind="crossing", province="Syunik")
    goris = Site.objects.create(code="GORIS", name="Goris hub", kind="hub", province="Syunik")
    vayk = Site.objects.create(code="VAYK", name="Vayk hub", kind="hub", province="Vayots Dzor")
    carol = _user("carol", User.Role.CASEWORKER)
    carol.assigned_sites.set([kor, vayk])
    admin = _user("admin", User.Role.ADMIN)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    return Personas(
        kor=kor,
        goris=goris,
        vayk=vayk,
        alice=_user("alice", User.Role.REGISTRAR, kor),
        bob=_user("bob", User.Role.REGISTRAR, goris),
        carol=carol,
        dan=_user("dan", User.Role.COORDINATOR),
        erin=_user("erin", User.Role.PARTNER_ANALYST),
        admin=admin,
    )
