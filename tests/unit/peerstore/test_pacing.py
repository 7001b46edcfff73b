"""`Pacer` (GCRA in a fixed table) and `address_bucket`."""

from __future__ import annotations

import logging

import pytest

from swarmdex.peerstore.pacing import LimitLog, Pacer, address_bucket

T0 = 1_750_000_000.0


@pytest.mark.parametrize(("burst", "per"), [(1, 1.0), (3, 60.0), (7, 60.0), (8, 300.0), (300, 300.0)])
def test_a_burst_passes_at_once_then_one_per_emission(burst: int, per: float) -> None:
    pacer = Pacer(burst, per, slots=64)
    assert all(pacer.allow(b"key", T0) for _ in range(burst))
    assert not pacer.allow(b"key", T0)
    step = per / burst
    assert not pacer.allow(b"key", T0 + step * 0.9)
    assert pacer.allow(b"key", T0 + step * 1.1)
    assert not pacer.allow(b"key", T0 + step * 1.1)
    # A long pause refills the whole burst, never more.
    later = T0 + 10 * per
    assert sum(pacer.allow(b"key", later) for _ in range(burst + 5)) == burst


def test_refused_attempts_cost_nothing() -> None:
    pacer = Pacer(2, 10.0, slots=64)
    assert pacer.allow("k", T0) and pacer.allow("k", T0)
    for n in range(100):
        assert not pacer.allow("k", T0 + n * 0.01)
    assert pacer.allow("k", T0 + 5.1)


def test_keys_have_buckets_of_their_own() -> None:
    slots = 1 << 12
    pacer = Pacer(1, 60.0, slots=slots)
    # Two keys share a bucket when their hashes meet in the table (the price of a fixed
    # table), and hashes of bytes change with every process: take 200 keys that do not meet.
    by_slot: dict[int, tuple[bytes, bytes]] = {}
    for n in range(10_000):
        key = (bytes([10, 0, n >> 8, n & 255]), b"h" * 20)
        by_slot.setdefault(hash(key) & (slots - 1), key)
        if len(by_slot) == 200:
            break
    keys = list(by_slot.values())
    assert all(pacer.allow(key, T0) for key in keys)
    assert not any(pacer.allow(key, T0) for key in keys)


def test_keys_that_meet_in_the_table_share_a_bucket() -> None:
    pacer = Pacer(1, 60.0, slots=1)  # every key meets every other
    assert pacer.allow(b"one", T0)
    assert not pacer.allow(b"other", T0)


def test_rejects_nonsense() -> None:
    for burst, per, slots in ((0, 1.0, 64), (1, 0.0, 64), (1, 1.0, 100)):
        with pytest.raises(ValueError):
            Pacer(burst, per, slots=slots)


def test_an_ipv6_address_is_bucketed_by_its_64() -> None:
    a = bytes.fromhex("20010db8000000010000000000000001")
    b = bytes.fromhex("20010db800000001ffffffffffffffff")
    c = bytes.fromhex("20010db8000000020000000000000001")
    assert address_bucket(a) == address_bucket(b) != address_bucket(c)
    assert address_bucket(bytes([192, 0, 2, 1])) == bytes([192, 0, 2, 1])


def test_limit_log_says_how_often_not_who(caplog: pytest.LogCaptureFixture) -> None:
    limits = LimitLog(logging.getLogger("swarmdex.test"), "test limits", every=3600.0)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            limits.bump("too many")
    assert [r.getMessage() for r in caplog.records] == [
        "test limits since the last report: 1 x too many"
    ]
