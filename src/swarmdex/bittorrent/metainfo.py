"""Torrent files: parse, validate and rewrite (BEP 3, 12, 19, 27, 47, 52).

:func:`parse_torrent` turns an uploaded .torrent into a :class:`Metainfo` or raises
:class:`MetainfoError` with a message the uploader can act on.  Policy, in short:

* **The info dictionary is strict.**  Its exact bytes are the info hash and are what every
  downloader receives, so anything a mainstream client would reject, misread or "sanitize"
  differently from another client is refused here rather than shown on the site:

  - keys must be in canonical (sorted) order, since some clients re-encode the info dictionary
    and would then compute a different info hash;
  - ``piece length`` must be a power of two from 16 KiB to 256 MiB.  BEP 52 requires this for
    v2; for v1 libtorrent also accepts any positive size up to 256 MiB, but no current tool
    creates such torrents and a power of two keeps piece arithmetic simple for everyone;
  - file and torrent names must be valid UTF-8 (``name.utf-8`` / ``path.utf-8`` are preferred
    when present, as clients do); names that are empty, ``.``, ``..``, blank, contain ``/``,
    ``\\``, control characters (NUL included) or a leading drive letter (``C:``), or are longer
    than 255 characters are rejected instead of being rewritten, because clients rewrite them
    in different ways and the listing would not match what lands on disk;
  - hybrid torrents must describe the same files in their v1 list and v2 tree, with pad files
    (BEP 47) aligning every file to a piece boundary, as libtorrent requires.

* **The rest of the file is lenient.**  Trackers, comment, dates and web seeds are advisory;
  swarmdex rewrites the trackers on download anyway (:meth:`Metainfo.rebuild_with_trackers`),
  so malformed values there are dropped rather than failing the upload.  The exception is
  ``piece layers`` (BEP 52): wrong layers make a v2 torrent undownloadable, so they are
  verified against each file's ``pieces root``.

File paths in :class:`FileEntry` are the paths clients write to disk: ``(name,)`` for a
single-file torrent and ``(name, *path)`` for a multi-file one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from types import MappingProxyType
from typing import Final

from swarmdex.bittorrent.bencode import (
    MAX_INTEGER,
    BencodeError,
    BytesLike,
    decode_with_spans,
    encode,
)
from swarmdex.bittorrent.infohash import InfoHash

__all__ = [
    "DEFAULT_MAX_FILES",
    "DEFAULT_MAX_PATH_DEPTH",
    "FileEntry",
    "FileTreeNode",
    "Metainfo",
    "MetainfoError",
    "parse_torrent",
    "rebuild_with_trackers",
]

DEFAULT_MAX_FILES: Final = 100_000
DEFAULT_MAX_PATH_DEPTH: Final = 32
MIN_PIECE_LENGTH: Final = 16 * 1024  # BEP 52: the Merkle tree's block size
MAX_PIECE_LENGTH: Final = 256 * 1024 * 1024  # libtorrent refuses anything larger
MAX_NAME_CHARS: Final = 255  # NTFS, APFS and friends
MAX_PATH_CHARS: Final = 4096  # Linux PATH_MAX
BLOCK_SIZE: Final = 16 * 1024
SHA1_LENGTH: Final = 20
SHA256_LENGTH: Final = 32

# BitComet's convention for pad files before BEP 47's 'attr' existed; libtorrent honours it.
_LEGACY_PAD_PREFIX: Final = "_____padding_file_"
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE_RE: Final = re.compile(r"[A-Za-z]:")

Span = tuple[int, int]


class MetainfoError(ValueError):
    """The upload is not a usable torrent; the message tells the uploader why."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a torrent, at the path a client writes it to."""

    path: tuple[str, ...]
    size: int
    padding: bool = False
    """A BEP 47 pad file: alignment filler that clients never write to disk."""
    pieces_root: bytes | None = None
    """The file's BEP 52 Merkle root (v2 and hybrid torrents, non-empty files)."""


@dataclass(slots=True)
class FileTreeNode:
    """A directory or file in the display tree; directory sizes are the sum of their files."""

    name: str
    size: int = 0
    file_count: int = 0
    children: dict[str, FileTreeNode] | None = None
    """Entries by name in torrent order; ``None`` for a file."""

    @property
    def is_dir(self) -> bool:
        return self.children is not None


@dataclass(frozen=True, slots=True)
class Metainfo:
    """A validated torrent file.  Create it with :func:`parse_torrent`."""

    torrent_bytes: bytes
    """The file exactly as uploaded."""
    info_bytes: bytes
    """The info dictionary exactly as uploaded: what the info hashes are computed from."""
    info_hash_v1: bytes | None
    """SHA-1 of :attr:`info_bytes`, when the torrent has v1 data (``pieces``)."""
    info_hash_v2: bytes | None
    """SHA-256 of :attr:`info_bytes`, when the torrent is v2 (``meta version`` 2)."""
    name: str
    """``info.name``: the torrent's display name, and its directory when multi-file.

    libtorrent shows a v2-only torrent whose tree holds one top-level file under that file's
    name instead; :attr:`files` follows it, this stays the name the creator chose.
    """
    piece_length: int
    files: tuple[FileEntry, ...]
    total_size: int
    """Bytes of real data: pad files excluded."""
    is_private: bool
    announce: str | None
    announce_list: tuple[tuple[str, ...], ...]
    comment: str | None
    created_by: str | None
    creation_date: int | None
    web_seeds: tuple[str, ...]
    source: str | None
    raw: Mapping[bytes, object] = field(repr=False, compare=False)
    """The decoded top-level dictionary, read-only."""
    top_level_spans: Mapping[bytes, Span] = field(repr=False, compare=False)
    """Byte span of every top-level value in :attr:`torrent_bytes`."""

    @property
    def info_hashes(self) -> tuple[InfoHash, ...]:
        """The torrent's swarms: v1 first, then v2 (both for a hybrid torrent)."""
        digests = (self.info_hash_v1, self.info_hash_v2)
        return tuple(InfoHash(digest) for digest in digests if digest is not None)

    def file_tree(self) -> FileTreeNode:
        """The files (without pad files) as a tree rooted at the torrent's top entry.

        For a multi-file torrent the root is the torrent's directory; for a single-file
        torrent it is the file itself.
        """
        top = FileTreeNode(name="", children={})
        for entry in self.files:
            if not entry.padding:
                _add_to_tree(top, entry)
        assert top.children is not None and len(top.children) == 1
        return next(iter(top.children.values()))

    def rebuild_with_trackers(self, tiers: Sequence[Sequence[str]]) -> bytes:
        """This torrent with its trackers replaced; see :func:`rebuild_with_trackers`."""
        return _splice_trackers(self.torrent_bytes, self.top_level_spans, tiers)


def _add_to_tree(top: FileTreeNode, entry: FileEntry) -> None:
    node = top
    for depth, part in enumerate(entry.path):
        node.size += entry.size
        node.file_count += 1
        assert node.children is not None
        child = node.children.get(part)
        if child is None:
            is_file = depth == len(entry.path) - 1
            child = FileTreeNode(name=part, children=None if is_file else {})
            node.children[part] = child
        node = child
    node.size += entry.size
    node.file_count += 1


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class _Limits:
    max_files: int
    max_path_depth: int
    names: dict[bytes, str] = field(default_factory=dict)
    """Path components already validated in this torrent (directory names repeat)."""


@dataclass(frozen=True, slots=True)
class _File:
    """A file as the info dictionary lists it: path relative to the torrent's directory."""

    path: tuple[str, ...]
    size: int
    padding: bool = False
    pieces_root: bytes | None = None


def parse_torrent(
    data: BytesLike,
    *,
    max_size: int | None = None,
    max_files: int = DEFAULT_MAX_FILES,
    max_path_depth: int = DEFAULT_MAX_PATH_DEPTH,
) -> Metainfo:
    """Parse and validate a .torrent file (v1, v2 or hybrid).

    ``max_size`` bounds the file size in bytes, ``max_files`` the number of files (pad files
    included) and ``max_path_depth`` the number of components in a file path.
    """
    data = bytes(data)
    if max_size is not None and len(data) > max_size:
        raise MetainfoError(f"torrent too large: {len(data)} bytes, the limit is {max_size}")
    if not data.startswith(b"d"):
        raise MetainfoError("not a bencoded dictionary (a .torrent file starts with 'd')")
    try:
        top, spans = decode_with_spans(data)
    except BencodeError as exc:
        raise MetainfoError(f"not a valid torrent file: {exc}") from None

    info = top.get(b"info")
    if info is None:
        raise MetainfoError("missing 'info' dictionary")
    if not isinstance(info, dict):
        raise MetainfoError("'info' must be a dictionary")
    _require_sorted_keys(info)
    start, end = spans[b"info"]
    info_bytes = data[start:end]

    limits = _Limits(max_files=max_files, max_path_depth=max_path_depth)
    layout = _parse_info(info, top.get(b"piece layers"), limits)
    announce, announce_list = _trackers(top)
    return Metainfo(
        torrent_bytes=data,
        info_bytes=info_bytes,
        info_hash_v1=hashlib.sha1(info_bytes).digest() if layout.has_v1 else None,
        info_hash_v2=hashlib.sha256(info_bytes).digest() if layout.has_v2 else None,
        name=layout.name,
        piece_length=layout.piece_length,
        files=layout.files,
        total_size=layout.total_size,
        is_private=_private(info),
        announce=announce,
        announce_list=announce_list,
        comment=_display_text(top, b"comment"),
        created_by=_display_text(top, b"created by"),
        creation_date=_optional_int(top.get(b"creation date")),
        web_seeds=_web_seeds(top.get(b"url-list")),
        source=_info_text(info, b"source"),
        raw=MappingProxyType(top),
        top_level_spans=MappingProxyType(spans),
    )


@dataclass(frozen=True, slots=True)
class _Layout:
    name: str
    piece_length: int
    files: tuple[FileEntry, ...]
    total_size: int
    has_v1: bool
    has_v2: bool


def _parse_info(info: dict[bytes, object], piece_layers: object, limits: _Limits) -> _Layout:
    has_v1 = b"pieces" in info
    has_v2 = _meta_version(info) == 2
    if not has_v1 and not has_v2:
        raise MetainfoError("info has neither v1 'pieces' nor v2 'meta version' 2")
    name = _name(info)
    piece_length = _piece_length(info)

    v1_files = _v1_files(info, name, limits) if has_v1 else None
    v2_files = _v2_files(info, limits) if has_v2 else None

    if v1_files is not None:
        files = v1_files
        prefix: tuple[str, ...] = () if b"length" in info else (name,)
    else:
        assert v2_files is not None
        files = v2_files
        # libtorrent reads a v2 tree whose only top-level entry is a file as a single-file
        # torrent stored under that file's own name, whatever 'name' says.
        tree = info[b"file tree"]
        assert isinstance(tree, dict)
        single = len(tree) == 1 and len(v2_files) == 1 and len(v2_files[0].path) == 1
        prefix = () if single else (name,)

    if v1_files is not None and v2_files is not None:
        files = _merge_hybrid(v1_files, v2_files, piece_length)
    total = sum(entry.size for entry in files if not entry.padding)
    if total == 0:
        raise MetainfoError("torrent contains no data (every file is empty or padding)")
    if sum(entry.size for entry in files) > MAX_INTEGER:
        raise MetainfoError("torrent is larger than 2**63 - 1 bytes")
    if has_v1:
        _check_v1_pieces(info[b"pieces"], files, piece_length)
    if has_v2 and piece_layers is not None:
        _check_piece_layers(piece_layers, files, piece_length)

    entries = tuple(
        FileEntry(prefix + entry.path, entry.size, entry.padding, entry.pieces_root)
        for entry in files
    )
    _check_unique_paths(entries)
    return _Layout(name, piece_length, entries, total, has_v1, has_v2)


def _require_sorted_keys(info: dict[bytes, object]) -> None:
    """BEP 3 requires sorted keys; clients that re-encode would otherwise hash differently."""
    pending: list[object] = [info]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            keys = list(value)
            for before, after in pairwise(keys):
                if before > after:
                    raise MetainfoError(
                        f"info dictionary is not canonically encoded: key {after!r} comes "
                        f"after {before!r}; re-create the torrent with a current client"
                    )
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def _meta_version(info: dict[bytes, object]) -> int | None:
    version = info.get(b"meta version")
    if version is None:
        if b"file tree" in info:
            raise MetainfoError("info has a v2 'file tree' but no 'meta version' 2")
        return None
    if version != 2:
        raise MetainfoError(f"unsupported info.meta version {version!r}; only 2 is defined")
    if b"file tree" not in info:
        raise MetainfoError("info.meta version is 2 but there is no 'file tree'")
    return 2


def _name(info: dict[bytes, object]) -> str:
    key = b"name.utf-8" if b"name.utf-8" in info else b"name"
    raw = info.get(key)
    if raw is None:
        raise MetainfoError("missing info.name")
    if not isinstance(raw, bytes):
        raise MetainfoError(f"info.{key.decode()} must be a string")
    return _component(raw, raw, "torrent name")


def _piece_length(info: dict[bytes, object]) -> int:
    value = info.get(b"piece length")
    if not isinstance(value, int):
        raise MetainfoError("missing or non-integer info.piece length")
    if not (MIN_PIECE_LENGTH <= value <= MAX_PIECE_LENGTH and value & (value - 1) == 0):
        raise MetainfoError(
            f"info.piece length must be a power of two from 16 KiB to 256 MiB, not {value}"
        )
    return value


def _private(info: dict[bytes, object]) -> bool:
    value = info.get(b"private", 0)
    if not isinstance(value, int):
        raise MetainfoError("info.private must be an integer (1 for a private torrent)")
    return value != 0  # libtorrent treats any non-zero value as private


def _info_text(info: dict[bytes, object], key: bytes) -> str | None:
    value = info.get(key)
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise MetainfoError(f"info.{key.decode()} must be a string")
    return value.decode("utf-8", errors="replace")


# ----------------------------------------------------------------- names and paths


def _component(raw: object, shown: object, what: str) -> str:
    """Validate one path component (or the torrent name) and return it as text."""
    if not isinstance(raw, bytes):
        raise MetainfoError(f"{what} must be a string, in {_show(shown)}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MetainfoError(f"{what} is not valid UTF-8: {_show(shown)}") from None
    problem = _component_problem(text)
    if problem is not None:
        raise MetainfoError(f"{what} {problem}: {_show(shown)}")
    return text


def _component_problem(text: str) -> str | None:
    if text == "..":
        return "escapes the torrent directory"
    if text == ".":
        return "has a '.' component"
    if not text:
        return "has an empty component"
    if "/" in text or "\\" in text:
        return "contains a path separator"
    if _CONTROL_RE.search(text):
        return "contains a control character"
    if _DRIVE_RE.match(text):
        return "starts with a drive letter"
    if text.isspace():
        return "is blank"
    if len(text) > MAX_NAME_CHARS:
        return f"is longer than {MAX_NAME_CHARS} characters"
    return None


def _path(raw: object, limits: _Limits, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise MetainfoError(f"{where} must be a non-empty list of strings")
    if len(raw) > limits.max_path_depth:
        raise MetainfoError(
            f"file path is nested deeper than {limits.max_path_depth} levels: {_show(raw)}"
        )
    path = tuple(_known_component(part, raw, limits.names) for part in raw)
    if sum(len(part) + 1 for part in path) > MAX_PATH_CHARS:
        raise MetainfoError(f"file path is longer than {MAX_PATH_CHARS} characters")
    return path


def _known_component(raw: object, shown: object, names: dict[bytes, str]) -> str:
    """`_component`, remembering the names already validated in this torrent."""
    if isinstance(raw, bytes) and raw in names:
        return names[raw]
    text = _component(raw, shown, "file path")
    assert isinstance(raw, bytes)  # _component refuses anything else
    names[raw] = text
    return text


def _show(shown: object) -> str:
    """Render a name or a list of path components for an error message."""
    parts = shown if isinstance(shown, list) else [shown]
    text = "/".join(
        part.decode("utf-8", errors="backslashreplace") if isinstance(part, bytes) else "?"
        for part in parts
    )
    if len(text) > 300:
        text = text[:300] + "..."
    return repr(text)


def _is_padding(attr: object, path: tuple[str, ...], where: str) -> bool:
    if attr is not None and not isinstance(attr, bytes):
        raise MetainfoError(f"{where}.attr must be a string")
    return (attr is not None and b"p" in attr) or path[-1].startswith(_LEGACY_PAD_PREFIX)


def _file_size(value: object, where: str) -> int:
    if not isinstance(value, int):
        raise MetainfoError(f"missing or non-integer {where}")
    if value < 0:
        raise MetainfoError(f"{where} must not be negative")
    return value


def _check_unique_paths(entries: Iterable[FileEntry]) -> None:
    """Two files at one path, or a file where another file needs a directory, cannot coexist."""
    files: set[tuple[str, ...]] = set()
    directories: set[tuple[str, ...]] = set()
    for entry in entries:
        if entry.padding:
            continue  # never written to disk; libtorrent names them all ".pad/<size>"
        path = entry.path
        if path in files:
            raise MetainfoError(f"two files share the path {'/'.join(path)!r}")
        if path in directories:
            raise MetainfoError(f"{'/'.join(path)!r} is both a file and a directory")
        files.add(path)
        # Deepest directory first: once one is known, so are all above it (and they were
        # checked then), which keeps a deep listing linear instead of quadratic in depth.
        for depth in range(len(path) - 1, 0, -1):
            parent = path[:depth]
            if parent in directories:
                break
            if parent in files:
                raise MetainfoError(f"{'/'.join(parent)!r} is both a file and a directory")
            directories.add(parent)


# --------------------------------------------------------------------------- v1


def _v1_files(info: dict[bytes, object], name: str, limits: _Limits) -> list[_File]:
    length = info.get(b"length")
    listing = info.get(b"files")
    if (length is None) == (listing is None):
        raise MetainfoError("info must have exactly one of 'length' (one file) or 'files'")
    if length is not None:
        padding = _is_padding(info.get(b"attr"), (name,), "info")
        return [_File((name,), _file_size(length, "info.length"), padding)]
    if not isinstance(listing, list) or not listing:
        raise MetainfoError("info.files must be a non-empty list")
    if len(listing) > limits.max_files:
        raise MetainfoError(f"torrent has {len(listing)} files, the limit is {limits.max_files}")
    return [_v1_file(item, limits, f"info.files[{index}]") for index, item in enumerate(listing)]


def _v1_file(item: object, limits: _Limits, where: str) -> _File:
    if not isinstance(item, dict):
        raise MetainfoError(f"{where} must be a dictionary")
    key = b"path.utf-8" if b"path.utf-8" in item else b"path"
    path = _path(item.get(key), limits, f"{where}.{key.decode()}")
    size = _file_size(item.get(b"length"), f"{where}.length")
    return _File(path, size, _is_padding(item.get(b"attr"), path, where))


def _check_v1_pieces(pieces: object, files: Sequence[_File], piece_length: int) -> None:
    if not isinstance(pieces, bytes):
        raise MetainfoError("info.pieces must be a string")
    if len(pieces) % SHA1_LENGTH:
        raise MetainfoError(
            f"info.pieces must be a multiple of 20 bytes long, not {len(pieces)} bytes"
        )
    # Pad files are hashed like any other data, so they count here.
    total = sum(entry.size for entry in files)
    expected = -(-total // piece_length)
    actual = len(pieces) // SHA1_LENGTH
    if actual != expected:
        raise MetainfoError(
            f"info.pieces has {actual} piece hashes but {total} bytes in pieces of "
            f"{piece_length} bytes need {expected}"
        )


# --------------------------------------------------------------------------- v2


def _v2_files(info: dict[bytes, object], limits: _Limits) -> list[_File]:
    tree = info[b"file tree"]
    if not isinstance(tree, dict):
        raise MetainfoError("info.file tree must be a dictionary")
    if b"" in tree:
        raise MetainfoError("info.file tree's root must be a directory, not a file")
    files: list[_File] = []
    _walk_tree(tree, (), files, limits)
    return files


def _walk_tree(
    node: dict[bytes, object], path: tuple[str, ...], files: list[_File], limits: _Limits
) -> None:
    """Collect the files under a directory node, depth first in key (sorted) order."""
    for raw_name, child in node.items():
        raw_path = [*(part.encode() for part in path), raw_name]
        if len(raw_path) > limits.max_path_depth:
            raise MetainfoError(
                f"file path is nested deeper than {limits.max_path_depth} levels: {_show(raw_path)}"
            )
        child_path = (*path, _component(raw_name, raw_path, "file path"))
        if not isinstance(child, dict):
            raise MetainfoError(f"file tree entry {_show(raw_path)} must be a dictionary")
        if b"" not in child:
            _walk_tree(child, child_path, files, limits)  # a directory; empty ones are ignored
            continue
        if len(child) != 1:
            raise MetainfoError(f"file tree entry {_show(raw_path)} is both a file and a directory")
        if len(files) >= limits.max_files:
            raise MetainfoError(f"torrent has more than {limits.max_files} files")
        if sum(len(part) + 1 for part in child_path) > MAX_PATH_CHARS:
            raise MetainfoError(f"file path is longer than {MAX_PATH_CHARS} characters")
        files.append(_v2_file(child[b""], child_path, raw_path))


def _v2_file(leaf: object, path: tuple[str, ...], raw_path: list[bytes]) -> _File:
    shown = _show(raw_path)
    if not isinstance(leaf, dict):
        raise MetainfoError(f"file tree entry {shown} must hold a dictionary under ''")
    size = _file_size(leaf.get(b"length"), f"length of {shown}")
    root = leaf.get(b"pieces root")
    if root is None and size > 0:
        raise MetainfoError(f"v2 file {shown} has no 'pieces root'")
    if root is not None and (not isinstance(root, bytes) or len(root) != SHA256_LENGTH):
        raise MetainfoError(f"v2 'pieces root' must be 32 bytes, in {shown}")
    return _File(path, size, pieces_root=root if size > 0 else None)


def _check_piece_layers(layers: object, files: Sequence[_File], piece_length: int) -> None:
    """Verify each piece layer (BEP 52) against the Merkle root of its file.

    A layer holds one SHA-256 hash per piece; it is only present for files larger than one
    piece (a smaller file's root is its only piece hash).  Missing layers are allowed: clients
    fetch them from peers.  Wrong ones are not: libtorrent refuses such a torrent.
    """
    if not isinstance(layers, dict):
        raise MetainfoError("'piece layers' must be a dictionary")
    sizes = {
        entry.pieces_root: entry.size
        for entry in files
        if entry.pieces_root is not None and entry.size > piece_length
    }
    for root, layer in layers.items():
        size = sizes.get(root)
        if size is None:
            raise MetainfoError(
                f"'piece layers' has an entry that matches no file larger than one piece: "
                f"{root.hex()}"
            )
        pieces = -(-size // piece_length)
        if not isinstance(layer, bytes) or len(layer) != pieces * SHA256_LENGTH:
            raise MetainfoError(
                f"piece layer for pieces root {root.hex()} must be {pieces} hashes of 32 bytes"
            )
        if _merkle_root(layer, piece_length) != root:
            raise MetainfoError(f"piece layer does not match its pieces root {root.hex()}")


def _merkle_root(layer: bytes, piece_length: int) -> bytes:
    """Root of the BEP 52 tree given its piece layer.

    The tree is built over 16 KiB blocks and padded with zero hashes to a power of two; at the
    piece layer the padding hash is therefore the root of a subtree of zero hashes.
    """
    pad = bytes(SHA256_LENGTH)
    for _ in range((piece_length // BLOCK_SIZE).bit_length() - 1):
        pad = hashlib.sha256(pad + pad).digest()
    level = [layer[i : i + SHA256_LENGTH] for i in range(0, len(layer), SHA256_LENGTH)]
    width = 1 << (len(level) - 1).bit_length()
    level.extend([pad] * (width - len(level)))
    while len(level) > 1:
        level = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


# --------------------------------------------------------------------------- hybrid


def _merge_hybrid(v1: list[_File], v2: list[_File], piece_length: int) -> list[_File]:
    """Check that a hybrid's v1 list and v2 tree agree and return the v1 list with roots.

    Same files (paths and sizes, pad files aside) in the same order; each non-empty file
    starts on a piece boundary, and each pad file fills exactly the rest of one piece.
    libtorrent refuses hybrids that break any of these rules.
    """
    real = [entry for entry in v1 if not entry.padding]
    if [(e.path, e.size) for e in real] != [(e.path, e.size) for e in v2]:
        raise MetainfoError(
            "hybrid torrent's v1 file list and v2 file tree describe different files"
        )
    roots = iter(v2)
    merged: list[_File] = []
    offset = 0
    for entry in v1:
        if entry.padding:
            if offset % piece_length == 0 or entry.size != piece_length - offset % piece_length:
                raise MetainfoError(
                    f"hybrid torrent's pad file at byte {offset} does not fill exactly the "
                    "rest of a piece"
                )
            merged.append(entry)
        else:
            if entry.size and offset % piece_length:
                raise MetainfoError(
                    f"hybrid torrent's file {'/'.join(entry.path)!r} does not start on a "
                    "piece boundary (v2 needs pad files between files)"
                )
            merged.append(_File(entry.path, entry.size, pieces_root=next(roots).pieces_root))
        offset += entry.size
    return merged


# ------------------------------------------------------------- top-level metadata


def _trackers(top: dict[bytes, object]) -> tuple[str | None, tuple[tuple[str, ...], ...]]:
    announce = _url(top.get(b"announce"))
    tiers: list[tuple[str, ...]] = []
    raw_tiers = top.get(b"announce-list")
    if isinstance(raw_tiers, list):
        for raw_tier in raw_tiers:
            if isinstance(raw_tier, list):
                tier = tuple(url for url in map(_url, raw_tier) if url is not None)
                if tier:
                    tiers.append(tier)
    return announce, tuple(tiers)


def _web_seeds(value: object) -> tuple[str, ...]:
    """BEP 19 ``url-list``: one URL or a list of them."""
    items = value if isinstance(value, list) else [value]
    return tuple(url for url in map(_url, items) if url is not None)


def _url(value: object) -> str | None:
    if not isinstance(value, bytes):
        return None
    try:
        url = value.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    return url if url and not _CONTROL_RE.search(url) else None


def _display_text(top: dict[bytes, object], key: bytes) -> str | None:
    value = top.get(key + b".utf-8", top.get(key))
    if not isinstance(value, bytes):
        return None
    return value.decode("utf-8", errors="replace")


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) else None


# --------------------------------------------------------------------------- rewriting


def rebuild_with_trackers(torrent: BytesLike, tiers: Sequence[Sequence[str]]) -> bytes:
    """Return ``torrent`` with its trackers replaced by ``tiers`` (BEP 12 tiers of URLs).

    ``announce`` becomes the first URL and ``announce-list`` the tiers (omitted for a single
    URL; both omitted when there are none).  Every other top-level value, the info dictionary
    above all, is copied byte for byte, so the info hashes cannot change.  Only the top level
    is parsed: this does not validate the torrent, :func:`parse_torrent` does.
    """
    torrent = bytes(torrent)
    try:
        _, spans = decode_with_spans(torrent)
    except BencodeError as exc:
        raise MetainfoError(f"not a valid torrent file: {exc}") from None
    return _splice_trackers(torrent, spans, tiers)


def _splice_trackers(
    torrent: bytes, spans: Mapping[bytes, Span], tiers: Sequence[Sequence[str]]
) -> bytes:
    clean = [list(tier) for tier in tiers if tier]
    for tier in clean:
        for url in tier:
            if not isinstance(url, str) or not url.strip():
                raise ValueError(f"tracker URLs must be non-empty strings, not {url!r}")
    values = {
        key: torrent[start:end]
        for key, (start, end) in spans.items()
        if key not in (b"announce", b"announce-list")
    }
    if clean:
        values[b"announce"] = encode(clean[0][0])
        if sum(len(tier) for tier in clean) > 1:
            values[b"announce-list"] = encode(clean)
    parts = [b"d"]
    for key in sorted(values):
        parts.append(encode(key))
        parts.append(values[key])
    parts.append(b"e")
    return b"".join(parts)
