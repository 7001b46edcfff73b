"""Read-only mode is decided at each route: every route that changes something either writes
a feature read-only mode closes (uploads, registration, comments, reports) or is listed here
as staying open, so a new route has to be put on one side or the other. Whatever spelling of
its address the router accepts, a closed route answers 503."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from swarmdex.comments import services as comments
from swarmdex.db import transaction
from swarmdex.db.models import Role
from swarmdex.torrents import services as torrents
from swarmdex.web.sitemode import Writes

from .content import listed_torrent
from .helpers import Site, async_test, post_form, running_site
from .routes import Route, app_routes, dependency_calls

# Routes that change something and stay open while the site is read-only, and why.
STAYS_OPEN: Final = {
    # Logging in and out, and one's own account, password, tokens, profile and data.
    "/login", "/logout", "/account/password", "/account/sessions/{login_session}/revoke",
    "/account/sessions/revoke-others", "/account/tokens", "/account/tokens/{token_id}/revoke",
    "/account/profile", "/account/delete",
    # Revoking an invite code takes a way in away (private mode; making one is registration).
    "/account/invites/{invite_id}/revoke", "/moderation/invites/{invite_id}/revoke",
    "/api/v1/invites/{invite_id}",
    # A new passkey or feed key (private mode): a leaked one must be stoppable whatever the
    # site's mode.
    "/account/passkey/reset", "/account/feed-key/reset",
    # Taking things down: removing is what read-only mode is often for.
    "/t/{info_hash}/delete", "/comments/{comment_id}/delete",
    "/news/comments/{comment_id}/delete",
    # Legal notices and counter-notices have deadlines of their own.
    "/notice", "/takedowns/{notice_id}/counter", "/takedowns/{notice_id}/accept",
    "/takedowns/{notice_id}/reject", "/takedowns/counter/{counter_id}/restore",
    "/takedowns/counter/{counter_id}/uphold",
    # Staff work: moderation, bans, news, the site's settings (read-only is switched off here).
    "/moderation/bonus/torrents", "/moderation/bonus/events", "/moderation/bonus/events/{event_id}/end",
    "/moderation/torrents/{torrent_id}/resolve", "/moderation/torrents/{torrent_id}/unhide",
    "/moderation/comments/{comment_id}/resolve", "/moderation/bans/users",
    "/moderation/bans/users/{user_id}/lift", "/moderation/bans/networks",
    "/moderation/bans/networks/{ban_id}/delete", "/admin/users/{user_id}/role",
    "/news/new", "/news/{post_id}/edit", "/news/{post_id}/delete", "/admin/settings",
    "/admin/mode", "/admin/categories", "/admin/categories/{category_id}/rename",
    "/admin/categories/{category_id}/move", "/admin/categories/{category_id}/delete",
    # Donations keep being recorded: money that arrived arrived.
    "/admin/donations/campaigns", "/admin/donations/campaigns/{campaign_id}",
    "/admin/donations/entries", "/admin/donations/entries/{entry_id}/refund",
    "/admin/donations/entries/{entry_id}/message", "/admin/donations/donors",
    "/api/v1/donations/webhook",
}
READS: Final = {"GET", "HEAD"}


def written(route: Route) -> list[str]:
    return [call.feature for call in dependency_calls(route.dependant) if isinstance(call, Writes)]


@async_test
async def test_every_changing_route_is_closed_or_listed_as_open_while_read_only(
    tmp_path: Path,
) -> None:
    async with running_site(tmp_path) as site:
        unclassified = [
            (sorted(route.methods), route.path) for route in app_routes(site)
            if route.methods - READS and not written(route) and route.path not in STAYS_OPEN
        ]
        assert unclassified == []
        listed_but_gone = STAYS_OPEN - {route.path for route in app_routes(site)}
        assert listed_but_gone == set()


async def _prepared(site: Site, tmp_path: Path) -> tuple[int, str]:
    """A torrent with one comment by alice; the comment's id and the torrent's hash."""
    alice = await site.create_user("alice")
    torrent = await listed_torrent(site, tmp_path, alice, "A torrent")
    async with transaction(site.ctx.db) as session:
        comment = await comments.add(session, torrent=torrent, author=alice, body="first words")
    return comment.id, torrents.info_hash(torrent)


@async_test
async def test_read_only_closes_every_writing_route_under_any_spelling(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        comment_id, info_hash = await _prepared(site, tmp_path)
        alice = await site.logged_in("alice")
        admin = await site.logged_in("root", role=Role.ADMIN)
        answer = await post_form(admin, "/admin/mode", mode="read-only", notice="",
                                 notice_level="info")
        assert answer.status_code == 303
        # Other spellings of the comment's id name nothing at all.
        for spelling in ("%2B" + str(comment_id), f"{comment_id}.0", f"%20{comment_id}"):
            for action in ("edit", "report"):
                answer = await post_form(alice, f"/comments/{spelling}/{action}", body="changed",
                                         reason="spam")
                assert answer.status_code in (404, 503), (spelling, action)
        closed = [route for route in app_routes(site) if written(route)]
        assert len(closed) >= 12
        for route in closed:
            path = route.path.replace("{info_hash}", info_hash)
            path = path.replace("{ref}", "1")
            path = re.sub(r"\{[a-z_]*id\}", str(comment_id), path)
            for method in sorted(route.methods):
                if method == "POST":
                    answer = await post_form(alice, path, body="changed")
                else:
                    answer = await alice.request(method, path)
                assert answer.status_code == 503, (method, route.path)
        async with site.ctx.db() as session:
            comment = await comments.get(session, comment_id)
        assert comment is not None and comment.body == "first words"
