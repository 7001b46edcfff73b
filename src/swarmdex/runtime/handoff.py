"""Serve an ASGI application on connections the tracker's HTTP server hands over.

The site and the HTTP tracker share one port (see `swarmdex.tracker.http_server`). Browser
connections go to uvicorn's HTTP protocol (h11), which runs the site's ASGI app; we use uvicorn as
a protocol library rather than as a server, because the listening socket is ours.
The app also answers `/announce` and `/scrape` (`with_tracker`), for clients and reverse
proxies that mix page and tracker requests on one connection.

A handed-over connection keeps the deadlines of the port (`swarmdex.tracker.connlimits`):
uvicorn times only the idle gap between requests, and restarts even that at every byte, so
the protocol here notes when a request's head and body began, for the tracker server's sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from swarmdex.proxies import normalize
from swarmdex.tracker.connlimits import HandedProtocol, HttpLimits
from swarmdex.tracker.http_server import HttpTrackerServer, endpoint

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SiteProtocols:
    """Makes a uvicorn HTTP protocol per handed-over connection; stops them all on close."""

    def __init__(self, app: ASGIApp) -> None:
        self.config = uvicorn.Config(
            app,
            lifespan="off",  # the process's own start-up and shutdown live in swarmdex.node
            access_log=False,  # no request log: the site keeps no record of its visitors
            proxy_headers=False,  # X-Forwarded-For is judged by our own trusted-proxy list
            server_header=False,
            log_config=None,
            timeout_keep_alive=15,
            # h11 rather than httptools here: it bounds a request's head (16 KiB), so a browser
            # connection cannot grow our memory with an endless header. Pages are not the
            # tracker's hot path; that one stays on httptools in swarmdex.tracker.http_server.
            http="h11",
        )
        self.config.load()
        self.state = ServerState()

    def __call__(self) -> SiteProtocol:
        return SiteProtocol(config=self.config, server_state=self.state, app_state={})

    async def close(self, timeout: float = 5.0) -> None:
        for connection in list(self.state.connections):
            connection.shutdown()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.state.tasks:
                    await asyncio.sleep(0.05)
        for task in list(self.state.tasks):
            task.cancel()


class SiteProtocol(H11Protocol, HandedProtocol):
    """uvicorn's HTTP/1.1 protocol, noting when the request it reads began and how much of
    its body came, for the deadlines of the connection it was handed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = HttpLimits()
        self._release: Callable[[], None] | None = None
        self._head_since: float | None = None
        self._body_since: float | None = None
        self._body_bytes = 0

    def adopt(self, limits: HttpLimits, release: Callable[[], None]) -> None:
        self._limits = limits
        self._release = release

    def overdue(self, now: float) -> str | None:
        if self._limits.head_overdue(self._head_since, now):
            return "head"
        if self._limits.body_overdue(self._body_since, self._body_bytes, now):
            return "body"
        return None

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self._head_since is None and self._body_since is None and self.conn.their_state is h11.IDLE:
            self._head_since = now  # the first bytes of a request
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if self._body_since is None:  # the head is in: the body's clock starts
                self._head_since, self._body_since, self._body_bytes = None, now, 0
            else:
                self._body_bytes += len(data)
        elif state is not h11.IDLE:  # the whole request is in (or the connection is ending)
            self._head_since = self._body_since = None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        release, self._release = self._release, None
        if release is not None:
            release()


def with_tracker(app: ASGIApp, server: HttpTrackerServer) -> ASGIApp:
    """`app`, except that `/announce` and `/scrape` are answered by the tracker."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        path = _path_bytes(scope) if scope["type"] == "http" else b""
        kind = endpoint(path)
        if not kind:
            await app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, b"use GET\n", [(b"allow", b"GET, HEAD")])
            return
        forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for") or None
        client = scope.get("client")
        peer = normalize(_pack(client[0])) if client else b"\0\0\0\0"
        body = await server.respond(kind, path, scope["query_string"], peer, forwarded)
        await _plain(send, 200, body, [], head=scope["method"] == "HEAD")

    return asgi


def head_as_get(app: ASGIApp) -> ASGIApp:
    """Answer HEAD like GET without the body, for every route (FastAPI routes take GET only)."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await app(scope, receive, send)
            return

        async def send_head(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await app({**scope, "method": "GET"}, receive, send_head)

    return asgi


def _path_bytes(scope: Scope) -> bytes:
    """The request path as sent, the way the tracker's own server sees it.

    Per the ASGI spec `raw_path` holds the path's bytes as they came on the wire (still
    percent-encoded) and `path` the decoded text, which may hold any character (`/tag/日本語`):
    it has no byte form but UTF-8, the one used where a server leaves `raw_path` out.
    """
    raw = scope.get("raw_path")
    return bytes(raw) if raw is not None else str(scope["path"]).encode()


def _pack(host: str) -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.inet_pton(family, host.partition("%")[0])


async def _plain(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], *, head: bool = False
) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode()),
                    *headers],
    })
    await send({"type": "http.response.body", "body": b"" if head else body})
