"""What the site's request handlers need, built once per process by swarmdex.node."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from swarmdex.ratelimits import Limits, MemoryLimits
from swarmdex.settings import Settings
from swarmdex.tracker.control import TrackerControl


@dataclass
class SiteContext:
    settings: Settings
    db: async_sessionmaker[AsyncSession]
    # The port to the tracker (swarmdex.tracker.control): swarm counts and statistics are
    # read through it; what the site changes reaches it from the domain services' commits.
    tracker: TrackerControl
    secret: bytes
    base_url: str = ""
    announce_urls: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    # Transport counters (UDP packets, HTTP connections...) for /stats.json.
    counters: Callable[[], dict[str, int]] = dict
    # What of the peer store's configuration writes peers to disk (for /privacy).
    peers_persist: tuple[str, ...] = ()
    # Rate limits of forms (swarmdex.ratelimits): this process's own, or shared in Redis.
    limits: Limits = field(default_factory=MemoryLimits)


async def context(request: Request) -> SiteContext:
    """FastAPI dependency: the SiteContext of the app serving `request`. (Dependencies
    are coroutines: FastAPI runs a plain function in a worker thread, a hand-off between
    threads on every request.)"""
    ctx: SiteContext = request.app.state.ctx
    return ctx


Ctx = Annotated[SiteContext, Depends(context)]
