"""Bans and roles: /moderation/bans (moderators ban and unban accounts; admins also ban
address ranges there) and /admin/users (admins find accounts by name and change roles).

Every change goes through `swarmdex.moderation.bans`, which checks the role again and writes
the audit log. After a change the browser goes back with ?done=WHAT (a fixed text from
`DONE`); a refused change shows the page again with the reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from swarmdex.accounts.services import has_role, user_by_name
from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.moderation import bans
from swarmdex.moderation.services import ModerationError, NotAllowed, NotFound
from swarmdex.web.auth import require_role
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.ids import RowId
from swarmdex.web.security import require_csrf
from swarmdex.web.templates import render

__all__ = ["DONE", "DURATIONS", "router"]

router = APIRouter(include_in_schema=False)
CSRF: Final = [Depends(require_csrf)]
Staff = Annotated[User, Depends(require_role(Role.MODERATOR))]
Admin = Annotated[User, Depends(require_role(Role.ADMIN))]
FormText = Annotated[str, Form()]

# What the ban form offers; "permanent" has no end.
DURATIONS: Final = {
    "1d": ("One day", timedelta(days=1)),
    "7d": ("One week", timedelta(days=7)),
    "30d": ("30 days", timedelta(days=30)),
    "365d": ("One year", timedelta(days=365)),
    "permanent": ("Permanently", None),
}

DONE: Final = {
    "ban": "Account banned. They see the reason when they log in.",
    "unban": "Ban lifted.",
    "network": "Address range banned from registering and uploading.",
    "network-removed": "Address range ban removed.",
    "role": "Role changed.",
    "role-same": "That was already their role.",
}


async def _bans_page(request: Request, ctx: SiteContext, user: User, *, done: str = "",
                     error: str | None = None, values: dict[str, str] | None = None,
                     status_code: int = 200) -> HTMLResponse:
    is_admin = has_role(user, Role.ADMIN)
    async with ctx.db() as session:
        banned = await bans.active_bans(session)
        networks = await bans.network_bans(session) if is_admin else []
    return render(request, "moderation/bans.html", status_code=status_code, banned=banned,
                  networks=networks, is_admin=is_admin, durations=DURATIONS,
                  done=DONE.get(done), error=error, values=values or {})


@router.get("/moderation/bans", response_class=HTMLResponse)
async def bans_page(request: Request, ctx: Ctx, user: Staff, done: str = "") -> HTMLResponse:
    return await _bans_page(request, ctx, user, done=done)


def _back(what: str, page: str = "/moderation/bans") -> RedirectResponse:
    return RedirectResponse(f"{page}?done={what}", status_code=303)


@router.post("/moderation/bans/users", dependencies=CSRF)
async def ban(request: Request, ctx: Ctx, user: Staff, name: FormText = "",
              duration: FormText = "", reason: FormText = "") -> Response:
    values = {"name": name, "duration": duration, "reason": reason}
    try:
        if duration not in DURATIONS:
            raise ModerationError("Pick how long the ban lasts.")
        length = DURATIONS[duration][1]
        async with transaction(ctx.db) as session:
            target = await user_by_name(session, name.strip())
            if target is None:
                raise NotFound(f"There is no account called “{name.strip()}”.")
            until = utcnow() + length if length is not None else None
            await bans.ban_user(session, target, by=user, reason=reason, until=until)
    except ModerationError as exc:
        return await _bans_page(request, ctx, user, error=str(exc), values=values,
                                status_code=403 if isinstance(exc, NotAllowed) else 400)
    return _back("ban")


@router.post("/moderation/bans/users/{user_id}/lift", dependencies=CSRF)
async def unban(request: Request, user_id: RowId, ctx: Ctx, user: Staff,
                note: FormText = "") -> Response:
    try:
        async with transaction(ctx.db) as session:
            target = await session.get(User, user_id)
            if target is None:
                raise NotFound("There is no such account.")
            await bans.lift_ban(session, target, by=user, note=note)
    except ModerationError as exc:
        return await _bans_page(request, ctx, user, error=str(exc), status_code=400)
    return _back("unban")


@router.post("/moderation/bans/networks", dependencies=CSRF)
async def ban_network(request: Request, ctx: Ctx, user: Admin, network: FormText = "",
                      reason: FormText = "") -> Response:
    try:
        async with transaction(ctx.db) as session:
            await bans.add_network_ban(session, network, by=user, reason=reason)
    except ModerationError as exc:
        return await _bans_page(request, ctx, user, error=str(exc), status_code=400,
                                values={"network": network, "network_reason": reason})
    return _back("network")


@router.post("/moderation/bans/networks/{ban_id}/delete", dependencies=CSRF)
async def unban_network(request: Request, ban_id: RowId, ctx: Ctx, user: Admin) -> Response:
    try:
        async with transaction(ctx.db) as session:
            await bans.remove_network_ban(session, ban_id, by=user)
    except ModerationError as exc:
        return await _bans_page(request, ctx, user, error=str(exc), status_code=400)
    return _back("network-removed")


# --------------------------------------------------------------------------- roles


async def _users_page(request: Request, ctx: SiteContext, *, q: str = "", done: str = "",
                      error: str | None = None, status_code: int = 200) -> HTMLResponse:
    async with ctx.db() as session:
        users = await bans.find_users(session, q)
    return render(request, "moderation/users.html", status_code=status_code, users=users,
                  q=q, roles=list(Role), done=DONE.get(done), error=error)


@router.get("/admin/users", response_class=HTMLResponse)
async def users(request: Request, ctx: Ctx, user: Admin,
                q: Annotated[str, Query(max_length=64)] = "", done: str = "") -> HTMLResponse:
    return await _users_page(request, ctx, q=q, done=done)


@router.post("/admin/users/{user_id}/role", dependencies=CSRF)
async def change_role(request: Request, user_id: RowId, ctx: Ctx, user: Admin,
                      role: FormText = "", note: FormText = "") -> Response:
    try:
        if role not in {r.value for r in Role}:
            raise ModerationError("Pick one of the roles listed.")
        async with transaction(ctx.db) as session:
            target = await session.get(User, user_id)
            if target is None:
                raise NotFound("There is no such account.")
            changed = await bans.change_role(session, target, Role(role), by=user, note=note)
    except ModerationError as exc:
        return await _users_page(request, ctx, error=str(exc), status_code=400)
    return _back("role" if changed else "role-same", "/admin/users")
