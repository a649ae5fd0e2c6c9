"""A caseworker traces a relative in a real headless Chromium (fixtures of tests/test_browser.py):
records a request in Russian for a woman registered in Armenian, sees her ranked with the model's
probability, marks her found, records her consent, reads what the searcher may be told, closes
the request as reunited."""

import pytest
from playwright.sync_api import Page, expect

from haven.tracing.models import TracingRequest
from tests import test_browser
from tests.check_support import ensure_model, register
from tests.conftest import Personas, browser_sign_in
from tests.test_tracing_actions import OTHERS

browser = test_browser.browser
page = test_browser.page

pytestmark = pytest.mark.browser


def test_a_caseworker_traces_a_relative_from_request_to_reunion(
    personas: Personas, live_server: object, page: Page
) -> None:
    ensure_model()
    for other in OTHERS:  # a registry in which "Aram" is not every other name
        register(personas.alice, "KOR", [other])
    household = register(
        personas.bob,
        "GORIS",
        [
            {
                "given_name": "Հասմիկ",
                "family_name": "Հարությունյան",
                "sex": "F",
                "birth_date": "1980-05-17",
            },
            {
                "given_name": "Արամ",
                "family_name": "Հարությունյան",
                "sex": "M",
                "birth_date": "1978",
            },
        ],
    )
    hasmik = household.members.get(given_name="Հասմիկ")
    base_url = str(live_server)
    browser_sign_in(page, base_url, "carol")  # a caseworker: the password, then the code

    page.click("nav >> text=Tracing")
    page.click("text=Record a new request")
    page.fill("#id_sought_name", "Асмик Арутюнян")
    page.fill("#id_sought_birth_year", "1980")
    page.select_option("#id_sought_sex", "F")
    page.fill("#id_sought_relatives", "Арам")
    page.fill("#id_searcher_name", "Ани Арутюнян")
    page.fill("#id_searcher_contact", "+374 91 000000")
    page.check("#id_consent")
    page.click("button:has-text('Record and search')")

    request = TracingRequest.objects.get()
    page.wait_for_url(f"**/tracing/{request.uuid}/")
    first = page.locator("table tbody tr").first
    expect(first).to_contain_text(hasmik.given_name)
    match = request.matches.get(person=hasmik)
    expect(first.locator("td.prob")).to_contain_text(f"{round(match.probability * 100)} %")
    expect(first).to_contain_text("a relative the searcher named")
    expect(page.locator("#tell")).to_contain_text("still looking")

    first.locator("button:has-text('This is them')").click()
    expect(page.locator("#tell")).to_contain_text("Ask the person found first")
    page.click("button:has-text('They agree to share where they are')")
    expect(page.locator("#tell")).to_contain_text(hasmik.site.name)

    page.select_option("#id_outcome", "reunited")
    page.click("button:has-text('Close')")
    expect(page.locator("#status")).to_contain_text("Closed: reunited")
    request.refresh_from_db()
    assert (request.status, request.found, request.disclosure) == ("reunited", hasmik, "allowed")
