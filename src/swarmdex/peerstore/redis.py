"""A peer store in Redis, shared by every tracker node (and read by the site).

Each operation is one Lua script, so it is one round trip and atomic: two nodes announcing to
one swarm at once never lose a peer or a count. Scripts build their key names from a prefix
(default `swarmdex:`), so this is for one Redis server, not Redis Cluster.

Announces and scrapes go through one pipelined connection (`resp.RespPipeline`: the scripts
of one event-loop turn in one write, replies parsed by hiredis); the rest through redis-py.
With 64 announces in flight that took the client's CPU per announce from about 256 µs to
about 90 µs (`bench/peerstore_redis.py`), Redis's own staying near 50 µs.

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
from swarmdex.peerstore.resp import RespPipeline
from swarmdex.protocol.announce import Event, SwarmCounts

__all__ = ["RedisPeerStore"]

T = TypeVar("T")

log = logging.getLogger(__name__)

GC_BATCH = 500  # swarms one garbage-collection call looks at
STATS_BATCH = 2000  # swarms one `stats` call sums
GC_LOCK_MS = 30_000  # a pass's lock outlives a node that died holding it by this much
SOCKET_TIMEOUT = 5.0  # seconds a call to Redis may take before it counts as unavailable
EVICT_LOOK = 64  # as the memory store: swarms a full store looks at to find one to evict
_STATUS = {1: AddressFull, 2: NewSwarmsPaced, 3: StoreFull}
_REFUSED = {
    1: "new peer refused: too many from one address in a swarm",
    2: "new swarm refused: too many from one address",
    3: "refused: store full, nothing to evict",
}

_COMMON = r"""
local P = ARGV[1]
local N = P .. 'n:'
local ORDER = P .. 'order:'

local function bucket(peer)
  if #peer == 18 then return string.sub(peer, 1, 8) end
  return string.sub(peer, 1, 4)
end

local function peers_of(h)
  return redis.call('ZCARD', P .. '4:' .. h) + redis.call('ZCARD', P .. '6:' .. h)
end

local function to_back(h)
  redis.call('ZADD', ORDER, redis.call('HINCRBY', N, 'seq', 1), h)
end

-- The swarm has no peers left: forget it, unless it is kept for its downloaded figure.
local function forget_if_idle(h, keep_dormant)
  local meta = P .. 'm:' .. h
  if keep_dormant and tonumber(redis.call('HGET', meta, 'd') or '0') > 0 then return end
  redis.call('DEL', meta)
  redis.call('ZREM', ORDER, h)
  redis.call('HINCRBY', N, 'swarms', -1)
end

local function drop_bucket(meta, peer)
  local b = bucket(peer)
  if redis.call('HINCRBY', meta, b, -1) <= 0 then redis.call('HDEL', meta, b) end
end
"""

_ANNOUNCE = _COMMON + r"""
local h, peer = ARGV[2], ARGV[3]
local event = tonumber(ARGV[4])
local seeder = ARGV[5] == '1'
local numwant = tonumber(ARGV[6])
local other_family = ARGV[7] == '1'
local now = tonumber(ARGV[8])
local max_peers, max_swarms = tonumber(ARGV[9]), tonumber(ARGV[10])
local cap = tonumber(ARGV[11])
local ns_burst, ns_per = tonumber(ARGV[12]), tonumber(ARGV[13])
local min_ticks = tonumber(ARGV[14])
local pl_burst, pl_per = tonumber(ARGV[15]), tonumber(ARGV[16])
local keep_dormant = ARGV[17] == '1'
local evict_look = tonumber(ARGV[18])

local v6 = #peer == 18
local fam = P .. (v6 and '6:' or '4:') .. h
local ofam = P .. (v6 and '4:' or '6:') .. h
local meta = P .. 'm:' .. h
local tick = math.floor(now)

-- GCRA, as swarmdex.peerstore.pacing.Pacer, one key per bucket.
local function allow(key, burst, per)
  local tat = tonumber(redis.call('GET', key) or '') or now
  if tat < now then tat = now end
  tat = tat + per / burst
  if tat - now > per * (1 + 1e-9) then return false end
  redis.call('SET', key, string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1)
  return true
end

local function evict(keep)
  local candidates = redis.call('ZRANGE', ORDER, 0, evict_look - 1)
  for _, k in ipairs(candidates) do
    if k ~= keep then
      local n = peers_of(k)
      if n <= 1 then
        redis.call('DEL', P .. '4:' .. k, P .. '6:' .. k, P .. 'm:' .. k)
        redis.call('ZREM', ORDER, k)
        redis.call('HINCRBY', N, 'swarms', -1)
        redis.call('HINCRBY', N, 'peers', -n)
        return true
      end
    end
    to_back(k)
  end
  return false
end

local function answer(own, other, paced)
  local s = tonumber(redis.call('HGET', meta, 's') or '0')
  local d = tonumber(redis.call('HGET', meta, 'd') or '0')
  local total = peers_of(h)
  if v6 then return {0, s, total - s, d, other, own, paced} end
  return {0, s, total - s, d, own, other, paced}
end

local exists = redis.call('EXISTS', meta) == 1
if event == 3 then  -- stopped: leave at once, no peers
  if not exists then return {0, 0, 0, 0, '', '', 0} end
  local old = redis.call('ZSCORE', fam, peer)
  if old then
    redis.call('ZREM', fam, peer)
    if tonumber(old) % 2 == 1 then redis.call('HINCRBY', meta, 's', -1) end
    drop_bucket(meta, peer)
    redis.call('HINCRBY', N, 'peers', -1)
    local result = answer('', '', 0)
    if peers_of(h) == 0 then forget_if_idle(h, keep_dormant) end
    return result
  end
  return answer('', '', 0)
end

if not exists then
  if ns_burst > 0 and not allow(P .. 'ns:' .. bucket(peer), ns_burst, ns_per) then return {2} end
  if tonumber(redis.call('HGET', N, 'swarms') or '0') >= max_swarms and not evict(false) then
    return {3}
  end
  redis.call('HSET', meta, 's', 0, 'd', 0)
  to_back(h)
  redis.call('HINCRBY', N, 'swarms', 1)
end

local paced = 0
local word = tick * 4
if seeder or event == 1 then word = word + 1 end
local old = redis.call('ZSCORE', fam, peer)
local seeders = 0
if old then
  old = tonumber(old)
  word = word + (math.floor(old / 2) % 2) * 2
  seeders = (word % 2) - (old % 2)
  if numwant > 0 and min_ticks > 0 and tick - math.floor(old / 4) < min_ticks then
    numwant = 0  -- too soon after its previous announce: recorded, but no peers
    paced = 1
  end
else
  if cap > 0 and tonumber(redis.call('HGET', meta, bucket(peer)) or '0') >= cap then
    return {1}
  end
  if tonumber(redis.call('HGET', N, 'peers') or '0') >= max_peers and not evict(h) then
    if peers_of(h) == 0 then forget_if_idle(h, keep_dormant) end
    return {3}
  end
  redis.call('HINCRBY', N, 'peers', 1)
  redis.call('HINCRBY', meta, bucket(peer), 1)
  seeders = word % 2
  if numwant > 0 and pl_burst > 0 and redis.call('ZCARD', fam) > 0
      and not allow(P .. 'pl:' .. bucket(peer) .. h, pl_burst, pl_per) then
    numwant = 0  -- new ports of one address must not stand in for early re-announces
    paced = 1
  end
end
if event == 1 and math.floor(word / 2) % 2 == 0 then
  word = word + 2
  redis.call('HINCRBY', meta, 'd', 1)
end
redis.call('ZADD', fam, word, peer)
if seeders ~= 0 then redis.call('HINCRBY', meta, 's', seeders) end

local own = {}
if numwant > 0 then
  for _, p in ipairs(redis.call('ZRANDMEMBER', fam, numwant + 1)) do
    if p ~= peer and #own < numwant then own[#own + 1] = p end
  end
end
local other = {}
if other_family and numwant > #own then
  other = redis.call('ZRANDMEMBER', ofam, numwant - #own)
end
return answer(table.concat(own), table.concat(other), paced)
"""

_SCRAPE = _COMMON + r"""
local out = {}
for i = 2, #ARGV do
  local h = ARGV[i]
  local meta = P .. 'm:' .. h
  local values = redis.call('HMGET', meta, 's', 'd')
  local s = tonumber(values[1] or '0')
  out[#out + 1] = {s, peers_of(h) - s, tonumber(values[2] or '0')}
end
return out
"""

_REMOVE = _COMMON + r"""
local h = ARGV[2]
local meta = P .. 'm:' .. h
if redis.call('EXISTS', meta) == 0 then return 0 end
local n = peers_of(h)
redis.call('DEL', P .. '4:' .. h, P .. '6:' .. h, meta)
redis.call('ZREM', ORDER, h)
redis.call('HINCRBY', N, 'swarms', -1)
redis.call('HINCRBY', N, 'peers', -n)
return 1
"""

# ARGV: prefix, token, after (a score of P order, exclusive), batch, cutoff score,
# keep_dormant, lock ms. Returns {removed, last score, done, lock held}.
_COLLECT = _COMMON + r"""
local token, after, batch = ARGV[2], ARGV[3], tonumber(ARGV[4])
local cutoff, keep_dormant, lock_ms = ARGV[5], ARGV[6] == '1', tonumber(ARGV[7])
local lock = P .. 'gc:'
if redis.call('GET', lock) ~= token then return {0, after, 1, 0} end
redis.call('PEXPIRE', lock, lock_ms)
local swarms = redis.call('ZRANGE', ORDER, '(' .. after, '+inf', 'BYSCORE', 'LIMIT', 0, batch,
                          'WITHSCORES')
local removed = 0
local last = after
for i = 1, #swarms, 2 do
  local h = swarms[i]
  last = swarms[i + 1]
  local meta = P .. 'm:' .. h
  local gone = 0
  for _, f in ipairs({'4:', '6:'}) do
    local key = P .. f .. h
    local expired = redis.call('ZRANGE', key, '-inf', '(' .. cutoff, 'BYSCORE', 'WITHSCORES')
    if #expired > 0 then
      local seeders = 0
      for j = 1, #expired, 2 do
        if tonumber(expired[j + 1]) % 2 == 1 then seeders = seeders + 1 end
        drop_bucket(meta, expired[j])
      end
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. cutoff)
      if seeders > 0 then redis.call('HINCRBY', meta, 's', -seeders) end
      gone = gone + #expired / 2
    end
  end
  if gone > 0 then
    removed = removed + gone
    redis.call('HINCRBY', N, 'peers', -gone)
    if peers_of(h) == 0 then forget_if_idle(h, keep_dormant) end
  end
end
local done = 0
if #swarms < 2 * batch then done = 1 end
return {removed, last, done, 1}
"""

# ARGV: prefix, after, batch. Returns {peers4, peers6, seeders, last score, done}.
_STATS = _COMMON + r"""
local after, batch = ARGV[2], tonumber(ARGV[3])
local swarms = redis.call('ZRANGE', ORDER, '(' .. after, '+inf', 'BYSCORE', 'LIMIT', 0, batch,
                          'WITHSCORES')
local v4, v6, seeders, last = 0, 0, 0, after
for i = 1, #swarms, 2 do
  local h = swarms[i]
  last = swarms[i + 1]
  v4 = v4 + redis.call('ZCARD', P .. '4:' .. h)
  v6 = v6 + redis.call('ZCARD', P .. '6:' .. h)
  seeders = seeders + tonumber(redis.call('HGET', P .. 'm:' .. h, 's') or '0')
end
local done = 0
if #swarms < 2 * batch then done = 1 end
return {v4, v6, seeders, last, done}
"""


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
        self._announce = client.register_script(_ANNOUNCE)
        self._scrape = client.register_script(_SCRAPE)
        self._remove = client.register_script(_REMOVE)
        self._collect = client.register_script(_COLLECT)
        self._stats = client.register_script(_STATS)
        self._limit_log = LimitLog(log, "peer store limits")
        self.paced = 0  # announces answered without peers (duty 7d)
        self._down = False  # the last call found Redis away (said once in the log)
        self.shown_as = "Redis"  # how messages name it
        self.persists: list[str] = []  # what of Redis's configuration writes to disk (`open`)
        self.fast: RespPipeline | None = None  # the announce path's connection (`at`)
        self._announce_sha = self._scrape_sha = b""

    async def _answer(self, call: Awaitable[T]) -> T:
        """`call`'s result; Redis not answering becomes StoreUnavailable (duty of networked
        stores), said in the log once when it goes and once when it is back."""
        if asyncio.current_task() is None:
            # Driven without a task by a server that runs coroutines eagerly
            # (swarmdex.tracker.eager): redis-py's timeouts need one.
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
        if pipeline is not None:
            self._announce_sha = pipeline.script(_ANNOUNCE)
            self._scrape_sha = pipeline.script(_SCRAPE)

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
        args = [self.prefix, info_hash, peer, int(event), int(seeder), numwant,
                int(other_family), repr(now), *self._limits]
        if self.fast is not None:
            reply = await self._answer(self.fast.evalsha(self._announce_sha, args))
        else:
            reply = await self._answer(self._announce(args=args))
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
            rows = await self._answer(self.fast.evalsha(self._scrape_sha, [self.prefix, *info_hashes]))
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
