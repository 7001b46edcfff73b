"""Notice-and-takedown end to end on a real `swarmdex serve`: accounts and a token made on the
command line, an upload through the API, a notice through the form, a moderator's decision,
then real announces over UDP and HTTP, the 451 stub, the refused re-upload, a counter-notice,
the restore, and announces served again. Then a restart in open mode: standing takedowns are
loaded from the database and still refused."""

from __future__ import annotations

import re
from pathlib import Path

from swarmdex.bittorrent.metainfo import parse_torrent
from tests.support.serve import Serve
from tests.support.site import RunningSite
from tests.unit.torrents.support import build_torrent

from .takedown_steps import browser, log_in, post, refused, served, upload
from .wire import run, until

STOP_TIMEOUT = 10
TAKEDOWN_DEADLINE = 1.0  # seconds from the decision to the tracker refusing


def test_takedown_end_to_end(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data = build_torrent(tmp_path / "payload", {"film/film.mkv": 60_000}, seed="takedown-e2e")
    meta = parse_torrent(data)
    assert meta.info_hash_v1 is not None and meta.info_hash_v2 is not None
    announced = (meta.info_hash_v1, meta.info_hash_v2[:20])
    with Serve(data_dir, "--port", "0", "--udp-port", "0") as server:
        site = RunningSite(server, data_dir)
        uploader = site.create_user("uploader")
        token = site.create_token(uploader)
        moderator = site.create_user("moderator", role="moderator")

        created = upload(site, token, data)
        assert created.status_code == 201, created.text
        key = created.json()["info_hash"]
        for h in announced:
            assert run(served(server, h))

        # A visitor files a notice through the form.
        with browser(site) as visitor:
            assert visitor.get(f"/notice?t={key}").status_code == 200
            filed = post(visitor, "/notice", claimant_name="Ada Claimant", organisation="Studio",
                          email="ada@example.org", work="The film", torrents=site.url(f"/t/{key}"),
                          good_faith="1", accurate="1", signature="Ada Claimant")
            assert filed.status_code == 303, filed.text
            match = re.fullmatch(r"/notice/(\d+)/received/[\w-]{22}", filed.headers["location"])
            assert match is not None
            number = int(match.group(1))

        # The moderator accepts; the tracker refuses within a second, over UDP and HTTP.
        with log_in(site, moderator) as staff:
            assert f"#{number}" in staff.get("/takedowns").text
            assert post(staff, f"/takedowns/{number}/accept", note="e2e").status_code == 303
        for h in announced:
            run(until(lambda h=h: refused(server, h), timeout=TAKEDOWN_DEADLINE))

        with browser(site) as visitor:
            stub = visitor.get(f"/t/{key}")
            assert stub.status_code == 451 and f"legal notice #{number}" in stub.text
            assert "magnet:" not in stub.text
            assert visitor.get(f"/t/{key}.torrent").status_code == 451
            api = visitor.get(f"/api/v1/torrents/{key}")
            assert api.status_code == 451 and f"#{number}" in api.json()["detail"]
        again = upload(site, token, data)
        assert again.status_code == 422 and f"legal notice #{number}" in again.json()["detail"]

        # The uploader disputes; the moderator restores; the tracker serves it again.
        with log_in(site, uploader) as client:
            assert f"/takedowns/{number}/counter" in client.get("/account").text
            countered = post(client, f"/takedowns/{number}/counter", statement="It is mine.",
                              contact="up@example.org", good_faith="1", signature="Up Loader")
            assert countered.status_code == 303, countered.text
        with log_in(site, moderator) as staff:
            counter = re.search(r"#counter-(\d+)", staff.get("/takedowns").text)
            assert counter is not None
            restored = post(staff, f"/takedowns/counter/{counter.group(1)}/restore", note="ok")
            assert restored.status_code == 303
        for h in announced:
            run(until(lambda h=h: served(server, h), timeout=TAKEDOWN_DEADLINE))
        with browser(site) as visitor:
            assert visitor.get(f"/t/{key}").status_code == 200

        # Taken down again (a second notice), for the restart below.
        with browser(site) as visitor:
            filed = post(visitor, "/notice", claimant_name="Bo", organisation="", email="bo@example.org",
                          work="The film", torrents=key, good_faith="1", accurate="1", signature="Bo")
            second = int(filed.headers["location"].split("/")[2])
        with log_in(site, moderator) as staff:
            assert post(staff, f"/takedowns/{second}/accept", note="").status_code == 303
        assert server.stop(timeout=STOP_TIMEOUT) == 0

    # Open mode, after a restart: the standing takedown comes from the database.
    with Serve(data_dir, "--port", "0", "--udp-port", "0", "--tracker-mode", "open") as server:
        for h in announced:
            assert run(refused(server, h))
        assert run(served(server, b"\x42" * 20))  # any other torrent, as open mode does
        assert server.stop(timeout=STOP_TIMEOUT) == 0
