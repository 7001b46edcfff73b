"""Bencoding: round trips, strict rejection, and agreement with libtorrent."""

from __future__ import annotations

import re
from typing import Any

import libtorrent as lt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmdex.bittorrent.bencode import (
    MAX_INTEGER,
    MIN_INTEGER,
    BencodeError,
    decode,
    decode_with_spans,
    encode,
    find_key_span,
)

ints = st.integers(min_value=MIN_INTEGER, max_value=MAX_INTEGER)
scalars = ints | st.binary(max_size=40)
# Values exactly as decode returns them: bytes, int, list, dict with bytes keys.
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.binary(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """Small edits of valid encodings reach the decoder's error paths far better than noise."""
    positions = st.integers(min_value=0, max_value=len(data))
    byte = st.sampled_from(b"ield0123456789:-x") | st.integers(0, 255)
    insert = st.tuples(positions, byte).map(lambda p: data[: p[0]] + bytes([p[1]]) + data[p[0] :])
    delete = positions.map(lambda i: data[:i] + data[i + 1 :])
    replace = st.tuples(positions, byte).map(
        lambda p: data[: p[0]] + bytes([p[1]]) + data[p[0] + 1 :]
    )
    truncate = positions.map(lambda i: data[:i])
    return insert | delete | replace | truncate


near_valid = values.map(encode).flatmap(mutations)
arbitrary = st.binary(max_size=200) | near_valid


# --------------------------------------------------------------------------- encoding


@given(values)
def test_decode_inverts_encode(value: object) -> None:
    assert decode(encode(value)) == value


@given(values)
def test_encoding_is_canonical(value: object) -> None:
    data = encode(value)
    assert encode(decode(data)) == data
    assert decode(data, require_sorted_keys=True) == value


def test_encode_known_values() -> None:
    assert encode(0) == b"i0e"
    assert encode(-42) == b"i-42e"
    assert encode(b"") == b"0:"
    assert encode(b"spam") == b"4:spam"
    assert encode("é") == b"2:\xc3\xa9"
    assert encode([1, b"a", [], {}]) == b"li1e1:aledee"
    assert encode((1, 2)) == b"li1ei2ee"
    assert encode(bytearray(b"ab")) == b"2:ab"
    assert encode(memoryview(b"ab")) == b"2:ab"
    assert encode({"interval": 1800, b"peers": b""}) == b"d8:intervali1800e5:peers0:e"


def test_encode_sorts_keys_by_raw_bytes() -> None:
    # Sorted as UTF-8 bytes: "é" is 0xc3 0xa9, so it comes after b"\x7f".
    value = {"é": 1, b"z": 2, "B": 3, b"a": 4, b"\x7f": 5, b"": 6}
    assert encode(value) == b"d0:i6e1:Bi3e1:ai4e1:zi2e1:\x7fi5e2:\xc3\xa9i1ee"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "cannot bencode bool"),
        ([False], "cannot bencode bool"),
        (1.5, "cannot bencode float"),
        (None, "cannot bencode NoneType"),
        ({1: b"x"}, "dictionary keys must be bytes or str, not int"),
        ({"a": 1, b"a": 2}, "duplicate dictionary key b'a'"),
        (2**63, "is outside the signed 64-bit range"),
        (-(2**63) - 1, "is outside the signed 64-bit range"),
        (-(2**63), "is outside the signed 64-bit range"),
        ("\ud800", "not encodable as UTF-8"),
        ({"\ud800": 1}, "not encodable as UTF-8"),
    ],
)
def test_encode_rejects(value: object, message: str) -> None:
    with pytest.raises(BencodeError, match=re.escape(message)):
        encode(value)


def test_encode_rejects_cycles_without_recursion_error() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(BencodeError, match="nested too deeply or contains itself"):
        encode(cyclic)


def test_encode_accepts_subclasses_and_mappings() -> None:
    class Size(int):
        pass

    class Name(str):
        pass

    from types import MappingProxyType

    assert encode(Size(7)) == b"i7e"
    assert encode(Name("x")) == b"1:x"
    assert encode(MappingProxyType({b"k": Size(1)})) == b"d1:ki1ee"


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    ("data", "reason", "offset"),
    [
        (b"i03e", "integer has a leading zero", 0),
        (b"i-03e", "integer has a leading zero", 0),
        (b"i00e", "integer has a leading zero", 0),
        (b"i-0e", "negative zero is not allowed", 0),
        (b"ie", "empty integer", 0),
        (b"i-e", "misplaced '-' in an integer", 0),
        (b"i1-2e", "misplaced '-' in an integer", 0),
        (b"i--1e", "misplaced '-' in an integer", 0),
        (b"i+1e", "unexpected byte '+' in an integer", 1),
        (b"i 1e", "unexpected byte 0x20 in an integer", 1),
        (b"i12", "truncated: data ended inside an integer", 3),
        (b"i-9223372036854775808e", "integer is outside the signed 64-bit range", 0),
        (b"i9223372036854775808e", "integer is outside the signed 64-bit range", 0),
        (b"i-9223372036854775809e", "integer is outside the signed 64-bit range", 0),
        (b"i99999999999999999999999e", "integer is outside the signed 64-bit range", 0),
        (b"-", "unexpected byte '-'", 0),
        (b"-1:a", "unexpected byte '-'", 0),
        (b"03:abc", "string length has a leading zero", 0),
        (b"00:", "string length has a leading zero", 0),
        (b"99999999999999999999:", "string length is too large", 0),
        (b"1x", "unexpected byte 'x' in a string length", 1),
        (b"12", "truncated: data ended inside a string length", 2),
        (b"3:ab", "truncated: string of 3 bytes runs past the end of the data (4 bytes)", 0),
        (b"5:abc", "truncated: string of 5 bytes runs past the end of the data (5 bytes)", 0),
        (b"", "truncated: data ended inside a value", 0),
        (b"l", "truncated: data ended inside a value", 1),
        (b"li1e", "truncated: data ended inside a value", 4),
        (b"d1:a", "truncated: data ended inside a value", 4),
        (b"d1:ai1e", "truncated: data ended inside a value", 7),
        (b"d1:ai1e1:ai2ee", "duplicate dictionary key b'a'", 7),
        (b"d1:ai1e1:bi1e1:ai2ee", "duplicate dictionary key b'a'", 13),
        (b"di1ei2ee", "dictionary key must be a string, not an integer", 1),
        (b"dlei2ee", "dictionary key must be a string, not a list", 1),
        (b"ddei2ee", "dictionary key must be a string, not a dictionary", 1),
        (b"dxe", "unexpected byte 'x' where a dictionary key belongs", 1),
        (b"d1:ae", "dictionary key b'a' has no value", 4),
        (b"i1ei2e", "trailing data after the value", 3),
        (b"3:abcjunk", "trailing data after the value", 5),
        (b"de\n", "trailing data after the value", 2),
        (b"e", "unexpected byte 'e'", 0),
        (b"x", "unexpected byte 'x'", 0),
        (b"\xff", "unexpected byte 0xff", 0),
        (b"l" * 65 + b"e" * 65, "nesting deeper than 64 levels", 64),
    ],
)
def test_decode_rejects(data: bytes, reason: str, offset: int) -> None:
    with pytest.raises(BencodeError) as caught:
        decode(data)
    assert caught.value.reason == reason
    assert caught.value.offset == offset
    assert str(caught.value) == f"{reason} at byte {offset}"


def test_decode_known_values() -> None:
    assert decode(b"i0e") == 0
    assert decode(b"i-9223372036854775807e") == MIN_INTEGER
    assert decode(b"i9223372036854775807e") == MAX_INTEGER
    assert decode(b"0:") == b""
    assert decode(b"4:\xff\x00ab") == b"\xff\x00ab"  # strings stay bytes, never str
    assert decode(b"le") == []
    assert decode(b"de") == {}
    assert decode(b"d1:ali1e2:xye1:bdee") == {b"a": [1, b"xy"], b"b": {}}


def test_decode_accepts_buffers() -> None:
    assert decode(bytearray(b"l1:ae")) == [b"a"]
    result = decode(memoryview(b"d1:k2:vve"))
    assert result == {b"k": b"vv"}
    assert isinstance(result, dict) and all(type(v) is bytes for v in result.values())


def test_unsorted_keys_are_accepted_unless_required() -> None:
    data = b"d1:bi1e1:ai2ee"
    decoded = decode(data)
    assert isinstance(decoded, dict)
    assert list(decoded.items()) == [(b"b", 1), (b"a", 2)]  # in input order
    with pytest.raises(BencodeError, match=r"key b'a' is out of order \(after b'b'\) at byte 7"):
        decode(data, require_sorted_keys=True)
    # Nested dictionaries are checked too.
    with pytest.raises(BencodeError, match="out of order"):
        decode(b"d1:ad1:bi1e1:ai2eee", require_sorted_keys=True)


def test_max_depth_is_exact() -> None:
    assert decode(b"l" * 64 + b"e" * 64) is not None
    assert decode(b"l" * 3 + b"e" * 3, max_depth=3) == [[[]]]
    with pytest.raises(BencodeError, match="nesting deeper than 2 levels at byte 2"):
        decode(b"lldeee", max_depth=2)


def test_hostile_nesting_raises_bencode_error_not_recursion_error() -> None:
    with pytest.raises(BencodeError, match="nesting deeper"):
        decode(b"l" * 1_000_000, max_depth=100_000)
    with pytest.raises(BencodeError, match="truncated"):
        decode(b"l" * 100_000, max_depth=200_000)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(arbitrary)
def test_arbitrary_bytes_raise_only_bencode_error(data: bytes) -> None:
    try:
        value = decode(data, max_depth=8)
    except BencodeError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(data)
    else:
        # Only key order can differ from the canonical form; everything else was rejected.
        assert (encode(value) == data) == _is_canonical(data)


def _is_canonical(data: bytes) -> bool:
    try:
        decode(data, require_sorted_keys=True)
    except BencodeError:
        return False
    return True


# --------------------------------------------------------------------------- spans


@given(st.dictionaries(st.binary(max_size=8), values, max_size=6))
def test_spans_cover_exactly_each_value(value: dict[bytes, Any]) -> None:
    data = encode(value)
    decoded, spans = decode_with_spans(data)
    assert decoded == value
    assert set(spans) == set(value)
    for key, (start, end) in spans.items():
        assert data[start:end] == encode(value[key])
        assert find_key_span(data, key) == (start, end)


def test_spans_keep_the_bytes_as_written() -> None:
    # Unsorted keys inside the value: the span is what was uploaded, not a re-encoding.
    data = b"d8:announce3:url4:infod1:bi1e1:ai2ee5:extra0:e"
    start, end = find_key_span(data, b"info")
    assert data[start:end] == b"d1:bi1e1:ai2ee"
    assert encode(decode(data[start:end])) != data[start:end]


def test_spans_errors() -> None:
    with pytest.raises(KeyError):
        find_key_span(b"d1:ai1ee", b"info")
    with pytest.raises(BencodeError, match="expected a dictionary at byte 0"):
        decode_with_spans(b"li1ee")
    with pytest.raises(BencodeError, match="expected a dictionary at byte 0"):
        decode_with_spans(b"")
    with pytest.raises(BencodeError, match="trailing data"):
        find_key_span(b"d1:ai1eeX", b"a")


# --------------------------------------------------------------------------- libtorrent


@settings(max_examples=200)
@given(values)
def test_libtorrent_reads_and_writes_the_same_values(value: Any) -> None:
    data = encode(value)
    assert lt.bdecode(data) == decode(data)
    assert bytes(lt.bencode(value)) == data


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid)
def test_whatever_we_accept_libtorrent_reads_identically(data: bytes) -> None:
    """swarmdex is stricter, never looser: anything it decodes, libtorrent decodes the same."""
    try:
        ours = decode(data)
    except BencodeError:
        return
    assert lt.bdecode(data) == ours


# What libtorrent 2.1's bdecode (python binding) does with input swarmdex rejects.  The
# binding raises RuntimeError for what libtorrent itself rejects; it does not return None.
LIBTORRENT_LENIENCY = [
    (b"i03e", 3),  # leading zero
    (b"i-03e", -3),
    (b"i00e", 0),
    (b"i-0e", 0),  # negative zero
    (b"03:abc", b"abc"),  # leading zero in a string length
    (b"d1:ai1e1:ai2ee", {b"a": 2}),  # duplicate key: the last one silently wins
    (b"i1ejunk", 1),  # trailing data ignored
    (b"3:abc3:def", b"abc"),
    (b"i9223372036854775808e", 0),  # int64 overflow silently becomes 0
    (b"i18446744073709551616e", 0),
    (b"i-9223372036854775808e", 0),  # even the smallest int64
    (b"i-9223372036854775809e", 0),
]


@pytest.mark.parametrize(("data", "libtorrent_value"), LIBTORRENT_LENIENCY)
def test_stricter_than_libtorrent(data: bytes, libtorrent_value: object) -> None:
    assert lt.bdecode(data) == libtorrent_value
    with pytest.raises(BencodeError):
        decode(data)


def test_both_accept_unsorted_keys() -> None:
    data = b"d1:bi1e1:ai2ee"
    assert lt.bdecode(data) == decode(data) == {b"a": 2, b"b": 1}


@pytest.mark.parametrize(
    "data", [b"ie", b"i-e", b"-", b"3:ab", b"li1e", b"di1ei2ee", b"i" + b"1" * 30 + b"e"]
)
def test_both_reject(data: bytes) -> None:
    with pytest.raises(RuntimeError):
        lt.bdecode(data)
    with pytest.raises(BencodeError):
        decode(data)


def test_libtorrent_nesting_limit_is_100() -> None:
    assert lt.bdecode(b"l" * 99 + b"e" * 99) is not None
    with pytest.raises(RuntimeError, match="depth exceeded"):
        lt.bdecode(b"l" * 100 + b"e" * 100)
    # Ours defaults to 64 (a torrent needs about 10) and is configurable.
    assert decode(b"l" * 99 + b"e" * 99, max_depth=99) is not None


def test_libtorrent_disagrees_with_itself_on_duplicate_keys() -> None:
    """Why duplicates are refused: which value "wins" depends on the reader."""
    pieces = b"6:pieces20:" + b"\x00" * 20
    info = b"d6:lengthi5e4:name1:a4:name1:b12:piece lengthi16384e" + pieces + b"e"
    assert lt.torrent_info(b"d4:info" + info + b"e").name() == "a"  # first value
    assert lt.bdecode(info)[b"name"] == b"b"  # last value
    with pytest.raises(BencodeError, match="duplicate dictionary key b'name'"):
        decode(info)
