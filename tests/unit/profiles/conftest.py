"""A migrated SQLite file per test, with members of every role and torrents to count."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import swarmdex.comments.models  # noqa: F401  (the comments table on Base.metadata)
from swarmdex.db import create_engine, database_url, session_factory, transaction
from swarmdex.db.models import Category, Role, Torrent, User, swarm_key, utcnow
from tests.support.aio import async_test as async_test
from tests.support.databases import configured_url, migrate

_serial = itertools.count()


@pytest.fixture
def url(tmp_path: Path, database_backend: str) -> str:
    """The test's database: each test that uses it runs on SQLite and on PostgreSQL."""
    return database_url(tmp_path, configured_url())


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    users: dict[Role, User]
    category: Category

    async def torrent(self, uploader: User | None, *, anonymous: bool = False,
                      deleted: bool = False, name: str = "") -> Torrent:
        """A torrent on the site by `uploader`, made straight in the table."""
        info = b"torrent %d" % next(_serial)  # the table keeps any bytes; each hash differs
        v1 = hashlib.sha1(info).digest()
        async with transaction(self.sessions) as session:
            torrent = Torrent(
                info_hash_v1=v1, swarm_key=swarm_key(v1, None), title=name or "x",
                name=name or "x", category_id=self.category.id,
                uploader_id=uploader.id if uploader else None, anonymous=anonymous,
                size=1, file_count=1, piece_length=16384, info_dict=info,
                deleted_at=utcnow() if deleted else None,
            )
            session.add(torrent)
        return torrent


@asynccontextmanager
async def world(url: str) -> AsyncIterator[World]:
    """A migrated database with one user per role (named after it) and a category."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            users = {role: User(name=role.value, password_hash="x", role=role) for role in Role}
            category = Category(slug="linux", name="Linux")
            session.add_all([*users.values(), category])
        yield World(sessions, users, category)
    finally:
        await engine.dispose()
