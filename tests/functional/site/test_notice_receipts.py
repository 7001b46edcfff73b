"""A notice's receipt is for its sender: the address given after filing shows it; the number
alone, or with any other key, is not found, so pending notices cannot be read by counting."""

from __future__ import annotations

from pathlib import Path

from swarmdex.torrents import services as torrents

from .content import listed_torrent
from .helpers import async_test, post_form, running_site

TITLE = "Example Film 2024 1080p"


@async_test
async def test_only_the_sender_can_open_a_notice_receipt(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        uploader = await site.create_user("uploader")
        key = torrents.info_hash(await listed_torrent(site, tmp_path, uploader, TITLE))
        sender = site.client("192.0.2.10")
        filed = await post_form(
            sender, "/notice", claimant_name="Ada Claimant", organisation="", email="ada@example.org",
            work="The film", torrents=f"http://testserver/t/{key}", good_faith="1", accurate="1",
            signature="Ada Claimant")
        assert filed.status_code == 303
        receipt = filed.headers["location"]
        shown = await sender.get(receipt)
        assert shown.status_code == 200 and TITLE in shown.text
        number = receipt.split("/")[2]

        snooper = site.client("198.51.100.7")
        other_key = "A" * 22
        for path in (f"/notice/{number}/received", f"/notice/{number}/received/{other_key}",
                     f"/notice/{number}/received/{receipt.rsplit('/', 1)[1][:-1]}",
                     f"/notice/{int(number) + 1}/received/{receipt.rsplit('/', 1)[1]}"):
            answer = await snooper.get(path)
            assert answer.status_code == 404, path
            assert TITLE not in answer.text
