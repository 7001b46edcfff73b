"""A restart keeps the tracker in step with the site: in listed mode (the default), the
torrents on the site are served from the first announce after a start, and deleted ones
are not."""

from __future__ import annotations

from pathlib import Path

from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.tracker.logic import UNREGISTERED
from tests.support.serve import Serve
from tests.support.site import RunningSite
from tests.unit.torrents.support import build_torrent

from .wire import http_announce, run

PORTS = ("--port", "0", "--udp-port", "0")


def test_site_torrents_are_served_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    kept = build_torrent(tmp_path / "kept", {"kept/a.bin": 30_000}, "hybrid")
    gone = build_torrent(tmp_path / "gone", {"gone/a.bin": 30_000}, "v1")
    with Serve(data_dir, *PORTS) as server:
        site = RunningSite(server, data_dir)
        uploader = site.create_user("uploader")
        token = site.create_token(uploader)
        site.upload(token, kept)
        site.delete(uploader, site.upload(token, gone))
        server.stop()

    meta, gone_meta = parse_torrent(kept), parse_torrent(gone)
    assert meta.info_hash_v1 and meta.info_hash_v2 and gone_meta.info_hash_v1
    with Serve(data_dir, *PORTS) as server:
        for announced in (meta.info_hash_v1, meta.info_hash_v2[:20]):
            answer = run(http_announce(server.http, announced, port=6881))
            assert b"failure reason" not in answer, answer
        refused = run(http_announce(server.http, gone_meta.info_hash_v1, port=6881))
        assert refused[b"failure reason"] == UNREGISTERED.encode(), refused
