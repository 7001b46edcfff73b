"""Real SQLite files in tmp_path, and a way to write async tests without a plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from swarmdex.db import create_engine, database_url
from swarmdex.db.migrate import upgrade
from tests.support.aio import async_test as async_test


@pytest.fixture
def url(tmp_path: Path) -> str:
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
