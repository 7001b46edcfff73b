"""Bans at the door: who may upload, comment and report, and from which addresses.

Handlers that let a member add something take `user: Member` instead of `CurrentUser`: a
banned account is logged in (it may read why it is banned) but gets the ban page instead,
with the reason and the end. Forms that open the site to a new account or a new torrent
(registering, uploading) also take `dependencies=[Depends(refuse_banned_networks)]`.

The API refuses a banned account's tokens in `swarmdex.web.auth.api_user`, with the same
words as JSON.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from swarmdex.db.models import User
from swarmdex.moderation import bans
from swarmdex.moderation.models import UserBan
from swarmdex.proxies import normalize
from swarmdex.web.auth import CurrentUser
from swarmdex.web.context import Ctx
from swarmdex.web.ratelimit import trusted_proxies
from swarmdex.web.templates import render

__all__ = [
    "Banned",
    "Member",
    "NetworkBanned",
    "ban_message",
    "client_ip",
    "refuse_banned",
    "refuse_banned_networks",
    "require_member",
]

NETWORK_MESSAGE = ("New accounts and uploads are not accepted from your network. "
                   "If you think this is a mistake, contact the site's staff.")


class Banned(Exception):
    """Raised for a banned account; `refuse_banned` turns it into the ban page."""

    def __init__(self, ban: UserBan) -> None:
        super().__init__(ban_message(ban))
        self.ban = ban


class NetworkBanned(Exception):
    """Raised for a request from a banned address range."""


def ban_message(ban: UserBan) -> str:
    """The ban in one sentence, as the banned user reads it."""
    until = ("permanently" if ban.ends_at is None
             else f"until {ban.ends_at.strftime('%Y-%m-%d %H:%M')} UTC")
    return f"Your account is banned {until}. Reason: {ban.reason}"


async def require_member(user: CurrentUser, ctx: Ctx) -> User:
    """The logged-in user, if no ban is in force on them."""
    async with ctx.db() as session:
        ban = await bans.active_ban(session, user.id)
    if ban is not None:
        raise Banned(ban)
    return user


Member = Annotated[User, Depends(require_member)]


def client_ip(request: Request) -> bans.IPAddress | None:
    """The client's address (X-Forwarded-For believed only from trusted proxies)."""
    host = request.client.host if request.client else ""
    try:
        peer = normalize(ipaddress.ip_address(host).packed)
    except ValueError:
        return None  # not an IP address (a Unix socket): nothing to match
    forwarded = b",".join(v for k, v in request.scope["headers"] if k == b"x-forwarded-for")
    return ipaddress.ip_address(trusted_proxies(request).client_address(peer, forwarded or None))


async def refuse_banned_networks(request: Request, ctx: Ctx) -> None:
    """A dependency: NetworkBanned if the client is in a banned range."""
    address = client_ip(request)
    if address is None:
        return
    async with ctx.db() as session:
        if await bans.banned_network(session, address) is not None:
            raise NetworkBanned()


async def refuse_banned(request: Request, exc: Exception) -> Response:
    """Exception handler for Banned and NetworkBanned: a page that says why (403), or the
    same words as JSON under /api/."""
    message = str(exc) if isinstance(exc, Banned) else NETWORK_MESSAGE
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=403)
    return render(request, "moderation/banned.html", status_code=403, message=message,
                  ban=exc.ban if isinstance(exc, Banned) else None)
