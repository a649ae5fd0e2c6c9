"""Signing in with the second factor in a real headless Chromium (fixtures of
tests/test_browser.py): a coordinator enrols by typing the key shown on the page into a TOTP
computation, as an authenticator app would, signs out, signs in again with a code, and a wrong
code is refused. Keyboard only."""

from base64 import b32decode

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from tests import test_browser
from tests.conftest import PASSWORD, Personas, totp_code

browser = test_browser.browser
page = test_browser.page

pytestmark = pytest.mark.browser


def _password(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_load_state("load")


def test_a_coordinator_enrols_then_signs_in_with_a_code(
    personas: Personas, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    _password(page, base_url, "dan")

    page.wait_for_url("**/login/enrol/**")
    expect(page.locator("h1")).to_have_text("Set up your second factor")
    expect(page.locator("#qr svg")).to_be_visible()
    expect(page.locator("nav")).to_have_count(0)  # no menu before the code
    secret = page.locator("#secret").inner_text().replace(" ", "")
    # What an authenticator app computes from the key it was given.
    key = b32decode(secret + "=" * (-len(secret) % 8))
    expect(page.locator("#id_code")).to_be_focused()
    page.keyboard.type(f"{totp(key):06d}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/registrations/")
    expect(page.locator("nav")).to_contain_text("Situation")
    assert TOTPDevice.objects.get(user=personas.dan).confirmed

    # Signed out, the password leads to the code page, where a wrong code is refused.
    page.click("nav >> text=Log out")
    page.wait_for_url("**/login/")
    _password(page, base_url, "dan")
    page.wait_for_url("**/login/code/**")
    expect(page.locator("h1")).to_have_text("Enter your 6-digit code")
    device = TOTPDevice.objects.get(user=personas.dan)
    right = totp_code(device)
    page.keyboard.type(f"{(int(right) + 1) % 1_000_000:06d}")
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    expect(page.locator(".field-error")).to_contain_text("That code is not right.")
    page.goto(f"{base_url}/reports/")
    page.wait_for_url("**/login/code/?next=/reports/")

    page.wait_for_timeout(1100)  # django-otp's own one-second pause after a wrong code
    page.fill("#id_code", totp_code(device))
    page.press("#id_code", "Enter")
    page.wait_for_url(f"{base_url}/reports/")
    expect(page.locator("h1")).to_be_visible()


def test_a_registrar_signs_in_without_a_code(
    personas: Personas, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    _password(page, base_url, "alice")
    page.wait_for_url(f"{base_url}/desk/")
    assert not TOTPDevice.objects.filter(user=personas.alice).exists()
