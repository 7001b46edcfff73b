"""BEP 15 UDP tracker packets with BEP 41 URL data: layouts, round trips, limits, fuzzing."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmdex.protocol import udp
from swarmdex.protocol.announce import AnnounceRequest, Event, SwarmCounts
from swarmdex.protocol.errors import ProtocolError

from .strategies import FAST, FUZZ, HASHES, announce_requests

BEP15_PROTOCOL_ID = 0x41727101980
U32 = st.integers(0, 2**32 - 1)
U64 = st.integers(0, 2**64 - 1)
TXIDS = U32
CONNECTION_IDS = st.binary(min_size=8, max_size=8)


# -- packets built by hand from BEP 15, independent of the module under test ---------------


def bep15_connect(txid: int, protocol_id: int = BEP15_PROTOCOL_ID) -> bytes:
    return struct.pack(">Q", protocol_id) + struct.pack(">I", 0) + struct.pack(">I", txid)


def bep15_announce(
    *,
    connection_id: int = 0x1122334455667788,
    action: int = 1,
    txid: int = 0xCAFEBABE,
    info_hash: bytes = bytes(range(20)),
    peer_id: bytes = b"-SD0001-abcdefghijkl",
    downloaded: int = 1_000,
    left: int = 2_000,
    uploaded: int = 3_000,
    event: int = 0,
    ip: int = 0,
    key: int = 0xDEADBEEF,
    num_want: int = -1,
    port: int = 6881,
) -> bytes:
    """Offsets 0, 8, 12, 16, 36, 56, 64, 72, 80, 84, 88, 92, 96; 98 bytes (BEP 15)."""
    return b"".join(
        [
            struct.pack(">Q", connection_id),
            struct.pack(">I", action),
            struct.pack(">I", txid),
            info_hash,
            peer_id,
            struct.pack(">Q", downloaded),
            struct.pack(">Q", left),
            struct.pack(">Q", uploaded),
            struct.pack(">I", event),
            struct.pack(">I", ip),
            struct.pack(">I", key),
            struct.pack(">i", num_want),
            struct.pack(">H", port),
        ]
    )


def bep15_scrape(
    hashes: list[bytes], connection_id: int = 0x0102030405060708, txid: int = 7
) -> bytes:
    return struct.pack(">QII", connection_id, 2, txid) + b"".join(hashes)


def url_option(chunk: bytes) -> bytes:
    assert len(chunk) <= 255
    return bytes((2, len(chunk))) + chunk


def url_data_of(packet: bytes) -> bytes:
    parsed = udp.parse_request(packet)
    assert isinstance(parsed, udp.UdpAnnounce)
    return parsed.url_data


def hashes_of(packet: bytes) -> list[bytes]:
    parsed = udp.parse_request(packet)
    assert isinstance(parsed, udp.UdpScrape)
    return parsed.info_hashes


def raises_protocol_error(
    packet: bytes, parse: Callable[[bytes], object] = udp.parse_request
) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(packet)
    return info.value


# -- strategies ------------------------------------------------------------------------------


# Requests that survive a UDP round trip unchanged (key is always sent; ip 0 means none).
ANNOUNCES = announce_requests(
    counters=U64,
    numwant=st.none() | st.integers(0, 2**31 - 1),
    ip=st.none() | st.binary(min_size=4, max_size=4).filter(any),
    key=U32,
)


URL_DATA = st.binary(max_size=udp.MAX_URL_DATA)

valid_requests = st.one_of(
    TXIDS.map(udp.client_connect),
    st.builds(
        udp.client_announce, CONNECTION_IDS, TXIDS, ANNOUNCES, st.binary(max_size=600)
    ),
    st.builds(udp.client_scrape, CONNECTION_IDS, TXIDS, st.lists(HASHES, min_size=1, max_size=80)),
)

counts = st.builds(SwarmCounts, complete=U32, incomplete=U32, downloaded=U32)

valid_replies = st.one_of(
    st.builds(udp.encode_connect, TXIDS, CONNECTION_IDS),
    st.builds(udp.encode_announce, TXIDS, U32, U32, U32, st.binary(max_size=18 * 10)),
    st.builds(udp.encode_scrape, TXIDS, st.lists(counts, max_size=10)),
    st.builds(udp.encode_error, TXIDS, st.text(max_size=50)),
)


@st.composite
def mutated(draw: st.DrawFn, packets: st.SearchStrategy[bytes]) -> bytes:
    """A valid packet with a few random byte flips, truncations, insertions or deletions."""
    packet = bytearray(draw(packets))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "append", "insert", "delete"]))
        if op in ("flip", "set", "delete") and not packet:
            continue
        if op == "flip":
            i = draw(st.integers(0, len(packet) - 1))
            packet[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            i = draw(st.integers(0, len(packet) - 1))
            packet[i] = draw(st.integers(0, 255))
        elif op == "truncate":
            del packet[draw(st.integers(0, len(packet))) :]
        elif op == "append":
            packet += draw(st.binary(min_size=1, max_size=40))
        elif op == "insert":
            i = draw(st.integers(0, len(packet)))
            packet[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            i = draw(st.integers(0, len(packet) - 1))
            del packet[i : i + draw(st.integers(1, 8))]
    return bytes(packet)


def assert_well_formed(request: udp.UdpRequest) -> None:
    """What the tracker may rely on for anything parse_request returns."""
    if isinstance(request, udp.ConnectRequest):
        assert 0 <= request.transaction_id < 2**32
    elif isinstance(request, udp.UdpAnnounce):
        req = request.request
        assert len(request.connection_id) == 8
        assert len(req.info_hash) == 20
        assert len(req.peer_id) == 20
        assert 1 <= req.port <= 65535
        assert isinstance(req.event, Event)
        assert req.numwant is None or 0 <= req.numwant < 2**31
        assert req.ip is None or len(req.ip) == 4
        assert len(request.url_data) <= udp.MAX_URL_DATA
    else:
        assert isinstance(request, udp.UdpScrape)
        assert len(request.connection_id) == 8
        assert 1 <= len(request.info_hashes) <= udp.MAX_SCRAPE_HASHES
        assert all(len(h) == 20 for h in request.info_hashes)


def assert_sound_error(exc: ProtocolError, packet: bytes) -> None:
    assert isinstance(exc.message, str)
    assert exc.message
    assert str(exc) == exc.message
    assert isinstance(exc.replyable, bool)
    if len(packet) < 16:
        assert not exc.replyable, "no transaction id to answer"


# -- connect ----------------------------------------------------------------------------------


def test_protocol_id_is_bep15_magic() -> None:
    assert udp.PROTOCOL_ID == BEP15_PROTOCOL_ID
    assert udp.client_connect(0)[:8] == bytes.fromhex("0000041727101980")


@given(TXIDS)
@FAST
def test_connect_request_layout_and_round_trip(txid: int) -> None:
    packet = udp.client_connect(txid)
    assert packet == bep15_connect(txid)
    assert len(packet) == 16
    assert udp.parse_request(packet) == udp.ConnectRequest(txid)
    assert udp.transaction_id(packet) == txid


@given(U64.filter(lambda v: v != BEP15_PROTOCOL_ID), TXIDS)
@FAST
def test_connect_with_wrong_protocol_id_is_not_replyable(protocol_id: int, txid: int) -> None:
    exc = raises_protocol_error(bep15_connect(txid, protocol_id))
    assert exc.replyable is False
    assert exc.message == "bad protocol id"


def test_connect_with_protocol_id_one_bit_off_is_refused() -> None:
    for bit in range(64):
        exc = raises_protocol_error(bep15_connect(1, BEP15_PROTOCOL_ID ^ (1 << bit)))
        assert exc.replyable is False


@given(TXIDS, CONNECTION_IDS)
@FAST
def test_connect_reply_layout_and_round_trip(txid: int, cid: bytes) -> None:
    packet = udp.encode_connect(txid, cid)
    assert packet == struct.pack(">II", 0, txid) + cid
    assert udp.parse_reply(packet) == udp.ConnectReply(txid, cid)


# -- announce ---------------------------------------------------------------------------------


def test_announce_request_matches_bep15_layout() -> None:
    req = AnnounceRequest(
        info_hash=bytes(range(20)),
        peer_id=b"-SD0001-abcdefghijkl",
        port=6881,
        uploaded=3_000,
        downloaded=1_000,
        left=2_000,
        event=Event.STARTED,
        numwant=50,
        key=0xDEADBEEF,
        ip=bytes([192, 0, 2, 7]),
    )
    packet = udp.client_announce(bytes.fromhex("1122334455667788"), 0xCAFEBABE, req)
    expected = bep15_announce(event=2, num_want=50, ip=0xC0000207)
    assert len(expected) == 98
    assert packet == expected
    parsed = udp.parse_request(expected)
    assert parsed == udp.UdpAnnounce(bytes.fromhex("1122334455667788"), 0xCAFEBABE, req, b"")


def test_announce_fields_are_read_from_their_bep15_offsets() -> None:
    packet = bep15_announce(
        connection_id=0x0101010101010101,
        txid=0x02020202,
        info_hash=b"\x03" * 20,
        peer_id=b"\x04" * 20,
        downloaded=0x0505050505050505,
        left=0x0606060606060606,
        uploaded=0x0707070707070707,
        event=3,
        ip=0x09090909,
        key=0x0A0A0A0A,
        num_want=0x0B0B0B0B,
        port=0x0C0C,
    )
    parsed = udp.parse_request(packet)
    assert isinstance(parsed, udp.UdpAnnounce)
    assert parsed.connection_id == b"\x01" * 8
    assert parsed.transaction_id == 0x02020202
    req = parsed.request
    assert req.info_hash == b"\x03" * 20
    assert req.peer_id == b"\x04" * 20
    assert req.downloaded == 0x0505050505050505
    assert req.left == 0x0606060606060606
    assert req.uploaded == 0x0707070707070707
    assert req.event is Event.STOPPED
    assert req.ip == b"\x09" * 4
    assert req.key == 0x0A0A0A0A
    assert req.numwant == 0x0B0B0B0B
    assert req.port == 0x0C0C
    assert parsed.url_data == b""


@pytest.mark.parametrize(
    ("number", "event"),
    [(0, Event.NONE), (1, Event.COMPLETED), (2, Event.STARTED), (3, Event.STOPPED)],
)
def test_announce_event_numbers(number: int, event: Event) -> None:
    parsed = udp.parse_request(bep15_announce(event=number))
    assert isinstance(parsed, udp.UdpAnnounce)
    assert parsed.request.event is event


@pytest.mark.parametrize(
    ("num_want", "expected"),
    [(-1, None), (-2, None), (-(2**31), None), (0, 0), (1, 1), (2**31 - 1, 2**31 - 1)],
)
def test_announce_num_want(num_want: int, expected: int | None) -> None:
    parsed = udp.parse_request(bep15_announce(num_want=num_want))
    assert isinstance(parsed, udp.UdpAnnounce)
    assert parsed.request.numwant == expected


def test_announce_ip_zero_means_none() -> None:
    parsed = udp.parse_request(bep15_announce(ip=0))
    assert isinstance(parsed, udp.UdpAnnounce)
    assert parsed.request.ip is None
    parsed = udp.parse_request(bep15_announce(ip=1))
    assert isinstance(parsed, udp.UdpAnnounce)
    assert parsed.request.ip == b"\x00\x00\x00\x01"


def test_client_encodes_missing_numwant_ip_and_key_as_bep15_defaults() -> None:
    req = AnnounceRequest(b"h" * 20, b"p" * 20, 1, 0, 0, 0, Event.NONE, numwant=None)
    packet = udp.client_announce(b"\x00" * 8, 1, req)
    assert packet[84:88] == b"\x00\x00\x00\x00"  # ip
    assert packet[88:92] == b"\x00\x00\x00\x00"  # key
    assert packet[92:96] == b"\xff\xff\xff\xff"  # num_want -1


@given(CONNECTION_IDS, TXIDS, ANNOUNCES)
@FAST
def test_announce_round_trip(cid: bytes, txid: int, req: AnnounceRequest) -> None:
    packet = udp.client_announce(cid, txid, req)
    assert len(packet) == 98
    assert udp.transaction_id(packet) == txid
    assert udp.parse_request(packet) == udp.UdpAnnounce(cid, txid, req, b"")
    assert udp.parse_announce(packet) == udp.UdpAnnounce(cid, txid, req, b"")


@pytest.mark.parametrize("event", [4, 5, 255, 2**31, 2**32 - 1])
def test_announce_unknown_event_is_refused(event: int) -> None:
    exc = raises_protocol_error(bep15_announce(event=event))
    assert exc.message == "unknown event"
    assert exc.replyable


def test_announce_port_zero_is_refused() -> None:
    exc = raises_protocol_error(bep15_announce(port=0))
    assert exc.message == "invalid port"
    assert exc.replyable


@pytest.mark.parametrize("length", [16, 20, 56, 97])
def test_announce_shorter_than_98_bytes_is_refused_with_a_reply(length: int) -> None:
    exc = raises_protocol_error(bep15_announce()[:length])
    assert exc.message == "announce packet too short"
    assert exc.replyable


PEER_LISTS = st.lists(st.binary(min_size=6, max_size=6), max_size=20) | st.lists(
    st.binary(min_size=18, max_size=18), max_size=20
)


@given(TXIDS, U32, U32, U32, PEER_LISTS)
@FAST
def test_announce_reply_layout_and_round_trip(
    txid: int, interval: int, leechers: int, seeders: int, peers: list[bytes]
) -> None:
    blob = b"".join(peers)
    packet = udp.encode_announce(txid, interval, leechers, seeders, blob)
    assert packet == struct.pack(">IIIII", 1, txid, interval, leechers, seeders) + blob
    assert udp.parse_reply(packet) == udp.AnnounceReply(txid, interval, leechers, seeders, blob)


# -- BEP 41 URL data --------------------------------------------------------------------------


@given(CONNECTION_IDS, TXIDS, ANNOUNCES, URL_DATA)
@FAST
def test_url_data_round_trip(cid: bytes, txid: int, req: AnnounceRequest, url: bytes) -> None:
    packet = udp.client_announce(cid, txid, req, url)
    parsed = udp.parse_request(packet)
    assert parsed == udp.UdpAnnounce(cid, txid, req, url)


def test_client_splits_url_data_into_255_byte_options() -> None:
    url = bytes(i % 251 for i in range(600))
    packet = udp.client_announce(b"\x00" * 8, 1, udp.parse_announce(bep15_announce()).request, url)
    options = packet[98:]
    assert options == (
        b"\x02\xff" + url[:255] + b"\x02\xff" + url[255:510] + b"\x02\x5a" + url[510:] + b"\x00"
    )
    assert url_data_of(packet) == url


def test_client_url_data_of_exactly_255_bytes_is_one_option() -> None:
    url = b"/" + b"a" * 254
    packet = udp.client_announce(b"\x00" * 8, 1, udp.parse_announce(bep15_announce()).request, url)
    assert packet[98:] == b"\x02\xff" + url + b"\x00"


def test_url_data_split_over_options_with_nops_and_end() -> None:
    # A passkey URL split over several URLData options, with NOPs sprinkled in.
    options = (
        b"\x01"
        + url_option(b"/announce")
        + b"\x01\x01"
        + url_option(b"?passkey=")
        + url_option(b"")
        + url_option(b"abc")
        + b"\x00"
        + b"junk after the end option is ignored \x02\x05"
    )
    parsed = udp.parse_request(bep15_announce() + options)
    assert isinstance(parsed, udp.UdpAnnounce)
    assert parsed.url_data == b"/announce?passkey=abc"
    assert parsed.request.port == 6881


def test_url_data_without_end_option_runs_to_the_end_of_the_packet() -> None:
    packet = bep15_announce() + url_option(b"/a") + b"\x01" + url_option(b"/b")
    assert url_data_of(packet) == b"/a/b"


def test_only_end_option_or_only_nops_mean_no_url_data() -> None:
    for options in (b"\x00", b"\x01", b"\x01" * 50, b"\x01\x00\x02\x03abc"):
        assert url_data_of(bep15_announce() + options) == b""


@pytest.mark.parametrize("kind", [3, 4, 0x7F, 0xFF])
def test_unknown_option_stops_reading_options(kind: int) -> None:
    packet = bep15_announce() + url_option(b"/ok") + bytes((kind, 3)) + b"xyz" + url_option(b"/no")
    assert url_data_of(packet) == b"/ok"


def test_url_data_option_without_length_byte_at_the_end_is_ignored() -> None:
    assert url_data_of(bep15_announce() + url_option(b"/x") + b"\x02") == b"/x"


@pytest.mark.parametrize(
    "options", [b"\x02\x05abcd", b"\x02\xff", b"\x02\x01", url_option(b"/a") + b"\x02\x10/b"]
)
def test_truncated_url_data_option_is_refused(options: bytes) -> None:
    exc = raises_protocol_error(bep15_announce() + options)
    assert exc.message == "truncated URL data option"
    assert exc.replyable


def test_url_data_limit() -> None:
    at_limit = b"/" * udp.MAX_URL_DATA
    packet = udp.client_announce(
        b"\x00" * 8, 1, udp.parse_announce(bep15_announce()).request, at_limit
    )
    assert url_data_of(packet) == at_limit
    over = udp.client_announce(
        b"\x00" * 8, 1, udp.parse_announce(bep15_announce()).request, at_limit + b"x"
    )
    exc = raises_protocol_error(over)
    assert exc.message == "URL data too long"
    assert exc.replyable


@st.composite
def option_sequences(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """BEP 41 options as a client may lay them out, and the URL data they carry."""
    options = bytearray()
    url = bytearray()
    budget = udp.MAX_URL_DATA
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.booleans()):
            options += b"\x01" * draw(st.integers(1, 3))
        else:
            chunk = draw(st.binary(max_size=min(255, budget)))
            budget -= len(chunk)
            options += url_option(chunk)
            url += chunk
    if draw(st.booleans()):
        options += b"\x00" + draw(st.binary(max_size=30))
    return bytes(options), bytes(url)


@given(option_sequences())
@FAST
def test_any_option_layout_yields_the_concatenated_url_data(case: tuple[bytes, bytes]) -> None:
    options, url = case
    parsed = udp.parse_request(bep15_announce() + options)
    assert isinstance(parsed, udp.UdpAnnounce)
    assert parsed.url_data == url


# -- scrape -----------------------------------------------------------------------------------


@given(CONNECTION_IDS, TXIDS, st.lists(HASHES, min_size=1, max_size=udp.MAX_SCRAPE_HASHES))
@FAST
def test_scrape_request_layout_and_round_trip(cid: bytes, txid: int, hashes: list[bytes]) -> None:
    packet = udp.client_scrape(cid, txid, hashes)
    assert packet == bep15_scrape(hashes, int.from_bytes(cid, "big"), txid)
    assert len(packet) == 16 + 20 * len(hashes)
    assert udp.parse_request(packet) == udp.UdpScrape(cid, txid, hashes)


def test_scrape_keeps_repeated_hashes_in_order() -> None:
    hashes = [b"b" * 20, b"a" * 20, b"b" * 20]
    assert hashes_of(bep15_scrape(hashes)) == hashes


def test_scrape_with_no_hash_is_refused() -> None:
    exc = raises_protocol_error(bep15_scrape([]))
    assert exc.message == "scrape needs whole 20-byte info hashes"
    assert exc.replyable


@pytest.mark.parametrize("body", [1, 19, 21, 39, 20 * 74 + 1])
def test_scrape_with_partial_hash_is_refused(body: int) -> None:
    exc = raises_protocol_error(bep15_scrape([b"x" * body]))
    assert exc.message == "scrape needs whole 20-byte info hashes"
    assert exc.replyable


def test_scrape_hash_limit() -> None:
    assert udp.MAX_SCRAPE_HASHES == 74
    hashes = [bytes([i]) * 20 for i in range(74)]
    assert hashes_of(bep15_scrape(hashes)) == hashes
    exc = raises_protocol_error(bep15_scrape([*hashes, b"z" * 20]))
    assert exc.message == "too many info hashes (at most 74)"
    assert exc.replyable


@given(TXIDS, st.lists(counts, max_size=udp.MAX_SCRAPE_HASHES))
@FAST
def test_scrape_reply_layout_and_round_trip(txid: int, values: list[SwarmCounts]) -> None:
    packet = udp.encode_scrape(txid, values)
    # BEP 15 orders each entry seeders, completed, leechers.
    expected = struct.pack(">II", 2, txid) + b"".join(
        struct.pack(">III", c.complete, c.downloaded, c.incomplete) for c in values
    )
    assert packet == expected
    assert udp.parse_reply(packet) == udp.ScrapeReply(txid, values)


# -- errors, unknown actions, short packets ---------------------------------------------------


@pytest.mark.parametrize("action", [3, 4, 255, 2**16, 2**32 - 1])
def test_unknown_action_is_refused_with_a_reply(action: int) -> None:
    packet = struct.pack(">QII", BEP15_PROTOCOL_ID, action, 99) + b"\x00" * 82
    for length in (16, 98):
        exc = raises_protocol_error(packet[:length])
        assert exc.message == "unknown action"
        assert exc.replyable


@pytest.mark.parametrize("length", range(16))
def test_packet_shorter_than_16_bytes_is_not_replyable(length: int) -> None:
    for packet in (bep15_connect(5)[:length], bep15_announce()[:length], b"\xff" * length):
        exc = raises_protocol_error(packet)
        assert exc.replyable is False
        assert udp.transaction_id(packet) is None


@pytest.mark.parametrize("length", [0, 12])
def test_parse_announce_on_packet_without_transaction_id_is_not_replyable(length: int) -> None:
    # parse_announce is the tracker's fast path for announces; it must honour the same
    # contract as parse_request: no transaction id, nobody to answer.
    exc = raises_protocol_error(bep15_announce()[:length], udp.parse_announce)
    assert exc.replyable is False


@given(st.binary(max_size=120))
@FAST
def test_transaction_id(packet: bytes) -> None:
    if len(packet) < 16:
        assert udp.transaction_id(packet) is None
    else:
        assert udp.transaction_id(packet) == struct.unpack(">I", packet[12:16])[0]


@given(TXIDS, st.text(max_size=100))
@FAST
def test_error_reply_layout_and_round_trip(txid: int, message: str) -> None:
    packet = udp.encode_error(txid, message)
    wire = message.encode("utf-8", "replace")
    assert packet == struct.pack(">II", 3, txid) + wire
    reply = udp.parse_reply(packet)
    assert reply == udp.ErrorReply(txid, wire.decode("utf-8"))


def test_error_reply_survives_unencodable_and_undecodable_text() -> None:
    assert udp.parse_reply(udp.encode_error(1, "bad \udcff id")) == udp.ErrorReply(1, "bad ? id")
    assert udp.parse_reply(struct.pack(">II", 3, 1) + b"\xff\xfe") == udp.ErrorReply(
        1, "\ufffd\ufffd"
    )


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (b"", "reply too short"),
        (b"\x00" * 7, "reply too short"),
        (struct.pack(">II", 0, 1), "bad connect reply length"),
        (struct.pack(">II", 0, 1) + b"\x00" * 7, "bad connect reply length"),
        (struct.pack(">II", 0, 1) + b"\x00" * 9, "bad connect reply length"),
        (struct.pack(">II", 1, 1) + b"\x00" * 11, "announce reply too short"),
        (struct.pack(">II", 2, 1) + b"\x00" * 11, "bad scrape reply length"),
        (struct.pack(">II", 2, 1) + b"\x00" * 13, "bad scrape reply length"),
        (struct.pack(">II", 4, 1), "unknown action in reply"),
        (struct.pack(">II", 2**32 - 1, 1) + b"\x00" * 20, "unknown action in reply"),
    ],
)
def test_malformed_replies(packet: bytes, message: str) -> None:
    assert raises_protocol_error(packet, udp.parse_reply).message == message


def test_empty_scrape_and_announce_replies() -> None:
    assert udp.parse_reply(struct.pack(">II", 2, 9)) == udp.ScrapeReply(9, [])
    assert udp.parse_reply(udp.encode_announce(9, 1800, 0, 0, b"")) == udp.AnnounceReply(
        9, 1800, 0, 0, b""
    )


# -- arbitrary bytes only ever raise ProtocolError --------------------------------------------


def _parse_request_or_error(packet: bytes) -> None:
    try:
        request = udp.parse_request(packet)
    except ProtocolError as exc:
        assert_sound_error(exc, packet)
        if not exc.replyable:
            head, action = struct.unpack_from(">QI", packet) if len(packet) >= 12 else (0, 0)
            assert len(packet) < 16 or (action == 0 and head != BEP15_PROTOCOL_ID)
    else:
        assert_well_formed(request)


@given(st.binary(max_size=400))
@FUZZ
def test_parse_request_arbitrary_bytes(packet: bytes) -> None:
    _parse_request_or_error(packet)


@given(st.sampled_from([0, 1, 2, 3, 4]), st.binary(min_size=8, max_size=8), st.binary(max_size=300))
@FUZZ
def test_parse_request_arbitrary_bodies_for_each_action(
    action: int, head: bytes, rest: bytes
) -> None:
    _parse_request_or_error(head + struct.pack(">I", action) + rest)


@given(mutated(valid_requests))
@FUZZ
def test_parse_request_mutated_valid_packets(packet: bytes) -> None:
    _parse_request_or_error(packet)


@given(st.binary(max_size=300) | mutated(valid_requests))
@FUZZ
def test_parse_announce_arbitrary_bytes(packet: bytes) -> None:
    try:
        request = udp.parse_announce(packet)
    except ProtocolError as exc:
        assert isinstance(exc.message, str)
        assert exc.message
    else:
        assert_well_formed(request)


@given(st.binary(max_size=300) | mutated(valid_replies))
@FUZZ
def test_parse_reply_arbitrary_bytes(packet: bytes) -> None:
    try:
        reply = udp.parse_reply(packet)
    except ProtocolError as exc:
        assert isinstance(exc.message, str)
        assert exc.message
    else:
        assert isinstance(
            reply, udp.ConnectReply | udp.AnnounceReply | udp.ScrapeReply | udp.ErrorReply
        )
        assert reply.transaction_id == struct.unpack(">I", packet[4:8])[0]


# -- answers to senders that have not proved their address -----------------------------------

ACTIONS = st.sampled_from([udp.CONNECT, udp.ANNOUNCE, udp.SCRAPE, udp.ERROR, 4, 2**32 - 1])
PACKETS = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda head, action, txid, body: struct.pack(">QII", head, action, txid) + body,
        st.one_of(U64, st.just(BEP15_PROTOCOL_ID)),
        ACTIONS,
        TXIDS,
        st.binary(max_size=1600),
    ),
)
MESSAGES = st.one_of(st.text(max_size=300), st.just("connection id expired or invalid, connect again"))


@FUZZ
@given(PACKETS, MESSAGES)
def test_no_answer_to_an_unproved_sender_is_larger_than_its_packet(packet: bytes, message: str) -> None:
    """Whatever arrives before a valid connection id (a malformed packet, a connect, an
    announce or scrape whose id the server refuses), the answer fits in the packet: a forged
    source address gains an attacker no amplification."""
    answers: list[tuple[bytes | None, str]] = [(udp.reject(packet, message), message)]
    try:
        request = udp.parse_request(packet)
    except ProtocolError as exc:
        if exc.replyable:
            answers.append((udp.reject(packet, exc.message), exc.message))
    else:
        if isinstance(request, udp.ConnectRequest):
            answers.append((udp.encode_connect(request.transaction_id, bytes(8)), ""))
    for answer, said in answers:
        if answer is None:
            assert len(packet) < 16, "a packet with a transaction id went unanswered"
            continue
        assert len(answer) <= len(packet)
        reply = udp.parse_reply(answer)
        assert reply.transaction_id == udp.transaction_id(packet)
        if isinstance(reply, udp.ErrorReply):
            # Cut between characters, never inside one: the start of the message, intact.
            assert said.encode("utf-8", "replace").startswith(reply.message.encode())


def test_a_fitting_error_is_answered_whole_and_a_long_one_cut() -> None:
    packet = udp.client_scrape(bytes(8), 5, [bytes(20)])  # 36 bytes
    assert udp.parse_reply(udp.reject(packet, "short") or b"") == udp.ErrorReply(5, "short")
    cut = udp.reject(packet, "é" * 40) or b""
    assert len(cut) == 36 and udp.parse_reply(cut) == udp.ErrorReply(5, "é" * 14)
    assert udp.reject(b"\0" * 15, "too short") is None
