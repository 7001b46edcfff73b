#!/usr/bin/env python3
"""Bytes per peer of swarmdex's Redis peer store (`RedisPeerStore`), and its announce rate.

Starts a throwaway `redis-server` on 127.0.0.1 (nothing saved to disk), fills a fresh store
with `--peers` distinct peers spread evenly over `--swarms` torrents through the store's own
announce script (the limits of the default settings on), and reports:

* memory: Redis's `used_memory` (INFO memory) before and after the fill, per peer; also
  `used_memory_rss` (what the machine pays, allocator slack included);
* the announce rate while filling, with `--inflight` announces in flight from one process
  (as a tracker node has them: one per datagram being answered);
* the rate of re-announces of known peers asking for 50 peers once the store is full.

    .venv/bin/python bench/peerstore_redis.py                    # 1,000,000 peers, 100,000 swarms
    .venv/bin/python bench/peerstore_redis.py --peers 100000 --swarms 10000 --ipv6 0.2

Only 127.0.0.1 is used; every loop is bounded by --peers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.redis_server import redis_server

from swarmdex.node import store_limits
from swarmdex.peerstore.redis import RedisPeerStore
from swarmdex.protocol.announce import Event
from swarmdex.settings import Settings

T0 = 1_750_000_000.0


def peers(args: argparse.Namespace) -> Iterator[tuple[bytes, bytes, bool]]:
    """(info hash, packed peer, seeder) for announce i: swarm i % swarms, its (i // swarms)th
    peer, each peer on an address of its own."""
    rng = random.Random(args.seed)
    hashes = [hashlib.sha1(b"bench" + n.to_bytes(8, "big")).digest() for n in range(args.swarms)]
    for i in range(args.peers):
        n = i // args.swarms
        if rng.random() < args.ipv6:
            peer = bytes.fromhex("20010db8") + (i + 1).to_bytes(4, "big") + bytes(8) + b"\x1a\xe1"
        else:
            peer = (0x0A000000 + i + 1).to_bytes(4, "big") + (6881 + n % 1000).to_bytes(2, "big")
        yield hashes[i % args.swarms], peer, rng.random() < args.seeders


async def in_flight(store: RedisPeerStore, items: Iterator[tuple[bytes, bytes, bool]], *,
                    inflight: int, numwant: int, event: Event, now: float) -> int:
    done = 0

    async def worker() -> None:
        nonlocal done
        for h, peer, seeder in items:  # shared iterator: each item goes to one worker
            await store.announce(h, peer, event=event, seeder=seeder, numwant=numwant,
                                 other_family=False, now=now)
            done += 1

    await asyncio.gather(*(worker() for _ in range(inflight)))
    return done


async def memory(store: RedisPeerStore) -> tuple[int, int]:
    info = await store.client.info("memory")
    return int(info["used_memory"]), int(info["used_memory_rss"])


async def measure(url: str, args: argparse.Namespace) -> None:
    settings = Settings()
    store = await RedisPeerStore.connect(
        url, peer_ttl=settings.effective_peer_ttl, max_peers=args.peers * 2,
        max_swarms=args.swarms * 2, keep_dormant=True,
        **(store_limits(settings) | {"min_interval": None, "new_peer_lists": None,
                                     "new_swarms": None}))
    try:
        used0, rss0 = await memory(store)
        start = time.perf_counter()
        count = await in_flight(store, peers(args), inflight=args.inflight, numwant=0,
                                event=Event.STARTED, now=T0)
        fill = time.perf_counter() - start
        used1, rss1 = await memory(store)
        swarms, held = await store.totals()
        assert (swarms, held) == (args.swarms, args.peers), (swarms, held)
        sample = list(peers(args))[: args.reannounce]
        start = time.perf_counter()
        again = await in_flight(store, iter(sample), inflight=args.inflight, numwant=50,
                                event=Event.NONE, now=T0 + 600)
        steady = time.perf_counter() - start
    finally:
        await store.close()
    print(f"redis peer store: {args.peers:,} peers in {args.swarms:,} swarms "
          f"({args.ipv6:.0%} IPv6, {args.seeders:.0%} seeders)")
    print(f"  used_memory  {(used1 - used0) / args.peers:7.1f} bytes/peer "
          f"({(used1 - used0) / 2**20:.1f} MiB)")
    print(f"  used_memory_rss {(rss1 - rss0) / args.peers:7.1f} bytes/peer")
    print(f"  fill: {count / fill:,.0f} announces/s with {args.inflight} in flight "
          f"({1e6 * fill / count:.1f} us each)")
    print(f"  re-announce, numwant 50: {again / steady:,.0f}/s ({1e6 * steady / again:.1f} us each)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peers", type=int, default=1_000_000)
    ap.add_argument("--swarms", type=int, default=100_000)
    ap.add_argument("--ipv6", type=float, default=0.0, help="share of IPv6 peers (default 0)")
    ap.add_argument("--seeders", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inflight", type=int, default=64, help="announces in flight (default 64)")
    ap.add_argument("--reannounce", type=int, default=50_000,
                    help="known peers re-announcing after the fill (default 50000)")
    args = ap.parse_args()
    with redis_server() as server:
        asyncio.run(measure(server.url, args))


if __name__ == "__main__":
    main()
