"""HTTP tracker queries and answers (BEP 3, 7, 23, 48): raw-byte parsing, bencoded answers."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmdex.bittorrent.bencode import decode, encode
from swarmdex.protocol import http
from swarmdex.protocol.announce import AnnounceRequest, AnnounceResponse, Event, SwarmCounts
from swarmdex.protocol.errors import ProtocolError

from .strategies import FAST, FUZZ, HASHES, announce_requests

UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
INFO_HASH = bytes(range(0x80, 0x94))
PEER_ID = b"-SD0001-\x00\xff%&=+ #?/\x01\x02"
MAX_INT = 2**63 - 1


def upper(value: bytes) -> bytes:
    return b"".join(b"%%%02X" % b for b in value)


def lower(value: bytes) -> bytes:
    return b"".join(b"%%%02x" % b for b in value)


def query(**fields: bytes | None) -> bytes:
    """A valid announce query with `fields` replaced (None drops a field)."""
    params: dict[str, bytes | None] = {
        "info_hash": upper(INFO_HASH),
        "peer_id": upper(PEER_ID),
        "port": b"6881",
        "uploaded": b"0",
        "downloaded": b"0",
        "left": b"0",
    }
    params.update(fields)
    return b"&".join(
        name.encode() + b"=" + value for name, value in params.items() if value is not None
    )


def announce_error(raw: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        http.parse_announce(raw)
    assert info.value.replyable
    return info.value


def scrape_error(raw: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        http.parse_scrape(raw)
    assert info.value.replyable
    return info.value


@st.composite
def percent_encoded(draw: st.DrawFn, values: st.SearchStrategy[bytes]) -> tuple[bytes, bytes]:
    """(value, its encoding) with each byte escaped in upper or lower case hex, or left bare
    when it is an unreserved character."""
    value = draw(values)
    out = bytearray()
    for b in value:
        style = draw(st.integers(0, 2 if b in UNRESERVED else 1))
        out += b"%%%02X" % b if style == 0 else b"%%%02x" % b if style == 1 else bytes((b,))
    return value, bytes(out)


# -- binary parameters ------------------------------------------------------------------------


ALL_BYTES_IN_20S = [bytes((start + i) % 256 for i in range(20)) for start in range(0, 256, 20)]


@pytest.mark.parametrize("value", ALL_BYTES_IN_20S, ids=lambda v: f"from-{v[0]:02x}")
@pytest.mark.parametrize(
    "escape", [upper, lower, http.quote_bytes], ids=["upper", "lower", "quote"]
)
def test_every_byte_value_in_info_hash_and_peer_id(value: bytes, escape) -> None:
    escaped = escape(value)
    if isinstance(escaped, str):
        escaped = escaped.encode("ascii")
    reversed_value = value[::-1]
    req = http.parse_announce(query(info_hash=escaped, peer_id=upper(reversed_value)))
    assert req.info_hash == value
    assert req.peer_id == reversed_value


def test_all_256_byte_values_are_covered() -> None:
    assert set(b"".join(ALL_BYTES_IN_20S)) == set(range(256))


def test_unescaped_unreserved_characters_are_taken_as_is() -> None:
    info_hash = b"AZaz09-._~" * 2
    peer_id = b"-qB4650-" + b"abc_DEF.~-12"
    req = http.parse_announce(query(info_hash=info_hash, peer_id=peer_id))
    assert req.info_hash == info_hash
    assert req.peer_id == peer_id


def test_mixed_escaped_and_bare_bytes() -> None:
    # What libtorrent sends: bare unreserved characters, %XX for the rest.
    req = http.parse_announce(query(info_hash=b"%12%34V%78%9A%bc%DEabc%00%FF%fF%Ff123456"))
    assert req.info_hash == bytes.fromhex("123456789abcde616263 00ffffff 313233343536")


@given(percent_encoded(HASHES), percent_encoded(HASHES))
@FAST
def test_binary_parameters_in_any_escape_style(
    info_hash: tuple[bytes, bytes], peer_id: tuple[bytes, bytes]
) -> None:
    req = http.parse_announce(query(info_hash=info_hash[1], peer_id=peer_id[1]))
    assert req.info_hash == info_hash[0]
    assert req.peer_id == peer_id[0]


def test_first_of_repeated_parameters_wins() -> None:
    raw = query() + b"&info_hash=" + upper(b"\x01" * 20) + b"&port=1&left=5"
    req = http.parse_announce(raw)
    assert req.info_hash == INFO_HASH
    assert req.port == 6881
    assert req.left == 0


def test_empty_parts_and_unknown_parameters_are_ignored() -> None:
    raw = b"&&" + query().replace(b"&", b"&&&") + b"&supportcrypto=1&requirecrypto&&corrupt=0&"
    req = http.parse_announce(raw)
    assert req.info_hash == INFO_HASH
    assert req.peer_id == PEER_ID


# -- round trip -------------------------------------------------------------------------------


# Everything announce_query() sends (it sends no key and no passkey).
ANNOUNCES = announce_requests(
    counters=st.integers(0, MAX_INT),
    numwant=st.none() | st.integers(0, 2**31),
    ip=st.none() | st.binary(min_size=4, max_size=4) | st.binary(min_size=16, max_size=16),
    compact=st.booleans(),
    no_peer_id=st.booleans(),
)


@given(ANNOUNCES)
@FAST
def test_announce_query_round_trip(req: AnnounceRequest) -> None:
    raw = http.announce_query(req).encode("ascii")
    assert http.parse_announce(raw) == req


@given(st.binary(max_size=64))
@FAST
def test_quote_bytes_escapes_all_but_unreserved(value: bytes) -> None:
    quoted = http.quote_bytes(value)
    assert quoted.isascii()
    assert set(quoted.encode()) <= set(UNRESERVED) | set(b"%0123456789ABCDEF")
    assert http.split_query(b"x=" + quoted.encode()) == {b"x": [quoted.encode()]}


def test_split_query() -> None:
    assert http.split_query(b"a=1&b=&a=3&&c&d==x") == {
        b"a": [b"1", b"3"],
        b"b": [b""],
        b"c": [b""],
        b"d": [b"=x"],
    }
    assert http.split_query(b"") == {}


# -- failure messages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"info_hash": None}, "missing info_hash"),
        ({"info_hash": upper(b"x" * 19)}, "info_hash must be 20 bytes, got 19"),
        ({"info_hash": upper(b"x" * 21)}, "info_hash must be 20 bytes, got 21"),
        ({"info_hash": b""}, "info_hash must be 20 bytes, got 0"),
        ({"info_hash": INFO_HASH.hex().encode()}, "info_hash must be 20 bytes, got 40"),
        ({"info_hash": upper(b"x" * 32)}, "info_hash must be 20 bytes, got 32"),
        ({"peer_id": None}, "missing peer_id"),
        ({"peer_id": b"abc"}, "peer_id must be 20 bytes, got 3"),
        ({"peer_id": upper(b"p" * 21)}, "peer_id must be 20 bytes, got 21"),
        ({"port": None}, "missing port"),
        ({"port": b""}, "missing port"),
        ({"port": b"0"}, "invalid port"),
        ({"port": b"00"}, "invalid port"),
        ({"port": b"65536"}, "port out of range"),
        ({"port": b"99999999999999999999"}, "port out of range"),
        ({"port": b"abc"}, "port must be a non-negative integer"),
        ({"port": b"-1"}, "port must be a non-negative integer"),
        ({"port": b"+6881"}, "port must be a non-negative integer"),
        ({"left": None}, "missing left"),
        ({"left": b""}, "missing left"),
        ({"left": b"-5"}, "left must be a non-negative integer"),
        ({"downloaded": b"1.5"}, "downloaded must be a non-negative integer"),
        ({"downloaded": str(2**63).encode()}, "downloaded out of range"),
        ({"uploaded": b"9" * 20}, "uploaded out of range"),
        ({"uploaded": b"1" * 21}, "uploaded must be a non-negative integer"),
        ({"event": b"foo"}, "unknown event"),
        ({"event": b"Started"}, "unknown event"),
        ({"event": b"STOPPED"}, "unknown event"),
        ({"event": b"started%00"}, "unknown event"),
        ({"event": b"4"}, "unknown event"),
        ({"numwant": b"-2"}, "numwant must be a non-negative integer"),
        ({"numwant": b"lots"}, "numwant must be a non-negative integer"),
        ({"numwant": str(2**31 + 1).encode()}, "numwant out of range"),
    ],
)
def test_announce_failure_messages(fields: dict[str, bytes | None], message: str) -> None:
    assert announce_error(query(**fields)).message == message


@pytest.mark.parametrize(
    "raw",
    [
        b"+5",
        b" 5",
        b"5 ",
        b"5_0",
        b"-1",
        b"-0",
        b"1.5",
        b"0x10",
        b"1e3",
        b"%35",
        b"five",
        "\u0665".encode(),
        "\uff15".encode(),
        b"\xb2",
        b"5\x00",
    ],
)
@pytest.mark.parametrize("name", ["uploaded", "downloaded", "left", "port"])
def test_numbers_must_be_plain_ascii_digits(name: str, raw: bytes) -> None:
    assert announce_error(query(**{name: raw})).message == f"{name} must be a non-negative integer"


def test_number_limits() -> None:
    req = http.parse_announce(
        query(uploaded=str(MAX_INT).encode(), downloaded=b"0" * 20, left=b"007", port=b"65535")
    )
    assert (req.uploaded, req.downloaded, req.left, req.port) == (MAX_INT, 0, 7, 65535)


def test_uploaded_and_downloaded_default_to_zero() -> None:
    req = http.parse_announce(query(uploaded=None, downloaded=b""))
    assert req.uploaded == 0
    assert req.downloaded == 0


def test_missing_everything_names_info_hash_first() -> None:
    assert announce_error(b"").message == "missing info_hash"


@pytest.mark.parametrize(
    ("raw", "event"),
    [
        (None, Event.NONE),
        (b"", Event.NONE),
        (b"empty", Event.NONE),
        (b"paused", Event.NONE),
        (b"started", Event.STARTED),
        (b"completed", Event.COMPLETED),
        (b"stopped", Event.STOPPED),
    ],
)
def test_event_words(raw: bytes | None, event: Event) -> None:
    assert http.parse_announce(query(event=raw)).event is event


@pytest.mark.parametrize(
    ("raw", "numwant"),
    [
        (None, None),
        (b"", None),
        (b"-1", None),
        (b"0", 0),
        (b"50", 50),
        (b"200", 200),
        (str(2**31).encode(), 2**31),
    ],
)
def test_numwant(raw: bytes | None, numwant: int | None) -> None:
    assert http.parse_announce(query(numwant=raw)).numwant == numwant


@pytest.mark.parametrize(
    ("raw", "ip"),
    [
        (None, None),
        (b"", None),
        (b"192.0.2.1", bytes([192, 0, 2, 1])),
        (b"2001:db8::1", ipaddress.ip_address("2001:db8::1").packed),
        (b"2001%3Adb8%3A%3A1", ipaddress.ip_address("2001:db8::1").packed),
        (b"2001%3adb8%3a%3a1", ipaddress.ip_address("2001:db8::1").packed),
        (b"%31%39%32.0.2.1", bytes([192, 0, 2, 1])),
        (b"::ffff:192.0.2.1", ipaddress.ip_address("::ffff:192.0.2.1").packed),
        (b"fe80::1%25eth0", ipaddress.ip_address("fe80::1").packed),
        (b"example.com", None),
        (b"localhost", None),
        (b"1.2.3.4.5", None),
        (b"256.1.1.1", None),
        (b"01.2.3.4", None),
        (b"1.2.3.4:6881", None),
        (b"[2001:db8::1]", None),
        (b"%FF%FE", None),
        (b"%C3%A9", None),
        (b"\xff", None),
        (b"1.2.3.4%00", None),
        (b"%", None),
    ],
)
def test_ip_parameter(raw: bytes | None, ip: bytes | None) -> None:
    assert http.parse_announce(query(ip=raw)).ip == ip


@pytest.mark.parametrize(
    ("raw", "compact"), [(None, True), (b"1", True), (b"", True), (b"0", False)]
)
def test_compact_flag(raw: bytes | None, compact: bool) -> None:
    assert http.parse_announce(query(compact=raw)).compact is compact


@pytest.mark.parametrize(("raw", "flag"), [(None, False), (b"0", False), (b"1", True)])
def test_no_peer_id_flag(raw: bytes | None, flag: bool) -> None:
    assert http.parse_announce(query(no_peer_id=raw)).no_peer_id is flag


def test_key_is_read_as_an_opaque_token() -> None:
    assert http.parse_announce(query()).key is None
    a = http.parse_announce(query(key=b"1A2B3C4D")).key
    b = http.parse_announce(query(key=b"1A2B3C4D")).key
    c = http.parse_announce(query(key=b"1A2B3C4E")).key
    assert isinstance(a, int)
    assert a == b
    assert a != c


def test_parse_announce_never_sets_a_passkey() -> None:
    assert http.parse_announce(query(passkey=b"secret")).passkey is None


# -- scrape -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"&", b"passkey=abc", b"info_hashes=" + upper(b"x" * 20)])
def test_scrape_without_info_hash_mentions_full_scrape(raw: bytes) -> None:
    assert "full scrape" in scrape_error(raw).message


def test_scrape_hash_limit() -> None:
    assert http.MAX_SCRAPE_HASHES == 200
    hashes = [i.to_bytes(20, "big") for i in range(200)]
    assert http.parse_scrape(http.scrape_query(hashes).encode()).info_hashes == hashes
    over = http.scrape_query([*hashes, b"z" * 20]).encode()
    assert scrape_error(over).message == "too many info hashes (at most 200)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"", "info_hash must be 20 bytes, got 0"),
        (upper(b"x" * 19), "info_hash must be 20 bytes, got 19"),
        (upper(b"x" * 21), "info_hash must be 20 bytes, got 21"),
        (b"a" * 40, "info_hash must be 20 bytes, got 40"),
    ],
)
def test_scrape_wrong_length(value: bytes, message: str) -> None:
    raw = b"info_hash=" + upper(b"g" * 20) + b"&info_hash=" + value
    assert scrape_error(raw).message == message


def test_scrape_keeps_repeats_in_order() -> None:
    a, b = b"a" * 20, bytes(range(20))
    raw = b"info_hash=" + upper(a) + b"&info_hash=" + lower(b) + b"&info_hash=" + a
    assert http.parse_scrape(raw).info_hashes == [a, b, a]


@given(st.lists(percent_encoded(HASHES), min_size=1, max_size=20))
@FAST
def test_scrape_round_trip(encoded: list[tuple[bytes, bytes]]) -> None:
    hashes = [value for value, _ in encoded]
    assert http.parse_scrape(http.scrape_query(hashes).encode()).info_hashes == hashes
    raw = b"&".join(b"info_hash=" + escaped for _, escaped in encoded) + b"&passkey=x"
    assert http.parse_scrape(raw).info_hashes == hashes


# -- answers ----------------------------------------------------------------------------------

COUNTS = st.integers(0, 2**31 - 1)
PEERS4 = st.lists(st.binary(min_size=6, max_size=6), max_size=10).map(b"".join)
PEERS6 = st.lists(st.binary(min_size=18, max_size=18), max_size=10).map(b"".join)
WARNINGS = st.none() | st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@given(COUNTS, COUNTS, COUNTS, COUNTS, COUNTS, PEERS4, PEERS6, WARNINGS)
@FAST
def test_encode_announce_is_canonical_bencode(
    interval: int,
    min_interval: int,
    complete: int,
    incomplete: int,
    downloaded: int,
    peers4: bytes,
    peers6: bytes,
    warning: str | None,
) -> None:
    resp = AnnounceResponse(
        interval, min_interval, complete, incomplete, downloaded, peers4, peers6, warning
    )
    out = http.encode_announce(resp)
    expected: dict[bytes, object] = {
        b"complete": complete,
        b"downloaded": downloaded,
        b"incomplete": incomplete,
        b"interval": interval,
        b"min interval": min_interval,
        b"peers": peers4,
        b"peers6": peers6,
    }
    if warning:
        expected[b"warning message"] = warning.encode()
    assert decode(out, require_sorted_keys=True) == expected
    assert out == encode(expected)


def test_encode_announce_exact_bytes() -> None:
    resp = AnnounceResponse(1800, 900, 3, 2, 10, bytes([192, 0, 2, 1, 0x1A, 0xE1]), b"", "hi")
    assert http.encode_announce(resp) == (
        b"d8:completei3e10:downloadedi10e10:incompletei2e8:intervali1800e"
        b"12:min intervali900e5:peers6:\xc0\x00\x02\x01\x1a\xe16:peers60:"
        b"15:warning message2:hie"
    )


def test_encode_announce_omits_empty_warning() -> None:
    for warning in (None, ""):
        out = http.encode_announce(AnnounceResponse(60, 30, 0, 0, 0, b"", b"", warning))
        answer = decode(out)
        assert isinstance(answer, dict)
        assert b"warning message" not in answer


IPV4 = st.ip_addresses(v=4)
IPV6 = st.ip_addresses(v=6)
PORTS = st.integers(0, 65535)


@given(
    st.lists(st.tuples(IPV4, PORTS), max_size=8),
    st.lists(st.tuples(IPV6, PORTS), max_size=8),
    WARNINGS,
)
@FAST
def test_encode_announce_dict_lists_ip_and_port(
    v4: list[tuple[ipaddress.IPv4Address, int]],
    v6: list[tuple[ipaddress.IPv6Address, int]],
    warning: str | None,
) -> None:
    peers4 = b"".join(a.packed + p.to_bytes(2, "big") for a, p in v4)
    peers6 = b"".join(a.packed + p.to_bytes(2, "big") for a, p in v6)
    out = http.encode_announce_dict(AnnounceResponse(1800, 900, 1, 2, 3, peers4, peers6, warning))
    answer = decode(out, require_sorted_keys=True)
    expected: dict[bytes, object] = {
        b"complete": 1,
        b"downloaded": 3,
        b"incomplete": 2,
        b"interval": 1800,
        b"min interval": 900,
        b"peers": [{b"ip": str(a).encode(), b"port": p} for a, p in [*v4, *v6]],
    }
    if warning:
        expected[b"warning message"] = warning.encode()
    assert answer == expected


def test_encode_announce_dict_example() -> None:
    v6 = ipaddress.ip_address("2001:db8::1").packed
    resp = AnnounceResponse(1800, 900, 0, 0, 0, bytes([192, 0, 2, 1, 0x1A, 0xE1]), v6 + b"\xc8\xd5")
    answer = decode(http.encode_announce_dict(resp))
    assert isinstance(answer, dict)
    assert answer[b"peers"] == [
        {b"ip": b"192.0.2.1", b"port": 6881},
        {b"ip": b"2001:db8::1", b"port": 51413},
    ]
    assert b"peers6" not in answer


@given(st.lists(HASHES, max_size=20, unique=True), st.data())
@FAST
def test_encode_scrape(hashes: list[bytes], data: st.DataObject) -> None:
    values = [
        SwarmCounts(
            complete=data.draw(COUNTS), incomplete=data.draw(COUNTS), downloaded=data.draw(COUNTS)
        )
        for _ in hashes
    ]
    out = http.encode_scrape(hashes, values)
    assert decode(out, require_sorted_keys=True) == {
        b"files": {
            h: {b"complete": c.complete, b"downloaded": c.downloaded, b"incomplete": c.incomplete}
            for h, c in zip(hashes, values, strict=True)
        }
    }


def test_encode_scrape_exact_bytes() -> None:
    out = http.encode_scrape([b"a" * 20], [SwarmCounts(complete=5, incomplete=3, downloaded=9)])
    assert out == b"d5:filesd20:" + b"a" * 20 + b"d8:completei5e10:downloadedi9e10:incompletei3eeee"


def test_encode_scrape_needs_one_count_per_hash() -> None:
    with pytest.raises(ValueError):
        http.encode_scrape([b"a" * 20, b"b" * 20], [SwarmCounts()])


@pytest.mark.parametrize("reason", ["unregistered torrent", "", "passkey invalide \u00e9\u4e2d"])
def test_encode_failure(reason: str) -> None:
    out = http.encode_failure(reason)
    assert decode(out, require_sorted_keys=True) == {b"failure reason": reason.encode()}


def test_encode_failure_exact_bytes() -> None:
    assert (
        http.encode_failure("unregistered torrent") == b"d14:failure reason20:unregistered torrente"
    )


# -- arbitrary bytes only ever raise ProtocolError --------------------------------------------

NAMES = st.sampled_from(
    [
        b"info_hash",
        b"peer_id",
        b"port",
        b"uploaded",
        b"downloaded",
        b"left",
        b"event",
        b"numwant",
        b"ip",
        b"key",
        b"compact",
        b"no_peer_id",
    ]
) | st.binary(max_size=8)
VALUES = st.one_of(
    st.binary(max_size=30),
    st.integers(-(2**70), 2**70).map(lambda n: str(n).encode()),
    st.sampled_from([b"started", b"paused", b"-1", b"0", b"", b"%", b"%G0", b"::1", b"1.2.3.4"]),
    percent_encoded(st.binary(min_size=18, max_size=22)).map(lambda pair: pair[1]),
)
QUERYISH = st.lists(st.tuples(NAMES, st.sampled_from([b"=", b""]), VALUES), max_size=14).map(
    lambda parts: b"&".join(n + sep + v for n, sep, v in parts)
)


@st.composite
def mutated_queries(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.builds(http.announce_query, ANNOUNCES).map(str.encode)))
    for _ in range(draw(st.integers(1, 4))):
        if not raw:
            break
        i = draw(st.integers(0, len(raw) - 1))
        op = draw(st.integers(0, 2))
        if op == 0:
            raw[i] = draw(st.integers(0, 255))
        elif op == 1:
            del raw[i:]
        else:
            raw[i:i] = draw(st.binary(min_size=1, max_size=6))
    return bytes(raw)


def _check_announce(raw: bytes) -> None:
    try:
        req = http.parse_announce(raw)
    except ProtocolError as exc:
        assert exc.replyable
        assert isinstance(exc.message, str)
        assert exc.message
    else:
        assert len(req.info_hash) == 20
        assert len(req.peer_id) == 20
        assert 1 <= req.port <= 65535
        assert 0 <= req.uploaded <= MAX_INT
        assert 0 <= req.downloaded <= MAX_INT
        assert 0 <= req.left <= MAX_INT
        assert req.numwant is None or 0 <= req.numwant <= 2**31
        assert req.ip is None or len(req.ip) in (4, 16)


def _check_scrape(raw: bytes) -> None:
    try:
        req = http.parse_scrape(raw)
    except ProtocolError as exc:
        assert exc.replyable
        assert isinstance(exc.message, str)
        assert exc.message
    else:
        assert 1 <= len(req.info_hashes) <= http.MAX_SCRAPE_HASHES
        assert all(len(h) == 20 for h in req.info_hashes)


@given(st.binary(max_size=300))
@FUZZ
def test_parse_announce_and_scrape_arbitrary_bytes(raw: bytes) -> None:
    _check_announce(raw)
    _check_scrape(raw)


@given(QUERYISH)
@FUZZ
def test_parse_announce_and_scrape_query_shaped_bytes(raw: bytes) -> None:
    _check_announce(raw)
    _check_scrape(raw)


@given(mutated_queries())
@FUZZ
def test_parse_announce_mutated_valid_queries(raw: bytes) -> None:
    _check_announce(raw)
    _check_scrape(raw)
