"""Limits of the shared HTTP port, met by real clients over real sockets: what a documented
request needs always fits, and abusive connections are cut off without starving the rest."""

from __future__ import annotations

from swarmdex.bittorrent.bencode import decode
from swarmdex.protocol.http import MAX_SCRAPE_HASHES, scrape_query

from .wire import HttpClient, http_announce_ok, info_hash, run, running


def test_scrape_of_the_documented_maximum_of_hashes_is_answered() -> None:
    async def scenario() -> None:
        hashes = [bytes([0xFF - i % 7]) * 12 + info_hash(i)[-8:] for i in range(MAX_SCRAPE_HASHES)]
        async with running() as node:
            await http_announce_ok(node.http(), hashes[-1], port=6001, left=0)
            target = "/scrape?" + scrape_query(hashes)
            client = await HttpClient.open(node.http())
            try:
                # On the tracker's own connection handling...
                files = (await client.get(target)).bencoded()[b"files"]
                assert len(files) == MAX_SCRAPE_HASHES and files[hashes[-1]][b"complete"] == 1
                # ...and on a connection the site serves, after a page.
                assert (await client.get("/stats.json")).status == 200
                answer = await client.get(target)
                assert answer.status == 200, answer.body[:200]
                assert len(decode(answer.body)[b"files"]) == MAX_SCRAPE_HASHES
                # One hash more is the protocol's refusal, not the server's.
                over = await client.get(target + "&info_hash=" + "%00" * 20)
                assert over.bencoded() == {
                    b"failure reason": f"too many info hashes (at most {MAX_SCRAPE_HASHES})".encode()}
            finally:
                await client.close()

    run(scenario())
