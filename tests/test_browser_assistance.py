"""An assistance officer in a real headless Chromium (fixtures of tests/test_browser.py): adds a
cash programme, computes entitlements, makes a payment list, downloads the bank's CSV, uploads a
reconciliation file with an unknown reference (refused, nothing changed) and then a correct one;
then gives an in-kind item at the distribution point and is refused a second one the same day."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from haven.assistance import actions
from haven.assistance.models import Distribution, Payment, PaymentList
from haven.core.models import User
from haven.registry.actions import register_household
from haven.registry.models import Person
from haven.registry.schemas import HouseholdIn
from tests import factories, test_browser
from tests.conftest import PASSWORD, Personas

browser = test_browser.browser
page = test_browser.page

pytestmark = pytest.mark.browser


def _bank_file(rows: list[str]) -> FilePayload:
    text = "reference;amount;status;reason\n" + "\n".join(rows) + "\n"
    return {"name": "bank-return.csv", "mimeType": "text/csv", "buffer": text.encode()}


def test_an_officer_pays_a_programme_and_hands_out_goods(
    personas: Personas, live_server: object, page: Page
) -> None:
    User.objects.create_user(username="olga", password=PASSWORD, role=User.Role.ASSISTANCE_OFFICER)
    for site in ("KOR", "GORIS", "VAYK"):
        register_household(
            data=HouseholdIn.model_validate(factories.household(site, size=1)),
            acting_user=personas.dan,
        )
    actions.add_programme(
        data=actions.parse_programme(
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
    base_url = str(live_server)
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", "olga")
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url("**/assistance/")

    # A cash programme through the form.
    page.click("text=Add a programme")
    page.fill("#id_code", "arrival-grant")
    page.fill("#id_name", "One-off support on arrival")
    page.select_option("#id_kind", "cash")
    page.fill("#id_amount", "100000")
    page.fill("#id_starts_on", "2023-10-01")
    page.click("button:has-text('Add the programme')")
    expect(page.locator("#rules")).to_contain_text("100\u202f000 AMD per person")

    page.click("button:has-text('Compute entitlements')")
    expect(page.locator(".messages")).to_contain_text("3 people entitled, 0 held")
    expect(page.locator("#runs")).to_contain_text("300000")

    page.click("button:has-text('Make a payment list')")
    expect(page.locator("h1")).to_contain_text("Payment list 1, period 1")
    expect(page.locator("#figures")).to_contain_text("300000 AMD")
    listed = PaymentList.objects.get()
    references = sorted(Payment.objects.values_list("reference", flat=True))

    with page.expect_download() as download:
        page.click("#download-csv")
    saved = Path(download.value.path())
    rows = list(csv.DictReader(io.StringIO(saved.read_bytes().decode("utf-8-sig"))))
    assert sorted(row["reference"] for row in rows) == references
    assert {row["amount"] for row in rows} == {"100000"}
    assert {row["family_name_latin"] for row in rows} == {"Harutyunyan"}

    # The bank's file with a reference that is not on the list: nothing is applied.
    page.set_input_files(
        "#id_file",
        files=[_bank_file([f"{references[0]};100000;paid;", "H000009-0000001;100000;paid;"])],
    )
    page.click("button:has-text('Apply the bank')")
    expect(page.locator("#errors")).to_contain_text(
        "row 3: reference: no payment has the reference H000009-0000001"
    )
    expect(page.locator("#errors")).to_contain_text("nothing changed")
    assert set(Payment.objects.values_list("status", flat=True)) == {"listed"}

    page.set_input_files(
        "#id_file",
        files=[_bank_file([f"{reference};100 000;paid;" for reference in references])],
    )
    page.click("button:has-text('Apply the bank')")
    expect(page.locator(".messages")).to_contain_text("3 paid, 0 failed")
    expect(page.locator("#list-status")).to_contain_text("Reconciled")
    expect(page.locator("#outcomes tr[data-status='paid']")).to_contain_text("3")
    listed.refresh_from_db()
    assert listed.status == "reconciled"

    # The distribution point: a person by registration number, at Kornidzor.
    person = Person.objects.get(site=personas.goris)
    page.click("nav >> text=Assistance")
    page.click("text=Distribution point")
    page.fill("#id_person", str(person.uuid))
    page.select_option("#id_site", "KOR")
    page.click("button:has-text('Look up')")
    expect(page.locator("#person")).to_contain_text(person.given_name)
    # A second desk opens the same person before the first gives.
    other_desk = page.context.new_page()
    other_desk.goto(page.url)
    page.click("button:has-text('Give food parcel')")
    expect(page.locator(".messages")).to_contain_text("Given: 1 × food parcel.")
    expect(page.locator("#goods")).to_contain_text("the most a day is 1")

    other_desk.click("button:has-text('Give food parcel')")
    expect(other_desk.locator(".messages")).to_contain_text(
        "food parcel: given 1 time today, the most a day is 1; next from"
    )
    expect(other_desk.locator("button:has-text('Give food parcel')")).to_have_count(0)
    given = Distribution.objects.get()
    assert (given.person, given.site.code) == (person, "KOR")
