"""InfoHash and PeerId."""

from __future__ import annotations

import base64

import libtorrent as lt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmdex.bittorrent.infohash import InfoHash, PeerId

V1 = bytes(range(20))
V2 = bytes(range(100, 132))


def test_v1() -> None:
    info_hash = InfoHash(V1)
    assert info_hash.version == 1
    assert info_hash.bytes == V1
    assert bytes(info_hash) == V1
    assert info_hash.hex == V1.hex()
    assert str(info_hash) == V1.hex()
    assert info_hash.truncated == V1


def test_v2_is_truncated_to_20_bytes_for_trackers() -> None:
    info_hash = InfoHash(V2)
    assert info_hash.version == 2
    assert info_hash.bytes == V2
    assert info_hash.truncated == V2[:20]
    assert len(info_hash.hex) == 64


@pytest.mark.parametrize("length", [0, 19, 21, 31, 33, 64])
def test_rejects_other_lengths(length: int) -> None:
    with pytest.raises(ValueError, match=f"not {length}"):
        InfoHash(bytes(length))


def test_from_hex_either_case() -> None:
    assert InfoHash.from_hex(V1.hex().upper()) == InfoHash(V1)
    assert InfoHash.from_hex(V2.hex()) == InfoHash(V2)


@pytest.mark.parametrize(
    "text", ["", "ab", "g" * 40, V1.hex() + "0", " " + V1.hex(), "0x" + "0" * 38]
)
def test_from_hex_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="hexadecimal"):
        InfoHash.from_hex(text)


@given(st.binary(min_size=20, max_size=20))
def test_from_base32_round_trips(digest: bytes) -> None:
    text = base64.b32encode(digest).decode()
    assert InfoHash.from_base32(text).bytes == digest
    assert InfoHash.from_base32(text.lower()).bytes == digest


def test_from_base32_matches_libtorrent() -> None:
    text = "CI" * 16
    params = lt.parse_magnet_uri("magnet:?xt=urn:btih:" + text)
    assert InfoHash.from_base32(text).hex == str(params.info_hashes.v1)


@pytest.mark.parametrize("text", ["A" * 31, "A" * 33, "1" * 32, "A" * 31 + "=", V1.hex()])
def test_from_base32_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="base32"):
        InfoHash.from_base32(text)


def test_equality_hash_and_repr() -> None:
    assert InfoHash(V1) == InfoHash(bytearray(V1))
    assert InfoHash(V1) != InfoHash(V2)
    assert InfoHash(V1) != V1  # no accidental equality with raw bytes
    assert len({InfoHash(V1), InfoHash(V1), InfoHash(V2)}) == 2
    assert eval(repr(InfoHash(V2)), {"InfoHash": InfoHash}) == InfoHash(V2)


def test_immutable() -> None:
    info_hash = InfoHash(V1)
    with pytest.raises(AttributeError):
        info_hash._digest = V2
    with pytest.raises(AttributeError):
        info_hash.anything = 1


@pytest.mark.parametrize(
    ("raw", "client"),
    [
        (b"-qB4520-" + b"x" * 12, ("qB", "4520")),
        (b"-TR4050-" + b"0" * 12, ("TR", "4050")),
        (b"-lt20B0-" + b"\xff" * 12, ("lt", "20B0")),
        (b"M7-2-2--" + b"x" * 12, None),  # Mainline style: not Azureus
        (b"x" * 20, None),
        (b"-qB45-0-" + b"x" * 12, None),
    ],
)
def test_peer_id_client(raw: bytes, client: tuple[str, str] | None) -> None:
    assert PeerId(raw).client == client


def test_peer_id_basics() -> None:
    raw = b"-qB4520-abcdefghijkl"
    assert PeerId(raw).bytes == raw
    assert bytes(PeerId(raw)) == raw
    assert PeerId(raw) == PeerId(raw)
    assert len({PeerId(raw), PeerId(raw)}) == 1
    assert repr(PeerId(raw)) == f"PeerId({raw!r})"
    with pytest.raises(ValueError, match="not 19"):
        PeerId(raw[:19])
    with pytest.raises(AttributeError):
        PeerId(raw)._raw = b""
