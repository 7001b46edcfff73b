"""RSS 2.0 feeds: well-formed XML with the elements the spec requires, an enclosure per item
whose length is the .torrent's, and Torznab attributes with live counts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime
from pathlib import Path

from swarmdex.db.engine import transaction
from swarmdex.db.models import User
from tests.functional.site.helpers import async_test
from tests.functional.site.test_browse import add, seed, site_with_categories

TORZNAB = "{http://torznab.com/schemas/2015/feed}"
ATOM = "{http://www.w3.org/2005/Atom}"
# Characters XML 1.0 cannot carry at all: feeds drop them.
NOT_XML = "\x01\x0b" + chr(0xFFFE)


def parse(body: bytes) -> ET.Element:
    root = ET.fromstring(body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    (channel,) = root.findall("channel")
    for required in ("title", "link", "description"):
        assert channel.findtext(required), required
    return channel


def attrs(item: ET.Element) -> dict[str, str]:
    return {a.get("name", ""): a.get("value", "") for a in item.findall(f"{TORZNAB}attr")}


@async_test
async def test_latest_feed_items(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        await add(site, "Older", size=1234)
        newer = await add(site, "Debian & <friends> " + NOT_XML, category="films", size=5 << 30)
        await seed(site, newer, seeders=2, leechers=3)
        client = site.client()
        answer = await client.get("/rss")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/rss+xml; charset=utf-8"
        channel = parse(answer.content)
        self_link = channel.find(f"{ATOM}link")
        assert self_link is not None and self_link.get("href") == "http://testserver/rss"
        items = channel.findall("item")
        assert [i.findtext("title") for i in items] == ["Debian & <friends> ", "Older"]

        item = items[0]
        info_hash = newer.swarm_key.hex()
        assert item.findtext("link") == f"http://testserver/t/{info_hash}"
        guid = item.find("guid")
        assert guid is not None and guid.text == item.findtext("link") and guid.get("isPermaLink") == "true"
        assert parsedate_to_datetime(item.findtext("pubDate") or "") == newer.created_at
        assert item.findtext("category") == "Films"
        enclosure = item.find("enclosure")
        assert enclosure is not None
        assert enclosure.get("type") == "application/x-bittorrent"
        assert enclosure.get("url") == f"http://testserver/t/{info_hash}.torrent"
        download = await client.get(f"/t/{info_hash}.torrent")
        assert download.status_code == 200
        assert int(enclosure.get("length") or 0) == len(download.content)
        found = attrs(item)
        assert found["size"] == str(5 << 30)
        assert (found["seeders"], found["leechers"], found["peers"], found["grabs"]) == ("2", "3", "5", "0")
        assert found["infohash"] == info_hash
        assert found["magneturl"].startswith(f"magnet:?xt=urn:btih:{info_hash}")


@async_test
async def test_category_tag_search_and_user_feeds(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        async with transaction(site.ctx.db) as session:
            alice = User(name="Alice", password_hash="x")
            session.add(alice)
        await add(site, "Ubuntu desktop", tags=["gnome"], uploader=alice)
        await add(site, "Ubuntu server", category="software", uploader=alice, anonymous=True)
        await add(site, "Big Buck Bunny", category="films")
        client = site.client()

        async def titles(path: str, **params: str) -> list[str]:
            answer = await client.get(path, params=params)
            assert answer.status_code == 200, path
            return [i.findtext("title") or "" for i in parse(answer.content).findall("item")]

        assert await titles("/rss/c/films") == ["Big Buck Bunny"]
        assert await titles("/rss/tag/gnome") == ["Ubuntu desktop"]
        assert await titles("/rss/search", q="ubuntu") == ["Ubuntu server", "Ubuntu desktop"]
        assert await titles("/rss/search", q="ubuntu -server") == ["Ubuntu desktop"]
        assert await titles("/rss/search", q="***") == []
        assert await titles("/rss/search") == []
        # The anonymous upload stays anonymous; names are found in any case.
        assert await titles("/rss/user/alice") == ["Ubuntu desktop"]
        for missing in ("/rss/c/nope", "/rss/tag/nope", "/rss/user/nobody"):
            assert (await client.get(missing)).status_code == 404, missing


@async_test
async def test_pages_point_to_their_feeds(tmp_path: Path) -> None:
    async with site_with_categories(tmp_path) as site:
        client = site.client()
        for path, feed in (("/c/linux", "/rss/c/linux"), ("/browse", "/rss"),
                           ("/search?q=x", "/rss/search?q=x")):
            html = (await client.get(path)).text
            assert 'type="application/rss+xml" title="' in html and f'href="{feed}"' in html, path
