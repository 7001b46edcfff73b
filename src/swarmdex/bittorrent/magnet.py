"""Magnet links (BEP 9; BEP 52 ``urn:btmh`` for v2 hashes).

:func:`make_magnet` percent-encodes every value, so its links read back the same in
swarmdex and in libtorrent.  :func:`parse_magnet` accepts what clients produce in the wild:
hex or base32 ``btih``, numbered keys (``tr.1``, ``xt.2``) and either letter case in the
scheme, keys and URN prefixes.  ``+`` means a space in ``dn`` (as in form encoding and in
libtorrent) but is kept literally in URLs, where it is a legal character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote, unquote_to_bytes

from swarmdex.bittorrent.bencode import MAX_INTEGER
from swarmdex.bittorrent.infohash import V1_LENGTH, V2_LENGTH, InfoHash

__all__ = ["Magnet", "MagnetError", "make_magnet", "parse_magnet"]

_SCHEME: Final = "magnet:?"
# Multihash prefix of a v2 hash: 0x12 = sha2-256, 0x20 = 32 bytes.
_SHA256_MULTIHASH: Final = "1220"
_BAD_ESCAPE_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_NUMBERED_KEY_RE: Final = re.compile(r"([a-z.]+?)(?:\.[0-9]+)?")
_XL_RE: Final = re.compile(r"[0-9]{1,19}")


class MagnetError(ValueError):
    """The text is not a usable BitTorrent magnet link; the message says why."""


@dataclass(frozen=True, slots=True)
class Magnet:
    """What a magnet link says about a torrent."""

    v1: bytes | None
    """20-byte SHA-1 info hash (``xt=urn:btih:``)."""
    v2: bytes | None
    """32-byte SHA-256 info hash (``xt=urn:btmh:1220...``)."""
    name: str | None
    trackers: tuple[str, ...]
    size: int | None
    web_seeds: tuple[str, ...] = ()

    @property
    def info_hashes(self) -> tuple[InfoHash, ...]:
        """v1 first, then v2."""
        return tuple(InfoHash(digest) for digest in (self.v1, self.v2) if digest is not None)


def make_magnet(
    *,
    v1: bytes | None,
    v2: bytes | None,
    name: str | None,
    trackers: Iterable[str],
    size: int | None = None,
    web_seeds: Iterable[str] = (),
) -> str:
    """Build a magnet link for a v1, v2 or hybrid torrent (give both hashes for hybrid)."""
    if v1 is None and v2 is None:
        raise ValueError("a magnet link needs a v1 or a v2 info hash")
    params: list[tuple[str, str]] = []
    if v1 is not None:
        params.append(("xt", "urn:btih:" + _checked_digest(v1, V1_LENGTH, "v1")))
    if v2 is not None:
        params.append(
            ("xt", "urn:btmh:" + _SHA256_MULTIHASH + _checked_digest(v2, V2_LENGTH, "v2"))
        )
    if name:
        params.append(("dn", name))
    if size is not None:
        if size < 0:
            raise ValueError(f"size must not be negative, not {size}")
        params.append(("xl", str(size)))
    params.extend(("tr", url) for url in dict.fromkeys(trackers))
    params.extend(("ws", url) for url in dict.fromkeys(web_seeds))
    # Topics are plain ASCII; every reserved character in the other values is escaped.
    return _SCHEME + "&".join(
        f"{key}={value if key == 'xt' else quote(value, safe='')}" for key, value in params
    )


def _checked_digest(digest: bytes, length: int, label: str) -> str:
    if len(digest) != length:
        raise ValueError(f"a {label} info hash is {length} bytes, not {len(digest)}")
    return digest.hex()


@dataclass(slots=True)
class _Fields:
    v1: bytes | None = None
    v2: bytes | None = None
    name: str | None = None
    size: int | None = None
    trackers: list[str] = field(default_factory=list)
    web_seeds: list[str] = field(default_factory=list)


def parse_magnet(uri: str) -> Magnet:
    """Parse a magnet link; raise :class:`MagnetError` unless it names a BitTorrent info hash."""
    if uri[: len(_SCHEME)].lower() != _SCHEME:
        raise MagnetError("not a magnet link (it must start with 'magnet:?')")
    fields = _Fields()
    for param in uri[len(_SCHEME) :].split("&"):
        if param:
            _apply(fields, param)
    if fields.v1 is None and fields.v2 is None:
        raise MagnetError("magnet link has no BitTorrent info hash (xt=urn:btih: or urn:btmh:)")
    return Magnet(
        v1=fields.v1,
        v2=fields.v2,
        name=fields.name,
        trackers=tuple(dict.fromkeys(fields.trackers)),
        size=fields.size,
        web_seeds=tuple(dict.fromkeys(fields.web_seeds)),
    )


def _apply(fields: _Fields, param: str) -> None:
    raw_key, _, raw_value = param.partition("=")
    match = _NUMBERED_KEY_RE.fullmatch(raw_key.lower())
    key = match.group(1) if match else raw_key
    if key == "xt":
        _apply_exact_topic(fields, _unescape(raw_value, "xt"))
    elif key == "dn":
        fields.name = _unescape(raw_value.replace("+", " "), "dn") or None
    elif key == "xl":
        size = _unescape(raw_value, "xl")
        if not _XL_RE.fullmatch(size) or int(size) > MAX_INTEGER:
            raise MagnetError(f"magnet xl (size) must be a number of bytes, not {size!r}")
        fields.size = int(size)
    elif key in ("tr", "ws"):
        url = _unescape(raw_value, key).strip()
        target = fields.trackers if key == "tr" else fields.web_seeds
        if url:
            target.append(url)
    # Anything else (x.pe, xs, as, kt, so, ...) is none of swarmdex's business.


def _apply_exact_topic(fields: _Fields, topic: str) -> None:
    lowered = topic.lower()
    if lowered.startswith("urn:btih:"):
        fields.v1 = _merge(fields.v1, _btih(topic[9:]), "v1")
    elif lowered.startswith("urn:btmh:"):
        fields.v2 = _merge(fields.v2, _btmh(topic[9:]), "v2")
    # Other URNs (sha1, ed2k, ...) name the same content for other networks: ignored.


def _btih(text: str) -> bytes:
    try:
        if len(text) == 32:
            return InfoHash.from_base32(text).bytes
        if len(text) == 40:
            return InfoHash.from_hex(text).bytes
    except ValueError:
        pass
    raise MagnetError(f"magnet btih must be 40 hex or 32 base32 characters, not {text!r}")


def _btmh(text: str) -> bytes:
    if text[:4] != _SHA256_MULTIHASH or len(text) != 4 + 2 * V2_LENGTH:
        raise MagnetError(f"magnet btmh must be '1220' and 64 hex digits (SHA-256), not {text!r}")
    try:
        return InfoHash.from_hex(text[4:]).bytes
    except ValueError:
        raise MagnetError(f"magnet btmh is not hexadecimal: {text!r}") from None


def _merge(current: bytes | None, new: bytes, label: str) -> bytes:
    if current is not None and current != new:
        raise MagnetError(f"magnet link names two different {label} info hashes")
    return new


def _unescape(value: str, key: str) -> str:
    if _BAD_ESCAPE_RE.search(value):
        raise MagnetError(f"magnet {key} has a broken %-escape: {value!r}")
    try:
        return unquote_to_bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise MagnetError(f"magnet {key} is not valid UTF-8 once unescaped: {value!r}") from None
