"""Something on the site to act on, made through the services (no page, no rate limit)."""

from __future__ import annotations

from pathlib import Path

from swarmdex.db import transaction
from swarmdex.db.models import Torrent, User
from swarmdex.torrents import services as torrents
from tests.unit.torrents.support import TorrentFactory

from .helpers import Site

__all__ = ["listed_torrent"]


async def listed_torrent(site: Site, tmp_path: Path, uploader: User, title: str) -> Torrent:
    """A new torrent by `uploader`, in the default "linux" category."""
    async with transaction(site.ctx.db) as session:
        await torrents.ensure_default_categories(session)
    make = TorrentFactory(tmp_path / "torrents")
    async with transaction(site.ctx.db) as session:
        return await torrents.upload(session, data=make(), uploader=uploader,
                                     category_slug="linux", title=title, max_size=1 << 20)
