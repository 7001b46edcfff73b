"""Real SQLite files in tmp_path, and a way to write async tests without a plugin."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ParamSpec

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from swarmdex.db import create_engine, database_url
from swarmdex.db.migrate import upgrade

P = ParamSpec("P")


def async_test(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an `async def` test on a fresh event loop (fixtures still work)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


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
