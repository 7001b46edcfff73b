"""The UDP tracker (BEP 15) over real sockets on 127.0.0.1, against an in-process node."""

from __future__ import annotations

import socket
import time

from swarmdex.protocol import udp as udp_wire
from swarmdex.protocol.announce import AnnounceRequest, Event
from swarmdex.protocol.connection_id import ConnectionIds
from swarmdex.tracker.udp_server import BAD_CONNECTION_ID, MAX_PEERS_V4

from .wire import (
    LOCAL,
    SECRET,
    UdpClient,
    info_hash,
    make_settings,
    peer_id,
    run,
    running,
    split_peers,
    stats,
    udp_clients,
)


def test_two_peers_find_each_other_and_counts_follow_events() -> None:
    async def scenario() -> None:
        h = info_hash(1)
        async with running() as node, udp_clients(node.udp(), 2) as (a, b):
            first = await a.announce_ok(h, port=6881, left=500, event=Event.STARTED)
            assert (first.seeders, first.leechers, first.peers) == (0, 1, b"")

            seed = await b.announce_ok(h, port=6882, left=0, event=Event.STARTED)
            assert (seed.seeders, seed.leechers) == (1, 1)
            assert split_peers(seed.peers, 6) == [(LOCAL, 6881)]

            again = await a.announce_ok(h, port=6881, left=200)
            assert (again.seeders, again.leechers) == (1, 1)
            assert split_peers(again.peers, 6) == [(LOCAL, 6882)]

            # Completing makes a seeder and is counted once, however often it is repeated.
            done = await a.announce_ok(h, port=6881, left=0, event=Event.COMPLETED)
            assert (done.seeders, done.leechers) == (2, 0)
            await a.announce_ok(h, port=6881, left=0, event=Event.COMPLETED)
            scrape = await a.scrape([h])
            assert isinstance(scrape, udp_wire.ScrapeReply)
            assert [(c.complete, c.incomplete, c.downloaded) for c in scrape.counts] == [(2, 0, 1)]

            # Stopped removes the peer at once and gets no peers back.
            gone = await b.announce_ok(h, port=6882, left=0, event=Event.STOPPED)
            assert gone.peers == b""
            alone = await a.announce_ok(h, port=6881, left=0)
            assert (alone.seeders, alone.leechers, alone.peers) == (1, 0, b"")
            assert node.counts() == (1, 1)

    run(scenario())


def test_scrape_several_hashes_in_order_unknown_ones_zero() -> None:
    async def scenario() -> None:
        busy, quiet, unknown = info_hash(10), info_hash(11), info_hash(12)
        async with running() as node, udp_clients(node.udp()) as (client,):
            await client.announce_ok(busy, port=7001, left=0)
            await client.announce_ok(busy, port=7002, left=10)
            await client.announce_ok(busy, port=7003, left=10, event=Event.STARTED)
            await client.announce_ok(quiet, port=7001, left=0, event=Event.COMPLETED)
            reply = await client.scrape([unknown, busy, quiet, busy])
            assert isinstance(reply, udp_wire.ScrapeReply)
            assert [(c.complete, c.incomplete, c.downloaded) for c in reply.counts] == [
                (0, 0, 0), (1, 2, 0), (1, 0, 1), (1, 2, 0),
            ]
            # Scraping never creates a swarm.
            assert node.counts() == (2, 4)

    run(scenario())


async def _fill(client: UdpClient, h: bytes, count: int, first_port: int = 20000) -> None:
    """Put `count` leechers in a swarm: one socket, a different announced port each."""
    for i in range(count):
        await client.announce_ok(h, port=first_port + i, numwant=0)


def test_numwant_default_and_cap() -> None:
    async def scenario() -> None:
        h = info_hash(20)
        async with running() as node, udp_clients(node.udp(), 2) as (filler, asker):
            await _fill(filler, h, 260)
            default = await asker.announce_ok(h, port=6881)  # numwant -1: no preference
            assert len(split_peers(default.peers, 6)) == 50
            few = await asker.announce_ok(h, port=6881, numwant=7)
            assert len(split_peers(few.peers, 6)) == 7
            many = await asker.announce_ok(h, port=6881, numwant=100_000)
            peers = split_peers(many.peers, 6)
            assert len(peers) == 200  # numwant_max
            assert len(set(peers)) == 200
            assert (LOCAL, 6881) not in peers
            assert (many.seeders, many.leechers) == (0, 261)

    run(scenario())


def test_answer_fits_one_datagram_with_a_large_numwant_max() -> None:
    async def scenario() -> None:
        h = info_hash(21)
        async with running(make_settings(numwant_max=1000)) as node, \
                udp_clients(node.udp(), 2) as (filler, asker):
            await _fill(filler, h, 260)
            asker.send(udp_wire.client_announce(
                await asker.connect(), 99,
                AnnounceRequest(h, peer_id(1), 6881, 0, 0, 10, Event.NONE, 1000)))
            packet = await asker.receive()
            reply = udp_wire.parse_reply(packet)
            assert isinstance(reply, udp_wire.AnnounceReply)
            peers = split_peers(reply.peers, 6)
            assert len(peers) == MAX_PEERS_V4 == 242
            assert len(set(peers)) == MAX_PEERS_V4 and (LOCAL, 6881) not in peers
            assert len(packet) == 20 + 6 * MAX_PEERS_V4 <= 1500 - 20 - 8

    run(scenario())


def test_peer_is_source_address_and_announced_port() -> None:
    async def scenario() -> None:
        h = info_hash(30)
        async with running() as node, udp_clients(node.udp(), 3) as (one, two, watcher):
            assert one.local[1] != two.local[1]
            # Two sockets, two peer ids, one announced port: one peer.
            await one.announce_ok(h, port=7000, peer=peer_id(1))
            reply = await two.announce_ok(h, port=7000, peer=peer_id(2))
            assert (reply.leechers, reply.peers) == (1, b"")
            # The claimed ip field is not believed: the peer is where its packets come from.
            await one.announce_ok(h, port=7001, ip=bytes([10, 9, 8, 7]))
            seen = await watcher.announce_ok(h, port=7002)
            assert sorted(split_peers(seen.peers, 6)) == [(LOCAL, 7000), (LOCAL, 7001)]
            assert node.counts() == (1, 3)

    run(scenario())


def test_interval_is_jittered_within_bounds() -> None:
    async def scenario() -> None:
        h = info_hash(40)
        settings = make_settings(interval=100, interval_jitter=10, min_interval=60)
        async with running(settings) as node, udp_clients(node.udp()) as (client,):
            intervals = [(await client.announce_ok(h, port=7000)).interval for _ in range(60)]
        assert all(100 <= i < 110 for i in intervals), intervals
        assert len(set(intervals)) > 1, "no jitter at all"

    run(scenario())


def test_url_data_option_is_accepted() -> None:
    async def scenario() -> None:
        h = info_hash(41)
        async with running() as node, udp_clients(node.udp()) as (client,):
            req = AnnounceRequest(h, peer_id(1), 7000, 0, 0, 5, Event.STARTED, None)
            reply = await client.exchange(udp_wire.client_announce(
                await client.connect(), 7, req, url_data=b"/announce?" + b"x" * 600))
            assert isinstance(reply, udp_wire.AnnounceReply) and reply.leechers == 1

    run(scenario())


def _header(action: int, txid: int, cid: bytes = b"\x00" * 8) -> bytes:
    return cid + action.to_bytes(4, "big") + txid.to_bytes(4, "big")


def test_malformed_requests_with_a_transaction_id_get_error_packets() -> None:
    async def scenario() -> None:
        h = info_hash(50)
        async with running() as node, udp_clients(node.udp()) as (client,):
            cid = await client.connect()
            good = udp_wire.client_announce(
                cid, 0, AnnounceRequest(h, peer_id(1), 7000, 0, 0, 5, Event.NONE, None))
            cases = {
                "announce packet too short": _header(1, 101, cid) + b"\x00" * 20,
                "unknown action": _header(9, 102, cid) + b"\x00" * 40,
                "scrape needs whole 20-byte info hashes": _header(2, 103, cid) + b"\x00" * 30,
                "too many info hashes": _header(2, 104, cid) + h * 75,
                "unknown event": good[:16] + good[16:80] + (7).to_bytes(4, "big") + good[84:],
                "invalid port": good[:96] + b"\x00\x00",
                "truncated URL data option": good + b"\x02\x10abc",
            }
            before = await stats(node.http())
            for i, (message, packet) in enumerate(cases.items()):
                txid = 200 + i
                packet = packet[:12] + txid.to_bytes(4, "big") + packet[16:]
                reply = await client.exchange(packet)
                assert isinstance(reply, udp_wire.ErrorReply), (message, reply)
                assert reply.transaction_id == txid
                assert message in reply.message, (message, reply.message)
            after = await stats(node.http())
            assert after["udp_errors"] - before["udp_errors"] == len(cases)
            assert node.counts() == (0, 0)

    run(scenario())


def test_short_and_unanswerable_packets_are_dropped_and_counted() -> None:
    async def scenario() -> None:
        async with running() as node, udp_clients(node.udp()) as (client,):
            before = await stats(node.http())
            dropped = [b"\x00", b"\xff" * 15, udp_wire.client_connect(5)[:15]]
            # A connect whose protocol id is wrong is not BEP 15: answering it could reflect
            # traffic at a forged source, so it is dropped too.
            dropped.append(b"\x00" * 8 + _header(0, 6)[8:])
            for packet in dropped:
                client.send(packet)
            # asyncio will not send an empty datagram; a plain socket will. Loopback delivers
            # at send time, so it is queued before the connect that follows.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as plain:
                assert plain.sendto(b"", node.udp()) == 0
            dropped.append(b"")
            await client.nothing_pending()
            after = await stats(node.http())
            assert after["udp_unreadable"] - before["udp_unreadable"] == len(dropped)
            assert after["udp_errors"] == before["udp_errors"]

    run(scenario())


def test_bad_connection_ids_get_an_error_never_peers() -> None:
    async def scenario() -> None:
        h = info_hash(60)
        async with running() as node, udp_clients(node.udp(), 2) as (seeder, client):
            await seeder.announce_ok(h, port=6000, left=0)
            assert node.counts() == (1, 1)
            ids = ConnectionIds(SECRET, lifetime=node.node.settings.connection_id_lifetime)
            now = time.time()
            bad = {
                "forged": b"\x13\x37" + b"forged",
                "expired": ids.issue(client.source(), now - 200),
                "from the future": ids.issue(client.source(), now + 300),
                "issued to another address": ids.issue(bytes([127, 0, 0, 2]), now),
                "issued under another key": ConnectionIds(b"k" * 32).issue(client.source(), now),
            }
            for label, cid in bad.items():
                reply = await client.announce(h, port=6001, connection_id=cid)
                assert isinstance(reply, udp_wire.ErrorReply), label
                assert reply.message == BAD_CONNECTION_ID, label
                scrape = await client.scrape([h], connection_id=cid)
                assert isinstance(scrape, udp_wire.ErrorReply), label
            assert node.counts() == (1, 1)

            # Ids are accepted for the configured lifetime, longer than BEP 15's minute.
            recent = ids.issue(client.source(), now - 100)
            ok = await client.announce_ok(h, port=6001, connection_id=recent)
            assert split_peers(ok.peers, 6) == [(LOCAL, 6000)]

    run(scenario())


def test_connection_id_survives_a_restart_with_the_same_secret() -> None:
    async def scenario() -> None:
        h = info_hash(61)
        async with running() as first, udp_clients(first.udp()) as (client,):
            cid = await client.connect()
            local = client.local
        async with running(secret=SECRET) as same, running(secret=b"n" * 32) as other:
            # The same client address (a new socket on the same port) keeps its id...
            async with udp_clients(same.udp(), local=local) as (again,):
                reply = await again.announce_ok(h, port=6001, connection_id=cid)
                assert reply.leechers == 1
            # ...which means nothing to a node with another secret.
            async with udp_clients(other.udp(), local=local) as (elsewhere,):
                refused = await elsewhere.announce(h, port=6001, connection_id=cid)
                assert isinstance(refused, udp_wire.ErrorReply)
                assert refused.message == BAD_CONNECTION_ID

    run(scenario())


def test_overview_figures_follow_udp_traffic() -> None:
    async def scenario() -> None:
        h = info_hash(70)
        async with running() as node, udp_clients(node.udp()) as (client,):
            await client.announce_ok(h, port=6001)
            await client.scrape([h])
            figures = await stats(node.http())
            assert figures["announces"] == 1 and figures["scrapes"] == 1
            assert figures["torrents_active"] == 1 and figures["peers"] == 1
            assert figures["udp_packets"] == 3  # connect, announce, scrape

    run(scenario())
