"""Rate limits that hold across every web process of a site.

A limit counts attempts per key with GCRA, the "generic cell rate algorithm" (a token bucket
stored as one number, the time the key's bucket is full again): a key may spend `count`
attempts at once, then one every `per / count` seconds. Refused attempts are not counted, so
waiting always helps.

`MemoryLimits` keeps the buckets in this process (one web process: the default). With a
Redis peer store, the composition root gives the site `RedisLimits` on the same Redis
instead, so `swarmdex web --workers N` and several web machines share one count per key:
each operation is one Lua script that reads Redis's own clock, so the processes need not
agree on the time. Keys there expire when their bucket is full again; nothing is kept longer
than the limit needs it. A Redis that does not answer lets attempts through (and says so in
the log once): the site stays usable, and password checks still cost their hashing.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

__all__ = ["Limits", "MemoryLimits", "Rate", "RateLimiter", "RedisLimits"]

log = logging.getLogger(__name__)
DEFAULT_MAX_KEYS: Final = 50_000


@dataclass(frozen=True)
class Rate:
    """`count` attempts per `per` seconds."""

    count: int
    per: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.per <= 0:
            raise ValueError("a rate allows at least one attempt in a positive time")


class Limits(Protocol):
    async def hit(self, name: str, rate: Rate, key: bytes | str) -> float:
        """Count one attempt at `name` for `key`: 0.0 if it may go ahead, else the seconds
        to wait (and the attempt is not counted)."""
        ...

    async def wait(self, name: str, rate: Rate, key: bytes | str) -> float:
        """The seconds until `key` may make one more attempt at `name` (0.0: now), counting
        nothing."""
        ...

    async def is_clear(self, name: str, rate: Rate, key: bytes | str) -> bool:
        """Whether `key` has nothing on record at `name`: no attempt, or all aged out."""
        ...


class RateLimiter:
    """One limit's buckets in this process's memory, in a bounded table: past `max_keys`,
    the key seen longest ago is forgotten."""

    def __init__(self, rate: Rate, *, max_keys: int = DEFAULT_MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = rate.per / rate.count  # time one attempt "costs"
        self.burst = rate.per - self.interval  # how far ahead of now the cost may run
        self.max_keys = max_keys
        self.clock = clock
        # key -> theoretical arrival time: when the key's bucket is full again.
        self._due: OrderedDict[bytes | str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._due)

    def wait(self, key: bytes | str) -> float:
        now = self.clock()
        return max(0.0, self._due.get(key, now) - now - self.burst)

    def is_clear(self, key: bytes | str) -> bool:
        return self._due.get(key, 0.0) <= self.clock()

    def hit(self, key: bytes | str) -> float:
        now = self.clock()
        due = max(self._due.get(key, now), now)
        wait = due - now - self.burst
        if wait > 0:
            return wait
        self._due[key] = due + self.interval
        self._due.move_to_end(key)
        while len(self._due) > self.max_keys:
            self._due.popitem(last=False)
        return 0.0


class MemoryLimits:
    """Every limit of one site in this process: a `RateLimiter` per name, made on first use."""

    def __init__(self) -> None:
        self.limiters: dict[str, RateLimiter] = {}

    def limiter(self, name: str, rate: Rate) -> RateLimiter:
        found = self.limiters.get(name)
        if found is None:
            found = self.limiters[name] = RateLimiter(rate)
        return found

    async def hit(self, name: str, rate: Rate, key: bytes | str) -> float:
        return self.limiter(name, rate).hit(key)

    async def wait(self, name: str, rate: Rate, key: bytes | str) -> float:
        return self.limiter(name, rate).wait(key)

    async def is_clear(self, name: str, rate: Rate, key: bytes | str) -> bool:
        return self.limiter(name, rate).is_clear(key)


# ARGV: operation (hit, wait, clear), interval, burst. KEYS[1]: the bucket. Times are Redis's
# own clock in seconds.
_GCRA = r"""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local interval, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local due = tonumber(redis.call('GET', KEYS[1]) or '')
if ARGV[1] == 'clear' then
  if due == nil or due <= now then return 1 end
  return 0
end
if due == nil or due < now then due = now end
local wait = due - now - burst
if ARGV[1] == 'wait' then
  if wait < 0 then wait = 0 end
  return tostring(wait)
end
if wait > 0 then return tostring(wait) end
due = due + interval
redis.call('SET', KEYS[1], string.format('%.6f', due), 'PX', math.ceil((due - now) * 1000) + 1)
return '0'
"""


class RedisLimits:
    """Every limit of a site in one Redis, shared by all its web processes. Keys:
    PREFIX `rl:` NAME `:` KEY, holding the bucket's due time, expiring with it."""

    def __init__(self, client: Any, *, prefix: str = "swarmdex:") -> None:
        self.client = client
        self.prefix = prefix.encode()
        self._script = client.register_script(_GCRA)
        self._down = False

    @classmethod
    def at(cls, url: str, *, prefix: str = "swarmdex:") -> RedisLimits:
        from redis import asyncio as aioredis  # only deployments that use it

        return cls(aioredis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0),
                   prefix=prefix)

    async def _run(self, operation: str, name: str, rate: Rate, key: bytes | str) -> Any:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        raw = key if isinstance(key, bytes) else key.encode()
        bucket = self.prefix + b"rl:" + name.encode() + b":" + raw
        interval = rate.per / rate.count
        try:
            result = await self._script(keys=[bucket],
                                        args=[operation, repr(interval), repr(rate.per - interval)])
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            if not self._down:
                self._down = True
                log.error("rate limits: Redis does not answer (%s); attempts go through", exc)
            return None
        if self._down:
            self._down = False
            log.warning("rate limits: Redis answers again")
        return result

    async def hit(self, name: str, rate: Rate, key: bytes | str) -> float:
        result = await self._run("hit", name, rate, key)
        return 0.0 if result is None else max(0.0, float(result))

    async def wait(self, name: str, rate: Rate, key: bytes | str) -> float:
        result = await self._run("wait", name, rate, key)
        return 0.0 if result is None else max(0.0, float(result))

    async def is_clear(self, name: str, rate: Rate, key: bytes | str) -> bool:
        result = await self._run("clear", name, rate, key)
        return result is None or int(result) == 1

    async def close(self) -> None:
        await self.client.aclose()

