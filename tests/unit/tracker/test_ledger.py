"""The private-mode ledger: credit from announces, in memory (`swarmdex.tracker.ledger`), and
the rules about clients (`swarmdex.tracker.clients`)."""

from __future__ import annotations

import pytest

from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.protocol.announce import AnnounceRequest, Event
from swarmdex.protocol.errors import ProtocolError
from swarmdex.tracker.changes import Member
from swarmdex.tracker.clients import ClientRules, client_name
from swarmdex.tracker.hooks import OpenTracker
from swarmdex.tracker.ledger import MAX_REPORTED, Credit, Ledger
from swarmdex.tracker.logic import TOO_MANY_CLIENTS, Tracker
from swarmdex.tracker.members import Members, passkey_digest

from .test_logic import IP6, IP_A, Clock, now

SWARM = b"\x33" * 20
PEER = b"-LT2000-aaaaaaaaaaaa"
T0 = 1_000_000.0


def ledger(rate: float = 10**9) -> Ledger:
    return Ledger(max_rate=rate, stale_after=2700)


def announce(book: Ledger, at: float, up: int, down: int, left: int,
             event: Event = Event.NONE, *, peer: bytes = PEER, user: int = 1) -> None:
    book.record(user, SWARM, peer, uploaded=up, downloaded=down, left=left, event=event, now=at)


def credit(book: Ledger, user: int = 1) -> Credit:
    return book.take()[(user, SWARM)]


def test_the_difference_since_the_last_announce_is_credited() -> None:
    book = ledger()
    announce(book, T0, 500, 700, 1000, Event.STARTED)  # totals before: not this tracker's
    announce(book, T0 + 60, 1500, 2700, 0)
    announce(book, T0 + 120, 4500, 2700, 0)
    got = credit(book)
    assert (got.uploaded, got.downloaded) == (4000, 2000)
    assert (got.uploaded_raw, got.downloaded_raw) == (4000, 2000)
    assert got.completed_at == T0 + 60  # left reached 0
    assert got.seeding_seconds == 60  # between two announces with left = 0
    assert got.seeder and got.last_seen == T0 + 120
    assert book.take() == {}


def test_a_lower_total_is_a_restart_never_a_negative_credit() -> None:
    book = ledger()
    announce(book, T0, 0, 0, 10, Event.STARTED)
    announce(book, T0 + 60, 5000, 0, 10)
    announce(book, T0 + 120, 100, 0, 10)  # the client restarted without `started`
    announce(book, T0 + 180, 400, 0, 10)
    got = credit(book)
    assert got.uploaded == 5000 + 300 and got.uploaded_raw == 5300


def test_credit_is_capped_by_the_rate_and_raw_keeps_the_report() -> None:
    book = ledger(rate=1000)
    announce(book, T0, 0, 0, 10, Event.STARTED)
    announce(book, T0 + 10, 1_000_000, 50_000, 10)
    got = credit(book)
    assert (got.uploaded, got.downloaded) == (10_000, 10_000)
    assert (got.uploaded_raw, got.downloaded_raw) == (1_000_000, 50_000)


@pytest.mark.parametrize("bad", [-1, MAX_REPORTED, 2**63 - 1])
def test_absurd_totals_are_never_credited(bad: int) -> None:
    book = ledger()
    announce(book, T0, 0, 0, 10, Event.STARTED)
    announce(book, T0 + 60, bad, 0, 10)
    announce(book, T0 + 120, 0, bad, 10)
    announce(book, T0 + 180, 100, 0, 10)
    got = credit(book)
    assert got.uploaded == 100 and got.downloaded == 0 and got.uploaded_raw == 100


def test_a_snatch_counts_once_and_stopped_ends_the_baseline() -> None:
    book = ledger()
    announce(book, T0, 0, 0, 10, Event.STARTED)
    announce(book, T0 + 60, 0, 10, 0, Event.COMPLETED)
    announce(book, T0 + 120, 0, 10, 0, Event.COMPLETED)
    announce(book, T0 + 180, 50, 10, 0, Event.STOPPED)
    assert len(book) == 0
    got = credit(book)
    assert got.completed_at == T0 + 60 and got.uploaded == 50 and got.downloaded == 10
    announce(book, T0 + 240, 999, 999, 0)  # no baseline any more: a new one, no credit
    assert credit(book).uploaded == 0


def test_peers_are_kept_apart_and_stale_ones_forgotten() -> None:
    book = ledger()
    other = b"-TR3000-bbbbbbbbbbbb"
    for peer in (PEER, other):
        announce(book, T0, 0, 0, 10, Event.STARTED, peer=peer)
    announce(book, T0 + 60, 100, 0, 10, peer=PEER)
    announce(book, T0 + 60, 200, 0, 10, peer=other)
    assert credit(book).uploaded == 300
    assert book.forget_stale(T0 + 60 + 2700) == 0
    assert book.forget_stale(T0 + 61 + 2700) == 2 and len(book) == 0


def test_credit_given_back_comes_before_what_followed() -> None:
    book = ledger()
    announce(book, T0, 0, 0, 10, Event.STARTED)
    announce(book, T0 + 60, 100, 0, 0)
    failed = book.take()
    announce(book, T0 + 120, 300, 0, 0)
    book.give_back(failed)
    got = credit(book)
    assert got.uploaded == 300 and got.completed_at == T0 + 60 and got.last_seen == T0 + 120


def test_a_client_on_ipv4_and_ipv6_is_listed_twice_and_credited_once() -> None:
    clock = Clock(T0)
    members, book = Members(), ledger()
    members.apply(Member(7, passkey_digest("k" * 32)))
    tracker = Tracker(MemoryPeerStore(seed=1), OpenTracker(), clock=clock, members=members,
                      ledger=book)

    def both(up: int, event: Event = Event.NONE) -> int:
        request = AnnounceRequest(SWARM, PEER, 6881, up, 0, 0, event, None, passkey="k" * 32)
        now(tracker.announce(request, IP_A, max_peers=50, other_family=False))
        return now(tracker.announce(request, IP6, max_peers=50, other_family=False)).complete

    assert both(0, Event.STARTED) == 2  # one peer in each family's swarm
    clock.t += 1800
    both(5_000_000)
    clock.t += 1800
    both(9_000_000)
    got = book.take()[(7, SWARM)]
    assert got.uploaded == 9_000_000 and got.uploaded_raw == 9_000_000


def _private(**rules: object) -> tuple[Tracker, Clock]:
    clock = Clock(T0)
    members = Members()
    members.apply(Member(7, passkey_digest("k" * 32)))
    tracker = Tracker(MemoryPeerStore(seed=1), OpenTracker(), clock=clock, members=members,
                      ledger=ledger(), clients=ClientRules(**rules))  # type: ignore[arg-type]
    return tracker, clock


def _try(tracker: Tracker, peer: bytes, port: int, event: Event = Event.STARTED) -> str | None:
    request = AnnounceRequest(SWARM, peer, port, 0, 0, 10, event, None, passkey="k" * 32)
    try:
        now(tracker.announce(request, IP_A, max_peers=50, other_family=False))
    except ProtocolError as exc:
        return str(exc)
    return None


def test_clients_not_on_the_allowlist_are_refused_by_name() -> None:
    tracker, _ = _private(allowed=(b"-qB", b"-TR"))
    assert _try(tracker, b"-qB4620-aaaaaaaaaaaa", 6881) is None
    assert _try(tracker, b"-TR4060-aaaaaaaaaaaa", 6882) is None
    refusal = _try(tracker, b"-UT355W-aaaaaaaaaaaa", 6883)
    assert refusal is not None and "(UT 355W)" in refusal and "not allowed" in refusal
    assert client_name(b"\x00\x01M7-2-2--aaaaaaaaaaaa") == "M7-2-2"  # printable, of the first 8 bytes
    assert client_name(bytes(20)) == "unknown"
    assert tracker.counters.refused == 1


def test_a_member_may_have_so_many_clients_in_a_swarm() -> None:
    tracker, clock = _private(per_torrent=2)
    first, second, third = (f"-LT2000-{i:012d}".encode() for i in range(3))
    assert _try(tracker, first, 7001) is None
    assert _try(tracker, second, 7002) is None
    assert _try(tracker, third, 7003) == TOO_MANY_CLIENTS.format(limit=2)
    assert _try(tracker, first, 7001, Event.NONE) is None  # those in keep announcing
    assert _try(tracker, first, 7001, Event.STOPPED) is None
    assert _try(tracker, third, 7003) is None  # one stopped: room again
    clock.t += 2701  # both others go silent and are forgotten
    assert tracker.ledger is not None and tracker.ledger.forget_stale(clock.t) == 2
    assert _try(tracker, first, 7001) is None and _try(tracker, second, 7002) is None


def test_public_trackers_have_no_client_rules() -> None:
    tracker = Tracker(MemoryPeerStore(seed=1), OpenTracker(), clients=ClientRules(allowed=(b"-qB",)))
    request = AnnounceRequest(SWARM, b"-UT355W-aaaaaaaaaaaa", 6881, 0, 0, 10, Event.STARTED, None)
    assert now(tracker.announce(request, IP_A, max_peers=50, other_family=False)).incomplete == 1
