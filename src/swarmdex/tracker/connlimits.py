"""How many connections the shared HTTP port holds, from whom, and for how long.

Every connection counts from accept to close, whether the tracker serves it or the site
does after a hand-over, so no kind of client can hold more than its share: at most
`per_address` from one address (an IPv6 client counts by its /64, since it can pick any
address in it) and `max_connections` in all, a cap derived from the file descriptors the
process may open (`swarmdex.fdlimit`) so that the database and the UDP tracker always can.
Addresses of trusted reverse proxies carry everybody's traffic and are not capped.

Deadlines bound how long one request may take to arrive, however its bytes trickle in: the
whole head within `head_timeout` of its first byte, and a body at no less than
`body_min_rate` bytes a second once `body_grace` has passed. A connection past either is
closed by the server's periodic sweep, as is one idle for `idle_timeout`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from swarmdex.peerstore.pacing import LimitLog, address_bucket
from swarmdex.proxies import TrustedProxies

log = logging.getLogger("swarmdex.tracker.http_server")


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_connections: int = 10_000
    per_address: int = 256
    head_timeout: float = 20.0
    body_grace: float = 20.0
    body_min_rate: int = 500  # bytes a second
    idle_timeout: float = 30.0

    @property
    def sweep_every(self) -> float:
        """Seconds between sweeps: often enough that no deadline is overrun by much."""
        return min(self.idle_timeout, self.head_timeout, self.body_grace) / 4

    def head_overdue(self, since: float | None, now: float) -> bool:
        return since is not None and now - since > self.head_timeout

    def body_overdue(self, since: float | None, received: int, now: float) -> bool:
        """True when a body begun at `since` has had fewer than `received` bytes than its
        minimum rate asks for by `now`."""
        if since is None:
            return False
        late = now - since - self.body_grace
        return late > 0 and received < late * self.body_min_rate


class HandedProtocol(asyncio.Protocol):
    """What the site's HTTP protocol offers the server that hands it a connection: it says
    when the request it is reading is past a deadline, and tells when the connection ends
    (the connection keeps its place in the caps until then)."""

    def adopt(self, limits: HttpLimits, release: Callable[[], None]) -> None:
        raise NotImplementedError

    def overdue(self, now: float) -> str | None:
        """`head` or `body` when the request being read is past that deadline, else None."""
        raise NotImplementedError


class ConnectionCounts:
    """Open connections, in all and by address bucket; says which cap refuses a new one."""

    __slots__ = ("_by_bucket", "limits", "proxies", "said", "total")

    def __init__(self, limits: HttpLimits, proxies: TrustedProxies) -> None:
        self.limits = limits
        self.proxies = proxies
        self.total = 0
        self._by_bucket: dict[bytes, int] = {}
        self.said = LimitLog(log, "HTTP connections refused or cut")

    def admit(self, ip: bytes) -> bool:
        """Count a new connection from `ip`, or refuse it (and say so in the log)."""
        if self.total >= self.limits.max_connections:
            self.said.bump("over the connection cap")
            return False
        bucket = address_bucket(ip)
        held = self._by_bucket.get(bucket, 0)
        if held >= self.limits.per_address and not (self.proxies and self.proxies.trusts(ip)):
            self.said.bump("over the cap per address")
            return False
        self._by_bucket[bucket] = held + 1
        self.total += 1
        return True

    def release(self, ip: bytes) -> None:
        bucket = address_bucket(ip)
        held = self._by_bucket.get(bucket, 0) - 1
        if held > 0:
            self._by_bucket[bucket] = held
        else:
            self._by_bucket.pop(bucket, None)
        self.total -= 1

    def cut(self, deadline: str) -> None:
        """Say that a connection was closed for missing a deadline."""
        self.said.bump(f"{deadline} deadline passed")
