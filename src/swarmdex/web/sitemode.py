"""The site modes on the site: 503 with the operator's notice for what the current mode
closes (`swarmdex.sitemode.rules`).

- Closed: `SiteModeGate`, at the door, answers every request but the few `stays_open`
  paths staff need to reopen the site.
- Read-only: each route that writes says which feature it belongs to where it is declared,

      @router.post("/t/{info_hash}/comments", dependencies=[writes("Comments"), *CSRF])

  and `writes` refuses it while the site is read-only (`ReadOnly`, turned into the 503 page
  by `refuse_read_only`, installed in create_app). Deciding at the route, not by matching
  paths, means every spelling of an address the router accepts is covered. List `writes`
  first, so the refusal comes before a login or CSRF check asks for anything.

Both read the in-memory copy of the admin settings (`sitecfg.services.cached`), which
`admin.SiteConfigRefresh`, running just before the gate, keeps fresh: no query per request.
"""

from __future__ import annotations

from typing import Final

from fastapi import Request, params
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from swarmdex.sitecfg import services as sitecfg
from swarmdex.sitemode.rules import Feature, closed_message, stays_open
from swarmdex.web.auth import load_viewer
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.templates import render

__all__ = ["RETRY_AFTER", "ReadOnly", "SiteModeGate", "Writes", "refuse_read_only", "writes"]

RETRY_AFTER: Final = "3600"


class ReadOnly(Exception):
    """Raised by a route that writes `feature` while the site is read-only."""

    def __init__(self, feature: Feature) -> None:
        super().__init__(closed_message(feature))
        self.feature = feature


class Writes:
    """The dependency `writes` makes: one per feature, recognisable as such (a test holds
    that every route taking a form either writes a feature or stays open while read-only)."""

    def __init__(self, feature: Feature) -> None:
        self.feature = feature

    async def __call__(self, ctx: Ctx) -> None:
        if sitecfg.cached(ctx).mode == "read-only":
            raise ReadOnly(self.feature)


def writes(feature: Feature) -> params.Depends:
    """For a route's `dependencies`: the route writes `feature`, closed while read-only.
    Forms' pages (GET) take it too, so nobody types into a form that cannot be sent."""
    return params.Depends(Writes(feature))


def _wants_json(path: str) -> bool:
    return path.startswith("/api/") or path.endswith(".json")


def _json_refusal(message: str, notice: str) -> Response:
    return JSONResponse({"detail": message, "notice": notice}, status_code=503,
                        headers={"retry-after": RETRY_AFTER})


def _page_refusal(request: Request, message: str, *, closed_site: bool) -> Response:
    response = render(request, "sitemode/closed.html", status_code=503, message=message,
                      closed_site=closed_site)
    response.headers["retry-after"] = RETRY_AFTER
    return response


async def refuse_read_only(request: Request, exc: Exception) -> Response:
    """Exception handler for ReadOnly: the read-only page (503), or JSON under /api/."""
    message = str(exc)
    if _wants_json(request.url.path):
        ctx: SiteContext = request.app.state.ctx
        return _json_refusal(message, sitecfg.cached(ctx).notice)
    return _page_refusal(request, message, closed_site=False)


class SiteModeGate:
    """Pure ASGI middleware: while the site is closed, every request but `stays_open` ones
    gets a 503 page (or a JSON error under /api/) with the notice; everything else passes."""

    def __init__(self, app: ASGIApp, ctx: SiteContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        config = sitecfg.cached(self.ctx)
        if config.mode != "closed" or stays_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        message = closed_message(None)
        if _wants_json(scope["path"]):
            response = _json_refusal(message, config.notice)
        else:
            request = Request(scope, receive)
            # The header shows who is logged in, as on every page (a query only on refusals).
            await load_viewer(request, self.ctx)
            response = _page_refusal(request, message, closed_site=True)
        await response(scope, receive, send)
