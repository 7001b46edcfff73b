"""Browse, search, the home page's latest uploads and the search API, through the real ASGI
app on a migrated SQLite database, with the tracker's live counts."""

from __future__ import annotations

import os
import re
import struct
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from swarmdex.bittorrent.magnet import make_magnet
from swarmdex.db.engine import transaction
from swarmdex.db.models import Torrent
from swarmdex.protocol.announce import Event
from swarmdex.search import fts5, postgres
from swarmdex.torrents.services import ensure_default_categories
from swarmdex.web.pages.browse import swarm_counter
from tests.functional.site.helpers import Site, async_test, post_form, running_site
from tests.unit.search.factory import EPOCH, add_torrent
from tests.unit.torrents.support import build_torrent

_ROW_RE = re.compile(r'<td class="name">\s*<a href="/t/([0-9a-f]{40})">')


@asynccontextmanager
async def site_with_categories(tmp_path: Path) -> AsyncIterator[Site]:
    async with running_site(tmp_path) as site:
        async with transaction(site.ctx.db) as session:
            await ensure_default_categories(session)
        yield site


async def add(site: Site, title: str, **options: Any) -> Torrent:
    async with transaction(site.ctx.db) as session:
        return await add_torrent(session, title, **options)


async def seed(site: Site, torrent: Torrent, *, seeders: int = 1, leechers: int = 0) -> None:
    """Peers announce to the site's own tracker."""
    for i in range(seeders + leechers):
        peer = os.urandom(4) + struct.pack(">H", 7000 + i)
        await site.tracker.store.announce(
            torrent.swarm_key, peer, event=Event.STARTED, seeder=i < seeders, numwant=0,
            other_family=False, now=time.time(),
        )


def listed(html: str) -> list[str]:
    """The info hashes of the torrents a list page shows, in order."""
    return _ROW_RE.findall(html)


def link(html: str, rel: str) -> str:
    match = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    assert match, rel
    return unescape(match.group(1))


@async_test
async def test_browse_pages_through_everything_newest_first(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        made = [await add(site, f"Release {i}", created_at=EPOCH + timedelta(days=i)) for i in range(120)]
        client = site.client()
        seen: list[str] = []
        answer = await client.get("/browse")
        while True:
            assert answer.status_code == 200
            seen += listed(answer.text)
            if 'rel="next"' not in answer.text:
                break
            answer = await client.get(link(answer.text, "next"))
        assert seen == [t.swarm_key.hex() for t in reversed(made)]
        back = await client.get(link(answer.text, "prev"))
        assert listed(back.text) == seen[50:100]


@async_test
async def test_browse_sorts_by_live_seeders(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        quiet, busy, some = [await add(site, title) for title in ("quiet", "busy", "some")]
        await seed(site, busy, seeders=3, leechers=2)
        await seed(site, some, seeders=1)
        client = site.client()
        answer = await client.get("/browse", params={"sort": "seeders"})
        assert listed(answer.text) == [t.swarm_key.hex() for t in (busy, some, quiet)]
        assert '<td class="num seeders">3</td>' in answer.text
        assert '<td class="num leechers">2</td>' in answer.text
        assert 'aria-sort="descending"' in answer.text
        seeded = await client.get("/browse", params={"seeded": "1"})
        assert listed(seeded.text) == [t.swarm_key.hex() for t in (some, busy)]


@async_test
async def test_browse_filters_and_lenient_parameters(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        film = await add(site, "A film", category="films", size=5 << 30, tags=["drama"])
        distro = await add(site, "A distro", category="linux", size=700 << 20)
        client = site.client()
        by_category = await client.get("/c/films")
        assert listed(by_category.text) == [film.swarm_key.hex()]
        assert '<h1>Films</h1>' in by_category.text
        assert listed((await client.get("/browse", params={"category": "linux"})).text) == [
            distro.swarm_key.hex()
        ]
        assert listed((await client.get("/tag/drama")).text) == [film.swarm_key.hex()]
        big = await client.get("/browse", params={"min_size": "1G"})
        assert listed(big.text) == [film.swarm_key.hex()]
        small = await client.get("/browse", params={"max_size": "1 GiB", "sort": "size", "order": "asc"})
        assert listed(small.text) == [distro.swarm_key.hex()]
        bad = await client.get("/browse", params={"min_size": "lots"})
        assert bad.status_code == 200 and "is not a size" in bad.text
        assert len(listed(bad.text)) == 2
        odd = await client.get("/browse", params={"sort": "<x>", "order": "up", "after": "%%%", "before": "x"})
        assert odd.status_code == 200 and len(listed(odd.text)) == 2
        for missing in ("/c/nope", "/tag/nope", "/browse?category=nope"):
            assert (await client.get(missing)).status_code == 404, missing


@async_test
async def test_titles_are_text_not_markup(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        await add(site, '<script>alert("x")</script> ubuntu <img src=x onerror=y>')
        client = site.client()
        for path, params in (("/browse", {}), ("/search", {"q": "script ubuntu"}), ("/", {})):
            html = (await client.get(path, params=params)).text
            assert "<script>" not in html and "<img" not in html, path
            assert "&lt;script&gt;" in html or "&lt;<mark>script</mark>&gt;" in html, path
        html = (await client.get("/search", params={"q": "script"})).text
        assert "&lt;<mark>script</mark>&gt;alert(&#34;x&#34;)" in html


@async_test
async def test_search_page_ranks_highlights_and_pages(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        await add(site, "Ubuntu.24.04.1-desktop_amd64", files=["casper/vmlinuz"])
        await add(site, "ubuntu-22.04-live-server")
        for i in range(60):
            await add(site, f"Other linux thing {i}")
        client = site.client()
        answer = await client.get("/search", params={"q": "ubuntu 24.04 desktop"})
        assert answer.status_code == 200
        assert "<mark>Ubuntu</mark>.<mark>24</mark>.<mark>04</mark>.1-<mark>desktop</mark>_amd64" in answer.text
        assert len(listed(answer.text)) == 1
        assert 'value="ubuntu 24.04 desktop"' in answer.text  # the search box keeps the words

        files = await client.get("/search", params={"q": "vmlinuz", "in_files": "1"})
        assert "casper/<mark>vmlinuz</mark>" in files.text
        assert listed((await client.get("/search", params={"q": "vmlinuz"})).text) == []

        first = await client.get("/search", params={"q": "linux thing"})
        assert "60 results" in first.text and "page 1 of 2" in first.text
        second = await client.get(link(first.text, "next"))
        together = listed(first.text) + listed(second.text)
        assert len(together) == len(set(together)) == 60

        for garbage in ("***", "-", '"', "-ubuntu"):
            answer = await client.get("/search", params={"q": garbage})
            assert answer.status_code == 200 and 'class="notice"' in answer.text, garbage
        empty = await client.get("/search")
        assert empty.status_code == 200 and "quotes" in empty.text


@async_test
async def test_an_estimated_total_says_about(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a total past the candidates is estimated (see search.postgres): the page
    says "About", the API says `total_exact: false`; the last page counts exactly."""
    monkeypatch.setattr(fts5, "CANDIDATES", 20)
    monkeypatch.setattr(postgres, "CANDIDATES", 20)
    async with site_with_categories(tmp_path) as site:
        for i in range(60):
            await add(site, f"Estimated thing {i}")
        client = site.client()
        first = await client.get("/search", params={"q": "estimated"})
        api = (await client.get("/api/v1/search", params={"q": "estimated", "per_page": 25})).json()
        last = await client.get("/search", params={"q": "estimated", "page": "2"})
        async with site.ctx.db() as session:
            sqlite = session.get_bind().dialect.name == "sqlite"
    status = " ".join(re.findall(r'<p class="muted" role="status">(.*?)</p>', first.text, re.S)[0].split())
    if sqlite:
        assert status.startswith("60 results") and api["total_exact"] is True
    else:
        assert re.match(r"About [0-9,]+ results", status) and api["total_exact"] is False
        assert api["total"] >= 20
    assert "60 results" in last.text and len(listed(last.text)) == 10


@async_test
async def test_an_info_hash_or_magnet_goes_to_its_torrent(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        v1 = await add(site, "Hybrid one")
        v2 = await add(site, "V2 only", v2_only=True)
        client = site.client()
        assert v1.info_hash_v1 is not None and v2.info_hash_v2 is not None
        for query, target in (
            (v1.info_hash_v1.hex(), v1),
            (v1.info_hash_v1.hex().upper(), v1),
            (f"  {v1.info_hash_v1.hex()}  ", v1),
            (v2.info_hash_v2.hex(), v2),
            (v2.swarm_key.hex(), v2),
            (make_magnet(v1=v1.info_hash_v1, v2=None, name="x", trackers=[]), v1),
            (make_magnet(v1=None, v2=v2.info_hash_v2, name=None, trackers=[]), v2),
        ):
            answer = await client.get("/search", params={"q": query})
            assert answer.status_code == 303, query
            assert answer.headers["location"] == f"/t/{target.swarm_key.hex()}"
        unknown = await client.get("/search", params={"q": "ab" * 20})
        assert unknown.status_code == 200 and listed(unknown.text) == []


@async_test
async def test_home_page_shows_the_latest_uploads(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        client = site.client()
        assert "Nothing has been uploaded yet" in (await client.get("/")).text
        made = [await add(site, f"Upload {i}") for i in range(12)]
        html = (await client.get("/")).text
        assert listed(html) == [t.swarm_key.hex() for t in reversed(made)][:10]
        assert 'href="/rss"' in html


@async_test
async def test_search_api(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        torrent = await add(site, "Ubuntu.24.04.1-desktop_amd64", category="linux", size=6 << 30)
        await seed(site, torrent, seeders=2, leechers=1)
        client = site.client()
        answer = await client.get("/api/v1/search", params={"q": "ubuntu 24.04 desktop"})
        assert answer.status_code == 200
        body = answer.json()
        assert body["total"] == 1 and body["error"] is None
        (result,) = body["results"]
        info_hash = torrent.swarm_key.hex()
        assert result["info_hash"] == info_hash
        assert result["title"] == "Ubuntu.24.04.1-desktop_amd64"
        assert (result["size"], result["seeders"], result["leechers"], result["completed"]) == (6 << 30, 2, 1, 0)
        assert result["category"] == "linux"
        assert result["url"] == f"http://testserver/t/{info_hash}"
        assert result["download_url"] == f"http://testserver/t/{info_hash}.torrent"
        assert result["magnet"].startswith(f"magnet:?xt=urn:btih:{info_hash}")

        # The same fields as the single-torrent API.
        one = (await client.get(f"/api/v1/torrents/{info_hash}")).json()
        for field in ("name", "title", "info_hash", "size", "seeders", "leechers", "completed",
                      "url", "download_url", "magnet", "category", "created_at"):
            assert result[field] == one[field], field

        by_hash = (await client.get("/api/v1/search", params={"q": info_hash})).json()
        assert [r["info_hash"] for r in by_hash["results"]] == [info_hash]
        garbage = (await client.get("/api/v1/search", params={"q": "***"})).json()
        assert garbage["results"] == [] and garbage["error"]
        assert (await client.get("/api/v1/search")).status_code == 422


@async_test
async def test_torrent_list_api_pages_with_cursors(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        made = [await add(site, f"T{i}", size=i) for i in range(7)]
        client = site.client()
        seen: list[str] = []
        params: dict[str, Any] = {"sort": "size", "order": "asc", "per_page": 3}
        while True:
            body = (await client.get("/api/v1/torrents", params=params)).json()
            seen += [r["info_hash"] for r in body["results"]]
            if body["next"] is None:
                break
            params["after"] = body["next"]
        assert seen == [t.swarm_key.hex() for t in made]
        assert (await client.get("/api/v1/torrents", params={"sort": "nope"})).status_code == 422
        assert (await client.get("/api/v1/torrents", params={"min_size": "x"})).status_code == 422
        assert (await client.get("/api/v1/torrents", params={"category": "nope"})).status_code == 404
        assert (await client.get("/api/v1/torrents", params={"category": "linux"})).json()["results"]


@async_test
async def test_the_count_snapshot_is_shared_by_the_app(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        client = site.client()
        await client.get("/browse", params={"sort": "seeders"})
        app = site.app.app  # the FastAPI app inside the security headers
        counter = app.state.swarm_counter
        assert counter.store is site.ctx.tracker
        await client.get("/browse", params={"sort": "leechers"})
        assert app.state.swarm_counter is counter
        assert swarm_counter is not None


@async_test
async def test_uploads_are_searchable_at_once_and_deletions_gone(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        data = build_torrent(tmp_path / "files", {"Arch.Linux-2024.05.01_x86_64/arch.iso": 20_000,
                                                  "Arch.Linux-2024.05.01_x86_64/sha256sums.txt": 100})
        token = await site.api_token("uploader")
        client = site.client()
        created = await client.post(
            "/api/v1/torrents", headers={"Authorization": f"Bearer {token}"},
            data={"category": "linux", "tags": "rolling"},
            files={"file": ("arch.torrent", data, "application/x-bittorrent")},
        )
        assert created.status_code == 201, created.text
        info_hash = created.json()["info_hash"]

        async def found(query: str, **params: str) -> list[str]:
            body = (await client.get("/api/v1/search", params={"q": query, **params})).json()
            return [r["info_hash"] for r in body["results"]]

        assert await found("arch linux 2024.05") == [info_hash]
        assert await found("rolling") == [info_hash]
        assert await found("sha256sums") == []
        assert await found("sha256sums", in_files="true") == [info_hash]

        owner = await site.logged_in("uploader")
        assert (await post_form(owner, f"/t/{info_hash}/delete")).status_code < 400
        assert await found("arch linux") == []
        assert listed((await client.get("/browse")).text) == []
