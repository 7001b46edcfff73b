"""The one place that turns a peer store URL into a store.

    memory://                          this process's memory (the default)
    redis://HOST:6379/0                Redis, shared by every tracker node and the site
    rediss://HOST:6380/0               the same over TLS
    unix:///run/redis.sock?db=0        the same over a Unix socket
    ...?prefix=NAME:                   key prefix (default `swarmdex:`), to share one Redis

Nothing else in swarmdex names a concrete store.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from swarmdex.peerstore.base import PeerStore
from swarmdex.peerstore.memory import MemoryPeerStore

__all__ = ["PeerStoreConfigError", "display_store_url", "peer_store", "redis_location"]

REDIS_SCHEMES = ("redis", "rediss", "unix")


class PeerStoreConfigError(ValueError):
    """A peer store URL swarmdex cannot use, with a message fit for the operator."""


def display_store_url(url: str) -> str:
    """`url` fit for a log line: any password hidden."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def redis_location(url: str) -> tuple[str, str] | None:
    """(URL for redis-py, key prefix) when `url` names a Redis, else None."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in REDIS_SCHEMES:
        return None
    query = dict(parse_qsl(parts.query))
    prefix = query.pop("prefix", "swarmdex:")
    return urlunsplit(parts._replace(query=urlencode(query))), prefix


def peer_store(url: str, **options: Any) -> PeerStore:
    """The store for `url`, with the contract's options (`peer_ttl`, the limits,
    `keep_dormant`). Nothing is connected yet: `await store.open()` does that (and raises
    StoreUnavailable when a networked store does not answer). An unusable URL raises
    PeerStoreConfigError."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        if parts.netloc or parts.path not in ("", "/"):
            raise PeerStoreConfigError(f"peer_store_url {url!r}: write memory:// alone")
        options.pop("gc_every", None)
        return MemoryPeerStore(**options)
    if (location := redis_location(url)) is not None:
        from swarmdex.peerstore.redis import RedisPeerStore  # only deployments that use it

        plain, prefix = location
        try:
            return RedisPeerStore.at(plain, prefix=prefix, shown_as=display_store_url(url),
                                     **options)
        except ValueError as exc:
            raise PeerStoreConfigError(f"peer_store_url {display_store_url(url)!r}: {exc}") from None
    raise PeerStoreConfigError(
        f"peer_store_url {display_store_url(url)!r}: use memory:// or redis://HOST:PORT/DB")
