"""Invites in the browser, on a private site of its own: a member makes a code on their
invites page and logs out; a stranger opens the registration link, which fills in the code,
and joins; the member logs back in and sees the code used by them."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from ..support.serve import Serve
from .conftest import STOP_TIMEOUT, OpenPage
from .harness import Account, Site, field, log_in, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`swarmdex serve` in private mode (members only, accounts by invitation), in place of
    the package's listed site for this module's pages."""
    data_dir = tmp_path_factory.mktemp("private-site") / "data"
    flags = ("--port", "0", "--udp-port", "0", "--tracker-mode", "private")
    with Serve(data_dir, *flags) as server:
        yield Site(server, data_dir)
        server.stop(timeout=STOP_TIMEOUT)


def test_a_member_invites_a_stranger_who_joins_with_the_link(
    open_page: OpenPage, site: Site,
) -> None:
    # The first account comes from the command line, which needs no invite.
    member = site.create_user("inviter")
    page, _ = open_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base_url)
    log_in(page, member)
    page.goto("/account")
    page.get_by_role("link", name="Your invites").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your invites")
    field(page, "Note").fill("for my neighbour")
    page.get_by_role("button", name="Make an invite code").click()

    shown = page.get_by_role("region", name="Your new invite")
    link = shown.get_by_role("textbox", name="Registration link").input_value()
    code = shown.get_by_role("textbox", name="Code", exact=True).input_value()
    assert re.fullmatch(r"([0-9a-hjkmnp-tv-z]{4}-){6}[0-9a-hjkmnp-tv-z]{4}", code), code
    assert link == f"{site.base_url}/register?invite={code}"
    shown.get_by_role("button", name="Copy the registration link").click()
    expect(shown.get_by_role("button", name="Copy the registration link")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    screenshot(page, "invite-made")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")).to_be_visible()

    # A stranger, with nothing but the link.
    newcomer = Account(f"guest-{secrets.token_hex(3)}", "correct horse battery")
    visitor, _ = open_page()
    parts = urlsplit(link)
    visitor.goto(f"{parts.path}?{parts.query}")
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Create an account")
    expect(field(visitor, "Invite code")).to_have_value(code)
    field(visitor, "Name").fill(newcomer.name)
    field(visitor, r"Password(?! again)").fill(newcomer.password)
    field(visitor, "Password again").fill(newcomer.password)
    screenshot(visitor, "register-with-invite")
    visitor.get_by_role("button", name="Create account").click()
    expect(visitor.get_by_role("navigation", name="Main")
           .get_by_role("link", name=newcomer.name)).to_be_visible()

    # The member, back, sees who used it.
    log_in(page, member)
    page.goto("/account/invites")
    row = page.get_by_role("row").filter(has_text="for my neighbour")
    expect(row).to_contain_text(re.compile(rf"Used\s+by {newcomer.name}"))
    expect(row.get_by_role("link", name=newcomer.name)).to_have_attribute(
        "href", f"/u/{newcomer.name}")
    expect(row.get_by_role("button", name=re.compile("Revoke"))).to_have_count(0)
    screenshot(page, "invite-used")
