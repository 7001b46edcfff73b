"""The upload page past the hourly allowance: the form again, saying why and for how long."""

from __future__ import annotations

from pathlib import Path

from swarmdex.bittorrent.bencode import encode
from tests.unit.torrents.support import async_test, form_fields, running_site

from ...support import crafted

TORRENT_TYPE = "application/x-bittorrent"


@async_test
async def test_the_upload_form_answers_429_with_retry_after_past_the_allowance(
    tmp_path: Path,
) -> None:
    async with running_site(tmp_path, uploads_per_account_per_hour=1) as site:
        await site.login("uploader")
        answers = []
        for name in ("first", "second"):
            data = encode(crafted.small_torrent(name, seed=name.encode()))
            answers.append(await site.client.post(
                "/upload", data={"category": "linux", "title": f"The {name}", **form_fields()},
                files={"file": ("x.torrent", data, TORRENT_TYPE)}))
        assert answers[0].status_code == 303
        refused = answers[1]
        assert refused.status_code == 429
        assert 3000 < int(refused.headers["retry-after"]) <= 3600
        assert ("This site accepts 1 upload an hour from this account; please wait 60 "
                "minutes and try again.") in refused.text
        assert 'value="The second"' in refused.text  # what was typed is kept
