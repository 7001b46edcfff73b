#!/usr/bin/env python3
"""Bytes per peer of swarmdex's in-memory peer store (`MemoryPeerStore`).

Fills a fresh store with `--peers` distinct peers spread evenly over `--swarms` torrents and
reports what it cost:

* RSS: VmRSS from /proc/self/status before and after the fill. This is the figure that
  counts (it is what the operator pays), measured with tracemalloc off.
* structure: a walk of the store adding up `sys.getsizeof` of every object it holds, broken
  down by component, so a change of layout shows where the bytes went.
* tracemalloc: the bytes Python's allocator hands out for a second, identical fill with
  tracemalloc on (skip with `--no-tracemalloc`; it roughly triples the run time).

Inputs are made lazily from a counter (announce i goes to swarm i % swarms as its
(i // swarms)-th peer), so nothing but the store grows between the two RSS readings: the info
hash a swarm keeps is the store's own cost, exactly as in the running tracker, and each 6- or
18-byte peer is dropped again once the store has copied it.

Also reported: the time per announce while filling, and the time per re-announce of a known
peer asking for 50 peers (the tracker's steady state) once the store is full.

    .venv/bin/python bench/peerstore_memory.py                  # 1,000,000 peers, 100,000 swarms
    .venv/bin/python bench/peerstore_memory.py --peers 200000 --swarms 20000 --ipv6 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import random
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from typing import Any

from swarmdex.node import store_limits
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.protocol.announce import Event
from swarmdex.settings import Settings

MIB = 1024 * 1024
T0 = 1_750_000_000.0  # a fixed wall-clock start for the store's `now`


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def info_hash(swarm: int, salt: bytes) -> bytes:
    return hashlib.sha1(salt + swarm.to_bytes(8, "big")).digest()


def peers(args: argparse.Namespace) -> Iterator[tuple[bytes, bytes, bool]]:
    """(info_hash, packed peer, seeder) for every announce of the fill, made on the fly.

    Addresses are random public-looking IPv4 (1.0.0.0 - 223.255.255.255) or IPv6 (2000::/3)
    with a random port in 1024-65535, as modern clients pick them. Within a swarm they are
    distinct with overwhelming probability; the summary reports the store's own peer count.
    """
    rand = random.Random(args.seed)
    salt = args.seed.to_bytes(8, "big")
    swarms, v6_share, seed_share = args.swarms, args.ipv6, args.seeders
    for i in range(args.peers):
        h = info_hash(i % swarms, salt)  # a fresh bytes object each time, like a parsed packet's
        port = rand.randrange(1024, 65536)
        if v6_share and rand.random() < v6_share:
            addr = (0x2000 << 112 | rand.getrandbits(125)).to_bytes(16, "big")
        else:
            addr = rand.randrange(0x01000000, 0xE0000000).to_bytes(4, "big")
        yield h, addr + port.to_bytes(2, "big"), rand.random() < seed_share


async def fill(store: MemoryPeerStore, args: argparse.Namespace) -> float:
    """Announce every peer once (event=started, numwant=0); return the seconds it took."""
    announce, started = store.announce, Event.STARTED
    step = 3600.0 / max(args.peers, 1)  # the fill spreads over an hour of store time
    t = time.perf_counter()
    for i, (h, peer, seeder) in enumerate(peers(args)):
        await announce(
            h, peer, event=started, seeder=seeder, numwant=0, other_family=False, now=T0 + i * step
        )
    return time.perf_counter() - t


async def reannounce(store: MemoryPeerStore, args: argparse.Namespace, count: int) -> float:
    """Re-announce `count` known peers (event=none, numwant=50); return seconds per announce."""
    if count <= 0:
        return 0.0
    announce, none = store.announce, Event.NONE
    sample = []
    for n, item in enumerate(peers(args)):  # the same generator, so these peers are known
        if n >= count:
            break
        sample.append(item)
    now = T0 + 3600.0
    t = time.perf_counter()
    for h, peer, seeder in sample:
        await announce(
            h, peer, event=none, seeder=seeder, numwant=50, other_family=len(peer) != 6, now=now
        )
    return (time.perf_counter() - t) / len(sample)


def structure(store: MemoryPeerStore) -> Counter[str]:
    """Bytes the store's objects occupy by `sys.getsizeof`, per component."""
    size = sys.getsizeof
    parts: Counter[str] = Counter()
    parts["store object + shard list"] = size(store) + size(store._shards)
    for shard in store._shards:
        parts["shard dicts (slots)"] += size(shard)
        for h, swarm in shard.items():
            parts["info hash keys"] += size(h)
            parts["swarm objects"] += size(swarm)
            for fam in (swarm.v4, swarm.v6):
                if fam is None:
                    continue
                parts["family objects"] += size(fam)
                parts["addrs (bytearray, packed peers)"] += size(fam.addrs)
                parts["meta (array, 4 bytes a peer)"] += size(fam.meta)
                if fam.index is not None:
                    parts["index dicts (big swarms)"] += size(fam.index) + sum(
                        size(k) + (0 if isinstance(v, int) else size(v) + sum(map(size, v)))
                        for k, v in fam.index.items()
                    )
    return parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peers", type=int, default=1_000_000, help="peers to store (default 1000000)")
    ap.add_argument(
        "--swarms", type=int, default=100_000, help="swarms to spread them over (default 100000)"
    )
    ap.add_argument("--seeders", type=float, default=0.3, help="share of seeders (default 0.3)")
    ap.add_argument(
        "--ipv6", type=float, default=0.0, help="share of IPv6 peers, 18 bytes each (default 0)"
    )
    ap.add_argument("--seed", type=int, default=1, help="random seed of the inputs (default 1)")
    ap.add_argument(
        "--reannounce",
        type=int,
        default=200_000,
        help="known peers to re-announce with numwant=50 after the fill (default 200000; 0: skip)",
    )
    ap.add_argument("--no-tracemalloc", action="store_true", help="skip the second, traced fill")
    ap.add_argument(
        "--limits",
        action="store_true",
        help="turn on the per-address limits as `swarmdex serve` does with default settings "
        "(peers per address, new swarms, peer-list pacing), to measure what they cost",
    )
    args = ap.parse_args()
    if args.peers < 1 or not 1 <= args.swarms <= args.peers:
        ap.error("need 1 <= swarms <= peers")
    if not (0 <= args.seeders <= 1 and 0 <= args.ipv6 <= 1):
        ap.error("--seeders and --ipv6 are shares between 0 and 1")

    limits: dict[str, Any] = {"max_peers": args.peers + 1, "max_swarms": args.swarms + 1}
    if args.limits:
        # The fill's addresses are random, so each address starts few swarms: the limits
        # run their checks on every announce but seldom refuse one, as with real clients.
        limits |= store_limits(Settings())

    # 1. RSS, tracemalloc off. Everything but the store exists before the first reading.
    store = MemoryPeerStore(seed=args.seed, **limits)
    warm = peers(args)
    next(warm)  # touch the generator's code paths once
    del warm
    gc.collect()
    before = rss_bytes()
    fill_s = asyncio.run(fill(store, args))
    gc.collect()
    after = rss_bytes()
    swarms, stored = store.counts()
    parts = structure(store)
    per_announce_us = 1e6 * fill_s / args.peers
    t = time.perf_counter()
    for _ in peers(args):  # the same inputs without the store: what making them costs
        pass
    inputs_us = 1e6 * (time.perf_counter() - t) / args.peers
    re_us = 1e6 * asyncio.run(reannounce(store, args, min(args.reannounce, args.peers)))
    rss_per_peer = (after - before) / max(stored, 1)

    print(
        f"inputs: {args.peers} announces over {args.swarms} swarms, {args.seeders:.0%} seeders, "
        f"{args.ipv6:.0%} IPv6; store holds {stored} peers in {swarms} swarms"
    )
    print(
        f"fill: {fill_s:.2f} s, {per_announce_us:.2f} us per announce (event=started, numwant=0), "
        f"of which {inputs_us:.2f} us make the inputs: store {per_announce_us - inputs_us:.2f} us"
    )
    if args.reannounce:
        print(f"re-announce of a known peer, numwant=50: {re_us:.2f} us per announce")
    total = sum(parts.values())
    print(
        f"structure (sys.getsizeof walk): {total / MIB:.1f} MiB, {total / max(stored, 1):.1f} bytes/peer"
    )
    for name, n in parts.most_common():
        print(f"  {name:34s} {n / MIB:8.1f} MiB {n / max(stored, 1):7.1f} bytes/peer")

    # 2. tracemalloc: a second, identical fill with allocation tracing on.
    if not args.no_tracemalloc:
        asyncio.run(store.close())
        del store
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        store2 = MemoryPeerStore(seed=args.seed, **limits)
        asyncio.run(fill(store2, args))
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        print(
            f"tracemalloc (second fill, traced allocations): {traced / MIB:.1f} MiB, "
            f"{traced / max(stored, 1):.1f} bytes/peer"
        )
        del store2

    verdict = "within" if rss_per_peer <= 100 else "OVER"
    print(
        f"memory store: {stored} peers in {swarms} swarms: RSS before {before / MIB:.1f} MiB, "
        f"after {after / MIB:.1f} MiB, {rss_per_peer:.1f} bytes/peer "
        f"({verdict} the 100 bytes/peer target)"
    )


if __name__ == "__main__":
    main()
