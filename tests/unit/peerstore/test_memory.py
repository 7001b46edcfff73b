"""What is particular to the memory backend: its layout (aligned scans, the dict index of big
swarms), `keep_dormant`, `counts()`, and garbage collection that shares the event loop.

The behaviour every backend owes is tested in `tests/contract/test_peerstore.py`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmdex.peerstore.base import StoreFull, StoreStats, SwarmReply
from swarmdex.peerstore.memory import INDEX_FROM, INDEX_UNTIL, MemoryPeerStore, _Family
from swarmdex.protocol.announce import Event, SwarmCounts

T = TypeVar("T")

NOW = 1_700_000_000.0
V4, V6 = 6, 18
H = bytes([0x5A]) + bytes(19)
H2 = bytes([0x5A]) + bytes(18) + b"\x01"
FAMILIES = pytest.mark.parametrize("size", [V4, V6], ids=["ipv4", "ipv6"])


def done(coro: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that must finish without ever suspending."""
    try:
        coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    coro.close()
    raise AssertionError("the memory backend suspended where it promises not to")


def endpoint(size: int, n: int) -> bytes:
    """The `n`th of 4**6 = 4096 endpoints made of bytes 0 to 3 only: packed together they hold
    one another at misaligned offsets all the time."""
    assert 0 <= n < 4**6
    return bytes((n >> 2 * i) & 3 for i in range(6)) + bytes(size - 6)


class Mem:
    """A MemoryPeerStore called synchronously."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("peer_ttl", 100.0)
        self.store = MemoryPeerStore(**kwargs)

    def announce(
        self,
        peer: bytes,
        *,
        info_hash: bytes = H,
        event: Event = Event.STARTED,
        seeder: bool = False,
        numwant: int = 0,
        other_family: bool = False,
        now: float = NOW,
    ) -> SwarmReply:
        return done(
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

    def stop(self, peer: bytes, info_hash: bytes = H) -> SwarmReply:
        return self.announce(peer, info_hash=info_hash, event=Event.STOPPED)

    def scrape(self, info_hash: bytes = H) -> SwarmCounts:
        (counts,) = done(self.store.scrape([info_hash], NOW))
        return counts

    def peers(self, info_hash: bytes = H) -> int:
        c = self.scrape(info_hash)
        return c.complete + c.incomplete

    def stats(self) -> StoreStats:
        return asyncio.run(self.store.stats(NOW))

    def collect(self, now: float) -> int:
        return asyncio.run(self.store.collect_garbage(now))

    def remove_swarm(self, info_hash: bytes = H) -> None:
        asyncio.run(self.store.remove_swarm(info_hash))

    def family(self, size: int, info_hash: bytes = H) -> _Family:
        swarm = self.store._shards[info_hash[0]][info_hash]
        fam = swarm.v4 if size == V4 else swarm.v6
        assert fam is not None
        return fam

    def check_counts(self) -> None:
        stats = self.stats()
        assert self.store.counts() == (stats.swarms, stats.peers4 + stats.peers6)


def assert_consistent(fam: _Family) -> None:
    """The arrays line up, and the index (if any) maps every record to its slot."""
    size, n = fam.size, len(fam.meta)
    assert len(fam.addrs) == n * size
    if fam.index is not None:
        expected = {bytes(fam.addrs[i * size : (i + 1) * size]): i for i in range(n)}
        assert index_slots(fam) == expected


def index_slots(fam: _Family) -> dict[bytes, int]:
    """The index flattened to endpoint -> slot, checking its two levels on the way: a bucket
    of one peer maps to its slot, a bucket of several to a dict of them."""
    assert fam.index is not None
    size, out = fam.size, {}
    for bucket, entry in fam.index.items():
        if isinstance(entry, int):
            peers = {bytes(fam.addrs[entry * size : (entry + 1) * size]): entry}
        else:
            assert len(entry) >= 2, "a bucket of one peer kept as a dict"
            peers = entry
        for peer, slot in peers.items():
            assert peer[: fam.blen] == bucket
            out[peer] = slot
    return out


def slots(fam: _Family) -> dict[bytes, int]:
    size = fam.size
    return {bytes(fam.addrs[i : i + size]): i // size for i in range(0, len(fam.addrs), size)}


def handed(reply: SwarmReply, size: int) -> set[bytes]:
    blob = reply.peers4 if size == V4 else reply.peers6
    return {blob[i : i + size] for i in range(0, len(blob), size)}


def test_announce_and_scrape_never_suspend() -> None:
    store = MemoryPeerStore()
    for event in (Event.STARTED, Event.NONE, Event.COMPLETED, Event.STOPPED, Event.STOPPED):
        reply = done(
            store.announce(
                H,
                endpoint(V4, 1),
                event=event,
                seeder=False,
                numwant=50,
                other_family=True,
                now=NOW,
            )
        )
        assert isinstance(reply, SwarmReply)
    assert done(store.scrape([H, H2, b""], NOW)) == [SwarmCounts(0, 0, 0)] * 3


# -- the dict index of big swarms ----------------------------------------------------------


@FAMILIES
def test_the_index_is_built_past_index_from(size: int) -> None:
    s = Mem()
    peers = [endpoint(size, n) for n in range(INDEX_FROM)]
    for peer in peers[:-1]:
        s.announce(peer)
    assert s.family(size).index is None
    s.announce(peers[-1])
    fam = s.family(size)
    assert fam.index is not None
    assert_consistent(fam)
    expected = slots(fam)
    for peer in peers:
        assert fam.find(peer) == expected[peer]
    for n in range(INDEX_FROM, INDEX_FROM + 200):
        assert fam.find(endpoint(size, n)) == -1
    # Known peers refresh in place; the swarm does not grow.
    for peer in peers:
        s.announce(peer, event=Event.NONE, seeder=True)
    assert s.scrape() == SwarmCounts(INDEX_FROM, 0, 0)
    assert_consistent(s.family(size))


@FAMILIES
def test_the_index_follows_removals_and_goes_below_index_until(size: int) -> None:
    rng = random.Random(7)
    s = Mem()
    peers = [endpoint(size, n) for n in range(600)]
    for peer in peers:
        s.announce(peer, seeder=rng.random() < 0.5)
    present = set(peers)
    gone: set[bytes] = set()
    for peer in rng.sample(peers, len(peers) - 100):
        s.stop(peer)
        present.discard(peer)
        gone.add(peer)
        fam = s.family(size)
        assert_consistent(fam)
        assert (fam.index is not None) == (len(present) >= INDEX_UNTIL), len(present)
        assert fam.find(peer) == -1
        assert s.peers() == len(present)
    # Lookups after the index was dropped: known peers refresh, gone ones stay gone.
    fam = s.family(size)
    expected = slots(fam)
    for peer in peers:
        assert fam.find(peer) == expected.get(peer, -1)
    for peer in present:
        s.announce(peer, event=Event.NONE)
    for peer in gone:
        reply = s.stop(peer)
        assert reply.complete + reply.incomplete == len(present)
    assert s.peers() == 100
    # ...and growing again builds a fresh index.
    for peer in sorted(gone)[: INDEX_FROM - 100]:
        s.announce(peer)
    fam = s.family(size)
    assert fam.index is not None and len(fam.meta) == INDEX_FROM
    assert_consistent(fam)
    s.check_counts()


@FAMILIES
def test_garbage_collection_keeps_the_index_right(size: int) -> None:
    s = Mem(peer_ttl=100.0)
    peers = [endpoint(size, n) for n in range(700)]
    for peer in peers:
        s.announce(peer, now=NOW)
    kept = peers[::7]
    for peer in kept:
        s.announce(peer, event=Event.NONE, now=NOW + 50)
    assert s.collect(NOW + 120) == 700 - len(kept)
    fam = s.family(size)
    assert fam.index is None
    assert_consistent(fam)
    assert slots(fam).keys() == set(kept)
    for peer in peers:
        assert (fam.find(peer) >= 0) == (peer in kept)
    got = handed(s.announce(kept[0], event=Event.NONE, numwant=1000, now=NOW + 120), size)
    assert got == set(kept[1:])
    s.check_counts()


# -- aligned scans ---------------------------------------------------------------------------


@FAMILIES
def test_a_misaligned_match_is_not_a_peer(size: int) -> None:
    a = bytes(range(1, size + 1))
    b = bytes(range(size + 1, 2 * size + 1))
    spanning = (a + b)[size // 2 : size // 2 + size]  # the tail of `a` and the head of `b`
    assert spanning not in (a, b)
    s = Mem()
    s.announce(a)
    s.announce(b)
    assert s.family(size).addrs.find(spanning) == size // 2

    # Stopping it stops nobody; announcing it adds a third peer, not a refresh of a or b.
    assert s.stop(spanning).incomplete == 2
    assert s.announce(spanning, numwant=10).incomplete == 3
    # Its flags are its own: completing does not mark a or b, and vice versa.
    assert s.announce(spanning, event=Event.COMPLETED, seeder=True).downloaded == 1
    assert s.announce(a, event=Event.COMPLETED, seeder=True).downloaded == 2
    assert s.announce(b, event=Event.COMPLETED, seeder=True).downloaded == 3
    assert s.scrape() == SwarmCounts(3, 0, 3)
    assert handed(s.announce(spanning, event=Event.NONE, numwant=10), size) == {a, b}
    assert s.stop(spanning).complete == 2
    assert handed(s.announce(a, event=Event.NONE, numwant=10), size) == {b}


@FAMILIES
def test_an_aligned_match_after_a_misaligned_one_is_found(size: int) -> None:
    # The key (all zeros) first appears straddling the two records, then as the second one.
    first = b"\x01" + bytes(size - 1)
    key = bytes(size)
    s = Mem()
    s.announce(first)
    s.announce(key)
    assert s.family(size).addrs.find(key) == 1
    assert s.family(size).find(key) == 1
    assert s.announce(key, event=Event.NONE, seeder=True).complete == 1
    assert s.scrape() == SwarmCounts(1, 1, 0)
    assert s.stop(key) == SwarmReply(0, 1, 0, b"", b"")
    assert s.family(size).find(first) == 0
    assert s.family(size).find(key) == -1


@given(
    size=st.sampled_from([V4, V6]),
    members=st.lists(st.integers(0, 2**12 - 1), unique=True, max_size=40),
    probes=st.lists(st.integers(0, 2**12 - 1), max_size=40),
)
def test_find_agrees_with_a_slot_by_slot_search(
    size: int, members: list[int], probes: list[int]
) -> None:
    fam = _Family(size)
    for n in members:
        fam.append(endpoint(size, n), 0)
    assert fam.index is None
    expected = slots(fam)
    for n in members + probes:
        peer = endpoint(size, n)
        assert fam.find(peer) == expected.get(peer, -1)


# -- keep_dormant ----------------------------------------------------------------------------


def everyone_leaves(s: Mem, how: str) -> None:
    if how == "stop":
        s.stop(endpoint(V4, 1))
        s.stop(endpoint(V6, 2))
    else:
        assert s.collect(NOW + 1000) == 2


def completed_swarm(**kwargs: Any) -> Mem:
    s = Mem(peer_ttl=100.0, **kwargs)
    s.announce(endpoint(V4, 1), event=Event.COMPLETED, seeder=True)
    s.announce(endpoint(V6, 2))
    assert s.scrape() == SwarmCounts(1, 1, 1)
    return s


@pytest.mark.parametrize("how", ["stop", "expire"])
def test_keep_dormant_keeps_the_downloaded_figure(how: str) -> None:
    s = completed_swarm(keep_dormant=True)
    everyone_leaves(s, how)
    assert s.scrape() == SwarmCounts(0, 0, 1)
    assert s.store.counts() == (1, 0)
    assert s.stats() == StoreStats(1, 0, 0, 0, 0)
    assert s.collect(NOW + 5000) == 0
    assert s.scrape() == SwarmCounts(0, 0, 1)
    # The swarm comes back to life with its figure.
    reply = s.announce(endpoint(V4, 3), numwant=10, now=NOW + 5000)
    assert (reply.complete, reply.incomplete, reply.downloaded) == (0, 1, 1)
    assert (
        s.announce(endpoint(V4, 3), event=Event.COMPLETED, seeder=True, now=NOW + 5000).downloaded
        == 2
    )
    s.check_counts()


@pytest.mark.parametrize("how", ["stop", "expire"])
def test_without_keep_dormant_an_empty_swarm_is_forgotten(how: str) -> None:
    s = completed_swarm(keep_dormant=False)
    everyone_leaves(s, how)
    assert s.scrape() == SwarmCounts(0, 0, 0)
    assert s.store.counts() == (0, 0)
    assert s.stats() == StoreStats(0, 0, 0, 0, 0)
    assert (
        s.announce(endpoint(V4, 3), event=Event.COMPLETED, seeder=True, now=NOW + 5000).downloaded
        == 1
    )


@pytest.mark.parametrize("how", ["stop", "expire"])
def test_keep_dormant_forgets_swarms_without_completions(how: str) -> None:
    s = Mem(peer_ttl=100.0, keep_dormant=True)
    s.announce(endpoint(V4, 1), seeder=True)
    s.announce(endpoint(V6, 2))
    everyone_leaves(s, how)
    assert s.store.counts() == (0, 0)
    assert s.stats().swarms == 0


def test_remove_swarm_forgets_a_dormant_swarm() -> None:
    s = completed_swarm(keep_dormant=True)
    everyone_leaves(s, "stop")
    s.remove_swarm()
    assert s.scrape() == SwarmCounts(0, 0, 0)
    assert s.store.counts() == (0, 0)


# -- counts() --------------------------------------------------------------------------------


def test_counts_follows_every_change() -> None:
    rng = random.Random(3)
    s = Mem(peer_ttl=100.0, max_peers=150, max_swarms=6, keep_dormant=True)
    hashes = [bytes([first, n]) + bytes(18) for first in (0x00, 0x77, 0xFF) for n in range(3)]
    now = NOW
    refused = 0
    for i in range(3000):
        h = rng.choice(hashes)
        peer = endpoint(rng.choice((V4, V6)), rng.randrange(200))
        roll = rng.random()
        try:
            if roll < 0.55:
                s.announce(peer, info_hash=h, seeder=rng.random() < 0.4, now=now)
            elif roll < 0.65:
                s.announce(peer, info_hash=h, event=Event.COMPLETED, seeder=True, now=now)
            elif roll < 0.9:
                s.stop(peer, info_hash=h)
            elif roll < 0.92:
                s.remove_swarm(h)
            else:
                now += 30
                s.collect(now)
        except StoreFull:
            refused += 1
        if i % 10 == 0:
            s.check_counts()
    s.check_counts()
    assert refused > 0, "the limits were never reached"
    asyncio.run(s.store.close())
    assert s.store.counts() == (0, 0)
    assert s.stats() == StoreStats(0, 0, 0, 0, 0)


def test_a_refused_peer_leaves_no_empty_swarm() -> None:
    s = Mem(max_peers=2)
    s.announce(endpoint(V4, 1))
    s.announce(endpoint(V4, 2))  # two peers: not a swarm to evict
    with pytest.raises(StoreFull):
        s.announce(endpoint(V4, 1), info_hash=H2)
    with pytest.raises(StoreFull):
        s.announce(endpoint(V6, 1))
    assert s.store.counts() == (1, 2)
    assert s.stats() == StoreStats(1, 2, 0, 0, 2)
    assert H2 not in s.store._shards[H2[0]]


# -- garbage collection shares the event loop ------------------------------------------------


def fill_every_shard(s: Mem, per_shard: int, now: float) -> list[bytes]:
    hashes = [bytes([first, n]) + bytes(18) for first in range(256) for n in range(per_shard)]
    for h in hashes:
        s.announce(endpoint(V4, 1), info_hash=h, now=now)
        s.announce(endpoint(V6, 2), info_hash=h, now=now)
    return hashes


def test_garbage_collection_lets_other_tasks_run() -> None:
    s = Mem(peer_ttl=100.0)
    fill_every_shard(s, 4, NOW)
    total = 256 * 4 * 2

    async def scenario() -> tuple[int, list[int]]:
        seen: list[int] = []  # the store's peer count, each time the other task gets to run
        collecting = True

        async def other_task() -> None:
            while collecting:
                seen.append(s.store.counts()[1])
                await asyncio.sleep(0)

        task = asyncio.create_task(other_task())
        await asyncio.sleep(0)
        removed = await s.store.collect_garbage(NOW + 1000)
        collecting = False
        await task
        return removed, seen

    removed, seen = asyncio.run(scenario())
    assert removed == total
    assert len(seen) >= 200, f"the other task ran only {len(seen)} times during collection"
    # It saw the collection half done many times: the pass really is split into parts.
    partial = {n for n in seen if 0 < n < total}
    assert len(partial) >= 100
    assert seen == sorted(seen, reverse=True)


def test_announces_during_garbage_collection_count() -> None:
    s = Mem(peer_ttl=100.0)
    hashes = fill_every_shard(s, 2, NOW)
    late = hashes[-1]  # in the last shard collected
    later = NOW + 1000

    async def scenario() -> int:
        async def announce_meanwhile() -> None:
            await s.store.announce(
                late,
                endpoint(V4, 1),
                event=Event.NONE,
                seeder=False,
                numwant=0,
                other_family=False,
                now=later,
            )
            await s.store.announce(
                late,
                endpoint(V4, 9),
                event=Event.STARTED,
                seeder=True,
                numwant=0,
                other_family=False,
                now=later,
            )

        task = asyncio.create_task(announce_meanwhile())
        removed = await s.store.collect_garbage(later)
        await task
        return removed

    removed = asyncio.run(scenario())
    assert removed == len(hashes) * 2 - 1
    assert s.scrape(late) == SwarmCounts(1, 1, 0)
    assert s.store.counts() == (1, 2)
    s.check_counts()


def test_collect_garbage_before_any_announce() -> None:
    s = Mem()
    assert s.collect(NOW) == 0
    assert s.store.counts() == (0, 0)


# -- choices the memory backend makes where the contract leaves room ------------------------


def test_completed_makes_a_seeder_whatever_left_says() -> None:
    s = Mem()
    reply = s.announce(endpoint(V4, 1), event=Event.COMPLETED, seeder=False)
    assert (reply.complete, reply.incomplete, reply.downloaded) == (1, 0, 1)


def test_a_peer_that_leaves_and_returns_counts_as_new() -> None:
    s = Mem()
    s.announce(endpoint(V4, 2))
    assert s.announce(endpoint(V4, 1), event=Event.COMPLETED, seeder=True).downloaded == 1
    s.stop(endpoint(V4, 1))
    assert s.announce(endpoint(V4, 1), event=Event.COMPLETED, seeder=True).downloaded == 2


def test_seeded_stores_answer_alike() -> None:
    def answers(seed: int) -> list[bytes]:
        s = Mem(seed=seed)
        for n in range(100):
            s.announce(endpoint(V4, n))
        return [
            s.announce(endpoint(V4, n % 100), event=Event.NONE, numwant=10).peers4
            for n in range(50)
        ]

    assert answers(5) == answers(5)
    assert answers(5) != answers(6)


def test_close_empties_the_store() -> None:
    s = completed_swarm(keep_dormant=True)
    asyncio.run(s.store.close())
    assert s.store.counts() == (0, 0)
    assert s.scrape() == SwarmCounts(0, 0, 0)


def test_a_clock_step_back_does_not_break_the_store() -> None:
    """`now` comes from the servers' clock. If it steps back (say an NTP correction of a few
    seconds shortly after start), an announce must still be answered and the store's counters
    must stay true."""
    s = Mem(peer_ttl=100.0)
    s.announce(endpoint(V4, 1), now=NOW)
    reply = s.announce(endpoint(V4, 2), now=NOW - 5)
    assert reply.incomplete == 2
    s.check_counts()
