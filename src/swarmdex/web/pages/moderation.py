"""Reports and the moderation queue.

Anyone may report a torrent (/t/HASH/report) or a comment (/comments/ID/report): the form
asks for a reason from a fixed list, what is wrong, and (optionally) an email. Reports are
rate limited per client address in this process's memory; the address is never stored.
A logged-in user who is banned gets the ban page instead.

The queue (/moderation, moderators and admins) lists every reported item once, with its
reports and history, and a form per item to resolve it with a note. Hiding or deleting a
torrent stops the tracker serving it once the change has committed; unhiding
serves it again. After a change the browser goes back to /moderation?done=WHAT, which
shows one of the fixed texts in `DONE`; a refused change shows the queue with the reason.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.comments import services as comment_services
from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, User
from swarmdex.moderation import bans, services
from swarmdex.moderation.services import ModerationError, NotFound, TorrentEdit
from swarmdex.torrents import services as torrents
from swarmdex.web.auth import CurrentUser, Viewer, require_role
from swarmdex.web.bans import Banned
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.ids import RowId
from swarmdex.web.ratelimit import Rate, attempt
from swarmdex.web.security import require_csrf
from swarmdex.web.sitemode import writes
from swarmdex.web.templates import render

__all__ = ["DONE", "REPORT_RATE", "router"]

router = APIRouter(include_in_schema=False)
CSRF: Final = [Depends(require_csrf)]
Staff = Annotated[User, Depends(require_role(Role.MODERATOR))]
FormText = Annotated[str, Form()]

# Per client address: a few reports in a row, then one a minute. Plenty for someone who
# found a problem; too slow to bury the queue.
REPORT_RATE: Final = Rate(5, 300.0)

DONE: Final = {
    "hide": "Torrent hidden: it is off the site and the tracker. Unhide it below if need be.",
    "delete": "Torrent deleted.",
    "edit": "Torrent edited.",
    "dismiss": "Reports dismissed.",
    "remove": "Comment removed.",
    "unhide": "Torrent back on the site and the tracker.",
}


# --------------------------------------------------------------------------- reporting


class _Target:
    """What a report form is about, as plain values that outlive the transaction."""

    def __init__(self, kind: str, target_id: int, title: str, path: str, action: str) -> None:
        self.kind, self.id, self.title, self.path, self.action = kind, target_id, title, path, action


async def _torrent_target(session: AsyncSession, info_hash: str) -> _Target:
    torrent = await torrents.find(session, info_hash)
    if torrent is None:
        raise HTTPException(404)
    path = f"/t/{torrents.info_hash(torrent)}"
    return _Target("torrent", torrent.id, torrent.title, path, path + "/report")


async def _comment_target(session: AsyncSession, comment_id: int) -> _Target:
    comment = await comment_services.get(session, comment_id)
    if comment is None or comment.deleted_at is not None or comment.torrent.deleted_at is not None:
        raise HTTPException(404)
    path = f"/t/{torrents.info_hash(comment.torrent)}#comment-{comment_id}"
    return _Target("comment", comment_id, f"a comment on “{comment.torrent.title}”", path,
                   f"/comments/{comment_id}/report")


async def _not_banned(ctx: SiteContext, viewer: User | None) -> None:
    if viewer is not None:
        async with ctx.db() as session:
            ban = await bans.active_ban(session, viewer.id)
        if ban is not None:
            raise Banned(ban)


def _report_form(request: Request, target: _Target, *, values: dict[str, str] | None = None,
                 error: str | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "moderation/report.html", status_code=status_code, target=target,
                  values=values or {}, error=error, reasons=services.REASONS,
                  max_chars=services.TEXT_MAX_CHARS)


async def _file(request: Request, ctx: SiteContext, viewer: User | None, target: _Target,
                values: dict[str, str]) -> Response:
    await _not_banned(ctx, viewer)
    if wait := await attempt(request, "report", REPORT_RATE):
        seconds = max(1, round(wait))
        response = _report_form(
            request, target, values=values, status_code=429,
            error=f"You have sent several reports in a short time. Please wait {seconds} seconds.",
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    try:
        async with transaction(ctx.db) as session:
            await services.file_report(
                session, target_type=target.kind, target_id=target.id, reason=values["reason"],
                text=values["text"], contact=values["contact"], reporter=viewer)
    except NotFound:
        raise HTTPException(404) from None
    except ModerationError as exc:
        return _report_form(request, target, values=values, error=str(exc), status_code=400)
    return render(request, "moderation/reported.html", target=target)


@router.get("/t/{info_hash}/report", response_class=HTMLResponse,
            dependencies=[writes("Reports")])
async def report_torrent_form(request: Request, info_hash: str, ctx: Ctx, viewer: Viewer) -> Response:
    await _not_banned(ctx, viewer)
    async with ctx.db() as session:
        target = await _torrent_target(session, info_hash)
    return _report_form(request, target)


@router.post("/t/{info_hash}/report", dependencies=[writes("Reports"), *CSRF])
async def report_torrent(request: Request, info_hash: str, ctx: Ctx, viewer: Viewer,
                         reason: FormText = "", text: FormText = "", contact: FormText = "") -> Response:
    async with ctx.db() as session:
        target = await _torrent_target(session, info_hash)
    return await _file(request, ctx, viewer, target,
                       {"reason": reason, "text": text, "contact": contact})


@router.get("/comments/{comment_id}/report", response_class=HTMLResponse,
            dependencies=[writes("Reports")])
async def report_comment_form(request: Request, comment_id: RowId, ctx: Ctx, viewer: Viewer) -> Response:
    await _not_banned(ctx, viewer)
    async with ctx.db() as session:
        target = await _comment_target(session, comment_id)
    return _report_form(request, target)


@router.post("/comments/{comment_id}/report", dependencies=[writes("Reports"), *CSRF])
async def report_comment(request: Request, comment_id: RowId, ctx: Ctx, viewer: Viewer,
                         reason: FormText = "", text: FormText = "", contact: FormText = "") -> Response:
    async with ctx.db() as session:
        target = await _comment_target(session, comment_id)
    return await _file(request, ctx, viewer, target,
                       {"reason": reason, "text": text, "contact": contact})


@router.get("/banned", response_class=HTMLResponse)
async def banned(request: Request, ctx: Ctx, user: CurrentUser) -> Response:
    """Where a banned user lands after logging in: why, and until when."""
    await _not_banned(ctx, user)
    return RedirectResponse("/", status_code=303)  # not (or no longer) banned


# --------------------------------------------------------------------------- the queue


async def _queue_page(request: Request, ctx: SiteContext, *, done: str = "",
                      error: str | None = None, status_code: int = 200) -> HTMLResponse:
    async with ctx.db() as session:
        items = await services.queue(session)
        hidden = await services.hidden_torrents(session)
        categories = await torrents.categories(session)
    return render(request, "moderation/queue.html", status_code=status_code, items=items,
                  hidden=hidden, categories=categories, reasons=services.REASONS,
                  done=DONE.get(done), error=error, info_hash=torrents.info_hash)


@router.get("/moderation", response_class=HTMLResponse)
async def queue(request: Request, ctx: Ctx, user: Staff, done: str = "") -> HTMLResponse:
    return await _queue_page(request, ctx, done=done)


def _done(what: str) -> RedirectResponse:
    return RedirectResponse(f"/moderation?done={what}", status_code=303)


@router.post("/moderation/torrents/{torrent_id}/resolve", dependencies=CSRF)
async def resolve_torrent(request: Request, torrent_id: RowId, ctx: Ctx, user: Staff,
                          action: FormText = "", note: FormText = "", title: FormText = "",
                          category: FormText = "", description: FormText = "") -> Response:
    edit = TorrentEdit(title, category, description) if action == "edit" else None
    try:
        async with transaction(ctx.db) as session:
            await services.resolve_torrent(
                session, torrent_id, by=user, resolution=action, note=note, edit=edit)
    except ModerationError as exc:
        return await _queue_page(request, ctx, error=str(exc), status_code=400)
    return _done(action)


@router.post("/moderation/torrents/{torrent_id}/unhide", dependencies=CSRF)
async def unhide(request: Request, torrent_id: RowId, ctx: Ctx, user: Staff,
                 note: FormText = "") -> Response:
    try:
        async with transaction(ctx.db) as session:
            await services.unhide(session, torrent_id, by=user, note=note)
    except ModerationError as exc:
        return await _queue_page(request, ctx, error=str(exc), status_code=400)
    return _done("unhide")


@router.post("/moderation/comments/{comment_id}/resolve", dependencies=CSRF)
async def resolve_comment(request: Request, comment_id: RowId, ctx: Ctx, user: Staff,
                          action: FormText = "", note: FormText = "") -> Response:
    try:
        async with transaction(ctx.db) as session:
            await services.resolve_comment(session, comment_id, by=user, resolution=action,
                                           note=note)
    except ModerationError as exc:
        return await _queue_page(request, ctx, error=str(exc), status_code=400)
    return _done(action)
