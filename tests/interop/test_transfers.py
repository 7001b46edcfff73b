"""A real file moves between real BitTorrent clients that found each other through swarmdex.

DHT, PEX, LSD and port mapping are off in every client (see clients.py), so the tracker's peer
lists are the only way the two sides can meet; test_isolation.py proves that.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ..support.serve import Serve
from .clients import LibtorrentClient, TransmissionDaemon
from .torrents import Payload, TorrentKind, make_torrent, sha256_file
from .waits import describe_all, wait_until

pytestmark = pytest.mark.interop

# Transmission chokes and unchokes on a 10 s timer, so a loopback transfer takes 13-20 s.
TRANSFER_TIMEOUT = 120
# Time for a client to check its data (seeders) and get its first announce answered.
READY_TIMEOUT = 30


@pytest.mark.parametrize("transport", ["udp", "http"])
def test_libtorrent_seeds_to_transmission(
    transport: str,
    tracker: Serve,
    payload: Payload,
    tmp_path: Path,
    libtorrent_client: Callable[[str], LibtorrentClient],
    transmission: Callable[[str], TransmissionDaemon],
) -> None:
    torrent = make_torrent(payload.path, [tracker.url(transport)], TorrentKind.V1, tmp_path)
    leecher = transmission("leecher")
    seeder = libtorrent_client("seeder")
    describe = describe_all(tracker, seeder, leecher)

    # Transmission never dials a 127/8 address, so it joins the swarm first and the libtorrent
    # seeder, which learns of it from its own announce, is the one that dials.
    leecher.add(torrent)
    wait_until(leecher.has_announced, READY_TIMEOUT, "Transmission's first announce", describe)
    seeder.add(torrent, payload.directory)

    wait_until(leecher.is_complete, TRANSFER_TIMEOUT, "Transmission to complete", describe)
    leecher.stop_torrent()
    assert sha256_file(leecher.download_dir / torrent.name) == payload.sha256, describe()
    assert not seeder.tracker_errors(), describe()


@pytest.mark.parametrize("transport", ["udp", "http"])
def test_transmission_seeds_to_libtorrent(
    transport: str,
    tracker: Serve,
    payload: Payload,
    tmp_path: Path,
    libtorrent_client: Callable[[str], LibtorrentClient],
    transmission: Callable[[str], TransmissionDaemon],
) -> None:
    torrent = make_torrent(payload.path, [tracker.url(transport)], TorrentKind.V1, tmp_path)
    seeder = transmission("seeder")
    leecher = libtorrent_client("leecher")
    describe = describe_all(tracker, seeder, leecher)

    # Transmission seeds from where the file already is: it verifies the data, then announces
    # as a seed. Transmission accepts incoming connections from 127/8, so libtorrent dials it.
    seeder.add(torrent, payload.directory)
    wait_until(
        lambda: seeder.is_complete_seed() and seeder.has_announced(),
        READY_TIMEOUT,
        "Transmission to verify the file and announce as a seed",
        describe,
    )
    leecher.add(torrent, tmp_path / "downloaded")

    wait_until(leecher.is_seeding, TRANSFER_TIMEOUT, "libtorrent to complete", describe)
    assert sha256_file(tmp_path / "downloaded" / torrent.name) == payload.sha256, describe()
    assert not leecher.tracker_errors(), describe()


@pytest.mark.parametrize(
    ("kind", "transport"),
    [
        (TorrentKind.V2, "http"),
        (TorrentKind.V2, "udp"),
        (TorrentKind.HYBRID, "http"),
        (TorrentKind.HYBRID, "udp"),
    ],
    ids=lambda value: value.value if isinstance(value, TorrentKind) else value,
)
def test_libtorrent_pair(
    kind: TorrentKind,
    transport: str,
    tracker: Serve,
    payload: Payload,
    tmp_path: Path,
    libtorrent_client: Callable[[str], LibtorrentClient],
) -> None:
    """v2-only and hybrid torrents; Transmission 3.00 refuses both, so libtorrent seeds and leeches.

    A hybrid torrent is announced twice, under its v1 infohash and under its v2 infohash
    truncated to 20 bytes; both announces must be answered.
    """
    torrent = make_torrent(payload.path, [tracker.url(transport)], kind, tmp_path)
    seeder = libtorrent_client("seeder")
    leecher = libtorrent_client("leecher")
    describe = describe_all(tracker, seeder, leecher)
    expected_versions = {"V2"} if kind is TorrentKind.V2 else {"V1", "V2"}

    seeder.add(torrent, payload.directory)
    wait_until(
        lambda: seeder.is_seeding() and seeder.answered_versions() >= expected_versions,
        READY_TIMEOUT,
        "the libtorrent seeder to check its data and be answered by the tracker",
        describe,
    )
    leecher.add(torrent, tmp_path / "downloaded")

    wait_until(leecher.is_seeding, TRANSFER_TIMEOUT, "the libtorrent leecher to complete", describe)
    assert sha256_file(tmp_path / "downloaded" / torrent.name) == payload.sha256, describe()
    wait_until(
        lambda: leecher.answered_versions() >= expected_versions,
        READY_TIMEOUT,
        f"tracker replies to the leecher for {sorted(expected_versions)}",
        describe,
    )
    assert not seeder.tracker_errors() and not leecher.tracker_errors(), describe()
