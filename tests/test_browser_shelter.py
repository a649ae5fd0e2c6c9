"""A shelter manager's day in a real headless Chromium (fixtures of tests/test_browser.py): signs
in and lands on the shelters she manages, proposes an allocation of the waiting households,
moves one household to her other shelter, accepts, sees the families in the presence list and
checks one out."""

import pytest
from playwright.sync_api import Page, expect

from haven.core.models import AuditEvent, User
from haven.registry.actions import register_household
from haven.registry.models import Household
from haven.registry.schemas import HouseholdIn
from haven.shelter import actions
from haven.shelter.models import Shelter, Stay
from tests import factories, test_browser
from tests.conftest import PASSWORD, Personas

browser = test_browser.browser
page = test_browser.page

pytestmark = pytest.mark.browser


def _shelter(personas: Personas, code: str, name: str, beds: int) -> Shelter:
    data = {
        "code": code,
        "name": name,
        "kind": "collective",
        "province": "Syunik",
        "town": "Goris",
        "beds": beds,
        "step_free": True,
    }
    return actions.add_shelter(data=actions.parse_shelter(data), acting_user=personas.dan)


def _household(personas: Personas, size: int, given_name: str) -> Household:
    payload = factories.household(size=size)
    payload["members"][0]["given_name"] = given_name
    created, _ = register_household(
        data=HouseholdIn.model_validate(payload), acting_user=personas.alice
    )
    return created


def test_a_shelter_manager_allocates_and_checks_out(
    personas: Personas, live_server: object, page: Page
) -> None:
    mia = User.objects.create_user(
        username="mia", password=PASSWORD, role=User.Role.SHELTER_MANAGER
    )
    school = _shelter(personas, "GOR-SCH-1", "Goris school No. 1", 8)
    hotel = _shelter(personas, "GOR-HOT-1", "Hotel Mirhav", 4)
    _shelter(personas, "VAYK-1", "Vayk school", 40)  # not hers
    school.managers.add(mia)
    hotel.managers.add(mia)
    lilit = _household(personas, 3, "Lilit")
    gor = _household(personas, 2, "Gor")

    base_url = str(live_server)
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url("**/shelters/")
    rows = page.locator("#shelters tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#shelters")).not_to_contain_text("Vayk school")
    expect(page.locator('tr[data-shelter="GOR-SCH-1"]')).to_contain_text("Goris school No. 1")

    page.click("text=Allocate waiting households")
    page.click("button:has-text('Propose an allocation')")
    expect(page.locator('[data-figure="households_placed"] dd')).to_have_text("2")
    expect(page.locator('[data-figure="split_households"] dd')).to_have_text("0")
    expect(page.locator('[data-figure="over_capacity"] dd')).to_have_text("0")
    expect(page.locator("#placed")).to_contain_text("Lilit")
    expect(page.locator("#beds")).not_to_contain_text("VAYK-1")

    # Gor's family goes to the hotel, whatever the solver chose; Lilit's to the school.
    page.select_option(f'select[name="to-{gor.uuid}"]', "GOR-HOT-1")
    page.select_option(f'select[name="to-{lilit.uuid}"]', "GOR-SCH-1")
    page.click("button:has-text('Check my changes')")
    expect(page.locator(".messages")).to_contain_text("The allocation fits")
    expect(page.locator(f'select[name="to-{gor.uuid}"]')).to_have_value("GOR-HOT-1")
    page.click("button:has-text('Accept and check everyone in')")
    page.wait_for_url("**/shelters/")
    expect(page.locator(".messages")).to_contain_text("2 households checked in")
    expect(page.locator('tr[data-shelter="GOR-HOT-1"] [data-occupied]')).to_have_text("2")
    assert {s.household_id: s.shelter_id for s in Stay.objects.all()} == {
        lilit.pk: school.pk,
        gor.pk: hotel.pk,
    }

    page.click("text=Goris school No. 1")
    presence = page.locator("#presence")
    expect(presence).to_contain_text("Lilit")
    expect(presence).to_contain_text("Арам")  # the factory's spouse
    expect(page.locator("#occupied")).to_have_text("3")
    page.locator(f'tr[data-household="{lilit.uuid}"] button:has-text("Check out")').click()
    expect(page.locator(".messages")).to_contain_text("checked out: 3 people")
    expect(page.locator("#nobody")).to_be_visible()
    expect(page.locator("#occupied")).to_have_text("0")

    assert Stay.objects.get(household=lilit).checked_out_at is not None
    assert AuditEvent.objects.filter(action="shelter.allocation.accept", user=mia).exists()
    assert AuditEvent.objects.filter(action="shelter.check_out", user=mia).count() == 1
    viewed = AuditEvent.objects.filter(user=mia, action="person.view")
    assert viewed.filter(detail__via="shelter_presence").count() == 3
    assert viewed.filter(detail__via="shelter_allocation").exists()
