"""Accounts: creating users, checking passwords, browser sessions and API tokens.

Pages, the API and the command line all go through these functions. Each takes the
caller's database session and never commits: the caller decides where a transaction ends.

Secrets are never stored. A browser holds a random session value in its cookie and an API
client holds a random token; the database keeps only their SHA-256 (`secret_digest`), so a
copy of the database lets nobody in.

Password hashing takes a noticeable fraction of a second, and on SQLite a transaction that
holds the write lock would stall every other writer meanwhile. So functions that hash do it
before their first statement where they can (`create_user`, `change_password`): run them in
a plain session (`async with sessions() as s, s.begin():`) rather than in
`db.engine.transaction`, which takes the lock up front. `authenticate` must read before it
can verify: run it in a session of its own, then start the login session in a new one.

Login sessions last a fixed time from login (`start_session`'s `lifetime`), they are not
extended by use: a stolen cookie is worthless after that, and reading a page never writes to
the database. Logging out, revoking a session and disabling an account delete the row, so
the cookie stops working at once.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import CursorResult, Executable, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.accounts.passwords import (
    hash_password,
    needs_rehash,
    verify_password,
    waste_a_verify,
)
from swarmdex.db.models import ApiToken, LoginSession, Role, User, fold_name, secret_digest, utcnow
from swarmdex.private import passkeys

__all__ = [
    "MAX_SESSIONS_PER_USER",
    "MAX_TOKENS_PER_USER",
    "NAME_MAX",
    "NAME_MIN",
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "TOKEN_PREFIX",
    "AccountError",
    "authenticate",
    "change_password",
    "check_name",
    "check_password",
    "create_token",
    "create_user",
    "disable_user",
    "end_session",
    "has_role",
    "list_sessions",
    "list_tokens",
    "purge_sessions",
    "revoke_other_sessions",
    "revoke_session",
    "revoke_token",
    "session_id",
    "session_user",
    "start_session",
    "token_user",
    "user_by_name",
]

log = logging.getLogger(__name__)

NAME_MIN: Final = 3
NAME_MAX: Final = 32
# ASCII only: names from other scripts invite look-alikes ("admin" spelt with a Cyrillic "a").
_NAME_CHARS: Final = re.compile(r"[A-Za-z0-9._-]+\Z")
_NAME_START: Final = re.compile(r"[A-Za-z0-9]")
# Names the site itself shows in place of a user; an account with one would be mistaken for it.
RESERVED_NAMES: Final = frozenset({"anonymous", "deleted", "nobody", "system"})

PASSWORD_MIN: Final = 10
PASSWORD_MAX: Final = 1024  # a bound on the work one login form can ask for
# Long enough to pass the length rule, and the first thing anyone guesses.
_COMMON_PASSWORDS: Final = frozenset({
    "1234567890", "0123456789", "12345678910", "123456789a", "1q2w3e4r5t", "1qaz2wsx3edc",
    "abcdefghij", "iloveyou12", "letmein123", "password01", "password12", "password123",
    "password1234", "passw0rd123", "qwerty1234", "qwerty12345", "qwertyuiop", "welcome123",
    "administrator", "changeme123", "trustno1234", "0987654321", "asdfghjkl1",
})

TOKEN_PREFIX: Final = "sdx_"  # lets secret scanners recognise a leaked token
TOKEN_LENGTH: Final = len(TOKEN_PREFIX) + 43  # 32 random bytes, URL-safe base64
TOKEN_NAME_MAX: Final = 64
MAX_TOKENS_PER_USER: Final = 50
# `last_used_at` is written at most this often per token: an API client polling every
# second should not turn every read into a write.
TOKEN_STAMP_INTERVAL: Final = timedelta(minutes=1)

COOKIE_VALUE_MAX: Final = 128  # ours are 43 characters; anything far longer is not ours
MAX_SESSIONS_PER_USER: Final = 100  # a script logging in in a loop cannot grow the table


class AccountError(Exception):
    """Something the user can put right; `message` says what, in words fit to show them,
    and `field` which input it is about ("name", "password", "current"...), when one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# Rules


def check_name(name: str) -> None:
    """Raise AccountError unless `name` is a valid user name (uniqueness aside)."""
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise AccountError(f"A name has {NAME_MIN} to {NAME_MAX} characters.", "name")
    if not _NAME_CHARS.match(name):
        raise AccountError("A name may use only letters a-z, digits, dots, dashes and underscores.", "name")
    if not _NAME_START.match(name):
        raise AccountError("A name starts with a letter or a digit.", "name")
    if fold_name(name) in RESERVED_NAMES:
        raise AccountError("That name is reserved. Please pick another.", "name")


def check_password(password: str, name: str = "") -> None:
    """Raise AccountError unless `password` is acceptable for the account `name`."""
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"A password has at least {PASSWORD_MIN} characters.", "password")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"A password has at most {PASSWORD_MAX} characters.", "password")
    folded = fold_name(password)
    # Short names are too likely to appear in a good password by chance.
    if len(name) >= 4 and fold_name(name) in folded:
        raise AccountError("The password must not contain the account name.", "password")
    if len(set(password)) < 4 or folded in _COMMON_PASSWORDS:
        raise AccountError("That password is too easy to guess. A few unrelated words work well.", "password")


def has_role(user: User, role: Role) -> bool:
    """Whether `user` may act as `role` (each role includes the ones before it)."""
    order = list(Role)
    return order.index(user.role) >= order.index(role)


# Users


async def create_user(
    session: AsyncSession, name: str, password: str, role: Role = Role.USER
) -> User:
    """A new account. Raises AccountError for a bad or taken name or a weak password."""
    check_name(name)
    check_password(password, name)
    # Hash before the first statement: no lock or snapshot is held while it runs.
    user = User(name=name, password_hash=await hash_password(password), role=role)
    try:
        # A savepoint, so a taken name leaves the caller's transaction usable. Inserting
        # and catching the unique key (rather than looking first) is also race-free.
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise AccountError("That name is taken. Please pick another.", "name") from None
    return user


async def user_by_name(session: AsyncSession, name: str) -> User | None:
    """The account called `name`, in any case or width."""
    if len(name) > NAME_MAX * 2:
        return None
    found: User | None = await session.scalar(select(User).where(User.name_key == fold_name(name)))
    return found


async def authenticate(session: AsyncSession, name: str, password: str) -> User | None:
    """The account if `password` is its password, else None.

    An unknown name takes as long as a wrong password, so answers do not tell which names
    exist. Raises AccountError for a disabled account, but only once the password has
    proved who is asking. Upgrades the stored hash when the hashing parameters changed:
    commit the session afterwards.
    """
    if not password or len(password) > PASSWORD_MAX:
        return None
    user = await user_by_name(session, name)
    if user is None:
        await waste_a_verify(password)
        return None
    if not await verify_password(user.password_hash, password):
        return None
    if user.disabled_at is not None:
        raise AccountError("This account has been disabled.")
    if needs_rehash(user.password_hash):
        rehash = (
            update(User)
            .where(User.id == user.id, User.password_hash == user.password_hash)
            .values(password_hash=await hash_password(password))
        )
        await _write_if_possible(session, rehash, "password rehash")
    return user


async def change_password(session: AsyncSession, user: User, old: str, new: str) -> None:
    """Replace the password of `user` (which may come from another session) after checking
    the current one. Other login sessions are the caller's to revoke
    (`revoke_other_sessions`), in the same transaction."""
    if not await verify_password(user.password_hash, old):
        raise AccountError("Your current password is not correct.", "current")
    if new == old:
        raise AccountError("The new password is the same as the current one.", "password")
    check_password(new, user.name)
    new_hash = await hash_password(new)
    # Only if the hash is still the one just verified: two changes at once cannot both win.
    result = await session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=new_hash)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        raise AccountError("Your password was changed meanwhile. Reload the page and try again.")
    user.password_hash = new_hash


async def disable_user(session: AsyncSession, user: User) -> None:
    """Lock an account: it cannot log in, its sessions end, its API tokens stop working
    (they are kept, and work again if the account is re-enabled)."""
    now = utcnow()
    await session.execute(update(User).where(User.id == user.id).values(disabled_at=now))
    await session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    user.disabled_at = now
    await passkeys.tell_member(session, user.id)  # and its passkey, on every tracker node


# Login sessions


def session_id(cookie_value: str) -> bytes:
    """The stored key of the login session behind a cookie value."""
    return secret_digest(cookie_value)


async def start_session(session: AsyncSession, user: User, lifetime: timedelta) -> str:
    """Log `user` in for `lifetime`; the returned value goes in the browser's cookie."""
    if user.disabled_at is not None:
        raise AccountError("This account has been disabled.")
    now = utcnow()
    mine = LoginSession.user_id == user.id
    # Housekeeping on the user's own rows, here where it is cheap: expired sessions go,
    # and the oldest beyond the cap are logged out.
    await session.execute(delete(LoginSession).where(mine, LoginSession.expires_at <= now))
    oldest = (
        select(LoginSession.id)
        .where(mine)
        .order_by(LoginSession.created_at.desc())
        .offset(MAX_SESSIONS_PER_USER - 1)
    )
    await session.execute(delete(LoginSession).where(LoginSession.id.in_(oldest)))
    cookie_value = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            id=session_id(cookie_value), user_id=user.id, created_at=now, expires_at=now + lifetime
        )
    )
    await session.flush()
    return cookie_value


async def session_user(session: AsyncSession, cookie_value: str | None) -> User | None:
    """The user logged in by this cookie value, if the session is live and the account
    enabled. Only reads."""
    if not cookie_value or len(cookie_value) > COOKIE_VALUE_MAX:
        return None
    found: User | None = await session.scalar(
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.id == session_id(cookie_value),
            LoginSession.expires_at > utcnow(),
            User.disabled_at.is_(None),
        )
    )
    return found


async def end_session(session: AsyncSession, cookie_value: str | None) -> None:
    """Log out the browser holding `cookie_value` (nothing happens for an unknown value)."""
    if cookie_value and len(cookie_value) <= COOKIE_VALUE_MAX:
        await session.execute(delete(LoginSession).where(LoginSession.id == session_id(cookie_value)))


async def list_sessions(session: AsyncSession, user: User) -> list[LoginSession]:
    """The live login sessions of `user`, newest first."""
    rows = await session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.expires_at > utcnow())
        .order_by(LoginSession.created_at.desc())
    )
    return list(rows)


async def revoke_session(session: AsyncSession, user: User, login_session_id: bytes) -> bool:
    """Log out one of the user's sessions; False if it is not theirs or already gone."""
    result = await session.execute(
        delete(LoginSession).where(
            LoginSession.id == login_session_id, LoginSession.user_id == user.id
        )
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def revoke_other_sessions(session: AsyncSession, user: User, keep_cookie: str | None) -> int:
    """Log out every session of `user` but the one holding `keep_cookie`; how many ended."""
    statement = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_cookie:
        statement = statement.where(LoginSession.id != session_id(keep_cookie))
    result = await session.execute(statement)
    return cast(CursorResult[Any], result).rowcount


async def purge_sessions(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete every expired session (of users who never came back) as of `now` (default:
    now); how many went."""
    cutoff = now or utcnow()
    result = await session.execute(delete(LoginSession).where(LoginSession.expires_at <= cutoff))
    return cast(CursorResult[Any], result).rowcount


# API tokens


def _token_label(name: str) -> str:
    label = " ".join(name.split())
    if not label:
        raise AccountError("Give the token a name, to recognise it later.", "name")
    if len(label) > TOKEN_NAME_MAX:
        raise AccountError(f"A token name has at most {TOKEN_NAME_MAX} characters.", "name")
    return label


async def create_token(session: AsyncSession, user: User, name: str) -> str:
    """A new API token for `user`, called `name`. The token is returned once: only its
    digest is kept."""
    label = _token_label(name)
    if user.disabled_at is not None:
        raise AccountError("This account has been disabled.")
    count = await session.scalar(
        select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)
    )
    if (count or 0) >= MAX_TOKENS_PER_USER:
        raise AccountError(f"You have {MAX_TOKENS_PER_USER} tokens already. Revoke one first.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=secret_digest(token), name=label))
    await session.flush()
    return token


async def token_user(session: AsyncSession, token: str) -> User | None:
    """The enabled account an API token belongs to, else None.

    Notes the time of use, at most once a minute per token; that is one UPDATE, so commit
    the session afterwards.
    """
    if len(token) != TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
        return None
    row = (
        await session.execute(
            select(ApiToken, User)
            .join(User, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == secret_digest(token), User.disabled_at.is_(None))
        )
    ).one_or_none()
    if row is None:
        return None
    api_token, user = row
    now = utcnow()
    stale = now - TOKEN_STAMP_INTERVAL
    if api_token.last_used_at is None or api_token.last_used_at <= stale:
        stamp = (
            update(ApiToken)
            .where(
                ApiToken.id == api_token.id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= stale),
            )
            .values(last_used_at=now)
        )
        await _write_if_possible(session, stamp, "token use stamp")
    return user


async def list_tokens(session: AsyncSession, user: User) -> list[ApiToken]:
    """The user's API tokens, newest first."""
    rows = await session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return list(rows)


async def revoke_token(session: AsyncSession, user: User, token_id: int) -> bool:
    """Delete one of the user's tokens; False if it is not theirs or already gone."""
    result = await session.execute(
        delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def _write_if_possible(session: AsyncSession, statement: Executable, what: str) -> None:
    """Run a write that may be skipped: a newer password hash, a last-used time.

    In a plain session on SQLite, a write after a read fails at once if another writer
    committed in between (the read's snapshot is stale). For these writes that only means
    "next time", so the failure must not cost the user their login or API call; the
    savepoint keeps the caller's transaction usable.
    """
    try:
        async with session.begin_nested():
            await session.execute(statement)
    except OperationalError as exc:
        log.info("%s postponed: %s", what, exc.orig)
