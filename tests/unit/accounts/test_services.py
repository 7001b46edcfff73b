"""Accounts services on a real SQLite file: users, passwords, login sessions, API tokens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from swarmdex.accounts import passwords
from swarmdex.accounts.services import (
    MAX_SESSIONS_PER_USER,
    MAX_TOKENS_PER_USER,
    TOKEN_PREFIX,
    AccountError,
    authenticate,
    change_password,
    check_name,
    check_password,
    create_token,
    create_user,
    disable_user,
    end_session,
    has_role,
    list_sessions,
    list_tokens,
    purge_sessions,
    revoke_other_sessions,
    revoke_session,
    revoke_token,
    session_id,
    session_user,
    start_session,
    token_user,
    user_by_name,
)
from swarmdex.db.engine import transaction
from swarmdex.db.models import ApiToken, LoginSession, Role, User, secret_digest, utcnow

from .conftest import async_test, database

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")

PASSWORD = "correct horse battery staple"
DAY = timedelta(days=1)


# Rules (no database)


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 33, "with space", "-dash", ".dot", "\u00fcmlaut", "\uff46\uff55\uff4c\uff4c",
     "a/b", "anonymous", "System"],
)
def test_bad_names_are_refused_with_a_message(name: str) -> None:
    with pytest.raises(AccountError) as caught:
        check_name(name)
    assert caught.value.field == "name"
    assert caught.value.message.endswith(".")


@pytest.mark.parametrize("name", ["bob", "Alice_99", "a.b-c", "x" * 32, "0day"])
def test_good_names_pass(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize(
    ("password", "name"),
    [
        ("short", ""),
        ("123456789", ""),
        ("x" * 1025, ""),
        ("aaaaaaaaaaaa", ""),
        ("ababababababab", ""),
        ("Password123", ""),
        ("QWERTYUIOP", ""),
        ("my-alice-is-great", "Alice"),
    ],
)
def test_weak_passwords_are_refused(password: str, name: str) -> None:
    with pytest.raises(AccountError) as caught:
        check_password(password, name)
    assert caught.value.field == "password"


def test_reasonable_passwords_pass() -> None:
    check_password(PASSWORD, "alice")
    check_password("bobcat sunrise", "bob")  # a 3-letter name may appear by chance


def test_roles_include_the_ones_before_them() -> None:
    mod = User(name="mod", password_hash="x", role=Role.MODERATOR)
    assert has_role(mod, Role.USER) and has_role(mod, Role.TRUSTED) and has_role(mod, Role.MODERATOR)
    assert not has_role(mod, Role.ADMIN)


def test_the_command_line_knows_every_role() -> None:
    from swarmdex.cli import ROLES

    assert list(ROLES) == [role.value for role in Role]


# Users and passwords


@async_test
async def test_create_and_authenticate(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            made = await create_user(s, "Alice", PASSWORD, Role.TRUSTED)
        async with db() as s:
            assert (await authenticate(s, "alice", PASSWORD)).id == made.id  # type: ignore[union-attr]
            assert await authenticate(s, "ALICE", "wrong password!") is None
            assert await authenticate(s, "nobody-here", PASSWORD) is None
            assert await authenticate(s, "Alice", "") is None
            stored = await user_by_name(s, "aLiCe")
        assert stored is not None and stored.name == "Alice" and stored.role is Role.TRUSTED
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash


@async_test
async def test_names_are_unique_ignoring_case_and_the_transaction_survives(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            await create_user(s, "Alice", PASSWORD)
        async with transaction(db) as s:
            with pytest.raises(AccountError, match="taken") as caught:
                await create_user(s, "aLICE", PASSWORD)
            assert caught.value.field == "name"
            # The refusal rolled back only its own savepoint: this transaction goes on.
            await create_user(s, "bob", PASSWORD)
        async with db() as s:
            names = (await s.scalars(select(User.name).order_by(User.id))).all()
        assert names == ["Alice", "bob"]


@async_test
async def test_weak_password_and_bad_name_create_nothing(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            with pytest.raises(AccountError, match="at least 10"):
                await create_user(s, "carol", "short")
            with pytest.raises(AccountError, match="3 to 32"):
                await create_user(s, "c", PASSWORD)
        async with db() as s:
            assert await s.scalar(select(User)) is None


@async_test
async def test_change_password(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            user = await create_user(s, "alice", PASSWORD)
        async with db() as s, s.begin():
            with pytest.raises(AccountError) as wrong:
                await change_password(s, user, "not the password", "a brand new secret")
            assert wrong.value.field == "current"
            with pytest.raises(AccountError) as weak:
                await change_password(s, user, PASSWORD, "tiny")
            assert weak.value.field == "password"
            await change_password(s, user, PASSWORD, "a brand new secret")
        async with db() as s:
            assert await authenticate(s, "alice", PASSWORD) is None
            assert await authenticate(s, "alice", "a brand new secret") is not None


@async_test
async def test_a_stale_user_object_cannot_change_the_password_twice(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            user = await create_user(s, "alice", PASSWORD)
        old_copy = User(id=user.id, name=user.name, password_hash=user.password_hash)
        async with db() as s, s.begin():
            await change_password(s, user, PASSWORD, "first new secret")
        with pytest.raises(AccountError, match="meanwhile"):
            async with db() as s, s.begin():
                await change_password(s, old_copy, PASSWORD, "second new secret")


@async_test
async def test_login_rehashes_a_hash_made_with_old_parameters(tmp_path: Path) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            s.add(User(name="old", password_hash=weak.hash(PASSWORD)))
        async with db() as s:
            assert await authenticate(s, "old", PASSWORD) is not None
            await s.commit()
        async with db() as s:
            stored = await s.scalar(select(User.password_hash))
            assert stored is not None and not passwords.needs_rehash(stored)
            assert f"m={passwords.PARAMETERS.memory_cost}" in stored
            assert await authenticate(s, "old", PASSWORD) is not None


@async_test
async def test_a_damaged_stored_hash_matches_nothing(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            s.add(User(name="broken", password_hash="not a hash"))
        async with db() as s:
            assert await authenticate(s, "broken", PASSWORD) is None


# Login sessions


@async_test
async def test_sessions_start_identify_and_end(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            alice = await create_user(s, "alice", PASSWORD)
            first = await start_session(s, alice, DAY)
            second = await start_session(s, alice, DAY)
        assert first != second and len(first) == 43
        async with db() as s:
            assert (await session_user(s, first)).id == alice.id  # type: ignore[union-attr]
            assert await session_user(s, "made-up-value") is None
            assert await session_user(s, "") is None
            assert await session_user(s, "x" * 10_000) is None
            # Only the digest is stored.
            ids = set((await s.scalars(select(LoginSession.id))).all())
            assert ids == {secret_digest(first), secret_digest(second)}
            assert [ls.id for ls in await list_sessions(s, alice)] == [
                session_id(second), session_id(first)
            ]
        async with transaction(db) as s:
            await end_session(s, first)
            await end_session(s, "unknown")  # harmless
        async with db() as s:
            assert await session_user(s, first) is None
            assert await session_user(s, second) is not None


@async_test
async def test_sessions_expire(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            alice = await create_user(s, "alice", PASSWORD)
            live = await start_session(s, alice, DAY)
            gone = await start_session(s, alice, timedelta(seconds=-1))
        async with db() as s:
            assert await session_user(s, gone) is None
            assert [ls.id for ls in await list_sessions(s, alice)] == [session_id(live)]
        async with transaction(db) as s:
            assert await purge_sessions(s) == 1
        async with transaction(db) as s:
            await start_session(s, alice, timedelta(seconds=-1))
            await start_session(s, alice, DAY)  # clears the user's expired ones on the way
        async with db() as s:
            assert len((await s.scalars(select(LoginSession))).all()) == 2


@async_test
async def test_revoking_sessions(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            alice = await create_user(s, "alice", PASSWORD)
            bob = await create_user(s, "bob", PASSWORD)
            here, phone, laptop = [await start_session(s, alice, DAY) for _ in range(3)]
            bobs = await start_session(s, bob, DAY)
        async with transaction(db) as s:
            assert not await revoke_session(s, bob, session_id(phone))  # not his to end
            assert await revoke_session(s, alice, session_id(phone))
            assert not await revoke_session(s, alice, session_id(phone))  # gone already
        async with db() as s:
            assert await session_user(s, phone) is None
            assert await session_user(s, laptop) is not None
        async with transaction(db) as s:
            assert await revoke_other_sessions(s, alice, here) == 1
        async with db() as s:
            assert await session_user(s, laptop) is None
            assert await session_user(s, here) is not None
            assert await session_user(s, bobs) is not None


@async_test
async def test_a_user_has_a_bounded_number_of_sessions(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            alice = await create_user(s, "alice", PASSWORD)
            oldest = await start_session(s, alice, DAY)
        for _ in range(MAX_SESSIONS_PER_USER):
            async with transaction(db) as s:
                newest = await start_session(s, alice, DAY)
        async with db() as s:
            assert len(await list_sessions(s, alice)) == MAX_SESSIONS_PER_USER
            assert await session_user(s, oldest) is None
            assert await session_user(s, newest) is not None


# API tokens


@async_test
async def test_tokens_authenticate_until_revoked(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            alice = await create_user(s, "alice", PASSWORD)
            token = await create_token(s, alice, "  upload   script ")
        assert token.startswith(TOKEN_PREFIX) and len(token) == len(TOKEN_PREFIX) + 43
        async with db() as s:
            (listed,) = await list_tokens(s, alice)
            assert listed.name == "upload script"
            assert listed.token_hash == secret_digest(token)  # the token itself is not stored
            assert listed.last_used_at is None
            user = await token_user(s, token)
            await s.commit()
            assert user is not None and user.id == alice.id
            for wrong in ("", token[:-1], token[:-1] + "A" if token[-1] != "A" else "B",
                          token.replace(TOKEN_PREFIX, "xyz_"), "sdx_" + "x" * 1000):
                assert await token_user(s, wrong) is None
        async with transaction(db) as s:
            assert await revoke_token(s, alice, listed.id)
            assert not await revoke_token(s, alice, listed.id)
        async with db() as s:
            assert await token_user(s, token) is None


@async_test
async def test_token_use_is_noted_at_most_once_a_minute(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            alice = await create_user(s, "alice", PASSWORD)
            token = await create_token(s, alice, "feed reader")

        async def last_used() -> object:
            async with db() as s:
                return await s.scalar(select(ApiToken.last_used_at))

        async def use() -> None:
            async with db() as s:
                assert await token_user(s, token) is not None
                await s.commit()

        await use()
        first = await last_used()
        assert first is not None
        await use()
        assert await last_used() == first  # within the minute: no write
        long_ago = utcnow() - timedelta(minutes=5)
        async with transaction(db) as s:
            await s.execute(update(ApiToken).values(last_used_at=long_ago))
        await use()
        later = await last_used()
        assert later is not None and later != long_ago


@async_test
async def test_tokens_belong_to_their_owner_and_are_bounded(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            alice = await create_user(s, "alice", PASSWORD)
            bob = await create_user(s, "bob", PASSWORD)
            with pytest.raises(AccountError, match="name"):
                await create_token(s, alice, "   ")
            with pytest.raises(AccountError, match="at most"):
                await create_token(s, alice, "x" * 65)
            for n in range(MAX_TOKENS_PER_USER):
                await create_token(s, alice, f"token {n}")
            with pytest.raises(AccountError, match="Revoke one"):
                await create_token(s, alice, "one too many")
            (newest, *_) = await list_tokens(s, alice)
            assert not await revoke_token(s, bob, newest.id)
        async with db() as s:
            assert len(await list_tokens(s, alice)) == MAX_TOKENS_PER_USER
            assert await list_tokens(s, bob) == []


# Disabled accounts


@async_test
async def test_a_disabled_account_is_locked_out_everywhere(tmp_path: Path) -> None:
    async with database(tmp_path) as db:
        async with transaction(db) as s:
            alice = await create_user(s, "alice", PASSWORD)
            cookie = await start_session(s, alice, DAY)
            token = await create_token(s, alice, "script")
        async with transaction(db) as s:
            await disable_user(s, alice)
        async with db() as s:
            assert await session_user(s, cookie) is None
            assert await token_user(s, token) is None
            assert await authenticate(s, "alice", "wrong password") is None
            with pytest.raises(AccountError, match="disabled"):
                await authenticate(s, "alice", PASSWORD)  # told only with the right password
        async with transaction(db) as s:
            with pytest.raises(AccountError, match="disabled"):
                await start_session(s, alice, DAY)
            with pytest.raises(AccountError, match="disabled"):
                await create_token(s, alice, "another")
        # Re-enabled, the kept token works again; the ended session does not come back.
        async with transaction(db) as s:
            await s.execute(update(User).values(disabled_at=None))
        async with db() as s:
            assert await token_user(s, token) is not None
            assert await session_user(s, cookie) is None
