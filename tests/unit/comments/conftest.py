"""A migrated SQLite file per test, and members of every role with a torrent to talk about."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import swarmdex.comments.models  # noqa: F401  (the comments table on Base.metadata)
from swarmdex.db import create_engine, database_url, session_factory, transaction
from swarmdex.db.models import Category, Role, Torrent, User, swarm_key
from tests.support.aio import async_test as async_test
from tests.support.databases import configured_url, migrate


@pytest.fixture
def url(tmp_path: Path, database_backend: str) -> str:
    """The test's database: each test that uses it runs on SQLite and on PostgreSQL."""
    return database_url(tmp_path, configured_url())


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    users: dict[Role, User]
    torrent: Torrent


@asynccontextmanager
async def world(url: str) -> AsyncIterator[World]:
    """A migrated database with one user per role (named after it) and one torrent."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            users = {role: User(name=role.value, password_hash="x", role=role) for role in Role}
            category = Category(slug="linux", name="Linux")
            info = b"d4:name5:a.isoe"
            v1 = hashlib.sha1(info).digest()
            torrent = Torrent(
                info_hash_v1=v1, swarm_key=swarm_key(v1, None), title="A", name="a.iso",
                category=category, size=1, file_count=1, piece_length=16384, info_dict=info,
            )
            session.add_all([*users.values(), torrent])
        yield World(sessions, users, torrent)
    finally:
        await engine.dispose()
