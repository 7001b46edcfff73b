"""Profiles in the browser: a member fills in their profile, and it shows at /u/{name} with
their identicon, their public uploads (not the anonymous one) and no e-mail address."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import OpenPage
from .harness import PHONE, Account, Site, field, make_torrent_file, screenshot

pytestmark = pytest.mark.browser

EMAIL = "quiet.reader@example.org"
BIO = """Seeding **Debian** images since 2009.

- mirrors of the weekly builds
- [my notes](https://example.org/notes)
"""


def upload(page: Page, file: Path, category: str, title: str, *, anonymous: bool) -> None:
    """Send /upload (already open, with the anonymous box as the profile set it)."""
    field(page, "Torrent file").set_input_files(file)
    field(page, "Category").select_option(category)
    field(page, "Title").fill(title)
    page.get_by_label(re.compile("Upload anonymously")).set_checked(anonymous)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def avatar_loaded(page: Page) -> bool:
    image = page.locator("img.avatar").first
    return bool(image.evaluate("img => img.complete && img.naturalWidth > 0"))


def test_member_edits_profile_and_it_shows(open_page: OpenPage, site: Site, category: str,
                                           tmp_path: Path) -> None:
    account = site.create_user("profiled")
    page, _ = open_page(as_user=account)
    public_title = f"Debian weekly {secrets.token_hex(3)}"
    secret_title = f"Private mix {secrets.token_hex(3)}"

    page.goto("/upload")
    upload(page, make_torrent_file(tmp_path / "a", "debian-weekly.iso").path, category,
           public_title, anonymous=False)
    # The uploader's name on the torrent page leads to their profile.
    page.locator("dl.facts").get_by_role("link", name=account.name, exact=True).click()
    expect(page).to_have_url(re.compile(f"/u/{re.escape(account.name)}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(account.name)

    # From the account page to the settings form.
    page.goto("/account")
    page.get_by_role("link", name="Edit your profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")
    field(page, "Display name").fill("Quiet Reader")
    field(page, "About you").fill(BIO)
    field(page, "E-mail address").fill(EMAIL)
    page.get_by_label(re.compile("Upload anonymously by default")).check()
    page.get_by_label(re.compile("Show a donor badge")).check()
    assert avatar_loaded(page)
    screenshot(page, "profile-settings")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_contain_text("Your profile was saved.")
    expect(field(page, "E-mail address")).to_have_value(EMAIL)

    # The upload form now starts anonymous.
    page.goto("/upload")
    expect(page.get_by_label(re.compile("Upload anonymously"))).to_be_checked()
    upload(page, make_torrent_file(tmp_path / "b", "private-mix.flac").path, category,
           secret_title, anonymous=True)
    expect(page.locator("dl.facts")).to_contain_text("anonymous")
    expect(page.locator("dl.facts").get_by_role("link", name=account.name)).to_have_count(0)

    page.goto("/account/profile")
    page.get_by_role("link", name=f"/u/{account.name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Quiet Reader")
    profile = page.locator("article.profile")
    expect(profile).to_contain_text(account.name)
    expect(profile.locator(".profile-bio strong")).to_have_text("Debian")
    expect(profile.get_by_role("link", name=public_title)).to_be_visible()
    expect(profile).not_to_contain_text(secret_title)
    expect(profile.locator(".profile-counts")).to_contain_text("1upload")
    expect(profile.get_by_role("link", name="Edit your profile")).to_be_visible()
    # Opted in to the donor badge, but no donation is known: no badge.
    expect(profile.locator(".badge-donor")).to_have_count(0)
    assert avatar_loaded(page)
    assert EMAIL not in page.content()
    screenshot(page, "profile")

    # A visitor on a phone, in dark mode: the same page, nothing cut off or scrolling sideways.
    phone, _ = open_page(viewport=PHONE, is_mobile=True, device_scale_factor=2, color_scheme="dark")
    phone.goto(f"/u/{account.name}")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Quiet Reader")
    expect(phone.get_by_role("link", name="Edit your profile")).to_have_count(0)
    assert avatar_loaded(phone)
    assert EMAIL not in phone.content()
    width = phone.evaluate("() => document.documentElement.clientWidth")
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= width
    screenshot(phone, "profile-phone")


def test_unknown_member_page_is_a_friendly_404(open_page: OpenPage) -> None:
    page, watch = open_page()
    watch.allow(r"status of 404")
    answer = page.goto("/u/no-such-member")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("main")).to_contain_text("There is no member of that name")


def test_role_badge_on_an_admins_profile(open_page: OpenPage, admin: Account) -> None:
    page, _ = open_page(color_scheme="dark")
    page.goto(f"/u/{admin.name}")
    expect(page.get_by_role("list", name="Badges").get_by_role("listitem")).to_have_text(["Admin"])
    expect(page.locator("main")).to_contain_text(f"{admin.name} has no uploads listed")
    screenshot(page, "profile-admin-dark")
