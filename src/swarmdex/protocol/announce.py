"""The announce and scrape vocabulary shared by the UDP and HTTP wire formats."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Event(IntEnum):
    """Announce events, numbered as BEP 15 numbers them (HTTP maps its words onto these)."""

    NONE = 0
    COMPLETED = 1
    STARTED = 2
    STOPPED = 3


@dataclass(slots=True)
class AnnounceRequest:
    """One announce, as the client sent it. Nothing here is trusted yet.

    `info_hash` is always 20 bytes: v2 torrents announce their SHA-256 hash truncated
    (BEP 52). `numwant` is None when the client did not say (or said -1 over UDP).
    `ip` is the address the client claims (HTTP `ip=`, UDP field), packed 4 or 16 bytes;
    the tracker ignores it unless the request came through a trusted proxy.
    """

    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int
    downloaded: int
    left: int
    event: Event
    numwant: int | None
    key: int | None = None
    ip: bytes | None = None
    compact: bool = True
    no_peer_id: bool = False
    passkey: str | None = None


@dataclass(slots=True)
class ScrapeRequest:
    info_hashes: list[bytes]


@dataclass(slots=True)
class SwarmCounts:
    """What a scrape reports for one torrent."""

    complete: int = 0
    incomplete: int = 0
    downloaded: int = 0


@dataclass(slots=True)
class AnnounceResponse:
    """The tracker's answer. `peers4` and `peers6` are compact lists (6 and 18 bytes a peer)."""

    interval: int
    min_interval: int
    complete: int
    incomplete: int
    downloaded: int
    peers4: bytes
    peers6: bytes
    warning: str | None = None
