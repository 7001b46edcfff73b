"""Rate limits for forms that are costly or tempting to abuse (logging in, registering).

Each limiter counts attempts per key with GCRA, the "generic cell rate algorithm" (a token
bucket stored as one number): a key may spend `count` attempts at once, then one every
`per / count` seconds. Refused attempts are not counted, so waiting always helps.

Keys are client addresses (or account names). They live in this process's memory only,
never on disk, in a bounded table: past `max_keys`, the key seen longest ago is forgotten.
An IPv6 client is keyed by its /64, since one machine usually has a whole /64 to pick from.
Behind a reverse proxy the address comes from X-Forwarded-For, believed only from the
configured trusted proxies.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from fastapi import Request
from fastapi.responses import HTMLResponse

from swarmdex.proxies import TrustedProxies, normalize
from swarmdex.web.templates import render

__all__ = [
    "Rate",
    "RateLimiter",
    "attempt",
    "client_key",
    "limiter",
    "too_many_attempts",
    "trusted_proxies",
]

DEFAULT_MAX_KEYS: Final = 50_000
IPV6_PREFIX_BYTES: Final = 8  # a /64


@dataclass(frozen=True)
class Rate:
    """`count` attempts per `per` seconds."""

    count: int
    per: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.per <= 0:
            raise ValueError("a rate allows at least one attempt in a positive time")


class RateLimiter:
    def __init__(
        self,
        rate: Rate,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = rate.per / rate.count  # time one attempt "costs"
        self.burst = rate.per - self.interval  # how far ahead of now the cost may run
        self.max_keys = max_keys
        self.clock = clock
        # key -> theoretical arrival time: when the key's bucket is full again.
        self._due: OrderedDict[bytes | str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._due)

    def wait(self, key: bytes | str) -> float:
        """The seconds until `key` may make one more attempt (0.0: now), counting nothing."""
        now = self.clock()
        return max(0.0, self._due.get(key, now) - now - self.burst)

    def is_clear(self, key: bytes | str) -> bool:
        """Whether `key` has nothing on record: no attempt, or all of them aged out."""
        return self._due.get(key, 0.0) <= self.clock()

    def hit(self, key: bytes | str) -> float:
        """Count one attempt for `key`: 0.0 if it may go ahead, else the seconds to wait
        (and the attempt is not counted)."""
        now = self.clock()
        due = max(self._due.get(key, now), now)
        wait = due - now - self.burst
        if wait > 0:
            return wait
        self._due[key] = due + self.interval
        self._due.move_to_end(key)
        while len(self._due) > self.max_keys:
            self._due.popitem(last=False)
        return 0.0


def client_key(request: Request, proxies: TrustedProxies) -> bytes | str:
    """What to count a request's attempts against: its client's address (IPv6: the /64)."""
    host = request.client.host if request.client else ""
    try:
        peer = normalize(ipaddress.ip_address(host).packed)
    except ValueError:
        return host  # not an IP address (a Unix socket, a test client): one client
    forwarded = b",".join(v for k, v in request.scope["headers"] if k == b"x-forwarded-for")
    address = proxies.client_address(peer, forwarded or None)
    return address[:IPV6_PREFIX_BYTES] if len(address) == 16 else address


def limiter(request: Request, name: str, rate: Rate) -> RateLimiter:
    """The app's limiter called `name`, made on first use. Each app has its own, so two
    sites in one process (tests) do not share counts."""
    state = request.app.state
    limiters: dict[str, RateLimiter] | None = getattr(state, "rate_limiters", None)
    if limiters is None:
        limiters = state.rate_limiters = {}
    if name not in limiters:
        limiters[name] = RateLimiter(rate)
    return limiters[name]


def trusted_proxies(request: Request) -> TrustedProxies:
    """The app's trusted proxies (from its settings), parsed once."""
    state = request.app.state
    proxies: TrustedProxies | None = getattr(state, "trusted_proxies", None)
    if proxies is None:
        proxies = state.trusted_proxies = TrustedProxies(state.ctx.settings.trusted_proxies)
    return proxies


def attempt(request: Request, name: str, rate: Rate, key: bytes | str | None = None) -> float:
    """Count one attempt at `name` by the request's client (or by `key`, e.g. an account
    name): 0.0 to go ahead, else the seconds to wait."""
    if key is None:
        key = client_key(request, trusted_proxies(request))
    return limiter(request, name, rate).hit(key)


def too_many_attempts(request: Request, wait: float) -> HTMLResponse:
    """The 429 page: what happened and how long to wait."""
    seconds = max(1, math.ceil(wait))
    response = render(request, "accounts/too_many.html", status_code=429, seconds=seconds)
    response.headers["Retry-After"] = str(seconds)
    return response
