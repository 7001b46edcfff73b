""".torrent files built to be costly to read, for the upload abuse tests and bench/upload_stall.py.

Each is a valid bencoding problem the site must settle without holding up anything else:
a huge, deep file listing that is a real torrent; a small real torrent carrying megabytes
of junk under an ignored top-level key; a file that is one endless integer.
"""

from __future__ import annotations

import hashlib
from typing import Final

from swarmdex.bittorrent.bencode import encode

PIECE: Final = 16_384


def _pieces(total: int, seed: bytes) -> bytes:
    count = -(-total // PIECE)
    return b"".join(hashlib.sha1(seed + i.to_bytes(4, "big")).digest() for i in range(count))


def small_torrent(name: str = "small", *, seed: bytes = b"") -> dict[bytes, object]:
    """A valid single-file v1 torrent, decoded (add keys, then `encode` it)."""
    info = {
        b"length": 1000,
        b"name": name.encode(),
        b"piece length": PIECE,
        b"pieces": _pieces(1000, seed + name.encode()),
    }
    return {b"info": info}


def deep_listing(files: int, depth: int, *, name: str = "deep", seed: bytes = b"") -> bytes:
    """A valid v1 torrent of `files` one-byte files, each `depth` components deep.

    60,000 files at depth 32 make about 10 MB: the most a default site accepts in bytes.
    """
    dirs = [f"d{level % 10}".encode() for level in range(depth - 1)]
    listing = [{b"length": 1, b"path": [*dirs, f"f{i}".encode()]} for i in range(files)]
    info = {
        b"files": listing,
        b"name": name.encode(),
        b"piece length": PIECE,
        b"pieces": _pieces(files, seed + name.encode()),
    }
    return encode({b"info": info})


def junk_key(megabytes: float, *, name: str = "junk", seed: bytes = b"", item: bytes = b"i1e") -> bytes:
    """A valid small torrent with `megabytes` MB of tiny list items (`item`, e.g. b"le" for
    the costliest per byte) under an unknown top-level key: ignored by clients, yet every
    item must be decoded."""
    items = int(megabytes * 1_000_000) // len(item)
    top = small_torrent(name, seed=seed)
    head = encode(top)[:-1]  # without the closing "e": the junk key sorts after "info"
    return head + b"6:x-junkl" + item * items + b"ee"


def unterminated_integer(megabytes: float) -> bytes:
    """`megabytes` MB of one integer that never ends: refused, however it is read."""
    return b"d4:infoi" + b"7" * int(megabytes * 1_000_000)
