"""Negative control: with the tracker unreachable, the same clients never exchange a byte.

This is what makes the transfer tests mean something: DHT, PEX, LSD and port mapping are off,
so a transfer can only happen because swarmdex's peer lists introduced the peers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .clients import LOOPBACK, LibtorrentClient, TransmissionDaemon, free_port
from .torrents import Payload, TorrentKind, make_torrent
from .waits import describe_all, holds_for, wait_until

pytestmark = pytest.mark.interop

# libtorrent connects within a second or two of learning a peer (the transfer tests see it):
# 10 s of silence, five times that, is conclusive.
ISOLATION_WINDOW = 10


def test_no_tracker_no_transfer(
    payload: Payload,
    tmp_path: Path,
    libtorrent_client: Callable[[str], LibtorrentClient],
    transmission: Callable[[str], TransmissionDaemon],
) -> None:
    # Nothing listens here: HTTP announces are refused and UDP ones go unanswered.
    dead_port = free_port()
    trackers = [f"http://{LOOPBACK}:{dead_port}/announce", f"udp://{LOOPBACK}:{dead_port}/announce"]
    torrent = make_torrent(payload.path, trackers, TorrentKind.V1, tmp_path)
    transmission_leecher = transmission("leecher")
    seeder = libtorrent_client("seeder")
    leecher = libtorrent_client("leecher")
    describe = describe_all(seeder, leecher, transmission_leecher)

    transmission_leecher.add(torrent)
    seeder.add(torrent, payload.directory)
    leecher.add(torrent, tmp_path / "downloaded")
    wait_until(seeder.is_seeding, 30, "the libtorrent seeder to check its data", describe)
    # The clients did try: each libtorrent side saw its announces fail.
    wait_until(
        lambda: bool(seeder.tracker_errors() and leecher.tracker_errors()),
        30,
        "announces to the unreachable tracker to fail",
        describe,
    )

    def nothing_moved() -> bool:
        return (
            leecher.payload_downloaded() == 0
            and leecher.status().num_peers == 0
            and transmission_leecher.payload_downloaded() == 0
        )

    holds_for(nothing_moved, ISOLATION_WINDOW, "no payload reaching any leecher", describe)
