"""A ban binds every role: a banned moderator or admin is refused on every staff page, and a
banned member can no longer change what they wrote (comments, news comments, profile)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from swarmdex.accounts.services import user_by_name
from swarmdex.db import transaction
from swarmdex.db.models import Role, User, utcnow
from swarmdex.moderation import bans
from swarmdex.news import services as news
from swarmdex.news.services import PostForm
from swarmdex.web.pages.invites import private_only

from .helpers import Site, async_test, post_form, running_site
from .routes import Route, app_routes, dependency_calls


def staff_routes(site: Site) -> list[tuple[Route, Role]]:
    """Every route that builds on `require_role`, with the least role it asks for."""
    found = []
    for route in app_routes(site):
        roles = [role for call in dependency_calls(route.dependant)
                 if getattr(call, "__qualname__", "") == "require_role.<locals>.dependency"
                 for role in _asked(call)]
        if roles:
            found.append((route, max(roles, key=list(Role).index)))
    return found


def _asked(dependency: object) -> list[Role]:
    """The role a `require_role` dependency asks for (held in its closure)."""
    cells = getattr(dependency, "__closure__", None) or ()
    return [cell.cell_contents for cell in cells if isinstance(cell.cell_contents, Role)]


async def ban_by_hand(site: Site, user: User) -> None:
    """A ban in force on `user`, whatever their role (no service lets an admin ban an admin)."""
    async with transaction(site.ctx.db) as session:
        session.add(bans.UserBan(user_id=user.id, reason="Ran amok", banned_by_id=None))


async def account(site: Site, name: str) -> User:
    async with site.ctx.db() as session:
        user = await user_by_name(session, name)
    assert user is not None
    return user


@pytest.mark.parametrize("mode", ["listed", "private"])  # private mode's staff pages too
@async_test
async def test_every_staff_route_refuses_a_banned_moderator_or_admin(tmp_path: Path, mode: str) -> None:
    async with running_site(tmp_path, tracker_mode=mode) as site:
        routes = staff_routes(site)
        paths = {route.path for route, _ in routes}
        # The families of staff pages: if this shrinks, the marker was lost somewhere.
        for path in ("/moderation", "/moderation/bans/users/{user_id}/lift", "/admin/users",
                     "/news/new", "/takedowns", "/admin/audit"):
            assert path in paths, path
        clients = {}
        for role, name in ((Role.MODERATOR, "mod"), (Role.ADMIN, "root")):
            clients[role] = await site.logged_in(name, role=role)
            assert (await clients[role].get("/moderation")).status_code == 200  # before the ban
            await ban_by_hand(site, await account(site, name))
        for route, least in routes:
            if mode == "listed" and private_only in dependency_calls(route.dependant):
                continue  # a private site's page: a 404 here, before anyone is asked
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            for role, client in clients.items():
                if list(Role).index(role) < list(Role).index(least):
                    continue
                for method in sorted(route.methods):
                    if method == "POST":
                        answer = await post_form(client, path)
                    else:
                        answer = await client.request(method, path)
                    assert answer.status_code == 403, (method, route.path, role)
                    assert "banned" in answer.text, (method, route.path, role)


@async_test
async def test_a_banned_member_cannot_edit_news_comments_or_profile(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        mallory = await site.logged_in("mallory")
        admin = await site.create_user("root", role=Role.ADMIN)
        async with transaction(site.ctx.db) as session:
            post = await news.write(session, author=admin, form=PostForm(
                title="Hello", body="First post", draft=False, publish_at=utcnow()))
            comment = await news.add_comment(session, post=post,
                                             author=await account(site, "mallory"), body="hi")
            comment_id = comment.id
        await ban_by_hand(site, await account(site, "mallory"))
        answers = [
            await post_form(mallory, f"/news/comments/{comment_id}/edit", body="changed"),
            await post_form(mallory, "/account/profile", display_name="Changed", bio="changed"),
        ]
        for answer in answers:
            assert answer.status_code == 403
            assert "Ran amok" in answer.text
        async with site.ctx.db() as session:
            assert (await news.get_comment(session, comment_id)).body == "hi"  # type: ignore[union-attr]
        profile = await mallory.get("/u/mallory")
        assert "Changed" not in profile.text
