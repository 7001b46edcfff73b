"""Bring a database to the schema this swarmdex expects, with Alembic, from code.

No alembic.ini: the configuration is built here, pointing at the `migrations` directory
inside the package, so an installed swarmdex migrates its database by itself.

An upgrade is one transaction: on failure nothing of it stays. Two processes starting at
once do not both migrate: the second waits for the first and then finds nothing left to do.
On SQLite it waits on a lock file beside the database (`DATABASE.migrate-lock`), taken
before the database is even opened and held until the upgrade has committed, with no time
limit: SQLite's own busy timeout is for ordinary writes, and a migration on a loaded machine
may outlast it. On PostgreSQL it waits on an advisory lock.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import functools
import importlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import IncludeNameFn, NameFilterParentNames, NameFilterType
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from swarmdex.db.engine import BEGIN_MODE, create_engine, display_url
from swarmdex.db.models import Base

__all__ = [
    "MIGRATIONS",
    "MigrationError",
    "alembic_config",
    "all_models",
    "current_revision",
    "head_revision",
    "include_name",
    "upgrade",
    "upgrade_url",
]

log = logging.getLogger("swarmdex.db")

MIGRATIONS: Final = Path(__file__).with_name("migrations")
# How often a process waiting for another one's migration looks again, and when it says so.
LOCK_POLL: Final = 0.05
LOCK_NOTICE: Final = 10.0
# pg_advisory_xact_lock key held while migrating ("swarmdex" in ASCII, as a bigint).
_PG_LOCK: Final = int.from_bytes(b"swarmdex", "big") & 0x7FFF_FFFF_FFFF_FFFF


class MigrationError(RuntimeError):
    """The database cannot be brought to this version's schema; the message says why."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code; `env.py` migrates `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def all_models() -> MetaData:
    """Every table of swarmdex: `Base.metadata` once each package's models are imported.

    The core tables live in `swarmdex.db.models`; a domain package declares its own in its
    `models` module (`swarmdex.comments.models`, ...), found here by that name.
    """
    root = Path(__file__).parent.parent
    for package in sorted(root.iterdir()):
        if (package / "models.py").is_file() or (package / "models" / "__init__.py").is_file():
            importlib.import_module(f"swarmdex.{package.name}.models")
    return Base.metadata


def include_name(connection: Connection) -> IncludeNameFn:
    """Autogenerate's filter for `connection`'s database: leave out what migrations keep
    outside the models: the search index (SQLite's FTS5 virtual tables and their shadow
    tables, PostgreSQL's tsvector table)."""
    unmodelled: set[str] = set()
    if connection.dialect.name == "postgresql":
        unmodelled = {"search_documents"}
    if connection.dialect.name == "sqlite":
        virtual = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
        ).scalars().all()
        unmodelled = {
            name
            for name in inspect(connection).get_table_names()
            if any(name == v or name.startswith(f"{v}_") for v in virtual)
        }

    def include(name: str | None, type_: NameFilterType, parents: NameFilterParentNames) -> bool:
        return not (type_ == "table" and name in unmodelled)

    return include


@functools.cache
def _scripts() -> tuple[str, frozenset[str]]:
    """The head revision and every known one, read from the scripts once per process
    (reading them takes about 50 ms)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    head = scripts.get_current_head()
    assert head is not None, "the migrations have one head"
    return head, frozenset(rev.revision for rev in scripts.walk_revisions())


def head_revision() -> str:
    """The revision this swarmdex's schema is at."""
    return _scripts()[0]


@asynccontextmanager
async def _connect(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection, or a MigrationError that says plainly why there is none."""
    conn = engine.connect()
    try:
        _create_private_sqlite_file(engine.url)
        await conn.start()
    except (DBAPIError, OSError) as exc:
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        url = display_url(engine.url)
        raise MigrationError(f"cannot open the database {url}: {reason}") from None
    try:
        yield conn
    finally:
        await conn.close()


def _sqlite_file(url: URL) -> str | None:
    """The file of a SQLite database; None for other databases and memory ones."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if url.query.get("uri") or url.query.get("mode") == "memory":
        return None
    return database


def _create_private_sqlite_file(url: URL) -> None:
    """A new SQLite database file is readable by its owner only (it holds password hashes);
    SQLite gives its -wal and -shm files the same permissions."""
    database = _sqlite_file(url)
    if database is not None:
        with suppress(FileExistsError):
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@asynccontextmanager
async def _one_migrator(url: URL) -> AsyncIterator[None]:
    """Hold the SQLite database's migration lock (nothing for other databases).

    An flock on its own file: released by the kernel when the holder exits, however it
    exits, so a killed migrator never leaves it stuck. Taken without blocking, and tried
    again every LOCK_POLL seconds, so the event loop keeps running and a cancelled wait
    leaves nothing behind."""
    database = _sqlite_file(url)
    if database is None:
        yield
        return
    try:
        fd = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise MigrationError(f"cannot open the database {display_url(url)}: {exc}") from None
    try:
        waited = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            if waited <= LOCK_NOTICE < waited + LOCK_POLL:
                log.info("waiting for another swarmdex process to finish migrating %s",
                         display_url(url))
            await asyncio.sleep(LOCK_POLL)
            waited += LOCK_POLL
        yield
    finally:
        os.close(fd)  # and with it the lock


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    async with _connect(engine) as conn:
        return await conn.run_sync(_current)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine) -> str | None:
    """Migrate the database to head; nothing happens if it is there already. Returns the
    revision it was at (None: a new database), read under the same lock: of processes
    starting at once, exactly one sees the database new."""
    async with _one_migrator(engine.url), _connect(engine) as conn:
        return await conn.run_sync(_upgrade)


async def upgrade_url(url: str) -> tuple[str | None, str]:
    """Open the database at `url`, migrate it, close it: (revision before, revision after)."""
    engine = create_engine(url)
    try:
        return await upgrade(engine), head_revision()
    finally:
        await engine.dispose()


def _upgrade(connection: Connection) -> str | None:
    head, known = _scripts()
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Rebuilding a table (SQLite's way to alter one) drops the old copy; with foreign
        # keys on, that would cascade into the rows that refer to it. SQLite's procedure:
        # keys off outside the transaction, check them all before commit.
        _sqlite_pragma(connection, "foreign_keys = OFF")
    try:
        # IMMEDIATE: hold SQLite's write lock from the start, so a second process waits
        # here and then reads the new revision instead of migrating from the old one.
        # PostgreSQL waits on an advisory lock of its own below, for as long as it takes.
        if sqlite:
            connection.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
            current = _current(connection)
            if current == head:
                return current  # (without loading env.py and the scripts again)
            if current is not None and current not in known:
                raise MigrationError(
                    f"the database is at schema revision {current!r}, which this version of "
                    "swarmdex does not know: it was written by a newer swarmdex"
                )
            command.upgrade(alembic_config(connection), "head")
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise MigrationError(f"the migration broke foreign keys: {broken[:5]}")
        return current
    finally:
        if sqlite:
            _sqlite_pragma(connection, "foreign_keys = ON")


def _sqlite_pragma(connection: Connection, pragma: str) -> None:
    """Run a PRAGMA outside any transaction (where `foreign_keys` can change)."""
    assert not connection.in_transaction()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()
