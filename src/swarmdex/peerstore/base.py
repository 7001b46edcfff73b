"""The PeerStore contract. Every backend passes `tests/contract/test_peerstore.py`.

Vocabulary
----------
* A **swarm** is keyed by a 20-byte info hash (v2 hashes arrive truncated, BEP 52).
* A **peer** is its packed endpoint: 4-byte IPv4 address + 2-byte port (6 bytes), or 16-byte
  IPv6 address + 2-byte port (18 bytes), both big endian. The length tells the family. The
  tracker builds it from the packet's source address and the announced port, never from what
  the client claims, so one endpoint is one peer whatever peer id it sends.
* Peer lists come back in compact form (BEP 23 / BEP 7): the same packed endpoints, joined.

Duties of every backend
-----------------------
1. `announce` records or refreshes the peer, then answers the swarm's counts after the
   change and up to `numwant` other peers. It never returns the announcing peer itself.
   Peers of the announcing family come first; when `other_family` is true, slots left over
   are filled from the other family (for HTTP answers with `peers6`); when it is false,
   the answer holds only the announcing family (UDP answers cannot mix families).
2. IPv4 and IPv6 peers are kept apart: a 6-byte peer is never returned in `peers6`, nor
   an 18-byte one in `peers4`.
3. `event == STOPPED` removes the peer at once and returns no peers. `seeder` (left == 0)
   may change between announces; counts follow. `event == COMPLETED` increments the
   swarm's `downloaded` once per peer: repeats from the same peer are not counted again.
4. A peer not heard from for `peer_ttl` seconds is expired: once `collect_garbage(now)` has
   run it is neither returned nor counted. Servers run it periodically, so a silent peer is
   gone shortly after `peer_ttl`. A full pass may take a while on a big store: backends
   yield to the event loop while collecting rather than stall announces.
5. A swarm nobody announced to (or that was removed) scrapes as zeros; `scrape` never
   creates swarms.
6. `remove_swarm` forgets a swarm at once (deleted or taken-down torrent).
7. When a limit is reached, `announce` raises `StoreFull` rather than growing without
   bound; a known peer's re-announce is always accepted.
8. `now` is wall-clock seconds and may step back a little (clock adjustments): a store
   must stay consistent, at worst keeping a peer somewhat longer than `peer_ttl`.
9. Announce order among returned peers is unspecified but should be random enough that
   every peer of a large swarm gets handed out.

All methods are coroutines so that a networked backend fits the same contract; the memory
backend never suspends in `announce` or `scrape`, and the servers exploit that (see `swarmdex.tracker.eager`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from swarmdex.protocol.announce import Event, SwarmCounts


class StoreFull(Exception):
    """The store reached a configured limit and refuses a new peer or swarm."""


class SwarmReply(NamedTuple):
    complete: int
    incomplete: int
    downloaded: int
    peers4: bytes
    peers6: bytes


class StoreStats(NamedTuple):
    swarms: int
    peers4: int
    peers6: int
    seeders: int
    leechers: int


class PeerStore(Protocol):
    peer_ttl: float

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
    ) -> SwarmReply: ...

    async def scrape(self, info_hashes: Sequence[bytes], now: float) -> list[SwarmCounts]: ...

    async def remove_swarm(self, info_hash: bytes) -> None: ...

    async def stats(self, now: float) -> StoreStats: ...

    async def collect_garbage(self, now: float) -> int:
        """Drop expired peers (and swarms left with nothing to remember); return how many."""
        ...

    async def close(self) -> None: ...
