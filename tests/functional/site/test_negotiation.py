"""Public pages answer as JSON to clients that ask for it, and as HTML to browsers."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmdex.web.negotiation import prefers_json, twin
from tests.functional.site.helpers import async_test
from tests.functional.site.test_browse import add, site_with_categories

JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(("accept", "expected"), [
    ("application/json", True),
    ("application/json, text/html;q=0.5", True),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
    ("text/html, application/json", False),  # a tie goes to the page
    ("*/*", False),
    ("", False),
    ("application/json;q=0", False),
    ("application/json;q=nonsense", False),
])
def test_prefers_json(accept: str, expected: bool) -> None:
    assert prefers_json(accept) is expected


def test_only_public_pages_have_twins() -> None:
    assert twin("/c/linux") == ("/api/v1/torrents", {"category": "linux"})
    assert twin("/tag/open%20data") == ("/api/v1/torrents", {"tag": "open data"})
    assert twin("/t/" + "ab" * 20) == ("/api/v1/torrents/" + "ab" * 20, {})
    for private in ("/account", "/admin", "/upload", "/t/" + "ab" * 20 + ".torrent", "/c/a/b"):
        assert twin(private) is None, private


@async_test
async def test_pages_answer_as_json_when_asked(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        debian = await add(site, "Debian 12.5 netinst", category="linux", tags=["iso"],
                           files=["debian-12.5.0-amd64-netinst.iso"])
        await add(site, "FreeBSD 14.0 memstick", category="bsd")
        client = site.client()
        key = debian.swarm_key.hex()

        for path, titles in [
            ("/", ["FreeBSD 14.0 memstick", "Debian 12.5 netinst"]),
            ("/browse?sort=name&order=asc", ["Debian 12.5 netinst", "FreeBSD 14.0 memstick"]),
            ("/c/linux", ["Debian 12.5 netinst"]),
            ("/c/bsd?category=linux", ["FreeBSD 14.0 memstick"]),  # the path wins
            ("/tag/iso", ["Debian 12.5 netinst"]),
            ("/search?q=freebsd", ["FreeBSD 14.0 memstick"]),
        ]:
            answer = await client.get(path, headers=JSON)
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["content-type"] == "application/json", path
            assert answer.headers["vary"] == "Accept", path
            assert [r["title"] for r in answer.json()["results"]] == titles, path

        detail = await client.get(f"/t/{key}", headers=JSON)
        assert detail.status_code == 200
        assert detail.json()["name"] == debian.name and "files" in detail.json()

        # Browsers get the page, and errors keep their shape.
        page = await client.get(f"/t/{key}", headers=BROWSER)
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["vary"] == "Accept"
        missing = await client.get("/c/nothing-here", headers=JSON)
        assert missing.status_code == 404 and "detail" in missing.json()
        unknown = await client.get("/t/" + "00" * 20, headers=JSON)
        assert unknown.status_code == 404 and "detail" in unknown.json()
