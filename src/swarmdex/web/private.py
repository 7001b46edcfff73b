"""Private mode on the site: members only, and downloads that carry the member's passkey.

`members_only` runs for every route (an app-wide dependency, after `load_viewer`). In
private mode an anonymous visitor reaches only what a stranger needs: logging in,
registering (with an invite), the privacy and transparency pages, and the legal notice
form with its receipts; everything else sends them to the login page (the JSON API answers
401). A request with a valid API token is a member's, on any path. Static files are mounted
outside the routes and stay public: they hold nothing of the site's content.

Feed readers have no cookie and no token: a member's feed key (`users.rss_key`, apart from
the passkey, resettable on the account page) opens the feeds (/rss, /rss/...) and the
.torrent downloads (/t/HASH.torrent), and nothing else, as `?key=KEY`. When a key comes
with such a request it alone decides: a member's key answers as that member, whose feed
links carry the key again (`feed_key_query`); any other key is refused with 403, the same
for every key that is not a member's now (unknown, reset, a disabled or banned account's). A
feed asked for without any key is 401, not the login page: readers are not browsers.

`announce_urls` gives a member's own announce URLs: each of the site's, with `/<passkey>`
appended (BEP 41 carries the path of a UDP URL to the tracker). Torrent files and magnet
links for a member are made with these, so whoever holds one announces as that member.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import urlencode

from fastapi import HTTPException, Request

from swarmdex.accounts.services import token_user
from swarmdex.db.engine import transaction
from swarmdex.db.models import User
from swarmdex.private import passkeys
from swarmdex.torrents.services import OnlyTrackers
from swarmdex.web.auth import BEARER_REALM, LoginRequired, Viewer
from swarmdex.web.context import Ctx, SiteContext

__all__ = ["FEED_KEY", "PUBLIC_PATHS", "announce_urls", "feed_key_query", "members_only",
           "with_passkey"]

# What an anonymous visitor may open in private mode: exact paths, and prefixes ending "/".
PUBLIC_PATHS: Final = frozenset({"/login", "/register", "/logout", "/privacy", "/transparency",
                                 "/transparency.json", "/notice"})
PUBLIC_PREFIXES: Final = ("/notice/",)
# The query parameter of a feed key, and the paths it opens.
FEED_KEY: Final = "key"
BAD_FEED_KEY: Final = "This feed key opens nothing: copy your feed's address again from your account page."
NO_FEED_KEY: Final = ("This site's feeds are for its members: use your feed's address from your "
                      "account page, with its key.")


async def members_only(request: Request, ctx: Ctx, viewer: Viewer) -> None:
    """In private mode, keep anonymous visitors to the public paths (see the module)."""
    if not ctx.settings.private:
        return
    path = request.url.path
    if _opens_with_feed_key(path):
        key = request.query_params.get(FEED_KEY)
        if key is not None:
            await _feed_key_owner(request, ctx, key)
            return
    if viewer is not None:
        return
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return
    # An API token opens every path, downloads included (scripts fetch .torrent files).
    if await _token_owner(request, ctx) is not None:
        return
    if _is_feed(path):
        raise HTTPException(401, NO_FEED_KEY, headers={"WWW-Authenticate": BEARER_REALM})
    if path.startswith("/api/"):
        raise HTTPException(
            401, "This site is for its members: send 'Authorization: Bearer <token>' with an "
                 "API token from your account page.", headers={"WWW-Authenticate": BEARER_REALM})
    raw = request.scope.get("raw_path", b"").decode("latin-1").partition("?")[0] or path
    here = raw + (f"?{request.url.query}" if request.url.query else "")
    raise LoginRequired(here if request.method in ("GET", "HEAD") else "/")


def _is_feed(path: str) -> bool:
    return path == "/rss" or path.startswith("/rss/")


def _opens_with_feed_key(path: str) -> bool:
    return _is_feed(path) or (path.startswith("/t/") and path.endswith(".torrent"))


async def _feed_key_owner(request: Request, ctx: SiteContext, key: str) -> User:
    """The member whose feed key came with the request (left in request.state.feed_member);
    403 for any other key. Keys are found by the index, never compared here, never logged."""
    async with ctx.db() as session:
        user = await passkeys.rss_key_user(session, key)
    if user is None:
        raise HTTPException(403, BAD_FEED_KEY)
    request.state.feed_member = user
    return user


def feed_key_query(request: Request) -> str:
    """`?key=KEY` for links in a feed opened with a feed key (its .torrent downloads), so
    the reader can follow them; empty otherwise."""
    member: User | None = getattr(request.state, "feed_member", None)
    if member is None or member.rss_key is None:
        return ""
    return "?" + urlencode({FEED_KEY: member.rss_key})


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
    state = request.state
    member: User | None = (getattr(state, "feed_member", None) or getattr(state, "viewer", None)
                           or getattr(state, "api_member", None))
    if member is None:
        return OnlyTrackers()
    passkey = member.passkey
    if passkey is None:
        async with transaction(ctx.db) as session:
            passkey = await passkeys.passkey_of(session, member)
    return OnlyTrackers(with_passkey(url, passkey) for url in ctx.announce_urls)
