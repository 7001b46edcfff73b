"""The durable change feed: the tracker port between processes.

Every change the site tells the tracker (`swarmdex.tracker.control.tell`) is written as a
row of `tracker_changes` in the very transaction that makes it, so the row exists if and
only if the change committed, whichever process made it: a web worker, a command-line tool,
the embedded server. Every process that runs a tracker follows the feed with a
`FeedFollower`:

- at start it loads the whole state once (`load`: the site's torrents, the standing
  takedowns, the site mode, given as changes) together with the feed's last id, in one read
  transaction, so the two agree;
- then it applies the rows after that id, in id order: on PostgreSQL as soon as a change
  commits, woken by a notification (`swarmdex.tracker.feed_wake`), and every
  `listening_poll` seconds in case one was lost; every `poll` seconds on SQLite, and on
  PostgreSQL while it cannot listen;
- a node that could not read the database for longer than `reload_after` loads the whole
  state again rather than trust that no row it missed was pruned meanwhile; a restarted node
  starts cold, so nothing is ever lost to a crash.

The embedded server also applies its own changes in memory at commit
(`swarmdex.tracker.inprocess`) and then meets them again in the feed: applying a change twice
is harmless (duty 3 of the port), and since rows are applied in commit order the end state is
the database's. `FeedControl` is the port of a process that runs no tracker (`swarmdex web`):
it writes nothing more than `tell` does, and reads counts from the shared peer store.

Ids follow commit order: SQLite has one writer at a time, and on PostgreSQL the writers of
feed rows take an advisory lock for their last statements (`swarmdex.tracker.control._write`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Final, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from swarmdex.peerstore.base import PeerStore, StoreRefused
from swarmdex.protocol.announce import SwarmCounts
from swarmdex.tracker.changes import Change
from swarmdex.tracker.control import TrackerStatistics, TrackerUnavailable
from swarmdex.tracker.feed_wake import FeedWaker, can_listen
from swarmdex.tracker.models import TrackerChange, from_row

__all__ = ["Applier", "FeedControl", "FeedFollower", "Load", "prune"]

log = logging.getLogger("swarmdex.tracker")

POLL: Final = 0.25  # seconds between reads of the feed: a change reaches nodes within ~this
# Seconds between reads while notifications wake the follower: a change reaches nodes at once,
# or within this if its notification was lost with a connection that died without a word.
LISTENING_POLL: Final = 1.0
BATCH: Final = 1000  # rows read at once
RELOAD_AFTER: Final = 3600.0  # seconds without a successful read before a full reload
RETENTION: Final = dt.timedelta(days=1)  # far longer than RELOAD_AFTER


class FeedControl:
    """The port as the site sees it when the tracker is elsewhere: changes go into the feed;
    counts are read from the peer store the nodes share."""

    def __init__(self, store: PeerStore) -> None:
        self.store = store

    def record(self, session: AsyncSession, change: Change) -> None:
        pass  # `tell` has written the row; the nodes read it from the feed

    async def scrape(self, swarm_keys: Sequence[bytes], now: float) -> list[SwarmCounts]:
        try:
            return await self.store.scrape(swarm_keys, now)
        except StoreRefused as exc:
            raise TrackerUnavailable(exc.reason) from None

    async def statistics(self) -> TrackerStatistics:
        # Counts from the shared store; announces and refusals as the nodes publish them.
        try:
            swarms, peers = await self.store.totals()
            counters = await self.store.summed_counters()
        except StoreRefused as exc:
            raise TrackerUnavailable(exc.reason) from None
        return TrackerStatistics(swarms, peers, counters.get("announces", 0),
                                 counters.get("scrapes", 0), counters.get("refused", 0))

    async def close(self) -> None:
        pass  # the store is closed by whoever opened it


class Applier(Protocol):
    """What a follower drives: the tracker's own state (`InProcessControl` has both)."""

    def apply(self, change: Change) -> None:
        """Apply one committed change."""

    def replace_all(self, state: Iterable[Change]) -> None:
        """Serve exactly this whole state (Listed and TakenDown per torrent, one Closed)."""


Load = Callable[[AsyncSession], Awaitable[Iterable[Change]]]


class FeedFollower:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        applier: Applier,
        load: Load,
        *,
        poll: float = POLL,
        listening_poll: float = LISTENING_POLL,
        reload_after: float = RELOAD_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.applier = applier
        self.load = load
        self.poll = poll
        self.listening_poll = listening_poll
        self.reload_after = reload_after
        self.clock = clock
        self.position = 0  # the last id applied
        self.applied = 0  # changes applied since start (for tests and statistics)
        self._last_read = clock()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._waker: FeedWaker | None = None

    async def start(self) -> None:
        """Load the whole state (errors go to the caller: a node must not serve without it),
        then follow the feed in a task until `stop`."""
        await self.reload()
        engine = self.sessions.kw.get("bind")
        if isinstance(engine, AsyncEngine) and can_listen(engine):
            self._waker = FeedWaker(engine, self.wake)
            self._waker.start()
        self._task = asyncio.create_task(self._follow())

    @property
    def listening(self) -> bool:
        """Whether notifications wake this follower now (PostgreSQL, connected)."""
        return self._waker is not None and self._waker.listening

    def wake(self) -> None:
        """Read the feed now rather than at the next poll."""
        self._wakeup.set()

    async def reload(self) -> None:
        # One read transaction, so that state and id agree: SQLite's reads in a transaction
        # are a snapshot; PostgreSQL's are only with REPEATABLE READ.
        async with self.sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            position = await session.scalar(select(func.max(TrackerChange.id))) or 0
            state = list(await self.load(session))
        self.applier.replace_all(state)
        self.position = position
        self._last_read = self.clock()

    async def read(self) -> int:
        """Apply what the feed holds past `position`; how many changes. Raises what the
        database raises."""
        if self.clock() - self._last_read > self.reload_after:
            log.warning("tracker feed: not read for %.0f s; loading the whole state again",
                        self.clock() - self._last_read)
            await self.reload()
            return 0
        count = 0
        while True:
            async with self.sessions() as session:
                rows = (await session.scalars(
                    select(TrackerChange).where(TrackerChange.id > self.position)
                    .order_by(TrackerChange.id).limit(BATCH))).all()
            self._last_read = self.clock()
            for row in rows:
                change = from_row(row)
                if change is None:
                    log.warning("tracker feed: change %d of unknown kind %r skipped",
                                row.id, row.kind)
                else:
                    self.applier.apply(change)
                    count += 1
                    self.applied += 1
                self.position = row.id
            if len(rows) < BATCH:
                return count

    async def _follow(self) -> None:
        failing = False
        while True:
            # Relaxed only while notifications arrive, and never below the rate `poll` asks.
            poll = max(self.poll, self.listening_poll) if self.listening else self.poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), poll)
            self._wakeup.clear()
            try:
                await self.read()
            except Exception as exc:  # the database is away: keep serving, retry next poll
                if not failing:
                    log.error("tracker feed: cannot read the database: %s", exc)
                failing = True
                continue
            if failing:
                log.info("tracker feed: reading again")
                failing = False

    async def stop(self) -> None:
        if self._waker is not None:
            await self._waker.stop()
            self._waker = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


async def prune(session: AsyncSession, now: dt.datetime, retention: dt.timedelta = RETENTION) -> int:
    """Delete feed rows older than `retention`; how many. The newest row always stays, so
    the feed's last id never goes back."""
    newest = await session.scalar(select(func.max(TrackerChange.id)))
    if newest is None:
        return 0
    result = await session.execute(
        delete(TrackerChange).where(TrackerChange.made_at < now - retention,
                                    TrackerChange.id < newest))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
