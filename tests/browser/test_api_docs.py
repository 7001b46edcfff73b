"""/api/docs: the API's documentation renders from the site alone, under its CSP."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import OpenPage
from .harness import Site

pytestmark = pytest.mark.browser


def test_the_api_docs_list_every_operation_without_leaving_the_site(
    open_page: OpenPage, site: Site
) -> None:
    page, watch = open_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/api/docs")
    listing = page.locator(".opblock-summary-path")
    expect(listing.first).to_be_visible()
    expect(page.locator(".opblock-summary-path[data-path='/api/v1/torrents']")).to_have_count(2)
    paths = set(listing.evaluate_all("nodes => nodes.map(n => n.dataset.path)"))
    assert {"/api/v1/torrents", "/api/v1/torrents/{info_hash}", "/api/v1/search",
            "/api/v1/categories"} <= paths
    # An operation opens, with its parameters: the size filters and their syntax.
    page.locator(".opblock-get .opblock-summary-path[data-path='/api/v1/torrents']").click()
    expect(page.get_by_text("min_size", exact=True)).to_be_visible()
    # Everything came from this site; the fixture also fails the test on any CSP
    # violation, script error or request to another host.
    assert requested and all(re.match(re.escape(site.base_url) + "/", url) for url in requested)
    assert watch.unexpected() == []
