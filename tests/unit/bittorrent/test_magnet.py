"""Magnet links: round trips and agreement with libtorrent."""

from __future__ import annotations

import base64

import libtorrent as lt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmdex.bittorrent.magnet import Magnet, MagnetError, make_magnet, parse_magnet

V1 = bytes(range(20))
V2 = bytes(range(100, 132))

urls = st.from_regex(
    r"(udp|http|https)://[a-z0-9][a-z0-9.-]{0,15}(:[0-9]{1,5})?/[A-Za-z0-9/?=&+%._~-]{0,20}",
    fullmatch=True,
).map(str.strip)
hashes = st.tuples(
    st.none() | st.binary(min_size=20, max_size=20),
    st.none() | st.binary(min_size=32, max_size=32),
).filter(lambda pair: pair != (None, None))
names = st.none() | st.text(min_size=1, max_size=30)


@given(hashes, names, st.lists(urls, max_size=4), st.none() | st.integers(0, 2**63 - 1))
def test_round_trip(
    digests: tuple[bytes | None, bytes | None],
    name: str | None,
    trackers: list[str],
    size: int | None,
) -> None:
    v1, v2 = digests
    uri = make_magnet(v1=v1, v2=v2, name=name, trackers=trackers, size=size, web_seeds=trackers)
    assert parse_magnet(uri) == Magnet(
        v1=v1,
        v2=v2,
        name=name,
        trackers=tuple(dict.fromkeys(trackers)),
        size=size,
        web_seeds=tuple(dict.fromkeys(trackers)),
    )


@settings(max_examples=50)
@given(hashes, st.none() | st.text(min_size=1, max_size=30), st.lists(urls, max_size=4))
def test_libtorrent_reads_our_links(
    digests: tuple[bytes | None, bytes | None], name: str | None, trackers: list[str]
) -> None:
    v1, v2 = digests
    params = lt.parse_magnet_uri(make_magnet(v1=v1, v2=v2, name=name, trackers=trackers))
    assert params.info_hashes.v1.to_bytes() == (v1 or bytes(20))
    assert params.info_hashes.v2.to_bytes() == (v2 or bytes(32))
    assert params.name == (name or "")
    assert params.trackers == list(dict.fromkeys(trackers))


def test_known_link() -> None:
    uri = make_magnet(
        v1=V1,
        v2=V2,
        name="Big Buck Bunny (1080p) & more/ü+",
        trackers=["udp://tracker.example:6969/announce", "https://t.example/a?k=1&x=y"],
        size=1234,
    )
    assert uri == (
        "magnet:?xt=urn:btih:" + V1.hex() + "&xt=urn:btmh:1220" + V2.hex()
        + "&dn=Big%20Buck%20Bunny%20%281080p%29%20%26%20more%2F%C3%BC%2B"
        + "&xl=1234"
        + "&tr=udp%3A%2F%2Ftracker.example%3A6969%2Fannounce"
        + "&tr=https%3A%2F%2Ft.example%2Fa%3Fk%3D1%26x%3Dy"
    )  # fmt: skip


def test_parses_what_clients_write() -> None:
    base32 = base64.b32encode(V1).decode()
    magnet = parse_magnet(
        "MAGNET:?XT=URN:BTIH:" + base32
        + "&dn=two+words%20here"
        + "&tr.1=udp://t.example:1/a+b"
        + "&tr.2=http%3A%2F%2Fh.example%2Fann"
        + "&tr.3=http%3A%2F%2Fh.example%2Fann"
        + "&tr=&xs=http://ignored&x.pe=1.2.3.4:5&ws=http://seed.example/f"
        + "&xt=urn:sha1:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        + "&xt=urn:btih:" + V1.hex().upper()
    )  # fmt: skip
    assert magnet == Magnet(
        v1=V1,
        v2=None,
        name="two words here",
        trackers=("udp://t.example:1/a+b", "http://h.example/ann"),
        size=None,
        web_seeds=("http://seed.example/f",),
    )
    assert [info_hash.version for info_hash in magnet.info_hashes] == [1]


def test_v2_only_and_hybrid_hashes() -> None:
    magnet = parse_magnet("magnet:?xt=urn:btmh:1220" + V2.hex())
    assert (magnet.v1, magnet.v2) == (None, V2)
    hybrid = parse_magnet(make_magnet(v1=V1, v2=V2, name=None, trackers=[]))
    assert [info_hash.bytes for info_hash in hybrid.info_hashes] == [V1, V2]
    assert hybrid.name is None and hybrid.trackers == () and hybrid.size is None


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://example.com", "not a magnet link"),
        ("magnet:xt=urn:btih:" + V1.hex(), "not a magnet link"),
        ("magnet:?dn=x&tr=udp%3A%2F%2Fa", "no BitTorrent info hash"),
        ("magnet:?xt=urn:sha1:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "no BitTorrent info hash"),
        ("magnet:?xt=urn:btih:" + V1.hex()[:-1], "40 hex or 32 base32"),
        ("magnet:?xt=urn:btih:" + "z" * 40, "40 hex or 32 base32"),
        ("magnet:?xt=urn:btih:" + "1" * 32, "40 hex or 32 base32"),
        ("magnet:?xt=urn:btih:" + V2.hex(), "40 hex or 32 base32"),
        ("magnet:?xt=urn:btmh:1114" + V1.hex(), "'1220' and 64 hex digits"),
        ("magnet:?xt=urn:btmh:1220" + V2.hex()[:-2], "'1220' and 64 hex digits"),
        ("magnet:?xt=urn:btmh:1220" + "g" * 64, "not hexadecimal"),
        ("magnet:?xt=urn:btih:" + V1.hex() + "&xt=urn:btih:" + "00" * 20, "two different v1"),
        (
            "magnet:?xt=urn:btmh:1220" + V2.hex() + "&xt=urn:btmh:1220" + "00" * 32,
            "two different v2",
        ),
        ("magnet:?xt=urn:btih:" + V1.hex() + "&dn=%ff", "dn is not valid UTF-8"),
        ("magnet:?xt=urn:btih:" + V1.hex() + "&dn=a%2", "dn has a broken %-escape"),
        ("magnet:?xt=urn:btih:" + V1.hex() + "&tr=%zz", "tr has a broken %-escape"),
        ("magnet:?xt=urn:btih:" + V1.hex() + "&xl=abc", "xl (size) must be a number"),
        ("magnet:?xt=urn:btih:" + V1.hex() + "&xl=-1", "xl (size) must be a number"),
        ("magnet:?xt=urn:btih:" + V1.hex() + "&xl=9223372036854775808", "xl (size) must be a"),
    ],
)
def test_rejects(uri: str, message: str) -> None:
    with pytest.raises(MagnetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_magnet(uri)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"v1": None, "v2": None}, "needs a v1 or a v2 info hash"),
        ({"v1": V2, "v2": None}, "v1 info hash is 20 bytes, not 32"),
        ({"v1": None, "v2": V1}, "v2 info hash is 32 bytes, not 20"),
        ({"v1": V1, "v2": None, "size": -1}, "must not be negative"),
    ],
)
def test_make_magnet_rejects(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_magnet(name=None, trackers=[], **kwargs)  # type: ignore[arg-type]
