"""A plain-Python reference model of the PeerStore contract, and a driver that checks a store
against it operation by operation.

The model is exact where `swarmdex.peerstore.base` is exact and tolerant where the contract
leaves a backend free:

* whether a swarm whose peers all left still remembers its `downloaded` figure (and so still
  counts in `stats().swarms`);
* whether a peer that left and came back may have its `completed` counted again.

Where the model allows more than one value it keeps the set of candidates and narrows it to
the value the store reports the next time it reports one.

Expiry is checked only away from the `peer_ttl` boundary: callers move the clock in steps that
never land a peer's silence within a second of `peer_ttl` (see `TIME_STEP`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from swarmdex.peerstore.base import PeerStore, StoreStats, SwarmReply
from swarmdex.protocol.announce import Event, SwarmCounts

if TYPE_CHECKING:
    from .conftest import Run


V4 = 6  # bytes in a packed IPv4 endpoint
V6 = 18  # bytes in a packed IPv6 endpoint

# With MODEL_TTL = 10 and the clock moving in steps of 4 s, a peer has been silent for
# 0, 4 or 8 s (must be kept) or 12 s and more (must be gone once garbage is collected).
MODEL_TTL = 10.0
TIME_STEP = 4.0
T0 = 1_000_000.0


def low_entropy_endpoint(size: int, n: int) -> bytes:
    """The `n`th endpoint of a family, every byte 0, 1 or 2.

    Packed back to back such endpoints contain one another at offsets that are not record
    boundaries all the time, which is what a byte-scanning backend must not be fooled by.
    IPv4 has 3**6 = 729 of them.
    """
    out = bytearray(size)
    for i in range(size - 1, -1, -1):
        n, out[i] = divmod(n, 3)
    if n:
        raise ValueError("endpoint number out of range")
    return bytes(out)


def records(blob: bytes, size: int) -> list[bytes]:
    assert len(blob) % size == 0, f"{len(blob)} bytes is not a whole number of {size}-byte peers"
    return [blob[i : i + size] for i in range(0, len(blob), size)]


@dataclass
class PeerState:
    seeder: bool
    last: float
    # Whether this peer's `completed` has been counted since it (re)joined; None when unknown
    # (it was counted in an earlier stay, and the contract does not say whether that sticks).
    counted: bool | None


@dataclass
class SwarmState:
    families: dict[int, dict[bytes, PeerState]] = field(default_factory=lambda: {V4: {}, V6: {}})
    downloaded: set[int] = field(default_factory=lambda: {0})
    counted_before: set[bytes] = field(default_factory=set)
    seeders: int = 0  # kept up to date by Model; check_stats recounts it from scratch

    def peers(self) -> int:
        return len(self.families[V4]) + len(self.families[V6])

    def counts(self) -> tuple[int, int]:
        return self.seeders, self.peers() - self.seeders

    def drop(self, peer: bytes) -> bool:
        state = self.families[len(peer)].pop(peer, None)
        if state is None:
            return False
        self.seeders -= state.seeder
        return True

    def mark_emptied(self) -> None:
        # Nobody left: the backend may forget the swarm, and with it the downloaded figure.
        self.downloaded.add(0)


class Op(NamedTuple):
    info_hash: bytes
    peer: bytes
    event: Event = Event.NONE
    seeder: bool = False
    numwant: int = 50
    other_family: bool = False


class Model:
    def __init__(self, peer_ttl: float) -> None:
        self.peer_ttl = peer_ttl
        self.swarms: dict[bytes, SwarmState] = {}

    def family(self, info_hash: bytes, size: int) -> dict[bytes, PeerState]:
        swarm = self.swarms.get(info_hash)
        return swarm.families[size] if swarm else {}

    def apply(self, op: Op, now: float) -> None:
        swarm = self.swarms.get(op.info_hash)
        if op.event == Event.STOPPED:
            if swarm is not None and swarm.drop(op.peer) and not swarm.peers():
                swarm.mark_emptied()
            return
        if swarm is None:
            swarm = self.swarms[op.info_hash] = SwarmState()
        fam = swarm.families[len(op.peer)]
        state = fam.get(op.peer)
        if state is None:
            counted = None if op.peer in swarm.counted_before else False
            state = fam[op.peer] = PeerState(False, now, counted)
        swarm.seeders += op.seeder - state.seeder
        state.seeder = op.seeder
        state.last = now
        if op.event == Event.COMPLETED:
            if state.counted is False:
                swarm.downloaded = {d + 1 for d in swarm.downloaded}
            elif state.counted is None:
                swarm.downloaded |= {d + 1 for d in swarm.downloaded}
            state.counted = True
            swarm.counted_before.add(op.peer)

    def collect(self, now: float) -> int:
        removed = 0
        for swarm in self.swarms.values():
            had_peers = swarm.peers() > 0
            for fam in swarm.families.values():
                for peer in [p for p, s in fam.items() if now - s.last > self.peer_ttl]:
                    swarm.drop(peer)
                    removed += 1
            if had_peers and not swarm.peers():
                swarm.mark_emptied()
        return removed

    def remove_swarm(self, info_hash: bytes) -> None:
        swarm = self.swarms.get(info_hash)
        if swarm is not None:
            for fam in swarm.families.values():
                fam.clear()
            swarm.seeders = 0
            swarm.downloaded = {0}

    # -- checks ---------------------------------------------------------------------------

    def observe_counts(
        self,
        info_hash: bytes,
        complete: int,
        incomplete: int,
        downloaded: int,
        *,
        narrow: bool = True,
    ) -> None:
        swarm = self.swarms.get(info_hash)
        expected = swarm.counts() if swarm else (0, 0)
        assert (complete, incomplete) == expected, f"complete/incomplete of {info_hash.hex()}"
        candidates = swarm.downloaded if swarm else {0}
        assert downloaded in candidates, (
            f"downloaded of {info_hash.hex()} is {downloaded}, expected one of {sorted(candidates)}"
        )
        if swarm is not None and narrow:
            swarm.downloaded = {downloaded}

    def check_reply(self, op: Op, reply: SwarmReply) -> None:
        """`reply` answered `op`, which has already been applied to the model."""
        swarm = self.swarms.get(op.info_hash)
        # The answer to the stop that emptied a swarm may report the figure from just before
        # the swarm was forgotten; only later answers tell whether it was.
        narrow = op.event != Event.STOPPED or (swarm is not None and swarm.peers() > 0)
        self.observe_counts(
            op.info_hash, reply.complete, reply.incomplete, reply.downloaded, narrow=narrow
        )
        if op.event == Event.STOPPED:
            assert reply.peers4 == b"" and reply.peers6 == b"", "a stopped announce got peers"
            return
        own_size = len(op.peer)
        other_size = V6 if own_size == V4 else V4
        own_blob, other_blob = (
            (reply.peers4, reply.peers6) if own_size == V4 else (reply.peers6, reply.peers4)
        )
        own = records(own_blob, own_size)
        other = records(other_blob, other_size)
        own_family = self.family(op.info_hash, own_size)
        other_family = self.family(op.info_hash, other_size)

        assert op.peer not in own, "the announcing peer was handed itself"
        assert len(set(own)) == len(own), "a peer was handed out twice in one answer"
        assert all(p in own_family for p in own), "handed out a peer that is not in the swarm"
        available = len(own_family) - 1
        assert len(own) == min(op.numwant, available), (
            f"{len(own)} peers of the announcing family for numwant={op.numwant} "
            f"with {available} available"
        )
        if not op.other_family:
            assert other == [], "other_family=False but the answer holds the other family"
            return
        assert len(set(other)) == len(other), "a peer was handed out twice in one answer"
        assert all(p in other_family for p in other), "handed out a peer that is not in the swarm"
        assert len(other) == min(op.numwant - len(own), len(other_family)), (
            f"{len(other)} peers of the other family for {op.numwant - len(own)} leftover slots "
            f"with {len(other_family)} available"
        )

    def check_scrape(self, info_hashes: Sequence[bytes], counts: Sequence[SwarmCounts]) -> None:
        assert len(counts) == len(info_hashes)
        for info_hash, c in zip(info_hashes, counts, strict=True):
            self.observe_counts(info_hash, c.complete, c.incomplete, c.downloaded)

    def check_stats(self, stats: StoreStats) -> None:
        swarms = self.swarms.values()
        peers4 = sum(len(s.families[V4]) for s in swarms)
        peers6 = sum(len(s.families[V6]) for s in swarms)
        seeders = sum(p.seeder for s in swarms for f in s.families.values() for p in f.values())
        assert seeders == sum(s.seeders for s in swarms), "the model lost count of its seeders"
        assert (stats.peers4, stats.peers6) == (peers4, peers6), f"{stats}"
        assert (stats.seeders, stats.leechers) == (seeders, peers4 + peers6 - seeders), f"{stats}"
        live = sum(1 for s in swarms if s.peers())
        dormant = sum(1 for s in swarms if not s.peers() and max(s.downloaded) > 0)
        assert live <= stats.swarms <= live + dormant, f"{stats}: {live} live, {dormant} dormant"


class Driver:
    """Runs operations against a store and the model side by side, checking every answer."""

    def __init__(self, store: PeerStore, run: Run, peer_ttl: float = MODEL_TTL) -> None:
        self.store = store
        self.run = run
        self.model = Model(peer_ttl)
        self.now = T0
        self.announces = 0

    def announce_many(self, ops: Sequence[Op]) -> list[SwarmReply]:
        """All of `ops`, in order, at the current time (one trip to the event loop)."""
        store, now = self.store, self.now

        async def go() -> list[SwarmReply]:
            return [
                await store.announce(
                    op.info_hash,
                    op.peer,
                    event=op.event,
                    seeder=op.seeder,
                    numwant=op.numwant,
                    other_family=op.other_family,
                    now=now,
                )
                for op in ops
            ]

        replies = self.run(go())
        for op, reply in zip(ops, replies, strict=True):
            self.model.apply(op, now)
            self.model.check_reply(op, reply)
        self.announces += len(ops)
        return replies

    def announce(self, op: Op) -> SwarmReply:
        return self.announce_many([op])[0]

    def advance(self, steps: int = 1) -> int:
        """Move the clock on and collect garbage; check how many peers went."""
        self.now += steps * TIME_STEP
        removed = self.run(self.store.collect_garbage(self.now))
        expected = self.model.collect(self.now)
        assert removed == expected, f"collect_garbage removed {removed}, expected {expected}"
        return removed

    def remove_swarm(self, info_hash: bytes) -> None:
        self.run(self.store.remove_swarm(info_hash))
        self.model.remove_swarm(info_hash)

    def check_scrape(self, info_hashes: Sequence[bytes]) -> None:
        counts = self.run(self.store.scrape(info_hashes, self.now))
        self.model.check_scrape(info_hashes, counts)

    def check_stats(self) -> None:
        self.model.check_stats(self.run(self.store.stats(self.now)))

    def present(self, info_hash: bytes, size: int) -> list[bytes]:
        return list(self.model.family(info_hash, size))
