"""The site shares the HTTP tracker's port: connections are sorted by their first request."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from swarmdex.bittorrent.bencode import decode
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.protocol import http as wire
from swarmdex.protocol.announce import AnnounceRequest, Event
from swarmdex.runtime.handoff import SiteProtocols, with_tracker
from swarmdex.tracker.hooks import OpenTracker
from swarmdex.tracker.http_server import HttpTrackerServer
from swarmdex.tracker.logic import Tracker


async def _page_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = f"page {scope['method']} {scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await asyncio.wait_for(reader.readline(), 5)
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return int(status_line.split()[1]), await reader.readexactly(length)


async def _exchange(port: int, *requests: bytes, chunks: int = 1) -> list[tuple[int, bytes]]:
    """Send requests on one connection (the first split into `chunks` writes); read answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    try:
        for i, request in enumerate(requests):
            if i == 0 and chunks > 1:
                step = max(1, len(request) // chunks)
                for start in range(0, len(request), step):
                    writer.write(request[start : start + step])
                    await writer.drain()
                    await asyncio.sleep(0)
            else:
                writer.write(request)
            answers.append(await _read_answer(reader))
    finally:
        writer.close()
        await writer.wait_closed()
    return answers


async def _pipeline(port: int, payload: bytes, count: int) -> list[tuple[int, bytes]]:
    """Write `payload` at once on a new connection; read `count` answers in order."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    try:
        writer.write(payload)
        for _ in range(count):
            answers.append(await _read_answer(reader))
    finally:
        writer.close()
        await writer.wait_closed()
    return answers


def _announce_target(info_hash: bytes, port: int) -> bytes:
    req = AnnounceRequest(info_hash, os.urandom(20), port, 0, 0, 5, Event.STARTED, None)
    return f"/announce?{wire.announce_query(req)}".encode()


def test_browser_connections_reach_the_site_and_tracker_connections_stay_fast() -> None:
    async def scenario() -> None:
        tracker = Tracker(MemoryPeerStore(), OpenTracker())
        server = HttpTrackerServer(tracker)
        site = SiteProtocols(with_tracker(_page_app, server))
        server.site = site
        _, port = await server.listen("127.0.0.1", 0)
        info_hash = os.urandom(20)
        try:
            # A browser: its first request is a page, so the site answers it...
            page, mixed = await _exchange(
                port,
                b"GET /about HTTP/1.1\r\nHost: x\r\n\r\n",
                # ...and a tracker request on the same connection is answered by the tracker.
                b"GET " + _announce_target(info_hash, 7001) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            )
            assert page == (200, b"page GET /about")
            assert mixed[0] == 200
            assert decode(mixed[1])[b"incomplete"] == 1

            # A BitTorrent client, its request line arriving a few bytes at a time.
            (answer,) = await _exchange(
                port, b"GET " + _announce_target(info_hash, 7002) + b" HTTP/1.1\r\n\r\n", chunks=40)
            assert answer[0] == 200
            assert decode(answer[1])[b"incomplete"] == 2

            # A connection that opens with announces (a proxy's pooled connection, say) is
            # handed to the site at its first page request, pipelined requests included.
            announce = b"GET " + _announce_target(info_hash, 7003) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
            page = b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n"
            pooled = await _pipeline(port, announce + announce + page + announce + page, 5)
            assert [status for status, _ in pooled] == [200] * 5
            assert pooled[0][1].startswith(b"d8:complete")
            assert pooled[2][1] == b"page GET /after"
            assert pooled[3][1].startswith(b"d8:complete")  # answered by the site's tracker route
            assert pooled[4][1] == b"page GET /after"

            # Paths that merely start like tracker paths belong to the site.
            (near,) = await _exchange(port, b"GET /announcements HTTP/1.1\r\nHost: x\r\n\r\n")
            assert near == (200, b"page GET /announcements")
            assert server.counters.handed_to_site == 3
            assert server.counters.requests == 3  # the announces answered on the fast path
        finally:
            await server.close()
            await site.close()

    asyncio.run(scenario())


async def _upload_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body and answers with its length."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = f"{scope['method']} {scope['path']} {size}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def test_a_large_upload_read_at_once_still_reaches_the_site() -> None:
    """A .torrent upload's head and a large body can arrive in one read; the connection
    must still go to the site, not stay with the tracker for being large."""
    async def scenario() -> None:
        server = HttpTrackerServer(Tracker(MemoryPeerStore(), OpenTracker()))
        site = SiteProtocols(with_tracker(_upload_app, server))
        server.site = site
        _, port = await server.listen("127.0.0.1", 0)
        try:
            for size in (1_000, 100_000, 1_000_000):
                body = os.urandom(size)
                request = (b"POST /api/v1/torrents HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: %d\r\n\r\n%b" % (size, body))
                (answer,) = await _pipeline(port, request, 1)
                assert answer == (200, b"POST /api/v1/torrents %d" % size), size
            assert server.counters.handed_to_site == 3
        finally:
            await server.close()
            await site.close()

    asyncio.run(scenario())
