"""Fixtures for interop tests: one swarmdex tracker per run, fresh clients and payload per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ..support.serve import Serve
from .clients import LibtorrentClient, TransmissionDaemon
from .torrents import Payload, make_payload

# Several pieces at 256 KiB, big enough that a transfer spans many requests and choke rounds.
PAYLOAD_SIZE = 6 * 1024 * 1024
STOP_TIMEOUT = 10


@pytest.fixture(scope="session")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """`swarmdex serve` in open mode, shared by the run: every test uses its own infohash."""
    data_dir = tmp_path_factory.mktemp("swarmdex-data")
    with Serve(data_dir, "--port", "0", "--udp-port", "0", "--tracker-mode", "open") as server:
        yield server
        running = server.process.poll() is None
        status = server.stop(timeout=STOP_TIMEOUT)
        if not running:
            pytest.fail(f"swarmdex died during the run (exit {status})\n{server.describe()}")
        if server.needed_kill:
            pytest.fail(f"swarmdex ignored SIGTERM for {STOP_TIMEOUT} s\n{server.describe()}")


@pytest.fixture
def payload(tmp_path: Path) -> Payload:
    return make_payload(tmp_path / "original", PAYLOAD_SIZE)


@pytest.fixture
def libtorrent_client() -> Iterator[Callable[[str], LibtorrentClient]]:
    """Factory: `libtorrent_client("seeder")` starts a session that is closed after the test."""
    with ExitStack() as cleanup:

        def start(label: str) -> LibtorrentClient:
            client = LibtorrentClient(label)
            cleanup.callback(client.close)
            return client

        yield start


@pytest.fixture
def transmission(tmp_path: Path) -> Iterator[Callable[[str], TransmissionDaemon]]:
    """Factory: `transmission("leecher")` starts a daemon that is stopped after the test."""
    with ExitStack() as cleanup:

        def start(label: str) -> TransmissionDaemon:
            daemon = TransmissionDaemon(tmp_path / f"transmission-{label}", label)
            cleanup.callback(daemon.close)
            return daemon

        yield start
