"""The default peer store: everything in this process's memory, packed tight.

Layout. A swarm keeps, per address family, two parallel arrays:

* `addrs`: the peers' packed endpoints back to back (6 bytes for IPv4, 18 for IPv6). This is
  already the compact peer list of BEP 23 / BEP 7, so an answer is one or two slices of it:
  no per-peer work on the hot path.
* `meta`: one 32-bit word per peer: seconds since the store's epoch << 2 | flags
  (seeder, completion counted).

Lookups scan `addrs` with `bytearray.find` (memchr speed) and keep only hits that fall on a
record boundary. Past `INDEX_FROM` peers a swarm also keeps a dict from address bucket to
slot (to a dict of slots for a bucket of several peers), so huge swarms stay O(1) at some
memory cost. Removal moves the last record into the hole.

Swarms live in shards (dicts keyed by the first byte of the info hash) so that garbage
collection can walk one shard at a time and yield to the event loop in between.

Limits (duty 7 of the contract). Peers per address bucket in a swarm are counted by scanning
`addrs` for the bucket's bytes, as lookups do; swarms big enough to keep an index key it by
address bucket, which counts them as it finds them. Eviction candidates come from `_order`, a deque of swarm
keys in creation order (8 bytes a swarm): a full store pops from its left, evicts the first
swarm with at most one peer and sends bigger ones to the back. Entries of swarms already gone
are skipped there and dropped when the deque grows past twice the swarms.

Nothing here is ever written to disk: peer addresses live only as long as the swarm needs
them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from array import array
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from swarmdex.peerstore.base import (
    AddressFull,
    NewSwarmsPaced,
    Rate,
    StoreFull,
    StoreStats,
    SwarmReply,
)
from swarmdex.peerstore.pacing import LimitLog, Pacer, address_bucket
from swarmdex.protocol.announce import Event, SwarmCounts

SEEDER = 1
COUNTED = 2  # this peer's `completed` event has been counted
_FLAGS = 3
INDEX_FROM = 512  # peers in one family before the swarm keeps a dict index
INDEX_UNTIL = 256  # ...and below which it drops it again
_SHARDS = 256
# Swarms a full store looks at, at most, to find one to evict: bounds the cost of one
# announce; swarms looked at and kept go to the back, so the next search looks further.
EVICT_LOOK = 64
# Plain-int copies of the events: comparing to these skips the enum class lookup per call.
_STOPPED = int(Event.STOPPED)
_COMPLETED = int(Event.COMPLETED)
_EMPTY = b""
# Bytes of a packed endpoint that make its address bucket (see pacing.address_bucket).
_BUCKET_LEN = {6: 4, 18: 8}
log = logging.getLogger(__name__)


class _Family:
    """The peers of one address family within a swarm."""

    __slots__ = ("addrs", "blen", "index", "meta", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.blen = _BUCKET_LEN[size]
        self.addrs = bytearray()
        self.meta = array("I")
        # Big swarms only: address bucket -> the slot of its one peer, or {endpoint: slot}
        # when it has several. Keyed by bucket, it finds a peer and counts a bucket's peers
        # in O(1) for the memory of one entry a peer (most addresses hold one peer).
        self.index: dict[bytes, int | dict[bytes, int]] | None = None

    def find(self, peer: bytes) -> int:
        index = self.index
        if index is not None:
            entry = index.get(peer[: self.blen])
            if entry is None:
                return -1
            if isinstance(entry, int):
                size = self.size
                return entry if self.addrs[entry * size : entry * size + size] == peer else -1
            return entry.get(peer, -1)
        addrs, size = self.addrs, self.size
        i = addrs.find(peer)
        while i != -1 and i % size:
            i = addrs.find(peer, i + 1)
        return -1 if i == -1 else i // size

    def bucket_count(self, peer: bytes, enough: int) -> int:
        """Peers in the address bucket of `peer` (itself included if present); counting
        stops at `enough`."""
        bucket = peer[: self.blen]
        if self.index is not None:
            entry = self.index.get(bucket)
            return 0 if entry is None else 1 if isinstance(entry, int) else len(entry)
        addrs, size = self.addrs, self.size
        count = 0
        i = addrs.find(bucket)
        while i != -1:
            if i % size:
                i = addrs.find(bucket, i + 1)
                continue
            count += 1
            if count >= enough:
                break
            i = addrs.find(bucket, i + size)
        return count

    def append(self, peer: bytes, word: int) -> int:
        slot = len(self.meta)
        self.meta.append(word)  # first: it is the one that can fail (a word out of range)
        self.addrs += peer
        if self.index is not None:
            self._index_add(peer, slot)
        elif slot + 1 >= INDEX_FROM:
            self._build_index()
        return slot

    def remove(self, slot: int) -> int:
        """Remove the peer in `slot`; return its meta word."""
        addrs, meta, size = self.addrs, self.meta, self.size
        word = meta[slot]
        last = len(meta) - 1
        start = slot * size
        if self.index is not None:
            self._index_remove(bytes(addrs[start : start + size]))
        if slot != last:
            moved = addrs[last * size :]
            addrs[start : start + size] = moved
            meta[slot] = meta[last]
            if self.index is not None:
                self._index_move(bytes(moved), slot)
        del addrs[last * size :]
        meta.pop()
        if self.index is not None and last < INDEX_UNTIL:
            self.index = None
        return word

    def _build_index(self) -> None:
        self.index = {}
        addrs, size = self.addrs, self.size
        for i in range(0, len(addrs), size):
            self._index_add(bytes(addrs[i : i + size]), i // size)

    def _index_add(self, peer: bytes, slot: int) -> None:
        index, bucket = self.index, peer[: self.blen]
        assert index is not None
        entry = index.get(bucket)
        if entry is None:
            index[bucket] = slot
        elif isinstance(entry, int):
            size = self.size
            index[bucket] = {bytes(self.addrs[entry * size : entry * size + size]): entry, peer: slot}
        else:
            entry[peer] = slot

    def _index_remove(self, peer: bytes) -> None:
        index, bucket = self.index, peer[: self.blen]
        assert index is not None
        entry = index[bucket]
        if isinstance(entry, int):
            del index[bucket]
            return
        del entry[peer]
        if len(entry) == 1:
            index[bucket] = next(iter(entry.values()))

    def _index_move(self, peer: bytes, slot: int) -> None:
        index, bucket = self.index, peer[: self.blen]
        assert index is not None
        entry = index[bucket]
        if isinstance(entry, int):
            index[bucket] = slot
        else:
            entry[peer] = slot

    def pick(self, numwant: int, skip: int, rand: Callable[[], float]) -> bytes:
        """Up to `numwant` packed peers, leaving out the one in slot `skip` (-1: none)."""
        count = len(self.meta)
        avail = count - (skip >= 0)
        if numwant <= 0 or avail <= 0:
            return _EMPTY
        addrs, size = self.addrs, self.size
        if avail <= numwant:
            if skip < 0:
                return bytes(addrs)
            start = skip * size
            return bytes(addrs[:start] + addrs[start + size :])
        # A window of `numwant` records starting at a random slot, wrapping around; when the
        # window covers the requester, widen it by one and cut the requester out.
        first = int(rand() * count)
        span = numwant
        if skip >= 0 and (skip - first) % count < numwant:
            span += 1
        end = first + span
        if end <= count:
            out = addrs[first * size : end * size]
        else:
            out = addrs[first * size :] + addrs[: (end - count) * size]
        if span != numwant:
            cut = ((skip - first) % count) * size
            del out[cut : cut + size]
        return bytes(out)


def _bucket(peer: bytes) -> bytes:
    """The address bucket of a packed endpoint (its address without the port)."""
    return address_bucket(peer[:-2])


class _Swarm:
    __slots__ = ("downloaded", "seeders", "v4", "v6")

    def __init__(self) -> None:
        self.v4: _Family | None = None
        self.v6: _Family | None = None
        self.seeders = 0
        self.downloaded = 0

    def peers(self) -> int:
        return (len(self.v4.meta) if self.v4 else 0) + (len(self.v6.meta) if self.v6 else 0)


class MemoryPeerStore:
    """PeerStore in process memory. See `swarmdex.peerstore.base` for the contract.

    `keep_dormant`: keep a swarm whose peers are all gone if it has counted completions, so
    the `downloaded` figure survives quiet periods. Right when the tracker serves a known
    list of torrents; in open mode it would let anyone pin memory, so there it is off.

    `max_peers_per_address`, `new_swarms`, `min_interval` and `new_peer_lists` (duty 7)
    are off when None; the settings turn them on.
    """

    def __init__(
        self,
        *,
        peer_ttl: float = 2700.0,
        max_peers: int = 10_000_000,
        max_swarms: int = 2_000_000,
        keep_dormant: bool = False,
        max_peers_per_address: int | None = None,
        new_swarms: Rate | None = None,
        min_interval: float | None = None,
        new_peer_lists: Rate | None = None,
        seed: int | None = None,
    ) -> None:
        self.peer_ttl = peer_ttl
        self.persists: list[str] = []  # nothing here ever reaches a disk
        self._published: dict[str, tuple[float, dict[str, int]]] = {}  # node -> (until, counters)
        self.max_peers = max_peers
        self.max_swarms = max_swarms
        self.keep_dormant = keep_dormant
        self.max_peers_per_address = max_peers_per_address
        self._new_swarms = Pacer(new_swarms.burst, new_swarms.per) if new_swarms else None
        # Whole seconds, compared with the ticks of meta words: an early re-announce costs
        # one subtraction, nothing stored.
        self._min_ticks = math.ceil(min_interval) if min_interval else 0
        self._new_peer_lists = (
            Pacer(new_peer_lists.burst, new_peer_lists.per) if new_peer_lists else None
        )
        self.paced = 0  # announces answered without peers (duty 7d)
        self._shards: list[dict[bytes, _Swarm]] = [{} for _ in range(_SHARDS)]
        self._order: deque[bytes] = deque()  # swarm keys, oldest first (see the module doc)
        self._limits = LimitLog(log, "peer store limits")
        self.evicted = 0
        self._swarms = 0
        self._peers = 0
        self._epoch: float | None = None
        self._rand = random.Random(seed).random

    async def open(self) -> None:
        pass  # nothing to connect to

    def _tick(self, now: float) -> int:
        """`now` as whole seconds since the store's epoch (fits the 30 bits meta allows)."""
        epoch = self._epoch
        if epoch is None:
            epoch = self._epoch = now - 1.0
        tick = int(now - epoch)
        # A clock stepped back to before the epoch reads as the epoch: ages come out a bit
        # long until it catches up, which beats refusing to store the peer.
        return tick if tick > 0 else 0

    async def announce(
        self,
        info_hash: bytes,
        peer: bytes,
        *,
        event: Event,
        seeder: bool,
        numwant: int,
        other_family: bool,
        now: float,
    ) -> SwarmReply:
        v6 = len(peer) == 18
        if not v6 and len(peer) != 6:
            raise ValueError("a peer is 6 (IPv4) or 18 (IPv6) bytes")
        shard = self._shards[info_hash[0]]
        swarm = shard.get(info_hash)
        if swarm is None:
            if event == _STOPPED:
                return SwarmReply(0, 0, 0, _EMPTY, _EMPTY)
            if self._new_swarms is not None and not self._new_swarms.allow(_bucket(peer), now):
                self._limits.bump("new swarm refused: too many from one address")
                raise NewSwarmsPaced
            if self._swarms >= self.max_swarms and not self._evict(None):
                self._limits.bump("new swarm refused: store full, nothing to evict")
                raise StoreFull
            swarm = shard[info_hash] = _Swarm()
            self._swarms += 1
            self._remember(info_hash)
        family = swarm.v6 if v6 else swarm.v4

        if event == _STOPPED:
            slot = family.find(peer) if family is not None else -1
            if slot >= 0 and family is not None:
                if family.remove(slot) & SEEDER:
                    swarm.seeders -= 1
                self._peers -= 1
                if not swarm.peers():
                    self._forget_if_idle(shard, info_hash, swarm)
            total = swarm.peers()
            return SwarmReply(swarm.seeders, total - swarm.seeders, swarm.downloaded, _EMPTY, _EMPTY)

        if family is None:
            family = _Family(18 if v6 else 6)
            if v6:
                swarm.v6 = family
            else:
                swarm.v4 = family
        slot = family.find(peer)
        word = self._tick(now) << 2
        if seeder or event == _COMPLETED:
            word |= SEEDER
        if slot >= 0:
            old = family.meta[slot]
            word |= old & COUNTED
            if (old ^ word) & SEEDER:
                swarm.seeders += 1 if word & SEEDER else -1
            if numwant and (word >> 2) - (old >> 2) < self._min_ticks:
                numwant = 0  # too soon after its previous announce: recorded, but no peers
                self.paced += 1
                self._limits.bump("announce answered without peers: sooner than min_interval")
        else:
            cap = self.max_peers_per_address
            if cap is not None and family.meta and family.bucket_count(peer, cap) >= cap:
                self._limits.bump("new peer refused: too many from one address in a swarm")
                raise AddressFull
            if self._peers >= self.max_peers and not self._evict(swarm):
                if not swarm.peers():
                    self._forget_if_idle(shard, info_hash, swarm)
                self._limits.bump("new peer refused: store full, nothing to evict")
                raise StoreFull
            self._peers += 1
            if word & SEEDER:
                swarm.seeders += 1
            lists = self._new_peer_lists
            if (
                numwant
                and family.meta
                and lists is not None
                and not lists.allow((peer[: family.blen], info_hash), now)
            ):
                # New ports of one address must not stand in for early re-announces.
                numwant = 0
                self.paced += 1
                self._limits.bump("announce answered without peers: new peers from one address")
        if event == _COMPLETED and not word & COUNTED:
            word |= COUNTED
            swarm.downloaded += 1
        if slot >= 0:
            family.meta[slot] = word
        else:
            slot = family.append(peer, word)

        own = family.pick(numwant, slot, self._rand)
        other = _EMPTY
        if other_family:
            left = numwant - len(own) // family.size
            other_fam = swarm.v4 if v6 else swarm.v6
            if left > 0 and other_fam is not None:
                other = other_fam.pick(left, -1, self._rand)
        total = swarm.peers()
        if v6:
            return SwarmReply(swarm.seeders, total - swarm.seeders, swarm.downloaded, other, own)
        return SwarmReply(swarm.seeders, total - swarm.seeders, swarm.downloaded, own, other)

    def _remember(self, info_hash: bytes) -> None:
        """Queue a new swarm for eviction, after every older one."""
        order = self._order
        order.append(info_hash)
        if len(order) > 2 * self._swarms + EVICT_LOOK:
            # Mostly keys of swarms already gone: keep each live swarm once, in order.
            shards = self._shards
            self._order = deque(k for k in dict.fromkeys(order) if k in shards[k[0]])

    def _evict(self, keep: _Swarm | None) -> bool:
        """Forget the oldest swarm with at most one peer (not `keep`) to make room for
        growth. Looks at `EVICT_LOOK` swarms at most; False if none of them would do."""
        order, shards = self._order, self._shards
        for _ in range(min(EVICT_LOOK, len(order))):
            info_hash = order.popleft()
            shard = shards[info_hash[0]]
            swarm = shard.get(info_hash)
            if swarm is None:
                continue  # gone already (expired, stopped, removed)
            if swarm is keep or swarm.peers() > 1:
                order.append(info_hash)
                continue
            del shard[info_hash]
            self._swarms -= 1
            self._peers -= swarm.peers()
            self.evicted += 1
            self._limits.bump("swarm with at most one peer evicted: store full")
            return True
        return False

    def _forget_if_idle(self, shard: dict[bytes, _Swarm], info_hash: bytes, swarm: _Swarm) -> None:
        if swarm.downloaded and self.keep_dormant:
            swarm.v4 = swarm.v6 = None  # keep the counter, free the arrays
            return
        del shard[info_hash]
        self._swarms -= 1

    async def scrape(self, info_hashes: Sequence[bytes], now: float) -> list[SwarmCounts]:
        shards = self._shards
        out = []
        for h in info_hashes:
            swarm = shards[h[0]].get(h) if h else None
            if swarm is None:
                out.append(SwarmCounts(0, 0, 0))
            else:
                out.append(SwarmCounts(swarm.seeders, swarm.peers() - swarm.seeders, swarm.downloaded))
        return out

    async def remove_swarm(self, info_hash: bytes) -> None:
        swarm = self._shards[info_hash[0]].pop(info_hash, None) if info_hash else None
        if swarm is not None:
            self._swarms -= 1
            self._peers -= swarm.peers()

    async def stats(self, now: float) -> StoreStats:
        v4 = v6 = seeders = 0
        for shard in self._shards:
            for swarm in shard.values():
                v4 += len(swarm.v4.meta) if swarm.v4 else 0
                v6 += len(swarm.v6.meta) if swarm.v6 else 0
                seeders += swarm.seeders
        return StoreStats(self._swarms, v4, v6, seeders, v4 + v6 - seeders)

    async def totals(self) -> tuple[int, int]:
        return self._swarms, self._peers

    def counts(self) -> tuple[int, int]:
        """`totals`, for callers outside the event loop (tests, benchmarks)."""
        return self._swarms, self._peers

    async def collect_garbage(self, now: float) -> int:
        if self._epoch is None:
            return 0
        # Ticks are whole seconds: round the lifetime up so no peer ever goes early.
        cutoff = (self._tick(now) - math.ceil(self.peer_ttl)) << 2
        removed = 0
        for shard in self._shards:
            removed += self._collect_shard(shard, cutoff)
            await asyncio.sleep(0)  # let announces through between shards
        return removed

    def _collect_shard(self, shard: dict[bytes, _Swarm], cutoff: int) -> int:
        removed = 0
        for info_hash, swarm in list(shard.items()):
            for family in (swarm.v4, swarm.v6):
                # min() runs in C; only swarms holding an expired peer pay for the Python loop.
                if family is None or not family.meta or min(family.meta) >= cutoff:
                    continue
                meta = family.meta
                for slot in range(len(meta) - 1, -1, -1):
                    if meta[slot] < cutoff:
                        if family.remove(slot) & SEEDER:
                            swarm.seeders -= 1
                        removed += 1
            if not swarm.peers():
                self._forget_if_idle(shard, info_hash, swarm)
        self._peers -= removed
        return removed

    async def publish_counters(self, node: str, counters: Mapping[str, int], ttl: float) -> None:
        self._published[node] = (time.monotonic() + ttl, dict(counters))

    async def summed_counters(self) -> dict[str, int]:
        now, out = time.monotonic(), dict[str, int]()
        for until, counters in list(self._published.values()):
            if until >= now:
                for name, value in counters.items():
                    out[name] = out.get(name, 0) + value
        return out

    async def close(self) -> None:
        for shard in self._shards:
            shard.clear()
        self._order.clear()
        self._swarms = self._peers = 0
