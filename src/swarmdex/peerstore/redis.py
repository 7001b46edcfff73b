"""A peer store in Redis, shared by every tracker node (and read by the site).

Each operation is one Lua script (`redis_scripts`), so it is one round trip and atomic: two
nodes announcing to one swarm at once never lose a peer or a count. Scripts build their key names from a prefix
(default `swarmdex:`), so this is for one Redis server, not Redis Cluster.

Announces and scrapes go through one pipelined connection (`resp.RespPipeline`: the commands
of one event-loop turn in one write, replies parsed by hiredis); the rest through redis-py.
The announces of one loop turn are one call of the announce script (`resp.Batched`), each
answered with its own element. With 64 announces in flight, one process's announce rate
went from about 3,000/s through redis-py alone to about 18,800/s (`bench/peerstore_redis.py`);
a tracker node spends about 75 µs of CPU per UDP announce and Redis about 60 µs
(`bench/scale_out.py`), most of it handing out the peer list.

Key layout (P: the prefix; H: a 20-byte swarm key and B: an address bucket, both raw bytes)
------------------------------------------------------------------------------------------
`P n:`          hash: `swarms`, `peers` (the store's totals), `seq` (a counter for `P order:`).
`P order:`      sorted set: H -> a sequence number, the swarm's place in the eviction order
                (oldest first; a swarm looked at and kept moves to the back). Garbage
                collection and `stats` walk it in batches by score.
`P m: H`        hash: the swarm. `s` seeders, `d` completed downloads, and per address bucket
                (4 bytes of an IPv4 address, 8 of an IPv6 /64) its number of peers here, for
                the per-address cap. It exists exactly as long as the swarm does.
`P 4: H`        sorted set of the swarm's IPv4 peers: packed endpoint (6 bytes) -> score.
`P 6: H`        sorted set of its IPv6 peers: packed endpoint (18 bytes) -> score.
                score = whole seconds of the peer's last announce * 4 + flags (1: seeder,
                2: its `completed` counted). Integers, so small sets stay in Redis's compact
                encoding; expiry is one range deletion by score.
`P ns: B`       string: GCRA state (when the bucket is full again) pacing new swarms per
                address bucket; it expires when that time comes.
`P pl: B H`     the same for new peers' lists per address bucket and swarm.
`P gc:`         the lock of a garbage-collection pass; `P gc-done:` when the last one ended.
`P stats: NODE` hash: a tracker node's running counters (announces, scrapes, refused), with
                a time limit renewed as it publishes; the site adds them up.

(Names are these parts joined with nothing in between: `swarmdex:m:` then the 20 bytes.)

Garbage collection walks `P order` in batches of `GC_BATCH` swarms, each batch one script
call. A pass holds `P gc` (a lock with a time limit, renewed by each batch), so nodes never
sweep at once, and a node skips its pass if another finished one less than `gc_every`
seconds (tracker time) before: expiry is never done twice over.

Nothing is written to disk by swarmdex; whether Redis itself persists (`save`,
`appendonly`) is the operator's choice, and `persistence` reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import secrets
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from swarmdex.peerstore.base import (
    AddressFull,
    NewSwarmsPaced,
    Rate,
    StoreFull,
    StoreStats,
    StoreUnavailable,
    SwarmReply,
)
from swarmdex.peerstore.pacing import LimitLog
from swarmdex.peerstore.redis_scripts import ANNOUNCE, COLLECT, REMOVE, SCRAPE, STATS
from swarmdex.peerstore.resp import Batched, RespPipeline
from swarmdex.protocol.announce import Event, SwarmCounts

__all__ = ["RedisPeerStore"]

T = TypeVar("T")

log = logging.getLogger(__name__)

GC_BATCH = 500  # swarms one garbage-collection call looks at
STATS_BATCH = 2000  # swarms one `stats` call sums
GC_LOCK_MS = 30_000  # a pass's lock outlives a node that died holding it by this much
SOCKET_TIMEOUT = 5.0  # seconds a call to Redis may take before it counts as unavailable
EVICT_LOOK = 64  # as the memory store: swarms a full store looks at to find one to evict
_DIGITS: tuple[bytes, ...] = (b"0", b"1", b"2", b"3")  # events and flags, as the script reads them
_dice = random.getrandbits  # where a peer list starts in the swarm (not a secret)

_STATUS = {1: AddressFull, 2: NewSwarmsPaced, 3: StoreFull}
_REFUSED = {
    1: "new peer refused: too many from one address in a swarm",
    2: "new swarm refused: too many from one address",
    3: "refused: store full, nothing to evict",
}



class RedisPeerStore:
    """PeerStore in Redis. See `swarmdex.peerstore.base` for the contract and the module
    docstring for the key layout. Build it with `connect`."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "swarmdex:",
        peer_ttl: float = 2700.0,
        max_peers: int = 10_000_000,
        max_swarms: int = 2_000_000,
        keep_dormant: bool = False,
        max_peers_per_address: int | None = None,
        new_swarms: Rate | None = None,
        min_interval: float | None = None,
        new_peer_lists: Rate | None = None,
        gc_every: float = 0.0,
    ) -> None:
        self.client = client
        self.prefix = prefix.encode()
        self.peer_ttl = peer_ttl
        self.max_peers = max_peers
        self.max_swarms = max_swarms
        self.keep_dormant = keep_dormant
        self.gc_every = gc_every
        # The announce script's limits, in its argument order (0 turns one off).
        self._limits: list[Any] = [
            max_peers,
            max_swarms,
            max_peers_per_address or 0,
            new_swarms.burst if new_swarms else 0,
            new_swarms.per if new_swarms else 1,
            math.ceil(min_interval) if min_interval else 0,
            new_peer_lists.burst if new_peer_lists else 0,
            new_peer_lists.per if new_peer_lists else 1,
            int(keep_dormant),
            EVICT_LOOK,
        ]
        self._announce = client.register_script(ANNOUNCE)
        self._scrape = client.register_script(SCRAPE)
        self._remove = client.register_script(REMOVE)
        self._collect = client.register_script(COLLECT)
        self._stats = client.register_script(STATS)
        self._limit_log = LimitLog(log, "peer store limits")
        self.paced = 0  # announces answered without peers (duty 7d)
        self._down = False  # the last call found Redis away (said once in the log)
        self.shown_as = "Redis"  # how messages name it
        self.persists: list[str] = []  # what of Redis's configuration writes to disk (`open`)
        self.fast: RespPipeline | None = None  # the announce path's connection (`at`)
        self._fast_announce: Batched | None = None
        self._scrape_sha = b""

    async def _answer(self, call: Awaitable[T], *, in_task: bool = True) -> T:
        """`call`'s result; Redis not answering becomes StoreUnavailable (duty of networked
        stores), said in the log once when it goes and once when it is back. `in_task`:
        `call` needs to run in a Task (redis-py's timeouts do; the pipeline does not)."""
        if in_task and asyncio.current_task() is None:
            # Driven without a task by a server that runs coroutines eagerly
            # (swarmdex.tracker.eager).
            return await asyncio.ensure_future(self._answer(call))
        try:
            result = await call
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            if not self._down:
                self._down = True
                log.error("peer store: Redis does not answer: %s", exc)
            raise StoreUnavailable(str(exc)) from None
        if self._down:
            self._down = False
            log.warning("peer store: Redis answers again")
        return result

    @classmethod
    def at(cls, url: str, *, shown_as: str | None = None, **options: Any) -> RedisPeerStore:
        """A store on the Redis at `url` (`redis://HOST:PORT/DB`), not yet connected (see
        `open`); `shown_as` names it in messages (the URL without its password). Raises
        ValueError for a URL redis-py cannot use."""
        # Bounded waits: a Redis that hangs must not hang announces with it.
        client = aioredis.Redis.from_url(url, decode_responses=False, socket_timeout=SOCKET_TIMEOUT,
                                         socket_connect_timeout=SOCKET_TIMEOUT)
        store = cls(client, **options)
        store.shown_as = shown_as or "Redis"
        store.use_pipeline(RespPipeline.from_url(url, timeout=SOCKET_TIMEOUT))
        return store

    def use_pipeline(self, pipeline: RespPipeline | None) -> None:
        """Send announces and scrapes through `pipeline` (see `resp`), not redis-py."""
        self.fast = pipeline
        self._fast_announce = None
        if pipeline is not None:
            self._fast_announce = pipeline.batched(pipeline.script(ANNOUNCE),
                                                   [self.prefix, *self._limits], 8)
            self._scrape_sha = pipeline.script(SCRAPE)

    @classmethod
    async def connect(cls, url: str, **options: Any) -> RedisPeerStore:
        """`at` and `open`."""
        store = cls.at(url, **options)
        try:
            await store.open()
        except StoreUnavailable:
            await store.close()
            raise
        return store

    async def open(self) -> None:
        """Check that Redis answers (else StoreUnavailable, naming it) and warn if it writes
        what it holds to disk: peers' addresses must not outlive their swarms."""
        try:
            await self._answer(self.client.ping())
            self.persists = await self.persistence()
        except StoreUnavailable as exc:
            raise StoreUnavailable(f"peer store {self.shown_as} does not answer: {exc}") from None
        if self.persists:
            log.warning("peer store: Redis writes peers to disk (%s); set `save \"\"` and "
                        "`appendonly no` so that peer addresses never reach it",
                        ", ".join(self.persists))

    def _key(self, *parts: bytes) -> bytes:
        return self.prefix + b"".join(parts)

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
        if len(peer) not in (6, 18):
            raise ValueError("a peer is 6 (IPv4) or 18 (IPv6) bytes")
        if self._fast_announce is not None:
            reply = await self._answer(self._fast_announce(
                info_hash, peer, _DIGITS[event], _DIGITS[seeder], b"%d" % numwant,
                _DIGITS[other_family], repr(now).encode(), b"%d" % _dice(31)), in_task=False)
        else:  # a batch of one
            reply = (await self._answer(self._announce(args=[
                self.prefix, *self._limits, info_hash, peer, int(event), int(seeder), numwant,
                int(other_family), repr(now), _dice(31)])))[0]
        status = reply[0]
        if status:
            self._limit_log.bump(_REFUSED[status])
            raise _STATUS[status]
        if reply[6]:
            self.paced += 1
            self._limit_log.bump("announce answered without peers: paced")
        return SwarmReply(reply[1], reply[2], reply[3], reply[4], reply[5])

    async def scrape(self, info_hashes: Sequence[bytes], now: float) -> list[SwarmCounts]:
        if not info_hashes:
            return []
        if self.fast is not None:
            rows = await self._answer(
                self.fast.evalsha(self._scrape_sha, [self.prefix, *info_hashes]), in_task=False)
        else:
            rows = await self._answer(self._scrape(args=[self.prefix, *info_hashes]))
        return [SwarmCounts(*row) for row in rows]

    async def remove_swarm(self, info_hash: bytes) -> None:
        await self._answer(self._remove(args=[self.prefix, info_hash]))

    async def totals(self) -> tuple[int, int]:
        swarms, peers = await self._answer(self.client.hmget(self._key(b"n:"), "swarms", "peers"))
        return int(swarms or 0), int(peers or 0)

    async def stats(self, now: float) -> StoreStats:
        v4 = v6 = seeders = 0
        after: bytes | str = "-inf"
        while True:
            a4, a6, s, after, done = await self._answer(
                self._stats(args=[self.prefix, after, STATS_BATCH]))
            v4, v6, seeders = v4 + a4, v6 + a6, seeders + s
            if done:
                break
        swarms, _ = await self.totals()
        return StoreStats(swarms, v4, v6, seeders, v4 + v6 - seeders)

    async def collect_garbage(self, now: float) -> int:
        lock, last_pass = self._key(b"gc:"), self._key(b"gc-done:")
        done_at = await self._answer(self.client.get(last_pass))
        if done_at is not None and self.gc_every and float(done_at) > now - self.gc_every:
            return 0  # another node swept a moment ago
        token = secrets.token_hex(8)
        if not await self._answer(self.client.set(lock, token, nx=True, px=GC_LOCK_MS)):
            return 0  # another node is sweeping now
        # Whole seconds, as the scores hold them: a peer is gone once silent for more than
        # peer_ttl rounded up, so never early.
        cutoff = (math.floor(now) - math.ceil(self.peer_ttl)) * 4
        removed = 0
        after: bytes | str = "-inf"
        try:
            while True:
                gone, after, finished, held = await self._answer(self._collect(args=[
                    self.prefix, token, after, GC_BATCH, cutoff, int(self.keep_dormant),
                    GC_LOCK_MS]))
                removed += int(gone)
                if finished or not held:
                    break
            await self._answer(self.client.set(last_pass, repr(now)))
        finally:
            # Release only our own lock (a slow pass may have lost it to another node); if
            # Redis is away, the lock's time limit releases it.
            with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                if await self.client.get(lock) == token.encode():
                    await self.client.delete(lock)
        return removed

    async def publish_counters(self, node: str, counters: Mapping[str, int], ttl: float) -> None:
        key = self._key(b"stats:", node.encode())
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(key)
        if counters:
            pipe.hset(key, mapping={name: value for name, value in counters.items()})
        pipe.pexpire(key, max(1, int(ttl * 1000)))
        await self._answer(pipe.execute())

    async def summed_counters(self) -> dict[str, int]:
        out: dict[str, int] = {}
        pattern = self.prefix + b"stats:*"
        keys = [key async for key in self.client.scan_iter(match=pattern, count=100)]
        for values in await self._answer(self._hgetall_all(keys)):
            for name, value in values.items():
                text = name.decode()
                out[text] = out.get(text, 0) + int(value)
        return out

    async def _hgetall_all(self, keys: list[bytes]) -> list[dict[bytes, bytes]]:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return list(await pipe.execute()) if keys else []

    async def persistence(self) -> list[str]:
        """What of Redis's configuration writes data to disk (empty: nothing does)."""
        found = []
        save = await self._config("save")
        if save:
            found.append(f"save {save}")
        if await self._config("appendonly") == "yes":
            found.append("appendonly yes")
        return found

    async def _config(self, name: str) -> str:
        values: dict[Any, Any] = await self.client.config_get(name)
        for value in values.values():
            return value.decode() if isinstance(value, bytes) else str(value or "")
        return ""

    async def close(self) -> None:
        if self.fast is not None:
            await self.fast.close()
        await self.client.aclose()
