"""Connection counts of the HTTP port: caps per address bucket and in all, and deadlines."""

from __future__ import annotations

import ipaddress

from swarmdex.proxies import TrustedProxies
from swarmdex.tracker.connlimits import ConnectionCounts, HttpLimits


def ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def test_ipv6_addresses_of_one_slash_64_share_a_cap() -> None:
    counts = ConnectionCounts(HttpLimits(per_address=2), TrustedProxies())
    assert counts.admit(ip("2001:db8:1:2::1")) and counts.admit(ip("2001:db8:1:2::ffff"))
    assert not counts.admit(ip("2001:db8:1:2:ffff::9"))  # same /64
    assert counts.admit(ip("2001:db8:1:3::1"))  # the next /64
    counts.release(ip("2001:db8:1:2::1"))
    assert counts.admit(ip("2001:db8:1:2::abcd"))
    assert counts.total == 3


def test_the_cap_in_all_holds_whatever_the_addresses() -> None:
    counts = ConnectionCounts(HttpLimits(max_connections=3, per_address=10), TrustedProxies())
    assert all(counts.admit(ip(f"192.0.2.{i}")) for i in range(3))
    assert not counts.admit(ip("198.51.100.1"))
    assert not counts.admit(ip("127.0.0.1"))
    counts.release(ip("192.0.2.0"))
    assert counts.admit(ip("198.51.100.1"))


def test_trusted_proxies_count_in_all_but_have_no_cap_of_their_own() -> None:
    counts = ConnectionCounts(HttpLimits(max_connections=5, per_address=1),
                              TrustedProxies(["10.0.0.0/8"]))
    assert all(counts.admit(ip("10.1.2.3")) for _ in range(5))
    assert not counts.admit(ip("10.1.2.3"))  # the cap in all still holds


def test_deadlines() -> None:
    limits = HttpLimits(head_timeout=20, body_grace=10, body_min_rate=500)
    assert not limits.head_overdue(None, 1000.0)
    assert not limits.head_overdue(100.0, 120.0) and limits.head_overdue(100.0, 120.1)
    assert not limits.body_overdue(None, 0, 1000.0)
    assert not limits.body_overdue(100.0, 0, 110.0)  # within the grace, nothing needed
    assert limits.body_overdue(100.0, 0, 110.5)  # stalled past it
    assert not limits.body_overdue(100.0, 5000, 120.0)  # 500 bytes a second for 10 s
    assert limits.body_overdue(100.0, 4999, 120.0)
