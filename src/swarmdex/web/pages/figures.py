"""Private mode: members' figures on the site (elsewhere these pages are 404s).

- /account/snatches: the member's own snatch list, newest first, paged; their totals are
  on the account page (`swarmdex.web.pages.accounts`) and in `GET /api/v1/account`.
- /moderation/members/{name}: for staff, any member's totals with the raw figures their
  clients reported, and their snatch list.
- /t/{info_hash}/snatches: for staff, who completed a torrent.

Nobody else sees a member's figures: the public profile shows none, as the privacy page
says. The figures are `swarmdex.private.figures`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from swarmdex.db.models import Role, User, utcnow
from swarmdex.private import figures, hitandrun, ratio
from swarmdex.torrents import services as torrents
from swarmdex.web.auth import CurrentUser, require_role
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.pages.invites import PRIVATE
from swarmdex.web.pages.profiles import find_user
from swarmdex.web.templates import render

__all__ = ["MAX_PAGE", "Page", "Standing", "member_standing", "member_totals", "router",
           "snatch_page"]

router = APIRouter(include_in_schema=False)
Staff = Annotated[User, Depends(require_role(Role.MODERATOR))]
# Past this a page number is a mistake, not a list anyone reads (and a deep OFFSET costs).
MAX_PAGE: Final = 10_000
Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1 for the newest.")]


def _ttl(ctx: SiteContext) -> timedelta:
    """How long after its last announce a member's client counts as in the swarm: as long
    as the tracker keeps its peer."""
    return timedelta(seconds=ctx.settings.effective_peer_ttl)


async def member_totals(ctx: SiteContext, user_id: int) -> figures.Totals:
    async with ctx.db() as session:
        return await figures.totals(session, user_id, now=utcnow(), ttl=_ttl(ctx))


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a member stands with the site's rules: why they may not start downloads (the
    tracker's answer; None if they may), and the torrents they must seed (hit-and-runs)."""

    refusal: str | None
    obligations: list[hitandrun.Obligation]


async def member_standing(ctx: SiteContext, user_id: int) -> Standing:
    async with ctx.db() as session:
        return Standing(
            await ratio.refusal_of(session, ctx.settings, user_id),
            await hitandrun.obligations(session, ratio.hit_and_run_rule(ctx.settings), user_id,
                                        utcnow()))


async def snatch_page(ctx: SiteContext, user_id: int, page: int,
                      per_page: int = figures.PER_PAGE) -> figures.SnatchPage:
    async with ctx.db() as session:
        return await figures.snatches(session, user_id, now=utcnow(), ttl=_ttl(ctx),
                                      page=page, per_page=per_page)


@router.get("/account/snatches", response_class=HTMLResponse, dependencies=[PRIVATE])
async def my_snatches(request: Request, ctx: Ctx, user: CurrentUser,
                      page: Page = 1) -> HTMLResponse:
    return render(request, "private/snatches.html", found=await snatch_page(ctx, user.id, page),
                  here="/account/snatches", member=None)


@router.get("/moderation/members/{name}", response_class=HTMLResponse, dependencies=[PRIVATE])
async def member(request: Request, ctx: Ctx, user: Staff, name: str,
                 page: Page = 1) -> HTMLResponse:
    async with ctx.db() as session:
        shown = await find_user(session, name)
    return render(request, "private/member.html", member=shown,
                  totals=await member_totals(ctx, shown.id),
                  found=await snatch_page(ctx, shown.id, page),
                  here=f"/moderation/members/{quote(shown.name, safe='')}")


@router.get("/t/{info_hash}/snatches", response_class=HTMLResponse, dependencies=[PRIVATE])
async def torrent_snatchers(request: Request, ctx: Ctx, user: Staff, info_hash: str,
                            page: Page = 1) -> HTMLResponse:
    async with ctx.db() as session:
        # Deleted torrents too: staff may need to know who had one that was taken down.
        torrent = await torrents.find(session, info_hash, include_deleted=True)
        if torrent is None:
            raise HTTPException(404)
        found = await figures.snatchers(session, torrent.id, now=utcnow(), ttl=_ttl(ctx),
                                        page=page)
    canonical = torrents.info_hash(torrent)
    return render(request, "private/snatchers.html", torrent=torrent, info_hash=canonical,
                  found=found, here=f"/t/{canonical}/snatches")
