"""Notice-and-takedown in the browser: a visitor fills in the notice form, a moderator accepts
it in the queue, the torrent's page becomes the 451 stub, the transparency report shows the
notice without personal details."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..interop.torrents import TorrentKind
from .conftest import OpenPage
from .harness import Account, Site, api_upload, field, make_torrent_file, screenshot

pytestmark = pytest.mark.browser

CLAIMANT = "Ada Claimant"
EMAIL = "ada.claimant@example.org"


@pytest.fixture(scope="module")
def moderator(site: Site) -> Account:
    return site.create_user("moderator", role="moderator")


def test_notice_queue_stub_and_transparency(open_page: OpenPage, site: Site, uploader: Account,
                                            moderator: Account, category: str, tmp_path: Path) -> None:
    torrent = make_torrent_file(tmp_path, "Contested film", TorrentKind.HYBRID)
    created = api_upload(site, site.create_token(uploader), torrent.metainfo, category,
                         title="Contested film (2024)")
    assert created.status_code == 201, created.text
    key = created.json()["info_hash"]

    # A visitor follows the torrent page's link and fills in the form.
    page, _ = open_page()
    page.goto(f"/t/{key}")
    page.get_by_role("link", name="Send a legal notice").click()
    expect(page.get_by_role("heading", name="Send a legal notice")).to_be_visible()
    expect(field(page, "The torrents")).to_have_value(f"/t/{key}")
    field(page, "Your full name").fill(CLAIMANT)
    field(page, "Organisation").fill("Example Studios Ltd")
    field(page, "Contact email").fill(EMAIL)
    field(page, "The work").fill("“Contested film” (2024), directed by J. Doe; available at example.org/film")
    page.get_by_label(re.compile("I believe in good faith")).check()
    page.get_by_label(re.compile("The information in this notice is accurate")).check()
    field(page, "Signature").fill(CLAIMANT)
    screenshot(page, "notice-form")
    page.get_by_role("button", name="Send notice").click()
    heading = page.get_by_role("heading", name=re.compile(r"Notice #\d+ received"))
    expect(heading).to_be_visible()
    number = re.search(r"#(\d+)", heading.inner_text())
    assert number is not None
    notice = number.group(1)

    # The moderator sees it in the queue and accepts it.
    staff, _ = open_page(as_user=moderator)
    staff.goto("/takedowns")
    expect(staff.get_by_role("link", name=f"#{notice}")).to_be_visible()
    screenshot(staff, "takedown-queue")
    staff.get_by_role("link", name=f"#{notice}").click()
    expect(staff.get_by_text(EMAIL)).to_be_visible()
    accept = staff.locator("form", has=staff.get_by_role("button", name="Accept and take down"))
    accept.get_by_role("textbox").fill("The claimant showed their rights.")
    accept.get_by_role("button", name="Accept and take down").click()
    expect(staff.get_by_role("heading", name=f"Notice #{notice} accepted")).to_be_visible()
    screenshot(staff, "takedown-notice")

    # The torrent page is now the stub: no download, no magnet.
    visitor, watch = open_page()
    watch.allow(r"status of 451")
    answer = visitor.goto(f"/t/{key}")
    assert answer is not None and answer.status == 451
    expect(visitor.get_by_text(f"This torrent was removed following legal notice #{notice}.")).to_be_visible()
    expect(visitor.get_by_role("link", name=re.compile("Download|Magnet"))).to_have_count(0)
    screenshot(visitor, "takedown-stub")

    # The transparency report: the notice, redacted.
    visitor.get_by_role("link", name="transparency report").click()
    entry = visitor.get_by_role("article", name=f"Notice #{notice} accepted")
    expect(entry).to_contain_text("Example Studios Ltd")
    expect(entry).to_contain_text("Contested film (2024)")
    expect(entry).to_contain_text(key)
    body = visitor.content()
    assert EMAIL not in body and CLAIMANT not in body
    screenshot(visitor, "transparency")
