"""Bans and roles: who may still take part, from where, and with what powers.

Rules:

- Moderators and admins ban accounts, for a while (`until`) or for good, with a reason the
  banned user is shown. A banned user can still log in, to read why, but cannot upload,
  comment or report, and their API tokens are refused. Staff can ban only accounts whose
  role is below their own (so nobody bans themselves, and a moderator never an admin), and
  lift only the bans of such accounts (so nobody lifts their own). A new ban replaces the
  account's current one; lifting a ban ends it now.
- A ban binds every role: a banned moderator or admin keeps the role but none of its powers
  (`check_acting_staff`) until the ban ends or another, higher-ranked member lifts it.
- Admins ban address ranges (CIDR, IPv4 or IPv6): nobody from them may register or upload.
- Admins change roles, of anyone but themselves (the last admin cannot demote themselves by
  mistake).

Every ban, unban and role change goes in the audit log in the same transaction. Functions
that refuse raise `ModerationError` or its subclasses, with a message fit to show.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.audit import services as audit
from swarmdex.db.models import NAME_LENGTH, Role, User, fold_name, utcnow
from swarmdex.moderation.models import NetworkBan, UserBan
from swarmdex.moderation.services import (
    ModerationError,
    NotAllowed,
    NotFound,
    active_ban,
    check_acting_staff,
    clean_text,
)
from swarmdex.private import passkeys

__all__ = [
    "REASON_MAX_CHARS",
    "IPAddress",
    "IPNetwork",
    "active_ban",
    "active_bans",
    "add_network_ban",
    "ban_user",
    "banned_network",
    "change_role",
    "find_users",
    "lift_ban",
    "network_bans",
    "parse_network",
    "remove_network_ban",
]

REASON_MAX_CHARS: Final = 500
USERS_SHOWN: Final = 50

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_RANK: Final = {role: rank for rank, role in enumerate(Role)}  # Role lists them in order


def _reason(text: str) -> str:
    reason = clean_text(text, what="reason", max_chars=REASON_MAX_CHARS)
    if not reason:
        raise ModerationError("Give a reason: the banned user is shown it.")
    return reason


def _check_rank(user: User, by: User, what: str) -> None:
    """Staff act only on accounts below their own role: never on themselves or their peers."""
    if _RANK[user.role] >= _RANK[by.role]:
        raise NotAllowed(f"You can only {what} accounts whose role is below yours.")


def _shown(ban: UserBan) -> dict[str, Any]:
    return {"reason": ban.reason, "until": ban.ends_at.isoformat() if ban.ends_at else None}


# --------------------------------------------------------------------------- accounts


async def active_bans(session: AsyncSession, now: datetime | None = None) -> list[tuple[UserBan, str]]:
    """Every ban in force, with the banned account's name, newest first."""
    now = now or utcnow()
    rows = await session.execute(
        select(UserBan, User.name)
        .join(User, User.id == UserBan.user_id)
        .where(UserBan.lifted_at.is_(None), (UserBan.ends_at.is_(None)) | (UserBan.ends_at > now))
        .order_by(UserBan.created_at.desc(), UserBan.id.desc())
    )
    return [(ban, name) for ban, name in rows.all()]


async def ban_user(
    session: AsyncSession,
    user: User,
    *,
    by: User,
    reason: str,
    until: datetime | None,
    now: datetime | None = None,
) -> UserBan:
    """Ban `user` until `until` (None: for good), replacing any ban in force."""
    now = now or utcnow()
    await check_acting_staff(session, by, now=now)
    _check_rank(user, by, "ban")
    if until is not None and until <= now:
        raise ModerationError("The end of a ban must be in the future.")
    text = _reason(reason)
    current = await active_ban(session, user.id, now)
    await session.execute(
        update(UserBan)
        .where(UserBan.user_id == user.id, UserBan.lifted_at.is_(None))
        .values(lifted_at=now)
    )
    ban = UserBan(user_id=user.id, reason=text, created_at=now, ends_at=until, banned_by_id=by.id)
    session.add(ban)
    await session.flush()
    await passkeys.tell_member(session, user.id)  # private mode: announces refused too
    await audit.record(session, by, "user.ban", "user", user.id,
                       before=_shown(current) if current is not None else None,
                       after=_shown(ban) | {"name": user.name})
    return ban


async def lift_ban(session: AsyncSession, user: User, *, by: User, note: str = "",
                   now: datetime | None = None) -> UserBan:
    """End the ban in force on `user` now (the same rank rule as banning)."""
    now = now or utcnow()
    await check_acting_staff(session, by, now=now)
    _check_rank(user, by, "lift the bans of")
    ban = await active_ban(session, user.id, now)
    if ban is None:
        raise NotFound(f"{user.name} is not banned.")
    note = clean_text(note, what="note", max_chars=REASON_MAX_CHARS)
    await session.execute(
        update(UserBan)
        .where(UserBan.user_id == user.id, UserBan.lifted_at.is_(None))
        .values(lifted_at=now)
    )
    await passkeys.tell_member(session, user.id)
    await audit.record(session, by, "user.unban", "user", user.id,
                       before=_shown(ban) | {"name": user.name}, note=note)
    return ban


# --------------------------------------------------------------------------- address ranges


def parse_network(text: str) -> IPNetwork:
    """A CIDR range ("203.0.113.0/24", "2001:db8::/32"; a lone address is its /32 or /128).
    Host bits are cleared; a range covering every address is refused."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ModerationError(
            "Write an address range like 203.0.113.0/24 or 2001:db8::/32."
        ) from None
    if network.prefixlen == 0:
        raise ModerationError("That range is every address there is.")
    return network


def _unmapped(address: IPAddress) -> IPAddress:
    """An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) as the IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


async def network_bans(session: AsyncSession) -> list[NetworkBan]:
    """Every banned range, newest first."""
    return list(await session.scalars(
        select(NetworkBan).order_by(NetworkBan.created_at.desc(), NetworkBan.id.desc())
    ))


async def banned_network(session: AsyncSession, address: IPAddress) -> NetworkBan | None:
    """The banned range `address` is in, if any. The table is short (a handful of ranges),
    so it is read whole and matched here: SQLite has no network type to match with."""
    address = _unmapped(address)
    for ban in await network_bans(session):
        if address in ipaddress.ip_network(ban.network):
            return ban
    return None


async def add_network_ban(session: AsyncSession, text: str, *, by: User, reason: str = "") -> NetworkBan:
    """Ban a range from registering and uploading (admins)."""
    await check_acting_staff(session, by, Role.ADMIN)
    network = str(parse_network(text))
    why = clean_text(reason, what="reason", max_chars=REASON_MAX_CHARS)
    if await session.scalar(select(NetworkBan.id).where(NetworkBan.network == network)):
        raise ModerationError(f"{network} is banned already.")
    ban = NetworkBan(network=network, reason=why, created_by_id=by.id)
    session.add(ban)
    await session.flush()
    await audit.record(session, by, "network.ban", "network", network, after={"reason": why})
    return ban


async def remove_network_ban(session: AsyncSession, ban_id: int, *, by: User) -> NetworkBan:
    """Lift a range ban (admins); the audit log keeps what it was."""
    await check_acting_staff(session, by, Role.ADMIN)
    ban = await session.get(NetworkBan, ban_id)
    if ban is None:
        raise NotFound("That range is not banned (any more).")
    await session.delete(ban)
    await session.flush()
    await audit.record(session, by, "network.unban", "network", ban.network,
                       before={"reason": ban.reason})
    return ban


# --------------------------------------------------------------------------- roles


async def find_users(session: AsyncSession, query: str = "", *, limit: int = USERS_SHOWN) -> list[User]:
    """Accounts whose name contains `query` (any case or width), by name; all when empty."""
    statement = select(User).order_by(User.name_key).limit(limit)
    if query.strip():
        key = fold_name(query.strip()[:NAME_LENGTH])
        statement = statement.where(User.name_key.contains(key, autoescape=True))
    return list(await session.scalars(statement))


async def change_role(session: AsyncSession, user: User, role: Role, *, by: User,
                      note: str = "") -> bool:
    """Give `user` the role `role` (admins, not on themselves); False if it already was."""
    await check_acting_staff(session, by, Role.ADMIN)
    if user.id == by.id:
        raise NotAllowed("You cannot change your own role; ask another admin.")
    note = clean_text(note, what="note", max_chars=REASON_MAX_CHARS)
    if user.role == role:
        return False
    before = user.role
    user.role = role
    await session.flush()
    await audit.record(session, by, "user.role", "user", user.id,
                       before={"role": before.value}, after={"role": role.value, "name": user.name},
                       note=note)
    return True
