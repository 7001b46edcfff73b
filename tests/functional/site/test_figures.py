"""Members' figures on a private site: the account page's ratio, the member's snatch list,
staff's view of any member and of a torrent's snatchers, the JSON API; nobody else's
figures for members, and nothing of it on a public site. The rows are written by the
tracker's own writer (`accounting.write`)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Final

import httpx

from swarmdex.accounts.services import user_by_name
from swarmdex.db import transaction
from swarmdex.db.models import Role, Torrent, utcnow
from swarmdex.private import accounting
from swarmdex.torrents import services as torrents
from swarmdex.tracker.ledger import Credit
from tests.unit.search.factory import add_torrent

from .helpers import Site, async_test, running_site

GiB: Final = 1 << 30


async def _torrent(site: Site, title: str) -> Torrent:
    async with transaction(site.ctx.db) as session:
        await torrents.ensure_default_categories(session)
        return await add_torrent(session, title)


async def _credit(site: Site, name: str, torrent: Torrent, **figures: object) -> None:
    async with transaction(site.ctx.db) as session:
        user = await user_by_name(session, name)
        assert user is not None
        credit = Credit(last_seen=utcnow().timestamp(), **figures)  # type: ignore[arg-type]
        await accounting.write(session, {(user.id, torrent.swarm_key): credit})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _private_world(site: Site) -> tuple[httpx.AsyncClient, Torrent, Torrent]:
    """alice seeded one torrent she snatched and leeches another; nothing downloaded is
    credited yet, so she has no ratio."""
    alice = await site.logged_in("alice")
    done, going = await _torrent(site, "Snatched Distro"), await _torrent(site, "Half Distro")
    now = utcnow().timestamp()
    await _credit(site, "alice", done, uploaded=3 * GiB, uploaded_raw=5 * GiB,
                  seeding_seconds=7200.0, completed_at=now - 60, seeder=True)
    await _credit(site, "alice", going, seeder=False)
    return alice, done, going


@async_test
async def test_a_member_sees_their_ratio_and_snatches(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        alice, done, _ = await _private_world(site)
        page = (await alice.get("/account")).text
        assert "Your ratio" in page and 'href="/account/snatches"' in page
        assert '<b class="ratio">∞</b>' in page  # uploaded, nothing downloaded
        assert "3.0 GiB" in page
        assert '<dd class="seeding-now">1 torrent</dd>' in page
        assert '<dd class="leeching-now">1 torrent</dd>' in page
        assert '<dd class="snatch-count">1 torrent</dd>' in page
        assert "raw-figures" not in page and "5.0 GiB" not in page  # raw: for staff

        snatches = await alice.get("/account/snatches")
        assert snatches.status_code == 200
        assert "Snatched Distro" in snatches.text and "Half Distro" not in snatches.text
        assert f'href="/t/{done.swarm_key.hex()}"' in snatches.text
        assert "2h 0m" in snatches.text and "seeding" in snatches.text
        later = await alice.get("/account/snatches?page=2")
        assert "No more snatches here" in later.text and 'rel="prev"' in later.text
        assert (await alice.get("/account/snatches?page=0")).status_code == 400

        # "Everything stored about your account" includes them.
        (kept, _) = sorted((await alice.get("/account/export")).json()["torrent_figures"],
                           key=lambda row: row["title"], reverse=True)
        assert (kept["title"], kept["uploaded"], kept["uploaded_reported"]) == \
            ("Snatched Distro", 3 * GiB, 5 * GiB)
        assert kept["completed_at"] is not None and kept["seeder"] is True

        # Someone with nothing credited has no ratio at all, not an infinite one.
        bob = await site.logged_in("bob")
        assert '<b class="ratio">\u2013</b>' in (await bob.get("/account")).text


@async_test
async def test_figures_are_for_the_member_and_staff_only(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        alice, done, _ = await _private_world(site)
        bob = await site.logged_in("bob")
        trusted = await site.logged_in("tina", role=Role.TRUSTED)
        mod = await site.logged_in("mod", role=Role.MODERATOR)
        member_page, snatchers = "/moderation/members/alice", f"/t/{done.swarm_key.hex()}/snatches"
        for client in (alice, bob, trusted):
            assert (await client.get(member_page)).status_code == 403
            assert (await client.get(snatchers)).status_code == 403
            torrent_page = (await client.get(f"/t/{done.swarm_key.hex()}")).text
            assert snatchers not in torrent_page
        assert (await site.client().get(member_page)).status_code == 303  # log in first
        profile = (await bob.get("/u/alice")).text
        assert "ratio" not in profile.lower() and "3.0 GiB" not in profile
        assert member_page not in profile
        assert f'href="{member_page}"' in (await mod.get("/u/alice")).text

        shown = await mod.get(member_page)
        assert shown.status_code == 200
        assert "3.0 GiB" in shown.text and "Snatched Distro" in shown.text
        assert html.unescape(shown.text).count("5,368,709,120 bytes up") == 1  # raw figures
        assert (await mod.get("/moderation/members/nobody")).status_code == 404

        assert f'href="{snatchers}"' in (await mod.get(f"/t/{done.swarm_key.hex()}")).text
        listed = await mod.get(snatchers)
        assert listed.status_code == 200
        assert 'href="/moderation/members/alice"' in listed.text
        assert "5.0 GiB" in listed.text  # reported upload, beside the credited one
        assert (await mod.get("/t/" + "ab" * 20 + "/snatches")).status_code == 404


@async_test
async def test_the_api_answers_a_members_figures(tmp_path: Path) -> None:
    async with running_site(tmp_path, tracker_mode="private") as site:
        _, done, _ = await _private_world(site)
        token = await site.api_token("alice")
        client = site.client()
        answer = await client.get("/api/v1/account", headers=_bearer(token))
        assert answer.status_code == 200
        body = answer.json()
        assert (body["name"], body["role"], body["private"]) == ("alice", "user", True)
        assert body["figures"] == {"uploaded": 3 * GiB, "downloaded": 0, "ratio": None,
                                   "seeding": 1, "leeching": 1, "snatches": 1,
                                   "seeding_seconds": 7200.0, "downloads_refused": None,
                                   "to_seed": []}
        listed = (await client.get("/api/v1/account/snatches", headers=_bearer(token))).json()
        assert listed["page"] == 1 and listed["next_page"] is None
        (snatch,) = listed["snatches"]
        assert (snatch["info_hash"], snatch["title"], snatch["uploaded"], snatch["removed"],
                snatch["seeding_now"]) == (done.swarm_key.hex(), "Snatched Distro", 3 * GiB,
                                           False, True)
        assert (await client.get("/api/v1/account")).status_code == 401

        # With a download credited there is a ratio.
        await _credit(site, "alice", done, downloaded=2 * GiB, seeder=True)
        body = (await client.get("/api/v1/account", headers=_bearer(token))).json()
        assert body["figures"]["ratio"] == 1.5


@async_test
async def test_a_public_site_shows_no_figures(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        torrent = await _torrent(site, "Open Distro")
        alice = await site.logged_in("alice")
        mod = await site.logged_in("mod", role=Role.MODERATOR)
        assert "Your ratio" not in (await alice.get("/account")).text
        assert (await alice.get("/account/snatches")).status_code == 404
        assert (await mod.get("/moderation/members/alice")).status_code == 404
        assert (await mod.get(f"/t/{torrent.swarm_key.hex()}/snatches")).status_code == 404
        assert "/snatches" not in (await mod.get(f"/t/{torrent.swarm_key.hex()}")).text
        token = await site.api_token("alice")
        body = (await site.client().get("/api/v1/account", headers=_bearer(token))).json()
        assert body == {"name": "alice", "role": "user", "private": False, "figures": None}
        snatches = await site.client().get("/api/v1/account/snatches", headers=_bearer(token))
        assert snatches.status_code == 404
