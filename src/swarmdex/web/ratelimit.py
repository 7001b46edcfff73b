"""Rate limits for forms that are costly or tempting to abuse (logging in, registering).

The counting itself is `swarmdex.ratelimits` (GCRA): in this process's memory, or shared by
every web process in Redis when the site runs on one (the site's `limits`). Keys are client
addresses (or account names), never written to disk. An IPv6 client is keyed by its /64,
since one machine usually has a whole /64 to pick from. Behind a reverse proxy the address
comes from X-Forwarded-For, believed only from the configured trusted proxies.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Final

from fastapi import Request
from fastapi.responses import HTMLResponse

from swarmdex.proxies import TrustedProxies, normalize
from swarmdex.ratelimits import Limits, Rate
from swarmdex.web.context import SiteContext
from swarmdex.web.templates import render

__all__ = [
    "Rate",
    "attempt",
    "client_key",
    "limits",
    "too_many_attempts",
    "trusted_proxies",
]

IPV6_PREFIX_BYTES: Final = 8  # a /64


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


def limits(request: Request) -> Limits:
    """The site's limits (each site its own, so two sites in one process do not share)."""
    ctx: SiteContext = request.app.state.ctx
    return ctx.limits


def trusted_proxies(request: Request) -> TrustedProxies:
    """The app's trusted proxies (from its settings), parsed once."""
    state = request.app.state
    proxies: TrustedProxies | None = getattr(state, "trusted_proxies", None)
    if proxies is None:
        proxies = state.trusted_proxies = TrustedProxies(state.ctx.settings.trusted_proxies)
    return proxies


async def attempt(request: Request, name: str, rate: Rate, key: bytes | str | None = None) -> float:
    """Count one attempt at `name` by the request's client (or by `key`, e.g. an account
    name): 0.0 to go ahead, else the seconds to wait."""
    if key is None:
        key = client_key(request, trusted_proxies(request))
    return await limits(request).hit(name, rate, key)


def too_many_attempts(request: Request, wait: float) -> HTMLResponse:
    """The 429 page: what happened and how long to wait."""
    seconds = max(1, math.ceil(wait))
    response = render(request, "accounts/too_many.html", status_code=429, seconds=seconds)
    response.headers["Retry-After"] = str(seconds)
    return response
