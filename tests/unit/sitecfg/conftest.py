"""A migrated SQLite file per test, as the site's context sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import swarmdex.sitecfg.models  # noqa: F401  (the site_settings table on Base.metadata)
from swarmdex.db import create_engine, database_url, session_factory
from swarmdex.settings import Settings
from tests.support.aio import async_test as async_test
from tests.support.databases import configured_url, migrate


@pytest.fixture
def url(tmp_path: Path, database_backend: str) -> str:
    """The test's database: each test that uses it runs on SQLite and on PostgreSQL."""
    return database_url(tmp_path, configured_url())


@dataclass
class Site:
    """What `swarmdex.sitecfg.services` needs of the site's context."""

    settings: Settings
    db: async_sessionmaker[AsyncSession]
    engine: AsyncEngine


@asynccontextmanager
async def site(url: str, **settings: Any) -> AsyncIterator[Site]:
    engine = create_engine(url)
    try:
        await migrate(engine)
        yield Site(Settings(**settings), session_factory(engine), engine)
    finally:
        await engine.dispose()
