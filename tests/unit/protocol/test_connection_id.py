"""Stateless, expiring UDP connection ids: keyed, bound to an address, short-lived."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmdex.protocol.connection_id import ConnectionIds

from .strategies import FAST

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
ADDRESS = bytes([192, 0, 2, 1]) + (6881).to_bytes(2, "big")
NOW = 1_700_000_000.25  # a realistic wall clock

KEYS = st.binary(min_size=16, max_size=64)
ADDRESSES = st.binary(min_size=6, max_size=6) | st.binary(min_size=18, max_size=18)
# Seconds since the epoch, from long before now until long after.
TIMES = st.floats(min_value=2**16, max_value=2**40, allow_nan=False, allow_infinity=False)
LIFETIMES = st.integers(1, 2**15 - 1)


@given(KEYS, ADDRESSES, TIMES)
@FAST
def test_issue_then_check(key: bytes, address: bytes, now: float) -> None:
    ids = ConnectionIds(key)
    cid = ids.issue(address, now)
    assert isinstance(cid, bytes)
    assert len(cid) == 8
    assert ids.check(cid, address, now) is True


def test_ids_carry_the_time_slot_in_their_first_two_bytes() -> None:
    cid = ConnectionIds(KEY).issue(ADDRESS, NOW)
    assert int.from_bytes(cid[:2], "big") == int(NOW) % 65536


def test_ids_are_deterministic_and_need_no_state() -> None:
    # Another instance with the same key (another tracker process) accepts them.
    cid = ConnectionIds(KEY).issue(ADDRESS, NOW)
    assert ConnectionIds(KEY).issue(ADDRESS, NOW) == cid
    assert ConnectionIds(KEY).check(cid, ADDRESS, NOW + 30)


def test_ids_differ_by_second_address_and_key() -> None:
    ids = ConnectionIds(KEY)
    base = ids.issue(ADDRESS, NOW)
    assert ids.issue(ADDRESS, NOW + 0.5) == base  # same second
    assert ids.issue(ADDRESS, NOW + 1) != base
    assert ids.issue(ADDRESS[:4] + b"\x1a\xe2", NOW) != base
    assert ConnectionIds(OTHER_KEY).issue(ADDRESS, NOW) != base


@pytest.mark.parametrize("lifetime", [1, 5, 60, 120, 32767])
def test_lifetime_boundary_is_exact(lifetime: int) -> None:
    ids = ConnectionIds(KEY, lifetime=lifetime)
    issued = float(int(NOW))
    cid = ids.issue(ADDRESS, issued)
    assert ids.check(cid, ADDRESS, issued + lifetime)
    assert ids.check(cid, ADDRESS, issued + lifetime + 0.999)  # still that second
    assert not ids.check(cid, ADDRESS, issued + lifetime + 1)


def test_every_age_up_to_the_default_lifetime_is_accepted_and_none_after() -> None:
    ids = ConnectionIds(KEY)
    assert ids.lifetime == 120
    cid = ids.issue(ADDRESS, NOW)
    for age in range(121):
        assert ids.check(cid, ADDRESS, NOW + age), age
    for age in (*range(121, 400), 32767, 32768, 65535):
        assert not ids.check(cid, ADDRESS, NOW + age), age


@pytest.mark.parametrize("laps", [1, 2, 1000])
@pytest.mark.parametrize("extra", [0, 1, 60, 120])
def test_ids_from_a_whole_slot_wrap_ago_are_refused(laps: int, extra: int) -> None:
    # The id carries 16 bits of time, so after 65536 s its slot looks fresh again: the MAC,
    # which covers the full slot, must still refuse it.
    ids = ConnectionIds(KEY)
    cid = ids.issue(ADDRESS, NOW)
    assert not ids.check(cid, ADDRESS, NOW + laps * 65536 + extra)


@given(KEYS, ADDRESSES, TIMES, LIFETIMES, st.data())
@FAST
def test_age_property(
    key: bytes, address: bytes, now: float, lifetime: int, data: st.DataObject
) -> None:
    ids = ConnectionIds(key, lifetime=lifetime)
    cid = ids.issue(address, now)
    age = data.draw(st.integers(0, lifetime + 5) | st.integers(0, 3 * 65536))
    assert ids.check(cid, address, int(now) + age) is (age <= lifetime)


@pytest.mark.parametrize("ahead", [1, 2, 5, 30, 120, 121, 1000])
def test_ids_from_the_future_are_refused(ahead: int) -> None:
    # The clock went back (or the id was made for a later time): refuse rather than guess.
    ids = ConnectionIds(KEY)
    cid = ids.issue(ADDRESS, NOW + ahead)
    assert not ids.check(cid, ADDRESS, NOW)


@pytest.mark.parametrize("before_wrap", [1, 2, 30, 119, 120])
@pytest.mark.parametrize("lap", [26_000, 26_001])  # 26_000 * 65536 s is late 2023
def test_slot_wrap_around(before_wrap: int, lap: int) -> None:
    ids = ConnectionIds(KEY)
    issued = lap * 65536 - before_wrap
    cid = ids.issue(ADDRESS, issued + 0.9)
    assert cid[:2] == (65536 - before_wrap).to_bytes(2, "big")
    for after in range(0, 121 - before_wrap):
        assert ids.check(cid, ADDRESS, lap * 65536 + after), after
    assert ids.check(cid, ADDRESS, issued + 120)
    assert not ids.check(cid, ADDRESS, issued + 121)


def test_issued_exactly_on_the_wrap() -> None:
    ids = ConnectionIds(KEY)
    issued = 26_000 * 65536
    cid = ids.issue(ADDRESS, issued)
    assert cid[:2] == b"\x00\x00"
    assert ids.check(cid, ADDRESS, issued)
    assert ids.check(cid, ADDRESS, issued + 120)
    assert not ids.check(cid, ADDRESS, issued - 1)


@given(KEYS, ADDRESSES, ADDRESSES, TIMES)
@FAST
def test_id_is_bound_to_the_address(key: bytes, address: bytes, other: bytes, now: float) -> None:
    ids = ConnectionIds(key)
    cid = ids.issue(address, now)
    assert ids.check(cid, other, now) is (other == address)


def test_nearby_addresses_are_refused() -> None:
    ids = ConnectionIds(KEY)
    cid = ids.issue(ADDRESS, NOW)
    for other in (
        ADDRESS[:4] + b"\x1a\xe2",  # another port
        bytes([192, 0, 2, 2]) + ADDRESS[4:],  # another host
        ADDRESS[:4],  # address without port
        ADDRESS + b"\x00",
        b"",
    ):
        assert not ids.check(cid, other, NOW)


@given(KEYS, KEYS, ADDRESSES, TIMES)
@FAST
def test_id_is_bound_to_the_key(key: bytes, other: bytes, address: bytes, now: float) -> None:
    cid = ConnectionIds(key).issue(address, now)
    assert ConnectionIds(other).check(cid, address, now) is (other == key)


def test_every_single_bit_flip_is_refused() -> None:
    ids = ConnectionIds(KEY)
    for issued in (NOW, 26_000 * 65536, 26_000 * 65536 - 1, 26_000 * 65536 + 1):
        cid = int.from_bytes(ids.issue(ADDRESS, issued), "big")
        for bit in range(64):
            forged = (cid ^ (1 << bit)).to_bytes(8, "big")
            for later in (0, 1, 60, 120):
                assert not ids.check(forged, ADDRESS, issued + later), (issued, bit, later)


@given(st.binary(min_size=8, max_size=8), ADDRESSES, TIMES)
@FAST
def test_arbitrary_ids_are_refused(cid: bytes, address: bytes, now: float) -> None:
    # A random id passes only if its 48-bit MAC happens to match: odds of 2**-48 a try.
    assert ConnectionIds(KEY).check(cid, address, now) is False


def test_check_near_the_start_of_the_clock_refuses_instead_of_raising() -> None:
    # check() is a pure function of its inputs: a clock that starts near zero (a test clock,
    # a monotonic clock) must not make a forged id raise OverflowError instead of False.
    ids = ConnectionIds(KEY)
    forged = b"\xff\xff" + bytes(6)  # slot 65535: "issued" a few seconds before 0
    for now in (0.0, 5.0, 119.0):
        assert ids.check(forged, ADDRESS, now) is False, now


@pytest.mark.parametrize("length", [0, 1, 6, 7, 9, 16])
def test_wrong_length_is_refused(length: int) -> None:
    ids = ConnectionIds(KEY)
    cid = ids.issue(ADDRESS, NOW)
    candidate = (cid * 2)[:length]
    assert ids.check(candidate, ADDRESS, NOW) is False


@pytest.mark.parametrize("length", [16, 17, 32, 64])
def test_key_lengths_accepted(length: int) -> None:
    ConnectionIds(b"k" * length)


@pytest.mark.parametrize("length", [0, 1, 8, 15, 65, 128])
def test_key_lengths_refused(length: int) -> None:
    with pytest.raises(ValueError, match="16 to 64 bytes"):
        ConnectionIds(b"k" * length)


@pytest.mark.parametrize("lifetime", [1, 60, 120, 3600, 32767])
def test_lifetimes_accepted(lifetime: int) -> None:
    assert ConnectionIds(KEY, lifetime=lifetime).lifetime == lifetime


@pytest.mark.parametrize("lifetime", [0, -1, -120, 32768, 65535, 65536, 10**9])
def test_silly_lifetimes_refused(lifetime: int) -> None:
    # Anything at or beyond half the 16-bit slot range would make old and future ids ambiguous.
    with pytest.raises(ValueError, match="lifetime"):
        ConnectionIds(KEY, lifetime=lifetime)
