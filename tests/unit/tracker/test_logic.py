"""`Tracker`: announce and scrape rules over the memory peer store, no sockets."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.protocol.announce import AnnounceRequest, AnnounceResponse, Event, SwarmCounts
from swarmdex.protocol.errors import ProtocolError
from swarmdex.tracker.hooks import ListedTorrents, OpenTracker
from swarmdex.tracker.logic import FULL, UNREGISTERED, Tracker, TrackerPolicy

T = TypeVar("T")
H1 = b"\x11" * 20
H2 = b"\x22" * 20
IP_A = bytes([10, 0, 0, 1])
IP_B = bytes([10, 0, 0, 2])
IP6 = bytes(15) + b"\x01"


def now(coro: Coroutine[Any, Any, T]) -> T:
    """Finish a coroutine that must not suspend (the servers rely on this with the memory store)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("suspended")


class Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def request(h: bytes = H1, port: int = 6881, *, left: int = 10, event: Event = Event.NONE,
            numwant: int | None = None, ip: bytes | None = None, pid: bytes = b"-XX0001-000000000000") -> AnnounceRequest:
    return AnnounceRequest(h, pid, port, 0, 0, left, event, numwant, ip=ip)


def make(policy: TrackerPolicy | None = None, *, allowlist: Any = None, rand: float = 0.5,
         clock: Clock | None = None, **store: Any) -> Tracker:
    return Tracker(MemoryPeerStore(seed=1, **store), OpenTracker() if allowlist is None else allowlist, policy,
                   clock=clock or Clock(), rand=Fixed(rand))


def announce(tracker: Tracker, req: AnnounceRequest, ip: bytes = IP_A, *, max_peers: int = 1000,
             other_family: bool = True) -> AnnounceResponse:
    return now(tracker.announce(req, ip, max_peers=max_peers, other_family=other_family))


def peers(blob: bytes, size: int = 6) -> list[bytes]:
    return [blob[i : i + size] for i in range(0, len(blob), size)]


def fill(tracker: Tracker, count: int, h: bytes = H1) -> None:
    for i in range(count):
        announce(tracker, request(h, 10_000 + i, numwant=0), IP_B)


def test_peer_is_source_address_plus_announced_port() -> None:
    tracker = make()
    announce(tracker, request(port=7000, ip=bytes([9, 9, 9, 9])), IP_A)
    answer = announce(tracker, request(port=7001), IP_B)
    assert peers(answer.peers4) == [IP_A + (7000).to_bytes(2, "big")]
    # Same source and port under another peer id is the same peer.
    again = announce(tracker, request(port=7000, pid=b"-YY0001-111111111111"), IP_A)
    assert (again.incomplete, peers(again.peers4)) == (2, [IP_B + (7001).to_bytes(2, "big")])


def test_counts_seeders_and_completions() -> None:
    tracker = make()
    assert announce(tracker, request(port=1, left=0)).complete == 1
    leech = announce(tracker, request(port=2, left=5))
    assert (leech.complete, leech.incomplete, leech.downloaded) == (1, 1, 0)
    announce(tracker, request(port=2, left=0, event=Event.COMPLETED))
    done = announce(tracker, request(port=2, left=0, event=Event.COMPLETED))
    assert (done.complete, done.incomplete, done.downloaded) == (2, 0, 1)
    stopped = announce(tracker, request(port=1, left=0, event=Event.STOPPED))
    assert (stopped.complete, stopped.peers4, stopped.peers6) == (1, b"", b"")


@pytest.mark.parametrize(("numwant", "max_peers", "expected"), [
    (None, 1000, 50),  # the default
    (7, 1000, 7),
    (0, 1000, 0),
    (10_000, 1000, 200),  # numwant_max
    (10_000, 120, 120),  # what the transport can carry
    (None, 30, 30),
])
def test_numwant_is_defaulted_and_capped(numwant: int | None, max_peers: int, expected: int) -> None:
    tracker = make()
    fill(tracker, 300)
    answer = announce(tracker, request(numwant=numwant), max_peers=max_peers)
    assert len(peers(answer.peers4)) == expected


def test_policy_numbers_are_used() -> None:
    tracker = make(TrackerPolicy(interval=100, interval_jitter=0, min_interval=42,
                                 numwant_default=3, numwant_max=5))
    fill(tracker, 10)
    answer = announce(tracker, request())
    assert (answer.interval, answer.min_interval, len(peers(answer.peers4))) == (100, 42, 3)
    assert len(peers(announce(tracker, request(numwant=9)).peers4)) == 5


@pytest.mark.parametrize(("draw", "interval"), [(0.0, 1800), (0.5, 1890), (0.999999, 1979)])
def test_interval_jitter_stays_below_interval_plus_jitter(draw: float, interval: int) -> None:
    answer = announce(make(rand=draw), request())
    assert answer.interval == interval
    assert 1800 <= answer.interval < 1800 + 180


def test_jitter_spreads_over_the_range() -> None:
    tracker = Tracker(MemoryPeerStore(), OpenTracker(), TrackerPolicy(interval=60, interval_jitter=5),
                      rand=random.Random(3))
    seen = {announce(tracker, request()).interval for _ in range(200)}
    assert seen == {60, 61, 62, 63, 64}


def test_other_family_fills_http_answers_only() -> None:
    tracker = make()
    announce(tracker, request(port=4), IP_A)
    http = announce(tracker, request(port=6), IP6, other_family=True)
    assert peers(http.peers4) == [IP_A + (4).to_bytes(2, "big")] and http.peers6 == b""
    udp = announce(tracker, request(port=6), IP6, other_family=False)
    assert (udp.peers4, udp.peers6, udp.incomplete) == (b"", b"", 2)
    v4 = announce(tracker, request(port=4), IP_A, other_family=True)
    assert peers(v4.peers6, 18) == [IP6 + (6).to_bytes(2, "big")]


def test_unregistered_torrent_is_refused_and_counted() -> None:
    listed = ListedTorrents()
    tracker = make(allowlist=listed)
    with pytest.raises(ProtocolError) as caught:
        announce(tracker, request(H1))
    assert caught.value.message == UNREGISTERED and caught.value.replyable
    assert (tracker.counters.refused, tracker.counters.announces) == (1, 0)
    assert isinstance(tracker.store, MemoryPeerStore) and tracker.store.counts() == (0, 0)
    listed.add(H1)
    announce(tracker, request(H1))
    assert (tracker.counters.refused, tracker.counters.announces) == (1, 1)


def test_full_store_is_refused_politely() -> None:
    tracker = make(max_peers=2, max_swarms=1)
    announce(tracker, request(H1, 1))
    announce(tracker, request(H1, 2))
    with pytest.raises(ProtocolError) as caught:
        announce(tracker, request(H1, 3))
    assert caught.value.message == FULL
    with pytest.raises(ProtocolError):
        announce(tracker, request(H2, 1))
    assert tracker.counters.refused == 2
    # A known peer's re-announce is still accepted.
    assert announce(tracker, request(H1, 2)).incomplete == 2


def test_hybrid_hashes_meet_in_one_swarm() -> None:
    listed = ListedTorrents()
    v2 = b"\x33" * 32
    key = listed.add(H1, v2)
    tracker = make(allowlist=listed)
    announce(tracker, request(H1, 1, left=0))
    answer = announce(tracker, request(v2[:20], 2))
    assert (answer.complete, answer.incomplete, len(peers(answer.peers4))) == (1, 1, 1)
    counts = now(tracker.scrape([H1, v2[:20], H2]))
    assert counts == [SwarmCounts(1, 1, 0), SwarmCounts(1, 1, 0), SwarmCounts(0, 0, 0)]
    assert key == H1


def test_scrape_keeps_order_counts_unknown_as_zero_and_creates_nothing() -> None:
    tracker = make()
    announce(tracker, request(H2, 1, left=0))
    counts = now(tracker.scrape([H1, H2, H1]))
    assert counts == [SwarmCounts(), SwarmCounts(1, 0, 0), SwarmCounts()]
    assert isinstance(tracker.store, MemoryPeerStore) and tracker.store.counts() == (1, 1)
    assert now(tracker.scrape([])) == []
    assert tracker.counters.scrapes == 2


def test_silent_peers_expire_on_the_tracker_clock() -> None:
    clock = Clock()
    tracker = make(clock=clock, peer_ttl=100)
    announce(tracker, request(port=1))
    clock.t += 50
    announce(tracker, request(port=2))
    clock.t += 60
    assert asyncio.run(tracker.store.collect_garbage(clock())) == 1  # it yields between shards
    assert now(tracker.scrape([H1])) == [SwarmCounts(0, 1, 0)]


def test_store_limits_are_refused_with_their_own_reason() -> None:
    tracker = make(max_peers_per_address=1)
    announce(tracker, request(port=1))
    with pytest.raises(ProtocolError, match="too many peers from your address in this torrent"):
        announce(tracker, request(port=2))
    assert tracker.counters.refused == 1
