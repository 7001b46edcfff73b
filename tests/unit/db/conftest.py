"""Real databases, a SQLite file in tmp_path or an empty PostgreSQL database, and a way to
write async tests without a plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from swarmdex.db import create_engine, database_url
from swarmdex.db.migrate import upgrade
from tests.support.aio import async_test as async_test
from tests.support.databases import configured_url


@pytest.fixture
def url(tmp_path: Path, empty_database_backend: str) -> str:
    """A database never migrated: each test that uses it runs on SQLite and on PostgreSQL."""
    return database_url(tmp_path, configured_url())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file, for what only SQLite has (files, pragmas)."""
    return database_url(tmp_path, None)


@asynccontextmanager
async def open_engine(url: str, *, migrated: bool = True) -> AsyncIterator[AsyncEngine]:
    """An engine on `url` (migrated to head unless told not to), disposed of afterwards."""
    engine = create_engine(url)
    try:
        if migrated:
            await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
