"""The desk-time check in a real headless Chromium, keyboard only (fixtures and helpers of
tests/test_browser.py): while a registrar at Kornidzor types a woman already registered at Goris in
Armenian, the desk shows who she may be, why, and how likely, without taking the cursor away or
stopping the registration.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from haven.core.models import AuditEvent
from haven.registry.models import Household, Person
from tests import test_browser
from tests.check_support import ensure_model, register
from tests.conftest import Personas
from tests.test_browser import _focused, _sign_in, _type_fields

# tests/test_browser.py's Chromium and page, the same for every browser test.
browser = test_browser.browser
page = test_browser.page

pytestmark = pytest.mark.browser


@pytest.fixture
def at_goris(personas: Personas) -> Person:
    ensure_model()
    household = register(
        personas.bob,
        "GORIS",
        [
            {
                "given_name": "Հասմիկ",
                "family_name": "Հարությունյան",
                "patronymic": "Արամի",
                "sex": "F",
                "birth_date": "1980-05-17",
            }
        ],
    )
    return household.members.get()


def test_the_desk_shows_who_she_may_already_be_while_she_is_typed(
    personas: Personas, at_goris: Person, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    _sign_in(page, base_url, "alice")
    assert _focused(page) == "origin_settlement"
    _type_fields(page, ["", ""])
    panel = page.locator("fieldset#m-0 #check-m-0")
    expect(panel).to_have_attribute("aria-live", "polite")
    expect(panel).to_be_empty()

    # Her names in Latin, sex and birth date; Tab on to the age box.
    _type_fields(page, ["Hasmik", "Harutyunyan", "", "F", "1980-05-17"])

    expect(panel).to_contain_text("Possibly already registered:")
    expect(panel).to_contain_text("Հասմիկ Արամի Հարությունյան")
    expect(panel).to_contain_text("Goris hub")
    expect(panel).to_contain_text("registered 2023-09-26")
    expect(panel).to_contain_text("same family name, Latin ↔ Armenian")
    expect(panel).to_contain_text("same date of birth")
    expect(panel.locator(".probability")).to_have_text(re.compile(r"^(>99|\d{1,2})%$"))
    # The advice does not take the cursor: it is where the registrar put it.
    assert _focused(page) == "m-0-estimated_age"

    # Her birth date corrected to her daughter's: the panel follows what is typed.
    page.keyboard.press("Shift+Tab")
    assert _focused(page) == "m-0-birth_date"
    page.keyboard.press("Control+A")
    page.keyboard.type("2004-09-02")
    page.keyboard.press("Tab")
    expect(panel).to_be_empty()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("1980-05-17")
    page.keyboard.press("Tab")
    expect(panel).to_contain_text("Goris hub")

    # Advice, not a block: Ctrl+Enter registers her.
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{base_url}/registrations/")
    assert Household.objects.count() == 2
    assert Person.objects.filter(given_name="Hasmik", site=personas.kor).exists()
    shown = AuditEvent.objects.filter(action="person.check", user=personas.alice)
    assert set(shown.values_list("object_uuid", flat=True)) == {at_goris.uuid}


def test_a_member_added_with_alt_n_is_checked_too(
    personas: Personas, at_goris: Person, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    _sign_in(page, base_url, "alice")
    _type_fields(page, ["", ""])
    _type_fields(page, ["Արամ", "Հարությունյան", "", "M", "1978", "", ""])
    page.keyboard.press("Alt+KeyN")
    assert _focused(page) == "m-1-given_name"
    expect(page.locator("#check-m-0")).to_be_empty()  # nobody like him is registered

    _type_fields(page, ["Асмик", "Арутюнян", "Арамовна", "F", "1980-05-17"])

    panel = page.locator("fieldset#m-1 #check-m-1")
    expect(panel).to_contain_text("same family name, Cyrillic ↔ Armenian")
    expect(panel).to_contain_text("same patronymic, Cyrillic ↔ Armenian")
    assert _focused(page) == "m-1-estimated_age"


def test_a_form_sent_back_with_errors_keeps_the_panel_under_its_member(
    personas: Personas, at_goris: Person, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    _sign_in(page, base_url, "alice")
    _type_fields(page, ["", ""])
    _type_fields(page, ["Hasmik", "Harutyunyan", "", "F", "1980-05-17", "", ""])
    page.keyboard.press("Alt+KeyN")
    # A Latin name with an Armenian letter in it: the registration refuses it.
    _type_fields(page, ["Aram", "Harutյunyan", "", "M", "1978", "", "sp"])
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")

    # The desk's script moves the focus to the first field in error once it has run (a deferred
    # script: on a loaded machine a moment after the navigation's load event reaches the test).
    page.wait_for_function("document.activeElement && document.activeElement.name", timeout=10_000)
    assert _focused(page) == "m-1-family_name"
    panel = page.locator("fieldset#m-0 #check-m-0")
    expect(panel).to_contain_text("Possibly already registered:")
    expect(panel).to_contain_text("Goris hub")
    # The server drew it below the members; the script put it under its member.
    expect(page.locator("#desk-checks")).to_have_count(0)
    expect(panel.locator(".check-member")).to_have_count(0)
    expect(page.locator("#check-m-1")).to_be_empty()
    assert not Person.objects.filter(site=personas.kor).exists()
