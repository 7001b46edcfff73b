"""The in-process tracker port: changes told inside a transaction reach the tracker when it
commits, never when it rolls back; pages read counts and statistics through it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.bootstrap import prepare_database
from swarmdex.db import create_engine, database_url, session_factory, transaction
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.protocol.announce import SwarmCounts
from swarmdex.protocol.errors import ProtocolError
from swarmdex.tracker.control import (
    Change,
    Closed,
    Listed,
    Restored,
    TakenDown,
    TrackerStatistics,
    Withdrawn,
    attach,
    tell,
)
from swarmdex.tracker.hooks import ListedTorrents
from swarmdex.tracker.inprocess import InProcessControl
from swarmdex.tracker.logic import TAKEN_DOWN, UNREGISTERED, Tracker
from swarmdex.tracker.models import TrackerChange
from tests.support.aio import async_test

from .test_logic import IP_B, announce, make, now, request

V1 = b"\x33" * 20
V2 = b"\x44" * 32


class Boom(Exception):
    pass


@asynccontextmanager
async def port(tmp_path: Path, mode: str = "listed") -> AsyncIterator[
        tuple[async_sessionmaker[AsyncSession], InProcessControl, Tracker]]:
    """A tracker in `mode`, its port, and a database whose sessions carry the port."""
    listed = ListedTorrents() if mode == "listed" else None
    tracker = make(allowlist=listed, keep_dormant=mode == "listed")
    control = InProcessControl(tracker, listed)
    engine = create_engine(database_url(tmp_path, None))
    try:
        await prepare_database(engine)  # `tell` writes the change feed
        sessions = session_factory(engine)
        attach(sessions, control)
        yield sessions, control, tracker
    finally:
        await control.close()
        await engine.dispose()


async def commit(sessions: async_sessionmaker[AsyncSession], *changes: Change) -> None:
    async with transaction(sessions) as session:
        for change in changes:
            tell(session, change)


def refusal(tracker: Tracker, h: bytes) -> str:
    with pytest.raises(ProtocolError) as refused:
        announce(tracker, request(h))
    return str(refused.value)


def peers_of(tracker: Tracker, h: bytes) -> int:
    (counts,) = now(tracker.store.scrape([h], tracker.clock()))
    return counts.complete + counts.incomplete


@async_test
async def test_a_listed_torrent_is_served_once_committed_and_never_after_a_rollback(
    tmp_path: Path,
) -> None:
    async with port(tmp_path) as (sessions, _, tracker):
        with pytest.raises(Boom):
            async with transaction(sessions) as session:
                tell(session, Listed(V1, V2))
                assert refusal(tracker, V1) == UNREGISTERED  # not before the commit
                raise Boom
        assert refusal(tracker, V1) == UNREGISTERED  # nor after a rollback
        await commit(sessions, Listed(V1, V2))
        announce(tracker, request(V1))
        announce(tracker, request(V2[:20]), IP_B)  # a hybrid: both hashes, one swarm
        assert peers_of(tracker, V1) == 2


@async_test
async def test_a_withdrawn_torrent_is_refused_and_its_peers_forgotten(tmp_path: Path) -> None:
    async with port(tmp_path) as (sessions, _, tracker):
        await commit(sessions, Listed(V1, None))
        announce(tracker, request(V1))
        await commit(sessions, Withdrawn(V1, None))
        assert refusal(tracker, V1) == UNREGISTERED
        assert peers_of(tracker, V1) == 0


@async_test
async def test_in_open_mode_a_withdrawn_torrent_keeps_its_swarm(tmp_path: Path) -> None:
    # Open mode serves every hash: leaving the site does not end a swarm.
    async with port(tmp_path, "open") as (sessions, _, tracker):
        announce(tracker, request(V1))
        await commit(sessions, Listed(V1, None), Withdrawn(V1, None))
        assert peers_of(tracker, V1) == 1
        announce(tracker, request(V1), IP_B)


@pytest.mark.parametrize("mode", ["open", "listed"])
@async_test
async def test_a_takedown_is_refused_in_every_mode_until_restored(tmp_path: Path, mode: str) -> None:
    async with port(tmp_path, mode) as (sessions, _, tracker):
        await commit(sessions, Listed(V1, V2))
        announce(tracker, request(V1))
        announce(tracker, request(V2[:20]))
        await commit(sessions, TakenDown(V1, V2))
        assert refusal(tracker, V1) == refusal(tracker, V2[:20]) == TAKEN_DOWN
        assert peers_of(tracker, V1) == peers_of(tracker, V2[:20]) == 0
        # Restored, but the torrent is not back on the site: only open mode serves it.
        await commit(sessions, Restored(V1, V2, listed=False))
        if mode == "listed":
            assert refusal(tracker, V1) == UNREGISTERED
            await commit(sessions, Restored(V1, V2, listed=True))
        announce(tracker, request(V1))


@async_test
async def test_closed_mode_refuses_with_the_reason_and_reopens(tmp_path: Path) -> None:
    async with port(tmp_path, "open") as (sessions, control, tracker):
        await commit(sessions, Closed("closed for maintenance"))
        assert refusal(tracker, V1) == "closed for maintenance"
        with pytest.raises(ProtocolError):
            now(tracker.scrape([V1]))
        control.apply(Closed(None))  # the composition root's way: the site mode read back
        announce(tracker, request(V1))


@async_test
async def test_changes_of_one_transaction_apply_in_order(tmp_path: Path) -> None:
    async with port(tmp_path) as (sessions, _, tracker):
        await commit(sessions, Listed(V1, None), Withdrawn(V1, None), Listed(V1, None))
        announce(tracker, request(V1))
        await commit(sessions, Withdrawn(V1, None), Withdrawn(V1, None))  # again: harmless
        assert refusal(tracker, V1) == UNREGISTERED


@async_test
async def test_a_session_without_a_port_only_writes_the_feed(tmp_path: Path) -> None:
    async with port(tmp_path) as (_, _, tracker):
        engine = create_engine(database_url(tmp_path, None))
        try:
            await commit(session_factory(engine), Listed(V1, None))
            async with session_factory(engine)() as session:
                rows = (await session.scalars(select(TrackerChange))).all()
        finally:
            await engine.dispose()
        # No tracker in this process learns of it; the nodes following the feed will.
        assert refusal(tracker, V1) == UNREGISTERED
        assert [(row.kind, row.info_hash_v1) for row in rows] == [("listed", V1)]


@async_test
async def test_replacing_the_whole_state_drops_only_the_swarms_no_longer_served(
    tmp_path: Path,
) -> None:
    v3, v4 = b"\x55" * 20, b"\x66" * 20
    async with port(tmp_path) as (sessions, control, tracker):
        await commit(sessions, Listed(V1, V2), Listed(v3, None), TakenDown(v4, None))
        for h in (V1, v3):
            announce(tracker, request(h))
        control.replace_all([Listed(V1, V2), Listed(v4, None), TakenDown(v3, None),
                             Closed("moving house")])
        assert tracker.closed == "moving house"
        tracker.closed = None
        assert peers_of(tracker, V1) == 1  # still on the site: its peers stay
        assert peers_of(tracker, v3) == 0 and refusal(tracker, v3) == TAKEN_DOWN
        announce(tracker, request(v4))  # the takedown was lifted meanwhile
        control.replace_all([Closed(None)])
        assert refusal(tracker, V1) == refusal(tracker, V2[:20]) == UNREGISTERED
        assert peers_of(tracker, V1) == peers_of(tracker, v4) == 0
        with pytest.raises(ValueError, match="not part of a whole state"):
            control.replace_all([Withdrawn(V1, None)])


@async_test
async def test_counts_and_statistics_are_read_through_the_port(tmp_path: Path) -> None:
    async with port(tmp_path, "open") as (_, control, tracker):
        announce(tracker, request(V1, left=0))
        announce(tracker, request(V1), IP_B)
        now(tracker.scrape([V1]))
        counts = await control.scrape([V1, V2[:20]], tracker.clock())
        assert counts == [SwarmCounts(1, 1, 0), SwarmCounts(0, 0, 0)]
        assert await control.statistics() == TrackerStatistics(
            torrents_active=1, peers=2, announces=2, scrapes=1, refused=0)


class SlowStore(MemoryPeerStore):
    """A store that waits on the network to drop a swarm, as a networked one would."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.removing = asyncio.Event()

    async def remove_swarm(self, info_hash: bytes) -> None:
        await self.removing.wait()
        await super().remove_swarm(info_hash)


@async_test
async def test_a_store_that_waits_drops_the_swarm_in_a_task(tmp_path: Path) -> None:
    async with port(tmp_path) as (sessions, _, tracker):
        tracker.store = store = SlowStore(keep_dormant=True)
        await commit(sessions, Listed(V1, None))
        announce(tracker, request(V1))
        await commit(sessions, Withdrawn(V1, None))
        assert refusal(tracker, V1) == UNREGISTERED  # refused at once all the same
        assert peers_of(tracker, V1) == 1
        store.removing.set()
        for _ in range(100):  # the task runs once the loop gets to it
            if peers_of(tracker, V1) == 0:
                break
            await asyncio.sleep(0)
        assert peers_of(tracker, V1) == 0
