"""Announce and scrape: the tracker's rules, independent of UDP or HTTP.

Servers hand us a parsed request and the address the packet really came from; we decide
who the peer is, whether the torrent is served, how many peers to hand back, and turn the
peer store's answer into an `AnnounceResponse` for the wire encoders.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from swarmdex.peerstore.base import PeerStore, StoreFull, StoreRefused
from swarmdex.protocol.announce import AnnounceRequest, AnnounceResponse, Event, SwarmCounts
from swarmdex.protocol.errors import ProtocolError
from swarmdex.tracker.clients import ClientRules
from swarmdex.tracker.hooks import Allowlist, TakenDown
from swarmdex.tracker.ledger import Ledger
from swarmdex.tracker.members import Members

UNREGISTERED = "unregistered torrent: this tracker serves only torrents listed on its site"
FULL = StoreFull.reason
TAKEN_DOWN = "this torrent was removed following a legal notice"
TOO_MANY_CLIENTS = ("you already take part in this torrent from {limit} clients: stop one "
                    "(or wait until it goes silent) to add another")


@dataclass(frozen=True, slots=True)
class TrackerPolicy:
    """Timing and size rules. Defaults suit a public site; see Settings for each one."""

    interval: int = 1800
    # Spread re-announces over [interval, interval + jitter) so that peers that started
    # together (after a restart, say) do not keep arriving together.
    interval_jitter: int = 180
    min_interval: int = 300
    numwant_default: int = 50
    numwant_max: int = 200


@dataclass(slots=True)
class Counters:
    """What happened, for the status page and metrics. Plain ints: cheap to bump."""

    announces: int = 0
    scrapes: int = 0
    refused: int = 0


class Tracker:
    def __init__(
        self,
        store: PeerStore,
        allowlist: Allowlist,
        policy: TrackerPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rand: random.Random | None = None,
        taken_down: TakenDown | None = None,
        members: Members | None = None,
        ledger: Ledger | None = None,
        clients: ClientRules | None = None,
    ) -> None:
        self.store = store
        self.allowlist = allowlist
        # Consulted before the allowlist, in every mode: see swarmdex.takedowns.
        self.taken_down = taken_down if taken_down is not None else TakenDown()
        self.policy = policy or TrackerPolicy()
        self.clock = clock
        self.counters = Counters()
        self._random = (rand or random.Random()).random
        self._taken = self.taken_down.hashes  # the set itself: one lookup per announce
        # Private mode: only members announce and scrape, each with their passkey. None in
        # the public modes, which cost nothing for it.
        self.members = members
        # Private mode: each member's upload and download, from their announces.
        self.ledger = ledger
        self.clients = clients or ClientRules()
        # While set, every announce and scrape is refused with it as the `failure reason`
        # (the site's closed mode: swarmdex.sitemode.services.closed_reason).
        self.closed: str | None = None

    async def announce(
        self, req: AnnounceRequest, source_ip: bytes, *, max_peers: int, other_family: bool
    ) -> AnnounceResponse:
        """Record the peer at `source_ip` (packed 4 or 16 bytes) and answer it.

        `max_peers` is what the transport can carry (a UDP answer must fit one datagram);
        `other_family` asks for the other address family's peers too (HTTP `peers6`).
        """
        if self.closed is not None:
            self.counters.refused += 1
            raise ProtocolError(self.closed)
        member: int | None = None
        if self.members is not None:
            try:
                member = self.members.resolve(req.passkey, self.clock())
            except ProtocolError:
                self.counters.refused += 1
                raise
            refusal = self.clients.refusal(req.peer_id)
            if refusal is None and req.left and req.event is Event.STARTED:
                refusal = self.members.leech_refusal(member)
            if refusal is not None:
                self.counters.refused += 1
                raise ProtocolError(refusal)
        if req.info_hash in self._taken:
            self.counters.refused += 1
            raise ProtocolError(TAKEN_DOWN)
        key = self.allowlist.resolve(req.info_hash)
        if key is None:
            self.counters.refused += 1
            raise ProtocolError(UNREGISTERED)
        if (member is not None and self.ledger is not None
                and self.ledger.crowded(member, key, req.peer_id, self.clients.per_torrent)):
            self.counters.refused += 1
            raise ProtocolError(TOO_MANY_CLIENTS.format(limit=self.clients.per_torrent))
        policy = self.policy
        numwant = policy.numwant_default if req.numwant is None else req.numwant
        if numwant > policy.numwant_max:
            numwant = policy.numwant_max
        if numwant > max_peers:
            numwant = max_peers
        try:
            reply = await self.store.announce(
                key,
                source_ip + req.port.to_bytes(2, "big"),
                event=req.event,
                seeder=req.left == 0,
                numwant=numwant,
                other_family=other_family,
                now=self.clock(),
            )
        except StoreRefused as exc:
            self.counters.refused += 1
            raise ProtocolError(exc.reason) from None
        self.counters.announces += 1
        if self.ledger is not None and member is not None:
            self.ledger.record(member, key, req.peer_id, uploaded=req.uploaded,
                               downloaded=req.downloaded, left=req.left, event=req.event,
                               now=self.clock())
        interval = policy.interval + int(self._random() * policy.interval_jitter)
        return AnnounceResponse(
            interval,
            policy.min_interval,
            reply.complete,
            reply.incomplete,
            reply.downloaded,
            reply.peers4,
            reply.peers6,
        )

    async def scrape(self, info_hashes: list[bytes], passkey: str | None = None) -> list[SwarmCounts]:
        """Counts for each hash, in order; hashes the tracker does not serve read as zeros.
        Raises ProtocolError while the gate refuses, and in private mode for a passkey that
        is not a member's."""
        if self.closed is not None:
            self.counters.refused += 1
            raise ProtocolError(self.closed)
        if self.members is not None:
            try:
                self.members.resolve(passkey, self.clock())
            except ProtocolError:
                self.counters.refused += 1
                raise
        self.counters.scrapes += 1
        resolve = self.allowlist.resolve
        taken_down = self._taken
        out = [SwarmCounts() for _ in info_hashes]
        known = [(i, key) for i, h in enumerate(info_hashes)
                 if h not in taken_down and (key := resolve(h)) is not None]
        if known:
            try:
                counts = await self.store.scrape([key for _, key in known], self.clock())
            except StoreRefused as exc:
                raise ProtocolError(exc.reason) from None
            for (i, _), c in zip(known, counts, strict=True):
                out[i] = c
        return out
