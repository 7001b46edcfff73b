"""Limits of the shared HTTP port, met by real clients over real sockets: what a documented
request needs always fits, and abusive connections are cut off without starving the rest."""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import pytest

from swarmdex import fdlimit
from swarmdex.bittorrent.bencode import decode
from swarmdex.protocol.http import MAX_SCRAPE_HASHES, scrape_query
from swarmdex.settings import Settings

from .wire import (
    LOCAL,
    REPLY_TIMEOUT,
    HttpClient,
    announce_target,
    http_announce_ok,
    http_get,
    info_hash,
    make_settings,
    run,
    running,
    stats,
    until,
)

V6 = "::1"


def test_scrape_of_the_documented_maximum_of_hashes_is_answered() -> None:
    async def scenario() -> None:
        hashes = [bytes([0xFF - i % 7]) * 12 + info_hash(i)[-8:] for i in range(MAX_SCRAPE_HASHES)]
        async with running() as node:
            await http_announce_ok(node.http(), hashes[-1], port=6001, left=0)
            target = "/scrape?" + scrape_query(hashes)
            client = await HttpClient.open(node.http())
            try:
                # On the tracker's own connection handling...
                files = (await client.get(target)).bencoded()[b"files"]
                assert len(files) == MAX_SCRAPE_HASHES and files[hashes[-1]][b"complete"] == 1
                # ...and on a connection the site serves, after a page.
                assert (await client.get("/stats.json")).status == 200
                answer = await client.get(target)
                assert answer.status == 200, answer.body[:200]
                assert len(decode(answer.body)[b"files"]) == MAX_SCRAPE_HASHES
                # One hash more is the protocol's refusal, not the server's.
                over = await client.get(target + "&info_hash=" + "%00" * 20)
                assert over.bencoded() == {
                    b"failure reason": f"too many info hashes (at most {MAX_SCRAPE_HASHES})".encode()}
            finally:
                await client.close()

    run(scenario())


# -- connections: deadlines and caps -------------------------------------------------------

CAP = 5  # connections per address in these tests
DEADLINE = 1.0  # seconds for a head, and a body's grace
TRICKLE = 0.1  # seconds between the bytes a slow client sends
PATIENCE = 20 * DEADLINE  # how long a test waits for the server to act on a deadline


def limited(**overrides: Any) -> Settings:
    return make_settings(**{
        "hosts": [LOCAL, V6], "http_head_timeout": DEADLINE, "http_body_grace": DEADLINE,
        "http_body_min_rate": 1000, "http_connections_per_address": CAP, **overrides})


async def closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Read (and drop) what the server sends until it closes; False if it is still open
    after `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def trickle(client: HttpClient, data: bytes) -> int:
    """Send `data` a byte at a time, TRICKLE seconds apart, watching for the server to close
    the connection in between; return how many bytes went out before it did."""
    for i in range(len(data)):
        try:
            await client.send(data[i : i + 1])
        except ConnectionError:
            return i
        if await closed_by_server(client.reader, TRICKLE):
            return i + 1
    return len(data)


def said(caplog: pytest.LogCaptureFixture, what: str) -> bool:
    return any(what in r.getMessage() for r in caplog.records if r.name.startswith("swarmdex"))


def test_slow_head_is_cut_at_deadline_while_bytes_keep_coming(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    # Ten times what the deadline lets through, at a byte every TRICKLE seconds.
    endless = b"GET /announce?info_hash=" + b"a" * int(10 * DEADLINE / TRICKLE)

    async def scenario() -> None:
        async with running(limited()) as node:
            # A connection the tracker serves...
            client = await HttpClient.open(node.http())
            try:
                sent = await trickle(client, endless)
                assert sent < len(endless), "the head was still being read after 10 deadlines"
            finally:
                await client.close()
            # ...and one handed to the site after a first request.
            client = await HttpClient.open(node.http())
            try:
                assert (await client.get("/stats.json")).status == 200
                slow_head = b"GET /stats.json HTTP/1.1\r\nX-Slow: " + endless
                sent = await trickle(client, slow_head)
                assert sent < len(slow_head), "the site's head was still being read after 10 deadlines"
            finally:
                await client.close()
            # Whoever sends a head at once is served.
            await http_announce_ok(node.http(), info_hash(700), port=6001)
            assert node.node.http.counts.total <= 1
            assert (await stats(node.http()))["http_slow_heads"] == 2

    run(scenario())
    assert said(caplog, "head deadline passed"), caplog.text


async def hold(server: tuple[str, int], how: str) -> HttpClient:
    """A connection held open: idle after an announce (the tracker's), idle after a page
    (the site's), or a POST whose body never comes (`tracker-body`, `site-body`)."""
    client = await HttpClient.open(server)
    if how == "tracker":
        assert b"interval" in (await client.get(announce_target(info_hash(701), port=6001))).body
    elif how == "site":
        assert (await client.get("/stats.json")).status == 200
    else:
        path = "/announce" if how == "tracker-body" else "/login"
        await client.send(HttpClient.request("POST", path, {"Content-Length": "1000"}))
    return client


async def refused(server: tuple[str, int], target: str) -> bool:
    """True when a new connection to `server` is turned away without its request served."""
    client = await HttpClient.open(server)
    try:
        await client.send(HttpClient.request("GET", target))
        try:
            answer = await client.read_response()
        except (asyncio.IncompleteReadError, ConnectionError):
            return True
        return answer.status == 503 and answer.body == b"too many connections\n"
    finally:
        await client.close()


def test_connections_past_the_cap_per_address_are_refused_for_site_and_tracker_alike(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with running(limited()) as node:
            v4, v6 = node.http(LOCAL), node.http(V6)
            held = [await hold(v4, how) for how in ("tracker", "tracker", "site", "site", "tracker")]
            try:
                assert node.node.http.counts.total == CAP
                for target in ("/stats.json", announce_target(info_hash(702), port=6002)):
                    assert await refused(v4, target), target
                # Another address is served, pages and announces.
                assert (await http_get(v6, "/stats.json")).status == 200
                await http_announce_ok(v6, info_hash(702), port=6003)
                # One of the five leaves: there is room again.
                await held.pop(2).close()

                async def served() -> bool:
                    return (await http_get(v4, "/stats.json")).status == 200

                await until(served, timeout=REPLY_TIMEOUT)
            finally:
                for client in held:
                    await client.close()

    run(scenario())
    assert said(caplog, "over the cap per address"), caplog.text


def test_stalled_bodies_are_counted_in_the_cap_and_cut_off(caplog: pytest.LogCaptureFixture) -> None:
    """POSTs whose body never comes, four handed to the site and one kept by the tracker."""

    async def scenario() -> None:
        # Grace enough to see them all held at once, even on a busy machine.
        async with running(limited(http_body_grace=5 * DEADLINE)) as node:
            v4 = node.http(LOCAL)
            held = [await hold(v4, how) for how in ["site-body"] * (CAP - 1) + ["tracker-body"]]
            try:
                assert node.node.http.counters.handed_to_site == CAP - 1
                # The handed-over connections hold their places: the address is at its cap.
                assert await refused(v4, "/stats.json")
                for client in held:
                    assert await closed_by_server(client.reader, PATIENCE), "a stalled body was kept"
                assert (await http_get(v4, "/stats.json")).status == 200
                assert node.node.http.counts.total <= 1
                figures = await stats(v4)
                assert figures["http_slow_bodies"] == CAP and figures["http_slow_heads"] == 0
            finally:
                for client in held:
                    await client.close()

    run(scenario())
    assert said(caplog, "over the cap per address"), caplog.text


def test_open_files_limit_is_raised_at_start_and_the_cap_fits_in_it(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = 512
    assert hard > low, f"this machine's hard limit of open files ({hard}) is too low to test"
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        async def scenario() -> None:
            async with running(make_settings(http_fd_reserve=100)) as node:
                now, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
                assert now > low and now in (hard, fdlimit.UNLIMITED_TARGET)
                assert node.node.http.limits.max_connections == now - 100
                assert (await http_get(node.http(), "/stats.json")).status == 200

        run(scenario())
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert said(caplog, f"open files: soft limit raised from {low} to "), caplog.text


def test_a_trusted_proxy_is_not_capped_per_address() -> None:
    async def scenario() -> None:
        async with running(limited(trusted_proxies=[LOCAL])) as node:
            v4 = node.http(LOCAL)
            held = [await hold(v4, "site") for _ in range(CAP + 2)]
            try:
                assert node.node.http.counts.total == CAP + 2
                await http_announce_ok(v4, info_hash(703), port=6004)
            finally:
                for client in held:
                    await client.close()

    run(scenario())
