"""Freeleech and double upload (`swarmdex.private.bonus`), and the accounting flush counting
with them, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from swarmdex.audit.models import AuditEntry
from swarmdex.db import transaction
from swarmdex.db.models import Role, Torrent, User
from swarmdex.moderation.services import ModerationError, NotFound
from swarmdex.private import bonus
from swarmdex.private.accounting import Accountant
from swarmdex.private.bonus import Factors
from swarmdex.private.models import MemberTorrent, TorrentFactors
from swarmdex.protocol.announce import Event
from swarmdex.tracker.ledger import Ledger
from tests.support.aio import async_test
from tests.unit.search.factory import add_torrent, catalogue

pytestmark = pytest.mark.usefixtures("database_backend")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def _setup(sessions) -> tuple[User, User, Torrent, Torrent]:  # type: ignore[no-untyped-def]
    async with transaction(sessions) as session:
        staff = User(name="mod", password_hash="x", role=Role.MODERATOR)
        member = User(name="member", password_hash="x")
        session.add_all([staff, member])
        await session.flush()
        return staff, member, await add_torrent(session, "Free one"), await add_torrent(session, "Plain one")


def test_factors_are_checked_and_the_better_wins() -> None:
    assert Factors(0.5, 2).better(Factors(0, 1.5)) == Factors(0, 2)
    for wrong in (Factors(-0.1, 1), Factors(1.1, 1), Factors(1, 0.5), Factors(1, 11)):
        with pytest.raises(ModerationError):
            bonus._checked(wrong)


@async_test
async def test_torrent_factors_are_set_changed_and_reset_with_the_audit_log(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        staff, _, free, _ = await _setup(sessions)
        for factors in (Factors(0, 1), Factors(0.5, 2), Factors()):
            async with transaction(sessions) as session:
                await bonus.set_factors(session, free, factors, by=staff)
            async with sessions() as session:
                assert await bonus.factors_now(session, free.id, NOW) == factors
        async with sessions() as session:
            assert await session.scalar(select(TorrentFactors)) is None  # 1 and 1: no row
            actions = [e.action for e in await session.scalars(select(AuditEntry))]
        assert actions == ["torrent.factors"] * 3


@async_test
async def test_events_run_between_their_times_and_end_or_are_cancelled(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        staff, _, free, _ = await _setup(sessions)
        async with transaction(sessions) as session:
            running = await bonus.add_event(session, "Summer", NOW - timedelta(hours=1),
                                            NOW + timedelta(days=1), Factors(0, 1), by=staff)
            coming = await bonus.add_event(session, "Double", NOW + timedelta(days=2),
                                           NOW + timedelta(days=3), Factors(1, 2), by=staff)
            await bonus.set_factors(session, free, Factors(0.5, 1.5), by=staff)
            for wrong in (("", NOW, NOW + timedelta(hours=1), Factors(0, 1)),
                          ("x", NOW, NOW, Factors(0, 1)),
                          ("x", NOW, NOW + timedelta(hours=1), Factors())):
                with pytest.raises(ModerationError):
                    await bonus.add_event(session, *wrong, by=staff)
        async with sessions() as session:
            assert [e.name for e in await bonus.events(session, NOW)] == ["Summer", "Double"]
            assert await bonus.factors_now(session, free.id, NOW) == Factors(0, 1.5)
            assert await bonus.factors_now(session, free.id, NOW + timedelta(days=2, hours=1)) == \
                Factors(0.5, 2)
        async with transaction(sessions) as session:
            await bonus.end_event(session, running.id, by=staff, now=NOW)
            await bonus.end_event(session, coming.id, by=staff, now=NOW)  # not started: gone
            with pytest.raises(NotFound):
                await bonus.end_event(session, running.id, by=staff, now=NOW)
        async with sessions() as session:
            assert await bonus.events(session, NOW) == []
            assert await bonus.factors_now(session, free.id, NOW) == Factors(0.5, 1.5)


@async_test
async def test_credit_counts_with_the_factors_in_force(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        staff, member, free, plain = await _setup(sessions)
        async with transaction(sessions) as session:
            await bonus.set_factors(session, free, Factors(0, 2), by=staff)
            await bonus.add_event(session, "Half leech", NOW - timedelta(hours=1),
                                  NOW + timedelta(hours=1), Factors(0.5, 1), by=staff)
        book = Ledger(max_rate=10**9, stale_after=2700)
        t = NOW.timestamp()
        for torrent in (free, plain):
            book.record(member.id, torrent.swarm_key, b"p" * 20, uploaded=0, downloaded=0,
                        left=10, event=Event.STARTED, now=t)
            book.record(member.id, torrent.swarm_key, b"p" * 20, uploaded=1000, downloaded=4000,
                        left=10, event=Event.NONE, now=t + 60)
        await Accountant(book, sessions).flush(t + 61)
        async with sessions() as session:
            rows = {r.torrent_id: r for r in await session.scalars(select(MemberTorrent))}
        got = {tid: (r.uploaded, r.downloaded, r.uploaded_raw, r.downloaded_raw) for tid, r in rows.items()}
        assert got == {free.id: (2000, 0, 1000, 4000),  # its own: free, double upload
                       plain.id: (1000, 2000, 1000, 4000)}  # the event: half leech
