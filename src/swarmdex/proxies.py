"""Which client address to believe when a request came through a reverse proxy.

Forwarding headers are only as honest as whoever set them. We honour `X-Forwarded-For`
(and the tracker's `ip=` parameter) only when the connection itself comes from an address
the operator listed as a trusted proxy, and then take the right-most address that is not
itself a trusted proxy: everything left of it was written by the client and proves nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalize(packed: bytes) -> bytes:
    """IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) become plain 4-byte IPv4."""
    if len(packed) == 16 and packed[:12] == b"\x00" * 10 + b"\xff\xff":
        return packed[12:]
    return packed


def _unmapped(net: IPNetwork) -> IPNetwork:
    """`::ffff:10.0.0.1` (as dual-stack logs show it) means the IPv4 address 10.0.0.1."""
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped and net.prefixlen >= 96:
        return ipaddress.IPv4Network((net.network_address.ipv4_mapped, net.prefixlen - 96))
    return net


class TrustedProxies:
    __slots__ = ("_exact", "_networks")

    def __init__(self, networks: Iterable[str] = ()) -> None:
        nets = [_unmapped(ipaddress.ip_network(n, strict=False)) for n in networks]
        # Single addresses are the common case: a set lookup beats walking networks.
        self._exact = {n.network_address.packed for n in nets if n.num_addresses == 1}
        self._networks: list[IPNetwork] = [n for n in nets if n.num_addresses > 1]

    def __bool__(self) -> bool:
        return bool(self._exact or self._networks)

    def trusts(self, packed: bytes) -> bool:
        if packed in self._exact:
            return True
        if not self._networks:
            return False
        addr = ipaddress.ip_address(packed)
        return any(addr in net for net in self._networks)

    def client_address(self, peer: bytes, forwarded_for: bytes | None) -> bytes:
        """The client's packed address, given the socket peer and its X-Forwarded-For."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        for item in reversed(forwarded_for.split(b",")):
            try:
                addr = normalize(ipaddress.ip_address(item.strip().decode("ascii")).packed)
            except (UnicodeDecodeError, ValueError):
                return peer  # a malformed hop: believe nothing past it
            if not self.trusts(addr):
                return addr
        return peer
