"""The donations drive in Chromium: an admin sets up a monthly campaign with its costs and
enters donations; the home page shows the bar, the campaign page the figures and the wall."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import OpenPage
from .harness import PHONE, Account, screenshot

pytestmark = pytest.mark.browser


def test_admin_sets_up_a_campaign_and_visitors_see_it(open_page: OpenPage, admin: Account) -> None:
    page, _ = open_page(as_user=admin)
    page.goto("/admin/donations")
    expect(page.get_by_role("heading", name="Donations", level=1)).to_be_visible()

    new = page.get_by_role("form", name="New campaign")
    new.get_by_label(re.compile(r"^Title")).fill("Keep the tracker running")
    new.get_by_label(re.compile(r"^Description")).fill(
        "Our server and its bandwidth are paid for by **you**.\n\n"
        "Donate by bank transfer to IBAN XX00 0000 0000, reference *swarmdex*.")
    new.get_by_role("radio", name=re.compile("Monthly")).check()
    new.get_by_label(re.compile(r"^Currency")).fill("EUR")
    new.get_by_label(re.compile(r"^Costs")).fill(
        "Hosting: 45.00\nBandwidth: 30.00\nDomain and legal: 5.00")
    screenshot(page, "admin-donations-new-campaign")
    new.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("status")).to_have_text("Campaign saved.")

    form = page.get_by_role("form", name="Enter a donation")
    for amount, currency, name, shown, message in [
        ("25.00", "EUR", "Ada", True, "Thank you for keeping it fast!"),
        ("12.50", "EUR", "Bob", False, ""),
        ("10.00", "USD", "", False, ""),
    ]:
        form.get_by_label(re.compile(r"^Amount")).fill(amount)
        form.get_by_label(re.compile(r"^Currency")).fill(currency)
        form.get_by_label(re.compile(r"^Donor's name")).fill(name)
        form.get_by_label(re.compile(r"agreed to be named")).set_checked(shown)
        form.get_by_label(re.compile(r"^Public message")).fill(message)
        form.get_by_role("button", name="Enter donation").click()
        expect(page.get_by_role("status")).to_have_text("Donation entered.")
    messages = page.get_by_role("region", name="Messages waiting for approval")
    expect(messages).to_contain_text("Thank you for keeping it fast!")
    messages.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text(re.compile("Message approved"))
    ledger = page.get_by_role("region", name="Ledger")
    expect(ledger.get_by_role("row")).to_have_count(4)  # header + 3 entries
    expect(ledger).to_contain_text("10.00 USD")
    screenshot(page, "admin-donations")

    visitor, _ = open_page()
    visitor.goto("/")
    bar = visitor.get_by_role("progressbar", name="Keep the tracker running")
    expect(bar).to_be_visible()
    assert bar.evaluate("e => [e.value, e.max]") == [3750, 8000]
    home = visitor.get_by_role("region", name="Keep the tracker running")
    expect(home).to_contain_text("37.50 EUR raised of 80.00 EUR this month")
    expect(home).to_contain_text("46% of the goal")
    screenshot(visitor, "home-campaign-bar")

    visitor.get_by_role("link", name="Donate and see where the money goes").click()
    expect(visitor).to_have_url(re.compile(r"/donate$"))
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Keep the tracker running")
    card = visitor.locator(".donation-card")
    expect(card).to_contain_text("3 donors")
    expect(card).to_contain_text(re.compile(r"\d+ days? left this month"))
    expect(card).to_contain_text("10.00 USD")
    costs = visitor.get_by_role("table")
    expect(costs).to_contain_text("Hosting")
    expect(costs).to_contain_text("80.00 EUR")
    wall = visitor.get_by_role("region", name="Donor wall")
    expect(wall).to_contain_text("Ada")
    expect(wall).to_contain_text("Thank you for keeping it fast!")
    expect(wall).not_to_contain_text("Bob")
    expect(visitor.locator(".description strong")).to_have_text("you")
    screenshot(visitor, "campaign-page")

    dark, _ = open_page(color_scheme="dark")
    dark.goto("/donate")
    screenshot(dark, "campaign-page-dark")
    phone, _ = open_page(viewport=PHONE, is_mobile=True, device_scale_factor=2)
    phone.goto("/")
    width = phone.evaluate("() => document.documentElement.clientWidth")
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= width
    screenshot(phone, "home-campaign-bar-phone")
