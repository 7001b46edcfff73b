"""`AccessLogWriter`: the optional access log (`access_log` setting; off by default).

Added to the app only when the setting is on. The client's address is the one the trusted
proxies vouch for, and it is truncated before it is written (`swarmdex.privacy.accesslog`).
"""

from __future__ import annotations

import contextlib
import ipaddress

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swarmdex.privacy.accesslog import AccessLog
from swarmdex.proxies import TrustedProxies, normalize
from swarmdex.web.context import SiteContext

__all__ = ["AccessLogWriter"]


class AccessLogWriter:
    """Pure ASGI middleware: one line per HTTP request, once its answer has started."""

    def __init__(self, app: ASGIApp, ctx: SiteContext) -> None:
        self.app = app
        self.log = AccessLog(ctx.settings.data_dir)
        self.proxies = TrustedProxies(ctx.settings.trusted_proxies)

    def _address(self, scope: Scope) -> bytes | str:
        client = scope.get("client")
        try:
            peer = normalize(ipaddress.ip_address(client[0]).packed) if client else b""
        except ValueError:
            return "-"
        forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for")
        return self.proxies.client_address(peer, forwarded or None) if peer else "-"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                with contextlib.suppress(OSError):  # a full disk must not take the site down
                    self.log.write(self._address(scope), scope["method"], scope["path"],
                                   message["status"])
            await send(message)

        await self.app(scope, receive, send_logged)
