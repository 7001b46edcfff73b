"""The port between the site and the tracker: what the site tells it, and what it reads back.

The site never reaches into the tracker. Domain services describe what changed (`Listed`,
`Withdrawn`, `TakenDown`, `Restored`, `Closed`) and hand it to `tell` inside the transaction
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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.protocol.announce import SwarmCounts

__all__ = [
    "Change",
    "Closed",
    "Listed",
    "Restored",
    "TakenDown",
    "TrackerControl",
    "TrackerStatistics",
    "Withdrawn",
    "attach",
    "tell",
]


@dataclass(frozen=True, slots=True)
class Listed:
    """A torrent is on the site (uploaded, unhidden): in listed mode the tracker serves it."""

    v1: bytes | None
    v2: bytes | None


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """A torrent left the site (deleted, hidden): refuse it and forget its peers, unless the
    tracker serves it for another reason (open mode, the operator's allowlist file)."""

    v1: bytes | None
    v2: bytes | None


@dataclass(frozen=True, slots=True)
class TakenDown:
    """A torrent removed following a legal notice: refused in every mode, peers forgotten."""

    v1: bytes | None
    v2: bytes | None


@dataclass(frozen=True, slots=True)
class Restored:
    """A takedown was lifted. `listed`: the torrent is on the site again, so serve it."""

    v1: bytes | None
    v2: bytes | None
    listed: bool


@dataclass(frozen=True, slots=True)
class Closed:
    """The site's closed mode: while `reason` is set every announce and scrape is refused
    with it as the `failure reason`; None serves again."""

    reason: str | None


Change = Listed | Withdrawn | TakenDown | Restored | Closed


@dataclass(frozen=True, slots=True)
class TrackerStatistics:
    """Whole-tracker figures for the home page and /stats.json."""

    torrents_active: int = 0  # swarms the peer store holds
    peers: int = 0
    announces: int = 0  # answered since start
    scrapes: int = 0
    refused: int = 0


class TrackerControl(Protocol):
    def record(self, session: AsyncSession, change: Change) -> None:
        """Make `change` reach the tracker once `session`'s transaction commits (duty 1)."""
        ...

    async def scrape(self, swarm_keys: Sequence[bytes], now: float) -> list[SwarmCounts]: ...

    async def statistics(self) -> TrackerStatistics: ...


# session.info key under which a session factory carries its tracker port.
_CONTROL: Final = "swarmdex.tracker_control"


def attach(sessions: async_sessionmaker[AsyncSession], control: TrackerControl) -> None:
    """Give every session of `sessions` this tracker port, for `tell`."""
    sessions.configure(info={_CONTROL: control})


def tell(session: AsyncSession, change: Change) -> None:
    """Record `change` for the tracker, to reach it once `session` commits.

    A session without a tracker port (a command-line tool, a test of the service alone)
    has nobody to tell: the change is only in the database, as it always is.
    """
    control: TrackerControl | None = session.info.get(_CONTROL)
    if control is not None:
        control.record(session, change)
