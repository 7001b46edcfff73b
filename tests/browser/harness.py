"""The pieces browser tests share: the running site, accounts made on the command line, and a
watch on every page for console errors, CSP violations and requests to other hosts.

Chromium is Debian's (`/usr/bin/chromium`), driven by Playwright's sync API. That API keeps
an asyncio loop alive on the main thread for as long as the browser is open, so nothing in
these tests may call `asyncio.run`.
"""

from __future__ import annotations

import contextlib
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import ConsoleMessage, Error, Locator, Page, Route

from ..interop.torrents import Torrent, TorrentKind, make_payload, make_torrent
from ..support.serve import Serve
from ..support.site import Account, RunningSite

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# Reports every CSP violation on the console, where PageWatch collects it. Scripts added this
# way run before the page's own and are not subject to its CSP.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


class Site(RunningSite):
    """The site under test, as the browser tests reach it."""

    def __init__(self, server: Serve, data_dir: Path) -> None:
        super().__init__(server, data_dir)
        self.storage_states: dict[str, Any] = {}  # account name -> cookies of a login

    def fetch(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """GET a path without the browser: status, headers (lower-case names), body."""
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as response:
                headers = {k.lower(): v for k, v in response.headers.items()}
                return response.status, headers, response.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


@dataclass
class PageWatch:
    """Everything a page did that a finished site should never do."""

    site_netloc: str
    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught script error: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error on {message.location.get('url')}: {message.text}")

    def route(self, route: Route) -> None:
        """Every request of the context passes here: only the site itself may be asked."""
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != self.site_netloc:
            self.problems.append(f"request to another host: {route.request.method} {url}")
            route.abort("blockedbyclient")
            return
        # The page may go away while its request is under way.
        with contextlib.suppress(Error):
            route.continue_()

    def allow(self, pattern: str) -> None:
        """Accept console errors matching `pattern` (e.g. the 404 of a 404 page)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(a.search(p) for a in self.allowed)]


def screenshot(page: Page, name: str) -> Path:
    """The whole page as test-output/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def field(page: Page | Locator, label: str) -> Locator:
    """The form field whose label starts with the regular expression `label`: labels carry
    hints after their name ("Password At least 10 characters..."), which may change."""
    return page.get_by_label(re.compile(r"^\s*" + label))


def log_in(page: Page, account: Account) -> None:
    """Log in through the login form and wait until the header shows the account."""
    page.goto("/login")
    field(page, "Name").fill(account.name)
    field(page, "Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name=account.name).wait_for()


def make_torrent_file(directory: Path, name: str, kind: TorrentKind = TorrentKind.V1,
                      size: int = 300 * 1024) -> Torrent:
    """A .torrent made by libtorrent for a fresh random file, with no trackers of its own."""
    payload = make_payload(directory / "payload", size, name)
    return make_torrent(payload.path, [], kind, directory)


def api_upload(site: Site, token: str, metainfo: bytes, category: str,
               **fields: str) -> httpx.Response:
    """POST /api/v1/torrents as the token's owner."""
    return httpx.post(
        site.url("/api/v1/torrents"),
        headers={"Authorization": f"Bearer {token}"},
        data={"category": category, **fields},
        files={"file": ("upload.torrent", metainfo, "application/x-bittorrent")},
        timeout=10,
    )
