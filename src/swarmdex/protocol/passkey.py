"""Passkeys in tracker request paths (private mode), sans IO.

A member's announce URL carries their passkey as the path segment after `announce`:

    http(s)://HOST/announce/KEY     HTTP announce; the request target's path is /announce/KEY
    http(s)://HOST/scrape/KEY       its scrape: clients derive the scrape URL by replacing the
                                    last "announce" of the path with "scrape" (BEP 48)
    udp://HOST:PORT/announce/KEY    UDP announce: BEP 15 has no path, so the client sends the
                                    URL's path and query as BEP 41 URL data (options of type 2
                                    after the 98 bytes of the announce, concatenated), which
                                    `udp.parse_announce` returns as `UdpAnnounce.url_data`

BEP 41 defines URL data for announces only: a UDP scrape carries no path, so no passkey.

Here a passkey is any one segment of 1 to 64 ASCII letters and digits (swarmdex makes 32
lowercase hex digits; a longer or different one may come later). Whether it is a member's is
the tracker's question, not the parser's. Every other path (no segment, more than one, an
empty or overlong one, a character outside [A-Za-z0-9], percent-encoding included) has no
passkey, so that private mode refuses it with the same words as an unknown passkey.
"""

from __future__ import annotations

__all__ = ["MAX_PASSKEY", "passkey_in_path", "redact_passkey"]

MAX_PASSKEY = 64
_PREFIXES = (b"/announce/", b"/scrape/")
_TEXT_PREFIXES = tuple(p.decode() for p in _PREFIXES)


def passkey_in_path(path: bytes) -> str | None:
    """The passkey of a tracker request path, or None.

    `path` is raw bytes as the wire gives them: an HTTP request target's path, or BEP 41 URL
    data, where a query may follow (`/announce/KEY?x=y`: the query is not looked at).
    """
    path = path.partition(b"?")[0]
    for prefix in _PREFIXES:
        if path.startswith(prefix):
            key = path[len(prefix) :]
            # bytes.isalnum() is ASCII only: no other alphabet's letters or digits get in.
            if 0 < len(key) <= MAX_PASSKEY and key.isalnum():
                return key.decode("ascii")
            return None
    return None


def redact_passkey(path: str) -> str:
    """`path` fit for a log: what follows `/announce/` or `/scrape/` (a passkey, or what a
    client meant as one) is replaced by `[passkey]`. Passkeys are never written down."""
    for prefix in _TEXT_PREFIXES:
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix + "[passkey]"
    return path
