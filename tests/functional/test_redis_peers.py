"""Peers in Redis, shared by tracker processes: real `swarmdex serve` processes and a real
`redis-server`. A peer announced to one process is handed out by the other; a Redis that does
not answer gets a clear error at start and a `failure reason` while running, and service
comes back by itself when it returns."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmdex.peerstore.base import StoreRefused
from tests.support.redis_server import RedisServer, redis_server
from tests.support.serve import Serve, swarmdex

from .wire import http_announce, http_announce_ok, http_get, run, split_peers, udp_clients, until

OPEN = ("--host", "127.0.0.1", "--port", "0", "--udp-port", "0", "--tracker-mode", "open")
H = bytes.fromhex("5a" * 20)
UNAVAILABLE = StoreRefused.reason


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def store_url(redis: RedisServer) -> str:
    return f"{redis.url}?prefix=t{secrets.token_hex(4)}:"  # this test's own keys


def test_a_peer_announced_to_one_process_is_handed_out_by_another(
    tmp_path: Path, redis: RedisServer,
) -> None:
    url = store_url(redis)
    with Serve(tmp_path / "a", *OPEN, "--peer-store-url", url) as a, \
            Serve(tmp_path / "b", *OPEN, "--peer-store-url", url) as b:
        async def scenario() -> None:
            async with udp_clients(a.udp) as (client,):
                await client.announce_ok(H, port=7001, left=0)
            answer = await http_announce_ok(b.http, H, port=7002)
            assert split_peers(answer[b"peers"], 6) == [("127.0.0.1", 7001)]
            assert (answer[b"complete"], answer[b"incomplete"]) == (1, 1)
            async with udp_clients(a.udp) as (client,):
                back = await client.announce_ok(H, port=7003)
            assert sorted(split_peers(back.peers, 6)) == [("127.0.0.1", 7001), ("127.0.0.1", 7002)]

        run(scenario())


def test_a_redis_that_does_not_answer_stops_the_start_with_one_line(
    tmp_path: Path, redis: RedisServer,
) -> None:
    dead = f"redis://127.0.0.1:{redis.port + 1}/0"  # nothing listens there
    result = swarmdex("serve", "--data-dir", str(tmp_path), *OPEN, "--peer-store-url", dead,
                      timeout=30)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"Error: peer store {dead} does not answer"), result.stderr
    assert "Traceback" not in result.stderr
    bad = swarmdex("serve", "--data-dir", str(tmp_path), *OPEN, "--peer-store-url", "ftp://x",
                   timeout=30)
    assert bad.returncode != 0 and "use memory:// or redis://" in bad.stderr, bad.stderr


def test_announces_fail_clearly_while_redis_is_away_and_recover_by_themselves(
    tmp_path: Path,
) -> None:
    with redis_server() as own, Serve(tmp_path, *OPEN, "--peer-store-url", own.url) as server:
        async def scenario() -> None:
            await http_announce_ok(server.http, H, port=7001)
            own.stop()
            answer = await http_announce(server.http, H, port=7002)
            assert answer[b"failure reason"] == UNAVAILABLE.encode()
            async with udp_clients(server.udp) as (client,):
                refused = await client.announce(H, port=7003)
                assert getattr(refused, "message", None) == UNAVAILABLE
                scraped = await client.scrape([H])
                assert getattr(scraped, "message", None) == UNAVAILABLE
            page = await http_get(server.http, "/")
            assert page.status == 503 and b"Temporarily unavailable" in page.body
            figures = await http_get(server.http, "/stats.json")
            assert figures.status == 503 and "detail" in figures.json()
            own.start()  # an empty Redis again, on the same port

            async def serving() -> bool:
                answer = await http_announce(server.http, H, port=7002)
                return b"failure reason" not in answer

            await until(serving, timeout=20)
            async with udp_clients(server.udp) as (client,):
                back = await client.announce_ok(H, port=7003)
            assert split_peers(back.peers, 6) == [("127.0.0.1", 7002)]

        run(scenario(), timeout=60)
        # Said once each way (a log line may follow the answer it came with: wait for it).
        server.wait_for_output("peer store: Redis does not answer")
        server.wait_for_output("peer store: Redis answers again")
        assert "\n".join(server.lines).count("peer store: Redis does not answer") == 1


def test_the_privacy_page_says_where_peers_live_and_whether_redis_saves_them(
    tmp_path: Path,
) -> None:
    with redis_server() as own:
        with Serve(tmp_path / "a", *OPEN, "--peer-store-url", own.url) as server:
            page = run(http_get(server.http, "/privacy")).body.decode()
            assert "Redis server that its nodes share, set up to write nothing to disk" in page
        client = socket.create_connection(("127.0.0.1", own.port))
        client.sendall(b'CONFIG SET save "3600 1"\r\n')
        assert client.recv(16) == b"+OK\r\n"
        client.close()
        with Serve(tmp_path / "b", *OPEN, "--peer-store-url", own.url) as server:
            page = run(http_get(server.http, "/privacy")).body.decode()
            assert "set up to save what it holds to disk (save 3600 1)" in page
            assert "peer store: Redis writes peers to disk (save 3600 1)" in "\n".join(server.lines)
