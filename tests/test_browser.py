"""The registration desk in a real headless Chromium, driven by Playwright, keyboard only.

The issue's acceptance test: a registrar signs in, registers a five-person household typing
Armenian, Cyrillic and Latin names without touching the mouse, finds it in the list by a name and
opens the person page. Chromium is found on PATH (or at $HAVEN_CHROMIUM); when it is missing the
test fails and says so: a skipped acceptance test would pass CI without proving anything.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, expect, sync_playwright

from haven.core.models import AuditEvent
from haven.registry.models import Household, Person
from tests.conftest import PASSWORD, Personas

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    path = os.environ.get("HAVEN_CHROMIUM") or shutil.which("chromium")
    if not path or not Path(path).exists():
        pytest.fail(
            "Chromium is needed for the browser tests and was not found: install Debian's"
            " `chromium` package (or set HAVEN_CHROMIUM to its executable).",
            pytrace=False,
        )
    return path


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    # Playwright's sync API keeps an asyncio loop in this thread, and Django refuses ORM calls
    # from a thread with a running loop. The test's own queries are plain synchronous ones made
    # between browser steps, and the live server answers from its own thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
        # While Playwright's loop runs, Django keeps this thread's connections apart from the
        # ones made before it started: close those the test's queries opened, or the test
        # database cannot be dropped at the end of the run.
        connections.close_all()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def _focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.name || ''"))


def _sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    assert _focused(page) == "username"
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/desk/")
    page.wait_for_load_state("load")
    _wait_for_focus(page)


def _wait_for_focus(page: Page) -> None:
    """Keys typed before the page has put the cursor in its first field would be lost."""
    for _ in range(100):
        if _focused(page):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the desk page put the cursor in no field")


def _type_fields(page: Page, values: list[str]) -> None:
    """Type each value into the focused field and Tab on; "" just moves on."""
    for value in values:
        if value:
            page.keyboard.type(value)
        page.keyboard.press("Tab")


# Each member as typed, in the row's tab order: given, family, patronymic, sex (a letter picks
# the option), birth date, estimated age, relationship (letters pick the option), phone,
# document kind, document number, specific needs.
FIVE = [
    [
        "Հասմիկ",
        "Հարությունյան",
        "Արամի",
        "F",
        "1980-05-17",
        "",
        "",
        "+374 91 123456",
        "n",
        "AK0123456",
        "SM-CI",
    ],
    ["Арам", "Арутюнян", "Саркисович", "M", "1978", "", "sp"],
    ["Ani", "Harutyunyan", "", "F", "2012-03", "", "c"],
    ["Davit", "Harutyunyan", "", "M", "", "4", "c"],
    ["Սիրանուշ", "Մկրտչյան", "", "F", "1941", "", "p"],
]


def test_a_registrar_registers_five_people_with_the_keyboard_only(
    personas: Personas, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    _sign_in(page, base_url, "alice")

    # The cursor starts in the household's first field.
    assert _focused(page) == "origin_settlement"
    _type_fields(page, ["Ստեփանակերտ", "+374 97 111222"])
    for index, member in enumerate(FIVE):
        assert _focused(page) == f"m-{index}-given_name"
        _type_fields(page, member[:-1])
        page.keyboard.type(member[-1])
        if index < len(FIVE) - 1:
            page.keyboard.press("Alt+KeyN")
            assert page.locator("fieldset.member").count() == index + 2
            # A new row is nobody's head until the registrar says so.
            expect(page.locator(f"#id_m-{index + 1}-relationship")).to_have_value("")

    screenshot = os.environ.get("HAVEN_DESK_SCREENSHOT")
    if screenshot:
        page.screenshot(path=screenshot, full_page=True)
    # Ctrl+Enter registers from wherever the cursor is.
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{base_url}/registrations/")
    expect(page.locator(".messages")).to_contain_text(
        "Registered the household of Հասմիկ Արամի Հարությունյան"
    )
    expect(page.locator(".messages")).to_contain_text("5 members")

    household = Household.objects.get()
    assert household.site == personas.kor
    assert household.origin_settlement == "Ստեփանակերտ"
    persons = list(Person.objects.filter(household=household).order_by("id"))
    assert [(p.given_name, p.family_name, p.patronymic) for p in persons] == [
        ("Հասմիկ", "Հարությունյան", "Արամի"),
        ("Арам", "Арутюнян", "Саркисович"),
        ("Ani", "Harutyunyan", ""),
        ("Davit", "Harutyunyan", ""),
        ("Սիրանուշ", "Մկրտչյան", ""),
    ]
    assert [p.given_name_script for p in persons] == [
        "armenian",
        "cyrillic",
        "latin",
        "latin",
        "armenian",
    ]
    assert [p.relationship for p in persons] == ["head", "spouse", "child", "child", "parent"]
    assert [p.sex for p in persons] == ["F", "M", "F", "M", "F"]
    assert [(p.birth_year, p.birth_month, p.birth_day) for p in persons[:3]] == [
        (1980, 5, 17),
        (1978, None, None),
        (2012, 3, None),
    ]
    assert persons[3].birth_year_estimated
    assert persons[0].documents.get().number == "AK0123456"
    assert persons[0].specific_needs == ["SM-CI"]

    # Find the household again by a name, from the search box, and open a member's page.
    assert _focused(page) == "q"  # the search box has the focus when the list opens
    page.keyboard.type("Aram Harutyunyan")  # another script: found by the name keys
    page.keyboard.press("Enter")
    page.wait_for_url("**/registrations/?q=*")
    results = page.locator("td.name a")
    expect(results).to_have_count(1)
    expect(results.first).to_have_text("Арам Саркисович Арутюнян")
    for _ in range(10):  # Tab on from the search box to the first person in the list
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('td.name') !== null"):
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/persons/{persons[1].uuid}/")
    expect(page.locator("h1")).to_have_text("Арам Саркисович Арутюнян")
    expect(page.locator("#h-household + dl")).to_contain_text("Ստեփանակերտ")
    assert AuditEvent.objects.filter(action="person.view", object_uuid=persons[1].uuid).count() == 1


def test_an_invalid_name_is_shown_beside_its_field(
    personas: Personas, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    _sign_in(page, base_url, "alice")
    _type_fields(page, ["", ""])
    # A Latin name with an Armenian letter in it, as a mistyped keyboard layout gives.
    _type_fields(page, ["Aram", "Harutյunyan", "", "M", "1975"])
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")

    error = page.locator("#err-m-0-family_name")
    expect(error).to_be_visible()
    expect(error).to_contain_text("mixes alphabets")
    field = page.locator("#id_m-0-family_name")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value("Harutյunyan")
    # The cursor is back in the field to fix, and the error sits right under it.
    assert _focused(page) == "m-0-family_name"
    field_box, error_box = field.bounding_box(), error.bounding_box()
    assert field_box is not None
    assert error_box is not None
    assert abs(error_box["x"] - field_box["x"]) < 2
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 12
    expect(page.locator("#error-summary")).to_contain_text("Family name")
    assert not Household.objects.exists()
    assert not Person.objects.exists()


def test_the_desk_works_without_javascript(
    personas: Personas, live_server: object, browser: Browser
) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    base_url = str(live_server)
    _sign_in(page, base_url, "alice")
    _type_fields(page, ["Մարտունի", ""])
    _type_fields(page, ["Գայանե", "Սարգսյան", "", "F", "1990"])

    # Without JavaScript, "Add member" is a submit button (Alt+N is its access key, which
    # synthetic key events cannot press): the server sends the form back with one more row, what
    # was typed kept, and the cursor in the new row.
    for _ in range(15):
        if page.evaluate("document.activeElement.id") == "add-member":
            break
        page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Space")
    assert page.locator("fieldset.member").count() == 2
    expect(page.locator("#id_m-0-given_name")).to_have_value("Գայանե")
    assert _focused(page) == "m-1-given_name"
    _type_fields(page, ["Լիլիթ", "Սարգսյան", "", "F", "2015", "", "c"])
    # Enter in a field registers the household (not "Add member", the button nearer to it).
    assert _focused(page) == "m-1-phone"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/registrations/")
    context.close()

    household = Household.objects.get()
    assert household.origin_settlement == "Մարտունի"
    assert sorted(household.members.values_list("given_name", "relationship")) == [
        ("Գայանե", "head"),
        ("Լիլիթ", "child"),
    ]


def test_documents_and_disability_answers_are_entered_with_the_keyboard(
    personas: Personas, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    _sign_in(page, base_url, "alice")
    _type_fields(page, ["Մարտունի", ""])
    _type_fields(page, ["Գայանե", "Սարգսյան", "", "F", "1990", "", "", "", "n", "AK7654321", ""])

    # After the row's own fields, Tab reaches the two collapsed blocks' headings, one each.
    assert page.evaluate("document.activeElement.parentElement.id") == "m-0-documents"
    page.keyboard.press("Enter")  # opens the block; Tab now goes through its inputs
    expect(page.locator("#m-0-documents")).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    assert _focused(page) == "m-0-document_country"
    _type_fields(page, ["ARM", "p", "AB1234567", "RUS"])
    assert _focused(page) == "m-0-document_3_kind"
    _type_fields(page, ["", "", ""])
    assert page.evaluate("document.activeElement.parentElement.id") == "m-0-disability"
    page.keyboard.press("Space")
    # Each answer is picked by its number: seeing, hearing, walking, remembering, self-care.
    page.keyboard.press("Tab")
    assert _focused(page) == "m-0-wg_seeing"
    _type_fields(page, ["1", "2", "4", "", "3"])
    assert _focused(page) == "m-0-wg_communicating"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "add-member"
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{base_url}/registrations/")

    person = Person.objects.get()
    assert [
        person.wg_seeing,
        person.wg_hearing,
        person.wg_walking,
        person.wg_remembering,
        person.wg_selfcare,
        person.wg_communicating,
    ] == [1, 2, 4, None, 3, None]
    assert list(
        person.documents.order_by("id").values_list("kind", "number", "issuing_country")
    ) == [("nk_passport", "AK7654321", "ARM"), ("passport", "AB1234567", "RUS")]

    page.goto(f"{base_url}/persons/{person.uuid}/")
    expect(page.locator("#wg-disability")).to_be_visible()
    expect(page.locator(".wg-answers")).to_contain_text("Difficulty walking or climbing steps")
    expect(page.locator(".wg-answers")).to_contain_text("4 · cannot do at all")
