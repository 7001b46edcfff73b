"""Backends under the PeerStore contract, and the event loop the suite drives them with.

A backend factory takes keyword arguments `peer_ttl` and the limits of duty 7 (`max_peers`,
`max_swarms`, `max_peers_per_address`, `new_swarms`; a limit not given is the backend's
default) and returns a fresh, empty store, or an awaitable that resolves to one.
The suite closes every store it makes. To run the suite against another backend, write its
factory and add it to `BACKENDS`.

The Redis backend runs against a real `redis-server` started once for the session; each
store gets a key prefix of its own, so stores never see each other's swarms.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
from collections.abc import Awaitable, Iterator
from typing import Any, Protocol, TypeVar

import pytest

from swarmdex.peerstore.base import PeerStore
from swarmdex.peerstore.memory import MemoryPeerStore
from swarmdex.peerstore.redis import RedisPeerStore
from tests.support.redis_server import RedisServer, redis_server

T = TypeVar("T")

# Long enough that nothing expires unless a test moves the clock on purpose.
PEER_TTL = 1800.0


class StoreFactory(Protocol):
    __name__: str

    def __call__(self, *, peer_ttl: float, **limits: Any) -> PeerStore | Awaitable[PeerStore]: ...


class Run(Protocol):
    """Runs one awaitable to completion on the test's event loop and returns its result."""

    def __call__(self, awaitable: Awaitable[T], /) -> T: ...


class MakeStore(Protocol):
    def __call__(self, *, peer_ttl: float = PEER_TTL, **limits: Any) -> PeerStore: ...


def memory(*, peer_ttl: float, **limits: Any) -> PeerStore:
    return MemoryPeerStore(peer_ttl=peer_ttl, **limits)


def on_redis(server: RedisServer, *, pipelined: bool = True) -> StoreFactory:
    async def redis(*, peer_ttl: float, **limits: Any) -> PeerStore:
        prefix = f"test-{secrets.token_hex(6)}:"
        store = await RedisPeerStore.connect(server.url, prefix=prefix, peer_ttl=peer_ttl,
                                             **limits)
        if not pipelined:  # as over TLS (rediss://), where announces go through redis-py
            store.use_pipeline(None)
        return store

    return redis


BACKENDS = ["memory", "redis", "redis-py"]


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> StoreFactory:
    if request.param in ("redis", "redis-py"):
        return on_redis(request.getfixturevalue("redis"), pipelined=request.param == "redis")
    return memory


@pytest.fixture
def run() -> Iterator[Run]:
    """One event loop per test: networked backends bind their connections to the loop."""
    loop = asyncio.new_event_loop()

    def run(awaitable: Awaitable[T], /) -> T:
        return loop.run_until_complete(_as_coroutine(awaitable))

    try:
        yield run
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


@pytest.fixture
def make_store(backend: StoreFactory, run: Run) -> Iterator[MakeStore]:
    """Builds stores of the backend under test; closes them all when the test ends."""
    made: list[PeerStore] = []

    def make(*, peer_ttl: float = PEER_TTL, **limits: Any) -> PeerStore:
        store = backend(peer_ttl=peer_ttl, **{k: v for k, v in limits.items() if v is not None})
        if inspect.isawaitable(store):
            store = run(store)
        made.append(store)
        return store

    yield make
    for store in made:
        run(store.close())


@pytest.fixture
def store(make_store: MakeStore) -> PeerStore:
    return make_store()
