"""Private mode over real sockets: members announce and scrape with the passkey in their
announce URL (`/announce/KEY` over HTTP, BEP 41 URL data over UDP); everyone else is refused
with one message; a reset or a ban takes effect at the next request on both transports; and
no passkey is ever written to a log."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.protocol import udp as udp_wire
from swarmdex.protocol.connection_id import ConnectionIds
from swarmdex.protocol.http import announce_query, quote_bytes, scrape_query
from swarmdex.runtime.handoff import SiteProtocols, with_tracker
from swarmdex.tracker.changes import Listed, Member
from swarmdex.tracker.hooks import ListedTorrents
from swarmdex.tracker.http_server import HttpTrackerServer
from swarmdex.tracker.inprocess import InProcessControl
from swarmdex.tracker.logic import Tracker
from swarmdex.tracker.members import BANNED, NO_PASSKEY, Members, passkey_digest
from swarmdex.tracker.udp_server import UdpTrackerServer

from .wire import (
    LOCAL,
    SECRET,
    HttpClient,
    UdpClient,
    announce_request,
    http_get,
    info_hash,
    make_settings,
    run,
    running,
    split_peers,
    udp_clients,
)

ALICE = 1
TORRENT = info_hash(9001)


def new_key() -> str:
    return secrets.token_hex(16)  # what the site makes: 32 lowercase hex digits


@dataclass
class PrivateTracker:
    tracker: Tracker
    control: InProcessControl
    http: tuple[str, int]
    udp: tuple[str, int]

    def member(self, user_id: int, key: str, *, banned_until: float | None = None) -> None:
        self.control.apply(Member(user_id, passkey_digest(key), banned_until))


@contextlib.asynccontextmanager
async def private_tracker(*, site: bool = False) -> AsyncIterator[PrivateTracker]:
    """A tracker in private mode with one listed torrent, on HTTP and UDP; with `site`, the
    HTTP port also hands browser connections to a small page app, as `swarmdex serve` does."""
    listed = ListedTorrents()
    tracker = Tracker(MemoryPeerStore(), listed, members=Members())
    control = InProcessControl(tracker, listed)
    control.apply(Listed(TORRENT, None))
    http = HttpTrackerServer(tracker)
    pages = SiteProtocols(with_tracker(_page_app, http)) if site else None
    http.site = pages
    udp = UdpTrackerServer(tracker, ConnectionIds(SECRET))
    try:
        http_address = await http.listen(LOCAL, 0)
        udp_address = udp.listen(LOCAL, 0)
        yield PrivateTracker(tracker, control, http_address, udp_address)
    finally:
        await http.close()
        await udp.close()
        await control.close()
        if pages is not None:
            await pages.close()


async def _page_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = f"page {scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def announce_path(path: str, *, port: int, left: int = 1000) -> str:
    return f"{path}?{announce_query(announce_request(TORRENT, port=port, left=left))}"


async def http_answer(server: tuple[str, int], target: str) -> dict[bytes, Any]:
    response = await http_get(server, target)
    return response.bencoded()


async def http_failure(server: tuple[str, int], target: str) -> str:
    answer = await http_answer(server, target)
    assert set(answer) == {b"failure reason"}, answer
    reason: bytes = answer[b"failure reason"]
    return reason.decode()


async def udp_announce(client: UdpClient, *, port: int, url_data: bytes = b"",
                       left: int = 1000) -> udp_wire.AnnounceReply | udp_wire.ErrorReply:
    """A UDP announce whose announce URL had `url_data` as its path (BEP 41)."""
    connection_id = client.connection_id or await client.connect()
    req = announce_request(TORRENT, port=port, left=left, key=port)
    packet = udp_wire.client_announce(connection_id, client.next_txid(), req, url_data)
    reply = await client.exchange(packet)
    assert isinstance(reply, udp_wire.AnnounceReply | udp_wire.ErrorReply), reply
    return reply


async def udp_failure(client: UdpClient, *, port: int, url_data: bytes = b"") -> str:
    reply = await udp_announce(client, port=port, url_data=url_data)
    assert isinstance(reply, udp_wire.ErrorReply), reply
    return reply.message


# -- HTTP ---------------------------------------------------------------------------------------


def test_http_members_announce_and_scrape_with_their_passkey() -> None:
    async def scenario() -> None:
        key = new_key()
        async with private_tracker() as t:
            t.member(ALICE, key)
            first = await http_answer(t.http, announce_path(f"/announce/{key}", port=6881))
            assert (first[b"incomplete"], first[b"peers"]) == (1, b"")
            seed = await http_answer(t.http, announce_path(f"/announce/{key}", port=6882, left=0))
            assert split_peers(seed[b"peers"], 6) == [(LOCAL, 6881)]
            assert (seed[b"complete"], seed[b"incomplete"]) == (1, 1)

            scrape = await http_answer(t.http, f"/scrape/{key}?{scrape_query([TORRENT])}")
            assert scrape[b"files"][TORRENT] == {b"complete": 1, b"downloaded": 0, b"incomplete": 1}
            assert t.tracker.counters.refused == 0
    run(scenario())


@pytest.mark.parametrize("path", [
    "/announce", "/announce/{wrong}", "/announce/{key}/extra", "/announce/{key}/", "/announce/",
    "/announce/{upper}", "/announce/{key}%20", "/announce/{long}",
])
def test_http_announces_without_a_members_passkey_are_refused_alike(path: str) -> None:
    async def scenario() -> None:
        key = new_key()
        async with private_tracker() as t:
            t.member(ALICE, key)
            target = path.format(key=key, wrong=new_key(), upper=key.upper(), long=key * 3)
            assert await http_failure(t.http, announce_path(target, port=6881)) == NO_PASSKEY
            assert t.tracker.counters.refused == 1 and t.tracker.counters.announces == 0
    run(scenario())


def test_http_scrape_without_a_passkey_is_refused() -> None:
    async def scenario() -> None:
        key = new_key()
        async with private_tracker() as t:
            t.member(ALICE, key)
            query = scrape_query([TORRENT])
            assert await http_failure(t.http, f"/scrape?{query}") == NO_PASSKEY
            assert await http_failure(t.http, f"/scrape/{new_key()}?{query}") == NO_PASSKEY
            assert await http_failure(t.http, f"/scrape/{key}/x?{query}") == NO_PASSKEY
            assert (t.tracker.counters.refused, t.tracker.counters.scrapes) == (3, 0)
    run(scenario())


def test_a_connection_handed_to_the_site_still_announces_with_its_passkey() -> None:
    """A reverse proxy's pooled connection, first used for a page, then for announces: the
    site's side of the port reads the passkey from the path too."""
    async def scenario() -> None:
        key = new_key()
        async with private_tracker(site=True) as t:
            t.member(ALICE, key)
            client = await HttpClient.open(t.http)
            try:
                page = await client.get("/about")
                assert (page.status, page.body) == (200, b"page /about")
                ok = (await client.get(announce_path(f"/announce/{key}", port=6881))).bencoded()
                assert ok[b"incomplete"] == 1
                refused = (await client.get(announce_path("/announce", port=6882))).bencoded()
                assert refused == {b"failure reason": NO_PASSKEY.encode()}
                counts = (await client.get(f"/scrape/{key}?{scrape_query([TORRENT])}")).bencoded()
                assert counts[b"files"][TORRENT][b"incomplete"] == 1
            finally:
                await client.close()
    run(scenario())


# -- UDP ----------------------------------------------------------------------------------------


def test_udp_members_announce_with_their_passkey_in_url_data() -> None:
    async def scenario() -> None:
        key = new_key()
        async with private_tracker() as t, udp_clients(t.udp, 2) as (a, b):
            t.member(ALICE, key)
            first = await udp_announce(a, port=6881, url_data=f"/announce/{key}".encode())
            assert isinstance(first, udp_wire.AnnounceReply), first
            assert (first.leechers, first.peers) == (1, b"")
            # Split over options by the client, a query after the path: the same passkey.
            url = f"/announce/{key}?tracker=private".encode() + b"x" * 300
            seed = await udp_announce(b, port=6882, url_data=url, left=0)
            assert isinstance(seed, udp_wire.AnnounceReply), seed
            assert split_peers(seed.peers, 6) == [(LOCAL, 6881)]
            assert (seed.seeders, seed.leechers) == (1, 1)
    run(scenario())


@pytest.mark.parametrize("url_data", [
    b"", b"/announce", b"/announce/{wrong}", b"/announce/{key}/extra", b"/{key}", b"/announce?passkey={key}",
])
def test_udp_announces_without_a_members_passkey_get_a_bep15_error(url_data: bytes) -> None:
    async def scenario() -> None:
        key = new_key()
        async with private_tracker() as t, udp_clients(t.udp) as (client,):
            t.member(ALICE, key)
            data = url_data.replace(b"{key}", key.encode()).replace(b"{wrong}", new_key().encode())
            assert await udp_failure(client, port=6881, url_data=data) == NO_PASSKEY
            assert t.tracker.counters.refused == 1
    run(scenario())


def test_udp_scrape_is_refused_in_private_mode_with_a_bep15_error() -> None:
    """BEP 41 URL data exists for announces only: a UDP scrape cannot carry a passkey."""
    async def scenario() -> None:
        key = new_key()
        async with private_tracker() as t, udp_clients(t.udp) as (client,):
            t.member(ALICE, key)
            connection_id = await client.connect()
            txid = client.next_txid()
            client.send(udp_wire.client_scrape(connection_id, txid, [TORRENT]))
            raw = await client.receive()
            # action 3 (error), our transaction id, then the message: BEP 15's error packet.
            assert raw[:8] == (3).to_bytes(4, "big") + txid.to_bytes(4, "big")
            assert raw[8:].decode() == NO_PASSKEY
            assert t.tracker.counters.refused == 1 and t.tracker.counters.scrapes == 0
    run(scenario())


# -- both ---------------------------------------------------------------------------------------


def test_a_reset_refuses_the_old_passkey_at_once_on_both_transports() -> None:
    async def scenario() -> None:
        old, new = new_key(), new_key()
        async with private_tracker() as t, udp_clients(t.udp) as (client,):
            t.member(ALICE, old)
            assert b"failure reason" not in await http_answer(
                t.http, announce_path(f"/announce/{old}", port=6881))
            ok = await udp_announce(client, port=6882, url_data=f"/announce/{old}".encode())
            assert isinstance(ok, udp_wire.AnnounceReply), ok

            t.member(ALICE, new)  # the reset, as the site tells it
            assert await http_failure(t.http, announce_path(f"/announce/{old}", port=6881)) == NO_PASSKEY
            assert await http_failure(t.http, f"/scrape/{old}?{scrape_query([TORRENT])}") == NO_PASSKEY
            assert await udp_failure(client, port=6882, url_data=f"/announce/{old}".encode()) == NO_PASSKEY

            again = await http_answer(t.http, announce_path(f"/announce/{new}", port=6881))
            assert again[b"incomplete"] == 2
            fresh = await udp_announce(client, port=6882, url_data=f"/announce/{new}".encode())
            assert isinstance(fresh, udp_wire.AnnounceReply), fresh
    run(scenario())


def test_a_banned_member_is_told_so_on_both_transports() -> None:
    async def scenario() -> None:
        key, other = new_key(), new_key()
        async with private_tracker() as t, udp_clients(t.udp) as (client,):
            t.member(ALICE, key, banned_until=time.time() + 60)
            t.member(2, other)
            assert await http_failure(t.http, announce_path(f"/announce/{key}", port=6881)) == BANNED
            assert await http_failure(t.http, f"/scrape/{key}?{scrape_query([TORRENT])}") == BANNED
            assert await udp_failure(client, port=6881, url_data=f"/announce/{key}".encode()) == BANNED
            # Someone else's passkey still works, and a wrong one reads as any other.
            ok = await udp_announce(client, port=6882, url_data=f"/announce/{other}".encode())
            assert isinstance(ok, udp_wire.AnnounceReply), ok
            assert await udp_failure(client, port=6881, url_data=f"/announce/{new_key()}".encode()) == NO_PASSKEY

            t.member(ALICE, key)  # the ban lifted
            lifted = await http_answer(t.http, announce_path(f"/announce/{key}", port=6881))
            assert b"failure reason" not in lifted, lifted
    run(scenario())


# -- logs -----------------------------------------------------------------------------------------


def test_passkeys_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A whole node in private mode with its access log on: members and strangers announce
    and scrape with passkeys over both transports, and browsers ask for paths that decode
    to tracker paths (which the site answers and logs); no log record and no file in the data
    directory holds a passkey."""
    key, wrong = new_key(), new_key()

    async def scenario() -> None:
        settings = make_settings(tracker_mode="private", access_log=True)
        async with running(settings) as node:
            control = node.node.control
            assert isinstance(control, InProcessControl)
            control.apply(Listed(TORRENT, None))
            control.apply(Member(ALICE, passkey_digest(key)))
            server = node.http()
            for passkey in (key, wrong):
                await http_get(server, announce_path(f"/announce/{passkey}", port=6881))
                await http_get(server, announce_path(f"/announce/{passkey}/x", port=6881))
                await http_get(server, f"/scrape/{passkey}?info_hash={quote_bytes(TORRENT)}")
                # Paths that are tracker paths only once decoded reach the site and its log.
                for path in (f"/%61nnounce/{passkey}", f"/announce%2F{passkey}", f"/scrape%2f{passkey}"):
                    await http_get(server, path)
                async with udp_clients(node.udp()) as (client,):
                    await udp_announce(client, port=6882, url_data=f"/announce/{passkey}".encode())
                    await udp_announce(client, port=6882, url_data=f"/announce/{passkey}/x".encode())
            data_dir = node.node.settings.data_dir
            written = sorted((data_dir / "logs").glob("access-*.log"))
            assert written, sorted(data_dir.rglob("*"))
            text = "".join(p.read_text() for p in written)
            assert " GET /announce/[passkey] " in text and " GET /scrape/[passkey] " in text, text
            for path in data_dir.rglob("*"):
                if path.is_file():
                    content = path.read_bytes()
                    assert key.encode() not in content and wrong.encode() not in content, path

    with caplog.at_level(logging.DEBUG):
        run(scenario())
    for record in caplog.records:
        message = record.getMessage() + (record.exc_text or "")
        assert key not in message and wrong not in message, message
