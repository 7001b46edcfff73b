"""Reports, the moderation queue and bans through the real ASGI app on SQLite: from a
visitor's report to the tracker refusing a hidden torrent, and what a banned account, or a
banned address range, meets."""

from __future__ import annotations

import itertools
import os
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from swarmdex.accounts.services import start_session, user_by_name
from swarmdex.audit import services as audit
from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.db import transaction
from swarmdex.db.models import Role
from swarmdex.protocol.announce import AnnounceRequest, Event
from swarmdex.protocol.errors import ProtocolError
from swarmdex.web.auth import SESSION_COOKIE
from swarmdex.web.pages.moderation import REPORT_RATE
from swarmdex.web.security import CSRF_COOKIE
from tests.unit.torrents.support import (
    CSRF,
    Site,
    TorrentFactory,
    async_test,
    form_fields,
    running_site,
)

from .helpers import post_form
from .helpers import running_site as open_site

TORRENT_TYPE = "application/x-bittorrent"
_PORTS = itertools.count(7881)


@pytest.fixture
def make(tmp_path: Path) -> TorrentFactory:
    return TorrentFactory(tmp_path / "torrents")


async def _served(site: Site, info_hash: bytes) -> bool:
    request = AnnounceRequest(info_hash, os.urandom(20), next(_PORTS), 0, 0, 0, Event.STARTED, None)
    try:
        await site.tracker.announce(request, bytes([127, 0, 0, 1]), max_peers=50,
                                        other_family=False)
    except ProtocolError:
        return False
    return True


async def _upload(client: httpx.AsyncClient, data: bytes, title: str,
                  fields: dict[str, str]) -> httpx.Response:
    return await client.post("/upload", data={"category": "linux", "title": title, **fields},
                             files={"file": ("upload.torrent", data, TORRENT_TYPE)})


def _ids(page: str, kind: str) -> list[int]:
    found = re.findall(rf'action="/moderation/{kind}/(\d+)/resolve"', page)
    return sorted({int(i) for i in found})


@async_test
async def test_report_hide_unhide_round_trip(tmp_path: Path, make: TorrentFactory) -> None:
    data = make()
    meta = parse_torrent(data)
    assert meta.info_hash_v1 is not None
    async with running_site(tmp_path) as site:
        await site.login("uploader")
        path = (await _upload(site.client, data, "Suspicious", form_fields())).headers["location"]
        assert await _served(site, meta.info_hash_v1)

        site.logout()  # a visitor, not logged in
        page = await site.client.get(path)
        assert f'href="{path}/report"' in page.text
        form = await site.client.get(path + "/report")
        assert form.status_code == 200 and "Copyright infringement" in form.text
        sent = await site.client.post(path + "/report", data=form_fields(
            reason="malware", text="<script>alert(1)</script> trojan in setup.exe",
            contact="me@example.org"))
        assert sent.status_code == 200 and "Thank you" in sent.text
        refused = await site.client.post(path + "/report", data=form_fields(reason="bogus"))
        assert refused.status_code == 400 and "Pick one of the reasons" in refused.text

        await site.login("mod", Role.MODERATOR)
        queue = await site.client.get("/moderation")
        assert queue.status_code == 200 and "Suspicious" in queue.text
        # The reporter's text is shown, inert; their email to staff only.
        assert "<script>alert(1)</script>" not in queue.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; trojan" in queue.text
        assert "me@example.org" in queue.text
        (torrent_id,) = _ids(queue.text, "torrents")

        hidden = await site.client.post(f"/moderation/torrents/{torrent_id}/resolve",
                                        data=form_fields(action="hide", note="looks like malware"))
        assert hidden.status_code == 303 and hidden.headers["location"] == "/moderation?done=hide"
        assert (await site.client.get(path)).status_code == 404
        assert not await _served(site, meta.info_hash_v1)
        after = await site.client.get("/moderation?done=hide")
        assert "no open reports" in after.text and "Unhide Suspicious" in after.text

        unhidden = await site.client.post(f"/moderation/torrents/{torrent_id}/unhide",
                                          data=form_fields(note="false alarm"))
        assert unhidden.status_code == 303
        assert (await site.client.get(path)).status_code == 200
        assert await _served(site, meta.info_hash_v1)
        assert "Suspicious" in (await site.client.get("/search?q=suspicious")).text

        async with site.sessions() as session:
            entries = (await audit.entries(session, audit.Filters(action="torrent."))).entries
        assert [(e.action, e.actor_name, e.note) for e in entries] == [
            ("torrent.unhide", "mod", "false alarm"), ("torrent.hide", "mod", "looks like malware")]


@async_test
async def test_comment_report_then_remove(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        await site.login("uploader")
        path = (await _upload(site.client, make(), "Talked about", form_fields())).headers["location"]
        await site.client.post(path + "/comments", data=form_fields(body="Buy cheap pills"))
        page = (await site.client.get(path)).text
        (comment_id,) = re.findall(r'href="/comments/(\d+)/report"', page)
        await site.login("reader")
        sent = await site.client.post(f"/comments/{comment_id}/report",
                                      data=form_fields(reason="spam", text="ad"))
        assert sent.status_code == 200
        await site.login("mod", Role.MODERATOR)
        queue = (await site.client.get("/moderation")).text
        assert "Buy cheap pills" in queue and "by reader" in queue
        assert _ids(queue, "comments") == [int(comment_id)]
        removed = await site.client.post(f"/moderation/comments/{comment_id}/resolve",
                                         data=form_fields(action="remove", note="spam"))
        assert removed.headers["location"] == "/moderation?done=remove"
        assert "Buy cheap pills" not in (await site.client.get(path)).text
        gone = await site.client.post(f"/comments/{comment_id}/report", data=form_fields(reason="spam"))
        assert gone.status_code == 404


@async_test
async def test_a_flood_of_reports_is_slowed_down(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        await site.login("uploader")
        path = (await _upload(site.client, make(), "Popular", form_fields())).headers["location"]
        site.logout()
        codes = [(await site.client.post(path + "/report", data=form_fields(reason="spam"))).status_code
                 for _ in range(REPORT_RATE.count + 2)]
        assert codes == [200] * REPORT_RATE.count + [429, 429]
        last = await site.client.post(path + "/report", data=form_fields(reason="spam"))
        assert "Retry-After" in last.headers and "Please wait" in last.text


@async_test
async def test_a_banned_user_sees_why_and_cannot_take_part(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        await site.login("uploader")
        path = (await _upload(site.client, make(), "Shared", form_fields())).headers["location"]
        headers = await site.token("eve")
        await site.login("mod", Role.MODERATOR)
        banned = await site.client.post("/moderation/bans/users", data=form_fields(
            name="eve", duration="7d", reason="Spamming <b>links</b>"))
        assert banned.status_code == 303
        listing = (await site.client.get("/moderation/bans")).text
        assert "eve" in listing and "Spamming &lt;b&gt;links&lt;/b&gt;" in listing

        # The API refuses the token, with the reason.
        api = await site.client.post("/api/v1/torrents", headers=headers, data={"category": "linux"},
                                     files={"file": ("x.torrent", make(), TORRENT_TYPE)})
        assert api.status_code == 403 and "Spamming <b>links</b>" in api.json()["detail"]

        # Logged in, eve may read the site but not upload, comment or report.
        async with transaction(site.sessions) as session:
            eve = await user_by_name(session, "eve")
            assert eve is not None
            cookie = await start_session(session, eve, timedelta(hours=1))
        site.client.cookies = httpx.Cookies({SESSION_COOKIE: cookie, CSRF_COOKIE: CSRF})
        assert (await site.client.get(path)).status_code == 200
        for response in (
            await site.client.get("/upload"),
            await site.client.post(path + "/comments", data=form_fields(body="hi")),
            await site.client.post(path + "/report", data=form_fields(reason="spam")),
            await site.client.get("/banned"),
        ):
            assert response.status_code == 403
            assert "Your account is banned" in response.text and "Until" in response.text
            assert "Spamming &lt;b&gt;links&lt;/b&gt;" in response.text

        await site.login("mod2", Role.MODERATOR)
        lifted = await site.client.post(f"/moderation/bans/users/{eve.id}/lift", data=form_fields())
        assert lifted.status_code == 303
        api = await site.client.get("/api/v1/categories", headers=headers)
        assert api.status_code == 200


@async_test
async def test_login_of_a_banned_user_shows_the_ban(tmp_path: Path) -> None:
    async with open_site(tmp_path) as site:
        await site.create_user("eve")
        mod = await site.logged_in("mod", role=Role.MODERATOR)
        await post_form(mod, "/moderation/bans/users", name="eve", duration="permanent",
                        reason="Repeated malware uploads")
        browser = site.client()
        login = await post_form(browser, "/login", name="eve", password="correct horse battery staple")
        assert login.status_code == 303 and login.headers["location"] == "/banned"
        page = await browser.get("/banned")
        assert "Permanently" in page.text and "Repeated malware uploads" in page.text


@async_test
async def test_a_banned_range_cannot_register_or_upload(tmp_path: Path, make: TorrentFactory) -> None:
    async with open_site(tmp_path) as site:
        admin = await site.logged_in("root", role=Role.ADMIN)
        added = await post_form(admin, "/moderation/bans/networks", network="203.0.113.0/24",
                                reason="spam wave")
        assert added.status_code == 303
        outsider = site.client(address="203.0.113.5")
        refused = await post_form(outsider, "/register", name="newbie",
                                  password="correct horse battery staple",
                                  password2="correct horse battery staple")
        assert refused.status_code == 403 and "not accepted from your network" in refused.text
        elsewhere = site.client(address="198.51.100.7")
        ok = await post_form(elsewhere, "/register", name="newbie",
                             password="correct horse battery staple",
                             password2="correct horse battery staple")
        assert ok.status_code == 303

        token = await site.api_token("uploader")
        api_client = site.client(address="203.0.113.9")
        api = await api_client.post("/api/v1/torrents", headers={"Authorization": f"Bearer {token}"},
                                    data={"category": "linux"},
                                    files={"file": ("x.torrent", make(), TORRENT_TYPE)})
        assert api.status_code == 403 and "network" in api.json()["detail"]
        member = await site.logged_in("uploader")
        member_from_range = site.client(address="203.0.113.9", **dict(member.cookies.items()))
        assert (await member_from_range.get("/upload")).status_code == 403

        async with site.ctx.db() as session:
            entries = (await audit.entries(session, audit.Filters(action="network.ban"))).entries
        assert [(e.actor_name, e.target_id) for e in entries] == [("root", "203.0.113.0/24")]
