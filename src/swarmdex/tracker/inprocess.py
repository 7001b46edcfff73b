"""The tracker port when the site and the tracker share one process (`swarmdex serve`).

A committed change is applied to the tracker's own objects from the commit itself (an
after-commit hook, `swarmdex.db.hooks`): by the time the request that uploaded a torrent
answers, an announce for it is served; by the time a deletion answers, one is refused.
Reads go straight to the peer store and the tracker's counters.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Iterable, Sequence
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.hooks import after_commit
from swarmdex.peerstore.base import StoreRefused
from swarmdex.protocol.announce import SwarmCounts
from swarmdex.tracker.control import (
    Change,
    Closed,
    Leech,
    Listed,
    Member,
    Restored,
    TakenDown,
    TrackerStatistics,
    TrackerUnavailable,
    Withdrawn,
)
from swarmdex.tracker.eager import Suspended
from swarmdex.tracker.hooks import ListedTorrents
from swarmdex.tracker.logic import Tracker

__all__ = ["InProcessControl"]

log = logging.getLogger("swarmdex.tracker")


def _announced(v1: bytes | None, v2: bytes | None) -> list[bytes]:
    """The 20-byte hashes clients announce a torrent under: v1, truncated v2."""
    return [h for h in (v1, v2[:20] if v2 else None) if h]


class InProcessControl:
    def __init__(self, tracker: Tracker, listed: ListedTorrents | None) -> None:
        self.tracker = tracker
        # The site's torrents in listed mode; None in open mode (every hash is served).
        self.listed = listed
        self._tasks = Suspended()

    # ------------------------------------------------------------------ what the site tells

    def record(self, session: AsyncSession, change: Change) -> None:
        after_commit(session, partial(self.apply, change))

    def apply(self, change: Change) -> None:
        """Apply a committed change now (also the composition root's way in, for changes
        that arrive without a transaction of this process: the site mode read back)."""
        tracker, listed = self.tracker, self.listed
        match change:
            case Listed(v1, v2):
                if listed is not None:
                    listed.add(v1, v2)
            case Withdrawn(v1, v2):
                if listed is not None:
                    listed.remove(v1, v2)
                for key in _announced(v1, v2):
                    if tracker.allowlist.resolve(key) is None:
                        self._forget(key)
            case TakenDown(v1, v2):
                tracker.taken_down.add(v1, v2)
                if listed is not None:
                    listed.remove(v1, v2)
                for key in _announced(v1, v2):
                    self._forget(key)
            case Restored(v1, v2, on_site):
                tracker.taken_down.remove(v1, v2)
                if on_site and listed is not None:
                    listed.add(v1, v2)
            case Closed(reason):
                tracker.closed = reason
            case Member():
                if tracker.members is not None:
                    tracker.members.apply(change)
            case Leech():
                if tracker.members is not None:
                    tracker.members.apply_leech(change)

    def replace_all(self, state: Iterable[Change]) -> None:
        """Serve exactly `state` (the whole of it, as a node starting or catching up loads it:
        Listed and TakenDown per torrent, one Closed, Member per member in private mode),
        dropping the peers of every swarm it no longer serves. All of it runs without a
        pause, so no announce sees half of it."""
        tracker, listed = self.tracker, self.listed
        fresh_listed = ListedTorrents() if listed is not None else None
        fresh_taken: set[bytes] = set()  # announced hashes, as TakenDown keeps them
        closed: str | None = None
        members: list[Member | Leech] = []
        for change in state:
            match change:
                case Listed(v1, v2):
                    if fresh_listed is not None:
                        fresh_listed.add(v1, v2)
                case TakenDown(v1, v2):
                    fresh_taken.update(_announced(v1, v2))
                case Closed(reason):
                    closed = reason
                case Member() | Leech():
                    members.append(change)
                case _:
                    raise ValueError(f"not part of a whole state: {change!r}")
        gone = fresh_taken - tracker.taken_down.hashes
        if listed is not None and fresh_listed is not None:
            gone |= {key for key in listed.replace(fresh_listed)
                     if tracker.allowlist.resolve(key) is None}
        taken = tracker.taken_down.hashes  # changed in place: the tracker holds this set
        taken.intersection_update(fresh_taken)
        taken.update(fresh_taken)
        tracker.closed = closed
        if tracker.members is not None:
            tracker.members.replace(members)
        for key in sorted(gone):
            self._forget(key)

    def _forget(self, swarm_key: bytes) -> None:
        """Drop a swarm's peers: at once with the memory store (it never waits), else
        when the store answers. Either way the tracker already refuses the torrent."""
        self._drive(self.tracker.store.remove_swarm(swarm_key))

    def _drive(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            pending = coro.send(None)
        except StopIteration:
            return
        self._tasks.finish(coro, pending, self._done)

    @staticmethod
    def _done(task: Any) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("dropping a withdrawn swarm's peers failed", exc_info=task.exception())

    # ------------------------------------------------------------------ what the site reads

    async def scrape(self, swarm_keys: Sequence[bytes], now: float) -> list[SwarmCounts]:
        try:
            return await self.tracker.store.scrape(swarm_keys, now)
        except StoreRefused as exc:
            raise TrackerUnavailable(exc.reason) from None

    async def statistics(self) -> TrackerStatistics:
        try:
            swarms, peers = await self.tracker.store.totals()
        except StoreRefused as exc:
            raise TrackerUnavailable(exc.reason) from None
        counters = self.tracker.counters
        return TrackerStatistics(swarms, peers, counters.announces, counters.scrapes,
                                 counters.refused)

    async def close(self) -> None:
        await self._tasks.cancel()
