"""Identifiers of the BitTorrent wire: info hashes (BEP 3, BEP 52) and peer ids."""

from __future__ import annotations

import binascii
import builtins
import re
from base64 import b32decode
from typing import Final

from swarmdex.bittorrent.bencode import BytesLike

__all__ = ["V1_LENGTH", "V2_LENGTH", "InfoHash", "PeerId"]

V1_LENGTH: Final = 20  # SHA-1 of the info dictionary
V2_LENGTH: Final = 32  # SHA-256 of the info dictionary
PEER_ID_LENGTH: Final = 20

_HEX_RE: Final = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_BASE32_RE: Final = re.compile(r"[A-Za-z2-7]{32}")
# Azureus-style peer id prefix, e.g. "-qB4520-", "-TR4050-", "-lt20B0-".
_AZUREUS_RE: Final = re.compile(rb"-([A-Za-z~][A-Za-z0-9~])([A-Za-z0-9.]{4})-")


class InfoHash:
    """The identity of a torrent: a v1 (20-byte SHA-1) or v2 (32-byte SHA-256) digest.

    Immutable and hashable, so it can key dictionaries.  A hybrid torrent has one of each;
    they are two different swarms as far as a tracker is concerned.
    """

    __slots__ = ("_digest",)
    _digest: bytes

    def __init__(self, digest: BytesLike) -> None:
        digest = bytes(digest)
        if len(digest) not in (V1_LENGTH, V2_LENGTH):
            raise ValueError(
                f"an info hash is {V1_LENGTH} (v1) or {V2_LENGTH} (v2) bytes, not {len(digest)}"
            )
        object.__setattr__(self, "_digest", digest)

    @classmethod
    def from_hex(cls, text: str) -> InfoHash:
        """Parse 40 (v1) or 64 (v2) hexadecimal digits, in either case."""
        if not _HEX_RE.fullmatch(text):
            raise ValueError(f"not a 40- or 64-digit hexadecimal info hash: {text!r}")
        return cls(bytes.fromhex(text))

    @classmethod
    def from_base32(cls, text: str) -> InfoHash:
        """Parse the 32-character base32 form that some magnet links use for v1 hashes."""
        if not _BASE32_RE.fullmatch(text):
            raise ValueError(f"not a 32-character base32 info hash: {text!r}")
        try:
            return cls(b32decode(text.upper()))
        except binascii.Error as exc:  # pragma: no cover - the pattern already excludes this
            raise ValueError(f"not a base32 info hash: {text!r}") from exc

    @property
    def bytes(self) -> builtins.bytes:
        """The raw digest."""
        return self._digest

    @property
    def version(self) -> int:
        """1 for SHA-1 (BEP 3) hashes, 2 for SHA-256 (BEP 52) hashes."""
        return 1 if len(self._digest) == V1_LENGTH else 2

    @property
    def hex(self) -> str:
        """Lower-case hexadecimal digest."""
        return self._digest.hex()

    @property
    def truncated(self) -> builtins.bytes:
        """The 20 bytes a tracker sees: BEP 52 peers announce v2 hashes cut to 20 bytes.

        For a v1 hash this is the whole digest.
        """
        return self._digest[:V1_LENGTH]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("InfoHash is immutable")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, InfoHash):
            return self._digest == other._digest
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._digest)

    def __bytes__(self) -> builtins.bytes:
        return self._digest

    def __str__(self) -> str:
        return self.hex

    def __repr__(self) -> str:
        return f"InfoHash.from_hex({self.hex!r})"


class PeerId:
    """A peer's self-chosen 20-byte id, with the client name encoded by most clients."""

    __slots__ = ("_raw",)
    _raw: bytes

    def __init__(self, raw: BytesLike) -> None:
        raw = bytes(raw)
        if len(raw) != PEER_ID_LENGTH:
            raise ValueError(f"a peer id is {PEER_ID_LENGTH} bytes, not {len(raw)}")
        object.__setattr__(self, "_raw", raw)

    @property
    def bytes(self) -> builtins.bytes:
        return self._raw

    @property
    def client(self) -> tuple[str, str] | None:
        """``(client code, version)`` from an Azureus-style prefix such as ``-qB4520-``.

        Returns ``("qB", "4520")`` for that example and ``None`` for ids that do not follow
        the convention.  The version is left as the client wrote it because its encoding
        differs between clients.
        """
        match = _AZUREUS_RE.match(self._raw)
        if match is None:
            return None
        return match.group(1).decode("ascii"), match.group(2).decode("ascii")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PeerId is immutable")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PeerId):
            return self._raw == other._raw
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._raw)

    def __bytes__(self) -> builtins.bytes:
        return self._raw

    def __repr__(self) -> str:
        return f"PeerId({self._raw!r})"
