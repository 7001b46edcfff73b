"""The tracker's limits on what one address can do, over real sockets against a running node.

Loopback gives every test as many addresses as it wants: the whole of 127.0.0.0/8 reaches the
node listening on 127.0.0.1, so "an abuser" and "a real peer" are clients bound to different
127.x addresses.
"""

from __future__ import annotations

import contextlib
import random
import struct
from collections.abc import AsyncIterator

from swarmdex.protocol import udp as udp_wire
from swarmdex.protocol.announce import Event
from swarmdex.tracker.udp_server import BAD_CONNECTION_ID

from .wire import (
    HttpClient,
    RunningNode,
    UdpClient,
    announce_target,
    info_hash,
    make_settings,
    run,
    running,
    split_peers,
    udp_clients,
)

ABUSER = ("127.0.0.1", 0)
PEER = ("127.0.0.2", 0)
OTHER = ("127.0.0.3", 0)


@contextlib.asynccontextmanager
async def clients_at(
    node: RunningNode, *local: tuple[str, int]
) -> AsyncIterator[list[UdpClient]]:
    """One UDP client of `node` bound to each `local` address."""
    async with contextlib.AsyncExitStack() as stack:
        yield [(await stack.enter_async_context(udp_clients(node.udp(), local=at)))[0] for at in local]


async def scrape_counts(client: UdpClient, h: bytes) -> tuple[int, int, int]:
    reply = await client.scrape([h])
    assert isinstance(reply, udp_wire.ScrapeReply), reply
    (c,) = reply.counts
    return c.complete, c.incomplete, c.downloaded


def test_one_address_cannot_fill_a_swarm_with_peers() -> None:
    async def scenario() -> None:
        h = info_hash(1)
        settings = make_settings(max_peers_per_address=8)
        async with running(settings) as node, clients_at(node, ABUSER, PEER) as (abuser, peer):
            refused = []
            for port in range(20000, 20100):
                reply = await abuser.announce(h, port=port, numwant=0, event=Event.STARTED)
                if isinstance(reply, udp_wire.ErrorReply):
                    refused.append(reply.message)
            assert refused == ["too many peers from your address in this torrent"] * 92
            # A real peer sees the swarm as it is: nine peers, eight of them the abuser's.
            answer = await peer.announce_ok(h, port=6881, numwant=200, event=Event.STARTED)
            assert (answer.seeders, answer.leechers) == (0, 9)
            assert len(split_peers(answer.peers, 6)) == 8
            assert await scrape_counts(peer, h) == (0, 9, 0)
            # The abuser's known peers still re-announce, and one that leaves makes room.
            await abuser.announce_ok(h, port=20000, numwant=0, left=0, event=Event.COMPLETED)
            await abuser.announce_ok(h, port=20001, numwant=0, event=Event.STOPPED)
            await abuser.announce_ok(h, port=20050, numwant=0, event=Event.STARTED)
            assert await scrape_counts(peer, h) == (1, 8, 1)
            assert node.counts() == (1, 9)

            # Over HTTP the same address meets the same limit.
            http = await HttpClient.open(node.http())
            try:
                await http.send(HttpClient.request("GET", announce_target(h, port=20070)))
                failure = (await http.read_response()).bencoded()
                assert failure == {
                    b"failure reason": b"too many peers from your address in this torrent"
                }
            finally:
                http.writer.close()

    run(scenario())


def test_one_address_cannot_start_swarms_faster_than_its_pace() -> None:
    async def scenario() -> None:
        settings = make_settings(new_swarms_burst=5, new_swarms_per_minute=1)
        async with running(settings) as node, clients_at(node, ABUSER, PEER) as (abuser, peer):
            answers = [
                await abuser.announce(info_hash(100 + n), port=7000, event=Event.STARTED)
                for n in range(12)
            ]
            started = [a for a in answers if isinstance(a, udp_wire.AnnounceReply)]
            refused = [a.message for a in answers if isinstance(a, udp_wire.ErrorReply)]
            assert len(started) == 5
            assert refused == ["too many new torrents from your address, try again later"] * 7
            assert node.counts() == (5, 5)
            # Joining a swarm that exists is always fine, and so is another address.
            await abuser.announce_ok(info_hash(100), port=7001, event=Event.STARTED)
            await peer.announce_ok(info_hash(111), port=7000, event=Event.STARTED)
            assert node.counts() == (6, 7)

    run(scenario())


def test_a_full_store_evicts_lone_swarms_instead_of_refusing_new_ones() -> None:
    async def scenario() -> None:
        settings = make_settings(max_swarms=10)
        async with (
            running(settings) as node,
            clients_at(node, ABUSER, PEER, PEER) as (abuser, seeder, leecher),
        ):
            real = info_hash(1)
            await seeder.announce_ok(real, port=6881, left=0, event=Event.STARTED)
            await leecher.announce_ok(real, port=6882, event=Event.STARTED)
            # Made-up torrents, one peer each, until the store is full and well past it.
            for n in range(30):
                await abuser.announce_ok(info_hash(1000 + n), port=7000, event=Event.STARTED)
            assert node.counts() == (10, 11)
            # A new torrent still gets in, and the real swarm is untouched.
            fresh = info_hash(2)
            first = await seeder.announce_ok(fresh, port=6881, left=0, event=Event.STARTED)
            assert (first.seeders, first.leechers) == (1, 0)
            joined = await leecher.announce_ok(fresh, port=6882, event=Event.STARTED)
            assert split_peers(joined.peers, 6) == [("127.0.0.2", 6881)]
            assert await scrape_counts(leecher, real) == (1, 1, 0)
            assert node.counts() == (10, 12)
            assert node.node.store.evicted == 22

    run(scenario())


def test_early_reannounces_do_not_harvest_peers() -> None:
    async def scenario() -> None:
        h = info_hash(1)
        settings = make_settings(min_interval_enforced=True, new_peer_lists_per_min_interval=2)
        async with running(settings) as node, clients_at(node, PEER, ABUSER) as (peer, harvester):
            swarm = {port for port in range(30000, 30300)}
            for port in swarm:
                await peer.announce_ok(h, port=port, numwant=0, event=Event.STARTED)
            harvested: set[int] = set()
            # Back-to-back announces, and new ports, from one address: two lists, no more.
            for n in range(40):
                answer = await harvester.announce_ok(h, port=40000 + n % 4, numwant=50)
                harvested.update(port for _, port in split_peers(answer.peers, 6))
                assert (answer.seeders, answer.leechers) == (0, 300 + min(n + 1, 4))
            assert len(harvested) <= 100
            assert node.node.store.paced == 38
            # Paced announces still count: completing and stopping are honoured.
            done = await harvester.announce_ok(h, port=40000, left=0, event=Event.COMPLETED)
            assert (done.seeders, done.leechers, done.peers) == (1, 303, b"")
            gone = await harvester.announce_ok(h, port=40001, event=Event.STOPPED)
            assert (gone.seeders, gone.leechers) == (1, 302)
            # Other addresses are not held back by the harvester.
            async with udp_clients(node.udp(), local=OTHER) as (other,):
                fresh = await other.announce_ok(h, port=6881, numwant=50, event=Event.STARTED)
                assert len(fresh.peers) == 50 * 6

    run(scenario())


def malformed_and_unauthenticated_packets(rng: random.Random) -> list[bytes]:
    """Every kind of packet a forged source could send: too short, unknown actions, bad
    protocol ids, announces and scrapes of every length with connection ids never issued.
    Each carries its own transaction id (bytes 12-16) so answers can be told apart."""
    packets = []
    txid = 1
    for action in range(6):
        for length in range(16, 140):
            head = rng.getrandbits(64)
            if action == udp_wire.CONNECT and rng.random() < 0.5:
                head = udp_wire.PROTOCOL_ID ^ 1
            body = rng.randbytes(length - 16)
            if action == udp_wire.ANNOUNCE and length >= 98:
                body = body[:80] + b"\0\0\0\2" + body[84:]  # a valid event and port
            packets.append(struct.pack(">QII", head, action, txid) + body)
            txid += 1
    # The smallest of each: a 16-byte scrape and announce.
    for action in (udp_wire.ANNOUNCE, udp_wire.SCRAPE):
        packets.append(struct.pack(">QII", rng.getrandbits(64), action, txid))
        txid += 1
    return packets


def test_unauthenticated_error_replies_are_never_larger_than_the_request() -> None:
    async def scenario() -> None:
        rng = random.Random(15)
        packets = malformed_and_unauthenticated_packets(rng)
        by_txid = {udp_wire.transaction_id(p): p for p in packets}
        async with running() as node, udp_clients(node.udp()) as (client,):
            answered = 0
            for start in range(0, len(packets), 50):
                for packet in packets[start : start + 50]:
                    client.send(packet)
                # A connect goes out last; everything sent before it is answered before it.
                sentinel = client.next_txid() | 0x80000000
                client.send(udp_wire.client_connect(sentinel))
                while True:
                    raw = await client.receive()
                    reply = udp_wire.parse_reply(raw)
                    if reply.transaction_id == sentinel:
                        break
                    sent = by_txid[reply.transaction_id]
                    assert len(raw) <= len(sent), (len(sent), raw)
                    answered += 1
            assert answered > len(packets) // 2, "most of these packets deserve an error"

            # The packets of the report: a 16-byte scrape and a one-hash scrape with a stale id.
            short = struct.pack(">QII", 1, udp_wire.SCRAPE, 77)
            client.send(short)
            reply = await client.receive()
            assert len(reply) == 16 and udp_wire.parse_reply(reply) == udp_wire.ErrorReply(
                77, "scrape n"
            )
            stale = udp_wire.client_scrape(bytes(8), 78, [info_hash(1)])
            client.send(stale)
            reply = await client.receive()
            assert len(reply) == len(stale) == 36
            assert udp_wire.parse_reply(reply) == udp_wire.ErrorReply(78, BAD_CONNECTION_ID[:28])

    run(scenario())
