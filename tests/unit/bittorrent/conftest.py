"""Real torrents made by libtorrent, the reference the parser is checked against."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from pathlib import Path

import libtorrent as lt
import pytest

VERSION_FLAGS = {
    "v1": lt.create_torrent.v1_only,
    "v2": lt.create_torrent.v2_only,
    "hybrid": 0,
}


@pytest.fixture
def make_torrent(tmp_path: Path) -> Callable[..., bytes]:
    """Create the files of ``layout`` under ``tmp_path`` and return libtorrent's .torrent."""

    def make(
        layout: Mapping[str, int],
        version: str = "hybrid",
        *,
        piece_size: int = 16_384,
        trackers: tuple[tuple[str, ...], ...] = (),
        comment: str | None = None,
        creator: str | None = None,
        private: bool = False,
        web_seeds: tuple[str, ...] = (),
    ) -> bytes:
        rng = random.Random(repr(sorted(layout.items())))
        for relative, size in layout.items():
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.randbytes(size))
        top = {relative.split("/")[0] for relative in layout}
        assert len(top) == 1, "a torrent has one top-level entry"
        files = lt.list_files(str(tmp_path / top.pop()))
        creator_obj = lt.create_torrent(files, piece_size, VERSION_FLAGS[version])
        for tier_index, tier in enumerate(trackers):
            for url in tier:
                creator_obj.add_tracker(url, tier_index)
        for url in web_seeds:
            creator_obj.add_url_seed(url)
        if comment is not None:
            creator_obj.set_comment(comment)
        if creator is not None:
            creator_obj.set_creator(creator)
        creator_obj.set_priv(private)
        lt.set_piece_hashes(creator_obj, str(tmp_path))
        return bytes(lt.bencode(creator_obj.generate()))

    return make
