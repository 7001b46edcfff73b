"""The HTTP tracker and status pages over real TCP connections to an in-process node."""

from __future__ import annotations

import asyncio
import re

from swarmdex.protocol.announce import Event
from swarmdex.protocol.http import MAX_TARGET, quote_bytes, scrape_query

from .wire import (
    LOCAL,
    HttpClient,
    announce_target,
    http_announce_ok,
    http_get,
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
        h = info_hash(101)
        settings = make_settings(interval=600, interval_jitter=60, min_interval=120)
        async with running(settings) as node:
            server = node.http()
            first = await http_announce_ok(server, h, port=6881, left=500, event=Event.STARTED)
            assert first[b"peers"] == b"" and first[b"peers6"] == b""
            assert (first[b"complete"], first[b"incomplete"], first[b"downloaded"]) == (0, 1, 0)
            assert 600 <= first[b"interval"] < 660 and first[b"min interval"] == 120

            seed = await http_announce_ok(server, h, port=6882, left=0, event=Event.STARTED)
            assert split_peers(seed[b"peers"], 6) == [(LOCAL, 6881)]
            assert seed[b"peers6"] == b""
            assert (seed[b"complete"], seed[b"incomplete"]) == (1, 1)

            again = await http_announce_ok(server, h, port=6881, left=100)
            assert split_peers(again[b"peers"], 6) == [(LOCAL, 6882)]

            await http_announce_ok(server, h, port=6881, left=0, event=Event.COMPLETED)
            done = await http_announce_ok(server, h, port=6881, left=0, event=Event.COMPLETED)
            assert (done[b"complete"], done[b"incomplete"], done[b"downloaded"]) == (2, 0, 1)

            gone = await http_announce_ok(server, h, port=6882, left=0, event=Event.STOPPED)
            assert gone[b"peers"] == b"" and gone[b"peers6"] == b""
            alone = await http_announce_ok(server, h, port=6881, left=0)
            assert (alone[b"complete"], alone[b"incomplete"], alone[b"peers"]) == (1, 0, b"")
            assert node.counts() == (1, 1)

    run(scenario())


def test_answer_keys_are_sorted_bencode() -> None:
    async def scenario() -> None:
        async with running() as node:
            response = await http_get(node.http(), announce_target(info_hash(102), port=6881))
            assert response.status == 200
            assert response.body.startswith(b"d8:completei0e10:downloadedi0e10:incompletei1e8:intervali")
            assert re.search(rb"12:min intervali\d+e5:peers0:6:peers60:e$", response.body)
            assert "connection" not in response.headers  # kept alive

    run(scenario())


def test_numwant_default_fifty_and_cap_two_hundred() -> None:
    async def scenario() -> None:
        h = info_hash(110)
        async with running() as node, udp_clients(node.udp()) as (filler,):
            for i in range(230):
                await filler.announce_ok(h, port=30000 + i, numwant=0)
            server = node.http()
            default = await http_announce_ok(server, h, port=6881)
            assert len(split_peers(default[b"peers"], 6)) == 50
            some = await http_announce_ok(server, h, port=6881, numwant=3)
            assert len(split_peers(some[b"peers"], 6)) == 3
            none = await http_announce_ok(server, h, port=6881, numwant=0)
            assert none[b"peers"] == b"" and none[b"incomplete"] == 231
            capped = await http_announce_ok(server, h, port=6881, numwant=5000)
            peers = split_peers(capped[b"peers"], 6)
            assert len(peers) == len(set(peers)) == 200
            assert (LOCAL, 6881) not in peers
            # The original dictionary model obeys the same cap.
            listed = await http_announce_ok(server, h, port=6881, numwant=5000, compact=False)
            assert len(listed[b"peers"]) == 200
            assert all(p[b"ip"] == LOCAL.encode() and p[b"port"] != 6881 for p in listed[b"peers"])
            # "-1" is "no preference", as over UDP.
            response = await http_get(server, announce_target(h, port=6881) + "&numwant=-1")
            assert len(split_peers(response.bencoded()[b"peers"], 6)) == 50

    run(scenario())


def test_peer_is_source_address_and_announced_port_untrusted_claims_ignored() -> None:
    async def scenario() -> None:
        h = info_hash(120)
        async with running() as node:
            server = node.http()
            # Two connections (two source ports), two peer ids, one announced port: one peer.
            one = await HttpClient.open(server)
            two = await HttpClient.open(server)
            try:
                assert one.local[1] != two.local[1]
                await one.get(announce_target(h, port=7000, peer=peer_id(1)))
                answer = (await two.get(announce_target(h, port=7000, peer=peer_id(2)))).bencoded()
                assert (answer[b"incomplete"], answer[b"peers"]) == (1, b"")
            finally:
                await one.close()
                await two.close()
            # Claims about the address, from a client that is not a trusted proxy, are ignored.
            await http_announce_ok(server, h, port=7001, ip=bytes([203, 0, 113, 5]))
            await http_announce_ok(server, h, port=7002,
                                   headers={"X-Forwarded-For": "198.51.100.7"})
            seen = await http_announce_ok(server, h, port=7003)
            assert sorted(split_peers(seen[b"peers"], 6)) == [
                (LOCAL, 7000), (LOCAL, 7001), (LOCAL, 7002)]
            assert seen[b"peers6"] == b""

    run(scenario())


def test_trusted_proxy_forwarded_for_and_ip_are_honoured() -> None:
    async def scenario() -> None:
        h = info_hash(121)
        async with running(make_settings(trusted_proxies=["127.0.0.1"])) as node:
            server = node.http()

            async def via_proxy(port: int, forwarded: str | None, ip: bytes | None = None) -> None:
                headers = {"X-Forwarded-For": forwarded} if forwarded is not None else None
                await http_announce_ok(server, h, port=port, ip=ip, headers=headers)

            # The right-most hop that is not a trusted proxy is the client.
            await via_proxy(7001, "192.0.2.1, 198.51.100.7")
            await via_proxy(7002, "192.0.2.2, 127.0.0.1")
            await via_proxy(7003, "::ffff:192.0.2.3")  # IPv4-mapped reads as IPv4
            await via_proxy(7004, "2001:db8::4")
            # Without X-Forwarded-For, the proxy's ip= is believed; with it, the header wins.
            await via_proxy(7005, None, ip=bytes([192, 0, 2, 5]))
            await via_proxy(7006, "192.0.2.6", ip=bytes([192, 0, 2, 66]))
            # A malformed hop: believe nothing past it, the peer is the proxy itself.
            await via_proxy(7007, "192.0.2.7, not-an-address")

            seen = await http_announce_ok(server, h, port=7010, numwant=50)
            assert sorted(split_peers(seen[b"peers"], 6)) == sorted([
                ("198.51.100.7", 7001), ("192.0.2.2", 7002), ("192.0.2.3", 7003),
                ("192.0.2.5", 7005), ("192.0.2.6", 7006), (LOCAL, 7007),
            ])
            assert split_peers(seen[b"peers6"], 18) == [("2001:db8::4", 7004)]

    run(scenario())


def test_malformed_announces_get_a_failure_reason() -> None:
    async def scenario() -> None:
        h = quote_bytes(info_hash(130))
        p = quote_bytes(peer_id(1))
        ok = f"info_hash={h}&peer_id={p}&port=6881&left=0"
        cases = {
            f"peer_id={p}&port=6881&left=0": "missing info_hash",
            f"info_hash=abc&peer_id={p}&port=6881&left=0": "info_hash must be 20 bytes, got 3",
            f"info_hash={h}%00&peer_id={p}&port=6881&left=0": "info_hash must be 20 bytes, got 21",
            f"info_hash={h}&port=6881&left=0": "missing peer_id",
            f"info_hash={h}&peer_id={p}&left=0": "missing port",
            f"info_hash={h}&peer_id={p}&port=0&left=0": "invalid port",
            f"info_hash={h}&peer_id={p}&port=65536&left=0": "port out of range",
            f"info_hash={h}&peer_id={p}&port=-1&left=0": "port must be a non-negative integer",
            f"info_hash={h}&peer_id={p}&port=%2B5&left=0": "port must be a non-negative integer",
            f"info_hash={h}&peer_id={p}&port=6881": "missing left",
            f"info_hash={h}&peer_id={p}&port=6881&left=x": "left must be a non-negative integer",
            f"{ok}&event=exploded": "unknown event",
            f"{ok}&numwant=lots": "numwant must be a non-negative integer",
            "": "missing info_hash",
        }
        async with running() as node:
            client = await HttpClient.open(node.http())
            try:
                for query, reason in cases.items():
                    response = await client.get(f"/announce?{query}")
                    assert response.status == 200, (query, response)
                    assert response.bencoded() == {b"failure reason": reason.encode()}, query
                # Still healthy, on the same connection.
                good = (await client.get(f"/announce?{ok}")).bencoded()
                assert good[b"complete"] == 1
            finally:
                await client.close()
            assert node.counts() == (1, 1)

    run(scenario())


def test_scrape_several_hashes_bep48() -> None:
    async def scenario() -> None:
        busy, done, unknown = info_hash(140), info_hash(141), info_hash(142)
        async with running() as node:
            server = node.http()
            await http_announce_ok(server, busy, port=7001, left=0)
            await http_announce_ok(server, busy, port=7002, left=9)
            await http_announce_ok(server, done, port=7001, left=0, event=Event.COMPLETED)
            response = await http_get(server, "/scrape?" + scrape_query([busy, done, unknown]))
            files = response.bencoded()[b"files"]
            assert files == {
                busy: {b"complete": 1, b"downloaded": 0, b"incomplete": 1},
                done: {b"complete": 1, b"downloaded": 1, b"incomplete": 0},
                unknown: {b"complete": 0, b"downloaded": 0, b"incomplete": 0},
            }
            assert node.counts() == (2, 3)  # scraping created nothing
            missing = await http_get(server, "/scrape")
            assert b"info_hash" in missing.bencoded()[b"failure reason"]
            short = await http_get(server, "/scrape?info_hash=abc")
            assert short.bencoded() == {b"failure reason": b"info_hash must be 20 bytes, got 3"}

    run(scenario())


def test_not_http_at_all_gets_400_and_close() -> None:
    async def scenario() -> None:
        async with running() as node:
            client = await HttpClient.open(node.http())
            try:
                await client.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello\r\n\r\n")
                response = await client.read_response()
                assert response.status == 400
                assert response.headers["connection"] == "close"
                assert await client.at_eof()
            finally:
                await client.close()
            figures = await stats(node.http())
            assert figures["http_bad_requests"] == 1

    run(scenario())


def test_request_target_over_the_limit_gets_414() -> None:
    async def scenario() -> None:
        async with running() as node:
            base = "/announce?info_hash=x&pad="
            near = base + "a" * (MAX_TARGET - len(base))
            assert len(near) == MAX_TARGET
            fits = await http_get(node.http(), near)
            assert fits.bencoded() == {b"failure reason": b"info_hash must be 20 bytes, got 1"}

            client = await HttpClient.open(node.http())
            try:
                response = await client.get(near + "a")
                assert response.status == 414
                assert await client.at_eof()
            finally:
                await client.close()
            huge = await http_get(node.http(), "/" + "b" * 100_000)
            assert huge.status == 414

    run(scenario())


def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    async def scenario() -> None:
        h = info_hash(150)
        async with running() as node:
            client = await HttpClient.open(node.http())
            try:
                for port in range(7001, 7006):
                    answer = (await client.get(announce_target(h, port=port))).bencoded()
                    assert answer[b"incomplete"] == port - 7000
                scrape = (await client.get("/scrape?" + scrape_query([h]))).bencoded()
                assert scrape[b"files"][h][b"incomplete"] == 5
                assert (await client.get("/stats.json")).json()["announces"] == 5
                assert (await client.get("/")).status == 200
            finally:
                await client.close()
            assert (await stats(node.http()))["http_connections"] == 2

    run(scenario())


def test_pipelined_requests_are_answered_in_order() -> None:
    async def scenario() -> None:
        h = info_hash(151)
        async with running() as node:
            client = await HttpClient.open(node.http())
            try:
                await client.send(
                    HttpClient.request("GET", announce_target(h, port=7001))
                    + HttpClient.request("GET", "/no/such/page")
                    + HttpClient.request("GET", "/scrape?" + scrape_query([h]))
                )
                first = await client.read_response()
                second = await client.read_response()
                third = await client.read_response()
                assert first.bencoded()[b"incomplete"] == 1
                assert second.status == 404
                assert third.bencoded()[b"files"][h][b"incomplete"] == 1
                # And the connection is still usable afterwards.
                assert (await client.get("/stats.json")).status == 200
            finally:
                await client.close()

    run(scenario())


def test_many_pipelined_requests_in_one_write() -> None:
    async def scenario() -> None:
        h = info_hash(152)
        async with running() as node:
            client = await HttpClient.open(node.http())
            try:
                await client.send(b"".join(
                    HttpClient.request("GET", announce_target(h, port=8000 + i)) for i in range(40)))
                for i in range(40):
                    assert (await client.read_response()).bencoded()[b"incomplete"] == i + 1
            finally:
                await client.close()

    run(scenario())


def test_connection_close_and_http_1_0_are_honoured() -> None:
    async def scenario() -> None:
        async with running() as node:
            for raw in (
                b"GET /stats.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"GET /stats.json HTTP/1.0\r\n\r\n",
            ):
                client = await HttpClient.open(node.http())
                try:
                    await client.send(raw)
                    response = await client.read_response()
                    assert response.status == 200
                    assert await client.at_eof()
                finally:
                    await client.close()

    run(scenario())


def test_pages_home_stats_not_found_and_methods() -> None:
    async def scenario() -> None:
        h = info_hash(160)
        async with running() as node:
            server = node.http()
            for port in (7001, 7002, 7003):
                await http_announce_ok(server, h, port=port)
            await http_get(server, "/scrape?" + scrape_query([h]))

            home = await http_get(server, "/")
            assert home.status == 200
            assert home.headers["content-type"].startswith("text/html")
            assert "default-src 'none'" in home.headers["content-security-policy"]
            page = home.body.decode()
            assert "<b>3</b><span>peers</span>" in page
            assert "<b>1</b><span>active torrents</span>" in page
            assert "<b>3</b><span>announces since start</span>" in page
            assert "<b>1</b><span>scrapes since start</span>" in page
            assert f"http://127.0.0.1:{server[1]}/announce" in page
            assert f"udp://127.0.0.1:{node.udp()[1]}/announce" in page

            figures = await http_get(server, "/stats.json")
            assert figures.headers["content-type"] == "application/json"
            data = figures.json()
            assert (data["torrents_active"], data["peers"], data["announces"], data["scrapes"]) == (1, 3, 3, 1)
            assert {"version", "uptime_s", "refused", "udp_packets", "http_requests"} <= data.keys()

            missing = await http_get(server, "/nothing-here")
            assert missing.status == 404

            post = await http_get(server, announce_target(h, port=7004), method="POST")
            assert post.status == 405 and "GET" in post.headers["allow"]
            assert (await http_get(server, "/scrape?" + scrape_query([h]), method="POST")).status == 405
            assert (await http_get(server, "/", method="DELETE")).status == 405

            head = await http_get(server, "/", method="HEAD")
            assert head.status == 200 and head.body == b""
            assert int(head.headers["content-length"]) > 0

    run(scenario())


def test_announce_subpath_is_an_announce() -> None:
    async def scenario() -> None:
        async with running() as node:
            target = announce_target(info_hash(170), port=7001).replace("/announce?", "/announce/abc?")
            response = await http_get(node.http(), target)
            assert response.bencoded()[b"incomplete"] == 1

    run(scenario())


def test_idle_clients_do_not_block_others() -> None:
    async def scenario() -> None:
        async with running() as node:
            idle = [await HttpClient.open(node.http()) for _ in range(20)]
            try:
                await idle[0].send(b"GET /stats.json HTTP/1.1\r\nHo")  # half a request
                response = await asyncio.wait_for(http_get(node.http(), "/stats.json"), 2)
                assert response.status == 200
            finally:
                for client in idle:
                    await client.close()

    run(scenario())
