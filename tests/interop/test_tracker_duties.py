"""Behaviour of real clients that the tracker has to accommodate, each shown on its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ..support.serve import Serve
from .clients import LibtorrentClient
from .torrents import Payload, TorrentKind, make_torrent
from .waits import describe_all, wait_until

pytestmark = pytest.mark.interop


def test_udp_connection_id_is_accepted_from_another_port_of_the_same_address(
    tracker: Serve,
    payload: Payload,
    tmp_path: Path,
    libtorrent_client: Callable[[str], LibtorrentClient],
) -> None:
    """libtorrent keeps UDP connection ids in one process-wide cache keyed by the tracker's IP
    and reuses an id for up to a minute from whichever of its sockets announces next. So a
    connection id has to be bound to the client's address, not to its address and port, or
    every libtorrent process with more than one listen socket (and every NAT that moves the
    client's UDP port) sees its announces refused until the cached id expires.
    """
    torrent = make_torrent(payload.path, [tracker.url("udp")], TorrentKind.V1, tmp_path)
    first = libtorrent_client("first")
    second = libtorrent_client("second")
    assert first.port != second.port
    describe = describe_all(tracker, first, second)

    first.add(torrent, payload.directory)
    wait_until(
        lambda: bool(first.answered_versions() or first.tracker_errors()),
        30,
        "an answer to the first client's announce",
        describe,
    )
    second.add(torrent, tmp_path / "second")
    wait_until(
        lambda: bool(second.answered_versions() or second.tracker_errors()),
        30,
        "an answer to the second client's announce",
        describe,
    )
    # The two sessions share libtorrent's cache, so one of them announced with an id that
    # swarmdex issued to another port.
    assert not (first.tracker_errors() or second.tracker_errors()), (
        "swarmdex refused a UDP announce carrying a connection id that libtorrent got on "
        "another of its sockets (same address, other port)\n" + describe()
    )
