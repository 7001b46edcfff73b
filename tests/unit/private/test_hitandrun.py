"""Hit-and-runs (`swarmdex.private.hitandrun`): counted past the window without the hours,
shown as obligations, and turned into a refusal to start downloads by the rules' recheck
(both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from swarmdex.db import transaction
from swarmdex.db.models import User
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.private.accounting import Accountant
from swarmdex.private.hitandrun import HitAndRunRule, counts, obligations
from swarmdex.private.ratio import RatioRule
from swarmdex.protocol.announce import Event
from swarmdex.tracker.changes import Member
from swarmdex.tracker.control import attach
from swarmdex.tracker.hooks import OpenTracker
from swarmdex.tracker.inprocess import InProcessControl
from swarmdex.tracker.ledger import Ledger
from swarmdex.tracker.logic import Tracker
from swarmdex.tracker.members import Members, passkey_digest
from tests.support.aio import async_test
from tests.unit.search.factory import add_torrent, catalogue

pytestmark = pytest.mark.usefixtures("database_backend")
START = datetime.now(UTC) - timedelta(days=20)
RULE = HitAndRunRule(seed_hours=1, within_days=14, min_fraction=0.1, limit=2)


@async_test
async def test_left_torrents_count_once_their_window_has_passed(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            member = User(name="leaver", password_hash="x")
            session.add(member)
            await session.flush()
            left, seeded, sipped = [await add_torrent(session, name, size=1000)
                                    for name in ("Left", "Seeded", "Sipped")]
        members, book = Members(), Ledger(max_rate=10**12, stale_after=10**7)
        members.apply(Member(member.id, passkey_digest("k" * 32)))
        tracker = Tracker(MemoryPeerStore(seed=1), OpenTracker(), members=members, ledger=book)
        attach(sessions, InProcessControl(tracker, None))
        accountant = Accountant(book, sessions, rule=RatioRule(), hit_and_run=RULE,
                                members=members)
        t = START.timestamp()
        for torrent, down, seeding in ((left, 500, 0), (seeded, 1000, 3600), (sipped, 50, 0)):
            peer = torrent.title.encode().ljust(20, b"-")
            book.record(member.id, torrent.swarm_key, peer, uploaded=0, downloaded=0, left=1000,
                        event=Event.STARTED, now=t)
            book.record(member.id, torrent.swarm_key, peer, uploaded=0, downloaded=down,
                        left=1000 - down, event=Event.NONE, now=t + 1)
            if seeding:
                book.record(member.id, torrent.swarm_key, peer, uploaded=0, downloaded=down,
                            left=0, event=Event.NONE, now=t + 1 + seeding)
        await accountant.flush(t + 4000)
        async with sessions() as session:
            early = START + timedelta(days=13)
            assert await counts(session, RULE, early) == {}
            (owed,) = await obligations(session, RULE, member.id, early)
            assert owed.title == "Left" and not owed.missed and owed.seeded_hours == 0
            assert await counts(session, RULE, START + timedelta(days=15)) == {member.id: 1}
            (owed,) = await obligations(session, RULE, member.id, START + timedelta(days=15))
            assert owed.missed
        # One hit-and-run is a warning; the limit is two.
        assert await accountant.recheck() == 0 and members.leech_refusal(member.id) is None
        strict = Accountant(book, sessions, hit_and_run=HitAndRunRule(1, 14, 0.1, limit=1),
                            members=members)
        assert await strict.recheck() == 1
        assert "1 hit-and-runs" in (members.leech_refusal(member.id) or "")
        # Seeding the torrent left makes up for it.
        peer = b"Left".ljust(20, b"-")
        now = START.timestamp() + 20 * 86400
        book.record(member.id, left.swarm_key, peer, uploaded=0, downloaded=500, left=0,
                    event=Event.STARTED, now=now)
        book.record(member.id, left.swarm_key, peer, uploaded=0, downloaded=500, left=0,
                    event=Event.NONE, now=now + 3600)
        await strict.flush(now + 3601)
        assert members.leech_refusal(member.id) is None
        assert await strict.recheck() == 0


def test_the_rule_is_off_without_hours() -> None:
    assert not HitAndRunRule().on and HitAndRunRule().refusal(99) is None
    assert HitAndRunRule(72, 14, 0.1, 3).refusal(2) is None
