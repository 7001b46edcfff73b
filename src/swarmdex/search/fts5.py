"""The SQLite search backend: an FTS5 table (migration 0002_search) ranked with bm25.

Each column holds `tokenize.token_text` of the torrent's title, info-dictionary name, tags
and file paths. Queries are built here from a parsed `Query`, every token in double quotes,
so nothing a visitor types can reach FTS5's query syntax (no `NEAR`, no column names, no
syntax errors); `BadQuery` remains for the index refusing a query anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, column, delete, func, insert, literal_column, select, table
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.models import Torrent
from swarmdex.search.backend import MAX_RESULTS, BadQuery, Document, Matches
from swarmdex.search.query import Query, Term
from swarmdex.search.tokenize import token_text

__all__ = ["TABLE", "Fts5Backend", "match_expression"]

TABLE: Final = "search_fts"
# bm25 weights per column: a word of the title counts most, one among the files least, so
# "ubuntu" ranks the Ubuntu images above a torrent that merely contains an ubuntu.iso.
WEIGHTS: Final = {"title": 10.0, "name": 5.0, "tags": 3.0, "files": 1.0}
NAME_COLUMNS: Final = "{title name tags}"

_index = table(TABLE, column("rowid"), *(column(name) for name in WEIGHTS))
_fts: ColumnElement[str] = literal_column(TABLE)


def _phrase(term: Term) -> str:
    # Tokens are letters, digits and marks only (see tokenize), never a double quote.
    return " + ".join(f'"{token}"' for token in term.tokens) + ("*" if term.prefix else "")


def match_expression(query: Query, *, in_files: bool) -> str:
    """The FTS5 query for `query`: every included term, none of the excluded ones, in the
    name columns only unless `in_files`."""
    if not query.usable:
        raise BadQuery("Type a word to search for.")
    expression = "(" + " AND ".join(_phrase(term) for term in query.include) + ")"
    if query.exclude:
        expression += " NOT (" + " OR ".join(_phrase(term) for term in query.exclude) + ")"
    return expression if in_files else f"{NAME_COLUMNS} : ({expression})"


class Fts5Backend:
    async def index(self, session: AsyncSession, document: Document) -> None:
        await self.remove(session, document.torrent_id)
        await session.execute(
            insert(_index).values(
                rowid=document.torrent_id,
                title=token_text(document.title),
                name=token_text(document.name),
                tags=" ".join(token_text(tag) for tag in document.tags),
                # One line per path would read better, but spaces are what FTS5 splits on;
                # a phrase may then run from one path into the next, which is harmless.
                files=" ".join(token_text(path) for path in document.files),
            )
        )

    async def remove(self, session: AsyncSession, torrent_id: int) -> None:
        await session.execute(delete(_index).where(_index.c.rowid == torrent_id))

    async def search(
        self,
        session: AsyncSession,
        query: Query,
        *,
        in_files: bool,
        newest_first: bool = False,
        where: Sequence[ColumnElement[bool]],
        limit: int,
        offset: int,
    ) -> Matches:
        matching = (
            select(Torrent.id)
            .select_from(_index)
            .join(Torrent, Torrent.id == _index.c.rowid)
            .where(_fts.op("MATCH")(match_expression(query, in_files=in_files)), *where)
        )
        first: ColumnElement[Any] = (
            Torrent.created_at.desc() if newest_first else func.bm25(_fts, *WEIGHTS.values())
        )
        page = matching.order_by(first, Torrent.id.desc()).limit(limit).offset(offset)
        counted = select(func.count()).select_from(matching.limit(MAX_RESULTS).subquery())
        try:
            ids = list((await session.scalars(page)).all())
            total = (await session.scalar(counted)) or 0
        except OperationalError as exc:
            if "fts5" not in str(exc.orig):
                raise
            raise BadQuery("This search could not be run; try simpler words.") from None
        return Matches(ids, total)
