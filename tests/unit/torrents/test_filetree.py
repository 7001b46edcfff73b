"""Files as stored (paths below the torrent's directory) and as shown (a tree)."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.torrents.filetree import (
    SINGLE_FILE_CHECK_BYTES,
    build_tree,
    is_single_file,
    shown_as_single_file,
    stored_files,
)

from .support import TorrentFactory


@pytest.fixture
def make(tmp_path: Path) -> TorrentFactory:
    return TorrentFactory(tmp_path)


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
def test_a_single_file_is_stored_under_its_name(make: TorrentFactory, version: str) -> None:
    meta = parse_torrent(make({"disk.img": 50_000}, version))
    assert stored_files(meta) == [("disk.img", 50_000)]
    assert is_single_file(meta.info_bytes)


@pytest.mark.parametrize("version", ["v1", "hybrid"])
def test_a_directory_of_one_file_is_not_a_single_file(make: TorrentFactory, version: str) -> None:
    meta = parse_torrent(make({"dir/only.txt": 5_000}, version))
    assert stored_files(meta) == [("only.txt", 5_000)]
    assert not is_single_file(meta.info_bytes)


def test_a_v2_tree_of_one_file_is_that_file(make: TorrentFactory) -> None:
    """libtorrent saves it as the file alone, whatever 'name' says; the site says the same."""
    meta = parse_torrent(make({"dir/only.txt": 5_000}, "v2"))
    assert meta.name == "dir"
    assert stored_files(meta) == [("only.txt", 5_000)]
    assert is_single_file(meta.info_bytes)


def test_pad_files_are_left_out(make: TorrentFactory) -> None:
    meta = parse_torrent(make({"set/a.bin": 20_000, "set/b.bin": 20_000}, "hybrid"))
    assert any(entry.padding for entry in meta.files)
    assert sorted(stored_files(meta)) == [("a.bin", 20_000), ("b.bin", 20_000)]


def test_the_tree_sums_directories() -> None:
    files = [("cd1/01.flac", 100), ("cd1/02.flac", 200), ("cover.jpg", 5), ("cd2/x/y.flac", 50)]
    root = build_tree("album", files, single=False)
    assert (root.name, root.size, root.file_count, root.is_dir) == ("album", 355, 4, True)
    assert root.children is not None
    assert [(c.name, c.size, c.file_count, c.is_dir) for c in root.children] == [
        ("cd1", 300, 2, True),
        ("cover.jpg", 5, 1, False),
        ("cd2", 50, 1, True),
    ]


def test_a_single_file_tree_is_the_file() -> None:
    root = build_tree("ignored", [("disk.img", 7)], single=True)
    assert (root.name, root.size, root.is_dir) == ("disk.img", 7, False)


def test_a_large_info_dictionary_is_not_decoded_for_the_detail_page(make: TorrentFactory) -> None:
    # Past the bound the stored path decides, so megabytes under an unread key cost nothing
    # (this one would not even decode: reading it would raise).
    huge = b"d" + b"x" * (SINGLE_FILE_CHECK_BYTES + 1)
    assert shown_as_single_file(huge, "disk.img", "disk.img")
    assert not shown_as_single_file(huge, "dir", "only.txt")
    # Within it, the info dictionary decides, as for a folder holding one same-named file.
    meta = parse_torrent(make({"same/same": 5_000}, "v1"))
    assert not shown_as_single_file(meta.info_bytes, "same", "same")
