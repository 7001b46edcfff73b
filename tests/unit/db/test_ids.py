"""Ids are never given twice: a row made after the newest one was deleted gets a new id, so
audit entries, reports and notices that name the old id never point at someone else."""

from __future__ import annotations

from typing import Any, Final

from alembic import command
from sqlalchemy import Integer, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateTable

from swarmdex.accounts.services import create_user
from swarmdex.db import session_factory, transaction
from swarmdex.db.migrate import alembic_config, all_models, head_revision, upgrade
from swarmdex.db.models import User
from swarmdex.privacy.account import delete_account

from .conftest import async_test, open_engine

PASSWORD: Final = "correct horse battery staple"
BEFORE: Final = "0011_site_modes"


def _id_tables() -> list[str]:
    """The models' tables keyed by one integer id of their own (not by another table's id,
    as `torrent_factors` is by its torrent's)."""
    return sorted(
        table.name for table in all_models().tables.values()
        if [(c.name, type(c.type)) for c in table.primary_key.columns] == [("id", Integer)]
    )


def test_every_table_with_a_numeric_id_asks_for_autoincrement() -> None:
    tables = all_models().tables
    assert len(_id_tables()) >= 17
    for name in _id_tables():
        assert tables[name].dialect_options["sqlite"]["autoincrement"] is True, name
        sqlite_ddl = str(CreateTable(tables[name]).compile(dialect=sqlite.dialect()))
        assert "id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT" in sqlite_ddl, name
        # PostgreSQL: a sequence, which never gives a number twice; no SQLite words.
        postgres_ddl = str(CreateTable(tables[name]).compile(dialect=postgresql.dialect()))
        assert "id SERIAL NOT NULL" in postgres_ddl and "AUTOINCREMENT" not in postgres_ddl, name


@async_test
async def test_the_newest_accounts_id_is_not_given_again(url: str) -> None:
    async with open_engine(url) as engine:
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            await create_user(session, "alice", PASSWORD)
            newest = await create_user(session, "bob", PASSWORD)
        async with transaction(sessions) as session:
            bob = await session.get(User, newest.id)
            assert bob is not None
            await delete_account(session, bob, PASSWORD, delete_torrents=False)
        async with transaction(sessions) as session:
            assert await session.get(User, newest.id) is None
            carol = await create_user(session, "carol", PASSWORD)
        assert carol.id > newest.id
        async with sessions() as session:
            assert (await session.scalars(select(User.name).order_by(User.id))).all() == [
                "alice", "carol"]


# Rows at the revision before ids were made permanent, with gaps (3 and 5 were deleted) and
# rows that refer to each other (a refund refers to its donation, in the same table).
ROWS: Final = [
    "INSERT INTO users (id, name, name_key, password_hash, role, created_at) VALUES "
    "(1, 'ada', 'ada', '!', 'admin', '2025-01-01 00:00:00'), "
    "(2, 'bob', 'bob', '!', 'user', '2025-01-01 00:00:00'), "
    "(4, 'cy', 'cy', '!', 'user', '2025-01-01 00:00:00')",
    "INSERT INTO categories (id, slug, name) VALUES (1, 'linux', 'Linux'), (6, 'bsd', 'BSD')",
    "INSERT INTO torrents (id, info_hash_v1, swarm_key, title, name, category_id, uploader_id, "
    "size, file_count, piece_length, info_dict, original_trackers, created_at) VALUES "
    "(7, zeroblob(20), zeroblob(20), 'Debian', 'debian.iso', 6, 4, 1, 1, 16384, x'00', '[]', "
    "'2025-01-02 00:00:00')",
    "INSERT INTO comments (id, torrent_id, author_id, body, created_at) VALUES "
    "(2, 7, 2, 'Thanks', '2025-01-03 00:00:00')",
    "INSERT INTO news_posts (id, title, body, author_id, publish_at, created_at) VALUES "
    "(3, 'Hello', 'World', 1, '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
    "INSERT INTO donation_campaigns (id, title, currency, period, starts_at, created_at) VALUES "
    "(1, 'Hosting', 'EUR', 'monthly', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
    "INSERT INTO donations (id, campaign_id, amount_minor, currency, received_at, method, "
    "refund_of_id, created_at) VALUES "
    "(1, 1, 500, 'EUR', '2025-01-05 00:00:00', 'card', NULL, '2025-01-05 00:00:00'), "
    "(9, 1, -200, 'EUR', '2025-01-06 00:00:00', 'card', 1, '2025-01-06 00:00:00')",
    "INSERT INTO reports (id, target_type, target_id, reason, reporter_id, created_at) VALUES "
    "(5, 'torrent', 7, 'spam', 2, '2025-01-04 00:00:00')",
    "INSERT INTO takedown_notices (id, received_at, claimant_name, email, work, signature) "
    "VALUES (2, '2025-01-04 00:00:00', 'Rights Co', 'r@example.org', 'A film', 'R')",
    "INSERT INTO takedown_items (id, notice_id, torrent_id, uploader_id, title, swarm_key) "
    "VALUES (3, 2, 7, 4, 'Debian', zeroblob(20))",
    "INSERT INTO audit_log (id, at, actor_id, actor_name, action, target_type, target_id) "
    "VALUES (8, '2025-01-04 00:00:00', 1, 'ada', 'user.role', 'user', '4')",
]


def _contents(connection: Connection, columns: dict[str, list[str]] | None = None,
              ) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows; with `columns`, only those tables and columns (a later migration
    may add columns, which are not this migration's business)."""
    names = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != 'alembic_version'"
    ).scalars().all()
    if columns is not None:
        names = [name for name in names if name in columns]

    def listed(name: str) -> str:
        return "*" if columns is None else ", ".join(f'"{c}"' for c in columns[name])

    return {
        name: [tuple(row) for row in
               connection.exec_driver_sql(f'SELECT {listed(name)} FROM "{name}" ORDER BY 1')]
        for name in names
    }


def _columns(connection: Connection, tables: list[str]) -> dict[str, list[str]]:
    return {name: [row[1] for row in connection.exec_driver_sql(f'PRAGMA table_info("{name}")')]
            for name in tables}


def _indexes_and_triggers(connection: Connection) -> list[tuple[str, str, str]]:
    rows = connection.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        "AND sql IS NOT NULL ORDER BY name")
    return [(kind, name, sql) for kind, name, sql in rows]


def _filled_before(connection: Connection) -> tuple[dict[str, list[tuple[Any, ...]]], Any]:
    """Migrate to the revision before, insert ROWS: (every table's rows, indexes and
    triggers), to compare with after."""
    command.upgrade(alembic_config(connection), BEFORE)
    for sql in ROWS:
        connection.exec_driver_sql(sql)
    contents = _contents(connection)
    return contents, (_indexes_and_triggers(connection), _columns(connection, list(contents)))


@async_test
async def test_the_migration_keeps_every_row_and_never_reuses_their_ids(sqlite_url: str) -> None:
    async with open_engine(sqlite_url, migrated=False) as engine:
        async with engine.begin() as conn:
            before, (schema, columns) = await conn.run_sync(_filled_before)
        assert sum(map(len, before.values())) >= len(ROWS) + 1

        await upgrade(engine)  # as `swarmdex serve` and `swarmdex db upgrade` do

        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar() \
                == head_revision()
            after = await conn.run_sync(_contents, columns)
            assert after == before
            # Indexes and triggers that later migrations add are not this migration's business.
            now = await conn.run_sync(_indexes_and_triggers)
            assert [entry for entry in now if entry in schema] == schema
            assert (await conn.exec_driver_sql("PRAGMA integrity_check")).scalars().all() == ["ok"]
            assert (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all() == []
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            for table in _id_tables():
                sql = (await conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = ?", (table,))).scalar()
                assert "PRIMARY KEY AUTOINCREMENT" in sql, table
            counters = dict((await conn.exec_driver_sql(
                "SELECT name, seq FROM sqlite_sequence")).all())
            for table, rows in before.items():
                if table in _id_tables() and rows:
                    assert counters[table] >= max(row[0] for row in rows), table

            # The newest rows deleted, new ones get new ids.
            await conn.exec_driver_sql("DELETE FROM torrents WHERE id = 7")  # cascades
            await conn.exec_driver_sql("DELETE FROM users WHERE id = 4")
            await conn.exec_driver_sql(
                "INSERT INTO users (name, name_key, password_hash, role, created_at) "
                "VALUES ('dee', 'dee', '!', 'user', '2025-02-01 00:00:00')")
            new = (await conn.exec_driver_sql("SELECT id FROM users WHERE name = 'dee'")).scalar()
            assert new == 5
            # The audit log still refuses to change.
            for change in ("UPDATE audit_log SET note = 'x'", "DELETE FROM audit_log"):
                try:
                    async with conn.begin_nested():
                        await conn.exec_driver_sql(change)
                except DBAPIError as refused:
                    assert "append-only" in str(refused)
                else:
                    raise AssertionError(f"the audit log allowed: {change}")


def _downgrade(connection: Connection) -> None:
    # As `swarmdex.db.migrate` upgrades: foreign keys off outside the transaction.
    cursor = connection.connection.cursor()
    cursor.execute("PRAGMA foreign_keys = OFF")
    cursor.close()
    with connection.begin():
        command.downgrade(alembic_config(connection), BEFORE)


@async_test
async def test_downgrading_keeps_every_row(sqlite_url: str) -> None:
    async with open_engine(sqlite_url, migrated=False) as engine:
        async with engine.begin() as conn:
            before, (schema, _columns) = await conn.run_sync(_filled_before)
            tables = (await conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all()
        await upgrade(engine)
        async with engine.connect() as conn:
            await conn.run_sync(_downgrade)
            after = await conn.run_sync(_contents)
            assert {name: after[name] for name in before} == before
            # Tables that later migrations add are not this migration's business.
            added = tuple(f"ix_{name}_" for name in set(after) - set(before))
            assert [entry for entry in await conn.run_sync(_indexes_and_triggers)
                    if not entry[1].startswith(added)] == schema
            after = dict((await conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
            for name, sql in tables:
                assert " ".join(after[name].replace('"', "").split()).replace(" ,", ",") \
                    .count("PRIMARY KEY") == " ".join(sql.split()).count("PRIMARY KEY"), name
            assert (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all() == []
