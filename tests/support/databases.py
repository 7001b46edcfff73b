"""The database a test runs on: SQLite in its tmp_path, or a PostgreSQL database of its own.

Suites that must hold on both databases ask for the `database_backend` fixture (tests/conftest.py)
in an autouse fixture of their conftest, which runs each of their tests once per backend.
Helpers that open a database call `configured_url()` where they would pass `database_url`
its configured URL: None (the SQLite file in tmp_path) unless the test runs on PostgreSQL.

On PostgreSQL every test gets a new database, copied from a template migrated once per
session (`CREATE DATABASE ... TEMPLATE`), and dropped when the test ends.
"""

from __future__ import annotations

import asyncio
from typing import Final

import asyncpg

from swarmdex.db.engine import create_engine
from swarmdex.db.migrate import upgrade
from tests.support.postgres_server import PostgresServer

__all__ = ["BACKENDS", "PostgresDatabases", "configured_url", "use"]

BACKENDS: Final = ("sqlite", "postgresql")
TEMPLATE: Final = "swarmdex_template"

_current: str | None = None


def configured_url() -> str | None:
    """The database URL the running test is on; None for SQLite in its tmp_path."""
    return _current


def use(url: str | None) -> None:
    global _current
    _current = url


class PostgresDatabases:
    """New databases on one cluster, each a copy of a migrated template."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self._template_ready = False

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.server.url(driver="postgresql"))

    async def create(self, *, migrated: bool = True) -> str:
        if migrated and not self._template_ready:
            await self._make_template()
        name = self.server.new_database_name()
        admin = await self._admin()
        try:
            template = TEMPLATE if migrated else "template0"
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await admin.close()
        return self.server.url(name)

    async def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def _make_template(self) -> None:
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE template0')
        finally:
            await admin.close()
        engine = create_engine(self.server.url(TEMPLATE))
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        self._template_ready = True

    def create_sync(self, *, migrated: bool = True) -> str:
        return asyncio.run(self.create(migrated=migrated))

    def drop_sync(self, url: str) -> None:
        asyncio.run(self.drop(url))
