"""Set the site mode and the notice (admin page and CLI), and answer the tracker's question
"is the site closed?" from the in-memory copy.

Values live in `site_settings` under `sitecfg.services.KEY_MODE`, `KEY_NOTICE` and
`KEY_NOTICE_LEVEL`; a row exists only while it differs from the default (open, no notice).
Callers in a running site call `sitecfg.services.remember` with the returned config once the
transaction has committed; other processes (and the CLI's changes) are picked up within
`sitecfg.services.REFRESH_SECONDS`. The tracker is told through its port (`Closed`) in the
same transaction.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.models import User
from swarmdex.markup import plain_text
from swarmdex.settings import Settings
from swarmdex.sitecfg import services as sitecfg
from swarmdex.sitecfg.services import KEY_MODE, KEY_NOTICE, KEY_NOTICE_LEVEL, SiteConfig
from swarmdex.sitemode.rules import check_level, check_mode, check_notice, tracker_notice
from swarmdex.tracker.control import Closed, tell

__all__ = ["clear_notice", "closed_reason", "set_mode", "set_notice"]

_DEFAULTS = {KEY_MODE: "open", KEY_NOTICE: "", KEY_NOTICE_LEVEL: "info"}


async def _put(session: AsyncSession, key: str, value: str) -> None:
    await sitecfg.store_override(session, key, value, _DEFAULTS[key])


async def set_mode(session: AsyncSession, settings: Settings, mode: str, *,
                   notice: str | None = None, level: str | None = None,
                   by: User | None = None) -> SiteConfig:
    """Put the site in `mode` (open, read-only, closed), with a new notice if given.
    Raises ModeError, changing nothing, on an unusable value."""
    wanted = check_mode(mode)
    text = None if notice is None else check_notice(notice)
    wanted_level = None if level is None else check_level(level)
    before = await sitecfg.effective(session, settings)
    await _put(session, KEY_MODE, wanted)
    if text is not None:
        await _put(session, KEY_NOTICE, text)
    if wanted_level is not None:
        await _put(session, KEY_NOTICE_LEVEL, wanted_level)
    after = await sitecfg.effective(session, settings)
    await sitecfg.record_change(session, by, "settings.mode", before, after,
                                ("mode", "notice", "notice_level"))
    tell(session, Closed(closed_reason(after)))
    return after


async def set_notice(session: AsyncSession, settings: Settings, text: str, *,
                     level: str = "info", by: User | None = None) -> SiteConfig:
    """Show `text` (Markdown) in a banner on every page; an empty text removes it."""
    wanted = check_notice(text)
    wanted_level = check_level(level)
    before = await sitecfg.effective(session, settings)
    await _put(session, KEY_NOTICE, wanted)
    await _put(session, KEY_NOTICE_LEVEL, wanted_level if wanted else "info")
    after = await sitecfg.effective(session, settings)
    await sitecfg.record_change(session, by, "settings.notice", before, after, ("notice", "notice_level"))
    tell(session, Closed(closed_reason(after)))  # while closed, the notice is the reason
    return after


async def clear_notice(session: AsyncSession, settings: Settings, *,
                       by: User | None = None) -> SiteConfig:
    """Remove the banner."""
    return await set_notice(session, settings, "", by=by)


def closed_reason(config: SiteConfig) -> str | None:
    """The tracker's `failure reason` while the site is closed, else None. The tracker
    holds it as an attribute, set through its port (`Closed`) whenever the mode or the
    notice changes, so an announce costs one attribute read, not a lookup."""
    if config.mode != "closed":
        return None
    return tracker_notice(plain_text(config.notice))
