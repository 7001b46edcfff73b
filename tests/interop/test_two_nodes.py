"""Real clients through two tracker nodes of a split deployment (one PostgreSQL database, one
Redis): a libtorrent seeder announcing only to node A and a Transmission leecher announcing
only to node B meet through the shared peer store and move a file."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.node import SECRET_FILE

from ..support.databases import PostgresDatabases
from ..support.redis_server import RedisServer, redis_server
from ..support.serve import Serve
from .clients import LibtorrentClient, TransmissionDaemon
from .test_transfers import READY_TIMEOUT, TRANSFER_TIMEOUT
from .torrents import Payload, TorrentKind, make_torrent, sha256_file
from .waits import describe_all, wait_until

pytestmark = pytest.mark.interop

NODE = ("--port", "0", "--udp-port", "0", "--tracker-mode", "open")


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def data_dir(server: Serve) -> Path:
    return Path(server.argv[server.argv.index("--data-dir") + 1])


@pytest.mark.parametrize(("seeder_transport", "leecher_transport"), [("udp", "http"), ("http", "udp")])
def test_libtorrent_on_node_a_seeds_to_transmission_on_node_b(
    seeder_transport: str,
    leecher_transport: str,
    tmp_path: Path,
    payload: Payload,
    postgres: PostgresDatabases,
    redis: RedisServer,
    tracker: Serve,
    libtorrent_client: Callable[[str], LibtorrentClient],
    transmission: Callable[[str], TransmissionDaemon],
) -> None:
    # One secret for every node, as docs/scaling.md asks, and the same as the run's other
    # tracker on 127.0.0.1: libtorrent keeps UDP connection ids per tracker address (not
    # port) for the whole process, and would first present one an earlier test was given.
    for node in ("a", "b"):
        (tmp_path / node).mkdir()
        shutil.copy2(data_dir(tracker) / SECRET_FILE, tmp_path / node / SECRET_FILE)
    database = postgres.create_sync()
    env = {"SWARMDEX_DATABASE_URL": database}
    store = ("--peer-store-url", f"{redis.url}?prefix=two-nodes-{seeder_transport}:")
    try:
        with Serve(tmp_path / "a", *NODE, *store, command=("tracker",), env=env) as node_a, \
                Serve(tmp_path / "b", *NODE, *store, command=("tracker",), env=env) as node_b:
            seeding = make_torrent(payload.path, [node_a.url(seeder_transport)], TorrentKind.V1,
                                   tmp_path / "seeder-torrent")
            leeching = make_torrent(payload.path, [node_b.url(leecher_transport)],
                                    TorrentKind.V1, tmp_path / "leecher-torrent")
            assert parse_torrent(seeding.metainfo).info_hash_v1 == \
                parse_torrent(leeching.metainfo).info_hash_v1  # one swarm, two trackers

            leecher = transmission("leecher")
            seeder = libtorrent_client("seeder")
            describe = describe_all(node_a, node_b, seeder, leecher)
            # As in test_transfers: Transmission joins first, the seeder dials it.
            leecher.add(leeching)
            wait_until(leecher.has_announced, READY_TIMEOUT, "Transmission's first announce",
                       describe)
            seeder.add(seeding, payload.directory)
            wait_until(leecher.is_complete, TRANSFER_TIMEOUT, "Transmission to complete",
                       describe)
            leecher.stop_torrent()
            assert sha256_file(leecher.download_dir / leeching.name) == payload.sha256, describe()
            assert not seeder.tracker_errors(), describe()
    finally:
        postgres.drop_sync(database)
