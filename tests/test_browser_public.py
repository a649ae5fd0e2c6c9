"""The public request form in a real headless Chromium (fixtures of tests/test_browser.py), with
no account: switched to Russian with the site's language buttons, filled from the keyboard (the
honeypot never takes the cursor), sent without consent and shown the error beside the box, then
sent and thanked."""

import time

import pytest
from django.utils import translation
from playwright.sync_api import Page, expect

from haven.tracing import public
from haven.tracing.models import TracingRequest
from tests import test_browser

# tests/test_browser.py's Chromium and page, the same for every browser test.
browser = test_browser.browser
page = test_browser.page

pytestmark = pytest.mark.browser


def _russian(message: str) -> str:
    with translation.override("ru"):
        return str(translation.gettext(message))


def _wait_as_a_person_would(since: float) -> None:
    """The form refuses (quietly) what comes back faster than a person fills it in."""
    time.sleep(max(0.0, since + public.MIN_FILL_SECONDS + 0.5 - time.monotonic()))


def test_someone_asks_in_russian_and_is_thanked(
    transactional_db: None, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    page.goto(f"{base_url}/find/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Русский").click()
    page.wait_for_url(f"{base_url}/find/")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("button", name="Русский")).to_have_attribute("aria-pressed", "true")
    shown = time.monotonic()

    # From the name to the consent box by Tab alone; the honeypot is never on the way.
    page.locator("#id_sought_name").focus()
    visited = []
    for value in [
        "Асмик Арутюнян",
        "1980",
        "",
        "",
        "Мартакерт",
        "Вардгес Арутюнян",
        "Степанакерт",
        "25 сентября",
        "",
        "Ани Арутюнян",
        "+374 91 000000",
    ]:
        visited.append(page.evaluate("document.activeElement.name"))
        if value:
            page.keyboard.type(value)
        page.keyboard.press("Tab")
    visited.append(page.evaluate("document.activeElement.name"))
    assert "website" not in visited
    assert visited[-1] == "searcher_language"
    expect(page.locator("#id_searcher_language")).to_have_value("ru")

    # Sent without consent: nothing stored, the error beside the box and at the top.
    _wait_as_a_person_would(shown)
    page.get_by_role("button", name=_russian("Send the request")).click()
    page.wait_for_load_state("load")
    shown = time.monotonic()
    error = _russian("Tick this box to send the request: without it we cannot record it.")
    expect(page.locator("#id_consent_error")).to_have_text(error)
    expect(page.get_by_role("alert")).to_contain_text(error)
    expect(page.locator("#id_sought_name")).to_have_value("Асмик Арутюнян")
    assert not TracingRequest.objects.exists()

    page.locator("#id_consent").check()
    _wait_as_a_person_would(shown)
    page.get_by_role("button", name=_russian("Send the request")).click()
    page.wait_for_url(f"{base_url}/find/sent/")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("heading", level=1)).to_have_text(_russian("Your request was received"))

    request = TracingRequest.objects.get()
    assert request.source == TracingRequest.Source.PUBLIC
    assert request.sought_name == "Асмик Арутюнян"
    assert request.searcher_language == "ru"
    assert request.matched_at is None
