"""A migrated SQLite file per test, as the site's context sees it."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import swarmdex.sitecfg.models  # noqa: F401  (the site_settings table on Base.metadata)
from swarmdex.db import create_engine, database_url, session_factory
from swarmdex.db.migrate import upgrade
from swarmdex.settings import Settings

P = ParamSpec("P")


def async_test(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture
def url(tmp_path: Path) -> str:
    return database_url(tmp_path, None)


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
        await upgrade(engine)
        yield Site(Settings(**settings), session_factory(engine), engine)
    finally:
        await engine.dispose()
