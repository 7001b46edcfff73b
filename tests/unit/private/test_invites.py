"""Invites on a real migrated database, SQLite and PostgreSQL alike: codes, quotas, expiry,
revoking, one use per code (also when two registrations race for it), digest-only storage,
the audit log and the invite tree. Every `now` is passed in where time matters."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.accounts.services import AccountError, user_by_name
from swarmdex.audit.models import AuditEntry
from swarmdex.db import create_engine, session_factory, transaction
from swarmdex.db.models import Role, User
from swarmdex.moderation import bans
from swarmdex.private import invites
from swarmdex.private.invites import InviteError, NotAllowed, NotFound
from swarmdex.private.models import Invite
from swarmdex.settings import Settings
from tests.support.aio import async_test
from tests.support.databases import migrate

PASSWORD: Final = "correct horse battery staple"
NOW: Final = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def url(backend_url: str) -> str:
    """Each test that takes it runs on SQLite and on PostgreSQL."""
    return backend_url


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    users: dict[Role, User]
    settings: Settings

    async def make(self, role: Role = Role.USER, *, note: str = "",
                   now: datetime = NOW) -> invites.Made:
        return await self.make_by(self.users[role], note=note, now=now)

    async def make_by(self, user: User, *, note: str = "", now: datetime = NOW) -> invites.Made:
        async with transaction(self.sessions) as session:
            return await invites.make(session, user, self.settings, note=note, now=now)

    async def join(self, code: str, name: str, *, now: datetime = NOW) -> User:
        async with self.sessions() as session, session.begin():
            return await invites.join(session, code, name, PASSWORD, now=now)

    async def revoke(self, invite: Invite, by: Role | User, *, now: datetime = NOW) -> Invite:
        user = self.users[by] if isinstance(by, Role) else by
        async with transaction(self.sessions) as session:
            return await invites.revoke(session, invite.id, by=user, now=now)

    async def quota(self, role: Role, now: datetime = NOW) -> invites.Quota:
        async with self.sessions() as session:
            return await invites.quota(session, self.users[role], self.settings, now)

    async def audit(self) -> list[tuple[str, str, str]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(AuditEntry.actor_name, AuditEntry.action, AuditEntry.target_id)
                .order_by(AuditEntry.id))
            return [tuple(row) for row in rows]  # type: ignore[misc]


@asynccontextmanager
async def world(url: str, tmp_path: Path) -> AsyncIterator[World]:
    """A migrated database with one account per role, named after it."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            users = {role: User(name=role.value, password_hash="x", role=role) for role in Role}
            session.add_all(users.values())
        yield World(sessions, users, Settings(data_dir=tmp_path, tracker_mode="private"))
    finally:
        await engine.dispose()


# Codes


def test_a_code_is_140_random_bits_in_groups_of_four() -> None:
    code = invites.new_code()
    groups = code.split("-")
    assert [len(g) for g in groups] == [4] * 7
    assert set(code.replace("-", "")) <= set("0123456789abcdefghjkmnpqrstvwxyz")
    assert len({invites.new_code() for _ in range(1000)}) == 1000


def test_a_code_is_read_the_way_people_type_it() -> None:
    code = invites.new_code()
    digest = hashlib.sha256(code.replace("-", "").encode()).digest()
    for typed in (code, code.upper(), code.replace("-", ""), code.replace("-", " "),
                  f"  {code}\n", code.replace("0", "o").replace("1", "l"),
                  f"https://example.org/register?invite={code}&next=/"):
        assert invites.code_digest(typed) == digest, typed
    for wrong in ("", code[:-1], code + "a", code.replace(code[0], "u"), "x" * 10_000):
        assert invites.code_digest(wrong) is None, wrong


# Making, quotas


@async_test
async def test_only_the_digest_of_a_code_is_stored(url: str, tmp_path: Path) -> None:
    async with world(url, tmp_path) as w:
        made = await w.make(note="for my brother")
        async with w.sessions() as session:
            (row,) = (await session.execute(text("SELECT * FROM invites"))).all()
        assert made.invite.code_digest == invites.code_digest(made.code)
        stored = " ".join(value.hex() if isinstance(value, bytes) else str(value) for value in row)
        for form in (made.code, made.code.replace("-", "")):
            assert form not in stored
        if url.startswith("sqlite"):  # nor anywhere in the file (or its write-ahead log)
            for path in tmp_path.glob("swarmdex.db*"):
                assert made.code.replace("-", "").encode() not in path.read_bytes()
        assert made.invite.expires_at == NOW + timedelta(days=14)


@async_test
async def test_a_member_has_two_invites_out_at_most(url: str, tmp_path: Path) -> None:
    async with world(url, tmp_path) as w:
        first = await w.make()
        await w.make()
        assert (await w.quota(Role.USER)) == invites.Quota(2, 2, may_exceed=False)
        with pytest.raises(NotAllowed, match="You have 2 of your 2 invites out"):
            await w.make()
        # Revoking an open code gives its place back at once.
        await w.revoke(first.invite, Role.USER)
        third = await w.make()
        # An expired code is no longer out: 14 days on, only the used one counts.
        await w.join(third.code, "newcomer", now=NOW + timedelta(days=1))
        assert (await w.quota(Role.USER, NOW + timedelta(days=14))).out == 1
        # A used code stays out for 30 days after its use, then gives its place back.
        later = NOW + timedelta(days=30)
        await w.make(now=later)
        with pytest.raises(NotAllowed):
            await w.make(now=later)
        month_later = NOW + timedelta(days=31, seconds=1)
        assert (await w.quota(Role.USER, month_later)).out == 1
        await w.make(now=month_later)


@async_test
async def test_quotas_follow_the_role(url: str, tmp_path: Path) -> None:
    async with world(url, tmp_path) as w:
        for _ in range(5):
            await w.make(Role.TRUSTED)
        with pytest.raises(NotAllowed):
            await w.make(Role.TRUSTED)
        for _ in range(12):
            await w.make(Role.ADMIN)
        assert (await w.quota(Role.ADMIN)) == invites.Quota(None, 12, may_exceed=True)
        assert (await w.quota(Role.ADMIN)).left is None
        # Moderators have a quota, and may go past it.
        for _ in range(11):
            await w.make(Role.MODERATOR)
        moderator = await w.quota(Role.MODERATOR)
        assert (moderator.limit, moderator.out, moderator.left, moderator.full) == (10, 11, 0, True)


@async_test
async def test_no_invites_for_a_quota_of_zero_or_a_banned_account(url: str, tmp_path: Path) -> None:
    async with world(url, tmp_path) as w:
        w.settings = Settings(data_dir=tmp_path, tracker_mode="private", invites_per_member=0)
        with pytest.raises(NotAllowed, match="cannot invite anyone"):
            await w.make()
        async with transaction(w.sessions) as session:
            await bans.ban_user(session, w.users[Role.MODERATOR], by=w.users[Role.ADMIN],
                                reason="spam", until=None)
        with pytest.raises(NotAllowed, match="banned"):
            await w.make(Role.MODERATOR, now=datetime.now(UTC))
        with pytest.raises(InviteError, match="at most 200"):
            await w.make(Role.ADMIN, note="x" * 201)


# Using


@async_test
async def test_a_code_makes_one_account(url: str, tmp_path: Path) -> None:
    async with world(url, tmp_path) as w:
        made = await w.make(note="bob")
        async with w.sessions() as session:
            assert await invites.usable(session, made.code.upper(), NOW)
        bob = await w.join(made.code.upper().replace("-", " "), "bob")
        async with w.sessions() as session:
            invite = await session.get(Invite, made.invite.id)
            assert invite is not None and invite.used_by_id == bob.id and invite.used_at == NOW
            assert not await invites.usable(session, made.code, NOW)
            assert invites.state(invite, NOW) == "used"
        with pytest.raises(InviteError, match="cannot be used") as used:
            await w.join(made.code, "carol")
        async with w.sessions() as session:
            # The refused registration left no account behind.
            assert await user_by_name(session, "carol") is None
            views = await invites.made_by(session, w.users[Role.USER], NOW)
        assert [(v.state, v.used_by, v.made_by) for v in views] == [("used", "bob", "user")]
        # Wrong, expired and revoked codes get the same answer as a used one.
        expired, revoked = await w.make(Role.ADMIN), await w.make(Role.ADMIN)
        await w.revoke(revoked.invite, Role.ADMIN)
        for code, when in ((invites.new_code(), NOW), ("not a code", NOW),
                           (expired.code, NOW + timedelta(days=14)), (revoked.code, NOW)):
            with pytest.raises(InviteError) as refused:
                await w.join(code, "dave", now=when)
            assert refused.value.message == used.value.message == invites.NOT_USABLE
        # A refused name leaves the code unused.
        fresh = await w.make(Role.ADMIN)
        with pytest.raises(AccountError):
            await w.join(fresh.code, "bob")
        async with w.sessions() as session:
            assert await invites.usable(session, fresh.code, NOW)


async def _claim(w: World, code: str, name: str) -> bool:
    try:
        await w.join(code, name)
    except InviteError:
        return False
    return True


@async_test
async def test_of_two_registrations_racing_for_a_code_exactly_one_wins(
    url: str, tmp_path: Path,
) -> None:
    async with world(url, tmp_path) as w:
        made = await w.make()
        # Side by side, from the start.
        results = await asyncio.gather(_claim(w, made.code, "racer1"), _claim(w, made.code, "racer2"))
        assert sorted(results) == [False, True]
        # One holds the code in an open transaction while the other tries: the second waits
        # for the first (a row lock on PostgreSQL, the write lock on SQLite), then loses.
        second = await w.make()
        async with w.sessions() as session:
            await session.begin()
            first = await invites.join(session, second.code, "holder", PASSWORD, now=NOW)
            other = asyncio.create_task(_claim(w, second.code, "waiter"))
            await asyncio.sleep(1.0)
            assert not other.done()
            await session.commit()
        assert await other is False
        async with w.sessions() as session:
            names = set(await session.scalars(select(User.name).where(
                User.name.in_(["racer1", "racer2", "holder", "waiter"]))))
            used_by = set(await session.scalars(select(Invite.used_by_id)))
        assert len(names & {"racer1", "racer2"}) == 1 and "holder" in names
        assert "waiter" not in names
        assert first.id in used_by and len(used_by) == 2


@async_test
async def test_one_account_is_made_by_one_code_at_most(url: str, tmp_path: Path) -> None:
    async with world(url, tmp_path) as w:
        one, two = await w.make(), await w.make()
        bob = await w.join(one.code, "bob")
        with pytest.raises(IntegrityError):
            async with transaction(w.sessions) as session:
                await session.execute(update(Invite).where(Invite.id == two.invite.id)
                                      .values(used_by_id=bob.id, used_at=NOW))


# Revoking, and the audit log


@async_test
async def test_revoking(url: str, tmp_path: Path) -> None:
    async with world(url, tmp_path) as w:
        mine = await w.make()
        # Another member may not; to them it does not exist.
        with pytest.raises(NotFound):
            await w.revoke(mine.invite, Role.TRUSTED)
        revoked = await w.revoke(mine.invite, Role.USER)
        assert revoked.revoked_at == NOW and invites.state(revoked, NOW) == "revoked"
        assert (await w.revoke(mine.invite, Role.USER)).revoked_at == NOW  # again: no change
        used = await w.make()
        await w.join(used.code, "bob")
        with pytest.raises(InviteError, match="has been used"):
            await w.revoke(used.invite, Role.USER)
        with pytest.raises(InviteError, match="has been used"):
            await w.revoke(used.invite, Role.ADMIN)
        with pytest.raises(NotFound):
            async with transaction(w.sessions) as session:
                await invites.revoke(session, 10**6, by=w.users[Role.ADMIN])
        # Members' own codes are not in the audit log, made, revoked or used.
        assert await w.audit() == []


@async_test
async def test_staff_actions_on_invites_are_audited(url: str, tmp_path: Path) -> None:
    async with world(url, tmp_path) as w:
        members = await w.make(note="for a friend")
        admins = await w.make(Role.ADMIN, note="press")
        for _ in range(10):
            await w.make(Role.MODERATOR)
        past = await w.make(Role.MODERATOR)
        await w.revoke(members.invite, Role.MODERATOR)
        await w.revoke(admins.invite, Role.ADMIN)
        entries = await w.audit()
        assert entries[0] == ("admin", "invite.make", str(admins.invite.id))
        assert [e[1] for e in entries[1:12]] == ["invite.make"] * 11
        assert entries[12:] == [("moderator", "invite.revoke", str(members.invite.id)),
                                ("admin", "invite.revoke", str(admins.invite.id))]
        async with w.sessions() as session:
            made = await session.scalar(select(AuditEntry).where(
                AuditEntry.target_id == str(past.invite.id)))
            revoked = await session.scalar(select(AuditEntry).where(
                AuditEntry.action == "invite.revoke").order_by(AuditEntry.id))
            open_left = await invites.open_invites(session, NOW)
        assert made is not None and made.after is not None and made.after["past_quota"] is True
        assert revoked is not None and revoked.before == {"made_by": "user", "note": "for a friend"}
        assert len(open_left) == 11 and all(v.made_by == "moderator" for v in open_left)


# The tree


@async_test
async def test_the_invite_tree(url: str, tmp_path: Path) -> None:
    async with world(url, tmp_path) as w:
        # admin -> ann -> (cat -> eve), dan; user -> bea
        async def invite(by: User, name: str) -> User:
            made = await w.make_by(by)
            return await w.join(made.code, name)

        ann = await invite(w.users[Role.ADMIN], "ann")
        bea = await invite(w.users[Role.USER], "bea")
        cat = await invite(ann, "cat")
        await invite(ann, "dan")
        await invite(cat, "eve")
        async with w.sessions() as session:
            tree = await invites.tree(session)
        assert (tree.members, tree.invited, tree.roots) == (9, 5, 4)
        shown = [(r.member.name, r.depth, r.opens, r.closes, r.member.invited, r.member.below)
                 for r in tree.rows]
        assert shown == [
            ("user", 0, True, 0, 1, 1),
            ("bea", 1, False, 1, 0, 0),
            ("trusted", 0, False, 0, 0, 0),
            ("moderator", 0, False, 0, 0, 0),
            ("admin", 0, True, 0, 1, 4),
            ("ann", 1, True, 0, 2, 3),
            ("cat", 2, True, 0, 1, 1),
            ("eve", 3, False, 1, 0, 0),
            ("dan", 2, False, 2, 0, 0),
        ]
        assert bea.id != ann.id
        # Every list opened is closed: the page's nesting balances.
        assert sum(r.opens for r in tree.rows) == sum(r.closes for r in tree.rows)
        async with w.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(Invite))
        assert count == 5
