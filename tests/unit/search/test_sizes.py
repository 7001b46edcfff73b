"""The size filter reads sizes the way the site shows them (binary units)."""

from __future__ import annotations

import pytest

from swarmdex.search.sizes import MAX_SIZE, SizeError, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None), ("", None), ("  ", None),
        ("123456", 123456), ("700M", 700 << 20), ("700 MiB", 700 << 20), ("700mb", 700 << 20),
        ("1.5 GiB", 3 << 29), ("1,5g", 3 << 29), ("4G", 4 << 30), ("10k", 10240), ("2T", 2 << 40),
        ("99999999999999P", MAX_SIZE), ("\uff11\uff10", 10),
    ],
)
def test_sizes(text: str | None, expected: int | None) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["abc", "-1", "1e9", "4 GBytes", "1.2.3", "M", "0x10"])
def test_not_sizes(text: str) -> None:
    with pytest.raises(SizeError, match="not a size"):
        parse_size(text)
