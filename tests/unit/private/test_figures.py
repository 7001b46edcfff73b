"""A member's figures and snatch lists read from `member_torrents`, SQLite and PostgreSQL
alike, with the rows written by the tracker's own writer (`accounting.write`): totals, the
ratio with nothing downloaded, seeding and leeching now by the last announce, snatch pages
newest first, a torrent's snatchers. Tests taking `backend_url` run on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.db import create_engine, session_factory, transaction
from swarmdex.db.models import Category, Torrent, User
from swarmdex.private import accounting, figures
from swarmdex.tracker.ledger import Credit
from tests.support.aio import async_test
from tests.support.databases import migrate
from tests.unit.search.factory import add_torrent

NOW: Final = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TTL: Final = timedelta(minutes=45)
GiB: Final = 1 << 30


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    users: list[int]
    torrents: list[Torrent]

    async def credit(self, user: int, torrent: int, **figures: object) -> None:
        """Credit as the tracker's flush does: through `accounting.write`."""
        swarm = self.torrents[torrent].swarm_key
        async with transaction(self.sessions) as session:
            await accounting.write(session, {(self.users[user], swarm): Credit(**figures)})  # type: ignore[arg-type]

    async def totals(self, user: int) -> figures.Totals:
        async with self.sessions() as session:
            return await figures.totals(session, self.users[user], now=NOW, ttl=TTL)


def _at(moment: datetime) -> float:
    return moment.timestamp()


@asynccontextmanager
async def world(url: str, members: int = 2, torrents: int = 3) -> AsyncIterator[World]:
    engine = create_engine(url)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            session.add(Category(slug="linux", name="Linux", position=0))
            users = [User(name=f"member{i}", password_hash="x") for i in range(members)]
            session.add_all(users)
            await session.flush()
            made = [await add_torrent(session, f"Torrent {i}") for i in range(torrents)]
        yield World(sessions, [u.id for u in users], made)
    finally:
        await engine.dispose()


@async_test
async def test_a_member_never_credited_has_zero_figures_and_no_ratio(backend_url: str) -> None:
    async with world(backend_url) as w:
        totals = await w.totals(0)
        assert totals == figures.Totals(0, 0, 0, 0, 0, 0, 0, 0.0)
        assert totals.ratio is None
        async with w.sessions() as session:
            page = await figures.snatches(session, w.users[0], now=NOW, ttl=TTL)
        assert page == figures.SnatchPage([], 1, False)


@async_test
async def test_totals_add_up_over_torrents_and_flushes(backend_url: str) -> None:
    async with world(backend_url) as w:
        seen = _at(NOW - timedelta(minutes=5))
        await w.credit(0, 0, uploaded=3 * GiB, downloaded=GiB, uploaded_raw=4 * GiB,
                       downloaded_raw=GiB, seeding_seconds=100.0, completed_at=seen,
                       seeder=True, last_seen=seen)
        await w.credit(0, 0, uploaded=GiB, uploaded_raw=GiB, seeding_seconds=50.5,
                       seeder=True, last_seen=seen)  # a second flush adds to the row
        await w.credit(0, 1, downloaded=GiB, downloaded_raw=2 * GiB, seeder=False,
                       last_seen=seen)
        await w.credit(1, 2, uploaded=7, seeder=True, last_seen=seen)  # someone else's
        totals = await w.totals(0)
        assert (totals.uploaded, totals.downloaded) == (4 * GiB, 2 * GiB)
        assert (totals.uploaded_raw, totals.downloaded_raw) == (5 * GiB, 3 * GiB)
        assert totals.ratio == 2.0
        assert (totals.seeding, totals.leeching, totals.snatches) == (1, 1, 1)
        assert totals.seeding_seconds == 150.5


@async_test
async def test_the_ratio_with_nothing_downloaded_is_none(backend_url: str) -> None:
    async with world(backend_url) as w:
        await w.credit(0, 0, uploaded=GiB, uploaded_raw=GiB, seeder=True,
                       last_seen=_at(NOW))
        totals = await w.totals(0)
        assert (totals.uploaded, totals.downloaded, totals.ratio) == (GiB, 0, None)


@async_test
async def test_seeding_and_leeching_now_go_by_the_last_announce(backend_url: str) -> None:
    async with world(backend_url, torrents=4) as w:
        recent, old = _at(NOW - TTL + timedelta(seconds=1)), _at(NOW - TTL - timedelta(seconds=1))
        await w.credit(0, 0, seeder=True, last_seen=recent)
        await w.credit(0, 1, seeder=False, last_seen=recent)
        await w.credit(0, 2, seeder=True, last_seen=old)  # gone quiet: no longer counted
        await w.credit(0, 3, seeder=False, last_seen=old)
        totals = await w.totals(0)
        assert (totals.seeding, totals.leeching) == (1, 1)
        # The leecher finished and seeds: the newest announce decides.
        await w.credit(0, 1, seeder=True, last_seen=_at(NOW))
        totals = await w.totals(0)
        assert (totals.seeding, totals.leeching) == (2, 0)


@async_test
async def test_snatch_pages_are_newest_first_and_keep_deleted_torrents(backend_url: str) -> None:
    async with world(backend_url, torrents=5) as w:
        for i in range(5):
            done = _at(NOW - timedelta(hours=10 - i))
            await w.credit(0, i, uploaded=i, downloaded=10 * i, completed_at=done,
                           seeding_seconds=float(i), seeder=i % 2 == 0,
                           last_seen=_at(NOW - timedelta(minutes=1)))
        await w.credit(0, 4, uploaded=1, completed_at=_at(NOW), seeder=True,
                       last_seen=_at(NOW))  # the first snatch is the one kept
        await w.credit(1, 0, seeder=True, last_seen=_at(NOW))  # not completed: no snatch
        async with transaction(w.sessions) as session:
            gone = await session.get(Torrent, w.torrents[1].id)
            assert gone is not None
            gone.deleted_at = NOW
        async with w.sessions() as session:
            first = await figures.snatches(session, w.users[0], now=NOW, ttl=TTL, per_page=2)
            second = await figures.snatches(session, w.users[0], now=NOW, ttl=TTL, page=2,
                                            per_page=2)
            last = await figures.snatches(session, w.users[0], now=NOW, ttl=TTL, page=3,
                                          per_page=2)
            none = await figures.snatches(session, w.users[1], now=NOW, ttl=TTL)
        assert [s.title for s in first.snatches] == ["Torrent 4", "Torrent 3"]
        assert first.has_next and second.has_next and not last.has_next
        assert [s.title for s in second.snatches] == ["Torrent 2", "Torrent 1"]
        assert [s.title for s in last.snatches] == ["Torrent 0"]
        top = first.snatches[0]
        assert top.info_hash == w.torrents[4].swarm_key.hex()
        assert (top.uploaded, top.downloaded, top.seeding_seconds) == (5, 40, 4.0)
        assert top.completed_at == NOW - timedelta(hours=6)
        assert [s.seeding_now for s in first.snatches + second.snatches] == [True, False, True, False]
        assert [s.deleted for s in second.snatches] == [False, True]
        assert none.snatches == []


@async_test
async def test_a_torrents_snatchers_are_paged_with_raw_figures(backend_url: str) -> None:
    async with world(backend_url, members=3) as w:
        for user in range(3):
            done = _at(NOW - timedelta(hours=3 - user))
            await w.credit(user, 0, uploaded=user, uploaded_raw=user + 100, downloaded=5,
                           downloaded_raw=6, completed_at=done, seeder=user == 2,
                           last_seen=_at(NOW))
        await w.credit(0, 1, completed_at=_at(NOW), last_seen=_at(NOW))  # another torrent
        async with w.sessions() as session:
            first = await figures.snatchers(session, w.torrents[0].id, now=NOW, ttl=TTL,
                                            per_page=2)
            second = await figures.snatchers(session, w.torrents[0].id, now=NOW, ttl=TTL,
                                             page=2, per_page=2)
        assert [(s.name, s.seeding_now) for s in first.snatchers] == [("member2", True),
                                                                       ("member1", False)]
        assert first.has_next and not second.has_next
        (oldest,) = second.snatchers
        assert (oldest.name, oldest.uploaded, oldest.uploaded_raw, oldest.downloaded,
                oldest.downloaded_raw) == ("member0", 0, 100, 5, 6)
