"""Revision 0007_profiles: accounts made before it get an empty profile, and rebuilding the
users table (SQLite's way to add columns here) loses nothing that refers to them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from swarmdex.db import create_engine, database_url
from swarmdex.db.migrate import alembic_config, current_revision, upgrade

from .conftest import async_test

COLUMNS = ("display_name", "bio", "email", "anonymous_by_default", "show_donor_badge", "is_donor")


def _columns(connection: Connection) -> set[str]:
    return {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(users)")}


def _down_and_add_a_user(connection: Connection) -> set[str]:
    with connection.begin():
        command.downgrade(alembic_config(connection), "0006_donations")
        connection.execute(text(
            "INSERT INTO users (id, name, name_key, password_hash, role, created_at) "
            "VALUES (1, 'old', 'old', 'x', 'trusted', '2024-01-01 00:00:00')"
        ))
        connection.execute(text(
            "INSERT INTO api_tokens (user_id, token_hash, name, created_at) "
            "VALUES (1, zeroblob(32), 'script', '2024-01-01 00:00:00')"
        ))
        return _columns(connection)


@async_test
async def test_existing_accounts_get_an_empty_profile(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            before = await conn.run_sync(_down_and_add_a_user)
        assert await current_revision(engine) == "0006_donations"
        await upgrade(engine)  # as `swarmdex db upgrade` does it: foreign keys held off
        async with engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT role, {', '.join(COLUMNS)} FROM users"))).all()
            tokens = (await conn.execute(text("SELECT count(*) FROM api_tokens"))).scalar_one()
    finally:
        await engine.dispose()
    assert not before & set(COLUMNS)
    assert [tuple(row) for row in rows] == [("trusted", "", "", None, 0, 0, 0)]
    assert tokens == 1  # the table rebuild did not cascade into the user's tokens


@pytest.fixture
def url(tmp_path: Path) -> str:
    """SQLite only: the rows this test writes under an old revision are SQLite's (zeroblob)."""
    return database_url(tmp_path, None)
