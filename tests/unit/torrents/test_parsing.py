"""Reading uploads: the pure parse and what it hands back to the event loop."""

from __future__ import annotations

import dataclasses

import pytest

from swarmdex.bittorrent.bencode import encode
from swarmdex.torrents.fields import UploadError, UploadTooLarge
from swarmdex.torrents.parsing import default_limits, parse_upload

from ...support import crafted

LIMITS = default_limits(10 * 1024 * 1024)


def test_file_rows_come_back_in_order_in_chunks() -> None:
    parsed = parse_upload(crafted.deep_listing(5, 3), LIMITS)
    assert parsed.file_count == 5
    assert list(parsed.rows(2)) == [
        [("d0/d1/f0", 1), ("d0/d1/f1", 1)],
        [("d0/d1/f2", 1), ("d0/d1/f3", 1)],
        [("d0/d1/f4", 1)],
    ]
    assert parsed.file_tokens == "d0 d1 f0 d0 d1 f1 d0 d1 f2 d0 d1 f3 d0 d1 f4"


def test_file_names_adding_up_past_the_limit_are_refused() -> None:
    limits = dataclasses.replace(LIMITS, max_path_chars=1000)
    with pytest.raises(UploadError) as refused:
        parse_upload(crafted.deep_listing(200, 3), limits)
    total = sum(len(f"d0/d1/f{i}") for i in range(200))
    assert refused.value.message == (
        f"The torrent's file names add up to {total:,} characters; at most 1,000 are accepted."
    )


def test_the_file_count_and_depth_limits_are_the_settings() -> None:
    data = crafted.deep_listing(20, 5)
    with pytest.raises(UploadError, match="torrent has 20 files, the limit is 19"):
        parse_upload(data, dataclasses.replace(LIMITS, max_files=19))
    with pytest.raises(UploadError, match="file path is nested deeper than 4 levels"):
        parse_upload(data, dataclasses.replace(LIMITS, max_path_depth=4))


def test_an_oversized_or_empty_file_is_refused_before_it_is_read() -> None:
    data = encode(crafted.small_torrent())
    with pytest.raises(UploadTooLarge):
        parse_upload(data, dataclasses.replace(LIMITS, max_size=len(data) - 1))
    with pytest.raises(UploadError, match="The file is empty"):
        parse_upload(b"", LIMITS)
