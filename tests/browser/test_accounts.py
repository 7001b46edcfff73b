"""Accounts in the browser: register, log out, log in, the account page and its API tokens."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import OpenPage
from .harness import (
    PHONE,
    Account,
    Site,
    api_upload,
    field,
    make_torrent_file,
    screenshot,
)

pytestmark = pytest.mark.browser


def header_link(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def password_field(page: Page) -> Locator:
    """The first password field, not "Password again"."""
    return field(page, r"Password(?! again)")


def test_register_log_out_and_log_in(open_page: OpenPage) -> None:
    page, watch = open_page()
    watch.allow(r"status of 400")  # the wrong password below is answered with 400
    account = Account(f"reader-{secrets.token_hex(3)}", "correct horse battery")

    page.goto("/")
    header_link(page, "Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    field(page, r"Name").fill(account.name)
    password_field(page).fill(account.password)
    field(page, r"Password again").fill(account.password)
    screenshot(page, "register")
    page.get_by_role("button", name="Create account").click()

    # Registered and logged in at once, back where the visitor started.
    expect(header_link(page, account.name)).to_be_visible()
    expect(header_link(page, "Upload")).to_be_visible()
    expect(header_link(page, "Log in")).to_have_count(0)

    page.get_by_role("button", name="Log out").click()
    expect(header_link(page, "Log in")).to_be_visible()
    expect(header_link(page, account.name)).to_have_count(0)

    header_link(page, "Log in").click()
    field(page, r"Name").fill(account.name)
    password_field(page).fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong name or password")
    # The name stays, the password never comes back into the form.
    expect(field(page, r"Name")).to_have_value(account.name)
    expect(password_field(page)).to_have_value("")
    screenshot(page, "login-error")

    password_field(page).fill(account.password)
    page.get_by_role("button", name="Log in").click()
    expect(header_link(page, account.name)).to_be_visible()


def test_register_explains_what_is_wrong(open_page: OpenPage) -> None:
    page, watch = open_page()
    watch.allow(r"status of 400")
    page.goto("/register")
    # Past the browser's own checks (minlength), so the site's messages show.
    field(page, r"Name").fill("ok-name-" + secrets.token_hex(2))
    password_field(page).fill("long enough password")
    field(page, r"Password again").fill("another long password")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("differ")
    again = field(page, r"Password again")
    expect(again).to_have_attribute("aria-invalid", "true")
    expect(header_link(page, "Log in")).to_be_visible()  # nobody was logged in
    screenshot(page, "register-error")


def test_pages_that_need_an_account_send_to_login(page: Page) -> None:
    page.goto("/upload")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)upload$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")


def test_login_returns_to_the_page_asked_for(open_page: OpenPage, uploader: Account) -> None:
    account = uploader
    page, _ = open_page()
    page.goto("/account")
    field(page, r"Name").fill(account.name)
    password_field(page).fill(account.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")


def test_account_page_makes_a_working_api_token(
    open_page: OpenPage, site: Site, uploader: Account, category: str, tmp_path: Path
) -> None:
    page, _ = open_page(as_user=uploader)
    page.goto("/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    expect(page.get_by_role("heading", name="Where you are logged in")).to_be_visible()
    field(page, r"Token name").fill("feed reader")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_role("textbox", name="API token").input_value()
    assert len(token) >= 20, token
    tokens = page.get_by_role("region", name="API tokens")
    expect(tokens.get_by_role("cell", name="feed reader", exact=True)).to_be_visible()
    screenshot(page, "account")

    phone, _ = open_page(as_user=uploader, viewport=PHONE, is_mobile=True, device_scale_factor=2)
    phone.goto("/account")
    width = phone.evaluate("() => document.documentElement.clientWidth")
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= width
    screenshot(phone, "account-phone")

    # The token signs API requests in as the account, until it is revoked.
    first = make_torrent_file(tmp_path / "first", "token-check-1.bin")
    created = api_upload(site, token, first.metainfo, category)
    assert created.status_code == 201, created.text
    page.goto(created.json()["url"])
    expect(page.get_by_text(uploader.name, exact=True).last).to_be_visible()

    page.goto("/account")
    tokens.get_by_role("button", name="Revoke the token feed reader").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    second = make_torrent_file(tmp_path / "second", "token-check-2.bin")
    refused = api_upload(site, token, second.metainfo, category)
    assert refused.status_code == 401, refused.text
