"""Site modes in the browser: an admin sets a warning banner and read-only mode on the admin
page; every page shows the banner and the upload page says uploads are closed; closed mode
shows the notice alone; the privacy page. The site is shared with other tests: it is always
reopened (and the notice cleared) at the end."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from .conftest import OpenPage
from .harness import Account, field, screenshot

pytestmark = pytest.mark.browser

NOTICE = "**Maintenance tonight:** uploads and comments are paused until 22:00 UTC. Downloads keep working."


def save_mode(page: Page, mode: str, notice: str, level: str) -> None:
    page.goto("/admin")
    form = page.get_by_role("region", name="Mode and notice")
    form.get_by_label(re.compile(rf"^\s*{mode.capitalize()}:")).check()
    field(form, "Notice").fill(notice)
    form.get_by_label("Warning" if level == "warning" else "Information", exact=True).check()
    form.get_by_role("button", name="Save mode and notice").click()
    expect(page.get_by_role("status").filter(has_text="Site mode and notice saved")).to_be_visible()


@pytest.fixture
def admin_page(open_page: OpenPage, admin: Account) -> Iterator[Page]:
    page, _ = open_page(as_user=admin)
    yield page
    save_mode(page, "open", "", "info")


def test_banner_read_only_and_closed(admin_page: Page, open_page: OpenPage, uploader: Account) -> None:
    page = admin_page
    save_mode(page, "read-only", NOTICE, "warning")
    page.get_by_role("region", name="Mode and notice").scroll_into_view_if_needed()
    screenshot(page, "admin-mode")

    member, watch = open_page(as_user=uploader)
    watch.allow(r"status of 503")  # the upload page answers 503 on purpose
    member.goto("/")
    banner = member.get_by_role("alert", name="Site notice")
    expect(banner).to_contain_text("Maintenance tonight:")
    expect(banner.locator("strong").first).to_have_text("Read-only")
    # The header no longer offers uploads; the address still answers, with the reason.
    expect(member.get_by_role("navigation", name="Main").get_by_role("link", name="Upload",
                                                                     exact=True)).to_have_count(0)
    member.goto("/upload")
    expect(member.get_by_role("heading", level=1)).to_have_text("Read-only for now")
    expect(member.get_by_text("Uploads are closed for now: the site is read-only.")).to_be_visible()
    expect(member.get_by_role("alert", name="Site notice")).to_be_visible()
    screenshot(member, "banner-read-only")

    member.get_by_role("link", name="Privacy").click()
    expect(member).to_have_url(re.compile(r"/privacy$"))
    expect(member.get_by_role("heading", level=1)).to_have_text("Privacy")
    expect(member.get_by_text("There is no access log")).to_be_visible()
    screenshot(member, "privacy-page")

    save_mode(page, "closed", "We are moving to a new server. Back on **Monday**.", "info")
    visitor, watch = open_page()
    watch.allow(r"status of 503")
    visitor.goto("/browse")
    expect(visitor.get_by_role("heading", level=1)).to_contain_text("is closed")
    expect(visitor.get_by_role("status", name="Site notice")).to_contain_text("Back on Monday.")
    screenshot(visitor, "closed-mode")
    # The admin page stays usable, to reopen (the fixture does).
    page.goto("/admin")
    expect(page.get_by_role("region", name="Mode and notice")).to_be_visible()
