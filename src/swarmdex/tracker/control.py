"""The port between the site and the tracker: what the site tells it, and what it reads back.

The site never reaches into the tracker. Domain services describe what changed (`Listed`,
`Withdrawn`, `TakenDown`, `Restored`, `Closed`, and in private mode `Member`) and hand it to `tell` inside the transaction
that makes the change; pages read swarm counts and tracker statistics through the same port.

Contract of a `TrackerControl`
------------------------------
1. `record(session, change)` is called inside the transaction that makes `change`. The
   tracker learns of it if and only if that transaction commits, and after it has: a
   rollback never leaves the tracker serving a torrent the database does not have.
2. Changes of one transaction reach the tracker in the order they were recorded, and
   changes of successive transactions in commit order.
3. Applying a change again is harmless (a node catching up may see it twice).
4. `scrape` answers seeders, leechers and completed downloads for swarm keys, as the
   tracker's own scrape would; unknown keys read as zeros.
5. `statistics` answers whole-tracker figures cheaply enough for every home page view.

Implementations: `swarmdex.tracker.inprocess` (site and tracker in one process: a change
applies in memory right after the commit, as fast as a function call).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from swarmdex.db.hooks import before_commit
from swarmdex.protocol.announce import SwarmCounts
from swarmdex.tracker.changes import (
    Change,
    Closed,
    Leech,
    Listed,
    Member,
    Restored,
    TakenDown,
    Withdrawn,
)
from swarmdex.tracker.models import to_row

__all__ = [
    "Change",
    "Closed",
    "Leech",
    "Listed",
    "Member",
    "Restored",
    "TakenDown",
    "TrackerControl",
    "TrackerStatistics",
    "TrackerUnavailable",
    "Withdrawn",
    "attach",
    "tell",
]




@dataclass(frozen=True, slots=True)
class TrackerStatistics:
    """Whole-tracker figures for the home page and /stats.json."""

    torrents_active: int = 0  # swarms the peer store holds
    peers: int = 0
    announces: int = 0  # answered since start
    scrapes: int = 0
    refused: int = 0


class TrackerUnavailable(Exception):
    """The tracker cannot answer a read now (its shared peer store does not answer). Pages
    answer 503 and try again on the next request."""


class TrackerControl(Protocol):
    def record(self, session: AsyncSession, change: Change) -> None:
        """Make `change` reach the tracker once `session`'s transaction commits (duty 1)."""
        ...

    async def scrape(self, swarm_keys: Sequence[bytes], now: float) -> list[SwarmCounts]:
        """Counts per swarm key; raises TrackerUnavailable when they cannot be read now."""
        ...

    async def statistics(self) -> TrackerStatistics:
        """Whole-tracker figures; raises TrackerUnavailable when they cannot be read now."""
        ...


# PostgreSQL advisory lock that orders the writers of feed rows (see `_write`); any number
# unlikely to be chosen by another application sharing the database.
FEED_LOCK: Final = 0x73776D64_66656564  # "swmdfeed"
# PostgreSQL channel notified by every transaction that writes feed rows, so that nodes read
# the feed at once rather than at their next poll (`swarmdex.tracker.feed_wake`).
FEED_CHANNEL: Final = "swarmdex_tracker_feed"

# session.info key under which a session factory carries its tracker port.
_CONTROL: Final = "swarmdex.tracker_control"


def attach(sessions: async_sessionmaker[AsyncSession], control: TrackerControl) -> None:
    """Give every session of `sessions` this tracker port, for `tell`."""
    sessions.configure(info={_CONTROL: control})


def tell(session: AsyncSession, change: Change) -> None:
    """Record `change` for the tracker, to reach it once `session` commits.

    The change is written to the change feed in `session`'s transaction, as one of its last
    writes (`_write`), whatever the process: every tracker node follows the feed, so a change made anywhere (a web worker,
    a command-line tool) reaches them all, and a rollback takes it back with the rest. A
    port attached to the session (`attach`) also learns of it at commit, so a tracker in
    this very process applies it at once.
    """
    before_commit(session, functools.partial(_write, change))
    control: TrackerControl | None = session.info.get(_CONTROL)
    if control is not None:
        control.record(session, change)


def _write(change: Change, session: Session) -> None:
    """Write `change`'s feed row as one of the transaction's last statements.

    Followers read the feed in id order and remember the last id they applied, so ids must
    follow commit order. SQLite has one writer at a time; on PostgreSQL two transactions
    could take ids 5 and 6 and commit 6 first, and a follower that read 6 would never see 5.
    A transaction-scoped advisory lock taken right before the insert makes every writer of
    feed rows take its ids and commit in turn. Held only for the insert and the commit, it
    waits on nothing else, so it cannot deadlock with the transaction's other locks.

    The same statement notifies the nodes listening on `FEED_CHANNEL`. PostgreSQL delivers a
    notification at commit, and only if the transaction commits, so a node woken by it finds
    the row visible; the notifications of one transaction are delivered as one.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key), pg_notify(:channel, '')"),
                        {"key": FEED_LOCK, "channel": FEED_CHANNEL})
    session.add(to_row(change))
