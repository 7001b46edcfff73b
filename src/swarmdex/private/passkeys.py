"""Passkeys and RSS keys: the secrets in a member's announce URLs and personal feeds.

A passkey is 32 hexadecimal digits (128 random bits), made the first time it is needed (a
download in private mode, the account page), so a public site makes none. Resetting one
makes a new one; the old one stops working on every tracker node as soon as the change
feed reaches them. The tracker learns of members only through `tell_member`, which every
service that changes who may announce calls in its own transaction: passkey made or reset,
account disabled or deleted, ban given or lifted.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.models import PASSKEY_LENGTH, User, utcnow
from swarmdex.moderation.models import UserBan
from swarmdex.tracker.changes import Member
from swarmdex.tracker.control import tell
from swarmdex.tracker.members import passkey_digest

__all__ = ["members", "new_key", "passkey_of", "reset_passkey", "reset_rss_key", "rss_key_of",
           "rss_key_user", "tell_member"]


def new_key() -> str:
    return secrets.token_hex(PASSKEY_LENGTH // 2)


async def passkey_of(session: AsyncSession, user: User) -> str:
    """`user`'s passkey, made now if they have none (call inside a write transaction). Two
    first downloads at once make one passkey: the second finds the first's."""
    if user.passkey is None:
        made = new_key()
        result = await session.execute(update(User).where(
            User.id == user.id, User.passkey.is_(None)).values(passkey=made))
        if cast(CursorResult[Any], result).rowcount == 1:
            user.passkey = made
            await tell_member(session, user.id)
        else:
            user.passkey = await session.scalar(select(User.passkey).where(User.id == user.id))
    assert user.passkey is not None
    return user.passkey


async def reset_passkey(session: AsyncSession, user: User) -> str:
    """A new passkey for `user`; the old one is refused from the commit on."""
    await _set(session, user, passkey=new_key())
    assert user.passkey is not None
    return user.passkey


async def rss_key_of(session: AsyncSession, user: User) -> str:
    """`user`'s key for personal feeds, made now if they have none (as `passkey_of`)."""
    if user.rss_key is None:
        made = new_key()
        result = await session.execute(update(User).where(
            User.id == user.id, User.rss_key.is_(None)).values(rss_key=made))
        if cast(CursorResult[Any], result).rowcount == 1:
            user.rss_key = made
        else:
            user.rss_key = await session.scalar(select(User.rss_key).where(User.id == user.id))
    assert user.rss_key is not None
    return user.rss_key


async def reset_rss_key(session: AsyncSession, user: User) -> str:
    """A new feed key for `user`; the old one opens nothing from the commit on."""
    key = new_key()
    await session.execute(update(User).where(User.id == user.id).values(rss_key=key))
    user.rss_key = key
    return key


async def rss_key_user(session: AsyncSession, key: str) -> User | None:
    """The member whose feed key this is, if they may use it now: an enabled account with
    no ban in force. Found by the unique index on `users.rss_key`; any other key (unknown,
    reset, malformed) is None, all alike."""
    if len(key) != PASSKEY_LENGTH:
        return None
    now = utcnow()
    banned = select(UserBan.id).where(
        UserBan.user_id == User.id, UserBan.lifted_at.is_(None),
        or_(UserBan.ends_at.is_(None), UserBan.ends_at > now)).exists()
    user: User | None = await session.scalar(
        select(User).where(User.rss_key == key, User.disabled_at.is_(None), ~banned))
    return user


async def _set(session: AsyncSession, user: User, *, passkey: str) -> None:
    await session.execute(update(User).where(User.id == user.id).values(passkey=passkey))
    user.passkey = passkey
    await tell_member(session, user.id)


async def tell_member(session: AsyncSession, user_id: int) -> None:
    """Tell the tracker what it must now know of this account (at commit, like every
    change). A deleted account is known as one without a passkey."""
    (member,) = await _members(session, user_id) or [Member(user_id, None)]
    tell(session, member)


async def members(session: AsyncSession) -> list[Member]:
    """Every account the tracker must know in private mode: those with a passkey."""
    return await _members(session, None)


async def _members(session: AsyncSession, user_id: int | None) -> list[Member]:
    now = utcnow()
    query = select(User.id, User.passkey, User.disabled_at)
    bans = select(UserBan.user_id, UserBan.ends_at).where(
        UserBan.lifted_at.is_(None), (UserBan.ends_at.is_(None)) | (UserBan.ends_at > now))
    if user_id is not None:
        query = query.where(User.id == user_id)
        bans = bans.where(UserBan.user_id == user_id)
    else:
        query = query.where(User.passkey.is_not(None))
    ends: dict[int, float] = {}
    for banned, ends_at in await session.execute(bans):
        ends[banned] = max(ends.get(banned, 0.0), _moment(ends_at))
    return [
        Member(uid, passkey_digest(passkey) if passkey and disabled_at is None else None,
               ends.get(uid))
        for uid, passkey, disabled_at in await session.execute(query)
    ]


def _moment(ends_at: datetime | None) -> float:
    return math.inf if ends_at is None else ends_at.timestamp()
