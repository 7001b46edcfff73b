"""The UDP tracker (BEP 15): a thin asyncio adapter around `protocol.udp` and `Tracker`.

It reads the socket directly from a reader callback, draining a bounded burst of datagrams
per wake-up, and answers in the same call: no transport objects, no Task per packet. The
kernel's receive buffer is the bounded queue: when we fall behind it drops packets rather
than letting memory grow. Nothing is logged per packet; counters say what happened.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from swarmdex.protocol import udp
from swarmdex.protocol.announce import AnnounceResponse
from swarmdex.protocol.connection_id import ConnectionIds
from swarmdex.protocol.errors import ProtocolError
from swarmdex.protocol.passkey import passkey_in_path
from swarmdex.tracker.eager import Suspended
from swarmdex.tracker.logic import Tracker

log = logging.getLogger(__name__)
BURST = 64  # datagrams handled per wake-up before other work gets a turn
RCVBUF = 4 << 20
# Peers per answer, so an answer is one unfragmented datagram on a 1500-byte path:
# IPv4: 1500 - 20 (IP) - 8 (UDP) - 20 (header) = 1452 -> 242 peers of 6 bytes (capped by numwant_max).
# IPv6: 1500 - 40 - 8 - 20 = 1432 -> 79 peers of 18 bytes.
MAX_PEERS_V4 = 242
MAX_PEERS_V6 = 79
_ANNOUNCE_ACTION = udp.ANNOUNCE.to_bytes(4, "big")
# The URL data of `udp://HOST:PORT/announce`, sent with every announce by libtorrent clients.
_BARE_PATH = b"/announce"
BAD_CONNECTION_ID = "connection id expired or invalid, connect again"


@dataclass(slots=True)
class UdpCounters:
    packets: int = 0
    unreadable: int = 0  # dropped without an answer: no transaction id to answer to
    errors: int = 0  # answered with a BEP 15 error packet
    send_failed: int = 0  # the kernel refused the answer (buffer full): dropped
    overloaded: int = 0  # dropped because too many announces were waiting on the store
    internal: int = 0  # our own faults (bugs): logged, at most once a minute


class UdpTrackerServer:
    def __init__(
        self,
        tracker: Tracker,
        connection_ids: ConnectionIds,
        *,
        max_pending: int = 1024,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.tracker = tracker
        self.cids = connection_ids
        self.clock = clock or tracker.clock
        self.counters = UdpCounters()
        self.max_pending = max_pending
        self.tasks = Suspended()
        self._sockets: list[socket.socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_fault_log = -60.0

    def listen(self, host: str, port: int) -> tuple[str, int]:
        """Bind one UDP socket (IPv4 or IPv6 by `host`) and start serving it."""
        loop = self._loop = asyncio.get_running_loop()
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)[0]
        family = info[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET6:
                # Keep the families apart: an IPv4 peer must not turn up as ::ffff:a.b.c.d.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.setblocking(False)
            sock.bind(info[4])
        except OSError:
            sock.close()
            raise
        self._sockets.append(sock)
        loop.add_reader(sock.fileno(), self._readable, sock, family == socket.AF_INET6)
        bound = sock.getsockname()
        return bound[0], bound[1]

    async def close(self) -> None:
        for sock in self._sockets:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()
        await self.tasks.cancel()

    def _readable(self, sock: socket.socket, v6: bool) -> None:
        recvfrom = sock.recvfrom
        for _ in range(BURST):
            try:
                data, addr = recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            self.counters.packets += 1
            try:
                self._handle(sock, data, addr, v6)
            except Exception as exc:  # one bad packet must never stop the listener
                self._fault(exc)

    def _handle(self, sock: socket.socket, data: bytes, addr: Any, v6: bool) -> None:
        try:
            # Announces are nearly all the traffic: skip the general dispatcher for them.
            if data[8:12] == _ANNOUNCE_ACTION:
                request: udp.UdpRequest = udp.parse_announce(data)
            else:
                request = udp.parse_request(data)
        except ProtocolError as exc:
            if exc.replyable:
                self._reject(sock, addr, data, exc.message)
            else:
                self.counters.unreadable += 1
            return
        if v6:
            ip = socket.inet_pton(socket.AF_INET6, addr[0].partition("%")[0])
        else:
            ip = socket.inet_aton(addr[0])
        # Connection ids are bound to the address alone, not the port: BEP 15 ties them to
        # the IP, and libtorrent shares one id among all its sockets (and NATs move ports).
        now = self.clock()

        if isinstance(request, udp.UdpAnnounce):
            if not self.cids.check(request.connection_id, ip, now):
                self._reject(sock, addr, data, BAD_CONNECTION_ID)
                return
            url_data = request.url_data
            # Private mode's passkey travels in the URL data (BEP 41). Public trackers' clients
            # send none or the bare path: one comparison each, no parsing.
            if url_data and url_data != _BARE_PATH:
                request.request.passkey = passkey_in_path(url_data)
            coro = self.tracker.announce(
                request.request,
                ip,
                max_peers=MAX_PEERS_V6 if v6 else MAX_PEERS_V4,
                other_family=False,
            )
            try:
                pending = coro.send(None)
            except StopIteration as done:
                self._send(sock, addr, _announce_reply(request.transaction_id, done.value, v6))
            except ProtocolError as exc:
                self._error(sock, addr, data, exc.message)
            else:
                self._later(coro, pending, sock, addr, data, request.transaction_id, v6)
        elif isinstance(request, udp.ConnectRequest):
            self._send(sock, addr, udp.encode_connect(request.transaction_id, self.cids.issue(ip, now)))
        else:
            if not self.cids.check(request.connection_id, ip, now):
                self._reject(sock, addr, data, BAD_CONNECTION_ID)
                return
            # BEP 41 gives URL data to announces only: a UDP scrape has no path, so no passkey,
            # and in private mode the tracker refuses it like any scrape without one. The
            # client still gets a BEP 15 error (action 3) with the tracker's words rather than
            # silence, so it stops waiting at once; its announces still report seeders and leechers.
            scrape = self.tracker.scrape(request.info_hashes, None)
            try:
                pending = scrape.send(None)
            except StopIteration as done:
                self._send(sock, addr, udp.encode_scrape(request.transaction_id, done.value))
            except ProtocolError as exc:  # refused (the site is closed, private mode)
                self._error(sock, addr, data, exc.message)
            else:
                self._later(scrape, pending, sock, addr, data, request.transaction_id, None)

    def _later(
        self, coro: Any, pending: Any, sock: socket.socket, addr: Any, data: bytes, txid: int,
        v6: bool | None,
    ) -> None:
        """The store suspended: finish when it answers, unless too many are already waiting."""
        if len(self.tasks) >= self.max_pending:
            coro.close()
            self.counters.overloaded += 1
            return

        def finished(t: asyncio.Future[Any]) -> None:
            if t.cancelled():
                return
            exc = t.exception()
            if isinstance(exc, ProtocolError):
                self._error(sock, addr, data, exc.message)
            elif exc is None:
                result = t.result()
                if v6 is None:
                    self._send(sock, addr, udp.encode_scrape(txid, result))
                else:
                    self._send(sock, addr, _announce_reply(txid, result, v6))
            else:
                self._fault(exc)
                self._error(sock, addr, data, "internal error")

        self.tasks.finish(coro, pending, finished)

    def _fault(self, exc: BaseException) -> None:
        self.counters.internal += 1
        now = time.monotonic()
        if now - self._last_fault_log >= 60.0:
            self._last_fault_log = now
            log.error("UDP tracker: internal error (%d so far)", self.counters.internal, exc_info=exc)

    def _send(self, sock: socket.socket, addr: Any, payload: bytes) -> None:
        try:
            sock.sendto(payload, addr)
        except OSError:
            self.counters.send_failed += 1

    def _error(self, sock: socket.socket, addr: Any, data: bytes, message: str) -> None:
        """Answer an error to a client that proved its address (a valid connection id)."""
        txid = udp.transaction_id(data)
        if txid is None:
            self.counters.unreadable += 1
            return
        self.counters.errors += 1
        self._send(sock, addr, udp.encode_error(txid, message))

    def _reject(self, sock: socket.socket, addr: Any, data: bytes, message: str) -> None:
        """Answer an error to a sender that may be forged: never more bytes than it sent."""
        reply = udp.reject(data, message)
        if reply is None:
            self.counters.unreadable += 1
            return
        self.counters.errors += 1
        self._send(sock, addr, reply)


def _announce_reply(txid: int, resp: AnnounceResponse, v6: bool) -> bytes:
    return udp.encode_announce(
        txid, resp.interval, resp.incomplete, resp.complete, resp.peers6 if v6 else resp.peers4
    )
