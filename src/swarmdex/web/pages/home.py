"""The home page and the live tracker figures."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from swarmdex import __version__
from swarmdex.news import services as news
from swarmdex.search.catalogue import browse
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.pages.browse import Swarms
from swarmdex.web.pages.donations import campaign_bar
from swarmdex.web.pages.news import post_path
from swarmdex.web.private import announce_urls
from swarmdex.web.templates import render

router = APIRouter()

LATEST_SHOWN = 10
NEWS_SHOWN = 3


async def tracker_figures(ctx: SiteContext) -> dict[str, int]:
    return asdict(await ctx.tracker.statistics())


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request, ctx: Ctx, swarms: Swarms) -> HTMLResponse:
    async with ctx.db() as session:
        latest = await browse(session, swarms, per_page=LATEST_SHOWN)
        posts = await news.latest(session, NEWS_SHOWN)
    return render(request, "home.html", figures=await tracker_figures(ctx),
                  campaign=await campaign_bar(ctx),
                  announce_urls=await announce_urls(ctx, request),
                  news=[(post, post_path(post), news.excerpt(post.body)) for post in posts],
                  latest=[(e.torrent, e.counts, None, None) for e in latest.entries])


@router.get("/stats.json", tags=["site"])
async def stats(ctx: Ctx) -> dict[str, Any]:
    """Live tracker figures."""
    return {
        "version": __version__,
        **await tracker_figures(ctx),
        "uptime_s": int(time.time() - ctx.started),
        **ctx.counters(),
    }
