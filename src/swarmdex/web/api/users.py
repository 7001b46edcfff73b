"""JSON API for members: a public profile and its uploads, the twin of the page /u/{name}.

It answers with exactly what the page shows: no e-mail address, and no anonymous upload
(neither listed nor counted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from swarmdex.profiles import services as profiles
from swarmdex.search.catalogue import MAX_PER_PAGE
from swarmdex.web.api import PREFIX, error_responses
from swarmdex.web.api.search import TorrentSummary, summary
from swarmdex.web.context import Ctx
from swarmdex.web.pages.browse import Swarms
from swarmdex.web.pages.profiles import (
    UPLOADS_PER_PAGE,
    avatar_path,
    feed_path,
    find_user,
    profile_path,
    uploads,
)
from swarmdex.web.private import announce_urls

router = APIRouter(prefix=PREFIX, tags=["users"])


class BadgeOut(BaseModel):
    kind: str = Field(description="trusted, moderator, admin or donor.")
    label: str
    title: str = Field(description="What the badge means.")


class UserOut(BaseModel):
    """A member's public profile, with one page of their uploads (newest first)."""

    name: str = Field(description="The account name, as in /u/{name}.")
    display_name: str = Field(description="The name they chose to show; the account name if none.")
    role: str = Field(description="user, trusted, moderator or admin.")
    joined: datetime
    bio: str = Field(description="Markdown, as they wrote it; empty for a disabled account.")
    badges: list[BadgeOut]
    disabled: bool
    upload_count: int = Field(description="Uploads on the site under their name.")
    comment_count: int
    url: str = Field(description="The profile page.")
    avatar_url: str = Field(description="Their identicon (SVG).")
    feed_url: str = Field(description="RSS feed of their uploads.")
    uploads: list[TorrentSummary]
    next: str | None = Field(description="Pass as `after` for older uploads; null on the last page.")
    previous: str | None = Field(description="Pass as `before` for newer uploads.")


@router.get(
    "/users/{name}",
    response_model=UserOut,
    summary="A member's profile",
    responses=error_responses(404),
)
async def show(
    request: Request,
    name: str,
    ctx: Ctx,
    swarms: Swarms,
    after: Annotated[str | None, Query(max_length=1024, description="`next` of a page.")] = None,
    before: Annotated[str | None, Query(max_length=1024, description="`previous` of a page.")] = None,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = UPLOADS_PER_PAGE,
) -> UserOut:
    """A member by account name (in any case), and their uploads page by page."""
    async with ctx.db() as session:
        user = await find_user(session, name)
        shown = await profiles.profile(session, user)
        page = await uploads(session, swarms, user, after=after, before=before, per_page=per_page)
    base = ctx.base_url.rstrip("/")
    urls = await announce_urls(ctx, request)
    return UserOut(
        name=shown.name,
        display_name=shown.display_name,
        role=shown.role.value,
        joined=shown.joined,
        bio=shown.bio,
        badges=[BadgeOut(kind=b.kind, label=b.label, title=b.title) for b in shown.badges],
        disabled=shown.disabled,
        upload_count=shown.uploads,
        comment_count=shown.comments,
        url=base + profile_path(user),
        avatar_url=base + avatar_path(user),
        feed_url=base + feed_path(user),
        uploads=[summary(ctx, e.torrent, e.counts, urls) for e in page.entries],
        next=page.next,
        previous=page.previous,
    )
