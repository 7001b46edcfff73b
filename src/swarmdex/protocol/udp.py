"""BEP 15 UDP tracker packets, with BEP 41 URL data. Server and client sides, sans IO.

Requests (client -> tracker), big endian:
    connect   protocol_id:8 action=0:4 transaction_id:4                       (16 bytes)
    announce  connection_id:8 action=1:4 transaction_id:4 info_hash:20 peer_id:20
              downloaded:8 left:8 uploaded:8 event:4 ip:4 key:4 num_want:4 port:2
              [BEP 41 options]                                                (98+ bytes)
    scrape    connection_id:8 action=2:4 transaction_id:4 info_hash:20 * n
Responses (tracker -> client):
    connect   action=0:4 transaction_id:4 connection_id:8
    announce  action=1:4 transaction_id:4 interval:4 leechers:4 seeders:4 peers (6 or 18 each)
    scrape    action=2:4 transaction_id:4 (seeders:4 completed:4 leechers:4) * n
    error     action=3:4 transaction_id:4 message
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from swarmdex.protocol.announce import AnnounceRequest, Event, SwarmCounts
from swarmdex.protocol.errors import ProtocolError

PROTOCOL_ID = 0x41727101980
CONNECT, ANNOUNCE, SCRAPE, ERROR = 0, 1, 2, 3

# A scrape packet of 74 hashes is the most that fits the usual Ethernet MTU; BEP 15 says so.
MAX_SCRAPE_HASHES = 74
# BEP 41 URL data is made of options of at most 255 bytes; a path longer than this is abuse.
MAX_URL_DATA = 1024

_HEADER = struct.Struct(">QII")  # connection_id or protocol_id, action, transaction_id
_ANNOUNCE = struct.Struct(">QII20s20sQQQIIIiH")
_ANNOUNCE_BODY = struct.Struct(">12xI20s20sQQQIIIiH")  # the same, minus what we slice off
_REPLY_HEAD = struct.Struct(">II")
_ANNOUNCE_REPLY = struct.Struct(">IIIII")
_CONNECT_REPLY = struct.Struct(">II8s")
_COUNTS = struct.Struct(">III")
_EVENTS = (Event.NONE, Event.COMPLETED, Event.STARTED, Event.STOPPED)


@dataclass(slots=True)
class ConnectRequest:
    transaction_id: int


@dataclass(slots=True)
class UdpAnnounce:
    connection_id: bytes
    transaction_id: int
    request: AnnounceRequest
    url_data: bytes = b""


@dataclass(slots=True)
class UdpScrape:
    connection_id: bytes
    transaction_id: int
    info_hashes: list[bytes]


UdpRequest = ConnectRequest | UdpAnnounce | UdpScrape


def transaction_id(packet: bytes) -> int | None:
    """The transaction id of a request, if the packet is long enough to carry one."""
    if len(packet) < 16:
        return None
    return int.from_bytes(packet[12:16], "big")


def parse_request(packet: bytes) -> UdpRequest:
    """Read one client packet. Raises ProtocolError; `replyable` is False below 16 bytes."""
    if len(packet) < 16:
        raise ProtocolError("packet too short", replyable=False)
    head, action, txid = _HEADER.unpack_from(packet)
    if action == ANNOUNCE:
        return parse_announce(packet)
    if action == CONNECT:
        if head != PROTOCOL_ID:
            # Not a BEP 15 client (or garbage): answering could reflect traffic at a victim.
            raise ProtocolError("bad protocol id", replyable=False)
        return ConnectRequest(txid)
    if action == SCRAPE:
        body = len(packet) - 16
        if body == 0 or body % 20:
            raise ProtocolError("scrape needs whole 20-byte info hashes")
        count = body // 20
        if count > MAX_SCRAPE_HASHES:
            raise ProtocolError(f"too many info hashes (at most {MAX_SCRAPE_HASHES})")
        hashes = [packet[i : i + 20] for i in range(16, len(packet), 20)]
        return UdpScrape(packet[:8], txid, hashes)
    raise ProtocolError("unknown action")


def parse_announce(packet: bytes) -> UdpAnnounce:
    if len(packet) < 16:
        raise ProtocolError("packet too short", replyable=False)
    if len(packet) < _ANNOUNCE.size:
        raise ProtocolError("announce packet too short")
    (txid, info_hash, peer_id, downloaded, left, uploaded, event, ip, key, num_want,
     port) = _ANNOUNCE_BODY.unpack_from(packet)
    if event > 3:
        raise ProtocolError("unknown event")
    if port == 0:
        raise ProtocolError("invalid port")
    url_data = _parse_options(packet, _ANNOUNCE.size) if len(packet) > _ANNOUNCE.size else b""
    request = AnnounceRequest(
        info_hash,
        peer_id,
        port,
        uploaded,
        downloaded,
        left,
        _EVENTS[event],
        None if num_want < 0 else num_want,
        key,
        ip.to_bytes(4, "big") if ip else None,
    )
    return UdpAnnounce(packet[:8], txid, request, url_data)


def _parse_options(packet: bytes, pos: int) -> bytes:
    """Concatenate BEP 41 URL data options (the path and query of the announce URL)."""
    url = bytearray()
    end = len(packet)
    while pos < end:
        kind = packet[pos]
        if kind == 0:  # end of options
            break
        if kind == 1:  # no-op
            pos += 1
            continue
        if kind != 2 or pos + 1 >= end:
            # Unknown options cannot be skipped safely (BEP 41 gives them no common length).
            break
        length = packet[pos + 1]
        chunk = packet[pos + 2 : pos + 2 + length]
        if len(chunk) != length:
            raise ProtocolError("truncated URL data option")
        url += chunk
        if len(url) > MAX_URL_DATA:
            raise ProtocolError("URL data too long")
        pos += 2 + length
    return bytes(url)


# -- tracker side: encoding answers ---------------------------------------------------------


def encode_connect(txid: int, connection_id: bytes) -> bytes:
    return _CONNECT_REPLY.pack(CONNECT, txid, connection_id)


def encode_announce(txid: int, interval: int, leechers: int, seeders: int, peers: bytes) -> bytes:
    return _ANNOUNCE_REPLY.pack(ANNOUNCE, txid, interval, leechers, seeders) + peers


def encode_scrape(txid: int, counts: list[SwarmCounts]) -> bytes:
    out = bytearray(_REPLY_HEAD.pack(SCRAPE, txid))
    for c in counts:
        out += _COUNTS.pack(c.complete, c.downloaded, c.incomplete)
    return bytes(out)


def encode_error(txid: int, message: str, *, limit: int | None = None) -> bytes:
    """An error packet; with `limit`, the message is cut (between characters) so that the
    packet is at most `limit` bytes, header included."""
    text = message.encode("utf-8", "replace")
    if limit is not None and len(text) > limit - _REPLY_HEAD.size:
        text = text[: max(limit - _REPLY_HEAD.size, 0)].decode("utf-8", "ignore").encode()
    return _REPLY_HEAD.pack(ERROR, txid) + text


def reject(packet: bytes, message: str) -> bytes | None:
    """The error answering a packet whose sender has not proved its address (no valid
    connection id yet), or None when it carries no transaction id to answer to.

    UDP source addresses can be forged, so such an answer may land on a victim: it is never
    larger than the packet, or we would amplify an attack. The message is cut to fit; a
    client that gets `connection id expired or inv` still learns enough to reconnect.
    """
    txid = transaction_id(packet)
    if txid is None:
        return None
    return encode_error(txid, message, limit=len(packet))


# -- client side: used by tests, benchmarks and tools ---------------------------------------


def client_connect(txid: int) -> bytes:
    return _HEADER.pack(PROTOCOL_ID, CONNECT, txid)


def client_announce(
    connection_id: bytes, txid: int, req: AnnounceRequest, url_data: bytes = b""
) -> bytes:
    packet = _ANNOUNCE.pack(
        int.from_bytes(connection_id, "big"),
        ANNOUNCE,
        txid,
        req.info_hash,
        req.peer_id,
        req.downloaded,
        req.left,
        req.uploaded,
        int(req.event),
        int.from_bytes(req.ip, "big") if req.ip else 0,
        req.key or 0,
        -1 if req.numwant is None else req.numwant,
        req.port,
    )
    if not url_data:
        return packet
    options = bytearray()
    for i in range(0, len(url_data), 255):
        chunk = url_data[i : i + 255]
        options += bytes((2, len(chunk))) + chunk
    return packet + bytes(options) + b"\x00"


def client_scrape(connection_id: bytes, txid: int, info_hashes: list[bytes]) -> bytes:
    return _HEADER.pack(int.from_bytes(connection_id, "big"), SCRAPE, txid) + b"".join(info_hashes)


@dataclass(slots=True)
class AnnounceReply:
    transaction_id: int
    interval: int
    leechers: int
    seeders: int
    peers: bytes


@dataclass(slots=True)
class ScrapeReply:
    transaction_id: int
    counts: list[SwarmCounts]


@dataclass(slots=True)
class ConnectReply:
    transaction_id: int
    connection_id: bytes


@dataclass(slots=True)
class ErrorReply:
    transaction_id: int
    message: str


UdpReply = ConnectReply | AnnounceReply | ScrapeReply | ErrorReply


def parse_reply(packet: bytes) -> UdpReply:
    """Read a tracker's answer (the client side of the protocol)."""
    if len(packet) < 8:
        raise ProtocolError("reply too short")
    action, txid = _REPLY_HEAD.unpack_from(packet)
    if action == CONNECT:
        if len(packet) != 16:
            raise ProtocolError("bad connect reply length")
        return ConnectReply(txid, packet[8:16])
    if action == ANNOUNCE:
        if len(packet) < 20:
            raise ProtocolError("announce reply too short")
        _, _, interval, leechers, seeders = _ANNOUNCE_REPLY.unpack_from(packet)
        return AnnounceReply(txid, interval, leechers, seeders, packet[20:])
    if action == SCRAPE:
        if (len(packet) - 8) % 12:
            raise ProtocolError("bad scrape reply length")
        counts = [
            SwarmCounts(complete=s, incomplete=lc, downloaded=d)
            for s, d, lc in _COUNTS.iter_unpack(packet[8:])
        ]
        return ScrapeReply(txid, counts)
    if action == ERROR:
        return ErrorReply(txid, packet[8:].decode("utf-8", "replace"))
    raise ProtocolError("unknown action in reply")
