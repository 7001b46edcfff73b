"""Hostile and broken clients: the tracker keeps serving and keeps its memory bounded."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct

from swarmdex.protocol import udp as udp_wire
from swarmdex.protocol.announce import AnnounceRequest, Event
from swarmdex.tracker import http_server

from .wire import (
    REPLY_TIMEOUT,
    HttpClient,
    RunningNode,
    announce_target,
    http_announce_ok,
    http_get,
    info_hash,
    peer_id,
    run,
    running,
    udp_clients,
    until,
)

GARBAGE_DATAGRAMS = 5000


def garbage_datagrams(count: int, seed: int = 15) -> list[bytes]:
    """Random and almost-valid BEP 15 packets, none of them a request the tracker could honour."""
    rng = random.Random(seed)
    valid = udp_wire.client_announce(
        b"\x01" * 8, 1, AnnounceRequest(info_hash(400), peer_id(1), 6881, 0, 0, 0, Event.STARTED, None))
    out = []
    for i in range(count):
        kind = i % 5
        if kind == 0:  # noise of any length, short ones included
            packet = rng.randbytes(rng.randrange(0, 120))
        elif kind == 1:  # a BEP 15 header with a random connection id and action
            packet = struct.pack(">QII", rng.getrandbits(64), rng.randrange(0, 6),
                                 rng.getrandbits(32)) + rng.randbytes(rng.randrange(0, 200))
        elif kind == 2:  # a real announce cut short or with a forged connection id
            packet = valid[: rng.randrange(0, len(valid))] if rng.random() < 0.5 else (
                rng.randbytes(8) + valid[8:])
        elif kind == 3:  # BEP 41 options that lie about their length
            packet = rng.randbytes(8) + valid[8:] + bytes((2, 200)) + rng.randbytes(rng.randrange(0, 50))
        else:  # scrapes with ragged hash lists
            packet = struct.pack(">QII", rng.getrandbits(64), 2, i) + rng.randbytes(rng.randrange(0, 2000))
        if packet[:8] == struct.pack(">Q", udp_wire.PROTOCOL_ID):
            packet = b"\xff" + packet[1:]  # never a well-formed connect
        out.append(packet)
    return out


def test_udp_garbage_burst_then_valid_announce() -> None:
    async def scenario() -> None:
        h = info_hash(401)
        async with running() as node, udp_clients(node.udp()) as (client,):
            await client.announce_ok(h, port=6001, left=0)
            counters = node.node.udp.counters
            before = (node.counts(), counters.packets, counters.errors + counters.unreadable)

            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as noise:
                noise.setblocking(False)
                batch = 32
                packets = garbage_datagrams(GARBAGE_DATAGRAMS)
                for start in range(0, len(packets), batch):
                    for packet in packets[start : start + batch]:
                        noise.sendto(packet, node.udp())
                    await asyncio.sleep(0)  # the tracker shares this loop: give it its turn
                await client.nothing_pending()

            assert counters.packets - before[1] == GARBAGE_DATAGRAMS + 1
            # Each one was either answered with an error or dropped, never served.
            assert counters.errors + counters.unreadable - before[2] == GARBAGE_DATAGRAMS
            assert node.counts() == before[0] == (1, 1)
            assert len(node.node.udp.tasks) == 0

            reply = await client.announce_ok(h, port=6002)
            assert (reply.seeders, reply.leechers) == (1, 1)

    run(scenario())


async def _drain(reader: asyncio.StreamReader) -> bytes:
    with contextlib.suppress(ConnectionError):
        return await asyncio.wait_for(reader.read(), REPLY_TIMEOUT)
    return b""


def test_http_garbage_connections_then_announce() -> None:
    rng = random.Random(7)
    junk = [
        b"\x00" * 40 + b"\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"GET /announce?info_hash=%ZZ%ZZ HTTP/1.1\r\n\r\n",
        b"BREW /pot HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"CONNECT example.org:443 HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"\r\n" * 100,
    ] + [rng.randbytes(rng.randrange(1, 600)) for _ in range(150)]

    async def scenario() -> None:
        h = info_hash(402)
        async with running() as node:
            server = node.http()
            await http_announce_ok(server, h, port=6001)
            for raw in junk:
                reader, writer = await asyncio.open_connection(*server)
                writer.write(raw)
                writer.write_eof()
                answer = await _drain(reader)
                if answer:
                    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

            answer = await http_announce_ok(server, h, port=6002)
            assert answer[b"incomplete"] == 2
            assert node.counts() == (1, 2)

            async def all_closed() -> bool:
                return len(node.node.http.connections) == 0

            await until(all_closed, timeout=REPLY_TIMEOUT)

    run(scenario())


def test_abrupt_disconnects_mid_request() -> None:
    async def scenario() -> None:
        async with running() as node:
            for cut in range(0, 60, 3):
                sock = socket.create_connection(node.http())
                sock.sendall(announce_target(info_hash(403), port=6001).encode()[:cut])
                # SO_LINGER 0: close with a reset, as a crashed client or a NAT timeout would.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            assert (await http_get(node.http(), "/stats.json")).status == 200

            async def all_closed() -> bool:
                return len(node.node.http.connections) == 0

            await until(all_closed, timeout=REPLY_TIMEOUT)

    run(scenario())


def _kept_forwarded_bytes(node: RunningNode) -> int:
    return max((len(c._forwarded or b"") for c in node.node.http.connections), default=0)


def test_repeated_forwarded_for_headers_stay_bounded() -> None:
    """Each X-Forwarded-For header is capped, but repeats were glued together without limit.

    400 headers of 8000 bytes (3.2 MB) must not leave megabytes held per connection, nor cost
    quadratic copying on the event loop that every announce waits behind. Any client can
    send them: the header is collected before anyone asks whether the peer is a proxy.
    """

    async def scenario() -> None:
        async with running() as node:
            client = await HttpClient.open(node.http())
            try:
                header = b"X-Forwarded-For: " + b"1" * 8000 + b"\r\n"
                await client.send(b"GET /stats.json HTTP/1.1\r\nHost: x\r\n" + header * 400 + b"\r\n")
                response = await client.read_response()
                assert response.status in (200, 400, 431)
                kept = _kept_forwarded_bytes(node)
                assert kept <= http_server.MAX_HEADER, (
                    f"{kept} bytes of X-Forwarded-For kept for one request")
            finally:
                await client.close()

    run(scenario())


def test_endless_header_line_is_cut_off() -> None:
    """A request whose header section never ends must be refused, not buffered forever."""

    async def scenario() -> None:
        async with running() as node:
            client = await HttpClient.open(node.http())
            try:
                await client.send(b"GET / HTTP/1.1\r\nX-Padding: ")
                chunk = b"a" * 65536
                with contextlib.suppress(ConnectionError):
                    for _ in range(32):  # 2 MiB of one header value
                        await client.send(chunk)
                try:
                    response = await client.read_response(timeout=1.0)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return  # closed without an answer: acceptable
                except TimeoutError:
                    raise AssertionError(
                        "2 MiB of header accepted without an answer: still reading") from None
                assert response.status in (400, 431)
            finally:
                await client.close()

    run(scenario())


def test_client_that_never_reads_cannot_grow_the_write_buffer() -> None:
    """Pipelined requests from a client that reads no answers must stop being read.

    `pause_writing` pauses reading, but without a limit on answers generated per read the
    server keeps producing answers into the transport's buffer.
    """

    async def scenario() -> None:
        async with running() as node:
            sock = socket.create_connection(node.http())
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.setblocking(False)
                payload = b"GET / HTTP/1.1\r\n\r\n" * 20_000  # 360 kB of requests
                sent = blocked = 0
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 5
                # Push until the server stops taking requests (20 refusals in a row).
                while sent < len(payload) and blocked < 20 and loop.time() < deadline:
                    try:
                        sent += sock.send(payload[sent : sent + 65536])
                        blocked = 0
                        await asyncio.sleep(0)
                    except BlockingIOError:
                        blocked += 1
                        await asyncio.sleep(0.01)
                # Let the server catch up until it handles nothing more.
                counters, last, still = node.node.http.counters, -1, 0
                while still < 10 and loop.time() < deadline:
                    still = still + 1 if counters.requests == last else 0
                    last = counters.requests
                    await asyncio.sleep(0.01)
                buffered = max(
                    (c._transport.get_write_buffer_size() for c in node.node.http.connections
                     if c._transport is not None), default=0)
                assert buffered < 4 << 20, (
                    f"{buffered:,} bytes of answers buffered for a client that read none "
                    f"(it sent {sent:,} bytes)")
            finally:
                sock.close()

    run(scenario())
