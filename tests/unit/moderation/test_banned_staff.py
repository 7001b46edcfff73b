"""A ban binds staff too, in the services themselves (pages, API and command line alike):
lifting a ban obeys the rank rule of banning, and a banned moderator or admin has no powers."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmdex.db import transaction
from swarmdex.db.models import Role
from swarmdex.moderation import bans, services
from swarmdex.moderation.services import NotAllowed
from tests.unit.torrents.support import add_user, async_test, database

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")


@async_test
async def test_lifting_a_ban_obeys_the_rank_rule_of_banning(tmp_path: Path) -> None:
    async with database(tmp_path) as sessions:
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        other_mod = await add_user(sessions, "mod2", Role.MODERATOR)
        admin = await add_user(sessions, "root", Role.ADMIN)
        async with transaction(sessions) as session:
            await bans.ban_user(session, mod, by=admin, reason="abuse", until=None)
        # A peer's ban: a moderator cannot ban another moderator, so cannot lift its ban.
        with pytest.raises(NotAllowed, match="below yours"):
            async with transaction(sessions) as session:
                await bans.lift_ban(session, mod, by=other_mod)
        # Nor its own.
        with pytest.raises(NotAllowed):
            async with transaction(sessions) as session:
                await bans.lift_ban(session, mod, by=mod)
        async with sessions() as session:
            assert await bans.active_ban(session, mod.id) is not None
        async with transaction(sessions) as session:
            await bans.lift_ban(session, mod, by=admin)
        async with sessions() as session:
            assert await bans.active_ban(session, mod.id) is None


@async_test
async def test_a_banned_moderator_has_no_staff_powers(tmp_path: Path) -> None:
    async with database(tmp_path) as sessions:
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        admin = await add_user(sessions, "root", Role.ADMIN)
        other_admin = await add_user(sessions, "root2", Role.ADMIN)
        eve = await add_user(sessions, "eve")
        async with transaction(sessions) as session:
            await bans.ban_user(session, mod, by=admin, reason="abuse", until=None)
            # An admin banned by hand (no service lets an admin ban an admin).
            session.add(bans.UserBan(user_id=other_admin.id, reason="abuse", banned_by_id=admin.id))
        attempts = (
            lambda session: bans.ban_user(session, eve, by=mod, reason="spite", until=None),
            lambda session: bans.add_network_ban(session, "198.51.100.0/24", by=other_admin),
            lambda session: bans.change_role(session, eve, Role.MODERATOR, by=other_admin),
            lambda session: services.unhide(session, 1, by=mod),
            lambda session: services.resolve_comment(session, 1, by=mod, resolution="dismiss"),
            lambda session: services.resolve_torrent(session, 1, by=mod, resolution="dismiss"),
        )
        for act in attempts:
            with pytest.raises(NotAllowed, match="banned"):
                async with transaction(sessions) as session:
                    await act(session)
        async with sessions() as session:
            assert await bans.active_ban(session, eve.id) is None
            assert (await bans.network_bans(session)) == []
