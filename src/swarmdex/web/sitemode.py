"""The site modes at the door: `SiteModeGate` answers 503 with the operator's notice for
what the current mode closes (`swarmdex.sitemode.rules`).

It reads the in-memory copy of the admin settings (`sitecfg.services.cached`), which
`admin.SiteConfigRefresh`, running just before it, keeps fresh: no query per request.
"""

from __future__ import annotations

import json
from typing import Final

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from swarmdex.sitecfg import services as sitecfg
from swarmdex.sitemode.rules import closed_feature
from swarmdex.web.auth import load_viewer
from swarmdex.web.context import SiteContext
from swarmdex.web.templates import render

__all__ = ["RETRY_AFTER", "SiteModeGate", "closed_message"]

RETRY_AFTER: Final = "3600"


def closed_message(feature: str) -> str:
    if feature == "This site":
        return "This site is closed for now."
    verb = "is" if feature == "Registration" else "are"
    return f"{feature} {verb} closed for now: the site is read-only."


class SiteModeGate:
    """Pure ASGI middleware: a request for something the mode closes gets a 503 page (or a
    JSON error under /api/) saying so, with the notice; everything else passes."""

    def __init__(self, app: ASGIApp, ctx: SiteContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        config = sitecfg.cached(self.ctx)
        feature = closed_feature(config.mode, scope["method"], scope["path"])
        if feature is None:
            await self.app(scope, receive, send)
            return
        message = closed_message(feature)
        headers = {"retry-after": RETRY_AFTER}
        if scope["path"].startswith("/api/") or scope["path"].endswith(".json"):
            body = json.dumps({"detail": message, "notice": config.notice}).encode()
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"retry-after", RETRY_AFTER.encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        request = Request(scope, receive)
        # The header shows who is logged in, as on every page (a query only on refusals).
        await load_viewer(request, self.ctx)
        response = render(request, "sitemode/closed.html", status_code=503,
                          message=message, closed_site=config.mode == "closed")
        response.headers.update(headers)
        await response(scope, receive, send)
