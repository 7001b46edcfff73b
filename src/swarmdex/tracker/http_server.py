"""The HTTP tracker (BEP 3, 7, 23, 48) on asyncio + httptools.

A lean HTTP/1.1 server for `/announce` and `/scrape` with keep-alive and pipelining. Limits
keep one client from holding memory: request-target length, header size, queued pipelined
requests; and from holding connections: a cap per address and in all, deadlines for a
request's head and body, an idle timeout (`swarmdex.tracker.connlimits`). Nothing is logged
per request.

The site shares the port. Every connection starts here; the first request for anything but
`/announce` or `/scrape` hands the connection over, with the bytes of that request and all
after it, to the site's own HTTP protocol (`site`), which serves pages and answers tracker
paths too (through `respond`). So BitTorrent clients stay on this fast path, browsers end up
on the site, and connections that mix both (a reverse proxy's pooled upstream connections)
work either way. A handed-over connection stays counted here until it closes, and the
site's protocol reports its deadlines to the same sweep. Without a site, other paths go to
`pages`, a small synchronous handler.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

import httptools

from swarmdex.protocol import http as wire
from swarmdex.protocol.errors import ProtocolError
from swarmdex.protocol.passkey import passkey_in_path
from swarmdex.proxies import TrustedProxies, normalize
from swarmdex.tracker.connlimits import ConnectionCounts, HandedProtocol, HttpLimits
from swarmdex.tracker.eager import Suspended
from swarmdex.tracker.logic import Tracker

log = logging.getLogger(__name__)
MAX_TARGET = wire.MAX_TARGET  # bytes of request target (path + query): a full scrape fits
MAX_HEADER = 8192  # bytes of X-Forwarded-For we keep, all repeats together
MAX_HEAD = 65536  # bytes of request line + headers before we give up on a request
MAX_QUEUED = 16  # pipelined requests waiting before we stop reading

_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed",
            414: b"URI Too Long", 431: b"Request Header Fields Too Large", 500: b"Internal Server Error", 503: b"Service Unavailable"}
_PLAIN = b"text/plain; charset=utf-8"
_BENCODE = b"text/plain"  # what clients and other trackers send; nothing parses it by type
_REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: 21\r\nRetry-After: 10\r\nConnection: close\r\n\r\n"
            b"too many connections\n")

# A page handler: (method, path, query) -> (status, content type, body, extra header lines).
Pages = Callable[[bytes, bytes, bytes], tuple[int, bytes, bytes, bytes]]


@dataclass(slots=True)
class HttpCounters:
    requests: int = 0
    connections: int = 0
    rejected_connections: int = 0
    bad_requests: int = 0
    internal: int = 0
    handed_to_site: int = 0
    slow_heads: int = 0  # connections closed for a request head past its deadline
    slow_bodies: int = 0  # and for a request body slower than the minimum rate


ANNOUNCE, SCRAPE = 1, 2


def endpoint(path: bytes) -> int:
    """ANNOUNCE, SCRAPE or 0 for a request path. `/announce/...` and `/scrape/...` are the
    paths with a passkey (`swarmdex.protocol.passkey`); any of them is the tracker's, which
    answers one without a valid passkey with a `failure reason` in private mode."""
    if path == b"/announce" or path.startswith(b"/announce/"):
        return ANNOUNCE
    if path == b"/scrape" or path.startswith(b"/scrape/"):
        return SCRAPE
    return 0


def not_found(method: bytes, path: bytes, query: bytes) -> tuple[int, bytes, bytes, bytes]:
    return 404, _PLAIN, b"not found\n", b""


class HttpTrackerServer:
    def __init__(
        self,
        tracker: Tracker,
        *,
        proxies: TrustedProxies | None = None,
        pages: Pages = not_found,
        site: Callable[[], HandedProtocol] | None = None,
        limits: HttpLimits | None = None,
    ) -> None:
        self.tracker = tracker
        self.proxies = proxies or TrustedProxies()
        self.limits = limits or HttpLimits()
        self.counts = ConnectionCounts(self.limits, self.proxies)
        self.pages = pages
        self.site = site
        self.counters = HttpCounters()
        self.tasks = Suspended()
        self._last_fault_log = -60.0
        self.connections: set[_Connection] = set()
        self._servers: list[asyncio.base_events.Server] = []
        self._sweeper: asyncio.TimerHandle | None = None

    async def listen(self, host: str, port: int, *, shared: bool = False) -> tuple[str, int]:
        """Listen on (host, port); return what was bound. `shared`: other processes may
        listen on the same port too (SO_REUSEPORT: the kernel spreads connections)."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if shared:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        server = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=1024)
        self._servers.append(server)
        if self._sweeper is None:
            self._sweeper = loop.call_later(self.limits.sweep_every, self._sweep)
        bound = sock.getsockname()
        return bound[0], bound[1]

    async def respond(
        self, kind: int, path: bytes, query: bytes, peer_ip: bytes, forwarded: bytes | None
    ) -> bytes:
        """The bencoded answer to an announce or scrape request (`path` as sent, for its
        passkey; `query` after the `?`). The client's mistakes become a `failure reason`; so
        do our own faults, logged and worded generically."""
        try:
            if kind == ANNOUNCE:
                request = wire.parse_announce(query)
                # Public trackers' clients announce to the bare path: it costs one comparison.
                if path != b"/announce":
                    request.passkey = passkey_in_path(path)
                ip = peer_ip
                if self.proxies and self.proxies.trusts(ip):
                    ip = self.proxies.client_address(ip, forwarded)
                    if request.ip and forwarded is None:
                        ip = normalize(request.ip)
                resp = await self.tracker.announce(
                    request, ip, max_peers=self.tracker.policy.numwant_max, other_family=True)
                return wire.encode_announce(resp) if request.compact else wire.encode_announce_dict(resp)
            scrape = wire.parse_scrape(query)
            passkey = None if path == b"/scrape" else passkey_in_path(path)
            counts = await self.tracker.scrape(scrape.info_hashes, passkey)
            return wire.encode_scrape(scrape.info_hashes, counts)
        except ProtocolError as exc:
            return wire.encode_failure(exc.message)
        except Exception as exc:  # our fault, not the client's: say little, log it
            self.fault(exc)
            return wire.encode_failure("internal error")

    def fault(self, exc: BaseException) -> None:
        """Count an internal error and log it, at most once a minute."""
        self.counters.internal += 1
        now = time.monotonic()
        if now - self._last_fault_log >= 60.0:
            self._last_fault_log = now
            log.error("HTTP tracker: internal error (%d so far)", self.counters.internal, exc_info=exc)

    def _sweep(self) -> None:
        """Close connections idle past the timeout or past a request's deadline (cheaper
        than a timer per request)."""
        now = time.monotonic()
        for conn in list(self.connections):
            late = conn.overdue(now)
            if late is not None:
                if late == "head":
                    self.counters.slow_heads += 1
                elif late == "body":
                    self.counters.slow_bodies += 1
                if late != "idle":
                    self.counts.cut(late)
                conn.close()
        self._sweeper = asyncio.get_running_loop().call_later(self.limits.sweep_every, self._sweep)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            conn.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        await self.tasks.cancel()


class _HandOver(Exception):
    """Raised from a parser callback to stop parsing: this request belongs to the site."""


class _Connection(asyncio.Protocol):
    __slots__ = (
        "_body_bytes", "_body_since", "_busy", "_counted", "_forwarded", "_hand_over", "_handed",
        "_head_since", "_head_size", "_in_head", "_parser", "_queue", "_raw", "_reading",
        "_site_transport", "_target", "_too_long", "_transport", "_write_paused", "last_active",
        "peer_ip", "server",
    )

    def __init__(self, server: HttpTrackerServer) -> None:
        self.server = server
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._target = b""
        self._forwarded: bytes | None = None
        self._too_long = False
        self._in_head = True  # between the start of a request and the end of its headers
        self._head_size = 0
        self._queue: deque[tuple[bytes, bytes, bytes | None, bool]] = deque()
        self._busy = False  # an answer waits on the store
        self._write_paused = False  # the client is not reading what we send
        self._reading = True
        # The bytes of the request being parsed (and any after it), kept while a site exists
        # so the connection can be handed over from that request on.
        self._raw: bytes | None = b"" if server.site is not None else None
        self._hand_over = False
        self._handed: HandedProtocol | None = None  # the site's protocol, after a hand-over
        self._site_transport: asyncio.Transport | None = None
        self._counted = False  # holds a place in the server's connection counts
        self._head_since: float | None = None  # when the head being read began
        self._body_since: float | None = None  # when the body being read began
        self._body_bytes = 0
        self.peer_ip = b""
        self.last_active = time.monotonic()

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        server = self.server
        peer = transport.get_extra_info("peername")
        try:
            self.peer_ip = normalize(socket.inet_pton(
                socket.AF_INET6 if ":" in peer[0] else socket.AF_INET, peer[0].partition("%")[0]))
        except (OSError, TypeError, IndexError):
            transport.abort()
            return
        if not server.counts.admit(self.peer_ip):
            server.counters.rejected_connections += 1
            self._transport = None
            transport.write(_REFUSED)
            transport.close()
            return
        self._counted = True
        server.connections.add(self)
        server.counters.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        self._transport = None

    def _release(self) -> None:
        """Give back this connection's place in the counts (once: it ended, here or on the
        site's side)."""
        if self._counted:
            self._counted = False
            self.server.counts.release(self.peer_ip)
        self.server.connections.discard(self)
        self._site_transport = None

    def overdue(self, now: float) -> str | None:
        """Why this connection should be closed now (`idle`, `head`, `body`), or None."""
        if self._handed is not None:
            return self._handed.overdue(now)
        limits = self.server.limits
        if limits.head_overdue(self._head_since, now):
            return "head"
        if limits.body_overdue(self._body_since, self._body_bytes, now):
            return "body"
        return "idle" if now - self.last_active > limits.idle_timeout else None

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        if self._raw is not None:
            self._raw += data
        if self._in_head:
            # httptools buffers a header it has not seen the end of, without limit.
            self._head_size += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reply(400, _PLAIN, b"upgrade not supported\n", keep_alive=False)
            return
        except httptools.HttpParserError:
            if self._hand_over and self._raw is not None:
                self._hand_to_site(self._raw)
                return
            self.server.counters.bad_requests += 1
            self._reply(400, _PLAIN, b"malformed HTTP request\n", keep_alive=False)
            return
        if self._in_head and self._head_size > MAX_HEAD:
            self.server.counters.bad_requests += 1
            self._reply(431, _PLAIN, b"request headers too large\n", keep_alive=False)
            return
        # Checked after parsing, not before: one read may hold a site request's head and a
        # large body, and the parser must see the head to hand the connection over.
        if self._raw is not None and len(self._raw) > MAX_HEAD + MAX_TARGET:
            self._raw = None  # a large body: this connection stays with the tracker

    def _hand_to_site(self, data: bytes) -> None:
        """Give this connection, with the bytes read so far, to the site's HTTP protocol."""
        transport, site = self._transport, self.server.site
        if transport is None or site is None:
            return
        self.server.counters.handed_to_site += 1
        self._transport = None
        # Still counted (and swept) here: the site's protocol says when it is done with it.
        self._site_transport = transport
        self._handed = protocol = site()
        protocol.adopt(self.server.limits, self._release)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)

    def pause_writing(self) -> None:
        self._write_paused = True
        self._flow()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._pump()

    def _flow(self) -> None:
        """Read requests only while we can answer them: not while the client leaves our
        answers unread, an answer is pending, or enough pipelined requests are queued."""
        transport = self._transport
        if transport is None:
            return
        stop = self._write_paused or self._busy or len(self._queue) >= MAX_QUEUED
        if stop and self._reading:
            transport.pause_reading()
            self._reading = False
        elif not stop and not self._reading:
            transport.resume_reading()
            self._reading = True

    def close(self) -> None:
        transport = self._transport or self._site_transport
        if transport is not None:
            transport.close()

    # -- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._head_since = self.last_active  # when the read holding its first byte came
        self._target = b""
        self._forwarded = None
        self._too_long = False
        self._in_head = True
        self._head_size = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_since = None
        self._body_since = self.last_active
        self._body_bytes = 0
        # Hand over only between answers, so responses keep the order of the requests.
        if (self._raw is not None and not self._queue and not self._busy and not self._too_long
                and not endpoint(self._target.partition(b"?")[0])):
            self._hand_over = True
            raise _HandOver

    def on_body(self, body: bytes) -> None:
        # Tracker requests have no body; with one, message boundaries in `_raw` are unknown.
        self._raw = None
        self._body_bytes += len(body)

    def on_url(self, url: bytes) -> None:
        if len(self._target) + len(url) > MAX_TARGET:
            self._too_long = True
        else:
            self._target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # Only one header matters, and only when the peer is a trusted proxy.
        if len(name) == 15 and name.lower() == b"x-forwarded-for":
            joined = value if self._forwarded is None else self._forwarded + b"," + value
            # Too long to be honest: keep a value that TrustedProxies reads as malformed.
            self._forwarded = joined if len(joined) <= MAX_HEADER else b"?"

    def on_message_complete(self) -> None:
        self._body_since = None
        if self._raw is not None:
            end = self._raw.find(b"\r\n\r\n")
            self._raw = self._raw[end + 4 :] if end >= 0 else None
        keep_alive = self._parser.should_keep_alive()
        target = b"" if self._too_long else self._target
        self._queue.append((self._parser.get_method(), target, self._forwarded, keep_alive))
        self._pump()

    # -- handling --------------------------------------------------------------------------

    def _pump(self) -> None:
        while self._queue and not self._busy and not self._write_paused and self._transport:
            method, target, forwarded, keep_alive = self._queue.popleft()
            self._handle(method, target, forwarded, keep_alive)
        self._flow()

    def _handle(self, method: bytes, target: bytes, forwarded: bytes | None, keep_alive: bool) -> None:
        server = self.server
        server.counters.requests += 1
        if not target:
            self._reply(414, _PLAIN, b"request target too long\n", keep_alive=False)
            return
        path, _, query = target.partition(b"?")
        kind = endpoint(path)
        head = method == b"HEAD"
        if not kind:
            try:
                status, ctype, body, extra = server.pages(method, path, query)
            except Exception as exc:  # a broken page must not take the tracker down
                server.fault(exc)
                status, ctype, body, extra = 500, _PLAIN, b"internal error\n", b""
            self._reply(status, ctype, body, keep_alive=keep_alive, extra=extra, head=head)
            return
        if method not in (b"GET", b"HEAD"):
            self._reply(405, _PLAIN, b"use GET\n", keep_alive=keep_alive, extra=b"Allow: GET, HEAD\r\n")
            return
        coro = server.respond(kind, path, query, self.peer_ip, forwarded)
        try:
            pending = coro.send(None)
        except StopIteration as done:
            self._reply(200, _BENCODE, done.value, keep_alive=keep_alive, head=head)
        else:
            self._wait(coro, pending, keep_alive, head)

    def _wait(self, coro: Coroutine[Any, Any, bytes], pending: Any, keep_alive: bool, head: bool) -> None:
        """The store suspended: answer when it is done, holding later pipelined requests."""
        self._busy = True

        def done(task: asyncio.Future[bytes]) -> None:
            self._busy = False
            if not task.cancelled():
                self._reply(200, _BENCODE, task.result(), keep_alive=keep_alive, head=head)
                self._pump()

        self.server.tasks.finish(coro, pending, done)

    def _reply(
        self, status: int, ctype: bytes, body: bytes, *, keep_alive: bool, extra: bytes = b"",
        head: bool = False,
    ) -> None:
        transport = self._transport
        if transport is None:
            return
        head_lines = b"HTTP/1.1 %d %b\r\nContent-Type: %b\r\nContent-Length: %d\r\n%b%b\r\n" % (
            status, _REASONS.get(status, b"Unknown"), ctype, len(body), extra,
            b"" if keep_alive else b"Connection: close\r\n",
        )
        transport.write(head_lines if head else head_lines + body)
        if not keep_alive:
            self._queue.clear()
            transport.close()
