"""Torrents in the browser: upload, the detail page, the .torrent download, search, comments
and the RSS feed, each through the pages a visitor uses."""

from __future__ import annotations

import os
import re
import secrets
import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from swarmdex.bittorrent.bencode import decode
from swarmdex.bittorrent.metainfo import Metainfo, parse_torrent

from ..interop.torrents import Torrent, TorrentKind, make_torrent
from .conftest import OpenPage
from .harness import PHONE, Account, Site, field, make_torrent_file, screenshot

pytestmark = pytest.mark.browser

CATEGORY_NAME = "Browser tests"  # the `category` fixture's
DESCRIPTION = """A **bold claim** about _this_ upload.

- first frame
- second frame

Made with `ffmpeg`, see [the notes](https://example.org/notes).
"""


def fresh_word() -> str:
    """A word no other torrent has, so that a search finds exactly one."""
    return "kestrel" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))


@dataclass(frozen=True)
class Listed:
    """A torrent uploaded through the form, as the uploader sent it."""

    file: Torrent
    meta: Metainfo
    title: str
    word: str  # the title's distinctive word

    @property
    def info_hash(self) -> str:
        digest = self.meta.info_hash_v1
        assert digest is not None
        return digest.hex()

    @property
    def path(self) -> str:
        return f"/t/{self.info_hash}"


def fill_upload_form(page: Page, file: Path, category: str, title: str, *,
                     description: str = "", tags: str = "") -> None:
    """Fill in /upload (already open) and send it."""
    field(page, "Torrent file").set_input_files(file)
    field(page, "Category").select_option(category)
    field(page, "Title").fill(title)
    field(page, "Description").fill(description)
    field(page, "Tags").fill(tags)
    page.get_by_role("button", name="Upload", exact=True).click()


def upload(page: Page, file: Torrent, category: str, title: str, **fields: str) -> Listed:
    """Upload `file` through the form and wait for its detail page."""
    meta = parse_torrent(file.metainfo)
    page.goto("/upload")
    fill_upload_form(page, file.path, category, title, **fields)
    listed = Listed(file, meta, title, title.rsplit(" ", 1)[-1])
    expect(page).to_have_url(re.compile(re.escape(listed.path) + "$"))
    return listed


@pytest.fixture
def listed(open_page: OpenPage, uploader: Account, category: str, tmp_path: Path) -> Listed:
    """A fresh single-file v1 torrent with a Markdown description and two tags."""
    page, _ = open_page(as_user=uploader)
    file = make_torrent_file(tmp_path, "aurora-timelapse.mkv")
    return upload(page, file, category, f"Aurora timelapse {fresh_word()}",
                  description=DESCRIPTION, tags="Timelapse, night sky")


def fact(page: Page, name: str) -> Locator:
    """The value (<dd>) of the detail page's fact named `name` (<dt>)."""
    term = page.locator("dl.facts > dt").filter(has_text=re.compile(f"^{re.escape(name)}$"))
    return term.locator("xpath=following-sibling::dd[1]")


def swarm_figure(page: Page, label: str) -> Locator:
    return page.locator(".swarm .card").filter(has_text=label).locator("b")


def announce(site: Site, info_hash: bytes, port: int, *, left: int, event: str = "") -> None:
    """One HTTP announce from 127.0.0.1:`port`, as a client would send it."""
    query = {"info_hash": info_hash, "peer_id": b"-SX0001-" + secrets.token_bytes(12),
             "port": port, "uploaded": 0, "downloaded": 0, "left": left, "compact": 1}
    if event:
        query["event"] = event
    # Bytes as %XX, as clients send them: urlencode's default (quote_plus) would send a 0x20
    # byte of the hash as "+", which the tracker rightly reads as "+".
    target = site.server.url("http") + "?" + urlencode(query, quote_via=quote, safe="")
    response = httpx.get(target, timeout=10)
    assert response.status_code == 200, response.text
    reply = decode(response.content)
    assert isinstance(reply, dict) and b"failure reason" not in reply, reply


def site_trackers(site: Site) -> list[str]:
    """The announce URLs the server printed, in its order: the first tier of every download."""
    return list(site.server.urls.values())


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.clientWidth")
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} scrolls sideways: {scroll_width} > {width}"


# --------------------------------------------------------------------------- upload


def test_upload_through_the_form(
    open_page: OpenPage, uploader: Account, category: str, tmp_path: Path
) -> None:
    page, watch = open_page(as_user=uploader)
    watch.allow(r"status of 409")  # the second upload of the same file is refused with 409
    file = make_torrent_file(tmp_path, "harbour-lights.mkv")
    meta = parse_torrent(file.metainfo)
    assert meta.info_hash_v1 is not None
    title = f"Harbour lights at dusk {fresh_word()}"

    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload a torrent")
    expect(field(page, "Category")).to_contain_text(CATEGORY_NAME)
    screenshot(page, "upload-form")
    fill_upload_form(page, file.path, category, title, description="Shot on **film**.",
                     tags="harbour, dusk")

    expect(page).to_have_url(re.compile(rf"/t/{meta.info_hash_v1.hex()}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".description strong")).to_have_text("film")
    expect(fact(page, "Category")).to_have_text(CATEGORY_NAME)
    expect(fact(page, "Uploaded")).to_contain_text(uploader.name)
    expect(fact(page, "Tags").get_by_role("link")).to_have_text(["harbour", "dusk"])

    # The same file again is refused, with the way to the copy already on the site.
    page.goto("/upload")
    fill_upload_form(page, file.path, category, title + " again")
    expect(page.get_by_role("alert")).to_contain_text(f"already on the site as “{title}”")
    page.get_by_role("link", name="Go to the torrent already on the site.").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def test_upload_of_a_file_that_is_not_a_torrent(
    open_page: OpenPage, site: Site, uploader: Account, category: str, tmp_path: Path
) -> None:
    page, watch = open_page(as_user=uploader)
    watch.allow(r"status of 422")  # the refused upload comes back with 422
    notes = tmp_path / "holiday-notes.torrent"
    notes.write_text("Remember to pack the camera.\n")
    word = fresh_word()
    title = f"Holiday notes {word}"

    page.goto("/upload")
    fill_upload_form(page, notes, category, title, description="Some *notes*.", tags="notes")

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This is not a usable torrent file")
    expect(alert).to_contain_text("a .torrent file starts with 'd'")
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload a torrent")
    # What was typed is still there; only the file has to be chosen again.
    expect(field(page, "Title")).to_have_value(title)
    expect(field(page, "Description")).to_have_value("Some *notes*.")
    expect(field(page, "Tags")).to_have_value("notes")
    expect(field(page, "Category")).to_have_value(category)
    expect(field(page, "Torrent file")).to_have_value("")
    screenshot(page, "upload-error")

    status, _, body = site.fetch("/search?" + urlencode({"q": word}))
    assert status == 200
    assert b"Nothing matches" in body and title.encode() not in body, "the refused upload is listed"


# --------------------------------------------------------------------------- detail page


def test_detail_page(open_page: OpenPage, site: Site, listed: Listed) -> None:
    # Live swarm figures: one seeder that finished, two leechers, all from 127.0.0.1.
    digest = listed.meta.info_hash_v1
    assert digest is not None
    announce(site, digest, 51001, left=0, event="completed")
    announce(site, digest, 51002, left=1000, event="started")
    announce(site, digest, 51003, left=5000, event="started")

    page, _ = open_page()
    page.goto(listed.path)
    expect(page).to_have_title(re.compile(re.escape(listed.title)))
    expect(page.get_by_role("heading", level=1)).to_have_text(listed.title)

    # The description is Markdown, rendered.
    description = page.get_by_label("Description")
    expect(description.locator("strong")).to_have_text("bold claim")
    expect(description.locator("em")).to_have_text("this")
    expect(description.locator("li")).to_have_text(["first frame", "second frame"])
    expect(description.locator("code")).to_have_text("ffmpeg")
    notes = description.get_by_role("link", name="the notes")
    expect(notes).to_have_attribute("href", "https://example.org/notes")
    expect(notes).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    expect(description).not_to_contain_text("**")

    expect(fact(page, "Category").get_by_role("link")).to_have_attribute(
        "href", "/c/browser-tests")
    expect(fact(page, "Category")).to_have_text(CATEGORY_NAME)
    # Tags as stored: case folded, the space made a dash.
    expect(fact(page, "Tags").get_by_role("link")).to_have_text(["timelapse", "night-sky"])
    expect(fact(page, "Size")).to_have_text("300.0 KiB (307,200 bytes) in 1 file")
    expect(fact(page, "Piece size")).to_have_text("256.0 KiB")
    expect(fact(page, "Name")).to_have_text("aurora-timelapse.mkv")
    expect(fact(page, "Info hash v1")).to_have_text(listed.info_hash)
    expect(fact(page, "Info hash v2")).to_have_count(0)

    files = page.get_by_role("region", name="Files")
    expect(files.get_by_role("listitem")).to_have_text(["aurora-timelapse.mkv 300.0 KiB"])

    magnet = page.get_by_role("link", name="Magnet link")
    href = magnet.get_attribute("href") or ""
    assert href.startswith(f"magnet:?xt=urn:btih:{listed.info_hash}"), href
    magnet_fields = parse_qs(href.removeprefix("magnet:?"))
    assert magnet_fields["dn"] == ["aurora-timelapse.mkv"], magnet_fields
    assert magnet_fields["tr"] == site_trackers(site), magnet_fields
    download = page.get_by_role("link", name="Download .torrent")
    expect(download).to_have_attribute("href", f"{listed.path}.torrent")

    expect(swarm_figure(page, "seeders")).to_have_text("1")
    expect(swarm_figure(page, "leechers")).to_have_text("2")
    expect(swarm_figure(page, "completed")).to_have_text("1")

    # A visitor without an account may read, not delete or comment.
    expect(page.get_by_text("Delete this torrent")).to_have_count(0)
    expect(page.get_by_role("link", name="Log in to comment")).to_be_visible()
    screenshot(page, "torrent-detail")

    phone, _ = open_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    phone.goto(listed.path)
    expect(phone.get_by_role("heading", level=1)).to_have_text(listed.title)
    no_sideways_scroll(phone)
    for name in ("Download .torrent", "Magnet link"):
        expect(phone.get_by_role("link", name=name)).to_be_in_viewport()
    screenshot(phone, "torrent-detail-phone")


def test_hybrid_torrent_detail_page(
    open_page: OpenPage, site: Site, uploader: Account, category: str, tmp_path: Path
) -> None:
    folder = tmp_path / "payload" / "Night sky pack"
    (folder / "frames").mkdir(parents=True)
    (folder / "frames" / "frame-0001.raw").write_bytes(os.urandom(200 * 1024))
    (folder / "frames" / "frame-0002.raw").write_bytes(os.urandom(150 * 1024))
    (folder / "README.txt").write_bytes(b"Frames of a night sky.\n")
    file = make_torrent(folder, [], TorrentKind.HYBRID, tmp_path / "out")
    meta = parse_torrent(file.metainfo)
    assert meta.info_hash_v1 is not None and meta.info_hash_v2 is not None
    assert any(f.padding for f in meta.files), "libtorrent made a hybrid without pad files"
    v1, v2 = meta.info_hash_v1.hex(), meta.info_hash_v2.hex()

    page, _ = open_page(as_user=uploader)
    listed = upload(page, file, category, f"Night sky pack {fresh_word()}")

    expect(fact(page, "Info hash v1")).to_have_text(v1)
    expect(fact(page, "Info hash v2")).to_have_text(v2)
    expect(fact(page, "Size")).to_have_text(
        f"350.0 KiB ({meta.total_size:,} bytes) in 3 files")
    expect(fact(page, "Piece size")).to_have_text("256.0 KiB")
    href = page.get_by_role("link", name="Magnet link").get_attribute("href") or ""
    assert href.startswith(f"magnet:?xt=urn:btih:{v1}&xt=urn:btmh:1220{v2}&"), href

    # The tree: the torrent's folder open, its subfolders closed until asked; the files with
    # their sizes, never the pad files.
    tree = page.get_by_role("region", name="Files")
    expect(tree.locator("summary").first).to_have_text(re.compile(r"^Night sky pack/ "))
    frames = tree.locator("summary", has_text="frames/")
    expect(frames).to_contain_text("350.0 KiB")
    expect(tree.get_by_text("frame-0001.raw")).to_be_hidden()
    frames.click()
    for name, size in (("frame-0001.raw", "200.0 KiB"), ("frame-0002.raw", "150.0 KiB"),
                       ("README.txt", "23 B")):
        expect(tree.get_by_role("listitem").filter(has_text=name).last).to_have_text(
            f"{name} {size}")
    expect(tree).not_to_contain_text(".pad")
    expect(tree.get_by_role("listitem")).to_have_count(5)  # 2 folders and 3 files
    screenshot(page, "torrent-detail-hybrid")

    # Both hashes name the torrent; the v2 one leads to the one address of the page.
    for other in (v2, v2[:40]):
        page.goto(f"/t/{other}")
        expect(page).to_have_url(re.compile(rf"{listed.path}$"))


# --------------------------------------------------------------------------- download


def test_download_button_gives_the_torrent_with_the_site_trackers(
    open_page: OpenPage, site: Site, listed: Listed
) -> None:
    page, _ = open_page()
    page.goto(listed.path)
    with page.expect_download() as event:
        page.get_by_role("link", name="Download .torrent").click()
    download = event.value
    assert download.suggested_filename == "aurora-timelapse.mkv.torrent"
    data = Path(download.path()).read_bytes()

    got = parse_torrent(data)
    assert got.info_hash_v1 == listed.meta.info_hash_v1
    assert got.info_bytes == listed.meta.info_bytes, "the info dictionary was rewritten"
    trackers = site_trackers(site)
    assert got.announce == trackers[0]
    assert got.announce_list, "no announce-list"
    assert list(got.announce_list[0]) == trackers, got.announce_list


# --------------------------------------------------------------------------- search


def test_search_from_the_header(open_page: OpenPage, listed: Listed) -> None:
    page, _ = open_page()
    page.goto("/")
    search = page.get_by_role("searchbox", name="Search torrents")
    search.fill(listed.word.upper())
    search.press("Enter")

    expect(page).to_have_url(re.compile(rf"/search\?q={listed.word.upper()}$"))
    expect(page.get_by_role("status")).to_have_text("1 result")
    results = page.locator("table.torrents tbody tr")
    expect(results).to_have_count(1)
    link = results.get_by_role("link", name=listed.title)
    expect(link.locator("mark")).to_have_text(listed.word)
    expect(results.locator("td.seeders")).to_have_text("0")
    screenshot(page, "search-results")
    link.click()
    expect(page).to_have_url(re.compile(rf"{listed.path}$"))

    # An info hash (any case) goes straight to its torrent.
    search = page.get_by_role("searchbox", name="Search torrents")
    search.fill(listed.info_hash.upper())
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(rf"{listed.path}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(listed.title)


def test_search_that_finds_nothing(page: Page) -> None:
    word = fresh_word()
    page.goto("/search")
    page.get_by_role("main").get_by_role("searchbox").fill(word)
    page.get_by_role("main").get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).to_have_text(f"Nothing matches {word}. Try searching file names too.")
    expect(page.locator("table.torrents")).to_have_count(0)


# --------------------------------------------------------------------------- browse


def test_browse_and_category_listing(open_page: OpenPage, listed: Listed) -> None:
    page, _ = open_page()
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Browse", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Browse")
    row = page.locator("table.torrents tbody tr").filter(has_text=listed.title)
    expect(row).to_have_count(1)
    expect(row.locator("td.num").first).to_have_text("300.0 KiB")
    screenshot(page, "browse")

    row.get_by_role("link", name=CATEGORY_NAME).click()
    expect(page).to_have_url(re.compile(r"/c/browser-tests$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(CATEGORY_NAME)
    rows = page.locator("table.torrents tbody tr")
    expect(rows.filter(has_text=listed.title)).to_have_count(1)
    # Only this category is listed here.
    categories = rows.locator("td.wide a.tag")
    assert set(categories.all_inner_texts()) == {CATEGORY_NAME}
    screenshot(page, "category")

    phone, _ = open_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    phone.goto("/c/browser-tests")
    expect(phone.get_by_role("link", name=listed.title)).to_be_visible()
    no_sideways_scroll(phone)
    # Names are what people read: on a phone the name column is the widest, not a sliver
    # beside the figures.
    widths = phone.locator("table.torrents tbody tr").first.locator("td:visible").evaluate_all(
        "cells => cells.map(c => c.getBoundingClientRect().width)")
    assert widths[0] == max(widths), f"cell widths on a phone, name first: {widths}"
    screenshot(phone, "category-phone")


# --------------------------------------------------------------------------- comments


XSS = """<img src=x onerror=alert(1)>

<script>alert(1)</script>

[click me](javascript:alert(1)) and <a href="javascript:alert(1)">me too</a>
"""


def test_comments_render_markdown_and_nothing_else(
    open_page: OpenPage, uploader: Account, listed: Listed
) -> None:
    page, _ = open_page(as_user=uploader)
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(listed.path)
    comments = page.get_by_role("region", name="Comments")
    expect(comments).to_contain_text("No comments yet.")

    field(page, "Add a comment").fill("Lovely **colours** in `frame 2`, thanks!")
    page.get_by_role("button", name="Post comment").click()
    expect(page).to_have_url(re.compile(rf"{listed.path}#comment-\d+$"))
    first = comments.locator("li.comment").last
    expect(first.locator(".comment-body strong")).to_have_text("colours")
    expect(first.locator(".comment-body code")).to_have_text("frame 2")
    expect(first.locator(".comment-meta")).to_contain_text(uploader.name)
    expect(first.locator(".comment-meta")).to_contain_text("just now")

    field(page, "Add a comment").fill(XSS)
    page.get_by_role("button", name="Post comment").click()
    expect(comments.get_by_role("heading", level=2)).to_have_text("Comments (2)")
    body = comments.locator("li.comment").last.locator(".comment-body")
    # Shown as the text that was typed, inert.
    expect(body).to_contain_text("<img src=x onerror=alert(1)>")
    expect(body).to_contain_text("<script>alert(1)</script>")
    expect(body.locator("img, script, [onerror]")).to_have_count(0)
    expect(body.locator("a")).to_have_count(0)
    expect(page.locator("script")).to_have_count(0)  # the site's pages have none of their own
    expect(page.locator("[onerror], a[href^='javascript:' i]")).to_have_count(0)
    screenshot(page, "torrent-comments")

    # The same page loaded afresh, as every later visitor sees it.
    page.reload()
    expect(comments.locator("li.comment")).to_have_count(2)
    expect(page.locator("img, script")).to_have_count(0)
    assert dialogs == [], f"a comment ran script: {dialogs}"


# --------------------------------------------------------------------------- RSS


def test_latest_feed_is_rss_2(open_page: OpenPage, site: Site, listed: Listed) -> None:
    page, _ = open_page()
    page.goto("/browse")
    feed_link = page.locator('head link[rel="alternate"][type="application/rss+xml"]')
    expect(feed_link).to_have_count(1)
    feed = feed_link.get_attribute("href")
    assert feed == "/rss", feed

    status, headers, body = site.fetch(feed)
    assert status == 200
    assert headers["content-type"].startswith("application/rss+xml"), headers
    root = ET.fromstring(body)
    assert root.tag == "rss" and root.get("version") == "2.0", (root.tag, root.attrib)
    channel = root.find("channel")
    assert channel is not None
    for name in ("title", "link", "description"):
        assert (channel.findtext(name) or "").strip(), f"the channel has no {name}"
    assert channel.findtext("link") == site.url("/browse")

    items = [i for i in channel.findall("item") if i.findtext("title") == listed.title]
    assert len(items) == 1, [i.findtext("title") for i in channel.findall("item")]
    item = items[0]
    assert item.findtext("link") == site.url(listed.path)
    guid = item.find("guid")
    assert guid is not None and guid.text == site.url(listed.path)
    published = parsedate_to_datetime(item.findtext("pubDate") or "")
    assert published.tzinfo is not None
    assert abs(datetime.now(UTC) - published) < timedelta(minutes=10), published

    enclosure = item.find("enclosure")
    assert enclosure is not None
    assert enclosure.get("type") == "application/x-bittorrent"
    url = urlsplit(enclosure.get("url") or "")
    assert (url.scheme, url.netloc, url.path) == ("http", site.netloc, f"{listed.path}.torrent")
    status, headers, torrent = site.fetch(url.path)
    assert status == 200 and headers["content-type"] == "application/x-bittorrent"
    assert enclosure.get("length") == str(len(torrent)), (enclosure.attrib, len(torrent))
    assert parse_torrent(torrent).info_hash_v1 == listed.meta.info_hash_v1
