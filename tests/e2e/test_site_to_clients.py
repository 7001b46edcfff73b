"""From the site to real clients and back: a torrent uploaded through the JSON API, downloaded
from the site, moves a real file from libtorrent to Transmission through the announce URLs the
site wrote into it, and the torrent's page then shows the swarm.

The uploaded .torrent names no tracker at all and the clients are given nothing but the file
the site handed out, so every peer they meet came from the site's own tracker, in its default
(listed) mode: it serves the torrent only because the upload put it on the site.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import libtorrent as lt
import pytest

from ..interop.clients import LOOPBACK, LibtorrentClient, TransmissionDaemon
from ..interop.torrents import Payload, Torrent, TorrentKind, make_torrent, sha256_file
from ..interop.waits import describe_all, wait_until
from .conftest import Site

pytestmark = pytest.mark.interop

# As in the interop tests: Transmission chokes and unchokes on a 10 s timer, so a loopback
# transfer takes 13-20 s; a client checks its data and gets its first announce answered well
# within READY_TIMEOUT.
TRANSFER_TIMEOUT = 120
READY_TIMEOUT = 30
# From Transmission's completed announce (sent as it finishes) to the site's counts.
COUNTS_TIMEOUT = 30
TORRENT_TYPE = "application/x-bittorrent"


def test_uploaded_torrent_moves_a_file_between_real_clients(
    site: Site,
    category: str,
    api_token: str,
    payload: Payload,
    tmp_path: Path,
    libtorrent_client: Callable[[str], LibtorrentClient],
    transmission: Callable[[str], TransmissionDaemon],
) -> None:
    made = make_torrent(payload.path, [], TorrentKind.V1, tmp_path / "made")
    made_info = lt.torrent_info(made.metainfo)
    made_hash = str(made_info.info_hashes().v1)
    assert not bdecode(made.metainfo).keys() & {b"announce", b"announce-list"}, (
        "the uploaded file must name no tracker of its own"
    )

    # Upload through the JSON API, as the token's owner.
    with site.client() as client:
        answer = client.post(
            "/api/v1/torrents",
            headers={"Authorization": f"Bearer {api_token}"},
            data={"category": category, "title": "End-to-end payload"},
            files={"file": ("payload.torrent", made.metainfo, TORRENT_TYPE)},
        )
    assert answer.status_code == 201, f"{answer.status_code}: {answer.text}\n{site.describe()}"
    created = answer.json()
    info_hash = created["info_hash"]
    assert info_hash == created["info_hash_v1"] == made_hash, created
    assert created["url"] == site.url(f"/t/{info_hash}"), created
    assert created["download_url"] == site.url(f"/t/{info_hash}.torrent"), created
    assert answer.headers["location"] == created["url"]

    # Download the .torrent from the site: the same info dict, byte for byte, with the
    # site's trackers added.
    with site.client() as client:
        download = client.get(created["download_url"])
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == TORRENT_TYPE
    downloaded = lt.torrent_info(download.content)
    assert downloaded.info_section() == made_info.info_section()
    assert hashlib.sha1(downloaded.info_section()).hexdigest() == info_hash
    assert str(downloaded.info_hashes().v1) == info_hash

    announce_urls = check_announce_urls(site, bdecode(download.content))
    magnet = parse_qs(urlsplit(created["magnet"]).query)
    assert magnet["xt"] == [f"urn:btih:{info_hash}"], created["magnet"]
    assert set(magnet["tr"]) == announce_urls, created["magnet"]

    # Both clients get exactly the file the site handed out, and nothing else.
    from_site = tmp_path / "from-site" / f"{made.name}.torrent"
    from_site.parent.mkdir()
    from_site.write_bytes(download.content)
    torrent = Torrent(path=from_site, metainfo=download.content, name=made.name,
                      kind=TorrentKind.V1)
    leecher = transmission("leecher")
    seeder = libtorrent_client("seeder")
    describe = describe_all(site, seeder, leecher)

    # Transmission never dials a 127/8 address, so it joins the swarm first and the libtorrent
    # seeder, which learns of it from its own announce, is the one that dials.
    leecher.add(torrent)
    wait_until(leecher.has_announced, READY_TIMEOUT, "Transmission's first announce", describe)
    seeder.add(torrent, payload.directory)

    wait_until(leecher.is_complete, TRANSFER_TIMEOUT, "Transmission to complete", describe)
    leecher.stop_torrent()
    assert sha256_file(leecher.download_dir / torrent.name) == payload.sha256, describe()

    # The clients announced to the site's trackers and to nothing else; libtorrent announces
    # to every tracker of the file, so both transports answered it.
    used = {t["announce"] for t in leecher.torrent()["trackerStats"]}
    assert used <= announce_urls, (used, describe())
    wait_until(
        lambda: answered_trackers(seeder) == announce_urls,
        READY_TIMEOUT,
        f"libtorrent's announces to {sorted(announce_urls)} to be answered",
        describe,
    )
    assert not seeder.tracker_errors(), describe()

    # The site shows the swarm: Transmission's completed download and libtorrent seeding.
    with site.client() as client:

        def api_counts() -> dict[str, Any]:
            shown = client.get(f"/api/v1/torrents/{info_hash}")
            assert shown.status_code == 200, shown.text
            body: dict[str, Any] = shown.json()
            return body

        def site_shows_swarm() -> bool:
            counts = api_counts()
            return bool(counts["completed"] >= 1 and counts["seeders"] >= 1)

        wait_until(
            site_shows_swarm,
            COUNTS_TIMEOUT,
            "GET /api/v1/torrents/{info_hash} to show a completed download and a seeder",
            lambda: f"{client.get(f'/api/v1/torrents/{info_hash}').text}\n{describe()}",
        )
        shown = api_counts()
        assert shown["info_hash"] == info_hash and shown["title"] == "End-to-end payload", shown
        assert shown["name"] == made.name and shown["size"] == payload.path.stat().st_size, shown
        assert shown["category"] == category, shown

        page = client.get(created["url"])
        assert page.status_code == 200, page.text
        counts = page_counts(page.text)
        assert counts["completed"] >= 1 and counts["seeders"] >= 1, (counts, describe())
        assert f'href="/t/{info_hash}.torrent"' in page.text


def bdecode(data: bytes) -> dict[bytes, Any]:
    """A .torrent file's top-level dictionary, decoded by libtorrent (not by swarmdex)."""
    decoded: Any = lt.bdecode(data)
    assert isinstance(decoded, dict), decoded
    return decoded


def check_announce_urls(site: Site, metainfo: dict[bytes, Any]) -> set[str]:
    """The downloaded file's trackers are the site's own, HTTP and UDP, on 127.0.0.1 and the
    ports swarmdex actually bound (never 0.0.0.0 or port 0); return them."""
    announce = metainfo[b"announce"].decode()
    tiers = [[url.decode() for url in tier] for tier in metainfo.get(b"announce-list", [])]
    urls = {announce} | {url for tier in tiers for url in tier}
    assert announce == tiers[0][0], (announce, tiers)
    assert urls == {site.server.url("http"), site.server.url("udp")}, (urls, site.describe())

    site_port = urlsplit(site.base_url).port
    by_scheme = {urlsplit(url).scheme: urlsplit(url) for url in urls}
    assert by_scheme.keys() == {"http", "udp"}, urls
    for parts in by_scheme.values():
        assert parts.hostname == LOOPBACK, urls
        assert parts.port, urls
        # libtorrent announces to a loopback tracker only under /announce (SSRF mitigation).
        assert parts.path == "/announce", urls
    # The HTTP tracker is the site's own port: the one this test has been talking to.
    assert by_scheme["http"].port == site_port, (urls, site.base_url)
    return urls


def answered_trackers(client: LibtorrentClient) -> set[str]:
    """The trackers that answered a libtorrent announce (its `started` event went through)."""
    client.pump()
    return {
        entry["url"]
        for entry in client.handle.trackers()
        if any(h["start_sent"] for point in entry["endpoints"] for h in point["info_hashes"])
    }


_COUNT_RE = re.compile(r"<b[^>]*>([\d,]+)</b><span>(seeders|leechers|completed)</span>")


def page_counts(html: str) -> dict[str, int]:
    """The swarm cards of a torrent's page: seeders, leechers, completed."""
    counts = {label: int(number.replace(",", "")) for number, label in _COUNT_RE.findall(html)}
    assert counts.keys() == {"seeders", "leechers", "completed"}, html
    return counts
