"""BitTorrent vocabulary shared by the tracker and the site (standard library only).

Bencoding, info hashes and peer ids, torrent files (v1, v2 and hybrid) and magnet links.
"""

from swarmdex.bittorrent.bencode import (
    BencodeError,
    decode,
    decode_with_spans,
    encode,
    find_key_span,
)
from swarmdex.bittorrent.infohash import InfoHash, PeerId
from swarmdex.bittorrent.magnet import Magnet, MagnetError, make_magnet, parse_magnet
from swarmdex.bittorrent.metainfo import (
    FileEntry,
    FileTreeNode,
    Metainfo,
    MetainfoError,
    parse_torrent,
    rebuild_with_trackers,
)

__all__ = [
    "BencodeError",
    "FileEntry",
    "FileTreeNode",
    "InfoHash",
    "Magnet",
    "MagnetError",
    "Metainfo",
    "MetainfoError",
    "PeerId",
    "decode",
    "decode_with_spans",
    "encode",
    "find_key_span",
    "make_magnet",
    "parse_magnet",
    "parse_torrent",
    "rebuild_with_trackers",
]
