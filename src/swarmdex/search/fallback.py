"""Search without a full-text index: every term must occur in the title, newest first.

Used on databases that have no search index yet (PostgreSQL, until its tsvector backend
lands). Slow on a big catalogue and unranked, but correct: the same queries find the same
kind of torrents, and the same highlighting applies.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.models import Torrent
from swarmdex.search.backend import MAX_RESULTS, BadQuery, Document, Matches
from swarmdex.search.query import Query, Term

__all__ = ["LikeBackend"]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(term: Term) -> ColumnElement[bool]:
    # Every token somewhere in the title: looser than a phrase, which this backend cannot
    # check without tokenizing in the database.
    title = func.lower(Torrent.title)
    return and_(*(title.like(f"%{_escape_like(t)}%", escape="\\") for t in term.tokens))


class LikeBackend:
    async def index(self, session: AsyncSession, document: Document) -> None:
        return None  # nothing to keep: the torrents table is searched directly

    async def remove(self, session: AsyncSession, torrent_id: int) -> None:
        return None

    async def search(
        self,
        session: AsyncSession,
        query: Query,
        *,
        in_files: bool,
        newest_first: bool = False,
        category_id: int | None = None,
        limit: int,
        offset: int,
    ) -> Matches:
        if not query.usable:
            raise BadQuery("Type a word to search for.")
        conditions = [_contains(term) for term in query.include]
        if query.exclude:
            conditions.append(not_(or_(*(_contains(term) for term in query.exclude))))
        conditions.append(Torrent.deleted_at.is_(None))
        if category_id is not None:
            conditions.append(Torrent.category_id == category_id)
        matching = select(Torrent.id).where(*conditions)
        page = matching.order_by(Torrent.created_at.desc(), Torrent.id.desc())
        ids = list((await session.scalars(page.limit(limit).offset(offset))).all())
        counted = select(func.count()).select_from(matching.limit(MAX_RESULTS).subquery())
        return Matches(ids, (await session.scalar(counted)) or 0)
