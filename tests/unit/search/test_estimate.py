"""How the PostgreSQL backend estimates a total it does not count (`postgres._estimate`)."""

from __future__ import annotations

from swarmdex.search.postgres import _estimate


def test_the_newest_matches_are_scaled_to_every_row() -> None:
    # (found, oldest id among them, first id, last id)
    assert _estimate(500, 900_001, 1, 1_000_000) == 5_000  # 500 in the newest 100,000
    assert _estimate(500, 860_001, 1, 1_000_000) == 3_600  # 3,571: two significant digits
    assert _estimate(7, 48, 1, 60) == 32  # 7 in 13 of 60 rows: 32.3
    assert _estimate(500, 1_001, 1_001, 1_500) == 500  # every row matched


def test_an_estimate_stays_between_what_was_found_and_the_cap() -> None:
    assert _estimate(500, 975_001, 1, 1_000_000) == 10_000  # 20,000: at most MAX_RESULTS
    assert _estimate(7, 1, 1, 60) == 7
    assert _estimate(1, 10, 10, 10) == 1  # an index of one row
