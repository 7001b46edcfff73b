"""Trusted reverse proxies: which client address to believe."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmdex.proxies import TrustedProxies, normalize

FAST = settings(max_examples=150, deadline=None)

CONFIG = ["10.0.0.0/8", "192.0.2.10", "2001:db8:100::/48", "::1"]
PROXIES = TrustedProxies(CONFIG)


def ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


PROXY = ip("192.0.2.10")
CLIENT = ip("203.0.113.7")


# -- configuration ----------------------------------------------------------------------------


def test_trusts_single_addresses_and_networks() -> None:
    for text in (
        "192.0.2.10",
        "10.0.0.0",
        "10.1.2.3",
        "10.255.255.255",
        "::1",
        "2001:db8:100::1",
        "2001:db8:100:ffff:ffff:ffff:ffff:ffff",
    ):
        assert PROXIES.trusts(ip(text)), text
    for text in (
        "192.0.2.11",
        "192.0.2.9",
        "11.0.0.1",
        "9.255.255.255",
        "203.0.113.7",
        "::2",
        "2001:db8:101::1",
        "2001:db8::1",
        "::",
    ):
        assert not PROXIES.trusts(ip(text)), text


def test_single_address_forms() -> None:
    proxies = TrustedProxies(["198.51.100.4/32", "2001:db8::4/128", "198.51.100.9"])
    assert proxies.trusts(ip("198.51.100.4"))
    assert proxies.trusts(ip("2001:db8::4"))
    assert proxies.trusts(ip("198.51.100.9"))
    assert not proxies.trusts(ip("198.51.100.5"))
    assert not proxies.trusts(ip("2001:db8::5"))


def test_networks_with_host_bits_are_accepted() -> None:
    proxies = TrustedProxies(["10.1.2.3/8", "2001:db8::1/32"])
    assert proxies.trusts(ip("10.200.0.1"))
    assert proxies.trusts(ip("2001:db8:ffff::1"))


def test_families_stay_apart() -> None:
    v4_all = TrustedProxies(["0.0.0.0/0"])
    assert v4_all.trusts(ip("203.0.113.7"))
    assert not v4_all.trusts(ip("2001:db8::1"))
    v6_all = TrustedProxies(["::/0"])
    assert v6_all.trusts(ip("2001:db8::1"))
    assert not v6_all.trusts(ip("203.0.113.7"))


def test_mapped_peer_is_trusted_once_normalized() -> None:
    assert PROXIES.trusts(normalize(ip("::ffff:192.0.2.10")))
    assert PROXIES.trusts(normalize(ip("::ffff:10.9.8.7")))


def test_bool() -> None:
    assert not TrustedProxies()
    assert not TrustedProxies([])
    assert TrustedProxies(["192.0.2.10"])
    assert TrustedProxies(["10.0.0.0/8"])


@pytest.mark.parametrize("bad", ["", "proxy.example", "10.0.0.0/33", "1.2.3.4.5", "::1/129"])
def test_bad_configuration_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        TrustedProxies([bad])


# -- client_address ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "peer", ["192.0.2.10", "10.0.0.1", "10.200.3.4", "::1", "2001:db8:100::53"]
)
def test_trusted_peer_passes_on_the_forwarded_client(peer: str) -> None:
    assert PROXIES.client_address(ip(peer), b"203.0.113.7") == CLIENT


@pytest.mark.parametrize("peer", ["203.0.113.99", "192.0.2.11", "2001:db8::99", "::2"])
@pytest.mark.parametrize(
    "header", [b"203.0.113.7", b"10.0.0.1", b"203.0.113.7, 192.0.2.10", b"junk"]
)
def test_untrusted_peer_is_believed_whatever_the_header(peer: str, header: bytes) -> None:
    assert PROXIES.client_address(ip(peer), header) == ip(peer)


def test_no_configured_proxy_means_the_peer() -> None:
    assert TrustedProxies().client_address(PROXY, b"203.0.113.7") == PROXY


@pytest.mark.parametrize("header", [None, b""])
def test_trusted_peer_without_header_is_the_client(header: bytes | None) -> None:
    assert PROXIES.client_address(PROXY, header) == PROXY


@pytest.mark.parametrize(
    ("header", "client"),
    [
        # The client wrote everything left of the address its first proxy appended.
        (b"198.51.100.1, 203.0.113.7", "203.0.113.7"),
        (b"1.1.1.1, 8.8.8.8, 203.0.113.7", "203.0.113.7"),
        # Trusted hops on the right are skipped; the right-most untrusted one is the client.
        (b"203.0.113.7, 10.0.0.5", "203.0.113.7"),
        (b"198.51.100.1, 203.0.113.7, 10.0.0.5, 192.0.2.10", "203.0.113.7"),
        (b"203.0.113.7,10.0.0.5,::1", "203.0.113.7"),
        # A client cannot pose as a proxy to push its own choice through.
        (b"198.51.100.1, 10.0.0.5, 203.0.113.7", "203.0.113.7"),
        # Whitespace around hops is allowed.
        (b"  203.0.113.7\t,   10.0.0.5  ", "203.0.113.7"),
        # IPv6 clients and proxies.
        (b"2001:db8::7", "2001:db8::7"),
        (b"2001:db8::7, 2001:db8:100::1", "2001:db8::7"),
        (b"203.0.113.7, 2001:db8:100::1, ::1", "203.0.113.7"),
        (b"2001:DB8::7", "2001:db8::7"),
        # IPv4-mapped hops become plain IPv4 (and are recognised as proxies when they are).
        (b"::ffff:203.0.113.7", "203.0.113.7"),
        (b"203.0.113.7, ::ffff:10.0.0.5", "203.0.113.7"),
        # A hop left of the client may be anything.
        (b"not-an-address, 203.0.113.7", "203.0.113.7"),
        (b"[2001:db8::1]:443, 203.0.113.7, 10.0.0.5", "203.0.113.7"),
    ],
)
def test_rightmost_untrusted_hop(header: bytes, client: str) -> None:
    assert PROXIES.client_address(PROXY, header) == normalize(ip(client))


@pytest.mark.parametrize(
    "header",
    [
        b"10.0.0.5",
        b"10.0.0.5, 192.0.2.10",
        b"::1, 10.0.0.5",
        b"::ffff:10.0.0.5",
    ],
)
def test_only_trusted_hops_leaves_the_peer(header: bytes) -> None:
    assert PROXIES.client_address(PROXY, header) == PROXY


@pytest.mark.parametrize(
    "header",
    [
        b"unknown",
        b"_hidden",  # RFC 7239 obfuscated identifier
        b"203.0.113.7:6881",
        b"[2001:db8::7]",
        b"[2001:db8::7]:443",
        b"client.example",
        b"203.0.113.7 203.0.113.8",
        b"203.0.113.256",
        b"0203.0.113.7",
        b"203.0.113.7,",  # an empty right-most hop
        b"203.0.113.7, , 10.0.0.5",  # an empty hop between trusted ones
        b"203.0.113.7, garbage, 10.0.0.5",
        "203.0.113.\u0667".encode(),
        b"\xff\xfe",
        b"203.0.113.7\x00",
        b",",
    ],
)
def test_malformed_hop_leaves_the_peer(header: bytes) -> None:
    assert PROXIES.client_address(PROXY, header) == PROXY


def test_scoped_ipv6_hop_is_read_without_its_zone() -> None:
    assert PROXIES.client_address(PROXY, b"fe80::7%eth0") == ip("fe80::7")


# -- the same rule, checked against a plain model ---------------------------------------------

MODEL_NETWORKS = [ipaddress.ip_network(n, strict=False) for n in CONFIG]
HOPS = st.one_of(
    st.ip_addresses(v=4),
    st.ip_addresses(v=6),
    st.ip_addresses(network="10.0.0.0/8"),
    st.ip_addresses(network="2001:db8:100::/48"),
    st.sampled_from([ipaddress.ip_address("192.0.2.10"), ipaddress.ip_address("::1")]),
    st.ip_addresses(v=4).map(
        lambda a: ipaddress.IPv6Address(b"\x00" * 10 + b"\xff\xff" + a.packed)
    ),
)


def model(peer: bytes, hops: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bytes:
    def trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(addr.version == net.version and addr in net for net in MODEL_NETWORKS)

    if not trusted(ipaddress.ip_address(peer)):
        return peer
    for hop in reversed(hops):
        if isinstance(hop, ipaddress.IPv6Address) and hop.ipv4_mapped is not None:
            hop = hop.ipv4_mapped
        if not trusted(hop):
            return hop.packed
    return peer


@given(
    st.sampled_from([PROXY, ip("10.3.3.3"), ip("::1"), CLIENT, ip("2001:db8::5")]),
    st.lists(HOPS, min_size=1, max_size=6),
    st.sampled_from([b",", b", ", b" , "]),
)
@FAST
def test_client_address_matches_the_model(peer: bytes, hops: list, separator: bytes) -> None:
    header = separator.join(str(h).encode() for h in hops)
    assert PROXIES.client_address(peer, header) == model(peer, hops)


@given(st.sampled_from([PROXY, ip("10.3.3.3"), ip("::1"), CLIENT]), st.binary(max_size=80))
@FAST
def test_arbitrary_header_bytes_never_raise(peer: bytes, header: bytes) -> None:
    result = PROXIES.client_address(peer, header)
    if not PROXIES.trusts(peer):
        assert result == peer
    else:
        assert result == peer or (len(result) in (4, 16) and not PROXIES.trusts(result))


# -- normalize --------------------------------------------------------------------------------


@given(st.ip_addresses(v=4))
@FAST
def test_normalize_unmaps_ipv4_mapped_addresses(addr: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(b"\x00" * 10 + b"\xff\xff" + addr.packed)
    assert normalize(mapped.packed) == addr.packed
    assert normalize(addr.packed) == addr.packed


def test_normalize_examples() -> None:
    assert normalize(ip("::ffff:192.0.2.1")) == bytes([192, 0, 2, 1])
    assert normalize(ip("::ffff:0.0.0.0")) == bytes(4)
    assert normalize(ip("::ffff:255.255.255.255")) == b"\xff" * 4


@pytest.mark.parametrize(
    "text",
    [
        "::1",
        "::",
        "::192.0.2.1",  # IPv4-compatible (deprecated), not mapped
        "64:ff9b::192.0.2.1",  # NAT64
        "::ffff:0:192.0.2.1",  # IPv4-translated (RFC 2765)
        "0:0:0:0:1:ffff:c000:201",
        "2001:db8::ffff:c000:201",
        "192.0.2.1",
    ],
)
def test_normalize_leaves_other_addresses_alone(text: str) -> None:
    assert normalize(ip(text)) == ip(text)


@given(st.binary(max_size=20))
@FAST
def test_normalize_only_touches_16_byte_mapped_values(value: bytes) -> None:
    out = normalize(value)
    if len(value) == 16 and value.startswith(b"\x00" * 10 + b"\xff\xff"):
        assert out == value[12:]
    else:
        assert out == value
