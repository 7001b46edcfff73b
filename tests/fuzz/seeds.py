"""Write the seed inputs of the kept corpus (corpus/TARGET/seed-*): well-formed examples of
each format, from which the fuzzer mutates its way into the parsers' corners.

    .venv/bin/python -m tests.fuzz.seeds

Torrents come from libtorrent (v1, v2, hybrid with pad files), as in the parser's unit tests.
Other files in the corpus are inputs the fuzzer found interesting and are kept as they are.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import libtorrent as lt

from swarmdex.bittorrent.bencode import encode
from swarmdex.bittorrent.magnet import make_magnet
from swarmdex.protocol import http, udp
from swarmdex.protocol.announce import AnnounceRequest, Event, SwarmCounts

from .targets import CORPUS

V1 = hashlib.sha1(b"swarmdex").digest()
V2 = hashlib.sha256(b"swarmdex").digest()
PEER = b"-SD0100-" + b"0123456789ab"
CID = bytes.fromhex("0123456789abcdef")


def bencode_seeds() -> Iterator[bytes]:
    yield from (b"i0e", b"i-42e", b"i9223372036854775807e", b"0:", b"4:spam", b"le", b"de")
    yield b"d3:cow3:moo4:spaml1:a1:bee"
    yield b"d4:spam3:egg3:cow3:mooe"  # keys out of order: accepted, not canonical
    yield encode({b"info": {b"length": 5, b"name": b"x"}, b"list": [[1, [2, [b"3"]]], {}]})


def _torrent(root: Path, layout: dict[str, int], flags: int, piece: int = 16384) -> bytes:
    rng = random.Random(repr(layout))
    for relative, size in layout.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    files = lt.list_files(str(root / next(iter(layout)).split("/")[0]))
    maker = lt.create_torrent(files, piece, flags)
    maker.add_tracker("udp://tracker.invalid:6969/announce", 0)
    maker.add_tracker("http://tracker.invalid/announce", 1)
    maker.set_comment("seed")
    lt.set_piece_hashes(maker, str(root))
    return bytes(lt.bencode(maker.generate()))


def metainfo_seeds() -> Iterator[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        yield _torrent(root / "a", {"one.iso": 40000}, lt.create_torrent.v1_only)
        yield _torrent(root / "b", {"dir/x.bin": 20000, "dir/sub/y.txt": 300},
                       lt.create_torrent.v1_only)
        yield _torrent(root / "c", {"two.iso": 40000}, lt.create_torrent.v2_only)
        yield _torrent(root / "d", {"mix/p.bin": 17000, "mix/q/r.bin": 5}, 0)  # hybrid, pads


def magnet_seeds() -> Iterator[bytes]:
    yield make_magnet(v1=V1, v2=None, name="Debian 12 & more", trackers=["udp://t.invalid:6969"],
                      size=123456).encode()
    yield make_magnet(v1=V1, v2=V2, name="hybrid+name", trackers=["http://a/ann", "http://b/"],
                      web_seeds=["https://w.invalid/f"]).encode()
    yield make_magnet(v1=None, v2=V2, name=None, trackers=()).encode()
    yield b"MAGNET:?XT.1=urn:btih:" + b"CI" * 16 + b"&dn=caf%C3%A9&tr.1=x&x.pe=1.2.3.4:5"


def udp_seeds() -> Iterator[bytes]:
    request = AnnounceRequest(V1, PEER, 6881, 10, 20, 30, Event.STARTED, 50, 7, bytes(4))
    yield udp.client_connect(1)
    yield udp.client_announce(CID, 2, request)
    yield udp.client_announce(CID, 3, request, b"/announce?passkey=" + b"k" * 300)
    yield udp.client_scrape(CID, 4, [V1, V2[:20]])
    yield udp.encode_connect(5, CID)
    yield udp.encode_announce(6, 1800, 1, 2, bytes(range(12)))
    yield udp.encode_scrape(7, [SwarmCounts(1, 2, 3)])
    yield udp.encode_error(8, "unregistered torrent")


def http_seeds() -> Iterator[bytes]:
    request = AnnounceRequest(V1, PEER, 6881, 1, 2, 3, Event.COMPLETED, 30, None,
                              bytes((10, 0, 0, 1)), no_peer_id=True)
    yield http.announce_query(request).encode()
    yield http.announce_query(AnnounceRequest(V1, PEER, 1, 0, 0, 0, Event.NONE, None,
                                              compact=False)).encode() + b"&key=ab&event=paused"
    yield http.scrape_query([V1, V2[:20]]).encode()
    yield b"info_hash=%zz&peer_id=&port=-1&numwant=-1&ip=fe80::1%25eth0&&="


def passkey_seeds() -> Iterator[bytes]:
    key = b"0123456789abcdef0123456789abcdef"
    yield b"/announce/" + key
    yield b"/scrape/" + key + b"?" + http.scrape_query([V1]).encode()
    yield b"/announce/" + key + b"/extra?passkey=" + key
    yield b"/announce"


SEEDS = {
    "bencode": bencode_seeds,
    "metainfo": metainfo_seeds,
    "magnet": magnet_seeds,
    "udp": udp_seeds,
    "http": http_seeds,
    "passkey": passkey_seeds,
}


def main() -> None:
    for target, seeds in SEEDS.items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(seeds()):
            (folder / f"seed-{i:02d}").write_bytes(seed)
        print(f"{target}: {len(list(folder.iterdir()))} files")


if __name__ == "__main__":
    main()
