"""Passkeys in tracker paths: HTTP request paths and BEP 41 URL data in UDP announces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmdex.protocol import udp
from swarmdex.protocol.errors import ProtocolError
from swarmdex.protocol.passkey import MAX_PASSKEY, passkey_in_path, redact_passkey

from .strategies import FAST
from .test_udp import bep15_announce, url_option

KEY = "0123456789abcdef0123456789abcdef"  # what the site makes: 32 lowercase hex digits
ALNUM = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                min_size=1, max_size=MAX_PASSKEY)


@pytest.mark.parametrize("path", [
    f"/announce/{KEY}", f"/scrape/{KEY}", f"/announce/{KEY}?info_hash=x&port=1", f"/scrape/{KEY}?",
])
def test_the_passkey_of_member_paths(path: str) -> None:
    assert passkey_in_path(path.encode()) == KEY


@pytest.mark.parametrize("key", ["a", "Z9", "x" * MAX_PASSKEY, "0123456789ABCDEF"])
def test_any_segment_of_letters_and_digits_is_a_candidate(key: str) -> None:
    # Whether it is a member's is the tracker's question.
    assert passkey_in_path(f"/announce/{key}".encode()) == key


@pytest.mark.parametrize("path", [
    b"/announce", b"/scrape", b"/announce?passkey=" + KEY.encode(), b"/announce/", b"/scrape/",
    b"/announce/?x", f"/announce/{KEY}/".encode(), f"/announce/{KEY}/extra".encode(),
    f"/announce/extra/{KEY}".encode(), f"/scrape/{KEY}/x".encode(), b"/announce/" + b"a" * 65,
    b"/announce/abc-def", b"/announce/abc%20", b"/announce/%41bc", b"/announce/ab.c",
    b"/announce/ab c", b"/announce/\xc3\xa9t\xc3\xa9", b"/announce/\xff\xfe", b"/announce/ab\x00",
    b"/announce/\xd9\xa3",  # an Arabic-Indic digit (UTF-8): a digit to str, not to bytes
    f"/announcements/{KEY}".encode(), f"/x/announce/{KEY}".encode(), f"announce/{KEY}".encode(),
    f"/Announce/{KEY}".encode(), f"//announce/{KEY}".encode(), b"", b"?", b"/",
])
def test_every_other_path_has_none(path: bytes) -> None:
    assert passkey_in_path(path) is None


@given(ALNUM, st.sampled_from([b"/announce/", b"/scrape/"]), st.binary(max_size=40))
@FAST
def test_round_trip_with_any_query(key: str, prefix: bytes, query: bytes) -> None:
    assert passkey_in_path(prefix + key.encode() + b"?" + query) == key


@given(st.binary(max_size=200))
@FAST
def test_any_bytes_give_none_or_a_short_alphanumeric_key(path: bytes) -> None:
    key = passkey_in_path(path)
    if key is not None:
        assert 0 < len(key) <= MAX_PASSKEY and key.isascii() and key.isalnum()
        assert key.encode() in path


def test_redaction_for_logs() -> None:
    assert redact_passkey(f"/announce/{KEY}") == "/announce/[passkey]"
    assert redact_passkey(f"/scrape/{KEY}/extra") == "/scrape/[passkey]"
    assert redact_passkey("/announce/not a key at all") == "/announce/[passkey]"
    for untouched in ("/announce", "/scrape", "/announce/", "/", "/torrents/abc", "/announcements/x"):
        assert redact_passkey(untouched) == untouched


# -- in UDP announces: BEP 41 URL data ---------------------------------------------------------


def url_data_passkey(options: bytes) -> str | None:
    parsed = udp.parse_request(bep15_announce() + options)
    assert isinstance(parsed, udp.UdpAnnounce)
    return passkey_in_path(parsed.url_data)


def test_passkey_in_one_url_data_option() -> None:
    assert url_data_passkey(url_option(f"/announce/{KEY}".encode()) + b"\x00") == KEY


def test_passkey_split_over_several_options_with_nops() -> None:
    # Options are concatenated (BEP 41); a client may cut the path anywhere, even in the key.
    options = (url_option(b"/ann") + b"\x01" + url_option(b"ounce/" + KEY[:5].encode())
               + b"\x01\x01" + url_option(b"") + url_option(KEY[5:].encode()) + b"\x00")
    assert url_data_passkey(options) == KEY


def test_end_of_options_ends_the_path() -> None:
    options = url_option(f"/announce/{KEY}".encode()) + b"\x00" + url_option(b"/extra")
    assert url_data_passkey(options) == KEY
    # Without the end option everything up to the packet's end is the path: an extra segment.
    assert url_data_passkey(url_option(f"/announce/{KEY}".encode()) + url_option(b"/x")) is None


def test_query_in_url_data_is_not_part_of_the_passkey() -> None:
    options = url_option(f"/announce/{KEY}".encode()) + url_option(b"?info_hash=abc&x=y")
    assert url_data_passkey(options) == KEY


def test_no_url_data_or_only_nops_mean_no_passkey() -> None:
    for options in (b"", b"\x00", b"\x01\x01\x00", url_option(b"/announce") + b"\x00"):
        assert url_data_passkey(options) is None


def test_unknown_option_cuts_the_path_where_it_stands() -> None:
    options = url_option(b"/announce/") + b"\x07\x03xyz" + url_option(KEY.encode())
    assert url_data_passkey(options) is None


@pytest.mark.parametrize("options", [
    url_option(f"/announce/{KEY}".encode())[:-1],  # the option's length says one byte more
    url_option(b"/announce/") + b"\x02\x40" + KEY.encode(),
])
def test_truncated_options_are_refused_before_any_passkey(options: bytes) -> None:
    with pytest.raises(ProtocolError, match="truncated URL data option"):
        udp.parse_request(bep15_announce() + options)


def test_the_client_side_carries_a_passkey_url() -> None:
    request = udp.parse_announce(bep15_announce()).request
    long_key = "k" * MAX_PASSKEY
    for path in (f"/announce/{KEY}", f"/announce/{long_key}?" + "q" * 400):
        packet = udp.client_announce(b"\x00" * 8, 9, request, path.encode())
        parsed = udp.parse_request(packet)
        assert isinstance(parsed, udp.UdpAnnounce)
        assert passkey_in_path(parsed.url_data) == path.split("/")[2].partition("?")[0]
