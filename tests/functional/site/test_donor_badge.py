"""An admin marks an account as a donor; its owner chooses whether the profile shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmdex.audit import services as audit
from swarmdex.db.models import Role
from tests.functional.site.helpers import async_test, post_form, running_site


@async_test
async def test_the_donor_badge_needs_an_admin_and_the_owner(tmp_path: Path) -> None:
    async with running_site(tmp_path) as site:
        alice = await site.logged_in("alice")
        admin = await site.logged_in("root", role=Role.ADMIN)

        opted_in = await post_form(alice, "/account/profile", show_donor_badge="1")
        assert opted_in.status_code == 303
        assert "Has helped pay for this site" not in (await alice.get("/u/alice")).text

        marked = await post_form(admin, "/admin/donations/donors", account="alice", donor="yes")
        assert marked.status_code == 303
        assert "Has helped pay for this site" in (await alice.get("/u/alice")).text

        await post_form(alice, "/account/profile", show_donor_badge="")
        assert "Has helped pay for this site" not in (await alice.get("/u/alice")).text

        unknown = await post_form(admin, "/admin/donations/donors", account="nobody", donor="yes")
        assert unknown.status_code == 400 and "no account called" in unknown.text
        async with site.ctx.db() as session:
            (entry,) = (await audit.entries(session, audit.Filters(action="user.donor"))).entries
        assert (entry.actor_name, entry.target_id, entry.after) == ("root", "alice", {"is_donor": True})


@pytest.mark.parametrize("role", [Role.USER, Role.TRUSTED, Role.MODERATOR])
@async_test
async def test_only_admins_mark_donors(tmp_path: Path, role: Role) -> None:
    async with running_site(tmp_path) as site:
        await site.create_user("alice")
        client = await site.logged_in("someone", role=role)
        refused = await post_form(client, "/admin/donations/donors", account="alice", donor="yes")
        assert refused.status_code == 403
