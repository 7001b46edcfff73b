"""The freeleech and bonus page (private mode): moderators set a torrent's factors, admins
add and end site-wide events, members and public sites see nothing of it."""

from __future__ import annotations

from pathlib import Path

from swarmdex.db import transaction
from swarmdex.db.models import Role
from swarmdex.private import bonus
from swarmdex.private.bonus import Factors
from tests.unit.search.factory import add_torrent
from tests.unit.torrents.support import async_test, form_fields, running_site

PAGE = "/moderation/bonus"


@async_test
async def test_moderators_set_a_torrents_factors(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        async with transaction(site.sessions) as session:
            torrent = await add_torrent(session, "Open data set")
        await site.login("mod", Role.MODERATOR)
        info_hash = torrent.info_hash_v1.hex()  # type: ignore[union-attr]
        saved = await site.client.post(f"{PAGE}/torrents", data=form_fields(
            info_hash=info_hash, download="0", upload="2x"))
        assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}?done=torrent"
        page = (await site.client.get(saved.headers["location"])).text
        assert "Open data set" in page and "freeleech, uploads count 2\N{MULTIPLICATION SIGN}" in page
        async with site.sessions() as session:
            assert await bonus.factors_now(session, torrent.id) == Factors(0, 2)
        for fields, message in (({"download": "2"}, "from 0 (freeleech) to 1"),
                                ({"download": "half"}, "as a number"),
                                ({"info_hash": "ab" * 20}, "No torrent")):
            wrong = await site.client.post(f"{PAGE}/torrents", data=form_fields(
                **({"info_hash": info_hash, "download": "0", "upload": "1"} | fields)))
            assert wrong.status_code == 400 and message in wrong.text, fields
        # Moderators see events but may not add them.
        assert "Add an event" not in page
        refused = await site.client.post(f"{PAGE}/events", data=form_fields(
            name="x", starts="2030-01-01T00:00", ends="2030-01-02T00:00", download="0", upload="1"))
        assert refused.status_code == 403


@async_test
async def test_admins_add_and_end_events(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        await site.login("admin", Role.ADMIN)
        added = await site.client.post(f"{PAGE}/events", data=form_fields(
            name="Freeleech week", starts="2020-01-01T00:00", ends="2099-01-01T00:00",
            download="0", upload="1"))
        assert added.status_code == 303
        page = (await site.client.get(PAGE)).text
        assert "Freeleech week" in page and "running" in page
        async with site.sessions() as session:
            (event,) = await bonus.events(session)
        ended = await site.client.post(f"{PAGE}/events/{event.id}/end", data=form_fields())
        assert ended.status_code == 303
        assert "No event is running or planned" in (await site.client.get(PAGE)).text
        backwards = await site.client.post(f"{PAGE}/events", data=form_fields(
            name="Oops", starts="2030-01-02T00:00", ends="2030-01-01T00:00", download="0", upload="1"))
        assert backwards.status_code == 400 and "must end after it starts" in backwards.text


@async_test
async def test_members_and_public_sites_have_no_bonus_page(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        await site.login("member")
        assert (await site.client.get(PAGE)).status_code == 403
    (tmp_path / "public").mkdir()
    async with running_site(tmp_path / "public") as site:
        await site.login("admin", Role.ADMIN)
        assert (await site.client.get(PAGE)).status_code == 404
