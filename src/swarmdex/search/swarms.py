"""Seeders, leechers and completed downloads for lists of torrents, from the tracker.

Counts are never stored in the database: they live in the tracker's peer store, and every
page asks it (`SwarmCounter.live`). Sorting the whole catalogue by a count needs the counts
of every active swarm at once, which the peer store's `scrape` can only give for keys it is
asked about: `SwarmCounter.snapshot` asks it about every torrent on the site, in batches
over the swarm-key index, and keeps the non-zero answers for `max_age` seconds. That walk
costs time in proportion to the catalogue (about half a second per million torrents), paid
at most once per `max_age` and only while somebody sorts or filters by counts. A peer store
able to list its active swarms would make it proportional to those instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.models import Torrent
from swarmdex.protocol.announce import SwarmCounts

__all__ = ["Scraper", "Snapshot", "SwarmCounter"]

DEFAULT_MAX_AGE: Final = 30.0
_BATCH: Final = 20_000
ZERO: Final = SwarmCounts(0, 0, 0)


class Scraper(Protocol):
    """What is needed of the tracker (`swarmdex.tracker.control.TrackerControl`; a peer
    store, `swarmdex.peerstore.base.PeerStore`, answers the same)."""

    async def scrape(self, info_hashes: Sequence[bytes], now: float) -> list[SwarmCounts]: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken: float  # monotonic clock
    counts: dict[int, SwarmCounts]  # torrent id -> counts, for swarms with any count at all

    def get(self, torrent_id: int) -> SwarmCounts:
        return self.counts.get(torrent_id, ZERO)


class SwarmCounter:
    def __init__(
        self,
        store: Scraper,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.max_age = max_age
        self._clock = clock
        self._wall_clock = wall_clock
        self._snapshot: Snapshot | None = None
        self._refreshing = asyncio.Lock()

    async def live(self, torrents: Sequence[Torrent]) -> list[SwarmCounts]:
        """The counts of these torrents right now, in order."""
        if not torrents:
            return []
        return await self.store.scrape([t.swarm_key for t in torrents], self._wall_clock())

    async def snapshot(self, session: AsyncSession) -> Snapshot:
        """Counts of every torrent with an active swarm, at most `max_age` seconds old."""
        if self._fresh(self._snapshot):
            assert self._snapshot is not None
            return self._snapshot
        async with self._refreshing:  # concurrent pages wait for one walk, not one each
            if not self._fresh(self._snapshot):
                self._snapshot = await self._take(session)
            assert self._snapshot is not None
            return self._snapshot

    def _fresh(self, snapshot: Snapshot | None) -> bool:
        return snapshot is not None and self._clock() - snapshot.taken < self.max_age

    async def _take(self, session: AsyncSession) -> Snapshot:
        taken = self._clock()
        counts: dict[int, SwarmCounts] = {}
        last = b""
        while True:
            # Keyset over the unique swarm_key index: it holds (swarm_key, id), so the walk
            # never reads the torrents' rows (their info dictionaries are large).
            rows = (
                await session.execute(
                    select(Torrent.swarm_key, Torrent.id)
                    .where(Torrent.swarm_key > last)
                    .order_by(Torrent.swarm_key)
                    .limit(_BATCH)
                )
            ).all()
            if not rows:
                return Snapshot(taken, counts)
            scraped = await self.store.scrape([key for key, _ in rows], self._wall_clock())
            for (_, torrent_id), found in zip(rows, scraped, strict=True):
                if found.complete or found.incomplete or found.downloaded:
                    counts[torrent_id] = found
            last = rows[-1][0]
