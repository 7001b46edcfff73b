"""Fuzz targets: each reads one input and checks the parser's documented contract.

A target raises (an AssertionError, or the unexpected exception itself) only when the
contract is broken:

* the parser fails with its own error type and nothing else (``BencodeError``,
  ``MetainfoError``, ``MagnetError``, ``ProtocolError``): no ``IndexError``, ``struct.error``,
  ``UnicodeDecodeError`` or ``RecursionError`` escaping to the server;
* what it accepts survives a round trip through the matching encoder, which is how the
  site and the tests write these formats;
* it finishes quickly: the runner gives every input a time limit (``run.py``).

The functions are plain Python: ``run.py`` feeds them with atheris, and the corpus test
replays the kept corpus through them without it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from swarmdex.bittorrent import bencode
from swarmdex.bittorrent.magnet import MagnetError, make_magnet, parse_magnet
from swarmdex.bittorrent.metainfo import MetainfoError, parse_torrent
from swarmdex.protocol import http, passkey, udp
from swarmdex.protocol.errors import ProtocolError

CORPUS = Path(__file__).parent / "corpus"

# Inputs past these sizes are cut: larger ones only slow the fuzzer down without reaching
# new code (the real limits, such as upload_max_bytes, are enforced before the parsers).
MAX_LEN = {"bencode": 4096, "metainfo": 16384, "magnet": 2048, "udp": 2048, "http": 2048,
           "passkey": 512}


def fuzz_bencode(data: bytes) -> None:
    """Strict decoding: one canonical value per input, re-encoded byte for byte."""
    try:
        value = bencode.decode(data)
    except bencode.BencodeError:
        value = None
    if value is not None:
        # Keys out of order are accepted; once sorted, the encoding is the canonical one.
        assert bencode.decode(bencode.encode(value), require_sorted_keys=True) == value
    try:
        strict = bencode.decode(data, require_sorted_keys=True)
    except bencode.BencodeError:
        return
    assert strict == value
    assert bencode.encode(strict) == data, "a canonical input must re-encode to itself"
    if isinstance(strict, dict):
        top, spans = bencode.decode_with_spans(data)
        assert top == strict
        for key, (start, end) in spans.items():
            assert bencode.decode(data[start:end]) == top[key], key


def fuzz_metainfo(data: bytes) -> None:
    """A torrent is refused with a reason, or accepted with hashes of its exact info bytes."""
    try:
        meta = parse_torrent(data)
    except MetainfoError as exc:
        assert str(exc), "a refusal must say why"
        return
    assert meta.torrent_bytes == data
    assert meta.info_bytes in data
    if meta.info_hash_v1 is not None:
        assert meta.info_hash_v1 == hashlib.sha1(meta.info_bytes).digest()
    if meta.info_hash_v2 is not None:
        assert meta.info_hash_v2 == hashlib.sha256(meta.info_bytes).digest()
    assert meta.info_hashes, "an accepted torrent has at least one swarm"
    assert meta.total_size == sum(f.size for f in meta.files if not f.padding)
    meta.file_tree()
    # What a download serves: the site's trackers spliced in, the info bytes untouched.
    rebuilt = parse_torrent(meta.rebuild_with_trackers([["http://tracker.invalid/announce"]]))
    assert rebuilt.info_bytes == meta.info_bytes
    assert rebuilt.announce == "http://tracker.invalid/announce"
    assert (rebuilt.files, rebuilt.name) == (meta.files, meta.name)


def fuzz_magnet(data: bytes) -> None:
    """A magnet link parses or is refused with MagnetError; what parses, re-made, reads the same."""
    text = data.decode("utf-8", "replace")
    try:
        magnet = parse_magnet(text)
    except MagnetError:
        return
    again = parse_magnet(make_magnet(
        v1=magnet.v1, v2=magnet.v2, name=magnet.name, trackers=magnet.trackers,
        size=magnet.size, web_seeds=magnet.web_seeds,
    ))
    assert again == magnet, (again, magnet)


def fuzz_udp(data: bytes) -> None:
    """BEP 15 requests and replies: ProtocolError or a value the client side re-encodes."""
    try:
        request = udp.parse_request(data)
    except ProtocolError as exc:
        assert exc.replyable or len(data) < 16 or data[8:12] == b"\x00\x00\x00\x00"
        request = None
    if request is not None:
        assert udp.transaction_id(data) == request.transaction_id
        if isinstance(request, udp.ConnectRequest):
            # Bytes after the 16 of a connect are ignored, as most trackers do.
            assert udp.client_connect(request.transaction_id) == data[:16]
        elif isinstance(request, udp.UdpScrape):
            assert udp.client_scrape(request.connection_id, request.transaction_id,
                                     request.info_hashes) == data
        else:
            packet = udp.client_announce(request.connection_id, request.transaction_id,
                                         request.request, request.url_data)
            again = udp.parse_request(packet)
            assert again == request, (again, request)
            fuzz_passkey(request.url_data)  # the server reads its passkey from there
    with contextlib.suppress(ProtocolError):
        udp.parse_reply(data)


def fuzz_http(data: bytes) -> None:
    """Announce and scrape queries: ProtocolError or a request that re-encodes to itself."""
    try:
        announce = http.parse_announce(data)
    except ProtocolError:
        announce = None
    if announce is not None:
        again = http.parse_announce(http.announce_query(announce).encode())
        # The query the client side writes carries no key (swarmdex's client never sends one).
        assert again == replace(announce, key=None), (again, announce)
    try:
        scrape = http.parse_scrape(data)
    except ProtocolError:
        return
    assert http.parse_scrape(http.scrape_query(scrape.info_hashes).encode()) == scrape


def fuzz_passkey(data: bytes) -> None:
    """Tracker paths (HTTP paths, BEP 41 URL data): no passkey, or 1 to 64 ASCII letters
    and digits making the whole path's one segment after `/announce/` or `/scrape/`, which
    the log's redaction hides whole."""
    key = passkey.passkey_in_path(data)
    if key is None:
        return
    assert 0 < len(key) <= passkey.MAX_PASSKEY and key.isascii() and key.isalnum(), key
    path = data.partition(b"?")[0].decode("ascii")
    prefix = path[: -len(key)]
    assert prefix in ("/announce/", "/scrape/") and path == prefix + key, (path, key)
    assert passkey.redact_passkey(path) == prefix + "[passkey]"


TARGETS: dict[str, Callable[[bytes], None]] = {
    "bencode": fuzz_bencode,
    "metainfo": fuzz_metainfo,
    "magnet": fuzz_magnet,
    "udp": fuzz_udp,
    "http": fuzz_http,
    "passkey": fuzz_passkey,
}
