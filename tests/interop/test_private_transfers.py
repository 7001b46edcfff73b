"""Private mode with real clients: members' own .torrent files, passkeys in their announces.

A `swarmdex serve --tracker-mode private` whose downloads name one tracker only (the
`announce_urls` setting: the HTTP or the UDP URL of this very server). Two members made on
the command line each download the torrent with their own API token, so each client
announces with its member's passkey and with nothing else. Over UDP the passkey travels as
BEP 41 URL data, which libtorrent sends. A client whose file carries a passkey that is no
member's is refused by the tracker and meets no one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.tracker.members import NO_PASSKEY
from tests.unit.torrents.support import build_torrent

from ..support.serve import Serve
from ..support.site import RunningSite
from .clients import LibtorrentClient, TransmissionDaemon, free_port
from .torrents import Payload, Torrent, TorrentKind, sha256_file
from .waits import describe_all, wait_until

pytestmark = pytest.mark.interop

PAYLOAD = "payload.bin"
PAYLOAD_SIZE = 1024 * 1024  # 64 pieces of 16 KiB: a transfer of many requests, done quickly
TRANSFER_TIMEOUT = 60
READY_TIMEOUT = 20
STOP_TIMEOUT = 10
PASSKEY_RE = re.compile(r"/announce/([0-9a-f]{32})")
WRONG_PASSKEY = "0" * 32
# This test's own tracker listens on an address of its own. libtorrent keeps UDP connection
# ids per tracker address for the whole process: ids from this server (its own secret) would
# be offered to the shared server of the other interop tests on 127.0.0.1, which refuses them.
TRACKER_HOST = "127.0.0.2"


class PrivateSite(RunningSite):
    tracker = ""  # the announce URL its downloads name (TRACKER_HOST)

    def download(self, token: str, info_hash: str, directory: Path) -> tuple[Torrent, str]:
        """The .torrent as the token's owner downloads it, and the passkey in it."""
        answer = httpx.get(self.url(f"/t/{info_hash}.torrent"), timeout=10, trust_env=False,
                           headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        keys = set(PASSKEY_RE.findall(answer.content.decode("latin-1")))
        assert len(keys) == 1, keys
        directory.mkdir(parents=True)
        path = directory / f"{PAYLOAD}.torrent"
        path.write_bytes(answer.content)
        return Torrent(path, answer.content, PAYLOAD, TorrentKind.V1), keys.pop()


@contextmanager
def private_site(tmp_path: Path, transport: str) -> Iterator[PrivateSite]:
    """`swarmdex serve --tracker-mode private` whose downloads name only its `transport`
    tracker: the ports are chosen first, so the setting can name them."""
    http_port = free_port()
    udp_port = free_port(exclude=frozenset({http_port}))
    tracker = {"http": f"http://{TRACKER_HOST}:{http_port}/announce",
               "udp": f"udp://{TRACKER_HOST}:{udp_port}/announce"}[transport]
    env = {"SWARMDEX_ANNOUNCE_URLS": tracker}
    data_dir = tmp_path / "data"
    with Serve(data_dir, "--host", TRACKER_HOST, "--port", str(http_port), "--udp-port", str(udp_port),
               "--tracker-mode", "private", env=env) as server:
        site = PrivateSite(server, data_dir, env)
        site.tracker = tracker
        yield site
        running = server.process.poll() is None
        status = server.stop(timeout=STOP_TIMEOUT)
        assert running, f"swarmdex died during the test (exit {status})\n{server.describe()}"
        assert not server.needed_kill, server.describe()


@contextmanager
def two_members(tmp_path: Path, transport: str) -> Iterator[tuple[PrivateSite, Payload, Torrent, Torrent, str]]:
    """The site; a payload one member uploaded (as a private torrent naming no tracker); the
    uploader's and the other member's downloads of it; the other member's passkey."""
    made = tmp_path / "made"
    metainfo = build_torrent(made, {PAYLOAD: PAYLOAD_SIZE}, "v1", private=True, seed=transport)
    payload = Payload(made / PAYLOAD, sha256_file(made / PAYLOAD))
    with private_site(tmp_path, transport) as site:
        # Each command line call starts a Python: the two members are made side by side.
        with ThreadPoolExecutor(2) as pool:
            up_token, other_token = pool.map(
                lambda prefix: site.create_token(site.create_user(prefix)), ("uploader", "member"))
        info_hash = site.upload(up_token, metainfo)
        seeding, up_key = site.download(up_token, info_hash, tmp_path / "uploader")
        leeching, other_key = site.download(other_token, info_hash, tmp_path / "member")
        assert up_key != other_key
        # Only this transport's tracker, with the downloader's own passkey.
        for torrent, key in ((seeding, up_key), (leeching, other_key)):
            meta = parse_torrent(torrent.metainfo)
            trackers = {meta.announce, *(url for tier in meta.announce_list for url in tier)}
            assert trackers == {f"{site.tracker}/{key}"}, trackers
        yield site, payload, seeding, leeching, other_key


def wrong_passkey(torrent: Torrent, passkey: str, directory: Path) -> Torrent:
    """`torrent` with `passkey` swapped for one that is no member's (same length, so the
    bencoding stays valid)."""
    metainfo = torrent.metainfo.replace(passkey.encode(), WRONG_PASSKEY.encode())
    assert metainfo != torrent.metainfo
    directory.mkdir(parents=True)
    path = directory / torrent.path.name
    path.write_bytes(metainfo)
    return Torrent(path, metainfo, torrent.name, torrent.kind)


def refused(client: LibtorrentClient, reason: str | None) -> bool:
    """The tracker refused `client` (with `reason`, when the transport carries it to
    libtorrent's alert) and it has met no peer."""
    errors = client.tracker_errors()
    return bool(errors) and (reason is None or any(reason in e for e in errors)) and (
        client.status().num_peers == 0)


def test_libtorrent_seeds_to_transmission_over_http(
    tmp_path: Path,
    libtorrent_client: Callable[[str], LibtorrentClient],
    transmission: Callable[[str], TransmissionDaemon],
) -> None:
    leecher = transmission("leecher")  # started first: the daemon takes a while to answer
    with two_members(tmp_path, "http") as (site, payload, seeding, leeching, other_key):
        seeder = libtorrent_client("seeder")
        stranger = libtorrent_client("wrong-passkey")
        describe = describe_all(site, seeder, leecher, stranger)

        # Transmission never dials 127/8: it joins first, and the seeder dials it.
        leecher.add(leeching)
        wait_until(leecher.has_announced, READY_TIMEOUT, "Transmission's first announce", describe)
        seeder.add(seeding, payload.directory)
        stranger.add(wrong_passkey(leeching, other_key, tmp_path / "wrong"), tmp_path / "stranger")

        wait_until(leecher.is_complete, TRANSFER_TIMEOUT, "Transmission to complete", describe)
        leecher.stop_torrent()
        assert sha256_file(leecher.download_dir / PAYLOAD) == payload.sha256, describe()
        assert not seeder.tracker_errors(), describe()
        # The failure reason of an HTTP announce reaches libtorrent's tracker error alert.
        wait_until(lambda: refused(stranger, NO_PASSKEY.split(":")[0]), READY_TIMEOUT,
                   "the tracker to refuse the wrong passkey", describe)
        assert stranger.payload_downloaded() == 0, describe()


def test_two_libtorrent_clients_over_udp(
    tmp_path: Path,
    libtorrent_client: Callable[[str], LibtorrentClient],
) -> None:
    with two_members(tmp_path, "udp") as (site, payload, seeding, leeching, other_key):
        seeder = libtorrent_client("seeder")
        leecher = libtorrent_client("leecher")
        stranger = libtorrent_client("wrong-passkey")
        describe = describe_all(site, seeder, leecher, stranger)

        seeder.add(seeding, payload.directory)
        wait_until(lambda: seeder.is_seeding() and "V1" in seeder.answered_versions(),
                   READY_TIMEOUT, "the seeder to check its data and be answered", describe)
        leecher.add(leeching, tmp_path / "downloaded")
        stranger.add(wrong_passkey(leeching, other_key, tmp_path / "wrong"), tmp_path / "stranger")

        wait_until(leecher.is_seeding, TRANSFER_TIMEOUT, "the leecher to complete", describe)
        assert sha256_file(tmp_path / "downloaded" / PAYLOAD) == payload.sha256, describe()
        assert not seeder.tracker_errors() and not leecher.tracker_errors(), describe()
        # libtorrent keeps a UDP tracker's failure text to itself (see clients.py): the
        # refusal shows as a tracker error, and the stranger meets no one.
        wait_until(lambda: refused(stranger, None), READY_TIMEOUT,
                   "the tracker to refuse the wrong passkey", describe)
        assert stranger.payload_downloaded() == 0, describe()
