"""Waking tracker nodes the moment a change commits, on PostgreSQL: LISTEN/NOTIFY.

The transaction that writes rows of the change feed also notifies `FEED_CHANNEL`
(`swarmdex.tracker.control._write`). PostgreSQL delivers a notification at commit, and only if
the transaction commits, so a node woken by one finds the rows visible. A `FeedWaker` holds a
connection of its own that listens on the channel and wakes its `FeedFollower` on every
notification; the follower then reads the feed as it would on a poll.

Notifications only make changes arrive sooner; nothing depends on them. The follower reads
everything past the last id it applied, whatever woke it, and keeps polling: rarely while the
waker listens (for a notification lost with a connection that died without a word), at its
full rate while it does not (the database restarting, LISTEN refused). A lost connection is
opened again with a bounded backoff, and every (re)connect wakes the follower once, for what
committed while nobody listened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final, Protocol, cast

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from swarmdex.tracker.control import FEED_CHANNEL

__all__ = ["APPLICATION_NAME", "FeedWaker", "can_listen"]

log = logging.getLogger("swarmdex.tracker")

# How the listening connection shows in pg_stat_activity.
APPLICATION_NAME: Final = "swarmdex tracker feed"
# Seconds before connecting again after a failure, doubled at each failure up to RETRY_MAX:
# a database that is away is not hammered, and one that is back is heard from soon.
RETRY_FIRST: Final = 0.25
RETRY_MAX: Final = 15.0
# A connection cut without a word (a machine gone, packets dropped) never reports itself
# closed: a query this often, answered within CHECK_TIMEOUT, tells it is still there.
CHECK_EVERY: Final = 30.0
CHECK_TIMEOUT: Final = 10.0


class _Listening(Protocol):
    """What is used of the driver's (asyncpg's) connection."""

    async def add_listener(self, channel: str, callback: Callable[..., object]) -> None: ...

    def add_termination_listener(self, callback: Callable[..., object]) -> None: ...

    async def execute(self, query: str, *args: object, timeout: float | None = None) -> str: ...


def can_listen(engine: AsyncEngine) -> bool:
    """Whether a `FeedWaker` can listen through `engine`'s database and driver."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"


class FeedWaker:
    """Calls `wake` on every notification of `FEED_CHANNEL`, and on every (re)connect and
    loss of its connection; `listening` says whether notifications can arrive now."""

    def __init__(self, engine: AsyncEngine, wake: Callable[[], None]) -> None:
        # A connection of its own, outside `engine`'s pool: it is held for the node's whole
        # life, and a connection that has run LISTEN must not serve anything else. The same
        # URL and driver, so it reaches the database the node reads, however it is named.
        self._engine = create_async_engine(
            engine.url, poolclass=NullPool,
            connect_args={"server_settings": {"application_name": APPLICATION_NAME}})
        self._wake = wake
        self.listening = False
        self._failing = False  # said so in the log, not yet listening again
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._engine.dispose()

    async def _run(self) -> None:
        retry = RETRY_FIRST
        while True:
            try:
                await self._listen()
                reason = "the connection was closed"
            except Exception as exc:
                reason = str(exc) or type(exc).__name__
            if self.listening:
                self.listening = False
                self._wake()  # back to polling at the full rate now, not after a long poll
                retry = RETRY_FIRST
            if not self._failing:
                log.warning("tracker feed: not listening for changes, polling meanwhile: %s",
                            reason)
                self._failing = True
            await asyncio.sleep(retry)
            retry = min(retry * 2, RETRY_MAX)

    async def _listen(self) -> None:
        """Listen until the connection is lost; raises what connecting or LISTEN raise."""
        connection: AsyncConnection = await self._engine.connect()
        try:
            raw = await connection.get_raw_connection()
            driver = cast(_Listening, raw.driver_connection)
            lost = asyncio.Event()
            driver.add_termination_listener(lambda _connection: lost.set())
            await driver.add_listener(FEED_CHANNEL, self._notified)
            self.listening = True
            if self._failing:
                log.info("tracker feed: listening for changes again")
                self._failing = False
            self._wake()  # for what committed while nobody listened
            await self._watch(driver, lost)
        finally:
            # Closed at once, alive or not: a connection that ran LISTEN serves nothing else.
            try:
                with contextlib.suppress(Exception):  # a dead one may not close gracefully
                    await connection.invalidate()
            finally:
                await connection.close()

    async def _watch(self, driver: _Listening, lost: asyncio.Event) -> None:
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), CHECK_EVERY)
                return
            await driver.execute("SELECT 1", timeout=CHECK_TIMEOUT)

    def _notified(self, *_args: Any) -> None:
        self._wake()
