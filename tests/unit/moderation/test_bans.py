"""Bans and roles on a real, migrated SQLite database: who may ban whom, when a ban is in
force, address ranges, and the audit log of each change."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import pytest

from swarmdex.audit import services as audit
from swarmdex.db import transaction
from swarmdex.db.models import Role, utcnow
from swarmdex.moderation import bans
from swarmdex.moderation.services import ModerationError, NotAllowed, NotFound
from tests.unit.torrents.support import add_user, async_test, database

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")


@async_test
async def test_a_ban_is_in_force_until_it_ends_or_is_lifted(tmp_path: Path) -> None:
    async with database(tmp_path) as sessions:
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        admin = await add_user(sessions, "root", Role.ADMIN)
        eve = await add_user(sessions, "eve")
        now = utcnow()
        async with transaction(sessions) as session:
            ban = await bans.ban_user(session, eve, by=mod, reason="spam", until=now + timedelta(days=1))
        async with sessions() as session:
            assert (await bans.active_ban(session, eve.id)) is not None
            assert await bans.active_ban(session, eve.id, now + timedelta(days=2)) is None
            assert [name for _, name in await bans.active_bans(session)] == ["eve"]
        # A new ban replaces the current one; lifting ends it.
        async with transaction(sessions) as session:
            await bans.ban_user(session, eve, by=admin, reason="again", until=None)
        async with sessions() as session:
            current = await bans.active_ban(session, eve.id, now + timedelta(days=400))
            assert current is not None and current.reason == "again" and current.id != ban.id
        async with transaction(sessions) as session:
            await bans.lift_ban(session, eve, by=mod, note="appealed")
        async with sessions() as session:
            assert await bans.active_ban(session, eve.id) is None
            entries = (await audit.entries(session, audit.Filters(target_type="user"))).entries
        assert [(e.action, e.actor_name) for e in reversed(entries)] == [
            ("user.ban", "mod"), ("user.ban", "root"), ("user.unban", "mod")]
        assert entries[1].before == {"reason": "spam", "until": (now + timedelta(days=1)).isoformat()}
        assert entries[0].note == "appealed"
        with pytest.raises(NotFound):
            async with transaction(sessions) as session:
                await bans.lift_ban(session, eve, by=mod)


@async_test
async def test_only_staff_ban_and_only_below_their_role(tmp_path: Path) -> None:
    async with database(tmp_path) as sessions:
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        other_mod = await add_user(sessions, "mod2", Role.MODERATOR)
        admin = await add_user(sessions, "root", Role.ADMIN)
        trusted = await add_user(sessions, "trusty", Role.TRUSTED)
        for by, target in ((trusted, mod), (mod, other_mod), (mod, admin), (mod, mod)):
            with pytest.raises(NotAllowed):
                async with transaction(sessions) as session:
                    await bans.ban_user(session, target, by=by, reason="x", until=None)
        for reason, until, message in (("", None, "reason"),
                                       ("x", utcnow() - timedelta(seconds=1), "future")):
            with pytest.raises(ModerationError, match=message):
                async with transaction(sessions) as session:
                    await bans.ban_user(session, trusted, by=mod, reason=reason, until=until)


@async_test
async def test_network_bans_match_ipv4_and_ipv6(tmp_path: Path) -> None:
    async with database(tmp_path) as sessions:
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        admin = await add_user(sessions, "root", Role.ADMIN)
        with pytest.raises(NotAllowed):
            async with transaction(sessions) as session:
                await bans.add_network_ban(session, "203.0.113.0/24", by=mod)
        async with transaction(sessions) as session:
            v4 = await bans.add_network_ban(session, "203.0.113.77/24", by=admin, reason="abuse")
            await bans.add_network_ban(session, "2001:db8::/32", by=admin)
        assert v4.network == "203.0.113.0/24"  # host bits cleared
        for text, message in (("203.0.113.0/24", "already"), ("nonsense", "like"), ("0.0.0.0/0", "every")):
            with pytest.raises(ModerationError, match=message):
                async with transaction(sessions) as session:
                    await bans.add_network_ban(session, text, by=admin)
        async with sessions() as session:
            for address, banned in (("203.0.113.5", True), ("::ffff:203.0.113.5", True),
                                    ("2001:db8:1::9", True), ("198.51.100.1", False),
                                    ("2001:db9::1", False)):
                found = await bans.banned_network(session, ipaddress.ip_address(address))
                assert (found is not None) == banned, address
        async with transaction(sessions) as session:
            await bans.remove_network_ban(session, v4.id, by=admin)
        async with sessions() as session:
            assert await bans.banned_network(session, ipaddress.ip_address("203.0.113.5")) is None
            actions = [e.action for e in (await audit.entries(session)).entries]
        assert actions == ["network.unban", "network.ban", "network.ban"]


@async_test
async def test_roles_change_by_admins_only_and_are_logged(tmp_path: Path) -> None:
    async with database(tmp_path) as sessions:
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        admin = await add_user(sessions, "root", Role.ADMIN)
        alice = await add_user(sessions, "Alice")
        with pytest.raises(NotAllowed):
            async with transaction(sessions) as session:
                await bans.change_role(session, alice, Role.TRUSTED, by=mod)
        with pytest.raises(NotAllowed, match="own role"):
            async with transaction(sessions) as session:
                await bans.change_role(session, admin, Role.USER, by=admin)
        async with transaction(sessions) as session:
            target = await session.get(type(alice), alice.id)
            assert target is not None
            assert await bans.change_role(session, target, Role.TRUSTED, by=admin, note="good uploads")
            assert not await bans.change_role(session, target, Role.TRUSTED, by=admin)
        async with sessions() as session:
            assert [u.name for u in await bans.find_users(session, "ALI")] == ["Alice"]
            (entry,) = (await audit.entries(session, audit.Filters(action="user.role"))).entries
        assert (entry.before, entry.after, entry.note) == (
            {"role": "user"}, {"role": "trusted", "name": "Alice"}, "good uploads")
