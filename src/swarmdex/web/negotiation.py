"""Public pages answer as JSON too: a client that asks for `application/json` gets the page's
JSON API twin at the page's own address.

`curl -H 'Accept: application/json' https://site/c/linux?sort=seeders` is the same request as
`/api/v1/torrents?category=linux&sort=seeders`: the page's query parameters have the API's
names, so the request is rerouted inside the app (no redirect) and served by the API's
handler, with the API's schema and errors. Browsers ask for text/html first and never get
JSON; every page that has a twin says `Vary: Accept` so caches keep the two apart.
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import quote, unquote, urlencode

from swarmdex.web.security import ASGIApp, Message, Scope

API: Final = "/api/v1"

# page path -> (API path, query parameter the path's captured part becomes, if any)
_TWINS: Final = [
    (re.compile(r"/"), f"{API}/torrents", None),
    (re.compile(r"/browse"), f"{API}/torrents", None),
    (re.compile(r"/c/([^/]+)"), f"{API}/torrents", "category"),
    (re.compile(r"/tag/([^/]+)"), f"{API}/torrents", "tag"),
    (re.compile(r"/search"), f"{API}/search", None),
    (re.compile(r"/t/([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})"), f"{API}/torrents/{{}}", None),
    (re.compile(r"/u/([^/]+)"), f"{API}/users/{{}}", None),
]


def twin(path: str) -> tuple[str, dict[str, str]] | None:
    """The API path serving the page at `path`, and query parameters to add; None if the
    page has no JSON twin."""
    for pattern, target, parameter in _TWINS:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if parameter is not None:
            return target, {parameter: unquote(match.group(1))}
        if match.groups():
            return target.format(quote(match.group(1))), {}
        return target, {}
    return None


def prefers_json(accept: str) -> bool:
    """True when the Accept header ranks application/json above text/html (a browser's
    `text/html,...,*/*` never does)."""
    best: dict[str, float] = {}
    for item in accept.split(","):
        kind, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best[kind.strip().lower()] = quality
    return best.get("application/json", 0.0) > max(best.get("text/html", 0.0), 0.0)


class JsonTwins:
    """Pure ASGI middleware: reroutes JSON-preferring GETs of public pages to the API."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        found = twin(scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        accept = b",".join(v for k, v in scope["headers"] if k == b"accept").decode("latin-1")
        if prefers_json(accept):
            path, extra = found
            query = scope.get("query_string", b"")
            if extra:
                query = b"&".join(q for q in (query, urlencode(extra).encode()) if q)
            scope = dict(scope, path=path, raw_path=path.encode(), query_string=query)

        async def send_with_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"vary", b"Accept")]
            await send(message)

        await self.app(scope, receive, send_with_vary)
