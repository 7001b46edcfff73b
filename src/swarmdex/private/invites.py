"""Invites: on a private site, accounts are made with a code a member gave.

Rules:

- A code is 140 random bits written as 28 characters of Crockford's base32 in groups of
  four (`k3q9-x2mb-...`): no letters that read as digits, any case, dashes and spaces
  optional, o read as 0 and i or l as 1, so a code read aloud or retyped still works. Only
  the SHA-256 of its canonical form is kept (`Invite.code_digest`): it is shown once, to its
  maker, and a copy of the database lets nobody register.
- A code can be used once, until `invite_lifetime_days` after it was made, unless revoked.
  Using it and making the account happen in one transaction (`join`); of two registrations
  racing for one code exactly one wins: the update that marks it used only matches a row
  not yet used, and the unique `used_by_id` is the backstop.
- Quota: a member may have `invites_per_member` invites out (trusted uploaders and
  moderators: their own settings). An invite is out while it is open (unused, unexpired,
  unrevoked) and for 30 days after it was used, so the quota is also about how many people
  one member brings in a month; a code revoked or expired unused gives its place back at
  once. Admins have no quota; moderators may go past theirs.
- Revoking: the maker may revoke their unused codes; staff (moderators and admins) any.
- A banned account cannot make codes (inviting is taking part); its codes stay usable until
  staff revoke them.
- The audit log: as for every staff action, each code a moderator or admin makes or
  revokes is recorded ("invite.make", "invite.revoke"); staff codes are outside the quota
  rules, so the log is where other staff see them. Members' own codes, and their use, are
  not: the invites table already says who made which code and who used it, and the audit
  log, append-only and kept after an account is deleted, would otherwise keep a permanent
  record of every member's invitations that deleting an account could not erase.

Functions take the caller's session and never commit. `make` and `revoke` belong in
`db.engine.transaction` (the quota is read and written under the write lock, so two codes
made at once cannot both take a last place); `join` in a plain session (it hashes a
password first: see `swarmdex.accounts.services`). Refusals raise `InviteError`, with a
message fit for the visitor.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, cast

from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from swarmdex.accounts.services import create_user, has_role
from swarmdex.audit import services as audit
from swarmdex.db.models import Role, User, utcnow
from swarmdex.moderation.services import active_ban
from swarmdex.private.models import Invite
from swarmdex.settings import Settings

__all__ = [
    "CODE_CHARS",
    "NOTE_MAX",
    "NOT_USABLE",
    "QUOTA_WINDOW",
    "InviteError",
    "InviteTree",
    "InviteView",
    "Made",
    "Member",
    "NotAllowed",
    "NotFound",
    "Quota",
    "State",
    "TreeRow",
    "canonical",
    "code_digest",
    "join",
    "made_by",
    "make",
    "new_code",
    "open_invites",
    "quota",
    "quota_limit",
    "revoke",
    "state",
    "tree",
    "usable",
]

# Crockford's base32: digits and lowercase letters but i, l, o and u.
_ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
CODE_CHARS: Final = 28  # x 5 bits = 140 random bits
_GROUP: Final = 4
_READ_AS: Final = str.maketrans({"o": "0", "i": "1", "l": "1"})
_SPACING: Final = re.compile(r"[\s-]+")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
NOTE_MAX: Final = 200  # `Invite.note`
QUOTA_WINDOW: Final = timedelta(days=30)
# Listed on a member's page, newest first; an admin without quota may have made more.
SHOWN: Final = 500
# One message for every code that cannot be used: whether it was wrong, used, expired or
# revoked is none of the visitor's business (and would help whoever is guessing).
NOT_USABLE: Final = ("That invite code cannot be used. Check it, or ask the member who "
                     "invited you for a new one.")

State = Literal["open", "used", "expired", "revoked"]


class InviteError(Exception):
    """An invite action the site refuses; `message` says why, fit to show the visitor."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(InviteError):
    """No such invite, or not one the asker may see."""


class NotAllowed(InviteError):
    """The account may not make a code now: disabled, banned, or its quota is full."""


# Codes


def new_code() -> str:
    """A new code, as shown to its maker: `k3q9-x2mb-...`."""
    number = secrets.randbits(CODE_CHARS * 5)
    chars = []
    for _ in range(CODE_CHARS):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "-".join("".join(chars[i:i + _GROUP]) for i in range(0, CODE_CHARS, _GROUP))


def canonical(text: str) -> str | None:
    """The code in `text` as it is hashed (no dashes, lowercase, o/i/l read as 0/1/1); a
    whole registration link works too. None if it cannot be a code."""
    if "invite=" in text:
        text = text.split("invite=", 1)[1].split("&", 1)[0].split("#", 1)[0]
    code = _SPACING.sub("", text[:200]).lower().translate(_READ_AS)
    if len(code) != CODE_CHARS or not set(code) <= set(_ALPHABET):
        return None
    return code


def code_digest(text: str) -> bytes | None:
    """What `Invite.code_digest` holds for the code in `text`; None if it is not a code."""
    code = canonical(text)
    return None if code is None else hashlib.sha256(code.encode()).digest()


# States and quotas


def state(invite: Invite, now: datetime) -> State:
    if invite.used_at is not None:  # `used_by_id` goes when that account is deleted
        return "used"
    if invite.revoked_at is not None:
        return "revoked"
    return "expired" if invite.expires_at <= now else "open"


def _open(now: datetime) -> ColumnElement[bool]:
    return and_(Invite.used_at.is_(None), Invite.used_by_id.is_(None),
                Invite.revoked_at.is_(None), Invite.expires_at > now)


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int | None  # None: no quota (admins)
    out: int  # open codes, and codes used in the last QUOTA_WINDOW
    may_exceed: bool  # staff may make codes past `limit`

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.out, 0)

    @property
    def full(self) -> bool:
        return self.limit is not None and self.out >= self.limit


def quota_limit(settings: Settings, role: Role) -> int | None:
    """How many invites an account of `role` may have out; None: no limit."""
    return {
        Role.USER: settings.invites_per_member,
        Role.TRUSTED: settings.invites_per_trusted,
        Role.MODERATOR: settings.invites_per_moderator,
    }.get(role)


async def quota(session: AsyncSession, user: User, settings: Settings,
                now: datetime | None = None) -> Quota:
    now = now or utcnow()
    out = await session.scalar(
        select(func.count()).select_from(Invite).where(
            Invite.created_by_id == user.id,
            or_(_open(now), Invite.used_at > now - QUOTA_WINDOW)))
    return Quota(quota_limit(settings, user.role), int(out or 0),
                 may_exceed=has_role(user, Role.MODERATOR))


async def _acting_staff(session: AsyncSession, user: User, now: datetime) -> bool:
    """Whether `user` may use staff powers now: moderator or admin, and not banned."""
    return (user.disabled_at is None and has_role(user, Role.MODERATOR)
            and await active_ban(session, user.id, now) is None)


# Making and revoking


@dataclass(frozen=True, slots=True)
class Made:
    invite: Invite
    code: str  # shown once, never stored


def _clean_note(note: str) -> str:
    cleaned = " ".join(note.split())
    if _CONTROL.search(cleaned):
        raise InviteError("The note contains control characters.")
    if len(cleaned) > NOTE_MAX:
        raise InviteError(f"A note has at most {NOTE_MAX} characters.")
    return cleaned


async def make(session: AsyncSession, user: User, settings: Settings, *, note: str = "",
               now: datetime | None = None) -> Made:
    """A new code by `user`, with an optional note (for whom it is, as a reminder)."""
    now = now or utcnow()
    note = _clean_note(note)
    if user.disabled_at is not None:
        raise NotAllowed("This account has been disabled.")
    if await active_ban(session, user.id, now) is not None:
        raise NotAllowed("Your account is banned: you cannot invite anyone while the ban lasts.")
    staff = await _acting_staff(session, user, now)
    current = await quota(session, user, settings, now)
    if current.full and not staff:
        if current.limit == 0:
            raise NotAllowed("Your account cannot invite anyone.")
        raise NotAllowed(
            f"You have {current.out} of your {current.limit} invites out. A place comes back "
            "when an open code expires or you revoke it, and 30 days after a code is used.")
    code = new_code()
    digest = code_digest(code)
    assert digest is not None
    invite = Invite(code_digest=digest, created_by_id=user.id, created_at=now, note=note,
                    expires_at=now + timedelta(days=settings.invite_lifetime_days))
    session.add(invite)
    await session.flush()
    if staff:
        await audit.record(session, user, "invite.make", "invite", invite.id,
                           after={"expires_at": invite.expires_at.isoformat(), "note": note,
                                  "past_quota": current.full})
    return Made(invite, code)


async def revoke(session: AsyncSession, invite_id: int, *, by: User,
                 now: datetime | None = None) -> Invite:
    """Revoke an unused code: its maker's own, or any for staff. Revoking a revoked code
    changes nothing."""
    now = now or utcnow()
    invite = await session.get(Invite, invite_id)
    own = invite is not None and invite.created_by_id == by.id
    staff = await _acting_staff(session, by, now)
    if invite is None or not (own or staff):
        raise NotFound("There is no such invite among yours.")
    if invite.used_at is not None:
        raise InviteError("That invite has been used: there is nothing left to revoke.")
    if invite.revoked_at is not None:
        return invite
    done = await session.execute(
        update(Invite).where(Invite.id == invite.id, Invite.used_at.is_(None),
                             Invite.revoked_at.is_(None)).values(revoked_at=now))
    if cast(CursorResult[Any], done).rowcount != 1:  # used or revoked just now
        await session.refresh(invite)
        if invite.used_at is not None:
            raise InviteError("That invite has been used: there is nothing left to revoke.")
        return invite
    invite.revoked_at = now
    if staff:
        maker = await session.scalar(select(User.name).where(User.id == invite.created_by_id))
        await audit.record(session, by, "invite.revoke", "invite", invite.id,
                           before={"made_by": maker, "note": invite.note})
    return invite


# Using


async def usable(session: AsyncSession, code: str, now: datetime | None = None) -> bool:
    """Whether `code` could be used now (only reads; `join` decides)."""
    digest = code_digest(code)
    if digest is None:
        return False
    found = await session.scalar(
        select(Invite.id).where(Invite.code_digest == digest, _open(now or utcnow())))
    return found is not None


async def join(session: AsyncSession, code: str, name: str, password: str, *,
               now: datetime | None = None) -> User:
    """A new account made with `code`, which is used up by it. Raises InviteError for a
    code that cannot be used (one message whatever the reason), AccountError for a bad or
    taken name or a weak password; then the caller's transaction must be rolled back (the
    account may have been added to it)."""
    digest = code_digest(code)
    if digest is None:
        raise InviteError(NOT_USABLE)
    user = await create_user(session, name, password)
    now = now or utcnow()
    claimed = await session.execute(
        update(Invite).where(Invite.code_digest == digest, _open(now))
        .values(used_by_id=user.id, used_at=now))
    if cast(CursorResult[Any], claimed).rowcount != 1:
        raise InviteError(NOT_USABLE)
    return user


# Lists


@dataclass(frozen=True, slots=True)
class InviteView:
    invite: Invite
    state: State
    made_by: str | None  # account names; None once that account is deleted
    used_by: str | None


def _views(rows: Sequence[Any], now: datetime) -> list[InviteView]:
    return [InviteView(invite, state(invite, now), maker, used_by)
            for invite, maker, used_by in rows]


def _listing() -> Any:
    maker, invitee = aliased(User), aliased(User)
    return (select(Invite, maker.name, invitee.name)
            .outerjoin(maker, maker.id == Invite.created_by_id)
            .outerjoin(invitee, invitee.id == Invite.used_by_id)
            .order_by(Invite.id.desc()))


async def made_by(session: AsyncSession, user: User, now: datetime | None = None,
                  limit: int = SHOWN) -> list[InviteView]:
    """The codes `user` made, newest first."""
    rows = await session.execute(_listing().where(Invite.created_by_id == user.id).limit(limit))
    return _views(rows.all(), now or utcnow())


async def open_invites(session: AsyncSession, now: datetime | None = None,
                       limit: int = SHOWN) -> list[InviteView]:
    """Every open code on the site, newest first (for staff)."""
    now = now or utcnow()
    rows = await session.execute(_listing().where(_open(now)).limit(limit))
    return _views(rows.all(), now)


# The invite tree


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    name: str
    role: Role
    joined: datetime
    disabled: bool
    invited: int  # accounts that used this member's codes
    below: int  # accounts below in the tree: invited, those they invited, and so on


@dataclass(frozen=True, slots=True)
class TreeRow:
    """One member in depth-first order. A page writes the tree as nested lists without
    recursion: after a row with `opens`, its invitees follow one level deeper; after a
    row without, `closes` levels end."""

    member: Member
    depth: int
    opens: bool
    closes: int


@dataclass(frozen=True, slots=True)
class InviteTree:
    rows: list[TreeRow]
    members: int
    invited: int  # accounts made with an invite (whose inviter still exists)
    roots: int  # accounts made otherwise: the first ones, by the command line, before invites


async def tree(session: AsyncSession) -> InviteTree:
    """Who invited whom, from every account that was not invited, in order of joining: one
    query for the whole site, then put together here."""
    rows = (await session.execute(
        select(User.id, User.name, User.role, User.created_at, User.disabled_at,
               Invite.created_by_id)
        .outerjoin(Invite, Invite.used_by_id == User.id)
        .order_by(User.id))).all()
    inviter = {row[0]: row[5] for row in rows}
    children: dict[int, list[int]] = {}
    roots: list[int] = []
    for uid, parent in inviter.items():
        if parent is not None and parent in inviter and parent != uid:
            children.setdefault(parent, []).append(uid)
        else:
            roots.append(uid)
    below = _below(children, roots, inviter)
    info = {row[0]: row for row in rows}
    ordered: list[tuple[int, int]] = []  # (user id, depth), depth first
    seen: set[int] = set()
    # Roots first; then anything a cycle left unreached (no path from a root), as a root.
    for start in [*roots, *inviter]:
        if start in seen:
            continue
        stack = [(start, 0)]
        while stack:
            uid, depth = stack.pop()
            if uid in seen:
                continue
            seen.add(uid)
            ordered.append((uid, depth))
            stack.extend((child, depth + 1) for child in reversed(children.get(uid, [])))
    tree_rows: list[TreeRow] = []
    for index, (uid, depth) in enumerate(ordered):
        following = ordered[index + 1][1] if index + 1 < len(ordered) else 0
        opens = following > depth
        _, name, role, joined, disabled_at, _ = info[uid]
        member = Member(uid, name, role, joined, disabled_at is not None,
                        len(children.get(uid, [])), below.get(uid, 0))
        tree_rows.append(TreeRow(member, depth, opens, 0 if opens else depth - following))
    return InviteTree(tree_rows, len(rows), len(rows) - len(roots), len(roots))


def _below(children: dict[int, list[int]], roots: list[int],
           inviter: dict[int, int | None]) -> dict[int, int]:
    """Accounts below each member, counted from the leaves up without recursion."""
    order: list[int] = []
    seen: set[int] = set()
    for start in [*roots, *inviter]:
        stack = [start]
        while stack:
            uid = stack.pop()
            if uid in seen:
                continue
            seen.add(uid)
            order.append(uid)
            stack.extend(children.get(uid, []))
    below: dict[int, int] = {}
    for uid in reversed(order):
        below[uid] = sum(1 + below.get(child, 0) for child in children.get(uid, [])
                         if child in below)
    return below
