"""A split deployment with real processes: one `swarmdex web` and two `swarmdex tracker`
nodes on one database and one Redis. Peers announced to one node are handed out by the other;
what the site changes (uploads, a takedown, a deletion) reaches both nodes through the change
feed; the torrent page shows live counts from Redis; a Redis restart is ridden out; a node
killed with SIGKILL catches up when it comes back."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.node import TRACKER_ONLY, WEB_ONLY
from swarmdex.peerstore.base import StoreRefused
from swarmdex.tracker.logic import TAKEN_DOWN, UNREGISTERED
from tests.support.databases import configured_url
from tests.support.redis_server import RedisServer, redis_server
from tests.support.serve import Serve, swarmdex
from tests.support.site import RunningSite
from tests.unit.torrents.support import build_torrent

from .takedown_steps import accept_notice, file_notice
from .wire import http_announce, http_get, run, split_peers, udp_clients

FLAGS = ("--port", "0", "--udp-port", "0")
FEED_WAIT = 10.0  # seconds a change may take to reach a node on a loaded machine (poll: 0.25)


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def wait_until(check: object, what: str) -> None:
    deadline = time.monotonic() + FEED_WAIT
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {FEED_WAIT} s")
        time.sleep(0.05)


def refusal(node: Serve, info_hash: bytes, port: int = 6881) -> str | None:
    answer = run(http_announce(node.http, info_hash, port=port))
    reason = answer.get(b"failure reason")
    return None if reason is None else reason.decode()


def test_web_and_two_tracker_nodes_share_peers_and_changes(
    tmp_path: Path, redis: RedisServer, empty_database_backend: str,
) -> None:
    """On SQLite in a shared data dir, and on a new PostgreSQL database (the web process
    migrates it; the nodes find it ready)."""
    data = tmp_path / "data"
    store = ("--peer-store-url", f"{redis.url}?prefix=roles-{empty_database_backend}:")
    url = configured_url()
    env = {"SWARMDEX_DATABASE_URL": url} if url else None
    first = build_torrent(tmp_path / "a", {"a/one.bin": 40_000}, "hybrid")
    second = build_torrent(tmp_path / "b", {"b/two.bin": 40_000}, "v1")
    third = build_torrent(tmp_path / "c", {"c/three.bin": 40_000}, "v1")
    meta, meta2, meta3 = parse_torrent(first), parse_torrent(second), parse_torrent(third)
    assert meta.info_hash_v1 and meta2.info_hash_v1 and meta3.info_hash_v1
    h, h2, h3 = meta.info_hash_v1, meta2.info_hash_v1, meta3.info_hash_v1

    with Serve(data, *FLAGS, *store, command=("web",), env=env) as web, \
            Serve(data, *FLAGS, *store, command=("tracker",), env=env) as node_a, \
            Serve(data, *FLAGS, *store, command=("tracker",), env=env) as node_b:
        site = RunningSite(web, data, env)
        uploader = site.create_user("uploader")
        token = site.create_token(uploader)
        info_hash = site.upload(token, first)
        wait_until(lambda: refusal(node_a, h) is None and refusal(node_b, h) is None,
                   "an upload announceable on both nodes")

        async def swap() -> None:
            async with udp_clients(node_a.udp) as (client,):
                await client.announce_ok(h, port=7001, left=0)
            answer = await http_announce(node_b.http, h, port=7002)
            assert ("127.0.0.1", 7001) in split_peers(answer[b"peers"], 6), answer
            async with udp_clients(node_a.udp) as (client,):
                back = await client.announce_ok(h, port=7003)
            assert {("127.0.0.1", 7001), ("127.0.0.1", 7002)} <= set(split_peers(back.peers, 6))

        run(swap())
        page = httpx.get(site.url(f"/t/{info_hash}"), timeout=10).text
        seeders = re.search(r'class="seeders">([\d,]+)<', page)
        leechers = re.search(r'class="leechers">([\d,]+)<', page)
        assert seeders and leechers and (seeders[1], int(leechers[1]) >= 2) == ("1", True), page

        # Each node publishes its counters to Redis; the web process adds them up.
        def announces_seen() -> int:
            return int(httpx.get(site.url("/stats.json"), timeout=10).json()["announces"])

        wait_until(lambda: announces_seen() >= 5, "announces of both nodes in the site's figures")

        # The web process is no tracker, and a tracker node is no site: both say so plainly.
        assert refusal(web, h) == WEB_ONLY
        browser = run(http_get(node_a.http, "/"))
        assert (browser.status, browser.body) == (404, TRACKER_ONLY)

        # A takedown decided on the web process is refused by both nodes.
        moderator = site.create_user("moderator", role="moderator")
        key3 = site.upload(token, third)
        wait_until(lambda: refusal(node_a, h3) is None and refusal(node_b, h3) is None,
                   "the third upload on both nodes")
        accept_notice(site, moderator, file_notice(site, key3))
        wait_until(lambda: refusal(node_a, h3) == TAKEN_DOWN == refusal(node_b, h3),
                   "a takedown refused on both nodes")

        # Redis restarted (peers gone, as it keeps nothing on disk): announces say the
        # tracker is unavailable meanwhile, and are answered again once it is back.
        redis.stop()
        try:
            assert refusal(node_b, h) == StoreRefused.reason
        finally:
            redis.start()
        wait_until(lambda: refusal(node_a, h) is None and refusal(node_b, h) is None,
                   "announces answered again after Redis came back")

        # A node killed outright misses a deletion and an upload; started again on the same
        # data it loads the whole state and then follows the feed with the others.
        node_a.kill()
        site.delete(uploader, info_hash)
        wait_until(lambda: refusal(node_b, h) == UNREGISTERED, "a deletion refused on node B")
        site.upload(token, second)
        with Serve(data, *FLAGS, *store, command=("tracker",), env=env) as again:
            assert refusal(again, h) == UNREGISTERED
            assert refusal(again, h2) is None
            wait_until(lambda: refusal(node_b, h2) is None, "the second upload on node B")
        for node in (web, node_b):
            assert node.stop(signal.SIGTERM) == 0, node.describe()


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_web_workers_share_one_port_and_stop_together(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = str(free_port())
    with Serve(data, "--port", port, command=("web", "--workers", "2")) as web:
        workers = children_of(web.process.pid)
        assert len(workers) == 2, web.describe()
        for _ in range(20):  # every answer comes from one of them, whichever the kernel picks
            assert httpx.get(web.site_url, timeout=10).status_code == 200
        assert web.stop(signal.SIGTERM) == 0, web.describe()
        assert children_of(web.process.pid) == []
    with Serve(data, "--port", port, command=("web", "--workers", "2")) as web:
        first, second = children_of(web.process.pid)
        os.kill(first, signal.SIGKILL)  # one worker dies: the set goes down, non-zero
        assert web.process.wait(timeout=10) != 0
        wait_until(lambda: not Path(f"/proc/{second}").exists(), "the other worker stopped")
    bad = swarmdex("web", "--data-dir", str(data), "--port", "0", "--workers", "2")
    assert bad.returncode != 0 and "--workers needs a fixed --port" in bad.stderr


def test_web_workers_count_login_failures_together(tmp_path: Path, redis: RedisServer) -> None:
    data = tmp_path / "data"
    store = ("--peer-store-url", f"{redis.url}?prefix=limits{os.getpid()}:")
    env = {"SWARMDEX_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS_PER_HOUR": "3"}
    with Serve(data, "--port", str(free_port()), *store, env=env,
               command=("web", "--workers", "2")) as web:
        site = RunningSite(web, data)
        account = site.create_user("target")

        def wrong_password() -> int:
            with httpx.Client(base_url=site.base_url, timeout=10) as client:  # a connection each
                client.get("/login")
                answer = client.post("/login", data={"csrf_token": client.cookies["sdx_csrf"],
                                                     "name": account.name, "password": "wrong",
                                                     "next": "/"})
                return answer.status_code

        # Whichever worker each attempt reaches, the fourth failure in the hour is refused.
        assert [wrong_password() for _ in range(4)] == [400, 400, 400, 429]  # 400: wrong password
