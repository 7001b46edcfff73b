"""How often one address may do something costly to the tracker, in a fixed amount of memory.

`Pacer` is GCRA (the "generic cell rate algorithm": a token bucket kept as one number, the
time at which the key's bucket will be full again). A key may act `burst` times at once,
then once every `per / burst` seconds; refused attempts cost nothing, so waiting always helps.

The tracker paces keys an attacker can mint in any number (address buckets, address and swarm
pairs), so the table cannot grow with them: it is a fixed array of slots indexed by the key's
hash. Python salts `hash()` of bytes per process, so nobody outside can aim at a given slot.
Two keys that share a slot share one bucket: at worst a client is paced early because a
neighbour is busy, which costs it the peers of one answer or a retry of one new torrent,
never its place in a swarm.
A slot whose time has passed reads as a full bucket, so nothing ever needs cleaning.
"""

from __future__ import annotations

import logging
import time
from array import array
from collections.abc import Hashable

DEFAULT_SLOTS = 1 << 18  # 2 MiB of doubles per pacer


def address_bucket(ip: bytes) -> bytes:
    """What counts as one address: an IPv4 address, or the /64 of an IPv6 one (a single
    machine usually has a whole /64 to pick addresses from)."""
    return ip[:8] if len(ip) == 16 else ip


class Pacer:
    __slots__ = ("_emission", "_mask", "_tat", "_tolerance", "burst", "per")

    def __init__(self, burst: int, per: float, *, slots: int = DEFAULT_SLOTS) -> None:
        if burst < 1 or per <= 0:
            raise ValueError("a pace allows at least one action in a positive time")
        if slots < 1 or slots & (slots - 1):
            raise ValueError("slots must be a power of two")
        self.burst = burst
        self.per = per
        self._emission = per / burst
        # How far ahead of now a bucket may run: `burst` emissions, and a hair more so that
        # rounding in the sum of `burst` emissions never refuses the last of a burst.
        self._tolerance = per * (1 + 1e-9)
        self._mask = slots - 1
        self._tat = array("d", bytes(8 * slots))

    def allow(self, key: Hashable, now: float) -> bool:
        """Count one action of `key` at `now` if its bucket has room; say whether it had."""
        i = hash(key) & self._mask
        tat = self._tat[i]
        if tat < now:
            tat = now
        tat += self._emission
        if tat - now > self._tolerance:
            return False
        self._tat[i] = tat
        return True


class LimitLog:
    """Tells the operator that a limit bites, without a line per request: counts by limit,
    and one summary line at most every `every` seconds. Nothing about who was limited is
    logged, only how often."""

    __slots__ = ("_counts", "_every", "_last", "_log", "_what")

    def __init__(self, log: logging.Logger, what: str, *, every: float = 60.0) -> None:
        self._log = log
        self._what = what
        self._every = every
        self._counts: dict[str, int] = {}
        self._last = -every

    def bump(self, limit: str) -> None:
        counts = self._counts
        counts[limit] = counts.get(limit, 0) + 1
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            summary = ", ".join(f"{n} x {name}" for name, n in sorted(counts.items()))
            self._log.warning("%s since the last report: %s", self._what, summary)
            counts.clear()
