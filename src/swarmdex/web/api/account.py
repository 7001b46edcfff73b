"""JSON API for the token's own account: who it is and, on a private site, their figures
(the twin of the account page's "Your ratio" and of /account/snatches).

The figures are the member's own: nobody else's are in the API. On a site that is not
private the tracker keeps no figures: `/account` answers with `figures: null` (so one
client works on any site), and `/account/snatches` is a 404, as its page is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from swarmdex.private import figures
from swarmdex.search.catalogue import MAX_PER_PAGE
from swarmdex.web.api import PREFIX, error_responses
from swarmdex.web.auth import ApiUser
from swarmdex.web.context import Ctx
from swarmdex.web.pages.figures import Page, member_standing, member_totals, snatch_page
from swarmdex.web.pages.invites import PRIVATE

router = APIRouter(prefix=PREFIX, tags=["account"])


class ObligationOut(BaseModel):
    info_hash: str
    title: str
    deadline: datetime = Field(description="Seed it the site's hours before this.")
    seeded_hours: float
    missed: bool = Field(description="Past the deadline without the hours: a hit-and-run "
                         "(seeding it still makes up for it).")


class FiguresOut(BaseModel):
    """What this site's tracker credited you, over every torrent (private sites only)."""

    uploaded: int = Field(description="Bytes uploaded, as credited: what the ratio counts.")
    downloaded: int = Field(description="Bytes downloaded, as credited.")
    ratio: float | None = Field(description="uploaded / downloaded; null while downloaded is "
                                "0 (the site shows ∞ if you uploaded anything).")
    seeding: int = Field(description="Torrents you seed now: your client's last announce "
                         "said it had all of it, within the tracker's peer lifetime.")
    leeching: int = Field(description="Torrents you download now, likewise.")
    snatches: int = Field(description="Torrents your client downloaded in full through this "
                          "tracker.")
    seeding_seconds: float = Field(description="Time spent seeding, over every torrent.")
    downloads_refused: str | None = Field(
        None, description="Why the tracker refuses to start your downloads now (a ratio under "
        "the site's minimum, too many hit-and-runs); null if it does not.")
    to_seed: list[ObligationOut] = Field(
        default_factory=list, description="Torrents you must seed (the hit-and-run rule), "
        "the nearest deadline first, the missed ones included.")


class AccountOut(BaseModel):
    """The account the API token belongs to."""

    name: str
    role: str = Field(description="user, trusted, moderator or admin.")
    private: bool = Field(description="Whether the site is private (members only, with "
                          "ratio accounting).")
    figures: FiguresOut | None = Field(description="Your figures on a private site; null "
                                       "elsewhere, where the tracker keeps none.")


class SnatchOut(BaseModel):
    info_hash: str = Field(description="The torrent, as in /api/v1/torrents/{info_hash}.")
    title: str
    removed: bool = Field(description="Taken off the site since: its figures still count.")
    completed_at: datetime = Field(description="When your client first completed it.")
    uploaded: int = Field(description="Bytes uploaded in its swarm, as credited.")
    downloaded: int
    seeding_seconds: float
    seeding_now: bool


class SnatchList(BaseModel):
    """One page of your snatches, newest first."""

    snatches: list[SnatchOut]
    page: int
    next_page: int | None = Field(description="The next (older) page; null on the last.")


@router.get("/account", response_model=AccountOut, summary="Your account and ratio",
            responses=error_responses(401, 403))
async def account(ctx: Ctx, user: ApiUser) -> AccountOut:
    """Who the token belongs to, with your figures on a private site (`figures` is null on
    other sites)."""
    shown = None
    if ctx.settings.private:
        t = await member_totals(ctx, user.id)
        standing = await member_standing(ctx, user.id)
        shown = FiguresOut(uploaded=t.uploaded, downloaded=t.downloaded, ratio=t.ratio,
                           seeding=t.seeding, leeching=t.leeching, snatches=t.snatches,
                           seeding_seconds=t.seeding_seconds,
                           downloads_refused=standing.refusal,
                           to_seed=[ObligationOut(info_hash=o.info_hash, title=o.title,
                                                  deadline=o.deadline,
                                                  seeded_hours=o.seeded_hours, missed=o.missed)
                                    for o in standing.obligations])
    return AccountOut(name=user.name, role=user.role.value, private=ctx.settings.private,
                      figures=shown)


@router.get("/account/snatches", response_model=SnatchList, summary="Your snatches",
            dependencies=[PRIVATE], responses=error_responses(401, 403, 404))
async def snatches(
    ctx: Ctx,
    user: ApiUser,
    page: Page = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = figures.PER_PAGE,
) -> SnatchList:
    """The torrents you downloaded in full through this site's tracker, newest first, with
    what you did in each swarm. A private site's only: 404 elsewhere."""
    found = await snatch_page(ctx, user.id, page, per_page)
    return SnatchList(
        snatches=[SnatchOut(info_hash=s.info_hash, title=s.title, removed=s.deleted,
                            completed_at=s.completed_at, uploaded=s.uploaded,
                            downloaded=s.downloaded, seeding_seconds=s.seeding_seconds,
                            seeding_now=s.seeding_now)
                  for s in found.snatches],
        page=found.page,
        next_page=found.page + 1 if found.has_next else None,
    )
