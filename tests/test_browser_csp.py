"""Haven's pages under their Content-Security-Policy in a real headless Chromium (fixtures of
tests/test_browser.py): the main pages of each role, the public form and the API's Swagger page
load without a single CSP violation or console error, and the pages' own JavaScript still runs
(the desk's alphabet hint and its Alt+N row, Swagger UI drawing the API).

Chromium reports each violation twice, as a `securitypolicyviolation` event in the page and as a
console error; the test listens to both. It first makes sure the listener does hear a violation.
"""

import re
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from haven.assistance import actions as assistance
from haven.core.models import User
from haven.registry.actions import register_household
from haven.registry.models import Household
from haven.registry.schemas import HouseholdIn
from haven.shelter import actions as shelter
from tests import factories, test_browser
from tests.conftest import PASSWORD, Personas, browser_sign_in

browser = test_browser.browser
page = test_browser.page

pytestmark = pytest.mark.browser

# Runs in every document before its own scripts (Playwright's init scripts are not subject to
# the page's CSP): keeps each violation the page reports.
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


@dataclass
class Watch:
    """What the browser reported, page by page."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    violations: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.page.add_init_script(LISTEN)
        self.page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        # Errors, and warnings about a policy (an unknown Permissions-Policy feature is one).
        if message.type == "error" or (message.type == "warning" and "Policy" in message.text):
            self.console_errors.append(f"{self.page.url}: {message.text}")

    def collect(self) -> list[str]:
        """The violations reported so far on the page shown now."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(150)  # violation events are queued tasks: let them run
        found: list[str] = self.page.evaluate("window.__violations || []")
        self.violations[self.page.url] = found
        return found

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None, url
        assert response.status == 200, (url, response.status)
        header = response.headers["content-security-policy"]
        assert re.search(r"(^|; )script-src 'self'(;|$)", header), header
        assert "unsafe" not in header, header
        self.collect()


def _household(personas: Personas) -> Household:
    payload = factories.household(site="KOR", size=2)
    household, _ = register_household(
        data=HouseholdIn.model_validate(payload), acting_user=personas.alice
    )
    return household


def _sign_in(page: Page, base_url: str, username: str, lands_on: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"**{lands_on}")


def _sign_out(page: Page) -> None:
    page.click("form.logout button")
    page.wait_for_url("**/login/")


def test_the_listener_hears_a_violation(live_server: object, page: Page) -> None:
    watch = Watch(page)
    watch.visit(f"{live_server}/find/")
    assert watch.violations[page.url] == []
    # A style attribute is what the policy refuses: the page must report it.
    page.evaluate("document.body.setAttribute('style', 'background: red')")
    reported = watch.collect()
    assert any(v.startswith("style-src-attr blocked inline") for v in reported), reported
    assert any("Content Security Policy" in e for e in watch.console_errors)


def test_every_roles_pages_run_under_the_policy(
    personas: Personas, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    household = _household(personas)
    person = household.members.order_by("pk").first()
    assert person is not None
    mia = User.objects.create_user(
        username="mia", password=PASSWORD, role=User.Role.SHELTER_MANAGER
    )
    school = shelter.add_shelter(
        data=shelter.parse_shelter(
            {
                "code": "GOR-SCH-1",
                "name": "Goris school No. 1",
                "kind": "collective",
                "province": "Syunik",
                "town": "Goris",
                "beds": 8,
                "step_free": True,
            }
        ),
        acting_user=personas.dan,
    )
    school.managers.add(mia)
    User.objects.create_user(username="olga", password=PASSWORD, role=User.Role.ASSISTANCE_OFFICER)
    programme = assistance.add_programme(
        data=assistance.parse_programme(
            {
                "code": "food",
                "name": "Food parcels",
                "kind": "in_kind",
                "item": "food parcel",
                "amount": 1,
                "max_per_day": 1,
                "frequency": "once",
                "starts_on": "2023-10-01",
            }
        ),
        acting_user=personas.dan,
    )
    watch = Watch(page)

    # The public: the request form, the sign-in page and the API's Swagger page.
    watch.visit(f"{base_url}/find/")
    watch.visit(f"{base_url}/login/")
    # Swagger UI's scripts run (from django-ninja's static files) and fetch the document.
    with page.expect_response(f"{base_url}/api/openapi.json") as document:
        watch.visit(f"{base_url}/api/docs")
    assert document.value.status == 200
    expect(page.locator("#swagger-ui .swagger-ui").first).to_be_attached()
    watch.collect()

    # A registrar: the desk, whose script shows each name's alphabet and adds rows on Alt+N.
    _sign_in(page, base_url, "alice", "/desk/")
    watch.visit(f"{base_url}/desk/")
    page.fill("#id_m-0-given_name", "Հասմիկ")
    expect(page.locator("#id_m-0-given_name + .script")).to_have_text("Armenian")
    page.fill("#id_m-0-family_name", "Harutyunyan")
    expect(page.locator("#id_m-0-family_name + .script")).to_have_text("Latin")
    page.keyboard.press("Alt+KeyN")
    expect(page.locator("fieldset.member")).to_have_count(2)
    page.keyboard.type("Асмик")
    expect(page.locator("#id_m-1-given_name + .script")).to_have_text("Cyrillic")
    watch.collect()
    watch.visit(f"{base_url}/registrations/")
    watch.visit(f"{base_url}/persons/{person.uuid}/")
    _sign_out(page)

    # A shelter manager: her shelters, one of them, the allocation page.
    _sign_in(page, base_url, "mia", "/shelters/")
    watch.visit(f"{base_url}/shelters/")
    watch.visit(f"{base_url}/shelters/GOR-SCH-1/")
    watch.visit(f"{base_url}/shelters/allocation/")
    _sign_out(page)

    # An assistance officer: the programmes, one programme, the distribution point.
    _sign_in(page, base_url, "olga", "/assistance/")
    watch.visit(f"{base_url}/assistance/")
    watch.visit(f"{base_url}/assistance/programmes/{programme.uuid}/")
    watch.visit(f"{base_url}/assistance/distribute/")
    _sign_out(page)

    # A coordinator (with the second factor): the situation, tracing, the review queue.
    browser_sign_in(page, base_url, "dan")
    watch.visit(f"{base_url}/reports/")
    watch.visit(f"{base_url}/reports/sitrep/")
    watch.visit(f"{base_url}/tracing/")
    watch.visit(f"{base_url}/tracing/new/")
    watch.visit(f"{base_url}/identity/review/")

    assert len(watch.violations) == 17  # every page above was looked at
    assert {url: found for url, found in watch.violations.items() if found} == {}
    assert [e for e in watch.console_errors if "Policy" in e] == []
    # Haven's own pages log no error at all. (Swagger UI's page may log its own complaints about
    # the document, which tests/test_api_openapi.py looks after: only the policy matters here.)
    assert [e for e in watch.console_errors if "/api/docs" not in e] == []
