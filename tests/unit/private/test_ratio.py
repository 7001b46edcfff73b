"""The minimum ratio: the rule, the tracker refusing to start downloads under it, and the
accounting write telling the tracker when a member's standing flips (both databases)."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmdex.db import transaction
from swarmdex.db.models import User
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.private.accounting import Accountant
from swarmdex.private.ratio import GIB, RatioRule, standing
from swarmdex.protocol.announce import AnnounceRequest, Event
from swarmdex.protocol.errors import ProtocolError
from swarmdex.tracker.changes import Leech, Member
from swarmdex.tracker.control import attach
from swarmdex.tracker.hooks import OpenTracker
from swarmdex.tracker.inprocess import InProcessControl
from swarmdex.tracker.ledger import Ledger
from swarmdex.tracker.logic import Tracker
from swarmdex.tracker.members import Members, passkey_digest
from swarmdex.tracker.models import from_row, to_row
from tests.support.aio import async_test
from tests.unit.search.factory import add_torrent, catalogue

KEY = "a" * 32
T0 = 1_700_000_000.0


def test_the_rule_applies_past_its_threshold_only() -> None:
    rule = RatioRule(0.5, after_bytes=10 * GIB)
    assert rule.refusal(0, 9 * GIB) is None  # not downloaded enough yet
    refusal = rule.refusal(4 * GIB, 10 * GIB)
    assert refusal is not None and "0.40" in refusal and "0.50" in refusal
    assert rule.refusal(5 * GIB, 10 * GIB) is None
    assert RatioRule(0).refusal(0, 100 * GIB) is None  # off
    assert from_row(to_row(Leech(3, refusal))) == Leech(3, refusal)
    assert from_row(to_row(Leech(3, None))) == Leech(3, None)


def _announce(tracker: Tracker, *, left: int, event: Event, port: int, up: int = 0,
              down: int = 0, swarm: bytes = b"\x44" * 20) -> str | None:
    request = AnnounceRequest(swarm, f"-LT2000-{port:012d}".encode(), port, up, down, left,
                              event, None, passkey=KEY)
    try:
        coro = tracker.announce(request, bytes([10, 0, 0, 1]), max_peers=50, other_family=False)
        coro.send(None)
    except StopIteration:
        return None
    except ProtocolError as exc:
        return str(exc)
    raise AssertionError("suspended")


def test_under_the_minimum_a_member_seeds_but_starts_nothing() -> None:
    members = Members()
    members.apply(Member(1, passkey_digest(KEY)))
    tracker = Tracker(MemoryPeerStore(seed=1), OpenTracker(), members=members)
    members.apply_leech(Leech(1, "your ratio is 0.10"))
    assert _announce(tracker, left=100, event=Event.STARTED, port=1) == "your ratio is 0.10"
    assert _announce(tracker, left=0, event=Event.STARTED, port=2) is None  # seeding
    assert _announce(tracker, left=100, event=Event.NONE, port=3) is None  # one under way
    members.apply_leech(Leech(1, None))
    assert _announce(tracker, left=100, event=Event.STARTED, port=4) is None
    members.replace([Member(1, passkey_digest(KEY)), Leech(1, "again")])
    assert _announce(tracker, left=100, event=Event.STARTED, port=5) == "again"


@pytest.mark.usefixtures("database_backend")
@async_test
async def test_the_accounting_write_tells_flips_to_the_tracker(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            member = User(name="leecher", password_hash="x")
            session.add(member)
            await session.flush()
            torrent = await add_torrent(session, "Big one")
        members, book = Members(), Ledger(max_rate=10**12, stale_after=10**6)
        members.apply(Member(member.id, passkey_digest(KEY)))
        tracker = Tracker(MemoryPeerStore(seed=1), OpenTracker(), members=members, ledger=book,
                          clock=lambda: T0)
        attach(sessions, InProcessControl(tracker, None))
        rule = RatioRule(1.0, after_bytes=GIB)
        accountant = Accountant(book, sessions, rule=rule, members=members)

        def report(up: int, down: int, event: Event = Event.NONE) -> None:
            book.record(member.id, torrent.swarm_key, b"p" * 20, uploaded=up, downloaded=down,
                        left=0, event=event, now=T0)

        report(0, 0, Event.STARTED)
        report(0, 2 * GIB)
        await accountant.flush(T0)
        assert "under this site's minimum" in (members.leech_refusal(member.id) or "")
        async with sessions() as session:
            assert [c.user_id for c in await standing(session, rule)] == [member.id]
        report(3 * GIB, 2 * GIB)  # seeding brings the ratio back
        await accountant.flush(T0)
        assert members.leech_refusal(member.id) is None
        async with sessions() as session:
            assert await standing(session, rule) == []
