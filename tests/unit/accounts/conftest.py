"""Accounts are tested against a real, migrated SQLite file in tmp_path; no mocks."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ParamSpec

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.db import create_engine, database_url, session_factory
from swarmdex.db.migrate import upgrade

P = ParamSpec("P")


def async_test(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an `async def` test on a fresh event loop (fixtures still work)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@asynccontextmanager
async def database(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a migrated database file in tmp_path; the engine is disposed of after."""
    engine = create_engine(database_url(tmp_path, None))
    try:
        await upgrade(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()
