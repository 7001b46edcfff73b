"""Private mode: feeds opened with a member's feed key (`?key=`), the .torrent links in them,
refusals that tell nothing about the key, resets, bans, public sites and the access log."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from swarmdex.bittorrent.magnet import parse_magnet
from swarmdex.bittorrent.metainfo import parse_torrent
from swarmdex.db import transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.moderation import bans
from swarmdex.private import passkeys
from tests.unit.torrents.support import (
    SITE_TRACKERS,
    Site,
    TorrentFactory,
    async_test,
    form_fields,
    running_site,
)

TORRENT_TYPE = "application/x-bittorrent"
TORZNAB = "{http://torznab.com/schemas/2015/feed}attr"
FEED_KEY_RE = re.compile(r"/rss\?key=([0-9a-f]{32})</code>")
FEEDS = ("/rss", "/rss/c/linux", "/rss/user/alice", "/rss/search?q=feedable")


@pytest.fixture
def make(tmp_path: Path) -> TorrentFactory:
    return TorrentFactory(tmp_path / "torrents")


async def _member_with_upload(site: Site, make: TorrentFactory) -> tuple[User, str]:
    """alice, logged in, with one upload; her feed key from the account page."""
    alice = await site.login("alice")
    answer = await site.client.post(
        "/upload", data=form_fields(category="linux", title="feedable"),
        files={"file": ("upload.torrent", make(private=True), TORRENT_TYPE)})
    assert answer.status_code == 303, answer.text
    return alice, await _feed_key(site)


async def _feed_key(site: Site) -> str:
    match = FEED_KEY_RE.search((await site.client.get("/account")).text)
    assert match is not None
    return match[1]


def _reader(site: Site) -> httpx.AsyncClient:
    """A feed reader: no cookie, no token."""
    return httpx.AsyncClient(transport=site.client._transport, base_url="http://testserver")


def _item(feed: httpx.Response) -> tuple[str, str]:
    """The enclosure URL and the magnet link of the feed's only item."""
    (item,) = ElementTree.fromstring(feed.content).iter("item")
    enclosure = item.find("enclosure")
    assert enclosure is not None
    magnet = next(a.get("value") for a in item.iter(TORZNAB) if a.get("name") == "magneturl")
    assert magnet is not None
    return enclosure.get("url", ""), magnet


def _keyed(path: str, key: str) -> str:
    """`path` with `key=KEY` added to its query (httpx's `params` would replace the query)."""
    return f"{path}{'&' if '?' in path else '?'}key={key}"


def _passkeys(data: bytes) -> set[str]:
    return {url.rsplit("/", 1)[1] for tier in parse_torrent(data).announce_list for url in tier}


@async_test
async def test_a_reader_with_the_key_reads_and_downloads_as_the_member(
        tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        alice, key = await _member_with_upload(site, make)
        async with site.sessions() as session:
            passkey = (await session.get(User, alice.id)).passkey  # type: ignore[union-attr]
        assert passkey is not None and key != passkey
        async with _reader(site) as reader:
            for path in FEEDS:
                feed = await reader.get(_keyed(path, key))
                assert feed.status_code == 200, (path, feed.status_code)
                assert feed.headers["cache-control"].startswith("private")
                enclosure, magnet = _item(feed)
                assert enclosure.endswith(f".torrent?key={key}"), enclosure
                assert list(parse_magnet(magnet).trackers) == [f"{u}/{passkey}" for u in SITE_TRACKERS]
            download = await reader.get(enclosure.removeprefix("http://testserver"))
            assert download.status_code == 200
            assert _passkeys(download.content) == {passkey}
            # The key opens feeds and downloads only.
            for path in ("/browse", "/account", "/t/" + enclosure.split("/t/")[1].split(".")[0]):
                assert (await reader.get(path, params={"key": key})).status_code == 303, path
            assert (await reader.get("/api/v1/search", params={"q": "x", "key": key})).status_code == 401


@async_test
async def test_no_key_a_wrong_key_and_a_reset_key_are_refused_alike(
        tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        _, key = await _member_with_upload(site, make)
        torrent = await site.client.get("/rss", params={"key": key})
        download = _item(torrent)[0].removeprefix("http://testserver").partition("?")[0]
        async with _reader(site) as reader:
            for path in FEEDS:
                missing = await reader.get(path)
                assert missing.status_code == 401 and "location" not in missing.headers, path
            wrong = [await reader.get(_keyed(path, "0" * 32)) for path in (*FEEDS, download)]
            assert {answer.status_code for answer in wrong} == {403}
            reset = await site.client.post("/account/feed-key/reset", data=form_fields())
            assert reset.status_code == 303 and reset.headers["location"] == "/account?done=feed-key#feed-key"
            new = await _feed_key(site)
            assert new != key
            stale = [await reader.get(_keyed(path, key)) for path in (*FEEDS, download)]
            # Refused at once, in the same words as a key that never was.
            assert [(a.status_code, a.text) for a in stale] == [(a.status_code, a.text) for a in wrong]
            assert (await reader.get("/rss", params={"key": new})).status_code == 200
            # A logged-in browser with a wrong key is refused too: the key decides.
            assert (await site.client.get("/rss", params={"key": key})).status_code == 403
            assert (await site.client.get("/rss")).status_code == 200


@async_test
async def test_banned_and_disabled_members_keys_open_nothing(
        tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        alice, key = await _member_with_upload(site, make)
        moderator = await site.login("mod", Role.MODERATOR)
        async with _reader(site) as reader:
            async with transaction(site.sessions) as session:
                target, by = await session.get(User, alice.id), await session.get(User, moderator.id)
                assert target is not None and by is not None
                await bans.ban_user(session, target, by=by, reason="spam", until=None)
            assert (await reader.get("/rss", params={"key": key})).status_code == 403
            async with transaction(site.sessions) as session:
                target, by = await session.get(User, alice.id), await session.get(User, moderator.id)
                assert target is not None and by is not None
                await bans.lift_ban(session, target, by=by)
            assert (await reader.get("/rss", params={"key": key})).status_code == 200
            async with transaction(site.sessions) as session:
                target = await session.get(User, alice.id)
                assert target is not None
                target.disabled_at = utcnow()
            assert (await reader.get("/rss", params={"key": key})).status_code == 403
            async with site.sessions() as session:
                assert await passkeys.rss_key_user(session, key) is None


@async_test
async def test_public_sites_ignore_feed_keys(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path) as site:
        await site.login("alice")
        await site.client.post(
            "/upload", data=form_fields(category="linux"),
            files={"file": ("upload.torrent", make(), TORRENT_TYPE)})
        assert "feed key" not in (await site.client.get("/account")).text
        assert (await site.client.post("/account/feed-key/reset", data=form_fields())).status_code == 404
        site.logout()
        for params in ({}, {"key": "0" * 32}):
            feed = await site.client.get("/rss", params=params)
            assert feed.status_code == 200 and feed.headers["cache-control"].startswith("public")
            enclosure = _item(feed)[0]
            assert "key=" not in enclosure
            download = await site.client.get(enclosure.removeprefix("http://testserver"), params=params)
            assert parse_torrent(download.content).announce_list[0] == tuple(SITE_TRACKERS)
        async with site.sessions() as session:
            assert (await session.get(User, 1)).rss_key is None  # type: ignore[union-attr]


@async_test
async def test_the_access_log_never_holds_a_feed_key(tmp_path: Path, make: TorrentFactory) -> None:
    async with running_site(tmp_path, tracker_mode="private", access_log=True) as site:
        _, key = await _member_with_upload(site, make)
        async with _reader(site) as reader:
            assert (await reader.get("/rss", params={"key": key})).status_code == 200
            # A "?" sent as %3F decodes into the path the log sees.
            await reader.get(f"/rss%3Fkey={key}")
            await reader.get(f"/rss/search%3Fq=x&key={key}")
        lines = "".join(path.read_text() for path in (tmp_path / "logs").iterdir())
        assert " /rss 200" in lines and "key=[key]" in lines
        assert key not in lines
