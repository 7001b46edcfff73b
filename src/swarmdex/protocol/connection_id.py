"""Stateless, expiring UDP connection ids (BEP 15).

A connection id proves that the client can receive packets at its source address, so a forged
source cannot make us send peer lists at a victim. Instead of remembering ids, we derive them:

    id = slot (2 bytes, big endian) || MAC(key, slot || address)[:6]

The address is the client's packed IP without its port, as BEP 15 intends: clients such as
libtorrent share one connection id among all their sockets.

where `slot` counts seconds. On announce we rebuild the full slot from the 16 bits the id
carries and the current time, refuse ids older than `lifetime`, and compare MACs in constant
time. Nothing is stored per client, so a flood of connects costs no memory.
"""

from __future__ import annotations

import hashlib
import hmac

_WRAP = 1 << 16


class ConnectionIds:
    """Issue and check connection ids for one secret key.

    BEP 15 lets a client use an id for one minute; we accept it for `lifetime` seconds
    (default two minutes) to absorb clock edges and slow retries.
    """

    __slots__ = ("_base", "lifetime")

    def __init__(self, key: bytes, *, lifetime: int = 120) -> None:
        if not 16 <= len(key) <= 64:
            raise ValueError("connection id key must be 16 to 64 bytes")
        if not 0 < lifetime < _WRAP // 2:
            raise ValueError("lifetime out of range")
        # A keyed BLAKE2b state copied per use is cheaper than re-keying every time.
        self._base = hashlib.blake2b(key=key, digest_size=6, person=b"swarmdex-cid")
        self.lifetime = lifetime

    def _mac(self, slot: int, address: bytes) -> bytes:
        h = self._base.copy()
        h.update(slot.to_bytes(8, "big") + address)
        return h.digest()

    def issue(self, address: bytes, now: float) -> bytes:
        """A fresh id for `address` (the packed source IP)."""
        slot = int(now)
        return (slot % _WRAP).to_bytes(2, "big") + self._mac(slot, address)

    def check(self, connection_id: bytes, address: bytes, now: float) -> bool:
        """True if `connection_id` was issued to `address` within the last `lifetime` s."""
        # Every announce pays for this check: it is written out inline on purpose.
        if len(connection_id) != 8:
            return False
        current = int(now)
        age = (current - ((connection_id[0] << 8) | connection_id[1])) & 0xFFFF
        if age > self.lifetime or age > current:
            return False
        h = self._base.copy()
        h.update((current - age).to_bytes(8, "big") + address)
        return hmac.compare_digest(connection_id[2:], h.digest())
