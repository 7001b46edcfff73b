"""Fixtures every suite may use: the databases a test can run on (see tests/support/databases)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmdex.db.engine import database_url
from tests.support import databases
from tests.support.postgres_server import postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[databases.PostgresDatabases]:
    """A throwaway PostgreSQL cluster for the session, started when a test first needs it."""
    with postgres_server() as server:
        yield databases.PostgresDatabases(server)


@pytest.fixture(params=databases.BACKENDS)
def database_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once on SQLite and once on a PostgreSQL database of its own, migrated;
    helpers find the URL with `databases.configured_url()`."""
    yield from _on(request, migrated=True)


@pytest.fixture(params=databases.BACKENDS)
def empty_database_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """As `database_backend`, with the PostgreSQL database empty (for migration tests)."""
    yield from _on(request, migrated=False)


def _on(request: pytest.FixtureRequest, *, migrated: bool) -> Iterator[str]:
    backend: str = request.param
    if backend == "sqlite":
        databases.use(None)
        yield backend
        return
    pg: databases.PostgresDatabases = request.getfixturevalue("postgres")
    url = pg.create_sync(migrated=migrated)
    databases.use(url)
    try:
        yield backend
    finally:
        databases.use(None)
        pg.drop_sync(url)


@pytest.fixture
def backend_url(tmp_path: Path, database_backend: str) -> str:
    """The URL of the test's database, once per backend: SQLite in tmp_path, or PostgreSQL
    (a database of the test's own, migrated)."""
    return database_url(tmp_path, databases.configured_url())
