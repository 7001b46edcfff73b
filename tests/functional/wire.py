"""Real-socket tracker clients and an in-process swarmdex node for the functional tests.

The clients speak through `swarmdex.protocol` (the same sans-IO encoders and parsers the
server uses, client side), so a test reads like a BitTorrent client talking to a tracker.
Everything waits on readiness (a bound port, a reply) with a deadline, never on a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from swarmdex.bittorrent.bencode import decode
from swarmdex.node import Node
from swarmdex.protocol import http as http_wire
from swarmdex.protocol import udp as udp_wire
from swarmdex.protocol.announce import AnnounceRequest, Event
from swarmdex.settings import Settings

T = TypeVar("T")

LOCAL = "127.0.0.1"  # where every test node listens
SECRET = bytes(range(32))
REPLY_TIMEOUT = 5.0  # a loopback answer takes microseconds; this only bounds a broken server
TEST_TIMEOUT = 30.0


def run(coro: Coroutine[Any, Any, T], timeout: float = TEST_TIMEOUT) -> T:
    """Run one scenario on a fresh event loop; a hang fails the test instead of the run."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ipv6_unavailable() -> str | None:
    """Why ::1 cannot be used on this machine, or None if it can."""
    if not socket.has_ipv6:
        return "Python was built without IPv6 support"
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        try:
            with socket.socket(socket.AF_INET6, kind) as sock:
                sock.bind(("::1", 0))
        except OSError as exc:
            return f"cannot bind ::1 on this machine: {exc}"
    return None


def make_settings(**overrides: Any) -> Settings:
    """Settings for a test node: loopback, OS-chosen ports, no background sweeps mid-test."""
    values: dict[str, Any] = {
        "hosts": [LOCAL],
        "port": 0,
        "udp_port": 0,
        "gc_interval": 3600.0,
        "tracker_mode": "open",  # most tests announce made-up hashes
        # Every test client shares one address, which the per-address limits would take for
        # a single abuser, and many tests re-announce at once: these limits are out of the
        # way here, and set by the tests of them.
        "max_peers_per_address": 1_000_000,
        "new_swarms_burst": 1_000_000,
        "min_interval_enforced": False,
        "new_peer_lists_per_min_interval": 0,
    }
    values.update(overrides)
    return Settings(**values)


def info_hash(n: int) -> bytes:
    """A distinct, recognisable 20-byte info hash per test torrent."""
    return b"swarmdex-test-%06d" % n


def peer_id(n: int) -> bytes:
    return b"-SD0001-%012d" % n


def announce_request(
    info_hash: bytes,
    *,
    port: int,
    left: int = 1000,
    event: Event = Event.NONE,
    numwant: int | None = None,
    peer: bytes | None = None,
    ip: bytes | None = None,
    **extra: Any,
) -> AnnounceRequest:
    """What a test client announces on either transport: nothing transferred yet, and the peer
    id `peer_id(port)` unless `peer` is given. `extra`: further AnnounceRequest fields."""
    return AnnounceRequest(
        info_hash, peer or peer_id(port), port, 0, 0, left, event, numwant, ip=ip, **extra
    )


def split_peers(blob: bytes, size: int) -> list[tuple[str, int]]:
    """Compact peers (BEP 23: 6 bytes, BEP 7: 18 bytes) as (address, port) pairs."""
    assert len(blob) % size == 0, f"{len(blob)} bytes is not a whole number of {size}-byte peers"
    return [
        (str(ipaddress.ip_address(blob[i : i + size - 2])), int.from_bytes(blob[i + size - 2 : i + size], "big"))
        for i in range(0, len(blob), size)
    ]


# -- an in-process node ----------------------------------------------------------------------


@dataclass
class RunningNode:
    node: Node
    lines: list[str]
    urls: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for line in self.lines:
            kind, _, url = line.partition(" ")
            if kind != "tracker":
                continue
            parts = urlsplit(url)
            assert parts.hostname is not None and parts.port is not None, line
            self.urls[(parts.scheme, parts.hostname)] = (parts.hostname, parts.port)

    def udp(self, host: str = LOCAL) -> tuple[str, int]:
        return self.urls[("udp", host)]

    def http(self, host: str = LOCAL) -> tuple[str, int]:
        return self.urls[("http", host)]

    def counts(self) -> tuple[int, int]:
        """(swarms, peers) straight from the memory store."""
        return self.node.store.counts()


@contextlib.asynccontextmanager
async def running(settings: Settings | None = None, *, secret: bytes = SECRET) -> AsyncIterator[RunningNode]:
    settings = settings or make_settings()
    with tempfile.TemporaryDirectory(prefix="swarmdex-test-") as tmp:
        if settings.data_dir == Path("data"):  # the default: keep the test's database apart
            settings = settings.model_copy(update={"data_dir": Path(tmp)})
        node = Node(settings, secret=secret)
        try:
            lines = await node.start()
            yield RunningNode(node, lines)
        finally:
            await node.stop()


# -- UDP (BEP 15) ----------------------------------------------------------------------------


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:  # ICMP errors: the reply simply never comes
        pass


class UdpClient:
    """One UDP socket talking to one tracker address."""

    def __init__(self, transport: asyncio.DatagramTransport, inbox: _Inbox) -> None:
        self.transport = transport
        self.inbox = inbox
        self.connection_id: bytes | None = None
        self._txid = int.from_bytes(os.urandom(2), "big") << 8

    @classmethod
    async def open(cls, server: tuple[str, int], local: tuple[str, int] | None = None) -> UdpClient:
        loop = asyncio.get_running_loop()
        transport, inbox = await loop.create_datagram_endpoint(
            _Inbox, local_addr=local, remote_addr=server)
        return cls(transport, inbox)

    @property
    def local(self) -> tuple[str, int]:
        name = self.transport.get_extra_info("sockname")
        return name[0], name[1]

    def source(self) -> bytes:
        """Our address as the tracker keys connection ids: the packed IP alone."""
        host, _port = self.local
        return ipaddress.ip_address(host).packed

    def next_txid(self) -> int:
        self._txid = (self._txid + 1) & 0xFFFFFFFF
        return self._txid

    def send(self, packet: bytes) -> None:
        self.transport.sendto(packet)

    async def receive(self, timeout: float = REPLY_TIMEOUT) -> bytes:
        return await asyncio.wait_for(self.inbox.queue.get(), timeout)

    async def exchange(self, packet: bytes) -> udp_wire.UdpReply:
        """Send one request and read the answer, which must carry the same transaction id."""
        txid = udp_wire.transaction_id(packet)
        self.send(packet)
        reply = udp_wire.parse_reply(await self.receive())
        assert reply.transaction_id == txid, f"answer for txid {reply.transaction_id}, sent {txid}"
        return reply

    async def connect(self) -> bytes:
        reply = await self.exchange(udp_wire.client_connect(self.next_txid()))
        assert isinstance(reply, udp_wire.ConnectReply), reply
        self.connection_id = reply.connection_id
        return reply.connection_id

    async def announce(
        self, info_hash: bytes, *, port: int, connection_id: bytes | None = None, **fields: Any
    ) -> udp_wire.AnnounceReply | udp_wire.ErrorReply:
        """Announce `announce_request(info_hash, port=port, **fields)`, keyed by the port."""
        if connection_id is None:
            connection_id = self.connection_id or await self.connect()
        req = announce_request(info_hash, port=port, key=port, **fields)
        reply = await self.exchange(udp_wire.client_announce(connection_id, self.next_txid(), req))
        assert isinstance(reply, udp_wire.AnnounceReply | udp_wire.ErrorReply), reply
        return reply

    async def announce_ok(self, info_hash: bytes, **kwargs: Any) -> udp_wire.AnnounceReply:
        reply = await self.announce(info_hash, **kwargs)
        assert isinstance(reply, udp_wire.AnnounceReply), reply
        return reply

    async def scrape(
        self, hashes: list[bytes], *, connection_id: bytes | None = None
    ) -> udp_wire.ScrapeReply | udp_wire.ErrorReply:
        if connection_id is None:
            connection_id = self.connection_id or await self.connect()
        reply = await self.exchange(udp_wire.client_scrape(connection_id, self.next_txid(), hashes))
        assert isinstance(reply, udp_wire.ScrapeReply | udp_wire.ErrorReply), reply
        return reply

    async def nothing_pending(self) -> None:
        """Prove that no answer is queued for anything sent so far.

        A connect goes out last; the tracker reads its socket in order, so if the first
        datagram back is the answer to that connect, nothing before it was answered.
        """
        txid = self.next_txid()
        self.send(udp_wire.client_connect(txid))
        reply = udp_wire.parse_reply(await self.receive())
        assert isinstance(reply, udp_wire.ConnectReply) and reply.transaction_id == txid, (
            f"an earlier packet was answered: {reply}"
        )

    def close(self) -> None:
        self.transport.close()


@contextlib.asynccontextmanager
async def udp_clients(server: tuple[str, int], count: int = 1, *,
                      local: tuple[str, int] | None = None) -> AsyncIterator[list[UdpClient]]:
    clients: list[UdpClient] = []
    try:
        for _ in range(count):
            clients.append(await UdpClient.open(server, local))
        yield clients
    finally:
        for client in clients:
            client.close()
        await asyncio.sleep(0)  # let the transports finish closing on this loop


# -- HTTP -------------------------------------------------------------------------------------


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def bencoded(self) -> dict[bytes, Any]:
        assert self.status == 200, (self.status, self.body)
        value = decode(self.body)
        assert isinstance(value, dict), value
        return value

    def json(self) -> Any:
        return json.loads(self.body)


class HttpClient:
    """One HTTP/1.1 connection; keeps it open between requests unless told otherwise."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, server: tuple[str, int]) -> HttpClient:
        reader, writer = await asyncio.open_connection(*server)
        return cls(reader, writer)

    @property
    def local(self) -> tuple[str, int]:
        name = self.writer.get_extra_info("sockname")
        return name[0], name[1]

    async def send(self, raw: bytes) -> None:
        self.writer.write(raw)
        await self.writer.drain()

    async def read_response(self, *, head: bool = False, timeout: float = REPLY_TIMEOUT) -> HttpResponse:
        async def read() -> HttpResponse:
            raw_head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = raw_head[:-4].decode("latin-1").split("\r\n")
            version, status, _ = status_line.split(" ", 2)
            assert version == "HTTP/1.1", status_line
            headers: dict[str, str] = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = 0 if head else int(headers["content-length"])
            return HttpResponse(int(status), headers, await self.reader.readexactly(length))

        return await asyncio.wait_for(read(), timeout)

    @staticmethod
    def request(method: str, target: str, headers: dict[str, str] | None = None) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", "Host: tracker.test"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def get(self, target: str, headers: dict[str, str] | None = None, *, method: str = "GET") -> HttpResponse:
        await self.send(self.request(method, target, headers))
        return await self.read_response(head=method == "HEAD")

    async def at_eof(self) -> bool:
        """True once the server has closed the connection (bounded wait)."""
        rest = await asyncio.wait_for(self.reader.read(), REPLY_TIMEOUT)
        assert rest == b"", f"unexpected bytes after the last answer: {rest[:200]!r}"
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def http_get(server: tuple[str, int], target: str, headers: dict[str, str] | None = None,
                   *, method: str = "GET") -> HttpResponse:
    client = await HttpClient.open(server)
    try:
        return await client.get(target, headers, method=method)
    finally:
        await client.close()


def announce_target(info_hash: bytes, **fields: Any) -> str:
    """The HTTP request target for `announce_request(info_hash, **fields)`."""
    return "/announce?" + http_wire.announce_query(announce_request(info_hash, **fields))


async def http_announce(server: tuple[str, int], info_hash: bytes, *,
                        headers: dict[str, str] | None = None, **kwargs: Any) -> dict[bytes, Any]:
    """Announce over a fresh connection; returns the decoded bencoded answer."""
    response = await http_get(server, announce_target(info_hash, **kwargs), headers)
    assert response.headers.get("content-type", "").startswith("text/plain"), response.headers
    return response.bencoded()


async def http_announce_ok(server: tuple[str, int], info_hash: bytes, **kwargs: Any) -> dict[bytes, Any]:
    answer = await http_announce(server, info_hash, **kwargs)
    assert b"failure reason" not in answer, answer
    return answer


async def stats(server: tuple[str, int]) -> dict[str, Any]:
    response = await http_get(server, "/stats.json")
    assert response.status == 200, response
    figures: dict[str, Any] = response.json()
    return figures


async def until(check: Callable[[], Awaitable[bool]], *, timeout: float, every: float = 0.05) -> None:
    """Poll `check` until it holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(every)
