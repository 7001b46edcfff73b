"""Addresses with characters beyond Latin-1 on a real `swarmdex serve`: the site's own tag links
and feeds for a tag written in Japanese, and API lookups of such names, answer like any other."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, unquote

import httpx

from tests.support.serve import Serve
from tests.support.site import RunningSite
from tests.unit.torrents.support import build_torrent

TAG = "日本語"
TITLE = "Wikipedia dump, Japanese edition"


def test_a_torrent_tagged_in_japanese_is_found_at_its_tag_page_and_feed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data = build_torrent(tmp_path / "payload", {"jawiki/dump.xml": 40_000}, seed="unicode-tag")
    with Serve(data_dir, "--port", "0", "--udp-port", "0") as server:
        site = RunningSite(server, data_dir)
        token = site.create_token(site.create_user("uploader"))
        with httpx.Client(base_url=site.base_url, timeout=10, trust_env=False) as client:
            created = client.post(
                "/api/v1/torrents", headers={"Authorization": f"Bearer {token}"},
                data={"category": "linux", "title": TITLE, "tags": TAG},
                files={"file": ("jawiki.torrent", data, "application/x-bittorrent")})
            assert created.status_code == 201, created.text
            key = created.json()["info_hash"]

            # The tag link exactly as the detail page writes it (percent-encoded UTF-8).
            detail = client.get(f"/t/{key}")
            assert detail.status_code == 200, detail.text
            links = re.findall(r'href="(/tag/[^"]+)"', detail.text)
            assert links and unquote(links[0]) == f"/tag/{TAG}", links
            page = client.get(links[0])
            assert page.status_code == 200, server.describe()
            assert TITLE in page.text

            feed = client.get(f"/rss/tag/{quote(TAG)}")
            assert feed.status_code == 200, server.describe()
            assert TITLE in feed.text and feed.headers["content-type"].startswith(
                ("application/rss+xml", "application/xml", "text/xml"))

            # JSON API lookups by a name or hash nobody has answer 404 or 422, never 500.
            for path in (f"/api/v1/users/{quote(TAG)}", f"/api/v1/torrents/{quote(TAG)}"):
                answer = client.get(path)
                assert answer.status_code in (404, 422), (path, answer.status_code, answer.text)
                assert "detail" in answer.json()
        assert server.stop() == 0, server.describe()
        assert "Traceback" not in "\n".join(server.lines), server.describe()
