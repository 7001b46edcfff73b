"""Site modes and the notice through the real app: read-only closes uploads, registration and
comments but keeps browsing and downloads; closed answers 503 everywhere but /admin and
/login, and the tracker refuses with the notice; changes apply without a restart; every
change is audited. Also /privacy from the live settings, and a user's export and deletion."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import func, select

from swarmdex.audit.models import AuditEntry
from swarmdex.bittorrent.bencode import decode
from swarmdex.db.engine import transaction
from swarmdex.db.models import Category, Role, Torrent, User
from swarmdex.protocol.announce import Event
from swarmdex.protocol.errors import ProtocolError
from swarmdex.sitecfg import services as sitecfg
from swarmdex.sitemode import services as sitemode
from swarmdex.web.security import CSRF_FIELD
from tests.functional.wire import announce_request
from tests.unit.torrents.support import TorrentFactory

from .helpers import PASSWORD, Site, async_test, csrf_token, post_form, running_site

TORRENT_TYPE = "application/x-bittorrent"


async def add_category(site: Site) -> None:
    async with transaction(site.ctx.db) as session:
        session.add(Category(slug="linux", name="Linux"))


async def upload(client: httpx.AsyncClient, data: bytes, title: str) -> httpx.Response:
    fields = {CSRF_FIELD: await csrf_token(client), "category": "linux", "title": title}
    return await client.post("/upload", data=fields, files={"file": ("x.torrent", data, TORRENT_TYPE)})


async def set_mode(admin: httpx.AsyncClient, mode: str, notice: str = "",
                   level: str = "info") -> httpx.Response:
    return await post_form(admin, "/admin/mode", mode=mode, notice=notice, notice_level=level)


async def audit_actions(site: Site) -> list[str]:
    async with site.ctx.db() as session:
        return list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all())


async def tracker_refusal(site: Site, info_hash: bytes) -> str | None:
    try:
        await site.tracker.announce(announce_request(info_hash, port=6881, event=Event.STARTED),
                                        b"\x7f\x00\x00\x01", max_peers=50, other_family=False)
    except ProtocolError as exc:
        return exc.message
    return None


@async_test
async def test_read_only_closes_writes_and_keeps_reading(tmp_path: Path) -> None:
    make = TorrentFactory(tmp_path / "t")
    async with running_site(tmp_path) as site:
        await add_category(site)
        admin = await site.logged_in("root", role=Role.ADMIN)
        alice = await site.logged_in("alice")
        created = await upload(alice, make(), "Before")
        assert created.status_code == 303
        page = created.headers["location"]

        answer = await set_mode(admin, "read-only", "**Maintenance** until noon", "warning")
        assert answer.status_code == 303 and answer.headers["location"] == "/admin?done=mode#mode"

        anonymous = site.client()
        home = (await anonymous.get("/")).text
        assert 'class="site-notice site-notice-warning"' in home
        assert "<strong>Maintenance</strong> until noon" in home  # Markdown, rendered
        for path in ("/", "/browse", "/search?q=Before", page, page + ".torrent", "/news", "/privacy"):
            assert (await anonymous.get(path)).status_code == 200, path
        download = await anonymous.get(page + ".torrent")
        assert decode(download.content)[b"info"]
        # The header offers no door that is closed.
        assert 'href="/register"' not in home
        assert 'href="/upload"' not in (await alice.get("/")).text

        closed_upload = await alice.get("/upload")
        assert closed_upload.status_code == 503
        assert "Uploads are closed for now: the site is read-only." in closed_upload.text
        assert (await upload(alice, make(), "During")).status_code == 503
        register = await anonymous.get("/register")
        assert register.status_code == 503 and "Registration is closed" in register.text
        comment = await post_form(alice, f"{page}/comments", body="hello")
        assert comment.status_code == 503 and "Comments are closed" in comment.text
        token = await site.api_token("alice")
        api = await anonymous.post("/api/v1/torrents", headers={"authorization": f"Bearer {token}"},
                                   files={"file": ("x.torrent", make(), TORRENT_TYPE)},
                                   data={"category": "linux"})
        assert api.status_code == 503 and api.json()["detail"].startswith("Uploads are closed")
        async with site.ctx.db() as session:
            assert await session.scalar(select(func.count()).select_from(Torrent)) == 1
        # The tracker keeps serving in read-only mode.
        assert await tracker_refusal(site, bytes(20)) is None

        await set_mode(admin, "open")
        assert (await alice.get("/upload")).status_code == 200
        assert 'href="/upload"' in (await alice.get("/")).text
        assert 'href="/register"' in (await anonymous.get("/")).text
        assert "site-notice" not in (await anonymous.get("/")).text
        assert (await audit_actions(site)).count("settings.mode") == 2


@async_test
async def test_closed_answers_503_with_the_notice_and_the_tracker_refuses(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = await site.logged_in("root", role=Role.ADMIN)
        anonymous = site.client()
        assert await tracker_refusal(site, bytes(20)) is None
        await set_mode(admin, "closed", "Moving to a *new* server.\n\nBack on Monday.")
        for path in ("/", "/browse", "/upload", "/register", "/t/" + "ab" * 20, "/privacy"):
            answer = await anonymous.get(path)
            assert answer.status_code == 503, path
            assert "Moving to a <em>new</em> server." in answer.text
            assert answer.headers["retry-after"]
        assert (await anonymous.get("/api/v1/torrents")).json()["notice"].startswith("Moving")
        # Static files, and what staff need to reopen, still work.
        assert (await anonymous.get("/static/site.css")).status_code == 200
        assert (await anonymous.get("/login")).status_code == 200
        assert (await admin.get("/admin")).status_code == 200
        # The tracker: announce and scrape refused with the notice as plain text, one line.
        reason = "Moving to a new server. Back on Monday."
        assert await tracker_refusal(site, bytes(20)) == reason
        try:
            await site.tracker.scrape([bytes(20)])
        except ProtocolError as exc:
            assert exc.message == reason
        else:
            raise AssertionError("scrape served while closed")

        await set_mode(admin, "open", "")
        assert (await anonymous.get("/")).status_code == 200
        assert await tracker_refusal(site, bytes(20)) is None


@async_test
async def test_changes_from_elsewhere_apply_within_the_refresh(tmp_path: Path) -> None:
    """A change stored by another process (the CLI) reaches pages and tracker once the copy
    is REFRESH_SECONDS old, with no restart."""
    assert sitecfg.REFRESH_SECONDS <= 1.0
    async with running_site(tmp_path) as site:
        anonymous = site.client()
        assert (await anonymous.get("/")).status_code == 200
        async with transaction(site.ctx.db) as session:
            await sitemode.set_mode(session, site.ctx.settings, "closed", notice="Gone fishing")
        sitecfg._copies[site.ctx.db].fresh_until = 0  # REFRESH_SECONDS have passed
        answer = await anonymous.get("/")
        assert answer.status_code == 503 and "Gone fishing" in answer.text
        assert await tracker_refusal(site, bytes(20)) == "Gone fishing"
        async with transaction(site.ctx.db) as session:
            await sitemode.set_mode(session, site.ctx.settings, "open")
            await sitemode.set_notice(session, site.ctx.settings, "New rules", level="info")
        sitecfg._copies[site.ctx.db].fresh_until = 0
        home = await anonymous.get("/")
        assert home.status_code == 200 and "site-notice-info" in home.text and "New rules" in home.text
        assert await audit_actions(site) == ["settings.mode", "settings.mode", "settings.notice"]


@async_test
async def test_admin_form_validates_and_is_admins_only(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = await site.logged_in("root", role=Role.ADMIN)
        moderator = await site.logged_in("mod", role=Role.MODERATOR)
        page = (await admin.get("/admin")).text
        assert 'action="/admin/mode"' in page and 'value="open" checked' in page
        refused = await set_mode(admin, "sleeping", "x")
        assert refused.status_code == 400 and "open, read-only or closed" in refused.text
        assert (await set_mode(moderator, "closed")).status_code == 403
        assert sitecfg.cached(site.ctx).mode == "open"
        notice = await set_mode(admin, "open", "<script>alert(1)</script>[ok](javascript:alert(2))")
        assert notice.status_code == 303
        home = (await site.client().get("/")).text
        assert "<script>alert(1)</script>" not in home and 'href="javascript' not in home
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home  # shown as text, inert


@async_test
async def test_privacy_page_follows_the_settings(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with running_site(tmp_path / "a") as site:
        page = (await site.client().get("/privacy")).text
        assert "There is no access log" in page
        assert "in memory only, never on disk" in page and "45 minutes" in page
        assert 'href="/privacy">Privacy</a>' in page  # the footer link
    async with running_site(tmp_path / "b", access_log=True, access_log_retention_days=2,
                            interval=600, min_interval=60) as site:
        page = (await site.client().get("/privacy")).text
        assert "There is no access log" not in page
        assert "/24" in page and "deleted after 2 days" in page and "15 minutes" in page


@async_test
async def test_export_and_delete_keeping_torrents_anonymous(tmp_path: Path) -> None:
    make = TorrentFactory(tmp_path / "t")
    async with running_site(tmp_path) as site:
        await add_category(site)
        alice = await site.logged_in("alice")
        page = (await upload(alice, make(), "Kept")).headers["location"]
        await post_form(alice, f"{page}/comments", body="my comment")
        await post_form(alice, "/account/tokens", name="script")

        export = await alice.get("/account/export")
        assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
        data = export.json()
        assert data["account"]["name"] == "alice"
        assert [t["title"] for t in data["torrents"]] == ["Kept"]
        assert [c["body"] for c in data["comments"]] == ["my comment"]
        assert [t["label"] for t in data["api_tokens"]] == ["script"]
        assert len(data["sessions"]) == 1
        text = json.dumps(data)
        assert "password" not in text and "argon2" not in text and "digest" not in text
        assert (await site.client().get("/account/export")).status_code == 303  # log in first

        wrong = await post_form(alice, "/account/delete", password="nope", torrents="anonymous")
        assert wrong.status_code == 400 and "not your password" in wrong.text
        gone = await post_form(alice, "/account/delete", password=PASSWORD, torrents="anonymous")
        assert gone.status_code == 303
        async with site.ctx.db() as session:
            assert await session.scalar(select(User).where(User.name == "alice")) is None
            torrent = await session.scalar(select(Torrent))
            assert torrent is not None and torrent.deleted_at is None and torrent.uploader_id is None
        shown = await site.client().get(page)
        assert shown.status_code == 200 and "Kept" in shown.text
        assert "account.delete" in await audit_actions(site)


@async_test
async def test_delete_with_torrents_withdraws_them(tmp_path: Path) -> None:
    make = TorrentFactory(tmp_path / "t")
    async with running_site(tmp_path) as site:
        await add_category(site)
        bob = await site.logged_in("bob")
        page = (await upload(bob, make(), "Withdrawn")).headers["location"]
        answer = await post_form(bob, "/account/delete", password=PASSWORD, torrents="delete")
        assert answer.status_code == 303
        assert (await site.client().get(page)).status_code in (404, 410)
        async with site.ctx.db() as session:
            torrent = await session.scalar(select(Torrent))
            assert torrent is not None and torrent.deleted_at is not None
