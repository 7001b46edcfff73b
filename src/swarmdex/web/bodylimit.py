"""One request body limit for the whole site, with a larger allowance for .torrent uploads.

Starlette reads a form whole before any route sees it, spooling file parts to the temp dir
however large they are, and every form route reads one (the CSRF check does). So the limit
is kept at the door, by counting what the application receives: a body declared larger
than the limit is refused with 413 before a byte of it is read, and one sent without a
length (chunked) is cut off as soon as it grows past the limit. Either way nothing past the
limit is read, let alone written to disk, and the connection is closed after the answer
rather than left to carry the rest of the body.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Final

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swarmdex.sitecfg import services as sitecfg
from swarmdex.torrents.forms import FORM_ALLOWANCE
from swarmdex.web.context import SiteContext
from swarmdex.web.templates import filesize, render

__all__ = ["UPLOAD_ROUTES", "BodyLimit", "BodyTooLarge"]

log = logging.getLogger(__name__)

# The routes that take a .torrent file: their allowance follows the upload limit in force
# (the admin page may change it), the form's other fields on top. Those routes check the
# same sum themselves, message by message, and say what the upload limit is; twice it here
# leaves them room to do so, this being only the ceiling should one of them stop checking.
UPLOAD_ROUTES: Final = frozenset({("POST", "/upload"), ("POST", "/api/v1/torrents")})
LOG_EVERY: Final = 60.0  # seconds between log lines about refused bodies
_CLOSE: Final = (b"connection", b"close")


class BodyTooLarge(HTTPException):
    """A request body over the limit, raised where the application reads it; the site's
    error handler answers it like any other error (a page, or JSON under /api/)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"What was sent is too large: this address accepts at most "
                              f"{filesize(limit)} ({limit:,} bytes).")


class BodyLimit:
    """Pure ASGI middleware counting each request's body against its route's limit."""

    def __init__(self, app: ASGIApp, ctx: SiteContext) -> None:
        self.app = app
        self.ctx = ctx
        self.refused = 0
        self._last_log = -LOG_EVERY

    async def limit(self, scope: Scope) -> int:
        if (scope["method"], scope["path"]) in UPLOAD_ROUTES:
            return 2 * (await sitecfg.upload_limit(self.ctx) + FORM_ALLOWANCE)
        return self.ctx.settings.http_body_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = await self.limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            self._bitten(limit)
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0
        over = False

        async def counted_receive() -> Message:
            nonlocal seen, over
            if over:  # asked again after the refusal: read nothing more
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    self._bitten(limit)
                    raise BodyTooLarge(limit)
            return message

        async def send_closing(message: Message) -> None:
            # The rest of a refused body is still on its way: close instead of reading it.
            if over and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
            await send(message)

        await self.app(scope, counted_receive, send_closing)

    def _bitten(self, limit: int) -> None:
        """Count a refusal; say so in the log at most once a minute (no request details)."""
        self.refused += 1
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY:
            self._last_log = now
            log.warning("request bodies over the limit refused with 413: %d so far "
                        "(this one's limit %d bytes)", self.refused, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        error = BodyTooLarge(limit)
        path: str = scope["path"]
        if path.startswith("/api/") or path.endswith(".json"):
            body = json.dumps({"detail": error.detail}).encode()
            await send({"type": "http.response.start", "status": 413, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                _CLOSE]})
            await send({"type": "http.response.body", "body": body})
            return
        page = render(Request(scope, receive), "error.html", status_code=413, status=413,
                      message=error.detail)
        page.headers["connection"] = "close"
        await page(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
