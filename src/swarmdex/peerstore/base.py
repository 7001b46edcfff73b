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
   `totals` answers (swarms, peers) held now, cheaply enough for every home page view
   (no walk over the store); `stats` may walk it.
7. Limits. A known peer's re-announce is always accepted; only growth is limited.
   a. A swarm holds at most `max_peers_per_address` peers from one address bucket (an IPv4
      address, an IPv6 /64: `swarmdex.peerstore.pacing.address_bucket`); one more raises
      `AddressFull`. Several clients behind one NAT are normal, thousands are pollution.
   b. One address bucket creates at most `new_swarms` (a `Rate`) new swarms; past it
      `announce` raises `NewSwarmsPaced` and creates nothing.
   c. When `max_swarms` or `max_peers` is reached, `announce` makes room by evicting the
      least useful swarms: those with at most one peer (or none, kept for their
      `downloaded` figure), the oldest first, never the swarm being announced to. It
      raises `StoreFull` only when it finds none to evict among those it looks at.
   d. With `min_interval`, a known peer announcing again sooner than that after its
      previous announce gets no peers; the announce still counts (events, seeder changes,
      its refreshed time). With `new_peer_lists` (a `Rate`), peers new to a swarm get peers
      at most that often per address bucket and swarm, so fresh ports of one address cannot
      stand in for early re-announces.
8. `now` is wall-clock seconds and may step back a little (clock adjustments): a store
   must stay consistent, at worst keeping a peer somewhat longer than `peer_ttl`.
9. Announce order among returned peers is unspecified but should be random enough that
   every peer of a large swarm gets handed out.

10. `publish_counters` and `summed_counters` let the site show whole-tracker figures when
    several tracker nodes share the store: each node publishes its own totals, a node that
    stopped publishing drops out after `ttl`.

A networked backend raises `StoreUnavailable` from any method when its server does not
answer, and works again by itself once it does.

All methods are coroutines so that a networked backend fits the same contract; the memory
backend never suspends in `announce` or `scrape`, and the servers exploit that (see `swarmdex.tracker.eager`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

from swarmdex.protocol.announce import Event, SwarmCounts


class StoreRefused(Exception):
    """The store cannot do what was asked; `reason` is worded for the client (a tracker's
    `failure reason`)."""

    reason = "tracker temporarily unavailable"


class StoreUnavailable(StoreRefused):
    """A networked store does not answer (Redis down or unreachable). Nothing was changed
    that the caller can count on; the next call tries again."""


class StoreFull(StoreRefused):
    """The store reached a configured limit and refuses a new peer or swarm."""

    reason = "tracker is at capacity, try again later"


class AddressFull(StoreFull):
    """The swarm already holds as many peers from this address as it takes (duty 7a)."""

    reason = "too many peers from your address in this torrent"


class NewSwarmsPaced(StoreFull):
    """This address started too many new swarms lately (duty 7b)."""

    reason = "too many new torrents from your address, try again later"


class Rate(NamedTuple):
    """`burst` actions at once, then `burst` per `per` seconds."""

    burst: int
    per: float


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
    # What of the store's own configuration writes peers to disk, known after `open`
    # (a Redis with `save` or `appendonly`); empty when nothing does.
    persists: list[str]

    async def open(self) -> None:
        """Connect and check, before the first call; raises StoreUnavailable when a
        networked store does not answer."""
        ...

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

    async def totals(self) -> tuple[int, int]:
        """(swarms, peers) held now, without walking the store (duty 6)."""
        ...

    async def collect_garbage(self, now: float) -> int:
        """Drop expired peers (and swarms left with nothing to remember); return how many."""
        ...

    async def publish_counters(self, node: str, counters: Mapping[str, int], ttl: float) -> None:
        """Publish tracker node `node`'s running totals (announces, scrapes...), replacing
        its previous ones; they count for `ttl` seconds unless published again (duty 10)."""
        ...

    async def summed_counters(self) -> dict[str, int]:
        """Every live node's latest published counters, added up by name (duty 10)."""
        ...

    async def close(self) -> None: ...
