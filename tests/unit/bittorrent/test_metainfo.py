"""Torrent files: parsing checked against libtorrent, validation errors, tracker rewriting."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import libtorrent as lt
import pytest

from swarmdex.bittorrent.bencode import decode, encode, find_key_span
from swarmdex.bittorrent.metainfo import (
    FileEntry,
    Metainfo,
    MetainfoError,
    parse_torrent,
    rebuild_with_trackers,
)

MakeTorrent = Callable[..., bytes]  # the make_torrent fixture (conftest.py)

# Relative path -> size.  Sizes straddle piece boundaries on purpose (16 KiB pieces).
SINGLE_FILE: Mapping[str, int] = {"movie.mkv": 40_000}
NESTED: Mapping[str, int] = {
    "album/a.flac": 70_000,
    "album/sub/b.txt": 5,
    "album/sub/empty.nfo": 0,
    "album/sub/deeper/c.bin": 20_000,
    "album/z exact.bin": 16_384,
}
ONE_FILE_DIR: Mapping[str, int] = {"folder/only.iso": 30_000}
LAYOUTS = {"single": SINGLE_FILE, "nested": NESTED, "one-file-dir": ONE_FILE_DIR}
VERSIONS = ["v1", "v2", "hybrid"]


def libtorrent_files(info: Any, *, keep_padding: bool) -> list[tuple[str, int, bool]]:
    layout = info.layout()
    files = []
    for index in range(layout.num_files()):
        padding = bool(int(layout.file_flags(index)) & int(layout.flag_pad_file))
        if keep_padding or not padding:
            files.append((layout.file_path(index), layout.file_size(index), padding))
    return files


def our_files(metainfo: Metainfo) -> list[tuple[str, int, bool]]:
    return [("/".join(entry.path), entry.size, entry.padding) for entry in metainfo.files]


# ----------------------------------------------------------------- agreement with libtorrent


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("layout_name", list(LAYOUTS))
def test_matches_libtorrent(make_torrent: MakeTorrent, version: str, layout_name: str) -> None:
    data = make_torrent(LAYOUTS[layout_name], version)
    metainfo = parse_torrent(data)
    reference = lt.torrent_info(data)
    hashes = reference.info_hashes()

    assert (metainfo.info_hash_v1 is not None) == hashes.has_v1() == (version != "v2")
    assert (metainfo.info_hash_v2 is not None) == hashes.has_v2() == (version != "v1")
    if metainfo.info_hash_v1 is not None:
        assert metainfo.info_hash_v1 == hashes.v1.to_bytes()
    if metainfo.info_hash_v2 is not None:
        assert metainfo.info_hash_v2 == hashes.v2.to_bytes()
    assert [h.version for h in metainfo.info_hashes] == [1] * hashes.has_v1() + [
        2
    ] * hashes.has_v2()

    # A v2-only torrent lists no pad files; libtorrent adds implied ones to its layout.
    expected = libtorrent_files(reference, keep_padding=version != "v2")
    assert our_files(metainfo) == expected
    if not (version == "v2" and layout_name == "one-file-dir"):
        assert metainfo.name == reference.name()
    else:  # libtorrent names a v2 torrent of one top-level file after that file
        assert (metainfo.name, reference.name()) == ("folder", "only.iso")
    assert metainfo.piece_length == reference.piece_length()
    assert metainfo.total_size == sum(size for _, size, padding in expected if not padding)
    assert metainfo.total_size == sum(LAYOUTS[layout_name].values())
    assert metainfo.info_bytes == bytes(reference.info_section())


@pytest.mark.parametrize("version", ["v2", "hybrid"])
def test_pieces_roots_match_libtorrent(make_torrent: MakeTorrent, version: str) -> None:
    data = make_torrent(NESTED, version)
    layout = lt.torrent_info(data).layout()
    roots = {
        layout.file_path(index): layout.root(index).to_bytes()
        for index in range(layout.num_files())
        if layout.file_size(index) > 0
        and not int(layout.file_flags(index)) & int(layout.flag_pad_file)
    }
    ours = {
        "/".join(entry.path): entry.pieces_root
        for entry in parse_torrent(data).files
        if entry.size > 0 and not entry.padding
    }
    assert ours == roots
    assert all(len(root) == 32 for root in roots.values())


@pytest.mark.parametrize("piece_size", [16_384, 32_768, 65_536, 262_144])
def test_piece_layers_verify_at_every_piece_size(
    make_torrent: MakeTorrent, piece_size: int
) -> None:
    big = {"set/a.bin": 300_000, "set/b.bin": 65_536, "set/c.bin": 131_073, "set/d": 1}
    data = make_torrent(big, "hybrid", piece_size=piece_size)
    assert decode(data)[b"piece layers"]  # type: ignore[index]
    metainfo = parse_torrent(data)
    hashes = lt.torrent_info(data).info_hashes()
    assert metainfo.info_hash_v1 == hashes.v1.to_bytes()
    assert metainfo.info_hash_v2 == hashes.v2.to_bytes()


def test_metadata_fields(make_torrent: MakeTorrent) -> None:
    tiers = (
        ("udp://one.example:6969/announce", "http://two.example/announce"),
        ("udp://3.example:1",),
    )
    data = make_torrent(
        SINGLE_FILE,
        "hybrid",
        trackers=tiers,
        comment="Ünïcode comment",
        creator="swarmdex tests",
        private=True,
        web_seeds=("http://seed.example/movie.mkv",),
    )
    metainfo = parse_torrent(data)
    assert metainfo.announce == "udp://one.example:6969/announce"
    assert metainfo.announce_list == tiers
    assert metainfo.comment == "Ünïcode comment"
    assert metainfo.created_by == "swarmdex tests"
    assert metainfo.is_private is lt.torrent_info(data).priv() is True
    assert metainfo.web_seeds == ("http://seed.example/movie.mkv",)
    assert isinstance(metainfo.creation_date, int) and metainfo.creation_date > 1_600_000_000
    assert metainfo.source is None
    assert metainfo.raw[b"comment"] == "Ünïcode comment".encode()
    assert set(metainfo.top_level_spans) == set(metainfo.raw)


def test_info_bytes_are_the_uploaded_bytes(make_torrent: MakeTorrent) -> None:
    data = make_torrent(NESTED, "hybrid")
    metainfo = parse_torrent(data)
    start, end = find_key_span(data, b"info")
    assert metainfo.info_bytes == data[start:end]
    assert metainfo.info_hash_v1 == hashlib.sha1(data[start:end]).digest()
    assert metainfo.info_hash_v2 == hashlib.sha256(data[start:end]).digest()
    assert metainfo.torrent_bytes == data


def test_file_tree(make_torrent: MakeTorrent) -> None:
    tree = parse_torrent(make_torrent(NESTED, "hybrid")).file_tree()
    assert tree.name == "album" and tree.is_dir
    assert tree.size == sum(NESTED.values())  # pad files are not shown
    assert tree.file_count == len(NESTED)
    assert tree.children is not None
    assert list(tree.children) == ["a.flac", "sub", "z exact.bin"]
    sub = tree.children["sub"]
    assert sub.size == 20_005 and sub.file_count == 3
    assert sub.children is not None
    assert list(sub.children) == ["b.txt", "deeper", "empty.nfo"]
    assert sub.children["deeper"].children is not None
    leaf = sub.children["deeper"].children["c.bin"]
    assert (leaf.name, leaf.size, leaf.file_count, leaf.is_dir) == ("c.bin", 20_000, 1, False)


def test_file_tree_of_a_single_file(make_torrent: MakeTorrent) -> None:
    tree = parse_torrent(make_torrent(SINGLE_FILE, "v1")).file_tree()
    assert (tree.name, tree.size, tree.file_count, tree.children) == ("movie.mkv", 40_000, 1, None)


# ------------------------------------------------------------------------- rewriting


@pytest.mark.parametrize("version", VERSIONS)
def test_rebuild_with_trackers_keeps_the_info_hash(make_torrent: MakeTorrent, version: str) -> None:
    data = make_torrent(NESTED, version, trackers=(("udp://old.example:1/a",),), comment="keep me")
    original = parse_torrent(data)
    tiers = [["https://new.example/announce?passkey=abc", "udp://new.example:2"], ["udp://b:3"]]
    rebuilt = original.rebuild_with_trackers(tiers)

    assert rebuilt == rebuild_with_trackers(data, tiers)
    reference = lt.load_torrent_buffer(rebuilt)
    assert reference.ti is not None
    assert reference.ti.info_hashes() == lt.torrent_info(data).info_hashes()
    assert list(zip(reference.trackers, reference.tracker_tiers, strict=True)) == [
        ("https://new.example/announce?passkey=abc", 0),
        ("udp://new.example:2", 0),
        ("udp://b:3", 1),
    ]
    again = parse_torrent(rebuilt)
    assert again.info_bytes == original.info_bytes
    assert again.announce == "https://new.example/announce?passkey=abc"
    assert again.announce_list == tuple(tuple(tier) for tier in tiers)
    assert again.comment == "keep me"
    assert again.creation_date == original.creation_date
    assert again.raw.get(b"piece layers") == original.raw.get(b"piece layers")


def test_rebuild_with_one_tracker_or_none(make_torrent: MakeTorrent) -> None:
    data = make_torrent(SINGLE_FILE, "v1", trackers=(("udp://a:1", "udp://b:2"),))
    single = decode(rebuild_with_trackers(data, [[], ["http://only.example/announce"]]))
    assert isinstance(single, dict)
    assert single[b"announce"] == b"http://only.example/announce"
    assert b"announce-list" not in single
    trackerless = decode(rebuild_with_trackers(data, []))
    assert isinstance(trackerless, dict)
    assert b"announce" not in trackerless and b"announce-list" not in trackerless
    with pytest.raises(ValueError, match="non-empty strings"):
        rebuild_with_trackers(data, [["udp://a:1", " "]])


def test_rebuild_copies_other_values_verbatim_and_sorts_keys() -> None:
    info = encode(V1_SINGLE)
    odd = b"d1:zi1e1:ai2ee"  # a top-level extension value with unsorted keys
    data = b"d5:extra" + odd + b"8:announce3:old4:info" + info + b"e"
    rebuilt = rebuild_with_trackers(data, [["udp://t:1"]])
    assert rebuilt == b"d8:announce9:udp://t:15:extra" + odd + b"4:info" + info + b"e"
    assert parse_torrent(rebuilt).info_bytes == info


def test_rebuild_rejects_broken_input() -> None:
    with pytest.raises(MetainfoError, match="not a valid torrent file"):
        rebuild_with_trackers(b"d4:info", [])


# ------------------------------------------------------------- hand-made torrents

P = b"\x11" * 20  # one piece hash
R = b"\x22" * 32  # a pieces root


def leaf(length: int, root: object = R) -> dict[bytes, Any]:
    attributes: dict[bytes, Any] = {b"length": length}
    if root is not None:
        attributes[b"pieces root"] = root
    return {b"": attributes}


def entry(path: list[Any], length: int, *, attr: object = None) -> dict[bytes, Any]:
    item: dict[bytes, Any] = {b"length": length, b"path": path}
    if attr is not None:
        item[b"attr"] = attr
    return item


def pad(length: int) -> dict[bytes, Any]:
    return entry([b".pad", str(length).encode()], length, attr=b"p")


V1_SINGLE: dict[bytes, Any] = {
    b"length": 10,
    b"name": b"a.bin",
    b"piece length": 16_384,
    b"pieces": P,
}
V1_MULTI: dict[bytes, Any] = {
    b"files": [entry([b"x"], 5), entry([b"sub", b"y"], 5)],
    b"name": b"dir",
    b"piece length": 16_384,
    b"pieces": P,
}
V2: dict[bytes, Any] = {
    b"file tree": {b"a": leaf(5), b"sub": {b"b": leaf(5)}},
    b"meta version": 2,
    b"name": b"dir",
    b"piece length": 16_384,
}
HYBRID: dict[bytes, Any] = {
    **V2,
    b"files": [entry([b"a"], 5), pad(16_379), entry([b"sub", b"b"], 5)],
    b"pieces": P * 2,
}


def torrent(info: Mapping[bytes, Any], top: Mapping[bytes, Any] | None = None) -> bytes:
    return encode({b"info": info, **(top or {})})


def changed(
    base: Mapping[bytes, Any], keys: Mapping[bytes, Any] | None = None, **changes: Any
) -> dict[bytes, Any]:
    """``base`` with some keys replaced (``None`` deletes).

    Keyword names stand for keys with spaces (``piece_length`` is ``b"piece length"``);
    other keys go in ``keys``.
    """
    replacements = {name.replace("_", " ").encode(): value for name, value in changes.items()}
    result = dict(base)
    for key, value in {**(keys or {}), **replacements}.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def leaf_at_depth(depth: int) -> dict[bytes, Any]:
    """A file tree whose only file is ``depth`` components deep."""
    node: dict[bytes, Any] = leaf(5)
    for _ in range(depth):
        node = {b"d": node}
    return node


@pytest.mark.parametrize(
    "info", [V1_SINGLE, V1_MULTI, V2, HYBRID], ids=["v1", "v1-multi", "v2", "hybrid"]
)
def test_hand_made_bases_are_valid_for_us_and_libtorrent(info: dict[bytes, Any]) -> None:
    data = torrent(info)
    metainfo = parse_torrent(data)
    reference = lt.torrent_info(data)
    assert our_files(metainfo) == libtorrent_files(reference, keep_padding=b"pieces" in info)


def test_v1_multi_file_listing() -> None:
    metainfo = parse_torrent(torrent(V1_MULTI))
    assert metainfo.files == (FileEntry(("dir", "x"), 5), FileEntry(("dir", "sub", "y"), 5))
    assert metainfo.info_hash_v2 is None


def test_hybrid_listing_carries_pieces_roots() -> None:
    metainfo = parse_torrent(torrent(HYBRID))
    assert metainfo.files == (
        FileEntry(("dir", "a"), 5, pieces_root=R),
        FileEntry(("dir", ".pad", "16379"), 16_379, padding=True),
        FileEntry(("dir", "sub", "b"), 5, pieces_root=R),
    )
    assert metainfo.total_size == 10


INVALID: list[tuple[str, bytes, str]] = [
    # --- not a torrent at all
    ("html", b"<html><body>oops</body></html>", "not a bencoded dictionary"),
    ("integer", b"i1e", "not a bencoded dictionary"),
    ("empty", b"", "not a bencoded dictionary"),
    ("truncated", torrent(V1_SINGLE)[:-7], r"not a valid torrent file: truncated.* at byte \d+"),
    (
        "trailing",
        torrent(V1_SINGLE) + b"\n",
        "not a valid torrent file: trailing data after the value at byte",
    ),
    (
        "leading zero",
        b"d4:infod6:lengthi010eee",
        "not a valid torrent file: integer has a leading zero at byte 16",
    ),
    ("no info", encode({b"announce": b"udp://x:1"}), "missing 'info' dictionary"),
    ("info not dict", encode({b"info": [1]}), "'info' must be a dictionary"),
    # --- info dictionary structure
    (
        "unsorted info",
        b"d4:infod4:name1:a6:lengthi5e12:piece lengthi16384e6:pieces20:" + P + b"ee",
        "info dictionary is not canonically encoded: key b'length' comes after b'name'",
    ),
    (
        "no version",
        torrent(changed(V1_SINGLE, pieces=None)),
        "neither v1 'pieces' nor v2 'meta version'",
    ),
    ("no name", torrent(changed(V1_SINGLE, name=None)), "missing info.name"),
    ("name not string", torrent(changed(V1_SINGLE, name=5)), "info.name must be a string"),
    (
        "name ..",
        torrent(changed(V1_SINGLE, name=b"..")),
        "torrent name escapes the torrent directory: '..'",
    ),
    (
        "name empty",
        torrent(changed(V1_SINGLE, name=b"")),
        "torrent name has an empty component: ''",
    ),
    (
        "name blank",
        torrent(changed(V1_SINGLE, name=b" \t ")),
        "torrent name contains a control character",
    ),
    ("name spaces", torrent(changed(V1_SINGLE, name=b"   ")), "torrent name is blank: '   '"),
    (
        "name slash",
        torrent(changed(V1_SINGLE, name=b"a/b")),
        "torrent name contains a path separator: 'a/b'",
    ),
    (
        "name not utf8",
        torrent(changed(V1_SINGLE, name=b"caf\xe9")),
        r"torrent name is not valid UTF-8: 'caf\\\\xe9'",
    ),
    (
        "name.utf-8 bad",
        torrent(changed(V1_SINGLE, {b"name.utf-8": b"\xff"})),
        "torrent name is not valid UTF-8",
    ),
    # --- piece length
    (
        "piece length missing",
        torrent(changed(V1_SINGLE, piece_length=None)),
        "missing or non-integer info.piece length",
    ),
    (
        "piece length string",
        torrent(changed(V1_SINGLE, piece_length=b"16384")),
        "missing or non-integer info.piece length",
    ),
    (
        "piece length 0",
        torrent(changed(V1_SINGLE, piece_length=0)),
        "info.piece length must be a power of two from 16 KiB to 256 MiB, not 0",
    ),
    (
        "piece length 1000",
        torrent(changed(V1_SINGLE, piece_length=1000)),
        "must be a power of two .*, not 1000",
    ),
    (
        "piece length 8 KiB",
        torrent(changed(V1_SINGLE, piece_length=8192)),
        "must be a power of two .*, not 8192",
    ),
    (
        "piece length 48 KiB",
        torrent(changed(V2, piece_length=49_152)),
        "must be a power of two .*, not 49152",
    ),
    (
        "piece length 512 MiB",
        torrent(changed(V1_SINGLE, piece_length=2**29)),
        "must be a power of two .*, not 536870912",
    ),
    # --- v1 pieces and files
    ("pieces not string", torrent(changed(V1_SINGLE, pieces=[P])), "info.pieces must be a string"),
    (
        "pieces 21 bytes",
        torrent(changed(V1_SINGLE, pieces=P + b"x")),
        "info.pieces must be a multiple of 20 bytes long, not 21 bytes",
    ),
    (
        "pieces too many",
        torrent(changed(V1_SINGLE, pieces=P * 2)),
        "info.pieces has 2 piece hashes but 10 bytes in pieces of 16384 bytes need 1",
    ),
    (
        "pieces too few",
        torrent(changed(V1_SINGLE, length=40_000)),
        "info.pieces has 1 piece hashes but 40000 bytes in pieces of 16384 bytes need 3",
    ),
    (
        "pad counted in pieces",
        torrent(changed(V1_MULTI, files=[entry([b"x"], 5), pad(16_379), entry([b"y"], 5)])),
        "has 1 piece hashes but 16389 bytes .* need 2",
    ),
    (
        "length and files",
        torrent(changed(V1_MULTI, length=5)),
        "exactly one of 'length' \\(one file\\) or 'files'",
    ),
    (
        "neither length nor files",
        torrent(changed(V1_SINGLE, length=None)),
        "exactly one of 'length'",
    ),
    ("negative length", torrent(changed(V1_SINGLE, length=-5)), "info.length must not be negative"),
    (
        "length string",
        torrent(changed(V1_SINGLE, length=b"5")),
        "missing or non-integer info.length",
    ),
    ("files empty", torrent(changed(V1_MULTI, files=[])), "info.files must be a non-empty list"),
    (
        "files not list",
        torrent(changed(V1_MULTI, files={b"x": 1})),
        "info.files must be a non-empty list",
    ),
    (
        "file not dict",
        torrent(changed(V1_MULTI, files=[b"x"])),
        r"info.files\[0\] must be a dictionary",
    ),
    (
        "file length missing",
        torrent(changed(V1_MULTI, files=[{b"path": [b"x"]}])),
        r"missing or non-integer info.files\[0\].length",
    ),
    (
        "path missing",
        torrent(changed(V1_MULTI, files=[{b"length": 5}])),
        r"info.files\[0\].path must be a non-empty list of strings",
    ),
    (
        "path empty",
        torrent(changed(V1_MULTI, files=[entry([], 5)])),
        r"info.files\[0\].path must be a non-empty list",
    ),
    (
        "path string",
        torrent(changed(V1_MULTI, files=[{b"length": 5, b"path": b"x"}])),
        r"info.files\[0\].path must be a non-empty list",
    ),
    (
        "path int part",
        torrent(changed(V1_MULTI, files=[entry([b"a", 1], 5)])),
        "file path must be a string, in 'a/\\?'",
    ),
    (
        "attr int",
        torrent(changed(V1_MULTI, files=[entry([b"x"], 5, attr=1)])),
        r"info.files\[0\].attr must be a string",
    ),
    # --- path sanitising
    (
        "dotdot",
        torrent(changed(V1_MULTI, files=[entry([b"..", b"x"], 5)])),
        "file path escapes the torrent directory: '../x'",
    ),
    (
        "deep dotdot",
        torrent(changed(V1_MULTI, files=[entry([b"a", b"..", b"..", b"etc"], 5)])),
        "escapes the torrent directory: 'a/../../etc'",
    ),
    (
        "dot",
        torrent(changed(V1_MULTI, files=[entry([b".", b"x"], 5)])),
        "file path has a '.' component: './x'",
    ),
    (
        "empty component",
        torrent(changed(V1_MULTI, files=[entry([b"a", b"", b"x"], 5)])),
        "file path has an empty component: 'a//x'",
    ),
    (
        "absolute",
        torrent(changed(V1_MULTI, files=[entry([b"/etc", b"passwd"], 5)])),
        "file path contains a path separator: '/etc/passwd'",
    ),
    (
        "backslash",
        torrent(changed(V1_MULTI, files=[entry([b"..\\..\\x"], 5)])),
        "file path contains a path separator",
    ),
    (
        "nul",
        torrent(changed(V1_MULTI, files=[entry([b"a\x00.txt"], 5)])),
        "file path contains a control character: 'a\\\\x00.txt'",
    ),
    (
        "newline",
        torrent(changed(V1_MULTI, files=[entry([b"a\nb"], 5)])),
        "file path contains a control character",
    ),
    (
        "drive",
        torrent(changed(V1_MULTI, files=[entry([b"C:", b"x"], 5)])),
        "file path starts with a drive letter: 'C:/x'",
    ),
    (
        "drive relative",
        torrent(changed(V1_MULTI, files=[entry([b"c:evil"], 5)])),
        "starts with a drive letter",
    ),
    (
        "blank component",
        torrent(changed(V1_MULTI, files=[entry([b"  ", b"x"], 5)])),
        "file path is blank: '  /x'",
    ),
    (
        "long component",
        torrent(changed(V1_MULTI, files=[entry([b"a" * 256], 5)])),
        "file path is longer than 255 characters",
    ),
    (
        "too deep",
        torrent(changed(V1_MULTI, files=[entry([b"d"] * 33, 5)])),
        "file path is nested deeper than 32 levels",
    ),
    (
        "long path",
        torrent(changed(V1_MULTI, files=[entry([b"d" * 200] * 21, 5)])),
        "file path is longer than 4096 characters",
    ),
    (
        "not utf8 path",
        torrent(changed(V1_MULTI, files=[entry([b"\xc0\xaf"], 5)])),
        "file path is not valid UTF-8",
    ),  # overlong '/'
    (
        "duplicate path",
        torrent(changed(V1_MULTI, files=[entry([b"x"], 5), entry([b"x"], 5)], pieces=P)),
        "two files share the path 'dir/x'",
    ),
    (
        "file and dir",
        torrent(changed(V1_MULTI, files=[entry([b"x"], 5), entry([b"x", b"y"], 5)])),
        "'dir/x' is both a file and a directory",
    ),
    (
        "dir and file",
        torrent(changed(V1_MULTI, files=[entry([b"x", b"y"], 5), entry([b"x"], 5)])),
        "'dir/x' is both a file and a directory",
    ),
    (
        "no data",
        torrent(changed(V1_MULTI, files=[entry([b"x"], 0)], pieces=b"")),
        "torrent contains no data",
    ),
    ("only padding", torrent(changed(V1_SINGLE, attr=b"p")), "torrent contains no data"),
    (
        "private string",
        torrent(changed(V1_SINGLE, private=b"1")),
        "info.private must be an integer",
    ),
    ("source not string", torrent(changed(V1_SINGLE, source=1)), "info.source must be a string"),
    # --- v2
    (
        "meta version 1",
        torrent(changed(V2, meta_version=1)),
        "unsupported info.meta version 1; only 2 is defined",
    ),
    ("meta version 3", torrent(changed(V2, meta_version=3)), "unsupported info.meta version 3"),
    (
        "tree without meta version",
        torrent(changed(V2, meta_version=None)),
        "has a v2 'file tree' but no 'meta version' 2",
    ),
    (
        "meta version without tree",
        torrent(changed(V2, file_tree=None)),
        "meta version is 2 but there is no 'file tree'",
    ),
    ("tree not dict", torrent(changed(V2, file_tree=[])), "info.file tree must be a dictionary"),
    (
        "tree root is a file",
        torrent(changed(V2, file_tree=leaf(5))),
        "file tree's root must be a directory",
    ),
    (
        "tree entry not dict",
        torrent(changed(V2, file_tree={b"a": 5})),
        "file tree entry 'a' must be a dictionary",
    ),
    (
        "tree leaf not dict",
        torrent(changed(V2, file_tree={b"a": {b"": 5}})),
        "file tree entry 'a' must hold a dictionary under ''",
    ),
    (
        "tree file and dir",
        torrent(changed(V2, file_tree={b"a": {**leaf(5), b"b": leaf(5)}})),
        "file tree entry 'a' is both a file and a directory",
    ),
    (
        "tree no length",
        torrent(changed(V2, file_tree={b"a": {b"": {b"pieces root": R}}})),
        "missing or non-integer length of 'a'",
    ),
    (
        "tree negative length",
        torrent(changed(V2, file_tree={b"a": leaf(-1)})),
        "length of 'a' must not be negative",
    ),
    (
        "pieces root 31",
        torrent(changed(V2, file_tree={b"a": leaf(5, R[:31])})),
        "v2 'pieces root' must be 32 bytes, in 'a'",
    ),
    (
        "pieces root int",
        torrent(changed(V2, file_tree={b"a": leaf(5, 7)})),
        "v2 'pieces root' must be 32 bytes",
    ),
    (
        "pieces root missing",
        torrent(changed(V2, file_tree={b"d": {b"a": leaf(5, None)}})),
        "v2 file 'd/a' has no 'pieces root'",
    ),
    (
        "tree dotdot",
        torrent(changed(V2, file_tree={b"..": {b"a": leaf(5)}})),
        "file path escapes the torrent directory: '..'",
    ),
    (
        "tree slash",
        torrent(changed(V2, file_tree={b"d": {b"a/b": leaf(5)}})),
        "file path contains a path separator: 'd/a/b'",
    ),
    (
        "tree empty key dir",
        torrent(changed(V2, file_tree={b"d": {b"": leaf(5)}, b"e": leaf(5)})),
        "missing or non-integer length of 'd'",
    ),
    (
        "tree too deep",
        torrent(changed(V2, file_tree=leaf_at_depth(33))),
        "file path is nested deeper than 32 levels",
    ),
    (
        "tree only empty files",
        torrent(changed(V2, file_tree={b"a": leaf(0, None)})),
        "torrent contains no data",
    ),
    # --- piece layers
    (
        "layers not dict",
        torrent(changed(V2, file_tree={b"a": leaf(40_000)}), {b"piece layers": []}),
        "'piece layers' must be a dictionary",
    ),
    (
        "layer for no file",
        torrent(V2, {b"piece layers": {R: b"\x00" * 64}}),
        "'piece layers' has an entry that matches no file larger than one piece: 2222",
    ),
    (
        "layer wrong size",
        torrent(changed(V2, file_tree={b"a": leaf(40_000)}), {b"piece layers": {R: b"\x00" * 64}}),
        "piece layer for pieces root 2222.* must be 3 hashes of 32 bytes",
    ),
    (
        "layer wrong hashes",
        torrent(changed(V2, file_tree={b"a": leaf(40_000)}), {b"piece layers": {R: b"\x00" * 96}}),
        "piece layer does not match its pieces root 2222",
    ),
    # --- hybrid
    (
        "hybrid other name",
        torrent(changed(HYBRID, files=[entry([b"a"], 5), pad(16_379), entry([b"sub", b"c"], 5)])),
        "v1 file list and v2 file tree describe different files",
    ),
    (
        "hybrid other size",
        torrent(changed(HYBRID, files=[entry([b"a"], 5), pad(16_379), entry([b"sub", b"b"], 6)])),
        "describe different files",
    ),
    (
        "hybrid other order",
        torrent(changed(HYBRID, files=[entry([b"sub", b"b"], 5), pad(16_379), entry([b"a"], 5)])),
        "describe different files",
    ),
    (
        "hybrid missing pad",
        torrent(changed(HYBRID, files=[entry([b"a"], 5), entry([b"sub", b"b"], 5)], pieces=P)),
        "file 'sub/b' does not start on a piece boundary",
    ),
    (
        "hybrid short pad",
        torrent(
            changed(HYBRID, files=[entry([b"a"], 5), pad(100), entry([b"sub", b"b"], 5)], pieces=P)
        ),
        "pad file at byte 5 does not fill exactly the rest of a piece",
    ),
    (
        "hybrid long pad",
        torrent(
            changed(
                HYBRID,
                files=[entry([b"a"], 5), pad(16_379 + 16_384), entry([b"sub", b"b"], 5)],
                pieces=P * 3,
            )
        ),
        "pad file at byte 5 does not fill exactly the rest of a piece",
    ),
    (
        "hybrid needless pad",
        torrent(
            changed(
                HYBRID,
                files=[pad(100), entry([b"a"], 5), pad(16_379), entry([b"sub", b"b"], 5)],
                pieces=P * 2,
            )
        ),
        "pad file at byte 0 does not fill exactly the rest of a piece",
    ),
    (
        "hybrid short tail pad",
        torrent(changed(HYBRID, files=[*HYBRID[b"files"], pad(1)])),
        "pad file at byte 16389 does not fill exactly the rest of a piece",
    ),
    (
        "hybrid single other name",
        torrent(changed(V1_SINGLE, meta_version=2, file_tree={b"b.bin": leaf(10)})),
        "describe different files",
    ),
]


@pytest.mark.parametrize(
    ("data", "message"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_rejects_invalid_torrents(data: bytes, message: str) -> None:
    with pytest.raises(MetainfoError, match=message):
        parse_torrent(data)


def test_error_messages_quote_exactly() -> None:
    with pytest.raises(MetainfoError) as caught:
        parse_torrent(torrent(changed(V1_MULTI, files=[entry([b"..", b"x"], 5)])))
    assert str(caught.value) == "file path escapes the torrent directory: '../x'"


# ------------------------------------------------------------------------- limits


def test_max_size() -> None:
    data = torrent(V1_SINGLE)
    assert parse_torrent(data, max_size=len(data)).name == "a.bin"
    with pytest.raises(
        MetainfoError, match=f"torrent too large: {len(data)} bytes, the limit is 10"
    ):
        parse_torrent(data, max_size=10)


def test_max_files() -> None:
    assert len(parse_torrent(torrent(V1_MULTI), max_files=2).files) == 2
    with pytest.raises(MetainfoError, match="torrent has 2 files, the limit is 1"):
        parse_torrent(torrent(V1_MULTI), max_files=1)
    with pytest.raises(MetainfoError, match="torrent has more than 1 files"):
        parse_torrent(torrent(V2), max_files=1)


def test_max_path_depth() -> None:
    deep = changed(V1_MULTI, files=[entry([b"d"] * 5, 5)])
    assert parse_torrent(torrent(deep), max_path_depth=5).files[0].path == ("dir", *["d"] * 5)
    with pytest.raises(MetainfoError, match="nested deeper than 4 levels"):
        parse_torrent(torrent(deep), max_path_depth=4)


# ------------------------------------------------------------ choices and leniency


def test_utf8_variants_are_preferred_as_libtorrent_does() -> None:
    info = changed(
        V1_MULTI,
        {b"name.utf-8": "café".encode()},
        name=b"caf\xe9",
        files=[{b"length": 10, b"path": [b"\xe9t\xe9"], b"path.utf-8": ["été".encode()]}],
    )
    data = torrent(info)
    metainfo = parse_torrent(data)
    assert metainfo.name == "café"
    assert our_files(metainfo) == [("café/été", 10, False)]
    assert our_files(metainfo) == libtorrent_files(lt.torrent_info(data), keep_padding=True)


def test_legacy_pad_files_are_recognised_like_libtorrent() -> None:
    files = [entry([b"x"], 5), entry([b"_____padding_file_0_BitComet"], 16_379), entry([b"y"], 5)]
    data = torrent(changed(V1_MULTI, files=files, pieces=P * 2))
    metainfo = parse_torrent(data)
    assert [entry.padding for entry in metainfo.files] == [False, True, False]
    assert our_files(metainfo) == libtorrent_files(lt.torrent_info(data), keep_padding=True)
    assert metainfo.total_size == 10


def test_v2_single_top_level_file_is_a_single_file_torrent_like_libtorrent() -> None:
    data = torrent(changed(V2, file_tree={b"other.bin": leaf(5)}))
    metainfo = parse_torrent(data)
    assert our_files(metainfo) == [("other.bin", 5, False)]
    assert our_files(metainfo) == libtorrent_files(lt.torrent_info(data), keep_padding=False)
    assert metainfo.name == "dir"  # the advisory display name is still reported


def test_v2_top_level_file_beside_an_empty_directory_is_multi_file_like_libtorrent() -> None:
    data = torrent(changed(V2, file_tree={b"a": leaf(5), b"void": {}}))
    assert our_files(parse_torrent(data)) == [("dir/a", 5, False)]
    assert our_files(parse_torrent(data)) == libtorrent_files(
        lt.torrent_info(data), keep_padding=False
    )


def test_any_nonzero_private_flag_is_private_like_libtorrent() -> None:
    data = torrent(changed(V1_SINGLE, private=2))
    assert parse_torrent(data).is_private is lt.torrent_info(data).priv() is True
    assert parse_torrent(torrent(changed(V1_SINGLE, private=0))).is_private is False


def test_source_tag() -> None:
    assert parse_torrent(torrent(changed(V1_SINGLE, source=b"SWX"))).source == "SWX"


def test_empty_v2_directories_are_ignored() -> None:
    metainfo = parse_torrent(torrent(changed(V2, file_tree={**V2[b"file tree"], b"void": {}})))
    assert [entry.path for entry in metainfo.files] == [("dir", "a"), ("dir", "sub", "b")]


def test_missing_piece_layers_are_allowed_like_libtorrent(make_torrent: MakeTorrent) -> None:
    full = decode(make_torrent(NESTED, "v2"))
    assert isinstance(full, dict)
    del full[b"piece layers"]
    data = encode(full)
    assert parse_torrent(data).info_hash_v2 == lt.torrent_info(data).info_hashes().v2.to_bytes()


def test_tampered_piece_layer_is_rejected_like_libtorrent(make_torrent: MakeTorrent) -> None:
    full = decode(make_torrent(NESTED, "v2"))
    assert isinstance(full, dict)
    layers = full[b"piece layers"]
    assert isinstance(layers, dict)
    root = next(iter(layers))
    layers[root] = bytes([layers[root][0] ^ 1]) + layers[root][1:]
    data = encode(full)
    with pytest.raises(RuntimeError, match="piece layer is invalid"):
        lt.torrent_info(data)
    with pytest.raises(MetainfoError, match="piece layer does not match its pieces root"):
        parse_torrent(data)


def test_unsorted_top_level_keys_are_accepted() -> None:
    data = b"d4:info" + encode(V1_SINGLE) + b"8:announce9:udp://t:1e"
    assert parse_torrent(data).announce == "udp://t:1"


def test_unsorted_info_keys_are_stricter_than_libtorrent() -> None:
    data = b"d4:infod4:name1:a6:lengthi5e12:piece lengthi16384e6:pieces20:" + P + b"ee"
    assert lt.torrent_info(data).name() == "a"
    with pytest.raises(MetainfoError, match="not canonically encoded"):
        parse_torrent(data)


def test_malformed_advisory_fields_are_dropped_not_fatal() -> None:
    data = torrent(
        V1_SINGLE,
        {
            b"announce": 5,
            b"announce-list": [
                b"udp://flat:1",
                [b"udp://ok:1", b"", 7, b"\xff", b"  "],
                [],
                [b" udp://trim:2 "],
            ],
            b"comment": b"caf\xe9",
            b"created by": [b"x"],
            b"creation date": b"yesterday",
            b"url-list": b"http://seed.example/a.bin",
        },
    )
    metainfo = parse_torrent(data)
    assert metainfo.announce is None
    assert metainfo.announce_list == (("udp://ok:1",), ("udp://trim:2",))
    assert metainfo.comment == "caf\ufffd"
    assert metainfo.created_by is None
    assert metainfo.creation_date is None
    assert metainfo.web_seeds == ("http://seed.example/a.bin",)


def test_utf8_comment_variant_is_preferred() -> None:
    data = encode({b"comment": b"\xe9", b"comment.utf-8": "é".encode(), b"info": V1_SINGLE})
    assert parse_torrent(data).comment == "é"


def test_accepts_buffers() -> None:
    data = torrent(V1_SINGLE)
    assert parse_torrent(bytearray(data)) == parse_torrent(data)
    assert parse_torrent(memoryview(data)).info_bytes == parse_torrent(data).info_bytes
    assert rebuild_with_trackers(bytearray(data), []) == rebuild_with_trackers(data, [])
