"""IPv6 (BEP 7) on ::1 next to IPv4 on 127.0.0.1: one node listening on both."""

from __future__ import annotations

import pytest

from swarmdex.protocol import udp as udp_wire
from swarmdex.protocol.announce import Event
from swarmdex.tracker.udp_server import MAX_PEERS_V6

from .wire import (
    http_announce_ok,
    info_hash,
    ipv6_unavailable,
    make_settings,
    run,
    running,
    split_peers,
    udp_clients,
)

_NO_IPV6 = ipv6_unavailable()
pytestmark = pytest.mark.skipif(_NO_IPV6 is not None, reason=f"IPv6 loopback unusable: {_NO_IPV6}")

V4, V6 = "127.0.0.1", "::1"


def test_both_families_are_announced() -> None:
    async def scenario() -> None:
        async with running(make_settings(hosts=[V4, V6])) as node:
            text = "\n".join(node.lines)
            assert f"tracker udp://[::1]:{node.udp(V6)[1]}/announce" in text
            assert f"tracker http://[::1]:{node.http(V6)[1]}/announce" in text
            assert f"tracker udp://127.0.0.1:{node.udp(V4)[1]}/announce" in text
            assert node.node.urls == [line.split(" ", 1)[1] for line in node.lines
                                      if line.startswith("tracker ")]

    run(scenario())


def test_udp_keeps_families_apart() -> None:
    async def scenario() -> None:
        h = info_hash(201)
        async with running(make_settings(hosts=[V4, V6])) as node, \
                udp_clients(node.udp(V4)) as (four,), udp_clients(node.udp(V6), 2) as (six, six_b):
            await four.announce_ok(h, port=6004, left=0)
            first6 = await six.announce_ok(h, port=6006, event=Event.STARTED)
            # The IPv4 seeder is counted but cannot be handed to an IPv6 UDP client.
            assert (first6.seeders, first6.leechers, first6.peers) == (1, 1, b"")

            second6 = await six_b.announce_ok(h, port=6007)
            assert len(second6.peers) == 18
            assert split_peers(second6.peers, 18) == [(V6, 6006)]
            assert (second6.seeders, second6.leechers) == (1, 2)

            again4 = await four.announce_ok(h, port=6004, left=0)
            assert again4.peers == b"" and (again4.seeders, again4.leechers) == (1, 2)

            # Stopping over IPv6 removes the IPv6 peer only.
            await six.announce_ok(h, port=6006, event=Event.STOPPED)
            left6 = await six_b.announce_ok(h, port=6007)
            assert (left6.seeders, left6.leechers, left6.peers) == (1, 1, b"")

            scrape = await six.scrape([h])
            assert isinstance(scrape, udp_wire.ScrapeReply)
            assert (scrape.counts[0].complete, scrape.counts[0].incomplete) == (1, 1)
            assert node.counts() == (1, 2)

    run(scenario())


def test_http_answers_carry_both_families() -> None:
    async def scenario() -> None:
        h = info_hash(202)
        async with running(make_settings(hosts=[V4, V6])) as node:
            await http_announce_ok(node.http(V4), h, port=7004)
            await http_announce_ok(node.http(V6), h, port=7006)

            from6 = await http_announce_ok(node.http(V6), h, port=7007)
            assert split_peers(from6[b"peers6"], 18) == [(V6, 7006)]
            assert split_peers(from6[b"peers"], 6) == [(V4, 7004)]
            assert from6[b"incomplete"] == 3

            from4 = await http_announce_ok(node.http(V4), h, port=7005)
            assert split_peers(from4[b"peers"], 6) == [(V4, 7004)]
            assert sorted(split_peers(from4[b"peers6"], 18)) == [(V6, 7006), (V6, 7007)]

            # numwant covers both lists together: own family first.
            one = await http_announce_ok(node.http(V6), h, port=7007, numwant=1)
            assert (len(one[b"peers6"]), one[b"peers"]) == (18, b"")
            three = await http_announce_ok(node.http(V6), h, port=7007, numwant=3)
            assert len(three[b"peers6"]) // 18 + len(three[b"peers"]) // 6 == 3

    run(scenario())


def test_same_port_on_both_families_is_two_peers() -> None:
    async def scenario() -> None:
        h = info_hash(203)
        async with running(make_settings(hosts=[V4, V6])) as node:
            await http_announce_ok(node.http(V4), h, port=7000)
            answer = await http_announce_ok(node.http(V6), h, port=7000)
            assert split_peers(answer[b"peers"], 6) == [(V4, 7000)]
            assert answer[b"peers6"] == b""
            assert node.counts() == (1, 2)

    run(scenario())


def test_udp_ipv6_answer_is_capped_to_one_datagram() -> None:
    async def scenario() -> None:
        h = info_hash(204)
        async with running(make_settings(hosts=[V6], numwant_max=1000)) as node, \
                udp_clients(node.udp(V6), 2) as (filler, asker):
            for i in range(MAX_PEERS_V6 + 11):
                await filler.announce_ok(h, port=40000 + i, numwant=0)
            reply = await asker.announce_ok(h, port=6881, numwant=1000)
            peers = split_peers(reply.peers, 18)
            assert len(peers) == len(set(peers)) == MAX_PEERS_V6 == 79
            assert 20 + len(reply.peers) <= 1500 - 40 - 8
            default = await asker.announce_ok(h, port=6881)
            assert len(split_peers(default.peers, 18)) == 50

    run(scenario())
