"""swarmdex on a real PostgreSQL server that goes away: a clear error at start, a 503 page while
it is down (the tracker keeps answering from what it holds), and service back by itself when
it returns. The cluster here is the test's own, since the test stops it."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.postgres_server import PostgresServer, postgres_server
from tests.support.serve import Serve, swarmdex
from tests.support.site import RunningSite
from tests.unit.torrents.support import build_torrent

from .wire import http_announce, run

FLAGS = ("--port", "0", "--udp-port", "0")
BACK_WITHIN = 30.0  # seconds PostgreSQL may take to restart on a loaded machine


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


def _create_database(server: PostgresServer, name: str) -> str:
    async def create() -> None:
        admin = await asyncpg.connect(server.url(driver="postgresql"))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    asyncio.run(create())
    return server.url(name, driver="postgresql")


def test_an_unreachable_postgresql_stops_the_start_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    result = swarmdex("serve", "--data-dir", str(tmp_path), *FLAGS, "--database-url",
                      f"postgresql://swarmdex@127.0.0.1:{port}/swarmdex", timeout=60)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "cannot open the database" in errors[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_pages_answer_503_while_postgresql_is_away_and_recover(
    tmp_path: Path, own_cluster: PostgresServer,
) -> None:
    url = _create_database(own_cluster, "away")
    env = {"SWARMDEX_DATABASE_URL": url}
    data = tmp_path / "data"
    torrent = build_torrent(tmp_path / "t", {"t/a.bin": 40_000}, "v1")
    with Serve(data, *FLAGS, env=env) as server:
        site = RunningSite(server, data, env)
        token = site.create_token(site.create_user("uploader"))
        info_hash = bytes.fromhex(site.upload(token, torrent))
        assert httpx.get(site.url("/"), timeout=10).status_code == 200

        own_cluster.stop()
        try:
            page = httpx.get(site.url("/"), timeout=30)
            assert page.status_code == 503 and "Temporarily unavailable" in page.text, page.text
            assert page.headers["retry-after"] == "10"
            api = httpx.get(site.url("/api/v1/torrents"), timeout=30)
            assert api.status_code == 503 and "cannot be reached" in api.json()["detail"]
            # The tracker answers from what it holds: the site's torrents are still served.
            answer = run(http_announce(server.http, info_hash, port=6881))
            assert b"failure reason" not in answer and b"interval" in answer, answer
        finally:
            own_cluster.start()

        deadline = time.monotonic() + BACK_WITHIN
        while httpx.get(site.url("/"), timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "the site did not come back by itself"
            time.sleep(0.2)
        assert server.process.poll() is None
        assert "Traceback" not in "\n".join(server.lines), server.describe()
