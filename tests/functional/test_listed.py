"""Listed mode: only torrents on the allowlist are served, hybrids as one swarm."""

from __future__ import annotations

import hashlib
from pathlib import Path

from swarmdex.protocol import udp as udp_wire
from swarmdex.protocol.announce import Event
from swarmdex.protocol.http import scrape_query
from swarmdex.tracker.hooks import ListedTorrents
from swarmdex.tracker.logic import UNREGISTERED

from .wire import (
    LOCAL,
    RunningNode,
    announce_target,
    http_announce,
    http_announce_ok,
    http_get,
    info_hash,
    make_settings,
    run,
    running,
    split_peers,
    stats,
    udp_clients,
    until,
)

HYBRID_V1 = hashlib.sha1(b"hybrid info dict").digest()
HYBRID_V2 = hashlib.sha256(b"hybrid info dict").digest()


def allowlist_of(node: RunningNode) -> ListedTorrents:
    allowlist = node.node.listed  # the list the site feeds in process
    assert isinstance(allowlist, ListedTorrents)
    return allowlist


async def refused_everywhere(node: RunningNode, h: bytes) -> None:
    answer = await http_announce(node.http(), h, port=6999)
    assert answer == {b"failure reason": UNREGISTERED.encode()}
    assert b"unregistered torrent" in answer[b"failure reason"]
    async with udp_clients(node.udp()) as (client,):
        reply = await client.announce(h, port=6999)
        assert isinstance(reply, udp_wire.ErrorReply)
        assert reply.message == UNREGISTERED


def test_unlisted_torrents_are_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(make_settings(tracker_mode="listed", data_dir=tmp_path)) as node:
            assert len(allowlist_of(node)) == 0
            h = info_hash(301)
            await refused_everywhere(node, h)
            # Scraping an unlisted hash reads zeros and creates nothing.
            scrape = (await http_get(node.http(), "/scrape?" + scrape_query([h]))).bencoded()
            assert scrape[b"files"][h] == {b"complete": 0, b"downloaded": 0, b"incomplete": 0}
            assert node.counts() == (0, 0)
            assert (await stats(node.http()))["refused"] == 2

    run(scenario())


def test_hybrid_hashes_share_one_swarm_until_removed(tmp_path: Path) -> None:
    async def scenario() -> None:
        v1, v2 = HYBRID_V1, HYBRID_V2[:20]
        async with running(make_settings(tracker_mode="listed", data_dir=tmp_path)) as node:
            allowlist = allowlist_of(node)
            await refused_everywhere(node, v1)
            assert allowlist.add(HYBRID_V1, HYBRID_V2) == v1
            assert len(allowlist) == 1

            async with udp_clients(node.udp()) as (client,):
                seeder = await client.announce_ok(v1, port=6001, left=0, event=Event.STARTED)
                assert (seeder.seeders, seeder.leechers) == (1, 0)
            # A v2-aware client announces the truncated SHA-256 and meets the v1 seeder.
            leecher = await http_announce_ok(node.http(), v2, port=6002, event=Event.STARTED)
            assert split_peers(leecher[b"peers"], 6) == [(LOCAL, 6001)]
            assert (leecher[b"complete"], leecher[b"incomplete"]) == (1, 1)
            back = await http_announce_ok(node.http(), v1, port=6001, left=0)
            assert split_peers(back[b"peers"], 6) == [(LOCAL, 6002)]

            await http_announce_ok(node.http(), v2, port=6002, left=0, event=Event.COMPLETED)
            scrape = (await http_get(node.http(), "/scrape?" + scrape_query([v1, v2]))).bencoded()
            whole = {b"complete": 2, b"downloaded": 1, b"incomplete": 0}
            assert scrape[b"files"] == {v1: whole, v2: whole}
            assert node.counts() == (1, 2)

            assert allowlist.remove(HYBRID_V1, HYBRID_V2) == v1
            await refused_everywhere(node, v1)
            await refused_everywhere(node, v2)

    run(scenario())


def test_v2_only_torrent_is_announced_truncated(tmp_path: Path) -> None:
    async def scenario() -> None:
        v2 = hashlib.sha256(b"v2 only").digest()
        async with running(make_settings(tracker_mode="listed", data_dir=tmp_path)) as node:
            allowlist_of(node).add(v2=v2)
            answer = await http_announce_ok(node.http(), v2[:20], port=6001)
            assert answer[b"incomplete"] == 1
            full = await http_get(node.http(), announce_target(v2[:20], port=6001).replace(
                "info_hash=", "info_hash=" + "".join(f"%{b:02X}" for b in v2) + "&x="))
            assert full.bencoded() == {b"failure reason": b"info_hash must be 20 bytes, got 32"}

    run(scenario())


def test_completions_outlive_the_peers_in_listed_mode(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = info_hash(302)
        async with running(make_settings(tracker_mode="listed", data_dir=tmp_path)) as node:
            allowlist_of(node).add(h)
            await http_announce_ok(node.http(), h, port=6001, left=0, event=Event.COMPLETED)
            await http_announce_ok(node.http(), h, port=6001, left=0, event=Event.STOPPED)
            scrape = (await http_get(node.http(), "/scrape?" + scrape_query([h]))).bencoded()
            assert scrape[b"files"][h] == {b"complete": 0, b"downloaded": 1, b"incomplete": 0}

    run(scenario())


def test_allowlist_file_is_followed_while_running(tmp_path: Path) -> None:
    listed_hash, later = info_hash(310), info_hash(311)
    path = tmp_path / "allowlist.txt"
    path.write_text(f"# served torrents\n{listed_hash.hex()}\n\n")

    async def scenario() -> None:
        settings = make_settings(tracker_mode="listed", data_dir=tmp_path, allowlist=path)
        async with running(settings) as node:
            await http_announce_ok(node.http(), listed_hash, port=6001)
            await refused_everywhere(node, later)

            path.write_text(f"{later.hex()}  # the other one\n")

            async def switched() -> bool:
                answer = await http_announce(node.http(), later, port=6002)
                return b"failure reason" not in answer

            await until(switched, timeout=5)
            await refused_everywhere(node, listed_hash)
            # The dropped torrent's swarm went with it.
            assert node.counts() == (1, 1)

    run(scenario())
