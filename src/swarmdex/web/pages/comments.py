"""Comment forms: post under a torrent, edit (author, first 15 minutes), remove.

The comments themselves are shown by `comments/section.html`, which the torrent's detail page
includes. Every form here posts with the CSRF field. A form whose text is refused (empty, too
long, or sent too fast) comes back on a page of its own with the text kept, so nothing typed
is lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from swarmdex.comments import services
from swarmdex.comments.services import CommentError, NotAllowed, NotFound
from swarmdex.db.engine import transaction
from swarmdex.db.models import Torrent
from swarmdex.torrents import services as torrents
from swarmdex.web.auth import CurrentUser
from swarmdex.web.context import Ctx
from swarmdex.web.ratelimit import Rate, attempt
from swarmdex.web.security import require_csrf
from swarmdex.web.templates import render

router = APIRouter(include_in_schema=False)
CSRF: Final = [Depends(require_csrf)]

# Per account: a few comments in a row, then one every ten seconds. Enough for a conversation,
# too slow for a flood from a compromised or scripted account.
COMMENT_RATE: Final = Rate(6, 60.0)

# Ids beyond SQLite's (and PostgreSQL's bigint) range are refused before any query.
CommentId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a comment lives, as plain values that outlive the transaction."""

    title: str
    path: str  # the torrent's page
    listed: bool  # the torrent is on the site (not removed)

    @classmethod
    def of(cls, torrent: Torrent) -> _Place:
        return cls(torrent.title, f"/t/{torrents.info_hash(torrent)}", torrent.deleted_at is None)


async def _body(request: Request) -> str:
    body = (await request.form()).get("body")
    return body if isinstance(body, str) else ""


class _TooFast(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.seconds = max(1, math.ceil(wait))


def _refused(exc: CommentError) -> HTTPException:
    if isinstance(exc, NotFound):
        return HTTPException(404, str(exc))
    return HTTPException(403, str(exc))


def _form(
    request: Request,
    place: _Place,
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


@router.post("/t/{info_hash}/comments", dependencies=CSRF)
async def add(request: Request, info_hash: str, ctx: Ctx, user: CurrentUser) -> Response:
    body = await _body(request)
    place: _Place | None = None
    try:
        async with transaction(ctx.db) as session:
            torrent = await torrents.find(session, info_hash)
            if torrent is None:
                raise HTTPException(404)
            place = _Place.of(torrent)
            text = services.clean_body(body)  # only acceptable comments count against the rate
            if wait := attempt(request, "comment", COMMENT_RATE, key=f"user:{user.id}"):
                raise _TooFast(wait)
            comment = await services.add(session, torrent=torrent, author=user, body=text)
            comment_id = comment.id
    except (NotFound, NotAllowed) as exc:
        raise _refused(exc) from None
    except CommentError as exc:
        assert place is not None
        return _form(request, place, action=f"{place.path}/comments", body=body, editing=False,
                     error=str(exc))
    except _TooFast as slow:
        assert place is not None
        response = _form(
            request, place, action=f"{place.path}/comments", body=body, editing=False,
            error=f"You are commenting very fast. Please wait {slow.seconds} seconds, then post again.",
            status_code=429,
        )
        response.headers["Retry-After"] = str(slow.seconds)
        return response
    assert place is not None
    return RedirectResponse(f"{place.path}#comment-{comment_id}", status_code=303)


@router.get("/comments/{comment_id}/edit", response_class=HTMLResponse)
async def edit_page(request: Request, comment_id: CommentId, ctx: Ctx, user: CurrentUser) -> Response:
    """The edit form on a page of its own (the detail page also has it inline)."""
    async with ctx.db() as session:
        comment = await services.get(session, comment_id)
    if comment is None or comment.deleted_at is not None or comment.torrent.deleted_at is not None:
        raise HTTPException(404, "This comment has been removed, or never existed.")
    if not services.may_edit(user, comment.author_id, comment.created_at, removed=False):
        raise HTTPException(403, "You can no longer edit this comment.")
    return _form(request, _Place.of(comment.torrent), action=f"/comments/{comment_id}/edit",
                 body=comment.body, editing=True, error=None)


@router.post("/comments/{comment_id}/edit", dependencies=CSRF)
async def edit(request: Request, comment_id: CommentId, ctx: Ctx, user: CurrentUser) -> Response:
    body = await _body(request)
    place: _Place | None = None
    try:
        async with transaction(ctx.db) as session:
            comment = await services.get(session, comment_id)
            if comment is not None:
                place = _Place.of(comment.torrent)
            await services.edit(session, comment_id, editor=user, body=body)
    except (NotFound, NotAllowed) as exc:
        raise _refused(exc) from None
    except CommentError as exc:
        assert place is not None
        return _form(request, place, action=f"/comments/{comment_id}/edit", body=body,
                     editing=True, error=str(exc))
    assert place is not None
    return RedirectResponse(f"{place.path}#comment-{comment_id}", status_code=303)


@router.post("/comments/{comment_id}/delete", dependencies=CSRF)
async def delete(comment_id: CommentId, ctx: Ctx, user: CurrentUser) -> Response:
    try:
        async with transaction(ctx.db) as session:
            comment = await services.delete(session, comment_id, by=user)
            place = _Place.of(comment.torrent)
    except CommentError as exc:
        raise _refused(exc) from None
    # A moderator cleaning up under a removed torrent has no page to go back to.
    target = f"{place.path}#comment-{comment_id}" if place.listed else "/"
    return RedirectResponse(target, status_code=303)
