"""The PeerStore conformance suite: every backend in `conftest.BACKENDS` passes all of it.

Each duty of `swarmdex.peerstore.base` has its own tests below; the model-based tests at the
end drive random mixes of operations, on swarms big enough to cross any size-dependent change
of representation, against the reference model in `model.py`.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from swarmdex.peerstore.base import (
    AddressFull,
    NewSwarmsPaced,
    PeerStore,
    Rate,
    StoreFull,
    StoreStats,
    SwarmReply,
)
from swarmdex.protocol.announce import Event, SwarmCounts

from .conftest import PEER_TTL, MakeStore, Run, StoreFactory
from .model import (
    MODEL_TTL,
    V4,
    V6,
    Driver,
    Op,
    low_entropy_endpoint,
    records,
)

NOW = 1_700_000_000.0


def info_hash(n: int, first: int = 0x5A) -> bytes:
    """A 20-byte info hash; `first` picks the leading byte (swarms sharing it are neighbours)."""
    return bytes([first]) + n.to_bytes(19, "big")


def ip4(n: int, port: int = 6881) -> bytes:
    return bytes([10, n >> 16 & 255, n >> 8 & 255, n & 255]) + port.to_bytes(2, "big")


def ip6(n: int, port: int = 6881) -> bytes:
    return bytes.fromhex("20010db8") + bytes(8) + n.to_bytes(4, "big") + port.to_bytes(2, "big")


def ip6_net(n: int, port: int = 6881) -> bytes:
    """An IPv6 endpoint in the `n`th /64 (`ip6` endpoints all share one /64)."""
    return bytes.fromhex("20010db8") + n.to_bytes(4, "big") + bytes(7) + b"\1" + port.to_bytes(2, "big")


ENDPOINT = {V4: ip4, V6: ip6}
FAMILIES = pytest.mark.parametrize("size", [V4, V6], ids=["ipv4", "ipv6"])
H = info_hash(1)
H_NEIGHBOUR = info_hash(2)  # same leading byte as H
H_FAR = info_hash(1, first=0xC3)


class Store:
    """The store under test, called synchronously with defaults that keep tests short."""

    def __init__(self, store: PeerStore, run: Run) -> None:
        self.store = store
        self.run = run

    def announce(
        self,
        info_hash: bytes,
        peer: bytes,
        *,
        event: Event = Event.STARTED,
        seeder: bool = False,
        numwant: int = 50,
        other_family: bool = False,
        now: float = NOW,
    ) -> SwarmReply:
        return self.run(
            self.store.announce(
                info_hash,
                peer,
                event=event,
                seeder=seeder,
                numwant=numwant,
                other_family=other_family,
                now=now,
            )
        )

    def scrape(self, *info_hashes: bytes, now: float = NOW) -> list[SwarmCounts]:
        return self.run(self.store.scrape(info_hashes, now))

    def counts(self, info_hash: bytes, now: float = NOW) -> tuple[int, int, int]:
        (c,) = self.scrape(info_hash, now=now)
        return c.complete, c.incomplete, c.downloaded

    def stats(self, now: float = NOW) -> StoreStats:
        return self.run(self.store.stats(now))

    def totals(self) -> tuple[int, int]:
        return self.run(self.store.totals())

    def collect(self, now: float) -> int:
        return self.run(self.store.collect_garbage(now))

    def remove_swarm(self, info_hash: bytes) -> None:
        self.run(self.store.remove_swarm(info_hash))

    def join(
        self, info_hash: bytes, peers: Sequence[bytes], *, seeder: bool = False, now: float = NOW
    ) -> None:
        for peer in peers:
            self.announce(info_hash, peer, seeder=seeder, numwant=0, now=now)


@pytest.fixture
def s(store: PeerStore, run: Run) -> Store:
    return Store(store, run)


MakeSyncStore = Callable[..., Store]


@pytest.fixture
def make(make_store: MakeStore, run: Run) -> MakeSyncStore:
    """A fresh store of the backend under test with the given `peer_ttl` or limits."""

    def make(*, peer_ttl: float = PEER_TTL, **limits: Any) -> Store:
        return Store(make_store(peer_ttl=peer_ttl, **limits), run)

    return make


def counts(reply: SwarmReply) -> tuple[int, int, int]:
    return reply.complete, reply.incomplete, reply.downloaded


def handed(reply: SwarmReply) -> tuple[set[bytes], set[bytes]]:
    """The peers of an answer as sets, checking that each list is well formed."""
    v4, v6 = records(reply.peers4, V4), records(reply.peers6, V6)
    assert len(set(v4)) == len(v4) and len(set(v6)) == len(v6), "a peer was handed out twice"
    return set(v4), set(v6)


# -- 1. counts, and never the announcer itself ---------------------------------------------


def test_first_announce_counts_the_announcer(s: Store) -> None:
    assert counts(s.announce(H, ip4(1))) == (0, 1, 0)
    assert counts(s.announce(H_FAR, ip4(1), seeder=True)) == (1, 0, 0)
    assert s.counts(H) == (0, 1, 0)
    assert s.counts(H_FAR) == (1, 0, 0)


def test_re_announcing_does_not_add_a_peer(s: Store) -> None:
    for event in (Event.STARTED, Event.NONE, Event.STARTED, Event.NONE):
        assert counts(s.announce(H, ip4(1), event=event)) == (0, 1, 0)
    assert s.stats() == StoreStats(swarms=1, peers4=1, peers6=0, seeders=0, leechers=1)


def test_counts_follow_seeder_switches(s: Store) -> None:
    s.join(H, [ip4(1), ip4(2), ip6(3)])
    assert counts(s.announce(H, ip4(1), event=Event.NONE, seeder=True)) == (1, 2, 0)
    assert counts(s.announce(H, ip6(3), event=Event.NONE, seeder=True)) == (2, 1, 0)
    assert counts(s.announce(H, ip4(1), event=Event.NONE, seeder=False)) == (1, 2, 0)
    assert counts(s.announce(H, ip4(1), event=Event.NONE, seeder=True)) == (2, 1, 0)
    assert counts(s.announce(H, ip4(1), event=Event.NONE, seeder=True)) == (2, 1, 0)
    assert counts(s.announce(H, ip6(3), event=Event.STARTED, seeder=False)) == (1, 2, 0)
    assert s.counts(H) == (1, 2, 0)
    assert s.stats() == StoreStats(swarms=1, peers4=2, peers6=1, seeders=1, leechers=2)


@FAMILIES
def test_the_announcer_is_never_handed_itself(s: Store, size: int) -> None:
    peers = [ENDPOINT[size](n) for n in range(10)]
    s.join(H, peers)
    for peer in peers:
        for numwant in (5, 9, 10, 200):
            got4, got6 = handed(
                s.announce(H, peer, event=Event.NONE, numwant=numwant, other_family=True)
            )
            got = got4 if size == V4 else got6
            assert peer not in got
            assert got <= set(peers)
            assert len(got) == min(numwant, 9)


def test_a_lone_peer_gets_no_peers(s: Store) -> None:
    reply = s.announce(H, ip4(1), numwant=50, other_family=True)
    assert (reply.peers4, reply.peers6) == (b"", b"")
    reply = s.announce(H, ip4(1), numwant=50, other_family=True)
    assert (reply.peers4, reply.peers6) == (b"", b"")


@pytest.mark.parametrize("numwant", [0, 1, 5, 19, 20, 21, 1000])
def test_numwant_caps_the_answer(s: Store, numwant: int) -> None:
    others = {ip4(n) for n in range(20)}
    s.join(H, sorted(others))
    reply = s.announce(H, ip4(99), numwant=numwant)
    got, _ = handed(reply)
    assert len(got) == min(numwant, 20)
    assert got <= others
    assert counts(reply) == (0, 21, 0)


def test_numwant_zero_still_records_and_counts(s: Store) -> None:
    s.join(H, [ip4(1), ip6(1)])
    reply = s.announce(H, ip4(2), seeder=True, numwant=0, other_family=True)
    assert (reply.peers4, reply.peers6) == (b"", b"")
    assert counts(reply) == (1, 2, 0)
    got, _ = handed(s.announce(H, ip4(1), event=Event.NONE, numwant=10))
    assert got == {ip4(2)}


# -- 2. IPv4 and IPv6 apart ------------------------------------------------------------------


@FAMILIES
@pytest.mark.parametrize("other_family", [False, True])
def test_families_are_kept_apart(s: Store, size: int, other_family: bool) -> None:
    v4 = {ip4(n) for n in range(6)}
    v6 = {ip6(n) for n in range(6)}
    s.join(H, sorted(v4 | v6))
    for peer in sorted(v4 if size == V4 else v6):
        got4, got6 = handed(
            s.announce(H, peer, event=Event.NONE, numwant=100, other_family=other_family)
        )
        assert got4 <= v4 and got6 <= v6
        own, other = (got4, got6) if size == V4 else (got6, got4)
        assert own == (v4 if size == V4 else v6) - {peer}
        assert other == (set() if not other_family else v6 if size == V4 else v4)


@FAMILIES
def test_other_family_false_answers_only_the_announcing_family(s: Store, size: int) -> None:
    s.join(H, [ip6(n) for n in range(5)] if size == V4 else [ip4(n) for n in range(5)])
    reply = s.announce(H, ENDPOINT[size](100), numwant=50, other_family=False)
    assert (reply.peers4, reply.peers6) == (b"", b"")
    assert counts(reply) == (0, 6, 0)


@FAMILIES
@pytest.mark.parametrize(
    ("numwant", "own", "other"), [(3, 3, 0), (4, 4, 0), (7, 4, 3), (9, 4, 5), (50, 4, 5)]
)
def test_other_family_fills_the_leftover_slots(
    s: Store, size: int, numwant: int, own: int, other: int
) -> None:
    other_size = V6 if size == V4 else V4
    same = {ENDPOINT[size](n) for n in range(4)}
    different = {ENDPOINT[other_size](n) for n in range(5)}
    s.join(H, sorted(same | different))
    got4, got6 = handed(s.announce(H, ENDPOINT[size](100), numwant=numwant, other_family=True))
    got_own, got_other = (got4, got6) if size == V4 else (got6, got4)
    assert (len(got_own), len(got_other)) == (own, other)
    assert got_own <= same and got_other <= different


# -- 3. stopped, seeder, completed -----------------------------------------------------------


@FAMILIES
def test_stopped_removes_the_peer_at_once(s: Store, size: int) -> None:
    a, b, c = (ENDPOINT[size](n) for n in range(3))
    s.join(H, [a, b])
    s.announce(H, c, seeder=True)
    reply = s.announce(H, c, event=Event.STOPPED, seeder=True, numwant=50, other_family=True)
    assert counts(reply) == (0, 2, 0)
    assert (reply.peers4, reply.peers6) == (b"", b""), "a stopped announce got peers"
    assert s.counts(H) == (0, 2, 0)
    got4, got6 = handed(s.announce(H, a, event=Event.NONE, numwant=50))
    assert (got4 | got6) == {b}
    assert counts(s.announce(H, b, event=Event.STOPPED)) == (0, 1, 0)
    assert s.stats() == StoreStats(
        swarms=1,
        peers4=1 if size == V4 else 0,
        peers6=0 if size == V4 else 1,
        seeders=0,
        leechers=1,
    )


def test_stopping_the_last_peer_leaves_nothing_to_count(s: Store) -> None:
    s.announce(H, ip4(1), seeder=True)
    assert counts(s.announce(H, ip4(1), event=Event.STOPPED)) == (0, 0, 0)
    assert s.counts(H) == (0, 0, 0)
    assert s.stats() == StoreStats(0, 0, 0, 0, 0)


def test_stopped_for_an_unknown_peer_changes_nothing(s: Store) -> None:
    s.join(H, [ip4(1), ip6(1)])
    s.announce(H, ip4(2), seeder=True)
    before = s.stats()
    assert counts(s.announce(H, ip4(3), event=Event.STOPPED)) == (1, 2, 0)
    assert counts(s.announce(H, ip6(3), event=Event.STOPPED)) == (1, 2, 0)
    # The same endpoint in a neighbouring swarm is a different peer.
    assert counts(s.announce(H_NEIGHBOUR, ip4(1), event=Event.STOPPED)) == (0, 0, 0)
    assert s.stats() == before
    assert s.counts(H) == (1, 2, 0)


def test_stopped_for_an_unknown_swarm_creates_nothing(s: Store) -> None:
    reply = s.announce(H, ip4(1), event=Event.STOPPED, seeder=True, numwant=50, other_family=True)
    assert reply == SwarmReply(0, 0, 0, b"", b"")
    assert s.stats() == StoreStats(0, 0, 0, 0, 0)
    assert s.counts(H) == (0, 0, 0)


def test_a_stopped_peer_may_come_back(s: Store) -> None:
    s.join(H, [ip4(1), ip4(2)])
    s.announce(H, ip4(1), event=Event.STOPPED)
    assert counts(s.announce(H, ip4(1))) == (0, 2, 0)
    got, _ = handed(s.announce(H, ip4(2), event=Event.NONE))
    assert got == {ip4(1)}


def test_completed_is_counted_once_per_peer(s: Store) -> None:
    s.join(H, [ip4(1), ip4(2), ip6(1)])
    assert counts(s.announce(H, ip4(1), event=Event.COMPLETED, seeder=True)) == (1, 2, 1)
    assert counts(s.announce(H, ip4(1), event=Event.COMPLETED, seeder=True)) == (1, 2, 1)
    # A seeder going back to leeching (a failed recheck) and completing again is still one peer.
    assert counts(s.announce(H, ip4(1), event=Event.NONE, seeder=False)) == (0, 3, 1)
    assert counts(s.announce(H, ip4(1), event=Event.COMPLETED, seeder=True)) == (1, 2, 1)
    assert counts(s.announce(H, ip4(2), event=Event.COMPLETED, seeder=True)) == (2, 1, 2)
    assert counts(s.announce(H, ip6(1), event=Event.COMPLETED, seeder=True)) == (3, 0, 3)
    assert counts(s.announce(H, ip6(1), event=Event.COMPLETED, seeder=True)) == (3, 0, 3)
    assert s.counts(H) == (3, 0, 3)


def test_completed_without_started_counts_and_makes_a_seeder(s: Store) -> None:
    s.join(H, [ip4(1)])
    assert counts(s.announce(H, ip4(2), event=Event.COMPLETED, seeder=True)) == (1, 1, 1)
    assert counts(s.announce(H_FAR, ip6(2), event=Event.COMPLETED, seeder=True)) == (1, 0, 1)
    assert s.stats() == StoreStats(swarms=2, peers4=2, peers6=1, seeders=2, leechers=1)


def test_completed_is_counted_per_swarm(s: Store) -> None:
    for h in (H, H_NEIGHBOUR, H_FAR):
        assert counts(s.announce(h, ip4(1), event=Event.COMPLETED, seeder=True)) == (1, 0, 1)
    assert [c.downloaded for c in s.scrape(H, H_NEIGHBOUR, H_FAR)] == [1, 1, 1]


# -- 4. expiry -------------------------------------------------------------------------------


def test_silent_peers_expire_after_peer_ttl(make: MakeSyncStore) -> None:
    s = make(peer_ttl=100.0)
    s.announce(H, ip4(1), now=NOW)
    s.announce(H, ip4(2), seeder=True, now=NOW)
    s.announce(H, ip6(1), now=NOW)
    s.announce(H, ip4(3), now=NOW + 50)
    assert s.collect(NOW + 99) == 0
    assert s.counts(H, now=NOW + 99) == (1, 3, 0)

    assert s.collect(NOW + 102) == 3
    assert s.counts(H, now=NOW + 102) == (0, 1, 0)
    assert s.stats(now=NOW + 102) == StoreStats(1, 1, 0, 0, 1)
    reply = s.announce(H, ip4(3), event=Event.NONE, numwant=50, other_family=True, now=NOW + 102)
    assert (reply.peers4, reply.peers6) == (b"", b"")

    assert s.collect(NOW + 150) == 0
    assert s.collect(NOW + 210) == 1
    assert s.counts(H, now=NOW + 210) == (0, 0, 0)
    assert s.stats(now=NOW + 210) == StoreStats(0, 0, 0, 0, 0)


def test_a_refreshed_peer_does_not_expire(make: MakeSyncStore) -> None:
    s = make(peer_ttl=100.0)
    for t in range(0, 1000, 60):
        s.announce(H, ip4(1), event=Event.NONE, now=NOW + t)
        assert s.collect(NOW + t + 30) == 0
    assert s.counts(H, now=NOW + 1000) == (0, 1, 0)


# (peer_ttl, announce time, collection time, still there?) — always well clear of the boundary
# by the one-second resolution a backend may round timestamps to, but never early: a peer
# heard from less than `peer_ttl` ago must survive.
EXPIRY_CASES = [
    (100.0, 0.0, 99.0, True),
    (100.0, 0.0, 101.0, False),
    (100.0, 0.9, 100.8, True),
    (100.0, 0.9, 102.0, False),
    (2.5, 0.9, 3.0, True),
    (2.5, 0.9, 4.5, False),
    (0.5, 0.9, 1.0, True),
    (0.5, 0.9, 2.0, False),
    (1800.5, 0.3, 1800.7, True),
    (1800.5, 0.9, 1801.0, True),
]


@pytest.mark.parametrize(("ttl", "at", "collect_at", "kept"), EXPIRY_CASES)
def test_expiry_is_never_early(
    make: MakeSyncStore, ttl: float, at: float, collect_at: float, kept: bool
) -> None:
    s = make(peer_ttl=ttl)
    s.announce(H_FAR, ip4(1), now=NOW)  # an earlier announce elsewhere, on a whole second
    s.announce(H, ip4(2), now=NOW + at)
    s.collect(NOW + collect_at)
    silent = collect_at - at
    assert s.counts(H, now=NOW + collect_at) == ((0, 1, 0) if kept else (0, 0, 0)), (
        f"peer silent for {silent:.1f}s with peer_ttl={ttl}: expected it {'kept' if kept else 'gone'}"
    )


def test_collecting_an_empty_store_removes_nothing(s: Store) -> None:
    assert s.collect(NOW) == 0
    assert s.collect(NOW + 1e6) == 0
    assert s.stats(now=NOW + 1e6) == StoreStats(0, 0, 0, 0, 0)


def test_expired_peers_are_not_handed_out(make: MakeSyncStore) -> None:
    s = make(peer_ttl=60.0)
    s.join(H, [ip4(n) for n in range(10)] + [ip6(n) for n in range(10)], now=NOW)
    s.join(H, [ip4(n) for n in range(10, 15)] + [ip6(n) for n in range(10, 15)], now=NOW + 40)
    assert s.collect(NOW + 80) == 20
    got4, got6 = handed(
        s.announce(H, ip4(10), event=Event.NONE, numwant=100, other_family=True, now=NOW + 80)
    )
    assert got4 == {ip4(n) for n in range(11, 15)}
    assert got6 == {ip6(n) for n in range(10, 15)}


# -- 5. scrape -------------------------------------------------------------------------------


def test_scraping_unknown_swarms_gives_zeros_and_creates_nothing(s: Store) -> None:
    assert s.scrape(H, H_NEIGHBOUR, H_FAR) == [SwarmCounts(0, 0, 0)] * 3
    assert s.stats() == StoreStats(0, 0, 0, 0, 0)
    s.announce(H, ip4(1))
    assert s.scrape(H_NEIGHBOUR) == [SwarmCounts(0, 0, 0)]
    assert s.stats().swarms == 1
    reply = s.announce(H_NEIGHBOUR, ip4(2), numwant=50)
    assert counts(reply) == (0, 1, 0) and reply.peers4 == b""


def test_scrape_answers_in_order_with_repeats(s: Store) -> None:
    s.announce(H, ip4(1), event=Event.COMPLETED, seeder=True)
    s.join(H, [ip4(2), ip6(3)])
    s.join(H_FAR, [ip6(1)])
    got = s.scrape(H_FAR, H_NEIGHBOUR, H, H_FAR, H)
    assert got == [
        SwarmCounts(0, 1, 0),
        SwarmCounts(0, 0, 0),
        SwarmCounts(1, 2, 1),
        SwarmCounts(0, 1, 0),
        SwarmCounts(1, 2, 1),
    ]
    assert s.scrape() == []


def test_swarms_are_separate(s: Store) -> None:
    for h, base in ((H, 0), (H_NEIGHBOUR, 100), (H_FAR, 200)):
        s.join(h, [ip4(base + n) for n in range(5)] + [ip6(base + n) for n in range(5)])
    for h, base in ((H, 0), (H_NEIGHBOUR, 100), (H_FAR, 200)):
        got4, got6 = handed(s.announce(h, ip4(base + 50), numwant=100, other_family=True))
        assert got4 == {ip4(base + n) for n in range(5)}
        assert got6 == {ip6(base + n) for n in range(5)}
        assert s.counts(h) == (0, 11, 0)


# -- 6. remove_swarm -------------------------------------------------------------------------


def test_remove_swarm_forgets_it_at_once(s: Store) -> None:
    s.announce(H, ip4(1), event=Event.COMPLETED, seeder=True)
    s.join(H, [ip4(2), ip6(2)])
    s.join(H_NEIGHBOUR, [ip4(1), ip6(1)])
    s.remove_swarm(H)
    assert s.counts(H) == (0, 0, 0)
    assert s.counts(H_NEIGHBOUR) == (0, 2, 0)
    assert s.stats() == StoreStats(swarms=1, peers4=1, peers6=1, seeders=0, leechers=2)
    reply = s.announce(H, ip4(3), numwant=50, other_family=True)
    assert (reply.peers4, reply.peers6) == (b"", b"")
    assert counts(reply) == (0, 1, 0)
    # Everyone is new to the swarm now, including an earlier completer.
    assert counts(s.announce(H, ip4(1), event=Event.COMPLETED, seeder=True)) == (1, 1, 1)


def test_removing_an_unknown_swarm_is_harmless(s: Store) -> None:
    s.join(H, [ip4(1)])
    s.remove_swarm(H_NEIGHBOUR)
    s.remove_swarm(H_FAR)
    assert s.counts(H) == (0, 1, 0)
    assert s.stats() == StoreStats(1, 1, 0, 0, 1)


def test_totals_follow_announces_stops_removals_and_expiry(s: Store) -> None:
    assert s.totals() == (0, 0)
    s.join(H, [ip4(1), ip4(2), ip6(1)])
    s.join(H_NEIGHBOUR, [ip4(1)], seeder=True)
    s.announce(H, ip4(1), event=Event.NONE, seeder=True)  # a re-announce adds nothing
    assert s.totals() == (2, 4)
    s.announce(H, ip4(2), event=Event.STOPPED)
    assert s.totals() == (2, 3)
    s.remove_swarm(H_NEIGHBOUR)
    assert s.totals() == (1, 2)
    s.join(H_FAR, [ip6(5)], now=NOW + PEER_TTL)
    s.collect(NOW + PEER_TTL + 1)  # H's peers expired, H_FAR's did not
    assert s.totals() == (s.stats(NOW + PEER_TTL + 1).swarms, 1)


# -- 7. limits -------------------------------------------------------------------------------


def test_peer_limit(make: MakeSyncStore) -> None:
    s = make(max_peers=4)
    # Swarms of two peers each: nothing a full store may evict (duty 7c).
    s.join(H, [ip4(1), ip6(1)])
    s.join(H_FAR, [ip4(1), ip4(2)])
    before = s.stats()
    for h, peer in ((H, ip4(2)), (H, ip6(2)), (H_FAR, ip6(1)), (H_NEIGHBOUR, ip4(1))):
        with pytest.raises(StoreFull):
            s.announce(h, peer)
        with pytest.raises(StoreFull):
            s.announce(h, peer, event=Event.COMPLETED, seeder=True)
    assert s.stats() == before, "a refused announce changed the store"
    assert s.scrape(H, H_NEIGHBOUR, H_FAR) == [
        SwarmCounts(0, 2, 0),
        SwarmCounts(0, 0, 0),
        SwarmCounts(0, 2, 0),
    ]

    # Known peers are always accepted, whatever they announce.
    assert counts(s.announce(H, ip4(1), event=Event.NONE)) == (0, 2, 0)
    assert counts(s.announce(H, ip6(1), event=Event.COMPLETED, seeder=True)) == (1, 1, 1)
    assert counts(s.announce(H, ip6(1), event=Event.NONE, seeder=False)) == (0, 2, 1)
    got4, got6 = handed(s.announce(H, ip4(1), event=Event.STARTED, numwant=10, other_family=True))
    assert (got4, got6) == (set(), {ip6(1)})
    # Stopping never needs room, known or not.
    assert counts(s.announce(H, ip4(9), event=Event.STOPPED)) == (0, 2, 1)
    assert counts(s.announce(H_NEIGHBOUR, ip4(9), event=Event.STOPPED)) == (0, 0, 0)

    # Room freed is room to use.
    s.announce(H_FAR, ip4(1), event=Event.STOPPED)
    assert counts(s.announce(H_FAR, ip6(7))) == (0, 2, 0)
    with pytest.raises(StoreFull):
        s.announce(H_FAR, ip4(1))


def test_swarm_limit(make: MakeSyncStore) -> None:
    s = make(max_swarms=2)
    s.join(H, [ip4(1), ip4(2)])
    s.join(H_FAR, [ip6(1), ip6(2)])
    with pytest.raises(StoreFull):
        s.announce(H_NEIGHBOUR, ip4(1))
    with pytest.raises(StoreFull):
        s.announce(H_NEIGHBOUR, ip6(1), event=Event.COMPLETED, seeder=True)
    assert s.stats() == StoreStats(swarms=2, peers4=2, peers6=2, seeders=0, leechers=4)
    assert s.counts(H_NEIGHBOUR) == (0, 0, 0)
    # Known swarms take new and known peers; stopping in an unknown swarm is no growth.
    assert counts(s.announce(H, ip4(3))) == (0, 3, 0)
    assert counts(s.announce(H, ip6(2))) == (0, 4, 0)
    assert counts(s.announce(H_FAR, ip6(1), event=Event.COMPLETED, seeder=True)) == (1, 1, 1)
    assert s.announce(H_NEIGHBOUR, ip4(1), event=Event.STOPPED) == SwarmReply(0, 0, 0, b"", b"")
    # Room freed is room to use.
    s.remove_swarm(H)
    s.join(H_NEIGHBOUR, [ip4(1), ip4(2)])
    assert s.counts(H_NEIGHBOUR) == (0, 2, 0)
    with pytest.raises(StoreFull):
        s.announce(H, ip4(1))


def test_a_full_store_evicts_the_oldest_lone_swarm_for_a_new_one(make: MakeSyncStore) -> None:
    s = make(max_swarms=4)
    s.join(H, [ip4(1), ip4(2), ip6(1)])
    lone = [info_hash(10 + n) for n in range(3)]
    for n, h in enumerate(lone):
        s.join(h, [ip4(20 + n)], now=NOW + n)
    assert s.stats().swarms == 4
    # Full: the new swarm takes the place of the oldest swarm of one peer, not of the
    # swarm of three, and the store never grows past its limit.
    assert counts(s.announce(H_FAR, ip4(30), now=NOW + 10)) == (0, 1, 0)
    assert s.stats().swarms == 4
    assert s.counts(lone[0]) == (0, 0, 0)
    assert [s.counts(h) for h in lone[1:]] == [(0, 1, 0), (0, 1, 0)]
    assert s.counts(H) == (0, 3, 0)
    assert counts(s.announce(H_NEIGHBOUR, ip6(30), now=NOW + 11)) == (0, 1, 0)
    assert s.counts(lone[1]) == (0, 0, 0)
    assert s.counts(lone[2]) == (0, 1, 0)


def test_a_full_store_evicts_a_lone_swarm_for_a_new_peer(make: MakeSyncStore) -> None:
    s = make(max_peers=4)
    s.join(H, [ip4(1), ip4(2)])
    s.join(H_FAR, [ip6(1)])
    s.join(H_NEIGHBOUR, [ip4(3)])
    # H_NEIGHBOUR is announced to, so H_FAR (the other lone swarm) makes room.
    assert counts(s.announce(H_NEIGHBOUR, ip4(4))) == (0, 2, 0)
    assert s.counts(H_FAR) == (0, 0, 0)
    assert s.stats() == StoreStats(swarms=2, peers4=4, peers6=0, seeders=0, leechers=4)
    # Nothing left with fewer than two peers: now the store refuses.
    with pytest.raises(StoreFull):
        s.announce(H, ip4(5))
    with pytest.raises(StoreFull):
        s.announce(H_FAR, ip6(1))


def test_the_swarm_announced_to_is_never_evicted_for_itself(make: MakeSyncStore) -> None:
    s = make(max_peers=1)
    s.join(H, [ip4(1)])
    with pytest.raises(StoreFull):
        s.announce(H, ip4(2))
    assert s.counts(H) == (0, 1, 0)


@FAMILIES
def test_peers_per_address_are_capped_in_each_swarm(make: MakeSyncStore, size: int) -> None:
    s = make(max_peers_per_address=3)
    # IPv4: one address, many ports. IPv6: one /64, other host bits and ports.
    if size == V4:
        mine = [ip4(7, port) for port in range(6000, 6004)]
        neighbour = ip4(8, 6000)
    else:
        mine = [ip6(n, 6000 + n) for n in range(4)]
        neighbour = ip6_net(1, 6000)
    s.join(H, mine[:3])
    with pytest.raises(AddressFull):
        s.announce(H, mine[3])
    assert s.counts(H) == (0, 3, 0), "a refused peer was counted"
    # Known peers are always accepted; other addresses and other swarms have room of their own.
    assert counts(s.announce(H, mine[0], event=Event.COMPLETED, seeder=True)) == (1, 2, 1)
    assert counts(s.announce(H, neighbour)) == (1, 3, 1)
    assert counts(s.announce(H_FAR, mine[3])) == (0, 1, 0)
    # One peer gone is room for one more.
    s.announce(H, mine[1], event=Event.STOPPED)
    assert counts(s.announce(H, mine[3])) == (1, 3, 1)
    with pytest.raises(AddressFull):
        s.announce(H, mine[1])


@FAMILIES
def test_peers_per_address_are_capped_in_large_swarms(make: MakeSyncStore, size: int) -> None:
    s = make(max_peers_per_address=2)
    # Each of another address (IPv6: another /64).
    others = [ip4(n) if size == V4 else ip6_net(n) for n in range(1, 701)]
    s.join(H, others)  # past any size where a backend may change how it keeps a swarm
    mine = [ENDPOINT[size](900, port) for port in (7000, 7001, 7002)]
    s.join(H, mine[:2])
    with pytest.raises(AddressFull):
        s.announce(H, mine[2])
    for peer in others[:600]:
        s.announce(H, peer, event=Event.STOPPED)  # and back below it
    with pytest.raises(AddressFull):
        s.announce(H, mine[2])
    s.announce(H, mine[0], event=Event.STOPPED)
    assert counts(s.announce(H, mine[2])) == (0, 102, 0)


def test_new_swarms_per_address_are_paced(make: MakeSyncStore) -> None:
    s = make(new_swarms=Rate(3, 60.0))
    hashes = [info_hash(100 + n) for n in range(6)]
    for h in hashes[:3]:
        s.announce(h, ip4(1, 6000))
    with pytest.raises(NewSwarmsPaced):
        s.announce(hashes[3], ip4(1, 6001))
    assert s.counts(hashes[3]) == (0, 0, 0), "a refused swarm was created"
    assert s.stats().swarms == 3
    # Joining swarms that exist is not starting new ones; other addresses have their own pace.
    assert counts(s.announce(hashes[0], ip4(1, 6001))) == (0, 2, 0)
    assert counts(s.announce(hashes[3], ip4(2))) == (0, 1, 0)
    # An IPv6 /64 is one address, whatever its host bits.
    for n in range(3):
        s.announce(hashes[n], ip6(n))
    s.announce(hashes[4], ip6(10))
    s.announce(hashes[5], ip6(11))
    s.announce(info_hash(200), ip6(12))
    with pytest.raises(NewSwarmsPaced):
        s.announce(info_hash(201), ip6(13))
    # Three per minute: one more every 20 s.
    with pytest.raises(NewSwarmsPaced):
        s.announce(info_hash(202), ip4(1), now=NOW + 19)
    assert counts(s.announce(info_hash(202), ip4(1), now=NOW + 21)) == (0, 1, 0)
    with pytest.raises(NewSwarmsPaced):
        s.announce(info_hash(203), ip4(1), now=NOW + 22)


def test_an_early_reannounce_counts_but_gets_no_peers(make: MakeSyncStore) -> None:
    s = make(min_interval=300.0)
    s.join(H, [ip4(n) for n in range(1, 21)])
    me = ip4(100)
    assert len(handed(s.announce(H, me, numwant=10, now=NOW))[0]) == 10
    # Sooner than min_interval after its previous announce: recorded, no peers; and each
    # early announce starts the wait again, so announcing in a loop never gets any.
    for t in (NOW + 1, NOW + 200, NOW + 450):
        assert s.announce(H, me, event=Event.NONE, numwant=10, now=t).peers4 == b""
    done = s.announce(H, me, event=Event.COMPLETED, seeder=True, numwant=10, now=NOW + 460)
    assert (counts(done), done.peers4) == ((1, 20, 1), b"")
    again = s.announce(H, me, event=Event.NONE, seeder=True, numwant=10, now=NOW + 470)
    assert (counts(again), again.peers4) == ((1, 20, 1), b"")
    assert len(handed(s.announce(H, me, seeder=True, numwant=10, now=NOW + 770))[0]) == 10
    # Stopping is honoured however early.
    assert counts(s.announce(H, me, event=Event.STOPPED, now=NOW + 771)) == (0, 20, 1)
    # Other peers have their own time.
    assert len(handed(s.announce(H, ip4(1), numwant=10, now=NOW + 771))[0]) == 10


def test_new_peers_of_one_address_get_peers_at_a_pace(make: MakeSyncStore) -> None:
    s = make(new_peer_lists=Rate(2, 300.0))
    s.join(H, [ip4(n) for n in range(1, 21)])  # each its own address: two lists each
    s.join(H_FAR, [ip4(1)])
    ports = [ip4(100, port) for port in range(7000, 7006)]
    answers = [s.announce(H, peer, numwant=5) for peer in ports[:4]]
    assert [len(a.peers4) // V4 for a in answers] == [5, 5, 0, 0]
    assert s.counts(H) == (0, 24, 0), "peers answered without a list were not recorded"
    # Leaving and coming back on a fresh port is no way round it.
    s.announce(H, ports[0], event=Event.STOPPED)
    assert s.announce(H, ports[4], numwant=5).peers4 == b""
    # Other addresses and other swarms have a pace of their own; time refills it.
    assert len(s.announce(H, ip4(200), numwant=5).peers4) == 5 * V4
    assert len(s.announce(H_FAR, ports[5], numwant=5).peers4) == V4
    assert len(s.announce(H, ports[0], numwant=5, now=NOW + 151).peers4) == 5 * V4


def test_expiry_makes_room(make: MakeSyncStore) -> None:
    s = make(peer_ttl=60.0, max_peers=2, max_swarms=1)
    s.join(H, [ip4(1), ip4(2)], now=NOW)
    with pytest.raises(StoreFull):
        s.announce(H, ip4(3), now=NOW + 30)
    s.announce(H, ip4(2), event=Event.NONE, now=NOW + 30)
    assert s.collect(NOW + 70) == 1
    assert counts(s.announce(H, ip4(3), now=NOW + 70)) == (0, 2, 0)
    assert s.collect(NOW + 200) == 2
    assert counts(s.announce(H_FAR, ip4(3), now=NOW + 200)) == (0, 1, 0)


# -- 10. tracker nodes' counters ------------------------------------------------------------


def test_published_counters_add_up_per_node_and_replace_their_last(s: Store) -> None:
    assert s.run(s.store.summed_counters()) == {}
    s.run(s.store.publish_counters("node-a", {"announces": 5, "refused": 1}, 60.0))
    s.run(s.store.publish_counters("node-b", {"announces": 7, "scrapes": 2}, 60.0))
    assert s.run(s.store.summed_counters()) == {"announces": 12, "scrapes": 2, "refused": 1}
    s.run(s.store.publish_counters("node-a", {"announces": 9}, 60.0))  # totals, not increments
    assert s.run(s.store.summed_counters()) == {"announces": 16, "scrapes": 2}


def test_a_node_that_stops_publishing_drops_out(s: Store) -> None:
    s.run(s.store.publish_counters("gone", {"announces": 5}, 0.05))
    s.run(s.store.publish_counters("here", {"announces": 7}, 60.0))
    deadline = time.monotonic() + 10
    while s.run(s.store.summed_counters()) != {"announces": 7}:
        assert time.monotonic() < deadline, "a node's counters outlived their ttl"
        s.run(asyncio.sleep(0.02))


# -- 8. every peer gets handed out -----------------------------------------------------------


@FAMILIES
def test_every_peer_of_a_large_swarm_gets_handed_out(s: Store, size: int) -> None:
    peers = [ENDPOINT[size](n) for n in range(300)]
    s.join(H, peers)
    seen: set[bytes] = set()
    asker = peers[123]
    for _ in range(150):
        got4, got6 = handed(s.announce(H, asker, event=Event.NONE, numwant=50))
        got = got4 if size == V4 else got6
        assert len(got) == 50 and asker not in got
        seen |= got
    missing = set(peers) - {asker} - seen
    assert not missing, f"{len(missing)} of 299 peers never handed out in 150 answers of 50"


# -- model-based: random mixes of operations, small and large swarms ----------------------


MODEL_HASHES = [info_hash(1, first=0x42), info_hash(2, first=0x42), info_hash(1, first=0xA7)]
NOBODY = info_hash(99, first=0x42)
POOL = {
    V4: [low_entropy_endpoint(V4, n) for n in range(3**6)],
    V6: [low_entropy_endpoint(V6, n) for n in range(0, 3**10, 7)],
}
NUMWANTS = [0, 1, 7, 50, 80, 1000]


def fresh(
    driver: Driver, info_hash: bytes, size: int, rng: random.Random, count: int
) -> list[bytes]:
    """Up to `count` endpoints of the pool that are not in the swarm yet."""
    pool, present = POOL[size], driver.model.family(info_hash, size)
    count = min(count, len(pool) - len(present))
    if count > (len(pool) - len(present)) // 2:
        return rng.sample([p for p in pool if p not in present], count)
    out: dict[bytes, None] = {}
    while len(out) < count:
        peer = rng.choice(pool)
        if peer not in present:
            out[peer] = None
    return list(out)


def random_op(driver: Driver, rng: random.Random, info_hash: bytes, size: int, target: int) -> Op:
    present = driver.present(info_hash, size)
    numwant = rng.choice(NUMWANTS)
    other = rng.random() < 0.5
    roll = rng.random()
    if not present or (roll < 0.6 and len(present) < target):
        (peer,) = fresh(driver, info_hash, size, rng, 1)
        return Op(info_hash, peer, Event.STARTED, rng.random() < 0.3, numwant, other)
    if roll < 0.6:
        return Op(info_hash, rng.choice(present), Event.STOPPED, False, numwant, other)
    if roll < 0.65:
        (stranger,) = fresh(driver, info_hash, size, rng, 1)
        return Op(info_hash, stranger, Event.STOPPED, False, numwant, other)
    peer = rng.choice(present)
    if roll < 0.75:
        return Op(info_hash, peer, Event.COMPLETED, True, numwant, other)
    event = Event.STARTED if roll < 0.8 else Event.NONE
    return Op(info_hash, peer, event, rng.random() < 0.5, numwant, other)


def walk_to(
    driver: Driver, rng: random.Random, targets: dict[int, int], max_ops: int = 4000
) -> None:
    """Random operations, mostly on the first swarm, until its families reach `targets`."""
    big = MODEL_HASHES[0]
    for i in range(max_ops):
        if all(len(driver.model.family(big, size)) == n for size, n in targets.items()):
            break
        size = V4 if i % 2 else V6
        if rng.random() < 0.9:
            driver.announce(random_op(driver, rng, big, size, targets[size]))
        else:
            h = rng.choice(MODEL_HASHES[1:])
            driver.announce(random_op(driver, rng, h, size, 20))
        if i % 200 == 0:
            driver.check_scrape([*MODEL_HASHES, NOBODY])
            driver.check_stats()
    else:
        pytest.fail(f"did not reach {targets} in {max_ops} operations")
    driver.check_scrape([*MODEL_HASHES, NOBODY])
    driver.check_stats()


@pytest.mark.parametrize("seed", [1, 2])
def test_large_swarms_match_the_model(run: Run, make_store: MakeStore, seed: int) -> None:
    """Grow a swarm well past 512 peers a family, shrink it well below 256, grow it again,
    expire most of it and remove it, checking every answer against the model."""
    rng = random.Random(seed)
    driver = Driver(make_store(peer_ttl=MODEL_TTL), run)
    big = MODEL_HASHES[0]

    walk_to(driver, rng, {V4: 650, V6: 600})
    walk_to(driver, rng, {V4: 150, V6: 120})
    walk_to(driver, rng, {V4: 600, V6: 700})

    # Expiry: refresh a third of the big swarm, let the rest go silent past peer_ttl.
    driver.advance(1)
    keep = {size: rng.sample(driver.present(big, size), 200) for size in (V4, V6)}
    driver.announce_many(
        [Op(big, p, Event.NONE, False, 30, True) for ps in keep.values() for p in ps]
    )
    driver.advance(2)
    assert {len(driver.model.family(big, size)) for size in (V4, V6)} == {200}
    walk_to(driver, rng, {V4: 560, V6: 520})
    driver.advance(3)
    assert driver.model.swarms[big].peers() == 0
    driver.check_scrape([*MODEL_HASHES, NOBODY])
    driver.check_stats()

    walk_to(driver, rng, {V4: 530, V6: 100})
    driver.remove_swarm(big)
    driver.check_scrape([*MODEL_HASHES, NOBODY])
    driver.check_stats()
    walk_to(driver, rng, {V4: 520, V6: 10})
    assert driver.announces > 5000


class PeerStoreMachine(RuleBasedStateMachine):
    """Hypothesis picks the operations; every answer, scrape and stats is checked."""

    def __init__(self, backend: StoreFactory, run: Run) -> None:
        super().__init__()
        store = backend(peer_ttl=MODEL_TTL)
        if inspect.isawaitable(store):
            store = run(store)
        self.driver = Driver(store, run)

    @initialize(
        v4=st.sampled_from([0, 300, 600]),
        v6=st.sampled_from([0, 300, 600]),
        seed=st.integers(0, 2**32 - 1),
    )
    def populate(self, v4: int, v6: int, seed: int) -> None:
        """Often start from a big swarm: up to 600 peers a family, past the size (512 in memory)
        where a backend may switch to another layout."""
        rng = random.Random(seed)
        h = MODEL_HASHES[0]
        ops = [
            Op(h, p, Event.STARTED, rng.random() < 0.3, 0, True)
            for size, n in ((V4, v4), (V6, v6))
            for p in fresh(self.driver, h, size, rng, n)
        ]
        self.driver.announce_many(ops)

    @rule(
        h=st.sampled_from(MODEL_HASHES),
        size=st.sampled_from([V4, V6]),
        known=st.booleans(),
        pick=st.integers(0, len(POOL[V4]) - 1),
        event=st.sampled_from(Event),
        seeder=st.booleans(),
        numwant=st.sampled_from(NUMWANTS) | st.integers(0, 100),
        other_family=st.booleans(),
    )
    def announce(
        self,
        h: bytes,
        size: int,
        known: bool,
        pick: int,
        event: Event,
        seeder: bool,
        numwant: int,
        other_family: bool,
    ) -> None:
        present = self.driver.present(h, size)
        peer = present[pick % len(present)] if known and present else POOL[size][pick]
        seeder = seeder or event == Event.COMPLETED
        self.driver.announce(Op(h, peer, event, seeder, numwant, other_family))

    @rule(
        h=st.sampled_from(MODEL_HASHES),
        size=st.sampled_from([V4, V6]),
        count=st.integers(1, 300),
        seed=st.integers(0, 2**32 - 1),
        seeders=st.sampled_from([0.0, 0.3, 1.0]),
    )
    def join_many(self, h: bytes, size: int, count: int, seed: int, seeders: float) -> None:
        rng = random.Random(seed)
        ops = [
            Op(
                h,
                p,
                Event.STARTED,
                rng.random() < seeders,
                rng.choice(NUMWANTS),
                rng.random() < 0.5,
            )
            for p in fresh(self.driver, h, size, rng, count)
        ]
        self.driver.announce_many(ops)

    @rule(
        h=st.sampled_from(MODEL_HASHES),
        size=st.sampled_from([V4, V6]),
        fraction=st.sampled_from([0.1, 0.5, 0.9, 1.0]),
        seed=st.integers(0, 2**32 - 1),
    )
    def stop_many(self, h: bytes, size: int, fraction: float, seed: int) -> None:
        rng = random.Random(seed)
        present = self.driver.present(h, size)
        leaving = rng.sample(present, round(len(present) * fraction))
        self.driver.announce_many([Op(h, p, Event.STOPPED, False, 50, True) for p in leaving])

    @rule(
        h=st.sampled_from(MODEL_HASHES),
        fraction=st.sampled_from([0.2, 0.5, 1.0]),
        seed=st.integers(0, 2**32 - 1),
        event=st.sampled_from([Event.NONE, Event.COMPLETED]),
    )
    def refresh_many(self, h: bytes, fraction: float, seed: int, event: Event) -> None:
        rng = random.Random(seed)
        ops = []
        for size in (V4, V6):
            present = self.driver.present(h, size)
            for p in rng.sample(present, round(len(present) * fraction)):
                seeder = event == Event.COMPLETED or rng.random() < 0.5
                ops.append(Op(h, p, event, seeder, rng.choice(NUMWANTS), rng.random() < 0.5))
        self.driver.announce_many(ops)

    @rule(steps=st.integers(0, 3))
    def advance(self, steps: int) -> None:
        self.driver.advance(steps)

    @rule(h=st.sampled_from(MODEL_HASHES))
    def remove_swarm(self, h: bytes) -> None:
        self.driver.remove_swarm(h)

    @invariant()
    def scrape_matches(self) -> None:
        self.driver.check_scrape([*MODEL_HASHES, NOBODY])

    @invariant()
    def stats_match(self) -> None:
        self.driver.check_stats()

    def teardown(self) -> None:
        self.driver.run(self.driver.store.close())


def test_random_operations_match_the_model(
    backend: StoreFactory, run: Run, request: pytest.FixtureRequest,
) -> None:
    # Through redis-py the scripts are the same as through the pipeline: fewer examples
    # check its transport, and the suite keeps its time.
    through_redis_py = request.node.callspec.params.get("backend") == "redis-py"
    run_state_machine_as_test(
        lambda: PeerStoreMachine(backend, run),
        settings=settings(
            max_examples=10 if through_redis_py else 40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            # No shrinking: cases with hundreds of peers take minutes to shrink, and the
            # failing sequence of bulk operations is short enough to read as generated.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
