"""The durable change feed: a change committed by any process reaches every tracker that
follows the feed, in commit order, never one that rolled back; a follower starting cold loads
the whole state once and goes on from the feed's last id; one that fell behind catches up."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from swarmdex.bootstrap import prepare_database
from swarmdex.db import create_engine, database_url, session_factory, transaction
from swarmdex.db.models import utcnow
from swarmdex.tracker.control import Change, Closed, Listed, TakenDown, Withdrawn, tell
from swarmdex.tracker.feed import FeedFollower, prune
from swarmdex.tracker.hooks import ListedTorrents
from swarmdex.tracker.inprocess import InProcessControl
from swarmdex.tracker.logic import TAKEN_DOWN, UNREGISTERED, Tracker
from swarmdex.tracker.models import TrackerChange
from tests.support.aio import async_test
from tests.support.databases import configured_url

from .test_inprocess import peers_of, refusal
from .test_logic import IP_B, announce, make, request

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")

A = b"\x0a" * 20
B = b"\x0b" * 20
C = b"\x0c" * 20
H2 = b"\x22" * 32
WAIT = 10.0  # seconds a condition may take on a loaded machine (a poll is 0.02 s here)


class Node:
    """A tracker node: a tracker in listed mode driven only by the feed it follows."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 load: Callable[[AsyncSession], Iterable[Change]] | None = None, **kwargs: float
                 ) -> None:
        self.listed = ListedTorrents()
        self.tracker: Tracker = make(allowlist=self.listed, keep_dormant=True)
        self.control = InProcessControl(self.tracker, self.listed)
        self.loads = 0

        async def whole_state(session: AsyncSession) -> Iterable[Change]:
            self.loads += 1
            return load(session) if load is not None else []

        self.follower = FeedFollower(sessions, self.control, whole_state,
                                     **({"poll": 0.02} | kwargs))

    def serves(self, h: bytes) -> bool:
        try:
            announce(self.tracker, request(h))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.follower.stop()
        await self.control.close()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


@asynccontextmanager
async def database(tmp_path: Path) -> AsyncIterator[
        tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    """A migrated database and the sessions of a process that runs no tracker (a web
    worker, a command-line tool): `tell` there only writes the feed."""
    engine = create_engine(database_url(tmp_path, configured_url()))
    try:
        await prepare_database(engine)
        yield engine, session_factory(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def node(sessions: async_sessionmaker[AsyncSession], **kwargs: object) -> AsyncIterator[Node]:
    started = Node(sessions, **kwargs)  # type: ignore[arg-type]
    try:
        await started.follower.start()
        yield started
    finally:
        await started.close()


async def commit(sessions: async_sessionmaker[AsyncSession], *changes: Change) -> None:
    async with transaction(sessions) as session:
        for change in changes:
            tell(session, change)


class Boom(Exception):
    pass


@async_test
async def test_a_change_committed_elsewhere_reaches_every_node_and_a_rolled_back_one_none(
    tmp_path: Path,
) -> None:
    async with database(tmp_path) as (_, web), node(web) as one, node(web) as two:
        with pytest.raises(Boom):
            async with transaction(web) as session:
                tell(session, Listed(A, None))
                raise Boom
        await commit(web, Listed(B, H2))
        await until(lambda: one.serves(B) and two.serves(H2[:20]))
        # B was committed after A's rollback and both nodes have read it: A is nowhere.
        assert not one.serves(A) and not two.serves(A)
        async with web() as session:
            assert await session.scalar(select(func.count()).select_from(TrackerChange)) == 1


@async_test
async def test_changes_apply_in_commit_order(tmp_path: Path) -> None:
    async with database(tmp_path) as (_, web), node(web) as one:
        await commit(web, Listed(A, None), Withdrawn(A, None), Listed(B, None))
        await commit(web, Listed(C, None))
        await commit(web, Withdrawn(C, None))
        await commit(web, Listed(C, None), TakenDown(B, None))
        await until(lambda: one.follower.applied == 7)
        assert refusal(one.tracker, A) == UNREGISTERED
        assert refusal(one.tracker, B) == TAKEN_DOWN
        assert one.serves(C)


@async_test
async def test_a_withdrawn_torrent_loses_its_peers_on_every_node(tmp_path: Path) -> None:
    async with database(tmp_path) as (_, web), node(web) as one:
        await commit(web, Listed(A, None))
        await until(lambda: one.serves(A))
        announce(one.tracker, request(A), IP_B)
        assert peers_of(one.tracker, A) == 2
        await commit(web, Withdrawn(A, None))
        await until(lambda: peers_of(one.tracker, A) == 0)
        assert refusal(one.tracker, A) == UNREGISTERED


@async_test
async def test_a_node_starting_cold_loads_the_whole_state_then_only_what_follows(
    tmp_path: Path,
) -> None:
    async with database(tmp_path) as (_, web):
        await commit(web, Listed(A, None), Listed(B, None), Closed("maintenance"))

        def whole(_session: AsyncSession) -> list[Change]:
            # What the database holds; the rows already written are part of it.
            return [Listed(A, None), Listed(B, None), Closed(None)]

        async with node(web, load=whole) as cold:
            assert cold.loads == 1
            assert cold.follower.position == 3
            assert cold.serves(A) and cold.serves(B)  # served before any poll
            await commit(web, Withdrawn(B, None))
            await until(lambda: cold.follower.applied == 1)  # the Closed row is not replayed
            assert refusal(cold.tracker, B) == UNREGISTERED
            assert cold.tracker.closed is None


@async_test
async def test_a_node_that_fell_behind_catches_up_from_where_it_stopped(tmp_path: Path) -> None:
    async with database(tmp_path) as (_, web), node(web) as one:
        await commit(web, Listed(A, None))
        await until(lambda: one.serves(A))
        await one.follower.stop()  # cut off from the database
        await commit(web, Withdrawn(A, None))
        await commit(web, Listed(B, None), Listed(C, None))
        assert one.serves(A) and not one.serves(B)
        assert await one.follower.read() == 3
        assert refusal(one.tracker, A) == UNREGISTERED
        assert one.serves(B) and one.serves(C)
        assert one.loads == 1


@async_test
async def test_a_node_unable_to_read_for_too_long_loads_everything_again(tmp_path: Path) -> None:
    clock = [1000.0]
    async with database(tmp_path) as (_, web), node(
            web, clock=lambda: clock[0], reload_after=60.0, poll=3600.0) as one:
        await one.follower.stop()  # reads only when told here, not when notified
        await commit(web, Listed(A, None))
        clock[0] += 61.0  # longer than reload_after since the last read that succeeded
        assert await one.follower.read() == 0  # no row replayed: the whole state instead
        assert one.loads == 2
        assert one.follower.position == 1


@async_test
async def test_a_follower_keeps_serving_while_the_feed_cannot_be_read_and_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "swarmdex.tracker")

    async def execute(sql: str, **params: object) -> None:
        async with web() as session:
            await session.execute(text(sql), params)
            await session.commit()

    async with database(tmp_path) as (_, web), node(web) as one:
        await commit(web, Listed(A, None))
        await until(lambda: one.serves(A))
        await execute("ALTER TABLE tracker_changes RENAME TO tracker_changes_away")
        await until(lambda: "cannot read the database" in caplog.text)
        assert one.serves(A)  # what it knew, it still serves
        await execute("INSERT INTO tracker_changes_away (kind, info_hash_v1, listed, made_at) "
                      "VALUES ('listed', :hash, false, CURRENT_TIMESTAMP)", hash=B)
        await execute("ALTER TABLE tracker_changes_away RENAME TO tracker_changes")
        await until(lambda: one.serves(B))  # the change made meanwhile, caught up
        assert caplog.text.count("cannot read the database") == 1  # said once, not per poll
        assert "tracker feed: reading again" in caplog.text


@async_test
async def test_wake_reads_at_once(tmp_path: Path) -> None:
    async with database(tmp_path) as (_, web), node(web, poll=3600.0) as one:
        await commit(web, Listed(A, None))
        one.follower.wake()
        await until(lambda: one.serves(A))


@async_test
async def test_a_change_of_an_unknown_kind_is_skipped_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    async with database(tmp_path) as (_, web), node(web) as one:
        async with transaction(web) as session:  # as a newer swarmdex might write
            session.add(TrackerChange(kind="ratio_rules"))
        await commit(web, Listed(A, None))
        await until(lambda: one.serves(A))
        assert one.follower.position == 2
        assert "change 1 of unknown kind 'ratio_rules' skipped" in caplog.text


@async_test
async def test_prune_drops_old_changes_but_never_the_newest(tmp_path: Path) -> None:
    async with database(tmp_path) as (_, web):
        old = utcnow() - dt.timedelta(days=2)
        async with transaction(web) as session:
            for h in (A, B):
                session.add(TrackerChange(kind="listed", info_hash_v1=h, made_at=old))
        async with transaction(web) as session:
            assert await prune(session, utcnow()) == 1  # B, the newest, stays
        await commit(web, Listed(C, None))
        async with transaction(web) as session:
            assert await prune(session, utcnow()) == 1
            ids = (await session.scalars(select(TrackerChange.id))).all()
        assert ids == [3]  # and ids never go back: AUTOINCREMENT
        async with web() as session:
            await session.execute(text("DELETE FROM tracker_changes"))
            await session.commit()
        await commit(web, Listed(A, None))
        async with web() as session:
            assert (await session.scalars(select(TrackerChange.id))).all() == [4]


@async_test
async def test_a_long_backlog_is_read_in_batches_and_counted_once(tmp_path: Path) -> None:
    hashes = [n.to_bytes(20, "big") for n in range(1, 1201)]  # more than one batch of rows
    async with database(tmp_path) as (_, web), node(web) as one:
        await one.follower.stop()
        await commit(web, *(Listed(h, None) for h in hashes))
        assert await one.follower.read() == 1200
        assert one.follower.applied == 1200
        assert one.follower.position == 1200
        assert one.serves(hashes[0]) and one.serves(hashes[-1])
