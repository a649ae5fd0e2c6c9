"""Shared personas: two registrars at different sites, a caseworker, a coordinator, a partner
analyst and an administrator. Every scoping test uses them."""

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import django_otp
import pytest
from django.http import HttpRequest
from django.test import Client
from django_otp.oath import TOTP, totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from haven.core.models import Site, User
from haven.core.second_factor import confirmed_device, requires_second_factor

if TYPE_CHECKING:
    from playwright.sync_api import Page


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


# --- signing in with the second factor ---------------------------------------------------------


def totp_device(user: User) -> TOTPDevice:
    """The user's confirmed TOTP device, made the first time (as enrolment would)."""
    device = confirmed_device(user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return device


def totp_code(device: TOTPDevice) -> str:
    """The code the user's authenticator app shows now, computed from the device's key.

    A code is accepted once: when this time step's code was used already (two sign-ins within 30
    seconds), the next step's, which the device accepts within its tolerance of one step.
    """
    device.refresh_from_db()
    now_t = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).t()
    target = max(now_t, device.last_t + 1)
    while target > now_t + device.tolerance:  # pragma: no cover - more than two sign-ins a step
        time.sleep(1)
        now_t = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).t()
    drift = device.drift + target - now_t
    token = totp(device.bin_key, device.step, device.t0, device.digits, drift)
    return f"{token:0{device.digits}d}"


def verify_session(client: Client, user: User) -> Client:
    """Mark the client's signed-in session verified by the user's device, as django_otp.login
    does after a right code: for coordinators, caseworkers and admins (others need no code)."""
    if requires_second_factor(user):
        request = HttpRequest()
        request.session = client.session
        request.user = user
        django_otp.login(request, totp_device(user))
        request.session.save()
    return client


def sign_in(client: Client, user: User) -> Client:
    """`client.force_login(user)`, with the second factor verified where the role needs one."""
    client.force_login(user)
    return verify_session(client, user)


def browser_sign_in(page: "Page", base_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real forms: the password, then for a user who needs a second factor
    the code their app would show (the device is made first if they have none)."""
    user = User.objects.get(username=username)
    device = totp_device(user) if requires_second_factor(user) else None
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.press("#id_password", "Enter")
    page.wait_for_load_state("load")
    if device is not None:
        page.wait_for_url("**/login/code/**")
        page.fill("#id_code", totp_code(device))
        page.press("#id_code", "Enter")
        page.wait_for_load_state("load")
