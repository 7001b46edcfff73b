"""The admin page (/admin, admins only): site name, registration, upload size limit, and
the catalogue's categories.

Settings saved here apply at once in this process (`sitecfg.services.remember`) and within
`sitecfg.services.REFRESH_SECONDS` in any other process on the same database, through
`SiteConfigRefresh`, the middleware that keeps each process's copy fresh.

After a change the browser is sent back to /admin?done=WHAT, which shows one of the fixed
texts in `DONE` (never text from the URL). A refused change shows the page again with the
reason and what was typed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User
from swarmdex.sitecfg import services
from swarmdex.sitecfg.services import CategoryError, ConfigError, SiteConfig
from swarmdex.sitemode import services as sitemode
from swarmdex.sitemode.rules import ModeError
from swarmdex.web.auth import require_role
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.ids import RowId
from swarmdex.web.security import require_csrf
from swarmdex.web.templates import render

__all__ = ["DONE", "SiteConfigRefresh", "format_size", "parse_size", "router"]

router = APIRouter(include_in_schema=False)
CSRF: Final = [Depends(require_csrf)]
Admin = Annotated[User, Depends(require_role(Role.ADMIN))]

DONE: Final = {
    "settings": "Settings saved. They apply at once.",
    "mode": "Site mode and notice saved. They apply at once, to the tracker too.",
    "added": "Category added.",
    "renamed": "Category renamed.",
    "moved": "Category moved.",
    "deleted": "Category deleted.",
}

_UNITS: Final = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024,
                 "m": 1024**2, "mb": 1024**2, "mib": 1024**2}
_SIZE: Final = re.compile(r"\s*(\d{1,12}(?:\.\d{1,6})?)\s*([a-z]*)\s*", re.IGNORECASE)


class SiteConfigRefresh:
    """Pure ASGI middleware: before each request, make sure this process's copy of the admin
    settings is fresh. That is a memory read, and a query only when the copy is older than
    `REFRESH_SECONDS` (or after a start), so `render` takes the site name from
    `sitecfg.services.cached` with no query per page view."""

    def __init__(self, app: ASGIApp, ctx: SiteContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/static/"):
            await services.current(self.ctx)
        await self.app(scope, receive, send)


def format_size(n: int) -> str:
    """The upload limit as the form shows it, exactly: "10 MiB", "512 KiB" or "1500 B"."""
    for unit, size in (("MiB", 1024**2), ("KiB", 1024)):
        if n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def parse_size(text: str) -> int:
    """Bytes from "10 MiB", "1.5 mb", "512k", "2048"; binary units (K = KiB = 1024 bytes)."""
    match = _SIZE.fullmatch(text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise ConfigError("Write the upload size limit like “10 MiB”, “512 KiB” or “2048 B”.")
    return round(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _page(
    request: Request,
    ctx: SiteContext,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    settings_form: dict[str, str] | None = None,
    add_form: dict[str, str] | None = None,
    mode_form: dict[str, str] | None = None,
) -> HTMLResponse:
    async with ctx.db() as session:
        # Straight from the database: the admin sees what is stored, not a cached copy.
        config = await services.effective(session, ctx.settings)
        categories = await services.categories(session)
    done = request.query_params.get("done")
    return render(
        request,
        "admin/index.html",
        status_code=status_code,
        config=config,
        configured=services.defaults(ctx.settings),
        categories=categories,
        errors=errors or {},
        done=DONE.get(done or ""),
        settings_form=settings_form or {
            "site_name": config.site_name,
            "registration": "open" if config.registration_open else "closed",
            "upload_max": format_size(config.upload_max_bytes),
        },
        add_form=add_form or {"slug": "", "name": ""},
        mode_form=mode_form or {
            "mode": config.mode, "notice": config.notice, "notice_level": config.notice_level,
        },
        format_size=format_size,
    )


def _done(what: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/admin?done={what}#{anchor}", status_code=303)


@router.get("/admin", response_class=HTMLResponse)
async def admin(request: Request, ctx: Ctx, user: Admin) -> HTMLResponse:
    return await _page(request, ctx)


@router.post("/admin/settings", dependencies=CSRF)
async def save_settings(request: Request, ctx: Ctx, user: Admin) -> Response:
    form = await request.form()
    typed = {name: _text(form, name) for name in ("site_name", "registration", "upload_max")}
    try:
        if typed["registration"] not in ("open", "closed"):
            raise ConfigError("Registration is either open or closed.")
        async with transaction(ctx.db) as session:
            config: SiteConfig = await services.update(
                session,
                ctx.settings,
                site_name=typed["site_name"],
                registration_open=typed["registration"] == "open",
                upload_max_bytes=parse_size(typed["upload_max"]),
                by=user,
            )
    except ConfigError as exc:
        return await _page(request, ctx, status_code=400, errors={"settings": str(exc)},
                           settings_form=typed)
    services.remember(ctx, config)  # committed: this process uses it from the next request on
    return _done("settings", "settings")


@router.post("/admin/mode", dependencies=CSRF)
async def save_mode(request: Request, ctx: Ctx, user: Admin) -> Response:
    form = await request.form()
    typed = {name: _text(form, name) for name in ("mode", "notice", "notice_level")}
    try:
        async with transaction(ctx.db) as session:
            config = await sitemode.set_mode(session, ctx.settings, typed["mode"],
                                             notice=typed["notice"],
                                             level=typed["notice_level"] or "info", by=user)
    except ModeError as exc:
        return await _page(request, ctx, status_code=400, errors={"mode": str(exc)},
                           mode_form=typed)
    services.remember(ctx, config)  # this process, its pages and its tracker: at once
    return _done("mode", "mode")


@router.post("/admin/categories", dependencies=CSRF)
async def add_category(request: Request, ctx: Ctx, user: Admin) -> Response:
    form = await request.form()
    typed = {"slug": _text(form, "slug"), "name": _text(form, "name")}
    try:
        async with transaction(ctx.db) as session:
            await services.add_category(session, typed["slug"], typed["name"], by=user)
    except CategoryError as exc:
        return await _page(request, ctx, status_code=400, errors={"categories": str(exc)},
                           add_form=typed)
    return _done("added", "categories")


@router.post("/admin/categories/{category_id}/rename", dependencies=CSRF)
async def rename_category(request: Request, category_id: RowId, ctx: Ctx, user: Admin) -> Response:
    name = _text(await request.form(), "name")
    try:
        async with transaction(ctx.db) as session:
            await services.rename_category(session, category_id, name, by=user)
    except CategoryError as exc:
        return await _page(request, ctx, status_code=400, errors={"categories": str(exc)})
    return _done("renamed", "categories")


@router.post("/admin/categories/{category_id}/move", dependencies=CSRF)
async def move_category(request: Request, category_id: RowId, ctx: Ctx, user: Admin) -> Response:
    direction = _text(await request.form(), "direction")
    if direction not in ("up", "down"):
        raise HTTPException(400, "A category moves up or down.")
    try:
        async with transaction(ctx.db) as session:
            await services.move_category(session, category_id, -1 if direction == "up" else 1,
                                         by=user)
    except CategoryError as exc:
        return await _page(request, ctx, status_code=400, errors={"categories": str(exc)})
    return _done("moved", "categories")


@router.post("/admin/categories/{category_id}/delete", dependencies=CSRF)
async def delete_category(request: Request, category_id: RowId, ctx: Ctx, user: Admin) -> Response:
    try:
        async with transaction(ctx.db) as session:
            await services.delete_category(session, category_id, by=user)
    except CategoryError as exc:
        return await _page(request, ctx, status_code=400, errors={"categories": str(exc)})
    return _done("deleted", "categories")
