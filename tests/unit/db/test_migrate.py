"""Migrations on a real SQLite file and a real PostgreSQL database: they build the schema the
models describe, once."""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from swarmdex.db import engine as engine_module
from swarmdex.db.migrate import (
    MIGRATIONS,
    MigrationError,
    alembic_config,
    all_models,
    current_revision,
    head_revision,
    include_name,
    upgrade,
    upgrade_url,
)
from tests.support.databases import configured_url
from tests.support.serve import SWARMDEX, clean_env

from .conftest import async_test, open_engine

TABLES = set(all_models().tables)
FIRST_TABLES = {
    "users",
    "categories",
    "torrents",
    "torrent_files",
    "tags",
    "torrent_tags",
    "api_tokens",
    "sessions",
}


def _tables(connection: Connection) -> set[str]:
    """The tables the models describe (and alembic_version), as the database has them."""
    include = include_name(connection)
    return {name for name in inspect(connection).get_table_names() if include(name, "table", {})}


def _schema(connection: Connection) -> list[tuple[str, str, str | None]]:
    """The SQL of every table and index, to tell whether a second upgrade changed anything."""
    if connection.dialect.name == "postgresql":
        return [*_pg_constraints(connection), *(
            ("column", f"{table}.{column}", kind) for table, column, kind in connection.exec_driver_sql(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY table_name, column_name"))]
    rows = connection.exec_driver_sql("SELECT type, name, sql FROM sqlite_master ORDER BY name")
    return [(kind, name, sql) for kind, name, sql in rows]  # virtual tables included


def _pg_constraints(connection: Connection) -> list[tuple[str, str, str | None]]:
    """Every constraint, index and trigger of the models' tables, as PostgreSQL defines it."""
    rows = connection.exec_driver_sql(
        "SELECT 'constraint', conrelid::regclass::text || '.' || conname, "
        "pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
        "UNION ALL SELECT 'index', tablename || '.' || indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = 'public' "
        "UNION ALL SELECT 'trigger', tgrelid::regclass::text || '.' || tgname, "
        "pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2"
    ).all()
    return [(kind, name, sql) for kind, name, sql in rows if name.split(".")[0] in TABLES]


def test_migrations_are_one_line_from_the_first() -> None:
    assert FIRST_TABLES <= TABLES
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [head_revision()]
    assert script.get_bases() == ["0001"]


@async_test
async def test_upgrade_creates_every_table(url: str) -> None:
    async with open_engine(url, migrated=False) as engine:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES | {"alembic_version"}


@async_test
async def test_second_upgrade_changes_nothing(url: str) -> None:
    async with open_engine(url) as engine:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO categories (slug, name) VALUES ('a', 'A')"))
            before = await conn.run_sync(_schema)
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            assert await conn.run_sync(_schema) == before
            assert (await conn.execute(text("SELECT slug FROM categories"))).scalars().all() == ["a"]


def _differences(connection: Connection) -> list[Any]:
    opts = {"compare_type": True, "include_name": include_name(connection)}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, all_models()))


@async_test
async def test_models_and_migrations_agree(url: str) -> None:
    async with open_engine(url) as engine, engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


def _sqlite_schema_sql(connection: Connection) -> list[tuple[str, str]]:
    """The SQL of the models' tables and indexes."""
    rows = connection.exec_driver_sql(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
    )
    return [
        (name, " ".join(sql.split()))
        for name, table, sql in rows
        if table in TABLES
    ]


@async_test
async def test_migrated_schema_has_the_models_constraints(url: str, tmp_path: Any) -> None:
    """compare_metadata does not look at CHECK constraints or ON DELETE: compare the SQL."""
    if url.startswith("postgresql"):
        return await _same_constraints_on_postgresql(url)
    async with open_engine(url) as migrated, migrated.connect() as conn:
        from_migrations = await conn.run_sync(_sqlite_schema_sql)
    async with open_engine(f"sqlite+aiosqlite:///{tmp_path}/models.db", migrated=False) as e:
        async with e.begin() as conn:
            await conn.run_sync(all_models().create_all)
        async with e.connect() as conn:
            from_models = await conn.run_sync(_sqlite_schema_sql)
    assert dict(from_migrations).keys() == dict(from_models).keys()
    for (name, migrated_sql), (_, model_sql) in zip(from_migrations, from_models, strict=True):
        for clause in ("CHECK", "ON DELETE CASCADE", "ON DELETE SET NULL", "ON DELETE RESTRICT"):
            assert migrated_sql.count(clause) == model_sql.count(clause), (name, clause)
        assert sorted(_constraint_names(migrated_sql)) == sorted(_constraint_names(model_sql)), name


async def _same_constraints_on_postgresql(url: str) -> None:
    async with open_engine(url) as migrated, migrated.connect() as conn:
        from_migrations = await conn.run_sync(_pg_constraints)
    async with open_engine(url, migrated=False) as engine:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
            await conn.run_sync(all_models().create_all)
        async with engine.connect() as conn:
            from_models = await conn.run_sync(_pg_constraints)
    # What only migrations make: the audit log's triggers, the search index's table.
    assert {name for kind, name, _ in from_migrations if kind == "trigger"} == {
        "audit_log.audit_log_append_only", "audit_log.audit_log_no_truncate"}
    migrated = [row for row in from_migrations if row[0] != "trigger"]
    assert migrated == from_models


def _constraint_names(sql: str) -> list[str]:
    words = sql.replace("(", " ").split()
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word == "CONSTRAINT"]


def _down_and_up(connection: Connection) -> tuple[set[str], set[str]]:
    config = alembic_config(connection)
    with connection.begin():
        command.downgrade(config, "base")
        down = _tables(connection)
    with connection.begin():
        command.upgrade(config, "head")
        return down, _tables(connection)


@async_test
async def test_downgrade_to_nothing_and_back(url: str) -> None:
    async with open_engine(url) as engine, engine.connect() as conn:
        down, up = await conn.run_sync(_down_and_up)
    assert down == {"alembic_version"}
    assert up == TABLES | {"alembic_version"}


@async_test
async def test_failed_upgrade_leaves_nothing_behind(url: str) -> None:
    async with open_engine(url, migrated=False) as engine:
        async with engine.begin() as conn:  # in the way of the migration, half-way through it
            await conn.execute(text("CREATE TABLE tags (id INTEGER PRIMARY KEY)"))
        with pytest.raises(Exception, match="already exists"):
            await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == {"tags"}
            if conn.dialect.name == "sqlite":  # switched back on after the failure
                assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert await current_revision(engine) is None


@async_test
async def test_unknown_revision_is_refused_plainly(url: str) -> None:
    async with open_engine(url) as engine:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(MigrationError, match="newer swarmdex"):
            await upgrade(engine)
        assert await current_revision(engine) == "9999"


@async_test
async def test_unreachable_database_is_said_plainly(tmp_path: Any) -> None:
    async with open_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/x.db", migrated=False) as e:
        with pytest.raises(MigrationError, match=r"cannot open the database .*missing/x\.db"):
            await upgrade(e)
        with pytest.raises(MigrationError, match="No such file or directory"):
            await current_revision(e)


@async_test
async def test_new_database_files_are_private(sqlite_url: str, tmp_path: Any) -> None:
    async with open_engine(sqlite_url) as engine, engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        for name in ("swarmdex.db", "swarmdex.db-wal", "swarmdex.db-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


@async_test
async def test_foreign_keys_are_on_again_after_upgrade(sqlite_url: str) -> None:
    async with open_engine(sqlite_url) as engine, engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1


@async_test
async def test_two_processes_starting_at_once_migrate_once(url: str) -> None:
    async with open_engine(url, migrated=False) as first, open_engine(url, migrated=False) as second:
        await asyncio.gather(upgrade(first), upgrade(second))
        assert await current_revision(first) == head_revision()
        async with second.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert versions == [(head_revision(),)]


@async_test
async def test_a_migration_waits_for_another_however_long_it_takes(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process mid-migration holds the lock far longer than SQLite's busy timeout
    # (cut to 0.1 s here): this one waits for it, with no "database is locked".
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_MS", 100)
    lock = os.open(tmp_path / "swarmdex.db.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        async with open_engine(sqlite_url, migrated=False) as engine:
            waiting = asyncio.ensure_future(upgrade(engine))
            done, _ = await asyncio.wait([waiting], timeout=1.0)  # ten busy timeouts
            assert not done, "migrated while another process held the lock"
            os.close(lock)
            lock = -1
            assert await waiting is None  # it found the database new
            assert await current_revision(engine) == head_revision()
    finally:
        if lock >= 0:
            os.close(lock)


def test_processes_starting_at_once_migrate_once_each_way(
    tmp_path: Path, empty_database_backend: str
) -> None:
    # Real processes, not two engines in one: `swarmdex db upgrade` four times at once.
    data = tmp_path / "data"
    url = configured_url()
    env = clean_env({"SWARMDEX_DATABASE_URL": url} if url else None)
    runs = [subprocess.Popen([*SWARMDEX, "db", "upgrade", "--data-dir", str(data)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, stdin=subprocess.DEVNULL) for _ in range(4)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]  # a bound, not a wait
    assert [run.returncode for run in runs] == [0] * 4, outputs
    assert sum("migrated from nothing" in out for out in outputs) == 1, outputs
    assert sum("already at schema revision" in out for out in outputs) == 3, outputs


@async_test
async def test_upgrade_url_reports_before_and_after(url: str) -> None:
    assert await upgrade_url(url) == (None, head_revision())
    assert await upgrade_url(url) == (head_revision(), head_revision())


@async_test
async def test_memory_database_migrates() -> None:
    async with open_engine("sqlite+aiosqlite://") as engine, engine.connect() as conn:
        assert await conn.run_sync(_tables) == TABLES | {"alembic_version"}


def test_migrations_are_files_of_the_package() -> None:
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert (MIGRATIONS / "versions" / "0001_initial.py").is_file()
