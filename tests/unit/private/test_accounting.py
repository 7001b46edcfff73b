"""The ledger's credit written to `member_torrents`, SQLite and PostgreSQL alike: additive
upserts, one snatch, skipped rows, credit kept when a flush fails, and two tracker nodes
flushing the same members at once ending in exactly the expected figures."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text

from swarmdex.db import transaction
from swarmdex.db.models import Torrent, User
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.private.accounting import Accountant
from swarmdex.private.models import MemberTorrent
from swarmdex.protocol.announce import AnnounceRequest, Event
from swarmdex.tracker.changes import Member
from swarmdex.tracker.hooks import OpenTracker
from swarmdex.tracker.ledger import Ledger
from swarmdex.tracker.logic import Tracker
from swarmdex.tracker.members import Members, passkey_digest
from tests.support.aio import async_test
from tests.unit.search.factory import add_torrent, catalogue

pytestmark = pytest.mark.usefixtures("database_backend")
T0 = 1_700_000_000.0
ANNOUNCES = 100_000  # after every client's first, across both nodes


async def _world(sessions, members: int, torrents: int) -> tuple[list[int], list[bytes]]:  # type: ignore[no-untyped-def]
    async with transaction(sessions) as session:
        users = [User(name=f"member{i}", password_hash="x") for i in range(members)]
        session.add_all(users)
        await session.flush()
        made = [await add_torrent(session, f"Torrent {i}") for i in range(torrents)]
        return [u.id for u in users], [t.swarm_key for t in made]


async def _rows(sessions) -> dict[tuple[int, int], MemberTorrent]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return {(r.user_id, r.torrent_id): r for r in await session.scalars(select(MemberTorrent))}


@async_test
async def test_flushes_add_up_and_a_snatch_is_kept_once(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        (alice,), (swarm,) = await _world(sessions, 1, 1)
        book = Ledger(max_rate=10**9, stale_after=2700)
        accountant = Accountant(book, sessions)
        for at, up, down, left, event in ((T0, 0, 0, 100, Event.STARTED),
                                          (T0 + 60, 10, 100, 0, Event.COMPLETED)):
            book.record(alice, swarm, b"p" * 20, uploaded=up, downloaded=down, left=left,
                        event=event, now=at)
        assert await accountant.flush(T0 + 61) == 1
        book.record(alice, swarm, b"p" * 20, uploaded=50, downloaded=100, left=0,
                    event=Event.COMPLETED, now=T0 + 120)
        assert await accountant.flush(T0 + 121) == 1
        assert await accountant.flush(T0 + 122) == 0  # nothing new: no transaction at all
        (row,) = (await _rows(sessions)).values()
        assert (row.uploaded, row.downloaded, row.uploaded_raw, row.downloaded_raw) == (50, 100, 50, 100)
        assert row.completed_at is not None and row.completed_at.timestamp() == T0 + 60
        assert row.seeding_seconds == 60 and row.seeder
        assert row.last_seen.timestamp() == T0 + 120
        assert (accountant.flushes, accountant.rows) == (2, 2)


@async_test
async def test_gone_torrents_and_members_are_skipped(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        (alice, bob), (kept, gone) = await _world(sessions, 2, 2)
        async with transaction(sessions) as session:
            await session.execute(delete(Torrent).where(Torrent.swarm_key == gone))
            await session.execute(delete(User).where(User.id == bob))
        book = Ledger(max_rate=10**9, stale_after=2700)
        for user in (alice, bob):
            for swarm in (kept, gone, b"\x99" * 20):
                book.record(user, swarm, b"p" * 20, uploaded=0, downloaded=0, left=1,
                            event=Event.STARTED, now=T0)
                book.record(user, swarm, b"p" * 20, uploaded=5, downloaded=0, left=1,
                            event=Event.NONE, now=T0 + 60)
        assert await Accountant(book, sessions).flush(T0 + 61) == 6
        rows = await _rows(sessions)
        assert [(r.user_id, r.uploaded) for r in rows.values()] == [(alice, 5)]


@async_test
async def test_a_failed_flush_keeps_its_credit(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        (alice,), (swarm,) = await _world(sessions, 1, 1)
        book = Ledger(max_rate=10**9, stale_after=2700)
        book.record(alice, swarm, b"p" * 20, uploaded=0, downloaded=0, left=1,
                    event=Event.STARTED, now=T0)
        book.record(alice, swarm, b"p" * 20, uploaded=7, downloaded=0, left=1,
                    event=Event.NONE, now=T0 + 60)
        accountant = Accountant(book, sessions)
        async with transaction(sessions) as session:  # the table away for one flush
            await session.execute(text("ALTER TABLE member_torrents RENAME TO away"))
        assert await accountant.flush(T0 + 61) == 0
        async with transaction(sessions) as session:
            await session.execute(text("ALTER TABLE away RENAME TO member_torrents"))
        assert book.pending == 1
        assert await accountant.flush(T0 + 62) == 1
        (row,) = (await _rows(sessions)).values()
        assert row.uploaded == 7


@async_test
async def test_two_nodes_crediting_the_same_members_end_exactly_right(tmp_path: Path) -> None:
    """100,000 announces over two nodes, members announcing to both, flushes racing:
    every member's row is the sum of what their clients reported, no more, no less."""
    async with catalogue(tmp_path) as sessions:
        users, swarms = await _world(sessions, 40, 25)
        rng = random.Random(7)
        expected: dict[tuple[int, bytes], list[int]] = {}
        nodes = []
        for _ in range(2):
            members, book = Members(), Ledger(max_rate=10**12, stale_after=10**6)
            for user in users:
                members.apply(Member(user, passkey_digest(f"key{user:029d}")))
            clock = [T0]
            tracker = Tracker(MemoryPeerStore(seed=1), OpenTracker(), clock=lambda c=clock: c[0],
                              members=members, ledger=book)
            nodes.append((tracker, Accountant(book, sessions), clock))
        # Each client (member, swarm, node) reports running totals; its deltas are known.
        clients = {(u, s, n): [0, 0] for u in users for s in swarms[:5] for n in range(2)}
        for client in clients:
            await _announce(nodes[client[2]][0], client, 0, 0, Event.STARTED)
        everyone = list(clients)
        for step in range(ANNOUNCES):
            client = rng.choice(everyone)
            user, swarm, node = client
            up, down = rng.randrange(1 << 20), rng.randrange(1 << 18)
            clients[client][0] += up
            clients[client][1] += down
            expected.setdefault((user, swarm), [0, 0])
            expected[(user, swarm)][0] += up
            expected[(user, swarm)][1] += down
            nodes[node][2][0] += 0.01
            await _announce(nodes[node][0], client, *clients[client], Event.NONE)
            if step % 5_000 == 0:  # both nodes flush at once, now and then
                await asyncio.gather(*(n[1].flush(n[2][0]) for n in nodes))
        await asyncio.gather(*(n[1].flush(n[2][0]) for n in nodes))
        ids = {t: i for t, i in await _torrent_ids(sessions)}
        rows = await _rows(sessions)
        got = {(user, swarm): [rows[(user, ids[swarm])].uploaded, rows[(user, ids[swarm])].downloaded]
               for (user, swarm) in expected}
        assert got == expected
        assert len(rows) == len(expected)


async def _announce(tracker: Tracker, client: tuple[int, bytes, int], up: int, down: int,
                    event: Event) -> None:
    user, swarm, node = client
    request = AnnounceRequest(swarm, f"-SD0001-{user:06d}{node:06d}".encode(),
                              10_000 + user, up, down, 5, event, 0, passkey=f"key{user:029d}")
    await tracker.announce(request, bytes([10, 0, user // 256, user % 256]), max_peers=0,
                           other_family=False)


async def _torrent_ids(sessions) -> list[tuple[bytes, int]]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return [(key, id_) for key, id_ in await session.execute(select(Torrent.swarm_key, Torrent.id))]
