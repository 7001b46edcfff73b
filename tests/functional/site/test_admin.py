"""The admin page through the real site: admins only, CSRF on every form, and settings that
apply at once without a query per page view."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from swarmdex.db.engine import transaction
from swarmdex.db.models import Category, Role, Torrent, User, swarm_key, utcnow
from swarmdex.sitecfg import services as sitecfg
from swarmdex.sitecfg.models import SiteSetting
from swarmdex.web.security import CSRF_FIELD

from .helpers import Site, async_test, csrf_token, post_form, running_site

SETTINGS = {"site_name": "Renamed", "registration": "closed", "upload_max": "2 MiB"}


async def members(site: Site) -> dict[str | None, httpx.AsyncClient]:
    """A browser per role (and None: not logged in). Accounts are inserted directly: no
    password hashing, which keeps these tests fast."""
    async with transaction(site.ctx.db) as session:
        session.add_all(User(name=role.value, password_hash="!", role=role) for role in Role)
    clients: dict[str | None, httpx.AsyncClient] = {None: site.client()}
    for role in Role:
        clients[role.value] = await site.logged_in(role.value)
    return clients


async def category_ids(site: Site) -> dict[str, int]:
    async with site.ctx.db() as session:
        return {c.slug: c.id for c in (await session.scalars(select(Category))).all()}


async def listing(site: Site) -> list[tuple[str, str]]:
    async with site.ctx.db() as session:
        return [(c.slug, c.name) for c in await sitecfg.categories(session)]


async def stored_settings(site: Site) -> dict[str, Any]:
    async with site.ctx.db() as session:
        return {row.key: row.value for row in (await session.scalars(select(SiteSetting))).all()}


async def add_categories(site: Site, *slugs: str) -> dict[str, int]:
    async with transaction(site.ctx.db) as session:
        for slug in slugs:
            await sitecfg.add_category(session, slug, slug.title())
    return await category_ids(site)


def actions(ids: dict[str, int]) -> list[tuple[str, dict[str, str]]]:
    """Every form the admin page posts, with valid fields."""
    linux = ids["linux"]
    return [
        ("/admin/settings", SETTINGS),
        ("/admin/categories", {"slug": "new", "name": "New"}),
        (f"/admin/categories/{linux}/rename", {"name": "Penguins"}),
        (f"/admin/categories/{linux}/move", {"direction": "down"}),
        (f"/admin/categories/{linux}/delete", {}),
    ]


@contextmanager
def queries(site: Site) -> Iterator[list[str]]:
    """The SQL statements run on the site's database inside the block."""
    seen: list[str] = []
    engine = site.ctx.db.kw["bind"].sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


# who may


@async_test
async def test_only_admins_see_the_admin_page(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        clients = await members(site)
        anonymous = await clients[None].get("/admin")
        assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/login?next=/admin")
        for role in ("user", "trusted", "moderator"):
            answer = await clients[role].get("/admin")
            assert answer.status_code == 403, role
            assert "This page is for the site&#39;s admins." in answer.text
        answer = await clients["admin"].get("/admin")
        assert answer.status_code == 200
        assert 'action="/admin/settings"' in answer.text


@pytest.mark.parametrize("role", [None, "user", "trusted", "moderator"])
@async_test
async def test_no_admin_action_works_for_anyone_else(tmp_path: Path, role: str | None) -> None:
    async with running_site(tmp_path) as site:
        clients = await members(site)
        ids = await add_categories(site, "linux", "bsd")
        for path, fields in actions(ids):
            answer = await post_form(clients[role], path, **fields)
            if role is None:
                assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
            else:
                assert answer.status_code == 403, path
        assert await listing(site) == [("linux", "Linux"), ("bsd", "Bsd")]
        assert await stored_settings(site) == {}


@async_test
async def test_every_admin_form_needs_the_csrf_field(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        ids = await add_categories(site, "linux", "bsd")
        token = await csrf_token(admin)
        for path, fields in actions(ids):
            for forged in ({}, {CSRF_FIELD: "x" * 43}, {CSRF_FIELD: token[::-1]}):
                answer = await admin.post(path, data=fields | forged)
                assert answer.status_code == 403, (path, forged)
        assert await listing(site) == [("linux", "Linux"), ("bsd", "Bsd")]
        assert await stored_settings(site) == {}


@async_test
async def test_every_admin_form_works_for_admins(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        ids = await add_categories(site, "linux", "bsd")
        done = []
        for path, fields in actions(ids):
            answer = await post_form(admin, path, **fields)
            assert answer.status_code == 303, (path, answer.text)
            done.append(answer.headers["location"].split("#")[0])
        assert done == [f"/admin?done={what}" for what in ("settings", "added", "renamed", "moved", "deleted")]
        assert await listing(site) == [("bsd", "Bsd"), ("new", "New")]
        page = (await admin.get("/admin?done=deleted")).text
        assert '<p class="flash" role="status">Category deleted.</p>' in page
        # Only the fixed texts: whatever else the address says is not shown.
        assert "flash" not in (await admin.get("/admin?done=<b>owned</b>")).text


# settings


@async_test
async def test_settings_apply_at_once(tmp_path: Path) -> None:
    async with running_site(tmp_path, site_name="Configured") as site:
        clients = await members(site)
        assert "<title>Configured</title>" in (await clients[None].get("/")).text
        answer = await post_form(clients["admin"], "/admin/settings", **SETTINGS)
        assert answer.status_code == 303
        assert await stored_settings(site) == {
            "site_name": "Renamed", "registration": False, "upload_max_bytes": 2 * 1024 * 1024,
        }
        home = (await clients[None].get("/")).text
        assert "<title>Renamed</title>" in home and '<a class="brand" href="/">Renamed</a>' in home
        assert not await sitecfg.registration_open(site.ctx)
        assert await sitecfg.upload_limit(site.ctx) == 2 * 1024 * 1024
        page = (await clients["admin"].get("/admin")).text
        assert "Set here; the configuration file says “Configured”." in page
        assert 'value="2 MiB"' in page
        # Back to the configuration's values: nothing is overridden any more.
        await post_form(clients["admin"], "/admin/settings",
                        site_name="Configured", registration="open", upload_max="10 MiB")
        assert await stored_settings(site) == {}
        assert await sitecfg.registration_open(site.ctx)
        assert "<title>Configured</title>" in (await clients[None].get("/")).text


@async_test
async def test_registration_closed_in_the_admin_page_closes_the_register_page(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        clients = await members(site)
        before = await clients[None].get("/register")
        await post_form(clients["admin"], "/admin/settings", **(SETTINGS | {"site_name": "swarmdex"}))
        after = await clients[None].get("/register")
        assert before.text != after.text  # the accounts pages ask sitecfg.registration_open
        assert 'action="/register"' in before.text and 'action="/register"' not in after.text


@async_test
async def test_pages_do_not_query_the_settings(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        anonymous = site.client()
        await anonymous.get("/")  # the first request after a start reads them, once
        copy = sitecfg._copies[site.ctx.db]
        # The copy is fresh for REFRESH_SECONDS; on a busy machine six requests may take
        # longer, so the test holds it fresh instead of racing the clock.
        copy.fresh_until = math.inf
        with queries(site) as seen:
            for _ in range(3):
                assert (await anonymous.get("/")).status_code == 200
                assert (await anonymous.get("/no/such/page")).status_code == 404
        # (The home page has queries of its own, the latest uploads: none is of the settings.)
        assert not [sql for sql in seen if "site_settings" in sql]
        copy.fresh_until = 0  # REFRESH_SECONDS later: read once more
        with queries(site) as seen:
            await anonymous.get("/")
            sitecfg._copies[site.ctx.db].fresh_until = math.inf
            await anonymous.get("/")
        assert len([sql for sql in seen if "site_settings" in sql]) == 1


@async_test
async def test_other_processes_pick_up_a_change_when_their_copy_is_stale(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        anonymous = site.client()
        await anonymous.get("/")
        async with transaction(site.ctx.db) as session:  # as saved by another site process
            session.add(SiteSetting(key="site_name", value="From elsewhere"))
        assert "From elsewhere" not in (await anonymous.get("/")).text
        sitecfg._copies[site.ctx.db].fresh_until = 0  # REFRESH_SECONDS have passed
        assert "<title>From elsewhere</title>" in (await anonymous.get("/")).text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"site_name": "   "}, "The site name cannot be empty."),
        ({"site_name": "x" * 81}, "at most 80 characters"),
        ({"registration": "maybe"}, "Registration is either open or closed."),
        ({"upload_max": "lots"}, "Write the upload size limit like"),
        ({"upload_max": "500 GB"}, "Write the upload size limit like"),
        ({"upload_max": "200 MiB"}, "between 1 KiB and 100 MiB"),
        ({"upload_max": "0"}, "between 1 KiB and 100 MiB"),
    ],
)
@async_test
async def test_unusable_settings_are_explained(tmp_path: Path, fields: dict[str, str], message: str) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        answer = await post_form(admin, "/admin/settings", **(SETTINGS | fields))
        assert answer.status_code == 400
        assert message in answer.text
        assert f'value="{(SETTINGS | fields)["upload_max"]}"' in answer.text  # kept as typed
        assert await stored_settings(site) == {}


@pytest.mark.parametrize(
    ("typed", "size"),
    [("10 MiB", 10 * 1024**2), ("1.5 mb", 1536 * 1024), ("512k", 512 * 1024), ("2048", 2048),
     (" 4096 B ", 4096), ("1 KiB", 1024)],
)
@async_test
async def test_upload_limit_units(tmp_path: Path, typed: str, size: int) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        answer = await post_form(admin, "/admin/settings", **(SETTINGS | {"upload_max": typed}))
        assert answer.status_code == 303
        assert await sitecfg.upload_limit(site.ctx) == size


# categories


@async_test
async def test_categories_are_added_renamed_reordered(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        for slug, name in (("linux", "Linux"), ("bsd", "BSD"), ("films", "Films")):
            assert (await post_form(admin, "/admin/categories", slug=slug, name=name)).status_code == 303
        ids = await category_ids(site)
        await post_form(admin, f"/admin/categories/{ids['films']}/move", direction="up")
        await post_form(admin, f"/admin/categories/{ids['linux']}/rename", name="GNU/Linux")
        assert await listing(site) == [("linux", "GNU/Linux"), ("films", "Films"), ("bsd", "BSD")]
        page = (await admin.get("/admin")).text
        assert page.index("/c/linux") < page.index("/c/films") < page.index("/c/bsd")
        bad = await post_form(admin, f"/admin/categories/{ids['bsd']}/move", direction="sideways")
        assert bad.status_code == 400


@async_test
async def test_refused_category_changes_say_why(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        ids = await add_categories(site, "linux", "bsd")
        answer = await post_form(admin, "/admin/categories", slug="Bad Slug", name="Bad <b>")
        assert answer.status_code == 400
        assert "lower-case letters, digits and hyphens" in answer.text
        assert 'value="Bad Slug"' in answer.text and 'value="Bad &lt;b&gt;"' in answer.text
        answer = await post_form(admin, "/admin/categories", slug="linux", name="Again")
        assert "There is a category at /c/linux already." in answer.text
        answer = await post_form(admin, f"/admin/categories/{ids['bsd']}/rename", name="LINUX")
        assert answer.status_code == 400 and "named “LINUX” already" in answer.text
        answer = await post_form(admin, "/admin/categories/999999/delete")
        assert answer.status_code == 400 and "does not exist" in answer.text
        assert (await post_form(admin, "/admin/categories/0/delete")).status_code == 404
        assert await listing(site) == [("linux", "Linux"), ("bsd", "Bsd")]


@async_test
async def test_a_category_in_use_is_not_deleted(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        admin = (await members(site))["admin"]
        ids = await add_categories(site, "linux", "empty")
        async with transaction(site.ctx.db) as session:
            for n, removed in ((1, False), (2, True)):
                info = b"d4:name1:%de" % n
                v1 = hashlib.sha1(info).digest()
                session.add(Torrent(
                    info_hash_v1=v1, swarm_key=swarm_key(v1, None), title=str(n), name=str(n),
                    category_id=ids["linux"], size=1, file_count=1, piece_length=16384,
                    info_dict=info, deleted_at=utcnow() if removed else None,
                ))
        page = (await admin.get("/admin")).text
        answer = await post_form(admin, f"/admin/categories/{ids['linux']}/delete")
        assert answer.status_code == 400
        assert ("“Linux” cannot be deleted: 1 torrent and 1 removed torrent still belong to it. "
                "Move them to another category first.") in answer.text
        assert (await post_form(admin, f"/admin/categories/{ids['empty']}/delete")).status_code == 303
        assert await listing(site) == [("linux", "Linux")]
        assert '<td class="num">2</td>' in page
