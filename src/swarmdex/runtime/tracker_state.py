"""The whole state a tracker node serves, read from the site's database.

A node starting cold (or catching up after a long outage) loads this once, in the same read
transaction as the change feed's last id (`swarmdex.tracker.feed.FeedFollower.reload`), then
follows the feed from there.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.private import passkeys, ratio
from swarmdex.settings import Settings
from swarmdex.sitecfg import services as sitecfg
from swarmdex.sitemode.services import closed_reason
from swarmdex.takedowns import services as takedowns
from swarmdex.torrents import services as torrents
from swarmdex.tracker.control import Change, Closed, Listed, TakenDown

__all__ = ["whole_state"]


async def whole_state(session: AsyncSession, settings: Settings) -> list[Change]:
    """Standing takedowns (refused in every mode), the site's torrents (served in listed
    and private mode; not read in open mode, which serves every hash), the members with a
    passkey (private mode) and the site mode."""
    state: list[Change] = [TakenDown(v1, v2) for v1, v2 in await takedowns.standing_hashes(session)]
    if settings.serves_listed:
        state += [Listed(v1, v2) for v1, v2 in await torrents.listed_hashes(session)]
    if settings.private:
        state += await passkeys.members(session)
        state += await ratio.standing(session, ratio.ratio_rule(settings),
                                      hit_and_run=ratio.hit_and_run_rule(settings))
    state.append(Closed(closed_reason(await sitecfg.effective(session, settings))))
    return state
