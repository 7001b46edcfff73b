"""Private mode in a split deployment: one `swarmdex web` and two `swarmdex tracker` nodes on
PostgreSQL and Redis. A member's passkey, made by the web process at their first download,
reaches both nodes through the change feed; a reset and a ban made on the web process stop
the old passkey on both, over HTTP and UDP. Each change is timed: the feed's promise is 1 s
(LISTEN/NOTIFY on PostgreSQL), the test allows more on a loaded machine."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.protocol import http as http_wire
from swarmdex.protocol import udp as udp_wire
from swarmdex.tracker.members import BANNED, NO_PASSKEY
from tests.support.databases import configured_url
from tests.support.redis_server import RedisServer, redis_server
from tests.support.serve import Serve
from tests.support.site import Account, RunningSite
from tests.unit.torrents.support import build_torrent

from .wire import announce_request, http_get, run, udp_clients

FLAGS = ("--port", "0", "--udp-port", "0", "--tracker-mode", "private")
FEED_WAIT = 10.0  # what a loaded machine may take; the times are printed


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def wait_until(check: object, what: str) -> float:
    started = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - started > FEED_WAIT:
            raise AssertionError(f"{what}: not within {FEED_WAIT} s")
        time.sleep(0.02)
    took = time.monotonic() - started
    print(f"{what}: {took:.2f} s")
    return took


def http_refusal(node: Serve, info_hash: bytes, passkey: str, port: int) -> str | None:
    target = f"/announce/{passkey}?" + http_wire.announce_query(announce_request(info_hash, port=port))
    answer = run(http_get(node.http, target)).bencoded()
    reason = answer.get(b"failure reason")
    return None if reason is None else reason.decode()


def udp_refusal(node: Serve, info_hash: bytes, passkey: str, port: int) -> str | None:
    async def announce() -> str | None:
        async with udp_clients(node.udp) as (client,):
            connection_id = await client.connect()
            packet = udp_wire.client_announce(
                connection_id, client.next_txid(), announce_request(info_hash, port=port),
                f"/announce/{passkey}".encode())
            reply = await client.exchange(packet)
        return reply.message if isinstance(reply, udp_wire.ErrorReply) else None
    return run(announce())


@contextmanager
def logged_in(site: RunningSite, account: Account) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.base_url, timeout=10) as client:
        client.get("/login")
        answer = client.post("/login", data={"csrf_token": client.cookies["sdx_csrf"],
                                             "name": account.name, "password": account.password,
                                             "next": "/"})
        assert answer.status_code == 303, answer.text
        yield client


def passkey_of(download: bytes) -> str:
    meta = parse_torrent(download)
    urls = [url for tier in meta.announce_list for url in tier] or [meta.announce]
    (key,) = {re.search(r"/announce/([0-9a-f]{32})$", url)[1] for url in urls}  # type: ignore[index]
    return key


@pytest.mark.parametrize("empty_database_backend", ["postgresql"], indirect=True)
def test_passkeys_resets_and_bans_reach_every_node(
    tmp_path: Path, redis: RedisServer, empty_database_backend: str,
) -> None:
    data = tmp_path / "data"
    store = ("--peer-store-url", f"{redis.url}?prefix=private-roles:")
    url = configured_url()
    assert url is not None
    # What the web process writes into downloads: the nodes' public names (here unused).
    env = {"SWARMDEX_DATABASE_URL": url,
           "SWARMDEX_ANNOUNCE_URLS": "https://tracker.test/announce,udp://tracker.test:6969/announce"}
    metainfo = build_torrent(tmp_path / "t", {"p/one.bin": 40_000}, "v1", private=True)
    info_hash = parse_torrent(metainfo).info_hash_v1
    assert info_hash is not None

    with Serve(data, *FLAGS, *store, command=("web",), env=env) as web, \
            Serve(data, *FLAGS, *store, command=("tracker",), env=env) as node_a, \
            Serve(data, *FLAGS, *store, command=("tracker",), env=env) as node_b:
        site = RunningSite(web, data, env)
        member = site.create_user("member")
        moderator = site.create_user("moderator", role="moderator")
        token = site.create_token(member)
        site.upload(token, metainfo)
        nodes = (node_a, node_b)

        # The first download makes the passkey; both nodes learn it.
        bearer = {"Authorization": f"Bearer {token}"}
        download = httpx.get(site.url(f"/t/{info_hash.hex()}.torrent"), headers=bearer, timeout=10)
        assert download.status_code == 200, download.text
        key = passkey_of(download.content)
        wait_until(lambda: all(http_refusal(n, info_hash, key, 7001) is None for n in nodes),
                   "a new passkey served by both nodes")
        assert udp_refusal(node_b, info_hash, key, 7002) is None
        assert http_refusal(node_a, info_hash, "f" * 32, 7003) == NO_PASSKEY
        assert udp_refusal(node_a, info_hash, "", 7004) == NO_PASSKEY

        # A reset on the web process: the old passkey is refused by both, the new served.
        with logged_in(site, member) as browser:
            reset = browser.post("/account/passkey/reset",
                                 data={"csrf_token": browser.cookies["sdx_csrf"]})
            assert reset.status_code == 303
            new = passkey_of(browser.get(f"/t/{info_hash.hex()}.torrent").content)
        assert new != key
        wait_until(lambda: all(http_refusal(n, info_hash, key, 7005) == NO_PASSKEY
                               and udp_refusal(n, info_hash, key, 7006) == NO_PASSKEY
                               and http_refusal(n, info_hash, new, 7007) is None for n in nodes),
                   "a reset on both nodes")

        # A moderator bans the member: both nodes say so, over both transports.
        with logged_in(site, moderator) as staff:
            banned = staff.post("/moderation/bans/users", data={
                "csrf_token": staff.cookies["sdx_csrf"], "name": member.name, "duration": "1d",
                "reason": "testing"})
        assert banned.status_code == 303, banned.text
        wait_until(lambda: all(http_refusal(n, info_hash, new, 7008) == BANNED
                               and udp_refusal(n, info_hash, new, 7009) == BANNED for n in nodes),
                   "a ban on both nodes")
