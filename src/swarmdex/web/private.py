"""Private mode on the site: members only, and downloads that carry the member's passkey.

`members_only` runs for every route (an app-wide dependency, after `load_viewer`). In
private mode an anonymous visitor reaches only what a stranger needs: logging in,
registering (with an invite), the privacy and transparency pages, and the legal notice
form with its receipts; everything else sends them to the login page (the JSON API answers
401). A request with a valid API token is a member's, on any path. Static files are mounted outside the
routes and stay public: they hold nothing of the site's content.

`announce_urls` gives a member's own announce URLs: each of the site's, with `/<passkey>`
appended (BEP 41 carries the path of a UDP URL to the tracker). Torrent files and magnet
links for a member are made with these, so whoever holds one announces as that member.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from fastapi import HTTPException, Request

from swarmdex.accounts.services import token_user
from swarmdex.db.engine import transaction
from swarmdex.db.models import User
from swarmdex.private import passkeys
from swarmdex.torrents.services import OnlyTrackers
from swarmdex.web.auth import BEARER_REALM, LoginRequired, Viewer
from swarmdex.web.context import Ctx, SiteContext

__all__ = ["PUBLIC_PATHS", "announce_urls", "members_only", "with_passkey"]

# What an anonymous visitor may open in private mode: exact paths, and prefixes ending "/".
PUBLIC_PATHS: Final = frozenset({"/login", "/register", "/logout", "/privacy", "/transparency",
                                 "/transparency.json", "/notice"})
PUBLIC_PREFIXES: Final = ("/notice/",)


async def members_only(request: Request, ctx: Ctx, viewer: Viewer) -> None:
    """In private mode, keep anonymous visitors to the public paths (see the module)."""
    if not ctx.settings.private or viewer is not None:
        return
    path = request.url.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return
    # An API token opens every path, downloads included (scripts fetch .torrent files).
    if await _token_owner(request, ctx) is not None:
        return
    if path.startswith("/api/"):
        raise HTTPException(
            401, "This site is for its members: send 'Authorization: Bearer <token>' with an "
                 "API token from your account page.", headers={"WWW-Authenticate": BEARER_REALM})
    raw = request.scope.get("raw_path", b"").decode("latin-1").partition("?")[0] or path
    here = raw + (f"?{request.url.query}" if request.url.query else "")
    raise LoginRequired(here if request.method in ("GET", "HEAD") else "/")


async def _token_owner(request: Request, ctx: SiteContext) -> User | None:
    """The member whose API token came with the request (left in request.state.api_member
    for `announce_urls`); None without a valid one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    async with ctx.db() as session:
        user = await token_user(session, token.strip())
        await session.commit()  # the last-used time, when it was due
    request.state.api_member = user
    return user


def with_passkey(url: str, passkey: str) -> str:
    """`http://host/announce` -> `http://host/announce/PASSKEY` (also udp://, and URLs that
    end with a slash)."""
    return f"{url.rstrip('/')}/{passkey}"


async def announce_urls(ctx: SiteContext, request: Request) -> Sequence[str]:
    """The announce URLs to write into what this request downloads: the site's in the
    public modes; in private mode, the viewer's own (their passkey is made on first use),
    and only those (`OnlyTrackers`). Empty for nobody, which the gate lets through only to
    public pages."""
    if not ctx.settings.private:
        return ctx.announce_urls
    member: User | None = getattr(request.state, "viewer", None) or getattr(
        request.state, "api_member", None)
    if member is None:
        return OnlyTrackers()
    passkey = member.passkey
    if passkey is None:
        async with transaction(ctx.db) as session:
            passkey = await passkeys.passkey_of(session, member)
    return OnlyTrackers(with_passkey(url, passkey) for url in ctx.announce_urls)
