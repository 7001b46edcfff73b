"""Revision 0003_comments_settings goes down to 0002_search and up again cleanly."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from swarmdex.db import create_engine
from swarmdex.db.migrate import alembic_config, upgrade

from .conftest import async_test

OURS = {"comments", "site_settings"}


def _down_and_up(connection: Connection) -> tuple[set[str], set[str]]:
    config = alembic_config(connection)
    with connection.begin():
        command.downgrade(config, "0002_search")
        down = set(inspect(connection).get_table_names())
    with connection.begin():
        command.upgrade(config, "0003_comments_settings")
        return down, set(inspect(connection).get_table_names())


@async_test
async def test_revision_adds_and_removes_exactly_its_tables(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            down, up = await conn.run_sync(_down_and_up)
    finally:
        await engine.dispose()
    assert not OURS & down
    assert up == down | OURS
