"""Truncated client addresses: the only form an address is ever written in."""

from __future__ import annotations

import ipaddress
from typing import Final

__all__ = ["IPV4_PREFIX", "IPV6_PREFIX", "truncate_ip"]

IPV4_PREFIX: Final = 24
IPV6_PREFIX: Final = 48


def truncate_ip(address: str | bytes) -> str:
    """The network an address belongs to, as an address: 203.0.113.77 -> 203.0.113.0,
    2001:db8:1:2::5 -> 2001:db8:1::. IPv4-mapped IPv6 (::ffff:203.0.113.77) counts as the
    IPv4 address it carries. Accepts text or packed 4/16 bytes; anything else gives "-"."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0] if isinstance(address, str) else address)
    except ValueError:
        return "-"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network((ip, prefix), strict=False).network_address)
