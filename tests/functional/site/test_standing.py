"""Private mode: a member sees where they stand with the rules (minimum ratio, hit-and-runs)
on their account page and in GET /api/v1/account, as the tracker would answer them."""

from __future__ import annotations

import html
from datetime import timedelta
from pathlib import Path
from typing import Final

from swarmdex.accounts.services import user_by_name
from swarmdex.db import transaction
from swarmdex.db.models import utcnow
from swarmdex.private import accounting
from swarmdex.torrents import services as torrents
from swarmdex.tracker.ledger import Credit
from tests.unit.search.factory import add_torrent

from .helpers import async_test, running_site

GiB: Final = 1 << 30


@async_test
async def test_refusals_and_torrents_to_seed_are_shown(tmp_path: Path) -> None:
    rules = {"min_ratio": 1.0, "min_ratio_after_gib": 1.0, "hit_and_run_seed_hours": 2.0,
             "hit_and_run_within_days": 7.0, "hit_and_run_limit": 5}
    async with running_site(tmp_path, tracker_mode="private", **rules) as site:
        alice = await site.logged_in("alice")
        token = await site.api_token("alice")
        async with transaction(site.ctx.db) as session:
            await torrents.ensure_default_categories(session)
            left = await add_torrent(session, "Left Behind", size=4 * GiB)
            fresh = await add_torrent(session, "Fresh One", size=GiB)
            user = await user_by_name(session, "alice")
            assert user is not None
            long_ago = (utcnow() - timedelta(days=10)).timestamp()
            await accounting.write(session, {
                (user.id, left.swarm_key): Credit(downloaded=4 * GiB, downloaded_raw=4 * GiB,
                                                  uploaded=GiB, last_seen=long_ago),
                (user.id, fresh.swarm_key): Credit(downloaded_raw=GiB // 2,
                                                   last_seen=utcnow().timestamp()),
            })
        page = html.unescape((await alice.get("/account")).text)
        assert "You cannot start new downloads: your ratio is 0.25" in page
        assert "Left Behind" in page and "a hit-and-run" in page
        assert "Fresh One" in page and "until " in page
        api = (await alice.get("/api/v1/account", headers={"Authorization": f"Bearer {token}"})).json()
        figures = api["figures"]
        assert figures["downloads_refused"].startswith("your ratio is 0.25")
        assert [(o["title"], o["missed"]) for o in figures["to_seed"]] == [
            ("Left Behind", True), ("Fresh One", False)]
