"""HTTP tracker requests and answers (BEP 3, 7, 23, 48), sans IO.

Queries are parsed from the raw bytes of the request target: `info_hash` and `peer_id` are
binary, percent-encoded byte by byte, and must never pass through a text decoder. Answers
are bencoded dictionaries; the announce answer, the hot one, is formatted directly.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import unquote_to_bytes

from swarmdex.bittorrent.bencode import encode
from swarmdex.protocol.announce import (
    AnnounceRequest,
    AnnounceResponse,
    Event,
    ScrapeRequest,
    SwarmCounts,
)
from swarmdex.protocol.errors import ProtocolError

MAX_SCRAPE_HASHES = 200
# The longest request target a documented request needs: a scrape (BEP 48) of
# MAX_SCRAPE_HASHES hashes with every byte percent-encoded, behind a path with room for a
# passkey (`/scrape/KEY?`). Servers refuse longer targets, so this bounds what they buffer.
PATH_ROOM = 256
MAX_TARGET = PATH_ROOM + MAX_SCRAPE_HASHES * len("info_hash=" + "%XX" * 20 + "&")
_EVENTS = {
    b"": Event.NONE,
    b"empty": Event.NONE,
    b"paused": Event.NONE,  # BEP 21: a partial seed pausing is still in the swarm
    b"started": Event.STARTED,
    b"completed": Event.COMPLETED,
    b"stopped": Event.STOPPED,
}
_MAX_INT = (1 << 63) - 1


def split_query(query: bytes) -> dict[bytes, list[bytes]]:
    """Split `a=1&b=2&a=3` into raw, still percent-encoded values, keeping repeats in order."""
    params: dict[bytes, list[bytes]] = {}
    for part in query.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        params.setdefault(name, []).append(value)
    return params


def _first(params: dict[bytes, list[bytes]], name: bytes) -> bytes | None:
    values = params.get(name)
    return values[0] if values else None


def _binary(params: dict[bytes, list[bytes]], name: str, length: int) -> bytes:
    raw = _first(params, name.encode())
    if raw is None:
        raise ProtocolError(f"missing {name}")
    value = unquote_to_bytes(raw)
    if len(value) != length:
        raise ProtocolError(f"{name} must be {length} bytes, got {len(value)}")
    return value


def _integer(
    params: dict[bytes, list[bytes]], name: str, default: int | None = None, *, high: int = _MAX_INT
) -> int:
    raw = _first(params, name.encode())
    if raw is None or raw == b"":
        if default is None:
            raise ProtocolError(f"missing {name}")
        return default
    # isdigit() on bytes accepts ASCII digits only; int() alone would take "+5", " 5", "5_0".
    if not raw.isdigit() or len(raw) > 20:
        raise ProtocolError(f"{name} must be a non-negative integer")
    value = int(raw)
    if value > high:
        raise ProtocolError(f"{name} out of range")
    return value


def parse_announce(query: bytes) -> AnnounceRequest:
    """Read an announce query string (the part after `?`, raw bytes)."""
    params = split_query(query)
    info_hash = _binary(params, "info_hash", 20)
    peer_id = _binary(params, "peer_id", 20)
    port = _integer(params, "port", high=65535)
    if port == 0:
        raise ProtocolError("invalid port")
    event_raw = _first(params, b"event") or b""
    event = _EVENTS.get(event_raw)
    if event is None:
        raise ProtocolError("unknown event")
    numwant_raw = _first(params, b"numwant")
    # "-1" means "no preference" to some clients (it is BEP 15's value for that); anything
    # else that is not a number is the client's mistake.
    numwant = None if not numwant_raw or numwant_raw == b"-1" else _integer(params, "numwant", high=1 << 31)
    ip_raw = _first(params, b"ip")
    ip = None
    if ip_raw:
        try:
            ip = ipaddress.ip_address(unquote_to_bytes(ip_raw).decode("ascii")).packed
        except (UnicodeDecodeError, ValueError):
            ip = None  # a host name or junk: ignored like any untrusted ip=
    key_raw = _first(params, b"key")
    return AnnounceRequest(
        info_hash=info_hash,
        peer_id=peer_id,
        port=port,
        uploaded=_integer(params, "uploaded", 0),
        downloaded=_integer(params, "downloaded", 0),
        left=_integer(params, "left"),
        event=event,
        numwant=numwant,
        key=int.from_bytes(unquote_to_bytes(key_raw)[:8], "big") if key_raw else None,
        ip=ip,
        compact=_first(params, b"compact") != b"0",
        no_peer_id=_first(params, b"no_peer_id") == b"1",
    )


def parse_scrape(query: bytes) -> ScrapeRequest:
    """Read a scrape query: one or more `info_hash` (BEP 48)."""
    raw_hashes = split_query(query).get(b"info_hash", [])
    if not raw_hashes:
        raise ProtocolError("scrape needs at least one info_hash (full scrape is not offered)")
    if len(raw_hashes) > MAX_SCRAPE_HASHES:
        raise ProtocolError(f"too many info hashes (at most {MAX_SCRAPE_HASHES})")
    hashes = []
    for raw in raw_hashes:
        value = unquote_to_bytes(raw)
        if len(value) != 20:
            raise ProtocolError(f"info_hash must be 20 bytes, got {len(value)}")
        hashes.append(value)
    return ScrapeRequest(hashes)


# -- answers --------------------------------------------------------------------------------


def encode_announce(resp: AnnounceResponse) -> bytes:
    """The compact answer (BEP 23 `peers`, BEP 7 `peers6`), keys in bencode's sorted order."""
    out = b"d8:completei%de10:downloadedi%de10:incompletei%de8:intervali%de12:min intervali%de" % (
        resp.complete,
        resp.downloaded,
        resp.incomplete,
        resp.interval,
        resp.min_interval,
    )
    out += b"5:peers%d:%b6:peers6%d:%b" % (len(resp.peers4), resp.peers4, len(resp.peers6), resp.peers6)
    if resp.warning:
        warning = resp.warning.encode()
        out += b"15:warning message%d:%b" % (len(warning), warning)
    return out + b"e"


def encode_announce_dict(resp: AnnounceResponse) -> bytes:
    """The original dictionary model for clients that send `compact=0`.

    swarmdex does not keep peer ids (they would double the memory a peer costs and BEP 23
    made them optional), so entries carry `ip` and `port` only, as with `no_peer_id=1`.
    """
    peers: list[object] = []
    for blob, size in ((resp.peers4, 6), (resp.peers6, 18)):
        for i in range(0, len(blob), size):
            addr = ipaddress.ip_address(blob[i : i + size - 2])
            peers.append({"ip": str(addr), "port": int.from_bytes(blob[i + size - 2 : i + size], "big")})
    answer: dict[str, object] = {
        "complete": resp.complete,
        "downloaded": resp.downloaded,
        "incomplete": resp.incomplete,
        "interval": resp.interval,
        "min interval": resp.min_interval,
        "peers": peers,
    }
    if resp.warning:
        answer["warning message"] = resp.warning
    return encode(answer)


def encode_scrape(info_hashes: list[bytes], counts: list[SwarmCounts]) -> bytes:
    files = {
        h: {"complete": c.complete, "downloaded": c.downloaded, "incomplete": c.incomplete}
        for h, c in zip(info_hashes, counts, strict=True)
    }
    return encode({"files": files})


def encode_failure(reason: str) -> bytes:
    return encode({"failure reason": reason})


# -- client side: tests, benchmarks and tools -----------------------------------------------


def quote_bytes(value: bytes) -> str:
    """Percent-encode every byte except RFC 3986 unreserved characters."""
    safe = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    return "".join(chr(b) if b in safe else f"%{b:02X}" for b in value)


def announce_query(req: AnnounceRequest) -> str:
    parts = [
        f"info_hash={quote_bytes(req.info_hash)}",
        f"peer_id={quote_bytes(req.peer_id)}",
        f"port={req.port}",
        f"uploaded={req.uploaded}",
        f"downloaded={req.downloaded}",
        f"left={req.left}",
        f"compact={1 if req.compact else 0}",
    ]
    if req.event != Event.NONE:
        parts.append(f"event={req.event.name.lower()}")
    if req.numwant is not None:
        parts.append(f"numwant={req.numwant}")
    if req.no_peer_id:
        parts.append("no_peer_id=1")
    if req.ip is not None:
        parts.append(f"ip={ipaddress.ip_address(req.ip)}")
    return "&".join(parts)


def scrape_query(info_hashes: list[bytes]) -> str:
    return "&".join(f"info_hash={quote_bytes(h)}" for h in info_hashes)
