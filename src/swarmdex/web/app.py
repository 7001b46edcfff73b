"""The site as an ASGI application: pages, the JSON API under /api/v1, feeds."""

from __future__ import annotations

import logging

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from swarmdex import __version__
from swarmdex.db.engine import database_unavailable
from swarmdex.tracker.control import TrackerUnavailable
from swarmdex.web.accesslog import AccessLogWriter
from swarmdex.web.allow import AllowedMethods
from swarmdex.web.api import account as account_api
from swarmdex.web.api import docs as api_docs
from swarmdex.web.api import donations as donation_api
from swarmdex.web.api import invites as invite_api
from swarmdex.web.api import search as search_api
from swarmdex.web.api import torrents as torrent_api
from swarmdex.web.api import users as user_api
from swarmdex.web.auth import LoginRequired, load_viewer, login_redirect
from swarmdex.web.bans import Banned, NetworkBanned, refuse_banned
from swarmdex.web.bodylimit import BodyLimit
from swarmdex.web.context import SiteContext
from swarmdex.web.negotiation import JsonTwins
from swarmdex.web.pages import accounts, admin, audit, bans, browse, comments, feeds, home
from swarmdex.web.pages import bonus as bonus_pages
from swarmdex.web.pages import donations as donation_pages
from swarmdex.web.pages import figures as figure_pages
from swarmdex.web.pages import invites as invite_pages
from swarmdex.web.pages import moderation as moderation_pages
from swarmdex.web.pages import news as news_pages
from swarmdex.web.pages import privacy as privacy_pages
from swarmdex.web.pages import profiles as profile_pages
from swarmdex.web.pages import takedowns as takedown_pages
from swarmdex.web.pages import torrents as torrent_pages
from swarmdex.web.private import members_only
from swarmdex.web.security import SecurityHeaders
from swarmdex.web.sitemode import ReadOnly, SiteModeGate, refuse_read_only
from swarmdex.web.templates import render

STATIC = __file__.rsplit("/", 1)[0] + "/static"
log = logging.getLogger("swarmdex.web")


def create_app(ctx: SiteContext) -> SecurityHeaders:
    app = FastAPI(
        title=ctx.settings.site_name,
        version=__version__,
        docs_url=None,  # served by swarmdex.web.api.docs, with no third-party script
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        # Every page knows who is looking (request.state.viewer), for the header and forms;
        # in private mode only members get further (swarmdex.web.private).
        dependencies=[Depends(load_viewer), Depends(members_only)],
        exception_handlers={LoginRequired: login_redirect, Banned: refuse_banned,
                            NetworkBanned: refuse_banned, ReadOnly: refuse_read_only},
    )
    app.state.ctx = ctx
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api_docs.router)
    app.include_router(home.router)
    app.include_router(moderation_pages.router)
    app.include_router(bans.router)
    app.include_router(browse.router)
    app.include_router(feeds.router)
    app.include_router(search_api.router)
    app.include_router(comments.router)
    app.include_router(news_pages.router)
    app.include_router(admin.router)
    app.include_router(audit.router)
    app.include_router(donation_pages.router)
    app.include_router(donation_api.router)
    # The site mode (read-only, closed) at the door, read from the copy below; added first,
    # so it runs after the refresh. The tracker reads the same copy (no query per announce).
    app.add_middleware(SiteModeGate, ctx=ctx)
    # The admin page's settings (site name...) kept fresh in memory, so no page view queries
    # them: see swarmdex.sitecfg.services.
    app.add_middleware(admin.SiteConfigRefresh, ctx=ctx)
    # Public pages answer as JSON to clients that ask for it (before routing picks a handler).
    app.add_middleware(JsonTwins)
    # OPTIONS, and 405 answers, name every method of a path (not only the first route's).
    app.add_middleware(AllowedMethods, routes=app.router.routes)
    app.include_router(accounts.router)
    app.include_router(torrent_pages.router)
    app.include_router(torrent_api.router)
    app.include_router(profile_pages.router)
    app.include_router(takedown_pages.router)
    app.include_router(user_api.router)
    app.include_router(privacy_pages.router)
    app.include_router(invite_pages.router)  # private mode; 404 elsewhere
    app.include_router(bonus_pages.router)  # private mode; 404 elsewhere
    app.include_router(invite_api.router)
    app.include_router(figure_pages.router)  # private mode; 404 elsewhere
    app.include_router(account_api.router)
    if ctx.settings.access_log:  # off by default: then no request is recorded anywhere
        app.add_middleware(AccessLogWriter, ctx=ctx)
    app.add_middleware(BodyLimit, ctx=ctx)  # outermost: no body is read past its limit

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        return render(request, "error.html", status_code=exc.status_code,
                      status=exc.status_code, message=_message(exc))

    @app.exception_handler(TrackerUnavailable)
    async def tracker_unavailable(request: Request, exc: TrackerUnavailable) -> Response:
        # The shared peer store does not answer: say so, and let the next request retry.
        message = "Live swarm counts cannot be read right now. Try again in a moment."
        headers = {"retry-after": "10"}
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=503, headers=headers)
        response = render(request, "error.html", status_code=503, status=503, message=message)
        response.headers.update(headers)
        return response

    @app.exception_handler(DBAPIError)
    @app.exception_handler(ConnectionError)
    async def database_error(request: Request, exc: Exception) -> Response:
        # A database that does not answer (PostgreSQL restarting, a network cut, SQLite's
        # lock held past the busy timeout) is a 503 the next request may not meet; the pool
        # tests connections before use, so service comes back by itself. Anything else is
        # the bug it always was: logged, and a 500.
        if database_unavailable(exc):
            log.warning("database unavailable: %s", str(exc).splitlines()[0][:300])
            message = "The site's database cannot be reached right now. Try again in a moment."
            status, headers = 503, {"retry-after": "10"}
        else:
            log.error("unhandled database error on %s", request.url.path, exc_info=exc)
            message, status, headers = "The page could not be made.", 500, {}
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=status, headers=headers)
        response = render(request, "error.html", status_code=status, status=status,
                          message=message)
        response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            # The errors echo what was sent: a body that is not JSON is echoed as bytes.
            errors = jsonable_encoder(exc.errors(), custom_encoder={
                bytes: lambda raw: raw.decode("utf-8", "replace")})
            return JSONResponse({"detail": errors}, status_code=422)
        return render(request, "error.html", status_code=400, status=400,
                      message="Some of what was sent is missing or malformed.")

    return SecurityHeaders(app, secure_cookies=ctx.base_url.startswith("https://"))


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.endswith(".json")


def _message(exc: StarletteHTTPException) -> str:
    if exc.status_code == 404:
        return "There is nothing at this address. It may have been removed, or the link is wrong."
    return str(exc.detail)
