"""A new database gets the default categories once; an operator's later changes stay."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select, update

from swarmdex.bootstrap import prepare_database
from swarmdex.db import create_engine, database_url, session_factory, transaction
from swarmdex.db.migrate import head_revision
from swarmdex.db.models import Category
from swarmdex.torrents.services import DEFAULT_CATEGORIES

from .db.conftest import async_test


@async_test
async def test_new_database_starts_with_the_default_categories(tmp_path: Path) -> None:
    engine = create_engine(database_url(tmp_path, None))
    sessions = session_factory(engine)
    try:
        assert await prepare_database(engine) == (None, head_revision())
        async with sessions() as session:
            slugs = (await session.scalars(select(Category.slug).order_by(Category.position))).all()
        assert slugs == [slug for slug, _ in DEFAULT_CATEGORIES]

        # The operator renames one and deletes the rest: a restart brings nothing back.
        async with transaction(sessions) as session:
            await session.execute(update(Category).where(Category.slug == "linux").values(name="Distros"))
            await session.execute(delete(Category).where(Category.slug != "linux"))
        assert await prepare_database(engine) == (head_revision(), head_revision())
        async with sessions() as session:
            rows = (await session.execute(select(Category.slug, Category.name))).all()
        assert [tuple(row) for row in rows] == [("linux", "Distros")]

        async with transaction(sessions) as session:
            await session.execute(delete(Category))
        await prepare_database(engine)
        async with sessions() as session:
            assert (await session.scalars(select(Category.slug))).all() == []
    finally:
        await engine.dispose()
