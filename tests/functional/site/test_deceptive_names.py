"""Names that would read differently from what they are: refused when typed, written out
when they come from inside a .torrent (whose bytes, and so its info hash, are kept)."""

from __future__ import annotations

from pathlib import Path

from swarmdex.bittorrent.bencode import encode
from swarmdex.bittorrent.metainfo import parse_torrent
from tests.unit.torrents.support import async_test, form_fields, running_site

from ...support import crafted

TORRENT_TYPE = "application/x-bittorrent"
OVERRIDE = "invoice\u202efdp.exe"  # shows as "invoiceexe.pdf"
SHOWN = "invoice&lt;U+202E&gt;fdp.exe"


def _multi_file(seed: bytes) -> bytes:
    top = crafted.small_torrent("docs", seed=seed)
    info = top[b"info"]
    assert isinstance(info, dict)
    del info[b"length"]
    info[b"files"] = [{b"length": 1000, b"path": [OVERRIDE.encode()]}]
    return encode(top)


@async_test
async def test_a_name_inside_the_torrent_is_shown_written_out_and_kept_as_uploaded(
    tmp_path: Path,
) -> None:
    single = encode(crafted.small_torrent(OVERRIDE, seed=b"single"))
    multi = _multi_file(b"multi")
    async with running_site(tmp_path) as site:
        await site.login("uploader")
        for data in (single, multi):
            answer = await site.client.post(
                "/upload", data={"category": "linux", **form_fields()},
                files={"file": ("x.torrent", data, TORRENT_TYPE)})
            assert answer.status_code == 303, answer.text
            page = await site.client.get(answer.headers["location"])
            assert page.status_code == 200
            assert "\u202e" not in page.text
            assert SHOWN in page.text
            download = await site.client.get(answer.headers["location"] + ".torrent")
            assert parse_torrent(download.content).info_hash_v1 == parse_torrent(data).info_hash_v1
            assert OVERRIDE.encode() in download.content
            assert "%E2%80%AE" not in download.headers["content-disposition"]
        # The title defaults to the name, written out.
        listing = await site.client.get("/browse")
        assert "\u202e" not in listing.text
        assert SHOWN in listing.text


@async_test
async def test_a_typed_title_with_a_direction_override_is_refused(tmp_path: Path) -> None:
    data = encode(crafted.small_torrent("report.pdf", seed=b"typed"))
    async with running_site(tmp_path) as site:
        await site.login("uploader")
        answer = await site.client.post(
            "/upload", data={"category": "linux", "title": OVERRIDE, **form_fields()},
            files={"file": ("x.torrent", data, TORRENT_TYPE)})
        assert answer.status_code == 422
        assert ("The title contains characters that change the direction of text or cannot "
                "be seen (U+202E).") in answer.text
