"""Accounts are tested against a real, migrated SQLite file in tmp_path; no mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.db import create_engine, database_url, session_factory
from tests.support.aio import async_test as async_test
from tests.support.databases import configured_url, migrate


@asynccontextmanager
async def database(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a migrated database file in tmp_path; the engine is disposed of after."""
    engine = create_engine(database_url(tmp_path, configured_url()))
    try:
        await migrate(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()
