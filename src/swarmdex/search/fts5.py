"""The SQLite search backend: FTS5 tables ranked with bm25.

Two tables, rowid = torrents.id, whose columns hold `tokenize.token_text` of the torrent's
title, info-dictionary name, tags and (in the first) file paths:

- `search_fts` (migration 0002_search): every column, for searches that include file names;
- `search_names` (migration 0004_search_names): the names only, for all other searches. A
  column filter on the first table would do the same work slower: FTS5 reads a word's
  positions in every column to filter them, and file lists repeat common words thousands
  of times.

Queries are built here from a parsed `Query`, every token in double quotes, so nothing a
visitor types can reach FTS5's query syntax (no `NEAR`, no column names, no syntax errors);
`BadQuery` remains for the index refusing a query anyway.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    TableClause,
    column,
    delete,
    func,
    insert,
    literal_column,
    select,
    table,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.models import Torrent
from swarmdex.search.backend import MAX_RESULTS, BadQuery, Document, Matches
from swarmdex.search.query import Query, Term
from swarmdex.search.tokenize import paths_token_text, token_text

__all__ = ["NAMES_TABLE", "TABLE", "Fts5Backend", "match_expression", "table_for"]

TABLE: Final = "search_fts"
NAMES_TABLE: Final = "search_names"
# bm25 weights per column: a word of the title counts most, one among the files least, so
# "ubuntu" ranks the Ubuntu images above a torrent that merely contains an ubuntu.iso.
WEIGHTS: Final = {"title": 10.0, "name": 5.0, "tags": 3.0, "files": 1.0}
NAME_WEIGHTS: Final = {name: weight for name, weight in WEIGHTS.items() if name != "files"}

# Matches read with their bm25 score and ranked in one pass (see Fts5Backend._ranked).
CANDIDATES: Final = 500

_everything = table(TABLE, column("rowid", Integer), *(column(name) for name in WEIGHTS))
_names = table(NAMES_TABLE, column("rowid", Integer), *(column(name) for name in NAME_WEIGHTS))


def table_for(*, in_files: bool) -> str:
    """The table a search reads: with file names, or names only."""
    return TABLE if in_files else NAMES_TABLE


def _phrase(term: Term) -> str:
    # Tokens are letters, digits and marks only (see tokenize), never a double quote.
    return " + ".join(f'"{token}"' for token in term.tokens) + ("*" if term.prefix else "")


def match_expression(query: Query) -> str:
    """The FTS5 query for `query`: every included term, none of the excluded ones, in any
    column of the table it runs on (`table_for`)."""
    if not query.usable:
        raise BadQuery("Type a word to search for.")
    expression = "(" + " AND ".join(_phrase(term) for term in query.include) + ")"
    if query.exclude:
        expression += " NOT (" + " OR ".join(_phrase(term) for term in query.exclude) + ")"
    return expression


class Fts5Backend:
    async def index(self, session: AsyncSession, document: Document) -> None:
        await self.remove(session, document.torrent_id)
        names = {
            "rowid": document.torrent_id,
            "title": token_text(document.title),
            "name": token_text(document.name),
            "tags": " ".join(token_text(tag) for tag in document.tags),
        }
        await session.execute(insert(_names).values(names))
        await session.execute(insert(_everything).values(
            **names,
            files=(document.file_tokens if document.file_tokens is not None
                   else paths_token_text(document.files)),
        ))

    async def remove(self, session: AsyncSession, torrent_id: int) -> None:
        for index in (_names, _everything):
            await session.execute(delete(index).where(index.c.rowid == torrent_id))

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
        # The index holds only torrents on the site (deleting one removes its entry), so the
        # torrents table is joined only to filter by category or to sort by upload time.
        index = _everything if in_files else _names
        if in_files:
            query = await self._finished_last_word(session, query)
        rowid: ColumnElement[int] = index.c.rowid
        matching = select(rowid).select_from(index).where(
            literal_column(index.name).op("MATCH")(match_expression(query))
        )
        if category_id is not None or newest_first:
            matching = matching.join(Torrent, Torrent.id == rowid)
        if category_id is not None:
            matching = matching.where(Torrent.category_id == category_id)
        try:
            if newest_first:
                page = matching.order_by(Torrent.created_at.desc(), rowid.desc())
                ids = list((await session.scalars(page.limit(limit).offset(offset))).all())
                return Matches(ids, await self._count(session, matching))
            return await self._ranked(session, index, matching, limit, offset)
        except OperationalError as exc:
            if "fts5" not in str(exc.orig):
                raise
            raise BadQuery("This search could not be run; try simpler words.") from None

    async def _finished_last_word(self, session: AsyncSession, query: Query) -> Query:
        """`query`, its last word matched as typed if it is a word of the index already.

        Completing the last word ("serv" -> server) makes FTS5 merge the postings of every
        word it starts before reading any; in file lists, where a word like "flac" stands
        a hundred thousand times, that alone outruns a page view's budget. A word the index
        knows is taken as finished; anything else is still completed. (Names are short, so
        the names-only table keeps completing always.)
        """
        last = query.include[-1] if query.include else None
        if last is None or not last.implicit:
            return query
        known = select(_everything.c.rowid).where(
            literal_column(TABLE).op("MATCH")(f'"{last.tokens[-1]}"')
        ).limit(1)
        if await session.scalar(known) is None:
            return query
        finished = Term(last.tokens)
        return Query(query.text, (*query.include[:-1], finished), query.exclude)

    async def _ranked(self, session: AsyncSession, index: TableClause, matching: Select[int],
                      limit: int, offset: int) -> Matches:
        """Best first: the newest CANDIDATES matches ranked by bm25, then any older ones.

        Scoring every match of a common word ("linux", "flac") costs milliseconds per
        thousand, far over a page view's budget on a large catalogue. FTS5 hands matches
        over newest (highest rowid) first, so the newest CANDIDATES are read with their
        scores in one pass and ranked here. Deeper pages use the same order in SQL:
        (older than the candidates, bm25, newer first), so paging never skips or repeats.
        """
        rowid: ColumnElement[int] = index.c.rowid
        weights = WEIGHTS.values() if index is _everything else NAME_WEIGHTS.values()
        rank = func.bm25(literal_column(index.name), *weights)
        candidates = (await session.execute(
            matching.add_columns(rank).order_by(rowid.desc()).limit(CANDIDATES)
        )).all()
        ranked = sorted(candidates, key=lambda row: (row[1], -row[0]))
        if len(candidates) < CANDIDATES:  # every match is a candidate
            return Matches([row[0] for row in ranked[offset : offset + limit]], len(candidates))
        total = await self._count(session, matching)
        if offset + limit <= len(ranked):
            return Matches([row[0] for row in ranked[offset : offset + limit]], total)
        oldest = candidates[-1][0]
        deeper = matching.order_by(rowid < oldest, rank, rowid.desc()).limit(limit).offset(offset)
        return Matches(list((await session.scalars(deeper)).all()), total)

    async def _count(self, session: AsyncSession, matching: Select[int]) -> int:
        counted = select(func.count()).select_from(matching.limit(MAX_RESULTS).subquery())
        return (await session.scalar(counted)) or 0
