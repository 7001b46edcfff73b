"""Fixtures for end-to-end tests: one real `swarmdex serve` (listed mode, its default) for the
package, accounts made on the command line, one of a new site's categories, and the real
BitTorrent clients of the interop tests.

The site is package-scoped: every test uploads its own random payload, so no two tests share
an infohash, a swarm or a count.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

# The interop tests' client factories and payload, reused as they are: the same clients,
# settings, timeouts and clean-up.
from ..interop.conftest import libtorrent_client, payload, transmission
from ..support.serve import Serve
from ..support.site import Account, RunningSite

__all__ = ["Account", "Site", "libtorrent_client", "payload", "transmission"]

STOP_TIMEOUT = 10
HTTP_TIMEOUT = 10
CSRF_COOKIE = "sdx_csrf"
CSRF_FIELD = "csrf_token"
LISTED = "swarmdex: listed mode"


class Site(RunningSite):
    """The site under test, as scripts and clients reach it."""

    def client(self) -> httpx.Client:
        """A fresh HTTP client with its own cookies, straight to the site (no proxies)."""
        return httpx.Client(base_url=self.base_url, timeout=HTTP_TIMEOUT, trust_env=False)

    @contextmanager
    def logged_in(self, account: Account) -> Iterator[httpx.Client]:
        """A client logged in through the login form (CSRF field and all)."""
        with self.client() as client:
            assert client.get("/login").status_code == 200
            answer = client.post("/login", data={
                CSRF_FIELD: client.cookies[CSRF_COOKIE],
                "name": account.name,
                "password": account.password,
                "next": "/",
            })
            assert answer.status_code == 303, f"login failed ({answer.status_code}):\n{answer.text}"
            yield client


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`swarmdex serve` on OS-chosen ports, with a fresh data dir and no --tracker-mode: the
    default (listed) is what is under test."""
    data_dir = tmp_path_factory.mktemp("e2e-site") / "data"
    with Serve(data_dir, "--port", "0", "--udp-port", "0") as server:
        assert any(line.startswith(LISTED) for line in server.lines), server.describe()
        yield Site(server, data_dir)
        running = server.process.poll() is None
        status = server.stop(timeout=STOP_TIMEOUT)
        if not running:
            pytest.fail(f"swarmdex died during the run (exit {status})\n{server.describe()}")
        if server.needed_kill:
            pytest.fail(f"swarmdex ignored SIGTERM for {STOP_TIMEOUT} s\n{server.describe()}")


@pytest.fixture(scope="package")
def category(site: Site) -> str:
    """A category a new site starts with (an upload needs one)."""
    with site.client() as client:
        slugs = [c["slug"] for c in client.get("/api/v1/categories").json()]
    assert "linux" in slugs, slugs
    return "linux"


@pytest.fixture(scope="package")
def uploader(site: Site) -> Account:
    return site.create_user("uploader")


@pytest.fixture(scope="package")
def api_token(site: Site, uploader: Account) -> str:
    """An API token of the ordinary account `uploader`."""
    return site.create_token(uploader)
