"""Payload files and the .torrent files that describe them, made with libtorrent."""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libtorrent as lt

PIECE_SIZE = 256 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Payload:
    path: Path
    sha256: str

    @property
    def directory(self) -> Path:
        return self.path.parent


def make_payload(directory: Path, size: int, name: str = "payload.bin") -> Payload:
    """Random bytes, so every test has its own infohash and no swarm is shared between tests."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(os.urandom(size))
    return Payload(path, sha256_file(path))


class TorrentKind(enum.Enum):
    V1 = "v1"
    V2 = "v2"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class Torrent:
    path: Path
    metainfo: bytes
    name: str
    kind: TorrentKind


def make_torrent(
    payload: Path, trackers: Sequence[str], kind: TorrentKind, out_dir: Path
) -> Torrent:
    """A single-file torrent for `payload`, one tracker per tier, written into `out_dir`."""
    flags = {
        TorrentKind.V1: lt.create_torrent.v1_only,
        TorrentKind.V2: lt.create_torrent.v2_only,
        TorrentKind.HYBRID: 0,  # neither flag: libtorrent 2 makes hybrid torrents by default
    }[kind]
    if hasattr(lt, "list_files"):
        files: Any = lt.list_files(str(payload))
    else:  # libtorrent 2.0 has only the file_storage API, deprecated in 2.1
        files = lt.file_storage()
        lt.add_files(files, str(payload))
    creator = lt.create_torrent(files, PIECE_SIZE, flags)
    for tier, url in enumerate(trackers):
        creator.add_tracker(url, tier)
    creator.set_creator("swarmdex interop tests")
    lt.set_piece_hashes(creator, str(payload.parent))
    metainfo: bytes = lt.bencode(creator.generate())
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{payload.name}.{kind.value}.torrent"
    path.write_bytes(metainfo)
    return Torrent(path=path, metainfo=metainfo, name=payload.name, kind=kind)
