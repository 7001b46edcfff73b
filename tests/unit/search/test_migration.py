"""Revision 0004_search_names: the names-only index, filled from the full one."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from swarmdex.db.engine import create_engine, database_url, transaction
from swarmdex.db.migrate import alembic_config
from swarmdex.search import services

from .factory import add_torrent, async_test, catalogue


def _down_and_up(connection: Connection) -> tuple[bool, list[tuple[int, str]]]:
    config = alembic_config(connection)
    # As swarmdex.db.migrate runs migrations: foreign keys off (rebuilt tables are dropped).
    cursor = connection.connection.cursor()
    cursor.execute("PRAGMA foreign_keys = OFF")
    cursor.close()
    with connection.begin():
        command.downgrade(config, "0003_comments_settings")
        gone = connection.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'search_names%'").scalar() == 0
    with connection.begin():
        command.upgrade(config, "head")
        rows = connection.exec_driver_sql(
            "SELECT rowid, title FROM search_names ORDER BY rowid").all()
    return gone, [tuple(row) for row in rows]


@async_test
async def test_names_index_is_dropped_and_rebuilt_from_the_full_one(tmp_path: Path) -> None:
    async with catalogue(tmp_path) as sessions:
        async with transaction(sessions) as session:
            first = await add_torrent(session, "Debian 12.5 netinst", files=["debian.iso"])
            second = await add_torrent(session, "FreeBSD 14.0", files=["freebsd.img"])
        engine = create_engine(database_url(tmp_path, None))
        try:
            async with engine.connect() as connection:
                gone, rows = await connection.run_sync(_down_and_up)
        finally:
            await engine.dispose()
        assert gone
        assert rows == [(first.id, "debian 12 5 netinst"), (second.id, "freebsd 14 0")]
        async with sessions() as session:
            page = await services.search(session, "netinst")
            assert [r.torrent.id for r in page.results] == [first.id]
            count = (await session.execute(text("SELECT count(*) FROM search_fts"))).scalar()
            assert count == 2
