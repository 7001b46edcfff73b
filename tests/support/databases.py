"""The database a test runs on: SQLite in its tmp_path, or a PostgreSQL database of its own.

Suites that must hold on both databases ask for the `database_backend` fixture (tests/conftest.py)
in an autouse fixture of their conftest, which runs each of their tests once per backend.
Helpers that open a database call `configured_url()` where they would pass `database_url`
its configured URL: None (the SQLite file in tmp_path) unless the test runs on PostgreSQL.

On PostgreSQL every test gets a new database, copied from a template migrated once per
session (`CREATE DATABASE ... TEMPLATE`), and dropped when the test ends. On SQLite,
`migrate` does the same with a file: a new database is a copy of one migrated once per
session (running every migration takes about 350 ms; a copy, a millisecond). Tests of the
migrations themselves call `upgrade` on an empty database instead.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Final

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from swarmdex.db.engine import DATABASE_FILE, create_engine, database_url
from swarmdex.db.migrate import upgrade
from tests.support.postgres_server import PostgresServer

__all__ = ["BACKENDS", "PostgresDatabases", "configured_url", "migrate", "use"]

BACKENDS: Final = ("sqlite", "postgresql")
TEMPLATE: Final = "swarmdex_template"

_current: str | None = None
_sqlite_template: Path | None = None


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


async def migrate(engine: AsyncEngine) -> None:
    """Bring the test's database to the current schema, as `swarmdex serve` would: a SQLite
    file that does not exist yet (or is empty) is first copied from a database migrated
    once per session, then `upgrade` finds it at head (and checks that it is)."""
    path = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if path and path != ":memory:" and (not os.path.exists(path) or not os.path.getsize(path)):
        shutil.copyfile(await _migrated_sqlite(), path)
        os.chmod(path, 0o600)  # as swarmdex makes it: the file holds password hashes
    await upgrade(engine)


async def _migrated_sqlite() -> Path:
    global _sqlite_template
    if _sqlite_template is None:
        directory = Path(tempfile.mkdtemp(prefix="swarmdex-sqlite-template-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        engine = create_engine(database_url(directory, None))
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        template = directory / DATABASE_FILE
        # Everything into the main file: only that file is copied.
        with sqlite3.connect(template) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        _sqlite_template = template
    return _sqlite_template
