"""Fixtures for browser tests: one swarmdex site and one headless Chromium for the package,
a fresh browser context (cookies, viewport, colour scheme) per page.

Both are package-scoped, not session-scoped: Playwright's sync API holds an asyncio loop on
the main thread while the browser is open, and tests elsewhere in the suite use `asyncio.run`,
which refuses to start inside a running loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ..support.serve import Serve
from .harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CSP_REPORTER,
    DESKTOP,
    Account,
    PageWatch,
    Site,
    field,
    log_in,
)

STOP_TIMEOUT = 10
PAGE_TIMEOUT_MS = 10_000


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`swarmdex serve` in listed mode on OS-chosen ports, with a fresh data dir."""
    data_dir = tmp_path_factory.mktemp("browser-site") / "data"
    flags = ("--port", "0", "--udp-port", "0", "--tracker-mode", "listed")
    with Serve(data_dir, *flags) as server:
        yield Site(server, data_dir)
        running = server.process.poll() is None
        status = server.stop(timeout=STOP_TIMEOUT)
        if not running:
            pytest.fail(f"swarmdex died during the run (exit {status})\n{server.describe()}")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


OpenPage = Callable[..., tuple[Page, PageWatch]]


@pytest.fixture
def open_page(browser: Browser, site: Site) -> Iterator[OpenPage]:
    """Factory: `open_page(viewport=..., color_scheme=..., as_user=account)` gives a page in a
    context of its own and its PageWatch. After the test, any console error, CSP violation or
    request to another host that the test did not allow fails it."""
    watches: list[PageWatch] = []
    contexts: list[Any] = []

    def open_(as_user: Account | None = None, **options: Any) -> tuple[Page, PageWatch]:
        options.setdefault("viewport", DESKTOP)
        if as_user is not None:
            options["storage_state"] = _login_state(browser, site, as_user)
        context = browser.new_context(base_url=site.base_url, **options)
        contexts.append(context)
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        watch = PageWatch(site.netloc)
        watches.append(watch)
        context.add_init_script(CSP_REPORTER)
        context.route("**/*", watch.route)
        page = context.new_page()
        watch.attach(page)
        return page, watch

    yield open_
    for context in contexts:
        context.close()
    problems = [p for w in watches for p in w.unexpected()]
    if problems:
        pytest.fail("the pages did what a finished site never should:\n" + "\n".join(problems))


@pytest.fixture
def page(open_page: OpenPage) -> Page:
    """A desktop page in light mode, logged in as nobody."""
    page, _ = open_page()
    return page


def _login_state(browser: Browser, site: Site, account: Account) -> Any:
    """Cookies of one login per account, reused by later contexts: logging in is rate limited
    per address, and every test here comes from 127.0.0.1."""
    if account.name not in site.storage_states:
        context = browser.new_context(base_url=site.base_url, viewport=DESKTOP)
        try:
            context.set_default_timeout(PAGE_TIMEOUT_MS)
            log_in(context.new_page(), account)
            site.storage_states[account.name] = context.storage_state()
        finally:
            context.close()
    return site.storage_states[account.name]


@pytest.fixture(scope="package")
def uploader(site: Site) -> Account:
    """An ordinary account, shared by the tests that need someone logged in."""
    return site.create_user("uploader")


@pytest.fixture(scope="package")
def admin(site: Site) -> Account:
    return site.create_user("admin", role="admin")


@pytest.fixture(scope="package")
def category(browser: Browser, site: Site, admin: Account) -> str:
    """The slug of a category made on the admin page, for the uploads of these tests."""
    slug = "browser-tests"
    context = browser.new_context(base_url=site.base_url, viewport=DESKTOP,
                                  storage_state=_login_state(browser, site, admin))
    try:
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = context.new_page()
        page.goto("/admin")
        form = page.get_by_role("region", name="Categories")
        field(form, "Address").fill(slug)
        form.get_by_label("Name", exact=True).fill("Browser tests")
        form.get_by_role("button", name="Add category").click()
        expect(page.get_by_role("status")).to_have_text("Category added.")
    finally:
        context.close()
    return slug
