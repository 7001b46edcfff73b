"""A torrent's files as the site stores and shows them.

Stored (`TorrentFile.path`): for a multi-file torrent, the path below the torrent's
directory ("cd1/track.flac"); for a single-file torrent, the file's own name. Pad files
(BEP 47) are never stored: clients do not write them to disk.

Shown: a tree whose root is the torrent's directory (multi-file) or the file itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from swarmdex import deceptive
from swarmdex.bittorrent.bencode import decode
from swarmdex.bittorrent.metainfo import Metainfo

__all__ = [
    "SINGLE_FILE_CHECK_BYTES",
    "Entry",
    "build_tree",
    "is_single_file",
    "shown_as_single_file",
    "stored_files",
]


def stored_files(meta: Metainfo) -> list[tuple[str, int]]:
    """(path, size) of each real file, in the torrent's order."""
    real = [entry for entry in meta.files if not entry.padding]
    # parse_torrent puts a multi-file torrent's files under (name, ...) and a single file
    # at (its name,): one component means a single-file torrent.
    if len(real) == 1 and len(real[0].path) == 1:
        return [(real[0].path[0], real[0].size)]
    return [("/".join(entry.path[1:]), entry.size) for entry in real]


# Info dictionaries up to this size are decoded to tell a single file from a folder holding
# one file of the same name (a few milliseconds at most); a larger one could take seconds
# on the event loop (megabytes of junk under a key no client reads), so there the stored
# path decides, which misreads only that rare folder.
SINGLE_FILE_CHECK_BYTES = 64 * 1024


def shown_as_single_file(info_dict: bytes, name: str, path: str) -> bool:
    """Whether a torrent of one stored file, `path`, is shown as a file rather than as
    its folder `name` holding it."""
    if len(info_dict) <= SINGLE_FILE_CHECK_BYTES:
        return is_single_file(info_dict)
    return path == name


def is_single_file(info_dict: bytes) -> bool:
    """Whether the torrent is one file rather than a directory.

    Only a torrent with one file can be either, and the stored path alone cannot tell
    "name" from "dir/name"; the info dictionary can (v1: 'length' instead of 'files'; v2:
    one top-level file in the tree, which libtorrent treats as a single-file torrent).
    """
    info = decode(info_dict)
    assert isinstance(info, dict)
    if b"pieces" in info:
        return b"length" in info
    tree = info.get(b"file tree")
    assert isinstance(tree, dict)
    if len(tree) != 1:
        return False
    (top,) = tree.values()
    return isinstance(top, dict) and b"" in top


@dataclass(slots=True)
class Entry:
    """A file or directory on the detail page; a directory's size sums its files."""

    name: str
    size: int = 0
    file_count: int = 0
    children: list[Entry] | None = None  # None for a file
    _index: dict[str, Entry] = field(default_factory=dict, repr=False)

    @property
    def is_dir(self) -> bool:
        return self.children is not None


def build_tree(root_name: str, files: Iterable[tuple[str, int]], *, single: bool) -> Entry:
    """The display tree of `files` (stored paths and sizes) under `root_name`.

    Names are shown as `deceptive.visible` writes them: a file called "invoice<U+202E>fdp.exe"
    must not read as "invoiceexe.pdf".
    """
    if single:
        (path, size), *_ = files
        return Entry(name=deceptive.visible(path), size=size, file_count=1)
    root = Entry(name=deceptive.visible(root_name), children=[])
    for path, size in files:
        _add(root, path.split("/"), size)
    return root


def _add(root: Entry, parts: list[str], size: int) -> None:
    node = root
    for depth, part in enumerate(parts):
        node.size += size
        node.file_count += 1
        child = node._index.get(part)
        if child is None:
            is_file = depth == len(parts) - 1
            child = Entry(name=deceptive.visible(part), children=None if is_file else [])
            node._index[part] = child
            assert node.children is not None
            node.children.append(child)
        node = child
    node.size += size
    node.file_count += 1
