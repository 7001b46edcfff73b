"""The bonus rules page (private mode, /moderation/bonus): freeleech and double upload.

Moderators give a torrent factors of its own; admins add and end site-wide events. The rules
themselves are in `swarmdex.private.bonus`; a public site answers 404 here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from swarmdex.accounts.services import has_role
from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User
from swarmdex.moderation.services import ModerationError, NotAllowed, NotFound
from swarmdex.private import bonus
from swarmdex.private.bonus import Factors
from swarmdex.torrents import services as torrents
from swarmdex.web.auth import require_role
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.ids import RowId
from swarmdex.web.pages.invites import PRIVATE
from swarmdex.web.security import require_csrf
from swarmdex.web.templates import render

__all__ = ["router"]

# Every route: a 404 on a public site, before anyone is asked (as the invite pages).
router = APIRouter(include_in_schema=False, dependencies=[PRIVATE])
CSRF: Final = [Depends(require_csrf)]
Staff = Annotated[User, Depends(require_role(Role.MODERATOR))]
Admin = Annotated[User, Depends(require_role(Role.ADMIN))]
FormText = Annotated[str, Form()]
PAGE: Final = "/moderation/bonus"

DONE: Final = {
    "torrent": "The torrent's factors are saved. Traffic counts with them from the next "
               "accounting write (within seconds).",
    "event": "Event added.",
    "ended": "Event ended.",
}


async def _page(request: Request, ctx: SiteContext, user: User, *, done: str = "",
                error: str | None = None, values: dict[str, str] | None = None,
                status_code: int = 200) -> HTMLResponse:
    async with ctx.db() as session:
        running = await bonus.events(session)
        factored = await bonus.factored(session)
    return render(request, "bonus/index.html", status_code=status_code, events=running,
                  factored=factored, is_admin=has_role(user, Role.ADMIN), now=datetime.now(UTC),
                  done=DONE.get(done), error=error, values=values or {})


@router.get(PAGE, response_class=HTMLResponse)
async def page(request: Request, ctx: Ctx, user: Staff, done: str = "") -> HTMLResponse:
    return await _page(request, ctx, user, done=done)


def _factor(text: str, what: str) -> float:
    try:
        value = float(text.strip().rstrip("x\N{MULTIPLICATION SIGN}"))  # "2x" reads as 2
    except ValueError:
        raise ModerationError(f"Write the {what} factor as a number, like 0, 0.5, 1 or 2.") from None
    if value != value:  # NaN
        raise ModerationError(f"Write the {what} factor as a number.")
    return value


def _moment(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ModerationError(f"Give the {what} as a date and time (UTC).") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _back(what: str) -> RedirectResponse:
    return RedirectResponse(f"{PAGE}?done={what}", status_code=303)


@router.post(f"{PAGE}/torrents", dependencies=CSRF)
async def set_torrent(request: Request, ctx: Ctx, user: Staff, info_hash: FormText = "",
                      download: FormText = "1", upload: FormText = "1") -> Response:
    values = {"info_hash": info_hash, "download": download, "upload": upload}
    try:
        factors = Factors(_factor(download, "download"), _factor(upload, "upload"))
        async with transaction(ctx.db) as session:
            torrent = await torrents.find(session, info_hash.strip())
            if torrent is None:
                raise NotFound("No torrent on the site has that info hash.")
            await bonus.set_factors(session, torrent, factors, by=user)
    except ModerationError as exc:
        return await _page(request, ctx, user, error=str(exc), values=values, status_code=400)
    return _back("torrent")


@router.post(f"{PAGE}/events", dependencies=CSRF)
async def add_event(request: Request, ctx: Ctx, user: Admin, name: FormText = "",
                    starts: FormText = "", ends: FormText = "", download: FormText = "1",
                    upload: FormText = "1") -> Response:
    values = {"name": name, "starts": starts, "ends": ends, "event_download": download,
              "event_upload": upload}
    try:
        factors = Factors(_factor(download, "download"), _factor(upload, "upload"))
        starts_at, ends_at = _moment(starts, "start"), _moment(ends, "end")
        async with transaction(ctx.db) as session:
            await bonus.add_event(session, name, starts_at, ends_at, factors, by=user)
    except ModerationError as exc:
        return await _page(request, ctx, user, error=str(exc), values=values,
                           status_code=403 if isinstance(exc, NotAllowed) else 400)
    return _back("event")


@router.post(f"{PAGE}/events/{{event_id}}/end", dependencies=CSRF)
async def end_event(request: Request, event_id: RowId, ctx: Ctx, user: Admin) -> Response:
    try:
        async with transaction(ctx.db) as session:
            await bonus.end_event(session, event_id, by=user)
    except ModerationError as exc:
        return await _page(request, ctx, user, error=str(exc), status_code=404)
    return _back("ended")
