"""Browsing: every order pages forward and back without skipping or repeating a torrent."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.db.engine import transaction
from swarmdex.db.models import Torrent, User, utcnow
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.protocol.announce import Event
from swarmdex.search.catalogue import BrowsePage, Filters, Sort, browse
from swarmdex.search.swarms import SwarmCounter

from .factory import EPOCH, add_torrent, async_test, catalogue

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")

TITLES = ["alpha", "Bravo", "charlie", "ALPHA", "delta", "Echo", "bravo", "foxtrot", "golf", "Hotel"]


async def _peer(store: MemoryPeerStore, torrent: Torrent, *, seeder: bool, completed: bool = False) -> None:
    peer = os.urandom(4) + struct.pack(">H", 6881)
    event = Event.COMPLETED if completed else Event.STARTED
    await store.announce(torrent.swarm_key, peer, event=event, seeder=seeder, numwant=0,
                         other_family=False, now=time.time())


async def _fill(sessions: async_sessionmaker[AsyncSession], count: int = 37) -> list[Torrent]:
    """Torrents with repeated titles, sizes and upload times: ties everywhere."""
    async with transaction(sessions) as session:
        return [
            await add_torrent(
                session,
                TITLES[i % len(TITLES)],
                size=(i % 7) * 1000,
                created_at=EPOCH + timedelta(hours=i // 3),
                category="films" if i % 4 == 0 else "linux",
            )
            for i in range(count)
        ]


async def _walk(
    sessions: async_sessionmaker[AsyncSession], swarms: SwarmCounter, per_page: int, **options: object
) -> tuple[list[int], list[BrowsePage]]:
    """Every id, following `next` from the first page; then back with `previous`."""
    pages: list[BrowsePage] = []
    ids: list[int] = []
    after: str | None = None
    async with sessions() as session:
        while True:
            page = await browse(session, swarms, after=after, per_page=per_page, **options)  # type: ignore[arg-type]
            pages.append(page)
            ids += [e.torrent.id for e in page.entries]
            assert len(page.entries) <= per_page
            if page.next is None:
                break
            assert len(page.entries) == per_page
            after = page.next
        # Back from the last page: the same pages, in reverse.
        back = pages[-1]
        for expected in reversed(pages[:-1]):
            assert back.previous is not None
            back = await browse(session, swarms, before=back.previous, per_page=per_page, **options)  # type: ignore[arg-type]
            assert [e.torrent.id for e in back.entries] == [e.torrent.id for e in expected.entries]
        assert back.previous is None
    return ids, pages


def _expected(torrents: Sequence[Torrent], sort: Sort, descending: bool) -> list[int]:
    keys = {
        Sort.DATE: lambda t: (t.created_at, t.id),
        Sort.SIZE: lambda t: (t.size, t.id),
        Sort.NAME: lambda t: (t.title.lower(), t.id),
    }[sort]
    return [t.id for t in sorted(torrents, key=keys, reverse=descending)]


@pytest.mark.parametrize("sort", [Sort.DATE, Sort.SIZE, Sort.NAME])
@async_test
async def test_database_orders_page_both_ways(tmp_path: Path, sort: Sort) -> None:
    async with catalogue(tmp_path) as sessions:
        torrents = await _fill(sessions)
        swarms = SwarmCounter(MemoryPeerStore())
        for descending in (True, False):
            for per_page in (1, 5, 36, 37, 50):
                ids, _ = await _walk(sessions, swarms, per_page, sort=sort, descending=descending)
                assert ids == _expected(torrents, sort, descending), (descending, per_page)


@async_test
async def test_default_orders(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        torrents = await _fill(sessions, 8)
        swarms = SwarmCounter(MemoryPeerStore())
        for sort, descending in ((Sort.DATE, True), (Sort.SIZE, True), (Sort.NAME, False)):
            ids, _ = await _walk(sessions, swarms, 50, sort=sort)
            assert ids == _expected(torrents, sort, descending), sort


@async_test
async def test_count_orders_rank_active_swarms_then_the_rest_by_date(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        torrents = await _fill(sessions, 12)
        store = MemoryPeerStore()
        seeders = {torrents[2].id: 3, torrents[7].id: 1, torrents[9].id: 3, torrents[0].id: 1}
        for torrent in torrents:
            for _ in range(seeders.get(torrent.id, 0)):
                await _peer(store, torrent, seeder=True)
        await _peer(store, torrents[5], seeder=False)  # a leecher only: no seeders
        swarms = SwarmCounter(store)
        ranked = [torrents[9].id, torrents[2].id, torrents[7].id, torrents[0].id]  # ties: newest id first
        rest = [t.id for t in sorted(torrents, key=lambda t: (t.created_at, t.id), reverse=True)
                if t.id not in ranked]
        for per_page in (1, 3, 4, 5, 10, 12, 20):
            ids, pages = await _walk(sessions, swarms, per_page, sort=Sort.SEEDERS)
            assert ids == ranked + rest, per_page
            shown = {e.torrent.id: e.counts.complete for page in pages for e in page.entries}
            assert shown[torrents[9].id] == 3 and shown[torrents[5].id] == 0

            ids, _ = await _walk(sessions, swarms, per_page, sort=Sort.LEECHERS)
            assert ids[0] == torrents[5].id and len(ids) == len(set(ids)) == 12


@async_test
async def test_completed_counts_downloads(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        torrents = await _fill(sessions, 4)
        store = MemoryPeerStore()
        await _peer(store, torrents[1], seeder=True, completed=True)
        await _peer(store, torrents[3], seeder=True)
        ids, _ = await _walk(sessions, SwarmCounter(store), 2, sort=Sort.COMPLETED)
        assert ids[0] == torrents[1].id and len(set(ids)) == 4


@async_test
async def test_filters(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            alice = User(name="alice", password_hash="x")
            session.add(alice)
            small = await add_torrent(session, "small", size=10, tags=["tiny"])
            big = await add_torrent(session, "big", size=10_000, category="films", uploader=alice)
            await add_torrent(session, "hidden", size=500, uploader=alice, anonymous=True)
            gone = await add_torrent(session, "gone", size=500)
            gone.deleted_at = utcnow()
        store = MemoryPeerStore()
        await _peer(store, big, seeder=True)
        await _peer(store, small, seeder=False)
        swarms = SwarmCounter(store)

        async def listed(filters: Filters, sort: Sort = Sort.DATE) -> list[str]:
            async with sessions() as session:
                page = await browse(session, swarms, sort=sort, filters=filters)
            return [e.torrent.title for e in page.entries]

        assert await listed(Filters()) == ["hidden", "big", "small"]
        assert await listed(Filters(category_id=big.category_id)) == ["big"]
        assert await listed(Filters(min_size=100)) == ["hidden", "big"]
        assert await listed(Filters(max_size=500)) == ["hidden", "small"]
        assert await listed(Filters(min_size=11, max_size=9_999)) == ["hidden"]
        assert await listed(Filters(seeded=True)) == ["big"]
        assert await listed(Filters(seeded=True), Sort.LEECHERS) == ["big"]
        assert await listed(Filters(tag_id=small.tags[0].id)) == ["small"]
        assert await listed(Filters(uploader_id=alice.id)) == ["big"]  # not the anonymous one
        assert await listed(Filters(category_id=big.category_id), Sort.SEEDERS) == ["big"]
        assert await listed(Filters(category_id=small.category_id), Sort.SEEDERS) == ["hidden", "small"]


# Not base64, not JSON, wrong shapes ([], [5,1,1], null, [1,1,1]), a date where a size goes.
CURSORS = ["", "garbage", "!!!", "W10", "WzUsMSwxXQ", "bnVsbA", "x" * 5000, "WzEsMSwxXQ",
           "WzAsIjIwMjQtMDEtMDEiLDFd", "WzAsIm5vdCBhIGRhdGUiLDFd", "4pyT"]


@async_test
async def test_unreadable_cursors_start_from_the_top(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        await _fill(sessions, 5)
        swarms = SwarmCounter(MemoryPeerStore())
        async with sessions() as session:
            for sort in (Sort.SIZE, Sort.NAME, Sort.SEEDERS):
                first = [e.torrent.id for e in (await browse(session, swarms, sort=sort, per_page=2)).entries]
                for cursor in CURSORS:
                    if sort is Sort.NAME and cursor.startswith("WzAsI"):
                        continue  # [0, "text", id] is a real position in the name order
                    for key in ("after", "before"):
                        page = await browse(session, swarms, sort=sort, per_page=2, **{key: cursor})
                        assert [e.torrent.id for e in page.entries] == first, (sort, cursor, key)


@async_test
async def test_a_page_emptied_meanwhile_still_leads_back(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        await _fill(sessions, 3)
        swarms = SwarmCounter(MemoryPeerStore())
        async with sessions() as session:
            first = await browse(session, swarms, sort=Sort.SIZE, per_page=2)
            second = await browse(session, swarms, sort=Sort.SIZE, per_page=2, after=first.next)
        assert len(second.entries) == 1 and second.next is None
        async with transaction(sessions) as writer:
            row = await writer.get(Torrent, second.entries[0].torrent.id)
            assert row is not None
            row.deleted_at = utcnow()
        async with sessions() as session:
            emptied = await browse(session, swarms, sort=Sort.SIZE, per_page=2, after=first.next)
            assert emptied.entries == [] and emptied.next is None and emptied.previous is not None
            back = await browse(session, swarms, sort=Sort.SIZE, per_page=2, before=emptied.previous)
        assert [e.torrent.id for e in back.entries] == [e.torrent.id for e in first.entries]


@async_test
async def test_snapshot_is_reused_until_it_is_old(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        torrents = await _fill(sessions, 3)
        store = MemoryPeerStore()
        now = [100.0]
        swarms = SwarmCounter(store, max_age=30, clock=lambda: now[0])
        async with sessions() as session:
            assert (await swarms.snapshot(session)).counts == {}
            await _peer(store, torrents[0], seeder=True)
            assert (await swarms.snapshot(session)).counts == {}  # cached
            now[0] += 31
            snapshot = await swarms.snapshot(session)
        assert snapshot.get(torrents[0].id).complete == 1
        assert snapshot.get(torrents[1].id).complete == 0
