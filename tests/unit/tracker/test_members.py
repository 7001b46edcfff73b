"""Private mode in the tracker: passkeys by digest, resets, bans, the feed's member rows."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.protocol.errors import ProtocolError
from swarmdex.tracker.changes import Member
from swarmdex.tracker.hooks import OpenTracker
from swarmdex.tracker.inprocess import InProcessControl
from swarmdex.tracker.logic import Tracker
from swarmdex.tracker.members import BANNED, NO_PASSKEY, Members, passkey_digest
from swarmdex.tracker.models import FOREVER, from_row, to_row

from .test_logic import H1, IP_A, Clock, now, request

KEY_A = "0123456789abcdef0123456789abcdef"
KEY_B = "fedcba9876543210fedcba9876543210"
NOW = 1_000_000.0


def refused(members: Members, passkey: str | None, at: float = NOW) -> str:
    with pytest.raises(ProtocolError) as caught:
        members.resolve(passkey, at)
    return str(caught.value)


def test_a_members_passkey_names_them_and_nothing_else_does() -> None:
    members = Members()
    members.apply(Member(7, passkey_digest(KEY_A)))
    assert members.resolve(KEY_A, NOW) == 7
    # Missing, empty, unknown, a prefix, another case: one answer, that says nothing more.
    for wrong in (None, "", KEY_B, KEY_A[:-1], KEY_A.upper(), KEY_A + "0", "\udcff" * 3):
        assert refused(members, wrong) == NO_PASSKEY, wrong


def test_a_reset_refuses_the_old_passkey_at_once() -> None:
    members = Members()
    members.apply(Member(7, passkey_digest(KEY_A)))
    members.apply(Member(7, passkey_digest(KEY_B)))
    assert refused(members, KEY_A) == NO_PASSKEY
    assert members.resolve(KEY_B, NOW) == 7
    members.apply(Member(7, None))  # disabled or deleted
    assert refused(members, KEY_B) == NO_PASSKEY
    assert len(members) == 0


def test_a_ban_suspends_until_it_ends() -> None:
    members = Members()
    members.apply(Member(7, passkey_digest(KEY_A), banned_until=NOW + 60))
    assert refused(members, KEY_A) == BANNED
    assert members.resolve(KEY_A, NOW + 60) == 7  # the ban is over
    members.apply(Member(7, passkey_digest(KEY_A), banned_until=math.inf))
    assert refused(members, KEY_A, NOW + 10**9) == BANNED
    members.apply(Member(7, passkey_digest(KEY_A)))  # lifted
    assert members.resolve(KEY_A, NOW) == 7


def test_replace_knows_exactly_the_whole_state() -> None:
    members = Members()
    members.apply(Member(1, passkey_digest(KEY_A)))
    members.replace([Member(2, passkey_digest(KEY_B), NOW + 5)])
    assert refused(members, KEY_A) == NO_PASSKEY
    assert refused(members, KEY_B) == BANNED and members.resolve(KEY_B, NOW + 5) == 2


@pytest.mark.parametrize("until", [None, NOW + 0.5, math.inf])
def test_member_changes_survive_the_feed_row(until: float | None) -> None:
    change = Member(42, passkey_digest(KEY_A), until)
    assert from_row(to_row(change)) == change
    assert from_row(to_row(Member(42, None))) == Member(42, None)
    if until == math.inf:
        assert to_row(change).banned_until == FOREVER
    elif until is not None:
        assert to_row(change).banned_until == datetime.fromtimestamp(until, UTC)


def test_private_tracker_serves_members_only_and_the_port_feeds_it() -> None:
    clock = Clock(NOW)
    tracker = Tracker(MemoryPeerStore(seed=1), OpenTracker(), clock=clock, members=Members())
    control = InProcessControl(tracker, None)
    anonymous = request(H1)
    with pytest.raises(ProtocolError, match="private"):
        now(tracker.announce(anonymous, IP_A, max_peers=50, other_family=False))
    with pytest.raises(ProtocolError, match="private"):
        now(tracker.scrape([H1]))
    control.apply(Member(3, passkey_digest(KEY_A)))
    anonymous.passkey = KEY_A
    assert now(tracker.announce(anonymous, IP_A, max_peers=50, other_family=False)).incomplete == 1
    assert now(tracker.scrape([H1], KEY_A))[0].incomplete == 1
    control.replace_all([Member(3, passkey_digest(KEY_B))])
    with pytest.raises(ProtocolError, match="private"):
        now(tracker.announce(anonymous, IP_A, max_peers=50, other_family=False))
    assert tracker.counters.refused == 3


def test_public_tracker_ignores_member_changes() -> None:
    tracker = Tracker(MemoryPeerStore(seed=1), OpenTracker())
    InProcessControl(tracker, None).apply(Member(3, passkey_digest(KEY_A)))
    assert now(tracker.announce(request(H1), IP_A, max_peers=50, other_family=False)).incomplete == 1
