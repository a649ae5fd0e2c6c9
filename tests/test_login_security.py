"""Signing in: the lockout after too many failures (per username and per address, the same for
unknown usernames), and the TOTP second factor of coordinators, caseworkers and admins."""

import re
import time
from base64 import b32decode, b32encode
from html import unescape
from typing import TYPE_CHECKING, Any

import pytest
from django.core import signing
from django.core.management import call_command
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from haven.core import login_security
from haven.core.models import AuditEvent, LoginThrottle, User
from tests.api_support import token_for
from tests.conftest import PASSWORD, Personas, sign_in, totp_code, totp_device

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

LOGIN = "/login/"
CODE = "/login/code/"
ENROL = "/login/enrol/"
HOUSEHOLDS = "/api/households"
LOCKED = "Too many failed attempts; try again in 15 minutes."


def _client(address: str = "192.0.2.10") -> Client:
    return Client(REMOTE_ADDR=address)


def _sign_in(
    client: Client, username: str, password: str, next_url: str = ""
) -> "_MonkeyPatchedWSGIResponse":
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(LOGIN, data)


def _alert(response: "_MonkeyPatchedWSGIResponse") -> str:
    """The text of the page's alert (the form's error), without the markup."""
    html = response.content.decode()
    found = re.search(r'<div role="alert">(.*?)</div>', html, re.S)
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else ""


def _signed_in_as(client: Client) -> str:
    """Whose session the client holds, as the pages see it ("" when none)."""
    response = client.get("/desk/")
    if response.status_code != 200:
        return ""
    return str(response.wsgi_request.user.get_username())


@pytest.fixture(autouse=True)
def _default_limits(settings: Any) -> None:
    settings.HAVEN_LOGIN_FAILURES = 5
    settings.HAVEN_LOGIN_ADDRESS_FAILURES = 30
    settings.HAVEN_DEVICE_COOKIE_DAYS = 180
    settings.HAVEN_LOCKOUT_SECONDS = 900
    settings.HAVEN_TRUSTED_PROXIES = 0


# --- the lockout ------------------------------------------------------------------------------


def test_a_username_is_locked_after_five_failures_even_with_the_right_password(
    personas: Personas,
) -> None:
    for attempt in range(4):
        response = _sign_in(_client(f"192.0.2.{attempt}"), "alice", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in _alert(response)

    fifth = _sign_in(_client("192.0.2.50"), "alice", "wrong")
    assert fifth.status_code == 429
    assert _alert(fifth) == LOCKED

    # From yet another address, the right password is not even checked.
    client = _client("198.51.100.7")
    right = _sign_in(client, "alice", PASSWORD)
    assert right.status_code == 429
    assert _alert(right) == LOCKED
    assert _signed_in_as(client) == ""
    # "Alice" is the same username to the lockout.
    assert _sign_in(_client("198.51.100.8"), "Alice", PASSWORD).status_code == 429

    # Bob is not affected.
    assert _sign_in(_client("198.51.100.9"), "bob", PASSWORD).status_code == 302


def test_an_address_is_locked_after_thirty_failures_across_usernames(personas: Personas) -> None:
    usernames = ["alice", "bob", "carol", "nobody", "admin"] + [f"guess{n}" for n in range(25)]
    for username in usernames[:-1]:
        assert _sign_in(_client("203.0.113.5"), username, "wrong").status_code == 200
    assert _sign_in(_client("203.0.113.5"), usernames[-1], "wrong").status_code == 429

    locked_client = _client("203.0.113.5")
    assert _sign_in(locked_client, "erin", PASSWORD).status_code == 429
    assert _signed_in_as(locked_client) == ""
    # The same user from another address signs in.
    other = _client("203.0.113.6")
    assert _sign_in(other, "erin", PASSWORD).status_code == 302


def test_colleagues_typos_behind_one_address_do_not_lock_the_centre_out(
    personas: Personas,
) -> None:
    """Twenty desks behind one centre's router: each of six registrars mistypes four times (one
    short of their own lockout); everyone, them included, still signs in from that address."""
    centre = "198.51.100.200"
    colleagues = ["alice", "bob", "carol", "dan", "erin", "frank"]
    for username in colleagues:
        for _ in range(4):
            assert _sign_in(_client(centre), username, "wrong").status_code == 200
    for username in ["bob", "alice"]:
        client = _client(centre)
        assert _sign_in(client, username, PASSWORD).status_code == 302
        assert _signed_in_as(client) == username


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_locked(
    personas: Personas, settings: Any
) -> None:
    settings.HAVEN_TRUSTED_PROXIES = 1
    settings.HAVEN_LOGIN_ADDRESS_FAILURES = 5
    proxy = "10.0.0.1"
    for username in ["u1", "u2", "u3", "u4", "u5"]:
        client = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.20")
        _sign_in(client, username, "wrong")

    behind_same = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.20")
    assert _sign_in(behind_same, "erin", PASSWORD).status_code == 429
    # Another client behind the same proxy is not locked out with it.
    behind_other = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.21")
    assert _sign_in(behind_other, "erin", PASSWORD).status_code == 302


def test_an_unknown_username_gets_the_same_answers_as_a_known_one(personas: Personas) -> None:
    def answers(username: str, address_prefix: str) -> list[tuple[int, str]]:
        seen = []
        for attempt in range(7):
            response = _sign_in(_client(f"{address_prefix}.{attempt}"), username, "wrong")
            seen.append((response.status_code, _alert(response)))
        return seen

    known = answers("alice", "192.0.2")
    unknown = answers("no-such-user", "198.51.100")

    assert known == unknown
    assert [status for status, _ in known] == [200, 200, 200, 200, 429, 429, 429]


def test_the_lockout_runs_out(personas: Personas, settings: Any) -> None:
    settings.HAVEN_LOCKOUT_SECONDS = 1
    for _ in range(5):
        response = _sign_in(_client(), "alice", "wrong")
    assert response.status_code == 429
    assert _alert(response) == "Too many failed attempts; try again in 1 minute."

    time.sleep(1.1)

    client = _client()
    assert _sign_in(client, "alice", PASSWORD).status_code == 302
    assert _signed_in_as(client) == "alice"


def test_a_successful_sign_in_clears_the_usernames_failures(personas: Personas) -> None:
    for _ in range(4):
        _sign_in(_client("192.0.2.1"), "alice", "wrong")
    assert _sign_in(_client("192.0.2.1"), "alice", PASSWORD).status_code == 302
    assert not LoginThrottle.objects.filter(kind=LoginThrottle.Kind.USERNAME).exists()

    # Four more failures (from another address, whose count is its own) do not lock her out.
    for _ in range(4):
        assert _sign_in(_client("192.0.2.2"), "alice", "wrong").status_code == 200
    assert _sign_in(_client("192.0.2.2"), "alice", PASSWORD).status_code == 302


def test_a_lockout_names_an_existing_username_as_stored(personas: Personas) -> None:
    for _ in range(5):
        _sign_in(_client("192.0.2.78"), " Alice", "wrong")

    event = AuditEvent.objects.filter(action="login.locked_out", detail__locked="username").get()
    assert event.detail["username"] == "alice"
    assert "username_hash" not in event.detail


def test_a_lockout_keeps_only_a_hash_of_a_username_no_user_has(personas: Personas) -> None:
    """Someone typing their password into the username field leaves no trace of it in clear."""
    typed = "Tr0ub4dor&3-in-the-wrong-field"
    for _ in range(5):
        _sign_in(_client("192.0.2.79"), typed, "wrong")

    events = AuditEvent.objects.filter(action="login.locked_out")
    assert events.count() == 1  # the username; the address's count is far from its limit
    throttle = LoginThrottle.objects.get(kind=LoginThrottle.Kind.USERNAME)
    for event in events:
        assert "username" not in event.detail
        assert event.detail["username_hash"] == throttle.key
        assert typed.casefold() not in str(event.detail).casefold()


def test_a_lockout_is_audited_without_the_password(personas: Personas, settings: Any) -> None:
    settings.HAVEN_LOGIN_ADDRESS_FAILURES = 5  # both lockouts at once
    for _ in range(5):
        _sign_in(_client("192.0.2.77"), "alice", "s3cret-guess")

    events = AuditEvent.objects.filter(action="login.locked_out").order_by("pk")
    assert [event.detail["locked"] for event in events] == ["username", "address"]
    for event in events:
        assert event.detail["username"] == "alice"
        assert event.detail["address"] == "192.0.2.77"
        assert event.detail["failures"] == 5
        assert event.detail["stage"] == "password"
        assert "s3cret-guess" not in str(event.detail)
    # Usernames and addresses are not kept in the clear in the counting table.
    assert not LoginThrottle.objects.filter(key__in=["alice", "192.0.2.77"]).exists()


def test_the_admin_sign_in_is_locked_out_too(personas: Personas) -> None:
    for _ in range(5):
        response = Client(REMOTE_ADDR="192.0.2.90").post(
            "/admin/login/?next=/admin/", {"username": "admin", "password": "wrong"}
        )
    assert LOCKED in unescape(response.content.decode())

    client = Client(REMOTE_ADDR="192.0.2.91")
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD}
    )
    assert LOCKED in unescape(response.content.decode())
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


# --- the second factor -----------------------------------------------------------------------


def test_a_coordinator_without_a_device_enrols_after_the_password(personas: Personas) -> None:
    client = _client()
    response = _sign_in(client, "dan", PASSWORD, next_url="/registrations/")
    assert response.status_code == 302
    # The pages answer as to someone not signed in, and lead to the code step.
    page = client.get("/registrations/")
    assert page.status_code == 302
    assert page["Location"] == f"{CODE}?next=/registrations/"
    to_enrol = client.get(page["Location"])
    assert to_enrol.status_code == 302
    assert to_enrol["Location"] == f"{ENROL}?next=%2Fregistrations%2F"

    enrolment = client.get(to_enrol["Location"])
    html = enrolment.content.decode()
    assert enrolment.status_code == 200
    assert "<svg" in html
    assert "Set up your second factor" in html
    device = TOTPDevice.objects.get(user=personas.dan)
    assert not device.confirmed
    secret = re.search(r'<span class="secret" id="secret">([A-Z2-7 ]+)</span>', html)
    assert secret is not None
    assert len(secret.group(1).replace(" ", "")) == 32
    # The page itself loads nothing from elsewhere.
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html

    confirmed = client.post(ENROL, {"code": totp_code(device), "next": "/registrations/"})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == "/registrations/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/registrations/").status_code == 200
    assert AuditEvent.objects.filter(action="user.second_factor_enrolled", user=personas.dan)


def _shown_secret(response: "_MonkeyPatchedWSGIResponse") -> str:
    found = re.search(
        r'<span class="secret" id="secret">([A-Z2-7 ]+)</span>', response.content.decode()
    )
    assert found is not None
    return found.group(1).replace(" ", "")


def _code_for_secret(secret: str) -> str:
    """The code an authenticator app holding `secret` shows now."""
    key = b32decode(secret + "=" * (-len(secret) % 8))
    return f"{TOTP(key, step=30, t0=0, digits=6, drift=0).token():06d}"


def test_an_enrolment_secret_shown_to_another_session_is_never_confirmed(
    personas: Personas,
) -> None:
    """Someone holding only the password opens the enrolment page first and copies the key; the
    real user's enrolment makes a key of its own, and the copied one opens nothing."""
    attacker = _client("203.0.113.66")
    assert _sign_in(attacker, "dan", PASSWORD).status_code == 302
    copied = _shown_secret(attacker.get(ENROL))

    dan = _client("192.0.2.10")
    assert _sign_in(dan, "dan", PASSWORD).status_code == 302
    own = _shown_secret(dan.get(ENROL))
    assert own != copied
    # Only the device of dan's session is left; the attacker's is gone.
    assert TOTPDevice.objects.filter(user=personas.dan).count() == 1

    # The attacker's code for the copied key does not confirm anything ...
    early = attacker.post(ENROL, {"code": _code_for_secret(copied)})
    assert early.status_code == 200
    assert "Setting up was started again" in unescape(early.content.decode())
    assert not TOTPDevice.objects.filter(user=personas.dan, confirmed=True).exists()
    # ... and dan, whose key that restart replaced, is told so and starts again too.
    restarted = dan.post(ENROL, {"code": _code_for_secret(own)})
    assert "Setting up was started again" in unescape(restarted.content.decode())
    own = _shown_secret(restarted)

    confirmed = dan.post(ENROL, {"code": _code_for_secret(own), "next": "/registrations/"})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == "/registrations/"
    device = TOTPDevice.objects.get(user=personas.dan)
    assert device.confirmed
    assert b32encode(device.bin_key).decode().rstrip("=") == own

    # Later, the copied key's code is wrong at the code step, and nothing is left to enrol.
    later = _client("203.0.113.67")
    assert _sign_in(later, "dan", PASSWORD).status_code == 302
    response = later.post(CODE, {"code": _code_for_secret(copied)})
    assert response.status_code == 200
    assert "That code is not right." in response.content.decode()
    assert later.get("/registrations/").status_code == 302
    assert attacker.post(ENROL, {"code": _code_for_secret(copied)})["Location"].startswith(CODE)


def test_an_enrolment_code_without_a_page_of_this_session_starts_again(personas: Personas) -> None:
    client = _client()
    _sign_in(client, "dan", PASSWORD)
    response = client.post(ENROL, {"code": "123456"})
    assert response.status_code == 200
    assert "Setting up was started again" in unescape(response.content.decode())
    device = TOTPDevice.objects.get(user=personas.dan)
    assert not device.confirmed
    assert _shown_secret(response) == b32encode(device.bin_key).decode().rstrip("=")
    assert client.session["haven_enrol_device"] == device.pk
    # No code was checked, so nothing was counted.
    assert not LoginThrottle.objects.exists()


def test_a_user_with_a_device_cannot_enrol_another(personas: Personas) -> None:
    totp_device(personas.carol)
    client = _client()
    _sign_in(client, "carol", PASSWORD)
    response = client.get(ENROL)
    assert response.status_code == 302
    assert response["Location"].startswith(CODE)
    assert TOTPDevice.objects.filter(user=personas.carol).count() == 1


def test_an_unverified_session_is_not_signed_in_anywhere(personas: Personas) -> None:
    device = totp_device(personas.carol)
    client = _client()
    assert _sign_in(client, "carol", PASSWORD).status_code == 302

    for url in ["/", "/registrations/", "/tracing/", "/admin/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(CODE), url
    assert client.get(HOUSEHOLDS).status_code == 401
    code_page = client.get(CODE)
    assert code_page.status_code == 200
    assert "Enter your 6-digit code" in code_page.content.decode()

    verified = client.post(CODE, {"code": totp_code(device), "next": "/registrations/"})
    assert verified.status_code == 302
    assert verified["Location"] == "/registrations/"
    assert client.get("/registrations/").status_code == 200
    assert client.get(HOUSEHOLDS).status_code == 200


def test_a_wrong_code_is_refused(personas: Personas) -> None:
    device = totp_device(personas.dan)
    client = _client()
    _sign_in(client, "dan", PASSWORD)
    right = totp_code(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    response = client.post(CODE, {"code": wrong})
    assert response.status_code == 200
    assert "That code is not right." in response.content.decode()
    assert client.get("/reports/").status_code == 302
    assert client.post(CODE, {"code": "12ab56"}).status_code == 200
    assert client.get("/reports/").status_code == 302


def test_wrong_codes_count_towards_the_lockout(personas: Personas) -> None:
    device = totp_device(personas.dan)
    client = _client()
    _sign_in(client, "dan", PASSWORD)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    for _ in range(4):
        assert client.post(CODE, {"code": wrong}).status_code == 200
    fifth = client.post(CODE, {"code": wrong})
    assert fifth.status_code == 429
    assert LOCKED in unescape(fifth.content.decode())
    event = AuditEvent.objects.filter(action="login.locked_out").first()
    assert event is not None
    assert event.detail["stage"] == "code"

    # Locked: the right code is not checked, and the password is refused as well.
    assert client.post(CODE, {"code": totp_code(device)}).status_code == 429
    assert client.get("/reports/").status_code == 302
    assert _sign_in(_client("198.51.100.3"), "dan", PASSWORD).status_code == 429


def test_wrong_codes_below_the_lockout_do_not_hold_back_the_right_one(personas: Personas) -> None:
    """django-otp's own throttle (a delay doubling with each wrong code) is off: it would let
    anyone with the password shut the code step for days, while the page only said "not right"."""
    device = totp_device(personas.dan)
    client = _client()
    _sign_in(client, "dan", PASSWORD)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    for _ in range(4):
        response = client.post(CODE, {"code": wrong})
        assert response.status_code == 200
        assert "That code is not right." in response.content.decode()

    right = client.post(CODE, {"code": totp_code(device), "next": "/registrations/"})
    assert right.status_code == 302
    assert right["Location"] == "/registrations/"
    assert client.get("/registrations/").status_code == 200


def test_the_password_alone_does_not_clear_the_count_of_wrong_codes(personas: Personas) -> None:
    device = totp_device(personas.dan)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    for attempt in range(5):
        client = _client(f"192.0.2.{attempt}")
        assert _sign_in(client, "dan", PASSWORD).status_code == 302
        response = client.post(CODE, {"code": wrong})
    assert response.status_code == 429


def test_a_registrar_needs_no_code(personas: Personas) -> None:
    client = _client()
    response = _sign_in(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert client.get("/desk/").status_code == 200
    assert client.get(HOUSEHOLDS).status_code == 200
    assert client.get(CODE).status_code == 302
    assert not TOTPDevice.objects.filter(user=personas.alice).exists()


def test_any_staff_account_needs_a_code(personas: Personas) -> None:
    staff = User.objects.create_user(
        username="helpdesk", password=PASSWORD, role=User.Role.REGISTRAR, is_staff=True
    )
    client = _client()
    _sign_in(client, staff.username, PASSWORD)
    assert client.get("/desk/")["Location"].startswith(CODE)


def test_device_tokens_need_no_second_factor(personas: Personas) -> None:
    raw = token_for(personas.dan)
    response = Client().get(HOUSEHOLDS, headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200


def test_the_test_sign_in_is_a_real_verified_session(personas: Personas) -> None:
    client = sign_in(Client(), personas.carol)
    assert client.get("/registrations/").status_code == 200
    device = TOTPDevice.objects.get(user=personas.carol)
    assert client.session["otp_device_id"] == device.persistent_id


def test_an_admin_resets_a_device_with_the_command(personas: Personas) -> None:
    totp_device(personas.dan)
    call_command("otp", "reset", "dan")

    assert not TOTPDevice.objects.filter(user=personas.dan).exists()
    event = AuditEvent.objects.get(action="user.second_factor_reset")
    assert event.user == personas.admin
    assert event.detail["username"] == "dan"
    assert event.detail["via"] == "command"
    # Dan enrols anew at his next sign-in.
    client = _client()
    _sign_in(client, "dan", PASSWORD)
    assert client.get(CODE)["Location"].startswith(ENROL)


def test_a_verified_session_ends_when_its_device_is_reset(personas: Personas) -> None:
    client = sign_in(Client(), personas.carol)
    assert client.get("/registrations/").status_code == 200
    call_command("otp", "reset", "carol")
    assert client.get("/registrations/").status_code == 302


def test_an_admin_resets_a_device_in_the_admin(personas: Personas) -> None:
    totp_device(personas.carol)
    client = sign_in(Client(), personas.admin)
    response = client.post(
        "/admin/core/user/",
        {"action": "reset_second_factor", "_selected_action": [personas.carol.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=personas.carol).exists()
    event = AuditEvent.objects.get(action="user.second_factor_reset")
    assert event.user == personas.admin
    assert event.detail["via"] == "admin"


def test_devices_are_not_edited_in_the_admin(personas: Personas) -> None:
    """Their keys are secrets, and a reset goes through the audited action."""
    totp_device(personas.carol)
    client = sign_in(Client(), personas.admin)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404


# --- the remembered browser ---------------------------------------------------------------------

DEVICE_COOKIE = "haven_device"


def _lock_out(username: str, address: str = "203.0.113.66") -> None:
    """Someone else, elsewhere, who knows the username: five wrong passwords."""
    for _ in range(5):
        last = _sign_in(_client(address), username, "wrong")
    assert last.status_code == 429


def test_someone_who_knows_her_username_cannot_lock_her_out_of_her_own_browser(
    personas: Personas,
) -> None:
    desk = _client("192.0.2.30")
    assert _sign_in(desk, "alice", PASSWORD).status_code == 302
    cookie = desk.cookies[DEVICE_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 180 * 86400
    entries = signing.loads(cookie.value, salt="haven.core.login_security.device")
    assert len(entries) == 1
    assert not any(
        part in str(entries) for part in ("alice", login_security._username_key("alice"))
    )
    desk.post("/logout/")

    _lock_out("alice")

    # A new browser, even at her desk's address, meets the username's lockout ...
    assert _sign_in(_client("192.0.2.30"), "alice", PASSWORD).status_code == 429
    # ... her own browser does not, from wherever it is.
    for address in ["192.0.2.30", "198.51.100.31"]:
        desk.defaults["REMOTE_ADDR"] = address
        assert _sign_in(desk, "alice", PASSWORD).status_code == 302
        assert _signed_in_as(desk) == "alice"
        desk.post("/logout/")


def test_wrong_passwords_on_a_remembered_browser_lock_that_browser_not_the_username(
    personas: Personas,
) -> None:
    desk = _client("192.0.2.32")
    assert _sign_in(desk, "alice", PASSWORD).status_code == 302
    desk.post("/logout/")

    for _ in range(4):
        assert _sign_in(desk, "alice", "wrong").status_code == 200
    assert _sign_in(desk, "alice", "wrong").status_code == 429
    assert _sign_in(desk, "alice", PASSWORD).status_code == 429
    event = AuditEvent.objects.get(action="login.locked_out")
    assert (event.detail["locked"], event.detail["username"]) == ("device", "alice")
    # The username itself was never counted: another browser signs in.
    assert not LoginThrottle.objects.filter(kind=LoginThrottle.Kind.USERNAME).exists()
    assert _sign_in(_client("192.0.2.33"), "alice", PASSWORD).status_code == 302


def test_a_shared_desk_remembers_each_of_its_users(personas: Personas) -> None:
    desk = _client("192.0.2.34")
    for username in ["alice", "bob"]:
        assert _sign_in(desk, username, PASSWORD).status_code == 302
        desk.post("/logout/")
    _lock_out("alice")
    _lock_out("bob", "203.0.113.67")

    for username in ["alice", "bob"]:
        assert _sign_in(desk, username, PASSWORD).status_code == 302
        assert _signed_in_as(desk) == username
        desk.post("/logout/")
    # Remembering bob did not make the desk remember anyone else.
    assert _sign_in(desk, "erin", PASSWORD).status_code == 302  # erin was never locked
    _lock_out("carol", "203.0.113.68")
    assert _sign_in(desk, "carol", PASSWORD).status_code == 429


def test_a_forged_altered_or_another_users_cookie_counts_for_nothing(personas: Personas) -> None:
    bobs = _client("192.0.2.35")
    assert _sign_in(bobs, "bob", PASSWORD).status_code == 302
    genuine = bobs.cookies[DEVICE_COOKIE].value
    _lock_out("alice")

    for value in [genuine, genuine[:-3] + "abc", "W10:1tXXXX:forged", "not-a-cookie"]:
        client = _client("192.0.2.36")
        client.cookies[DEVICE_COOKIE] = value
        assert _sign_in(client, "alice", PASSWORD).status_code == 429, value


def test_a_remembered_browser_is_forgotten_after_its_days(
    personas: Personas, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = _client("192.0.2.37")
    assert _sign_in(desk, "alice", PASSWORD).status_code == 302
    desk.post("/logout/")
    _lock_out("alice")
    later = time.time() + 181 * 86400
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert _sign_in(desk, "alice", PASSWORD).status_code == 429


def test_a_user_with_a_second_factor_is_remembered_only_once_the_code_is_right(
    personas: Personas,
) -> None:
    device = totp_device(personas.dan)
    desk = _client("192.0.2.38")
    assert _sign_in(desk, "dan", PASSWORD).status_code == 302
    assert DEVICE_COOKIE not in desk.cookies  # the password alone is not a complete sign-in
    assert desk.post(CODE, {"code": totp_code(device)}).status_code == 302
    assert DEVICE_COOKIE in desk.cookies
    desk.post("/logout/")

    _lock_out("dan")
    assert _sign_in(desk, "dan", PASSWORD).status_code == 302
    assert desk.post(CODE, {"code": totp_code(device)}).status_code == 302
    assert desk.get("/registrations/").status_code == 200


def test_her_sign_in_does_not_end_the_lockout_someone_else_started(personas: Personas) -> None:
    desk = _client("192.0.2.40")
    assert _sign_in(desk, "alice", PASSWORD).status_code == 302
    desk.post("/logout/")
    _lock_out("alice")

    assert _sign_in(desk, "alice", PASSWORD).status_code == 302
    # Whoever locked it gets no fresh guesses: the right password is still not even checked.
    assert _sign_in(_client("203.0.113.66"), "alice", PASSWORD).status_code == 429


def test_the_address_limit_holds_on_a_remembered_browser(personas: Personas, settings: Any) -> None:
    settings.HAVEN_LOGIN_ADDRESS_FAILURES = 5
    desk = _client("192.0.2.41")
    assert _sign_in(desk, "alice", PASSWORD).status_code == 302
    desk.post("/logout/")
    for username in ["u1", "u2", "u3", "u4", "u5"]:
        _sign_in(_client("192.0.2.41"), username, "wrong")

    assert _sign_in(desk, "alice", PASSWORD).status_code == 429
    assert _signed_in_as(desk) == ""


def test_each_users_entry_lapses_on_its_own_however_often_others_sign_in(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = _client("192.0.2.42")
    start = time.time()

    def on_day(day: int) -> None:
        monkeypatch.setattr(time, "time", lambda: start + day * 86400)

    assert _sign_in(desk, "alice", PASSWORD).status_code == 302
    desk.post("/logout/")
    for day in (100, 179):  # bob signs in at the desk; the cookie is written anew each time
        on_day(day)
        assert _sign_in(desk, "bob", PASSWORD).status_code == 302
        desk.post("/logout/")

    on_day(181)
    _lock_out("alice")
    _lock_out("bob", "203.0.113.67")
    assert _sign_in(desk, "alice", PASSWORD).status_code == 429  # signed in there 181 days ago
    assert _sign_in(desk, "bob", PASSWORD).status_code == 302  # 2 days ago
