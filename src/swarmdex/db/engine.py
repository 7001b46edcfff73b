"""Engines and sessions: one set-up for SQLite (the default) and PostgreSQL.

On PostgreSQL, `transaction()` takes an advisory lock first, so write transactions run one
at a time there as they do on SQLite (see `transaction`); reads are READ COMMITTED.

SQLite is configured for a busy site on one machine:

- WAL journal: readers never block the writer nor each other.
- `synchronous=NORMAL`: safe with WAL (a power cut may lose the last commits, never the file).
- `foreign_keys=ON`: SQLite ignores foreign keys otherwise.
- `busy_timeout`: a writer waits for the write lock instead of failing at once.
- `cache_size`: a small page cache per pooled connection, so memory stays flat.
- SQLAlchemy, not the sqlite3 module, starts transactions, so a transaction really is one:
  its reads are consistent, DDL is transactional (a failed migration leaves nothing behind)
  and savepoints work. `transaction()` starts with `BEGIN IMMEDIATE`, taking the write lock
  up front, so two writers queue on `busy_timeout` rather than one failing half-way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    InvalidRequestError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = [
    "DATABASE_FILE",
    "DatabaseConfigError",
    "create_engine",
    "database_unavailable",
    "database_url",
    "display_url",
    "session_factory",
    "transaction",
]

DATABASE_FILE: Final = "swarmdex.db"
BUSY_TIMEOUT_MS: Final = 10_000
# SQLite file databases: connections kept open (each has its own thread in aiosqlite).
SQLITE_POOL_SIZE: Final = 5
SQLITE_MAX_OVERFLOW: Final = 10
# Page cache per SQLite connection, KiB. SQLite's default, 2 MiB, fills slowly as pages
# are read, so a long-running server's memory crept up by ~2 MiB per pooled connection
# over hours; the OS caches the file for every connection anyway. Over 200k torrents,
# pages and searches timed the same with 256 KiB, 1 MiB and the default
# (bench/site_catalogue.py --count 200000).
SQLITE_CACHE_KIB: Final = 512
# Execution option read when a transaction begins: "IMMEDIATE" takes the write lock.
BEGIN_MODE: Final = "swarmdex_begin"
# PostgreSQL advisory lock standing for SQLite's write lock (see `transaction`).
PG_WRITE_LOCK: Final = int.from_bytes(b"swmdwrit", "big")

# Drivers for URLs that name only the database: swarmdex runs on asyncio.
_ASYNC_DRIVERS: Final = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


class DatabaseConfigError(ValueError):
    """A database URL swarmdex cannot use, with a message fit for the operator."""


def database_url(settings_data_dir: Path, configured: str | None) -> str:
    """The SQLAlchemy URL to use: `configured`, else SQLite in DATA_DIR/swarmdex.db.

    A URL without a driver gets the asyncio one (`postgresql://` means asyncpg,
    `sqlite://` aiosqlite).
    """
    if configured:
        try:
            url = make_url(configured)
        except ArgumentError:
            raise DatabaseConfigError("database_url is not a database URL") from None
        url = url.set(drivername=_ASYNC_DRIVERS.get(url.drivername, url.drivername))
    else:
        path = (settings_data_dir / DATABASE_FILE).absolute()
        url = URL.create("sqlite+aiosqlite", database=str(path))
    return url.render_as_string(hide_password=False)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database does not answer now (rather than that a statement is
    wrong): a connection refused, reset or lost, a server starting or shutting down, SQLite's
    write lock held past the busy timeout."""
    if isinstance(exc, ConnectionError):
        return True  # raised as it is by the driver while connecting
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    # PostgreSQL: class 08 (connection exception), 53 (insufficient resources, such as too
    # many connections), 57P (operator intervention: shutting down, starting up), 55P03
    # (a lock not granted within the busy timeout, as SQLite's "database is locked").
    code = getattr(exc.orig, "sqlstate", None)
    if code is not None:
        return str(code).startswith(("08", "53", "57P", "55P03"))
    # SQLite says it in words.
    return isinstance(exc, OperationalError) and any(
        words in str(exc.orig) for words in ("database is locked", "unable to open", "disk I/O")
    )


def display_url(url: str | URL) -> str:
    """`url` fit for a message or a log: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def create_engine(url: str | URL, *, echo: bool = False) -> AsyncEngine:
    """An engine for SQLite (aiosqlite) or PostgreSQL (asyncpg). Dispose of it when done."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite_engine(parsed, echo=echo)
        if backend == "postgresql":
            return _postgresql_engine(parsed, echo=echo)
    except ModuleNotFoundError as exc:
        raise DatabaseConfigError(
            f"the {parsed.drivername} database driver is not installed "
            f"(pip install {exc.name or parsed.get_driver_name()})"
        ) from None
    except (NoSuchModuleError, InvalidRequestError) as exc:
        raise DatabaseConfigError(f"cannot use {parsed.drivername}: {exc}") from None
    raise DatabaseConfigError(f"unsupported database {backend!r}: use SQLite or PostgreSQL")


def _sqlite_engine(url: URL, *, echo: bool) -> AsyncEngine:
    options: dict[str, Any] = {}
    if url.database not in (None, "", ":memory:") and url.query.get("mode") != "memory":
        options |= {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_MAX_OVERFLOW}
    # (A memory database gets the dialect's StaticPool: one connection, one database.)
    engine = create_async_engine(url, echo=echo, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # No implicit BEGIN from the driver: `_begin` below starts every transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL may have to wait for another process.
            for pragma in (
                f"busy_timeout = {BUSY_TIMEOUT_MS}",
                "journal_mode = WAL",
                "synchronous = NORMAL",
                "foreign_keys = ON",
                f"cache_size = -{SQLITE_CACHE_KIB}",
            ):
                cursor.execute(f"PRAGMA {pragma}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        immediate = options.get(BEGIN_MODE) == "IMMEDIATE"
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgresql_engine(url: URL, *, echo: bool) -> AsyncEngine:
    # A restarted server leaves dead connections in the pool: test before use.
    engine = create_async_engine(url, echo=echo, pool_pre_ping=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        if connection.get_execution_options().get(BEGIN_MODE) == "IMMEDIATE":
            # As SQLite's BEGIN IMMEDIATE: one write transaction at a time, each seeing what
            # the previous one committed (READ COMMITTED, statements run after the lock),
            # and waiting for its turn no longer than SQLite's busy timeout.
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {BUSY_TIMEOUT_MS}")
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (no reload per attribute)."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in one write transaction: committed when the block ends normally, rolled
    back on any exception (cancellation included), so nothing half-written stays.

    Do not commit inside the block. The transaction holds the write lock from its start, so
    a read-then-write cannot be overtaken by another writer: SQLite's own lock, and on
    PostgreSQL a transaction-scoped advisory lock that every `transaction` takes first
    (write transactions run one at a time on both, as the services were written for;
    reads never wait for it).
    """
    async with sessions() as session, session.begin():
        await session.connection(execution_options={BEGIN_MODE: "IMMEDIATE"})
        yield session
