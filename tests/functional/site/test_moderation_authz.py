"""Who may do what in moderation and administration, checked on the server for every action:
each (role, action) pair against a fresh site where the action would succeed.

Anonymous visitors are sent to log in (303 to /login), members and trusted members get 403,
moderators may do moderators' actions (and get 403 for admins'), admins may do everything.
Every form also needs its CSRF field, whoever sends it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import pytest

from swarmdex.accounts.services import start_session
from swarmdex.comments import services as comments
from swarmdex.db import transaction
from swarmdex.db.models import Role, User
from swarmdex.moderation import bans, services
from swarmdex.torrents import services as torrents
from swarmdex.web.auth import SESSION_COOKIE, SESSION_LIFETIME
from tests.unit.torrents.support import TorrentFactory

from .helpers import Site, async_test, post_form, running_site


@dataclass(frozen=True)
class Ids:
    torrent: int  # reported
    hidden: int  # hidden by a moderator
    comment: int  # reported
    banned: int  # an account with a ban in force
    network: int  # a banned range
    member: int  # an account whose role can change


@dataclass(frozen=True)
class Action:
    method: str
    path: str  # formatted with Ids
    role: Role  # the least role allowed
    fields: tuple[tuple[str, str], ...] = ()


MOD, ADMIN = Role.MODERATOR, Role.ADMIN
ACTIONS: Final = {
    "queue": Action("GET", "/moderation", MOD),
    "hide": Action("POST", "/moderation/torrents/{torrent}/resolve", MOD, (("action", "hide"),)),
    "delete": Action("POST", "/moderation/torrents/{torrent}/resolve", MOD, (("action", "delete"),)),
    "edit": Action("POST", "/moderation/torrents/{torrent}/resolve", MOD, (
        ("action", "edit"), ("title", "Renamed"), ("category", "software"), ("description", ""))),
    "dismiss": Action("POST", "/moderation/torrents/{torrent}/resolve", MOD, (("action", "dismiss"),)),
    "unhide": Action("POST", "/moderation/torrents/{hidden}/unhide", MOD),
    "remove-comment": Action("POST", "/moderation/comments/{comment}/resolve", MOD, (("action", "remove"),)),
    "dismiss-comment": Action("POST", "/moderation/comments/{comment}/resolve", MOD, (("action", "dismiss"),)),
    "bans-page": Action("GET", "/moderation/bans", MOD),
    "ban": Action("POST", "/moderation/bans/users", MOD, (
        ("name", "target"), ("duration", "7d"), ("reason", "spam"))),
    "unban": Action("POST", "/moderation/bans/users/{banned}/lift", MOD),
    "network-ban": Action("POST", "/moderation/bans/networks", ADMIN, (("network", "198.51.100.0/24"),)),
    "network-unban": Action("POST", "/moderation/bans/networks/{network}/delete", ADMIN),
    "users-page": Action("GET", "/admin/users", ADMIN),
    "role": Action("POST", "/admin/users/{member}/role", ADMIN, (("role", "trusted"),)),
}
ROLES: Final = (None, Role.USER, Role.TRUSTED, Role.MODERATOR, Role.ADMIN)
_RANK: Final = {role: rank for rank, role in enumerate(Role)}


@asynccontextmanager
async def prepared(tmp_path: Path) -> AsyncIterator[tuple[Site, Ids]]:
    """A site with something for every action to act on."""
    async with running_site(tmp_path) as site:
        sessions = site.ctx.db
        async with transaction(sessions) as session:
            await torrents.ensure_default_categories(session)
            staff = User(name="staff", password_hash="x", role=Role.ADMIN)
            target = User(name="target", password_hash="x")
            banned = User(name="banned", password_hash="x")
            member = User(name="member", password_hash="x")
            session.add_all([staff, target, banned, member])
        make = TorrentFactory(tmp_path / "torrents")
        made = []
        async with transaction(sessions) as session:
            for title in ("Reported", "Hidden"):
                made.append(await torrents.upload(session, data=make(), uploader=target,
                                                  category_slug="linux", title=title,
                                                  max_size=1 << 20))
            comment = await comments.add(session, torrent=made[0], author=target, body="spam")
            for kind, target_id in (("torrent", made[0].id), ("torrent", made[1].id),
                                    ("comment", comment.id)):
                await services.file_report(session, target_type=kind, target_id=target_id,
                                           reason="spam", text="")
        async with transaction(sessions) as session:
            await services.resolve_torrent(session, made[1].id, by=staff, resolution="hide")
            await bans.ban_user(session, banned, by=staff, reason="spam", until=None)
            network = await bans.add_network_ban(session, "203.0.113.0/24", by=staff)
        yield site, Ids(made[0].id, made[1].id, comment.id, banned.id, network.id, member.id)


async def browser(site: Site, role: Role | None) -> httpx.AsyncClient:
    """A browser logged in with `role` (None: a visitor). The account is made without a real
    password hash: 87 cases need not pay for 87 of them."""
    if role is None:
        return site.client()
    async with transaction(site.ctx.db) as session:
        user = User(name=f"as-{role.value}", password_hash="x", role=role)
        session.add(user)
        await session.flush()
        cookie = await start_session(session, user, SESSION_LIFETIME)
    return site.client(**{SESSION_COOKIE: cookie})


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
@async_test
async def test_role_and_action(tmp_path: Path, role: Role | None, action: str) -> None:
    todo = ACTIONS[action]
    async with prepared(tmp_path) as (site, ids):
        client = await browser(site, role)
        path = todo.path.format(**vars(ids))
        if todo.method == "GET":
            response = await client.get(path)
        else:
            response = await post_form(client, path, **dict(todo.fields))
    if role is None:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
    elif _RANK[role] < _RANK[todo.role]:
        assert response.status_code == 403, response.text
    elif todo.method == "GET":
        assert response.status_code == 200
    else:
        assert response.status_code == 303, response.text
        assert not response.headers["location"].startswith("/login")


@pytest.mark.parametrize("action", [name for name, a in ACTIONS.items() if a.method == "POST"])
@async_test
async def test_every_form_needs_its_csrf_field(tmp_path: Path, action: str) -> None:
    todo = ACTIONS[action]
    async with prepared(tmp_path) as (site, ids):
        admin = await browser(site, Role.ADMIN)
        await admin.get("/moderation")  # the CSRF cookie
        response = await admin.post(todo.path.format(**vars(ids)), data=dict(todo.fields))
    assert response.status_code == 403
    assert "expired or came from another site" in response.text
