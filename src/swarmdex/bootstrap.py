"""Getting a database ready for the site: every command that opens one goes through here.

Migrating is the db package's job; what a brand-new site starts with (the default
categories, so the first upload has somewhere to go) belongs to the domain packages, and
is written once, in the run that creates the database. Later runs leave it alone, so
categories an operator renamed or deleted stay that way.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from swarmdex.db.engine import session_factory, transaction
from swarmdex.db.migrate import head_revision, upgrade
from swarmdex.torrents.services import ensure_default_categories


async def prepare_database(engine: AsyncEngine) -> tuple[str | None, str]:
    """Migrate to this version's schema; on a new database, add the starting content.
    Returns the schema revision before and after."""
    before = await upgrade(engine)
    if before is None:
        async with transaction(session_factory(engine)) as session:
            await ensure_default_categories(session)
    return before, head_revision()
