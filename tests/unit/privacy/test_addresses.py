"""truncate_ip: the only form in which an address is ever written."""

from __future__ import annotations

import ipaddress

import pytest

from swarmdex.privacy.addresses import truncate_ip


@pytest.mark.parametrize(("address", "truncated"), [
    ("203.0.113.77", "203.0.113.0"),
    ("198.51.100.255", "198.51.100.0"),
    ("10.0.0.0", "10.0.0.0"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1::"),
    ("2001:db8:77::77", "2001:db8:77::"),
    ("2001:db8:ffff:ffff::1", "2001:db8:ffff::"),
    ("::1", "::"),
    ("::ffff:203.0.113.77", "203.0.113.0"),  # IPv4-mapped: the IPv4 address it carries
    ("::FFFF:198.51.100.77", "198.51.100.0"),
    ("fe80::1%eth0", "fe80::"),  # a scope id is no part of the address
])
def test_text(address: str, truncated: str) -> None:
    assert truncate_ip(address) == truncated


def test_packed_forms() -> None:
    assert truncate_ip(ipaddress.ip_address("198.51.100.77").packed) == "198.51.100.0"
    assert truncate_ip(ipaddress.ip_address("2001:db8:77::77").packed) == "2001:db8:77::"
    mapped = ipaddress.ip_address("::ffff:198.51.100.77").packed
    assert len(mapped) == 16 and truncate_ip(mapped) == "198.51.100.0"


@pytest.mark.parametrize("junk", ["", "testclient", "300.1.2.3", b"\x01\x02\x03", "1.2.3.4/24"])
def test_not_an_address(junk: str | bytes) -> None:
    assert truncate_ip(junk) == "-"


def test_never_keeps_the_host_part() -> None:
    for n in range(256):
        assert truncate_ip(f"192.0.2.{n}") == "192.0.2.0"
