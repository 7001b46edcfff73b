"""Comment forms: post under a torrent, edit (author, first 15 minutes), remove.

The comments themselves are shown by `comments/section.html`, which the torrent's detail page
includes. Every form here posts with the CSRF field. A form whose text is refused (empty, too
long, or sent too fast) comes back on a page of its own with the text kept, so nothing typed
is lost.

News posts have comments too (`swarmdex.web.pages.news`): `Place`, `save`, `edit_form` and
`throttle` serve any thread, so both kinds of comment behave alike.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.comments import services
from swarmdex.comments.models import CommentFields
from swarmdex.comments.services import CommentError, NotAllowed, NotFound
from swarmdex.db.engine import transaction
from swarmdex.db.models import Torrent, User
from swarmdex.torrents import services as torrents
from swarmdex.web.bans import Member
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.ids import RowId
from swarmdex.web.ratelimit import Rate, attempt
from swarmdex.web.security import require_csrf
from swarmdex.web.sitemode import writes
from swarmdex.web.templates import render

router = APIRouter(include_in_schema=False)
CSRF: Final = [Depends(require_csrf)]

# Per account: a few comments in a row, then one every ten seconds. Enough for a conversation,
# too slow for a flood from a compromised or scripted account.
COMMENT_RATE: Final = Rate(6, 60.0)


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a comment lives, as plain values that outlive the transaction."""

    title: str
    path: str  # the page the comments are on; new ones are posted to PATH/comments
    listed: bool  # the page is on the site (not removed, or published)

    @classmethod
    def of(cls, torrent: Torrent) -> Place:
        return cls(torrent.title, f"/t/{torrents.info_hash(torrent)}", torrent.deleted_at is None)


async def form_text(request: Request) -> str:
    body = (await request.form()).get("body")
    return body if isinstance(body, str) else ""


class TooFast(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.seconds = max(1, math.ceil(wait))


async def throttle(request: Request, user: User) -> None:
    """TooFast when `user` comments faster than COMMENT_RATE (on torrents and news alike).
    Call it once the text is known to be acceptable: only those count against the rate."""
    if wait := await attempt(request, "comment", COMMENT_RATE, key=f"user:{user.id}"):
        raise TooFast(wait)


def refused(exc: CommentError) -> HTTPException:
    if isinstance(exc, NotFound):
        return HTTPException(404, str(exc))
    return HTTPException(403, str(exc))


def _form(
    request: Request,
    place: Place,
    *,
    action: str,
    body: str,
    editing: bool,
    error: str | None,
    status_code: int = 400,
) -> HTMLResponse:
    return render(
        request,
        "comments/form.html",
        status_code=status_code if error else 200,
        place=place,
        action=action,
        body=body,
        editing=editing,
        error=error,
        max_chars=services.MAX_CHARS,
    )


async def save(
    request: Request,
    ctx: SiteContext,
    *,
    locate: Callable[[AsyncSession], Awaitable[tuple[Place, T]]],
    write: Callable[[AsyncSession, T, str], Awaitable[int]],
    edit_action: str | None = None,
) -> Response:
    """Post or edit a comment in one transaction: `locate` finds where it lives (raising
    NotFound), `write` stores the form's text there and gives the comment's id. Then to the
    comment on its page; a refused text comes back in its form (`edit_action`'s, or a new
    comment's under the place)."""
    body = await form_text(request)
    place: Place | None = None
    try:
        async with transaction(ctx.db) as session:
            place, target = await locate(session)
            comment_id = await write(session, target, body)
    except (NotFound, NotAllowed) as exc:
        raise refused(exc) from None
    except (CommentError, TooFast) as exc:
        assert place is not None
        action = edit_action or f"{place.path}/comments"
        if isinstance(exc, CommentError):
            return _form(request, place, action=action, body=body, editing=bool(edit_action),
                         error=str(exc))
        response = _form(
            request, place, action=action, body=body, editing=bool(edit_action),
            error=f"You are commenting very fast. Please wait {exc.seconds} seconds, then post again.",
            status_code=429,
        )
        response.headers["Retry-After"] = str(exc.seconds)
        return response
    return RedirectResponse(f"{place.path}#comment-{comment_id}", status_code=303)


def edit_form(
    request: Request, user: User, found: tuple[CommentFields, Place] | None, action: str
) -> HTMLResponse:
    """The edit form on a page of its own (the comment's page also has it inline)."""
    if found is None or found[0].deleted_at is not None or not found[1].listed:
        raise HTTPException(404, "This comment has been removed, or never existed.")
    comment, place = found
    if not services.may_edit(user, comment.author_id, comment.created_at, removed=False):
        raise HTTPException(403, "You can no longer edit this comment.")
    return _form(request, place, action=action, body=comment.body, editing=True, error=None)


def after_removal(place: Place, comment_id: int) -> RedirectResponse:
    # A moderator cleaning up under a removed page has nowhere to go back to.
    target = f"{place.path}#comment-{comment_id}" if place.listed else "/"
    return RedirectResponse(target, status_code=303)


@router.post("/t/{info_hash}/comments", dependencies=[writes("Comments"), *CSRF])
async def add(request: Request, info_hash: str, ctx: Ctx, user: Member) -> Response:
    async def locate(session: AsyncSession) -> tuple[Place, Torrent]:
        torrent = await torrents.find(session, info_hash)
        if torrent is None:
            raise HTTPException(404)
        return Place.of(torrent), torrent

    async def write(session: AsyncSession, torrent: Torrent, body: str) -> int:
        text = services.clean_body(body)
        await throttle(request, user)
        return (await services.add(session, torrent=torrent, author=user, body=text)).id

    return await save(request, ctx, locate=locate, write=write)


async def _located(session: AsyncSession, comment_id: int) -> tuple[Place, int]:
    comment = await services.get(session, comment_id)
    if comment is None:
        raise NotFound("There is no such comment.")
    return Place.of(comment.torrent), comment_id


@router.get("/comments/{comment_id}/edit", response_class=HTMLResponse,
            dependencies=[writes("Comments")])
async def edit_page(request: Request, comment_id: RowId, ctx: Ctx, user: Member) -> Response:
    async with ctx.db() as session:
        comment = await services.get(session, comment_id)
    found = (comment, Place.of(comment.torrent)) if comment is not None else None
    return edit_form(request, user, found, f"/comments/{comment_id}/edit")


@router.post("/comments/{comment_id}/edit", dependencies=[writes("Comments"), *CSRF])
async def edit(request: Request, comment_id: RowId, ctx: Ctx, user: Member) -> Response:
    async def write(session: AsyncSession, _: int, body: str) -> int:
        await services.edit(session, comment_id, editor=user, body=body)
        return comment_id

    return await save(request, ctx, locate=lambda session: _located(session, comment_id),
                      write=write, edit_action=f"/comments/{comment_id}/edit")


@router.post("/comments/{comment_id}/delete", dependencies=CSRF)
async def delete(comment_id: RowId, ctx: Ctx, user: Member) -> Response:
    try:
        async with transaction(ctx.db) as session:
            comment = await services.delete(session, comment_id, by=user)
            place = Place.of(comment.torrent)
    except CommentError as exc:
        raise refused(exc) from None
    return after_removal(place, comment_id)
