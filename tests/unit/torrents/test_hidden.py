"""A torrent a moderator hid stays hidden: its uploader cannot put it back by uploading it again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from swarmdex.comments import services as comments
from swarmdex.db import transaction
from swarmdex.db.models import Role, Torrent
from swarmdex.moderation import services as moderation
from swarmdex.torrents import services
from swarmdex.torrents.services import UploadError

from .support import TorrentFactory, add_user, async_test, database

# Each test runs on SQLite and on PostgreSQL (tests/support/databases.py).
pytestmark = pytest.mark.usefixtures("database_backend")

LIMIT = 1 << 20


@async_test
async def test_a_hidden_torrent_is_refused_on_upload_and_keeps_its_comments(tmp_path: Path) -> None:
    data = TorrentFactory(tmp_path / "t")({"orchid/a.bin": 20_000})
    async with database(tmp_path) as sessions:
        uploader = await add_user(sessions, "uploader")
        mod = await add_user(sessions, "mod", Role.MODERATOR)
        async with transaction(sessions) as session:
            torrent = await services.upload(session, data=data, uploader=uploader,
                                            category_slug="linux", title="Orchid", max_size=LIMIT)
            await comments.add(session, torrent=torrent, author=mod, body="Looking into this.")
        async with transaction(sessions) as session:
            await moderation.file_report(session, target_type="torrent", target_id=torrent.id,
                                         reason="malware", text="bad")
            await moderation.resolve_torrent(session, torrent.id, by=mod, resolution="hide")

        with pytest.raises(UploadError) as refused:
            async with transaction(sessions) as session:
                await services.upload(session, data=data, uploader=uploader,
                                      category_slug="linux", title="Orchid again", max_size=LIMIT)
        assert refused.value.message == (
            "This torrent was hidden by the site's moderators and cannot be uploaded again "
            "while they look into it."
        )
        async with sessions() as session:
            rows = list(await session.scalars(select(Torrent)))
            assert [(row.id, row.title) for row in rows] == [(torrent.id, "Orchid")]
            assert [c.body for c in await comments.for_torrent(session, torrent.id)] == [
                "Looking into this."]

        async with transaction(sessions) as session:
            back = await moderation.unhide(session, torrent.id, by=mod)
        assert back.deleted_at is None

