"""`Allow` that names every method a path has, on OPTIONS and on 405 answers.

Starlette matches routes one by one, and a path served by several routes (GET and POST on
/api/v1/torrents are two) is refused with the methods of the first route alone; OPTIONS
is refused the same way. Clients and API tools read `Allow` to learn what a path does, so
it has to list them all: this middleware answers OPTIONS itself (204) and, on a 405, puts
the whole list in `Allow`. Routes are looked at only then, not on every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from starlette.routing import BaseRoute, Match, Mount

__all__ = ["AllowedMethods", "methods_for"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]


# The methods asked about. (Routes are asked rather than read: FastAPI keeps included
# routers as routes of their own, and only matching says what a path answers.)
_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def methods_for(routes: list[BaseRoute], scope: Scope) -> set[str]:
    """Every method some route in `routes` serves at `scope`'s path, and OPTIONS; empty if
    none does. Mounts (static files) answer for themselves and are left out."""
    methods = {
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL
               for route in routes if not isinstance(route, Mount))
    }
    return methods | {"OPTIONS"} if methods else methods


class AllowedMethods:
    """Pure ASGI middleware; `routes` are the app's (read when needed, so routes added later
    count too)."""

    def __init__(self, app: ASGIApp, *, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            methods = methods_for(self.routes, scope)
            if methods:
                await send({"type": "http.response.start", "status": 204,
                            "headers": [(b"allow", _header(methods))]})
                await send({"type": "http.response.body", "body": b""})
                return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = methods_for(self.routes, scope)
                if methods:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message["headers"] = [*headers, (b"allow", _header(methods))]
            await send(message)

        await self.app(scope, receive, send_with_allow)


def _header(methods: set[str]) -> bytes:
    return ", ".join(sorted(methods)).encode()
