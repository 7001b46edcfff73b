"""Engines, sessions and transactions on a real SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from swarmdex.db import (
    DatabaseConfigError,
    create_engine,
    database_url,
    display_url,
    session_factory,
    transaction,
)
from swarmdex.db.models import Category, User

from .conftest import async_test, open_engine


class Boom(Exception):
    pass


# database_url


def test_default_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    assert database_url(tmp_path, None) == f"sqlite+aiosqlite:///{tmp_path}/swarmdex.db"
    assert database_url(tmp_path, "") == database_url(tmp_path, None)


def test_relative_data_dir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert make_url(database_url(Path("data"), None)).database == str(tmp_path / "data/swarmdex.db")


@pytest.mark.parametrize("odd", ["with space", "what?", "hash#tag", "per%20cent"])
def test_any_directory_name_survives_the_url(tmp_path: Path, odd: str) -> None:
    data_dir = tmp_path / odd
    assert make_url(database_url(data_dir, None)).database == str(data_dir / "swarmdex.db")


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("postgresql://u:p%40ss@db.example/swarmdex", "postgresql+asyncpg://u:p%40ss@db.example/swarmdex"),
        ("postgres://db.example/swarmdex", "postgresql+asyncpg://db.example/swarmdex"),
        ("postgresql+asyncpg://db.example/x", "postgresql+asyncpg://db.example/x"),
        ("sqlite:////srv/swarmdex.db", "sqlite+aiosqlite:////srv/swarmdex.db"),
        ("sqlite+aiosqlite:///rel.db", "sqlite+aiosqlite:///rel.db"),
    ],
)
def test_configured_url_gets_an_asyncio_driver(configured: str, expected: str) -> None:
    assert database_url(Path("unused"), configured) == expected


def test_display_url_hides_the_password() -> None:
    shown = display_url("postgresql+asyncpg://swarmdex:s3cret@db.example/swarmdex")
    assert shown == "postgresql+asyncpg://swarmdex:***@db.example/swarmdex"


def test_garbage_url_is_a_config_error() -> None:
    with pytest.raises(DatabaseConfigError, match="not a database URL"):
        database_url(Path("unused"), "swarmdex.db")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql+aiomysql://db/x", "unsupported database 'mysql'"),
        ("postgresql+nosuchdriver://db/x", "cannot use postgresql\\+nosuchdriver"),
        ("sqlite:///x.db", "cannot use sqlite"),  # the blocking driver
    ],
)
def test_unusable_engines_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(DatabaseConfigError, match=message):
        create_engine(url)


# SQLite set-up


@async_test
async def test_every_sqlite_connection_is_configured(sqlite_url: str) -> None:
    async with (
        open_engine(sqlite_url, migrated=False) as engine,
        # Two connections at once: the pragmas are per connection, not per file.
        engine.connect() as first,
        engine.connect() as second,
    ):
        for conn in (first, second):
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10_000


@async_test
async def test_wal_is_the_files_journal_mode(sqlite_url: str, tmp_path: Path) -> None:
    async with open_engine(sqlite_url) as engine:
        await _add_category(session_factory(engine), "a")
    header = (tmp_path / "swarmdex.db").read_bytes()[:20]
    assert header[18:20] == b"\x02\x02"  # file format versions 2: WAL


async def _add_category(sessions: async_sessionmaker[AsyncSession], slug: str) -> None:
    async with transaction(sessions) as session:
        session.add(Category(slug=slug, name=slug.upper()))


async def _slugs(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(Category.slug).order_by(Category.slug))).all())


# transaction()


@async_test
async def test_transaction_commits(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            category = Category(slug="anime", name="Anime")
            session.add(category)
        assert category.id is not None
        assert category.name == "Anime"  # still readable: expire_on_commit=False
        assert await _slugs(sessions) == ["anime"]


@async_test
async def test_transaction_rolls_back_on_exception(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        with pytest.raises(Boom):
            async with transaction(sessions) as session:
                session.add(Category(slug="one", name="One"))
                await session.flush()  # written to the database, not committed
                session.add(Category(slug="two", name="Two"))
                await session.flush()
                raise Boom
        assert await _slugs(sessions) == []


@async_test
async def test_transaction_rolls_back_on_cancellation(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        flushed = asyncio.Event()

        async def write() -> None:
            async with transaction(sessions) as session:
                session.add(Category(slug="one", name="One"))
                await session.flush()
                flushed.set()
                await asyncio.sleep(60)

        task = asyncio.create_task(write())
        await flushed.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _slugs(sessions) == []


@async_test
async def test_failed_statement_rolls_back_the_whole_transaction(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        await _add_category(sessions, "taken")
        with pytest.raises(Exception, match=r"(?i)UNIQUE"):
            async with transaction(sessions) as session:
                session.add(Category(slug="fresh", name="Fresh"))
                await session.flush()
                session.add(Category(slug="taken", name="Again"))
        assert await _slugs(sessions) == ["taken"]


@async_test
async def test_savepoint_inside_a_transaction(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            session.add(Category(slug="kept", name="Kept"))
            with pytest.raises(Boom):
                async with session.begin_nested():
                    session.add(Category(slug="undone", name="Undone"))
                    await session.flush()
                    raise Boom
        assert await _slugs(sessions) == ["kept"]


@async_test
async def test_concurrent_read_then_write_transactions_queue(url: str) -> None:
    """Each transaction reads a counter, pauses, writes it back plus one. They must run one
    after the other: none fails with "database is locked", no increment is lost."""
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        await _add_category(sessions, "counter")

        async def increment() -> None:
            async with transaction(sessions) as session:
                category = await session.scalar(select(Category).where(Category.slug == "counter"))
                assert category is not None
                seen = category.position
                await asyncio.sleep(0.01)
                category.position = seen + 1

        await asyncio.gather(*(increment() for _ in range(5)))
        async with sessions() as session:
            assert await session.scalar(select(Category.position)) == 5


@async_test
async def test_reads_in_a_session_see_one_snapshot_on_sqlite(sqlite_url: str) -> None:
    # (PostgreSQL reads are READ COMMITTED: each statement sees what was committed before it.)
    async with open_engine(sqlite_url) as engine:
        sessions = session_factory(engine)
        await _add_category(sessions, "a")
        async with sessions() as reader:
            count = select(func.count()).select_from(Category)
            assert await reader.scalar(count) == 1
            await _add_category(sessions, "b")  # committed by another connection meanwhile
            assert await reader.scalar(count) == 1  # the reader's transaction is repeatable
        assert await _slugs(sessions) == ["a", "b"]


# UTC timestamps


@async_test
async def test_timestamps_come_back_aware_utc(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        plus_two = timezone(timedelta(hours=2))
        disabled = datetime(2030, 5, 1, 14, 0, tzinfo=plus_two)
        async with transaction(sessions) as session:
            session.add(User(name="alice", password_hash="x", disabled_at=disabled))
        async with sessions() as session:
            user = await session.scalar(select(User))
            assert user is not None
            assert user.disabled_at == datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
            assert user.disabled_at.tzinfo is UTC
            assert user.created_at.tzinfo is UTC
            assert abs(datetime.now(UTC) - user.created_at) < timedelta(minutes=1)
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT disabled_at FROM users"))).scalar()
        assert str(stored).startswith("2030-05-01 12:00:00")  # UTC text, which sorts


@async_test
async def test_naive_timestamps_are_refused(url: str) -> None:
    async with open_engine(url) as engine:
        with pytest.raises(Exception, match="naive datetime"):
            async with transaction(session_factory(engine)) as session:
                session.add(User(name="bob", password_hash="x", disabled_at=datetime(2030, 1, 1)))
