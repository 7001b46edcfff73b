"""Private mode on the site: members only, downloads with the member's passkey, private
uploads only, passkey resets and bans reaching the tracker at commit."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import httpx
import pytest

from swarmdex.bittorrent.magnet import parse_magnet
from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.db import transaction
from swarmdex.db.models import Role, User
from swarmdex.moderation import bans
from swarmdex.protocol.announce import AnnounceRequest, Event
from swarmdex.protocol.errors import ProtocolError
from swarmdex.torrents.services import NOT_PRIVATE
from swarmdex.tracker.members import BANNED, NO_PASSKEY
from tests.unit.torrents.support import (
    SITE_TRACKERS,
    Site,
    TorrentFactory,
    async_test,
    form_fields,
    running_site,
)

TORRENT_TYPE = "application/x-bittorrent"
PASSKEY_RE = re.compile(r"/announce/([0-9a-f]{32})$")
_PORTS = itertools.count(6881)  # the store knows peers by address: each gets its own port


@pytest.fixture
def make(tmp_path: Path) -> TorrentFactory:
    return TorrentFactory(tmp_path / "torrents")


async def _upload(site: Site, data: bytes) -> httpx.Response:
    return await site.client.post(
        "/upload", data=form_fields(category="linux"),
        files={"file": ("upload.torrent", data, TORRENT_TYPE)},
    )


async def _announce(site: Site, info_hash: bytes, passkey: str | None) -> int:
    request = AnnounceRequest(info_hash, os.urandom(20), next(_PORTS), 0, 0, 10, Event.STARTED, None,
                              passkey=passkey)
    response = await site.tracker.announce(request, bytes([127, 0, 0, 1]), max_peers=50,
                                           other_family=False)
    return response.incomplete


async def _refusal(site: Site, info_hash: bytes, passkey: str | None) -> str:
    with pytest.raises(ProtocolError) as caught:
        await _announce(site, info_hash, passkey)
    return str(caught.value)


def _passkey(urls: tuple[str, ...] | list[str]) -> str:
    keys = {PASSKEY_RE.search(url)[1] for url in urls}  # type: ignore[index]
    assert len(keys) == 1, urls
    return keys.pop()


@async_test
async def test_strangers_see_only_the_door(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        client = site.client
        for path in ("/login", "/register", "/privacy", "/transparency", "/transparency.json",
                     "/notice", "/static/site.css"):
            answer = await client.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
        for path in ("/", "/browse", "/search?q=x", "/stats.json", "/u/someone",
                     "/t/" + "ab" * 20 + ".torrent", "/upload", "/news"):
            answer = await client.get(path)
            assert answer.status_code == 303, (path, answer.status_code)
            assert answer.headers["location"].startswith("/login"), path
        assert (await client.get("/browse?sort=size")).headers["location"] == \
            "/login?next=/browse%3Fsort%3Dsize"
        # Feeds answer readers, which are not browsers: 401, no login page.
        assert (await client.get("/rss")).status_code == 401
        api = await client.get("/api/v1/search", params={"q": "x"})
        assert api.status_code == 401 and "members" in api.json()["detail"]
        wrong = await client.get("/api/v1/search", params={"q": "x"},
                                 headers={"Authorization": "Bearer nonsense"})
        assert wrong.status_code == 401
        headers = await site.token("tokenholder")
        assert (await client.get("/api/v1/search", params={"q": "x"}, headers=headers)).status_code == 200


@async_test
async def test_a_member_downloads_with_their_passkey_only(tmp_path: Path, make: TorrentFactory) -> None:
    data = make(trackers=(("http://other.example/announce",),), private=True)
    meta = parse_torrent(data)
    async with running_site(tmp_path, tracker_mode="private") as site:
        await site.login("alice")
        page = (await _upload(site, data)).headers["location"]
        download = parse_torrent((await site.client.get(page + ".torrent")).content)
        detail = (await site.client.get(page)).text
        account = (await site.client.get("/account")).text
        # Only the site's trackers, each with alice's passkey: none of the file's own.
        urls = [url for tier in download.announce_list for url in tier]
        passkey = _passkey(urls)
        assert urls == [f"{url}/{passkey}" for url in SITE_TRACKERS]
        assert download.info_bytes == meta.info_bytes  # hashes unchanged
        magnet = parse_magnet(re.search(r'href="(magnet:[^"]+)"', detail)[1].replace("&amp;", "&"))  # type: ignore[index]
        assert list(magnet.trackers) == urls
        assert f"{SITE_TRACKERS[0]}/{passkey}" in account
        assert meta.info_hash_v1 is not None
        assert await _announce(site, meta.info_hash_v1, passkey) == 1
        assert await _refusal(site, meta.info_hash_v1, None) == NO_PASSKEY
        assert await _refusal(site, meta.info_hash_v1, "0" * 32) == NO_PASSKEY

        # Another member gets another passkey; the API carries the token owner's.
        await site.login("bob")
        bobs = _passkey(parse_torrent((await site.client.get(page + ".torrent")).content).announce_list[0])
        assert bobs != passkey
        headers = await site.token("carol")
        site.logout()
        found = (await site.client.get("/api/v1/search", params={"q": meta.name},
                                       headers=headers)).json()
        carols = _passkey(parse_magnet(found["results"][0]["magnet"]).trackers)
        assert carols not in (passkey, bobs)
        assert await _announce(site, meta.info_hash_v1, carols) == 2


@async_test
async def test_a_reset_or_a_ban_refuses_the_passkey_at_commit(tmp_path: Path, make: TorrentFactory) -> None:
    data = make(private=True)
    meta = parse_torrent(data)
    assert meta.info_hash_v1 is not None
    async with running_site(tmp_path, tracker_mode="private") as site:
        alice = await site.login("alice")
        page = (await _upload(site, data)).headers["location"]
        old = _passkey(parse_torrent((await site.client.get(page + ".torrent")).content).announce_list[0])
        reset = await site.client.post("/account/passkey/reset", data=form_fields())
        assert reset.status_code == 303 and reset.headers["location"] == "/account?done=passkey#passkey"
        new = _passkey(parse_torrent((await site.client.get(page + ".torrent")).content).announce_list[0])
        assert new != old
        assert await _refusal(site, meta.info_hash_v1, old) == NO_PASSKEY
        assert await _announce(site, meta.info_hash_v1, new) == 1

        moderator = await site.login("mod", Role.MODERATOR)
        async with transaction(site.sessions) as session:
            target = await session.get(User, alice.id)
            by = await session.get(User, moderator.id)
            assert target is not None and by is not None
            await bans.ban_user(session, target, by=by, reason="spam", until=None)
        assert await _refusal(site, meta.info_hash_v1, new) == BANNED
        async with transaction(site.sessions) as session:
            target = await session.get(User, alice.id)
            by = await session.get(User, moderator.id)
            assert target is not None and by is not None
            await bans.lift_ban(session, target, by=by)
        assert await _announce(site, meta.info_hash_v1, new) == 2


@async_test
async def test_uploads_must_be_private_torrents(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        await site.login("alice")
        refused = await _upload(site, make(private=False))
        assert refused.status_code == 422
        assert re.sub(r"\s+", " ", NOT_PRIVATE.split(":")[0]) in refused.text
        assert "mktorrent -p" in refused.text
        api = await site.client.post(
            "/api/v1/torrents", headers=await site.token("bob"), data={"category": "linux"},
            files={"file": ("u.torrent", make(private=False), TORRENT_TYPE)})
        assert api.status_code == 422 and api.json()["detail"] == NOT_PRIVATE
        assert (await _upload(site, make(private=True))).status_code == 303


@async_test
async def test_public_modes_hand_out_no_passkey(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        await site.login("alice")
        page = (await _upload(site, make())).headers["location"]
        download = parse_torrent((await site.client.get(page + ".torrent")).content)
        assert download.announce_list[0] == tuple(SITE_TRACKERS)
        assert "passkey" not in (await site.client.get("/account")).text
        assert (await site.client.post("/account/passkey/reset", data=form_fields())).status_code == 404
        async with site.sessions() as session:
            assert (await session.get(User, 1)).passkey is None  # type: ignore[union-attr]
