"""Moderation in the browser: a visitor reports a torrent through its form, a moderator
resolves the report in the queue by hiding the torrent, which then leaves the site."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from swarmdex.bittorrent.metainfo import parse_torrent

from .conftest import OpenPage
from .harness import Account, Site, api_upload, field, make_torrent_file, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def moderator(site: Site) -> Account:
    return site.create_user("moderator", role="moderator")


def test_report_then_hide_from_the_queue(open_page: OpenPage, site: Site, tmp_path: Path,
                                         uploader: Account, moderator: Account,
                                         category: str) -> None:
    file = make_torrent_file(tmp_path, "suspicious-installer.exe")
    uploaded = api_upload(site, site.create_token(uploader), file.metainfo, category,
                          title="Free installer (totally safe)")
    assert uploaded.status_code == 201, uploaded.text
    digest = parse_torrent(file.metainfo).info_hash_v1
    assert digest is not None
    path = f"/t/{digest.hex()}"

    visitor, _ = open_page()
    visitor.goto(path)
    visitor.get_by_role("link", name="Report", exact=True).click()
    expect(visitor.get_by_role("heading", name="Report a torrent")).to_be_visible()
    visitor.get_by_label("Malware").check()
    field(visitor, "Details").fill("The installer <b>drops</b> a trojan, see VirusTotal.")
    field(visitor, "Your email").fill("finder@example.org")
    screenshot(visitor, "report-form")
    visitor.get_by_role("button", name="Send report").click()
    expect(visitor.get_by_role("heading", name="Thank you")).to_be_visible()

    page, _ = open_page(as_user=moderator)
    page.goto("/moderation")
    item = page.get_by_role("article", name=re.compile("Free installer"))
    expect(item).to_contain_text("Malware")
    expect(item).to_contain_text("The installer <b>drops</b> a trojan")  # shown as text
    expect(item).to_contain_text("finder@example.org")
    field(item.get_by_role("form", name="Resolve the reports"), "Note").fill("Confirmed by two scanners.")
    screenshot(page, "moderation-queue")
    item.get_by_role("button", name="Hide").click()
    expect(page.get_by_role("status")).to_contain_text("Torrent hidden")
    expect(page.get_by_role("button", name="Unhide Free installer (totally safe)")).to_be_visible()
    screenshot(page, "moderation-queue-resolved")

    status, _, _ = site.fetch(path)
    assert status == 404
