"""The coordinator's dashboard and situation report in a real headless Chromium (fixtures of
tests/test_browser.py): the figures on the page are the database's, the charts are drawn, and a
past moment can be chosen with the keyboard alone.
"""

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from haven.registry.models import CrossingCount, Person
from tests import test_browser
from tests.conftest import Personas, browser_sign_in
from tests.test_report_sitrep import START, influx

# tests/test_browser.py's Chromium and page, the same for every browser test.
browser = test_browser.browser
page = test_browser.page
__all__ = ["influx"]  # the fixture, shared with the sitrep tests

pytestmark = pytest.mark.browser


def _sign_in(page: Page, base_url: str, username: str) -> None:
    browser_sign_in(page, base_url, username)  # a coordinator: the password, then the code


def _crossed_by(moment: datetime) -> int:
    counts = CrossingCount.objects.filter(period_end__lte=moment)
    return sum(c.people for c in counts)


def test_the_dashboard_and_a_past_report_show_the_databases_figures(
    personas: Personas, influx: object, live_server: object, page: Page
) -> None:
    base_url = str(live_server)
    _sign_in(page, base_url, "dan")
    page.goto(f"{base_url}/reports/")

    tile = page.locator('.tile[data-figure="unique_people"] .value')
    expect(tile).to_have_text(f"{Person.objects.count():,}")
    crossed = page.locator('.tile[data-figure="crossings"] .value')
    expect(crossed).to_have_text(f"{sum(c.people for c in CrossingCount.objects.all()):,}")
    expect(page.locator(".charts svg")).to_have_count(6)
    expect(page.locator("#headline")).to_contain_text("people had crossed")

    # The report for 18:00 on the first day, chosen in the form.
    page.click("nav >> text=Situation")
    page.goto(f"{base_url}/reports/sitrep/")
    page.fill("#as_of", "2023-09-25T18:00")
    page.keyboard.press("Enter")
    page.wait_for_url("**as_of=2023-09-25T18%3A00**")
    as_of = START + timedelta(hours=18)
    registered = Person.objects.filter(household__registered_at__lte=as_of).count()
    row = page.locator('tr[data-figure="crossings"] td').first
    expect(row).to_have_text(f"{_crossed_by(as_of):,}")
    expect(page.locator('tr[data-figure="unique_people"] td').first).to_have_text(f"{registered:,}")
    expect(page.locator("#headline")).to_contain_text("By 18:00 on 25 September 2023")
    expect(page.locator(".charts svg title").first).to_be_attached()
