"""Catalogue rows for search tests, written straight to the tables (no upload service):
a migrated SQLite database, categories, torrents with files and tags, indexed for search."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.bittorrent.bencode import encode
from swarmdex.db.engine import create_engine, database_url, session_factory, transaction
from swarmdex.db.models import Category, Tag, Torrent, TorrentFile, User
from swarmdex.search.services import index_torrent
from tests.support.aio import async_test as async_test
from tests.support.databases import configured_url, migrate

EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)
CATEGORIES: Final = (("linux", "Linux"), ("films", "Films"), ("music", "Music"))
_serial = itertools.count(1)


@asynccontextmanager
async def catalogue(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a fresh migrated SQLite database with the CATEGORIES."""
    engine = create_engine(database_url(tmp_path, configured_url()))
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            session.add_all(
                Category(slug=slug, name=name, position=i) for i, (slug, name) in enumerate(CATEGORIES)
            )
        yield sessions
    finally:
        await engine.dispose()


def info_dict(name: str, size: int) -> bytes:
    """A small valid single-file info dictionary (so downloads and magnets can be built)."""
    pieces = max(1, -(-size // 16384))
    return encode({b"length": size, b"name": name.encode(), b"piece length": 16384,
                   b"pieces": bytes(20) * min(pieces, 4)})


async def add_torrent(
    session: AsyncSession,
    title: str,
    *,
    name: str | None = None,
    category: str = "linux",
    files: Sequence[str] = (),
    tags: Sequence[str] = (),
    size: int = 1000,
    created_at: datetime | None = None,
    uploader: User | None = None,
    anonymous: bool = False,
    v2_only: bool = False,
) -> Torrent:
    """A torrent on the site, indexed for search. Each call gets distinct hashes and, unless
    given, a creation time one minute after the previous one."""
    serial = next(_serial)
    name = name or title
    data = info_dict(name, size)
    v1 = None if v2_only else hashlib.sha1(data + str(serial).encode()).digest()
    v2 = hashlib.sha256(data + str(serial).encode()).digest() if v2_only else None
    category_id = await session.scalar(select(Category.id).where(Category.slug == category))
    assert category_id is not None, category
    tag_rows = []
    for tag in tags:
        row = await session.scalar(select(Tag).where(Tag.name == tag))
        if row is None:
            row = Tag(name=tag)
            session.add(row)
        tag_rows.append(row)
    torrent = Torrent(
        info_hash_v1=v1,
        info_hash_v2=v2,
        swarm_key=v1 if v1 is not None else v2[:20] if v2 else b"",
        title=title,
        name=name,
        category_id=category_id,
        uploader=uploader,
        anonymous=anonymous,
        size=size,
        file_count=max(1, len(files)),
        piece_length=16384,
        info_dict=data,
        original_trackers=[],
        created_at=created_at or EPOCH + timedelta(minutes=serial),
        files=[TorrentFile(position=i, path=path, size=1) for i, path in enumerate(files)],
        tags=tag_rows,
    )
    session.add(torrent)
    await index_torrent(session, torrent)
    return torrent
