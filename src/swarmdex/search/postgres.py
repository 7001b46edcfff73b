"""The PostgreSQL search backend: tsvector columns with GIN indexes, ranked with ts_rank.

One row per torrent in `search_documents` (migration 0014_postgresql), keyed by the
torrent's id, with two vectors made in Python by `tsvector` from `tokenize`'s tokens:

- `names`: title, info-dictionary name and tags, for searches without file names;
- `everything`: the same and the file paths, for searches that include them.

Two vectors for the reason the FTS5 backend has two tables: file lists repeat common words
thousands of times, and a search in names only should not read them. Queries are tsquery
literals built from the parsed `Query` (`tsvector.tsquery`), so what a visitor types never
reaches PostgreSQL's query syntax, and the matching is the FTS5 backend's: every term, `<->`
for phrases and for words that split into several tokens (`24.04`), `:*` for prefixes, `!`
for exclusions.

Ranking follows the FTS5 backend too: the newest CANDIDATES matches are read with their
score and sorted here, deeper pages continue in the same order in SQL (see `_ranked` for how
they are found on PostgreSQL).

Every search statement is planned for its own tsquery (`_CUSTOM_PLANS`): a word in three
torrents and a word in half the catalogue need different plans.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    bindparam,
    cast,
    column,
    delete,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import REAL, TSQUERY, TSVECTOR, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.db.models import Torrent
from swarmdex.search.backend import MAX_RESULTS, BadQuery, Document, Matches
from swarmdex.search.query import Query, Term
from swarmdex.search.tokenize import paths_token_text, token_text
from swarmdex.search.tsvector import document_vectors, tsquery

__all__ = ["TABLE", "TsvectorBackend"]

TABLE: Final = "search_documents"
# ts_rank's weights for D, C, B, A (files, tags, name, title): the FTS5 backend's 1:3:5:10.
WEIGHTS: Final = (0.1, 0.3, 0.5, 1.0)
CANDIDATES: Final = 500
# File token text longer than this (characters; a path counts 50 before it is tokenized) is
# made into vectors in a worker thread.
IN_THREAD_FROM: Final = 20_000
_WEIGHTS: Final[ColumnElement[object]] = literal_column("'{" + ",".join(map(str, WEIGHTS)) + "}'::real[]")

# asyncpg prepares every statement and keeps it per connection, and after five runs
# PostgreSQL may switch a prepared statement to a generic plan, made for any parameters:
# without the tsquery it cannot tell a rare word from a common one. Such plans walked the
# primary key from the newest row testing each, which reads the whole table when fewer than
# CANDIDATES rows match (190 ms instead of 1 ms at 100,000 torrents), and parsed the tsquery
# again for every row read. So the search's statements are planned each time, for their
# tsquery; only they: engine-wide, every page's simple statements would be planned again
# each time, and a tsquery written into the SQL text would prepare a statement per query.
_CUSTOM_PLANS: Final = text("SET LOCAL plan_cache_mode = force_custom_plan")
_CACHED_PLANS: Final = text("SET LOCAL plan_cache_mode = DEFAULT")

documents = table(
    TABLE,
    column("torrent_id", BigInteger),
    column("names", TSVECTOR),
    column("everything", TSVECTOR),
)


def _vectors(document: Document) -> tuple[str, str]:
    files = (document.file_tokens if document.file_tokens is not None
             else paths_token_text(document.files))
    return document_vectors(token_text(document.title), token_text(document.name),
                            " ".join(token_text(tag) for tag in document.tags), files)


# The tsquery of a search: every statement below takes it as this parameter.
_TS_QUERY: Final = cast(bindparam("ts_query", type_=String()), TSQUERY)


@dataclass(frozen=True, slots=True)
class _Statements:
    """A search's statements, made once for each kind of search: building them costs more
    than running them for a rare word. Parameters: ts_query, category_id, limit, offset,
    oldest. See `TsvectorBackend._ranked` for the first two."""

    counted_candidates: Select[int, int | None, float | None]
    newest_candidates: Select[int, float]
    deeper: Select[int]
    newest_first: Select[int]
    count: Select[int]


@functools.cache
def _statements(*, in_files: bool, in_category: bool, join_torrents: bool, candidates: int,
                most: int) -> _Statements:
    vector = documents.c.everything if in_files else documents.c.names
    torrent_id: ColumnElement[int] = documents.c.torrent_id
    matching = select(torrent_id).where(vector.op("@@")(_TS_QUERY))
    if join_torrents:
        matching = matching.join(Torrent, Torrent.id == torrent_id)
    if in_category:
        matching = matching.where(Torrent.category_id == bindparam("category_id"))
    rank = func.ts_rank(_WEIGHTS, vector, _TS_QUERY, type_=REAL)
    found = matching.limit(most).subquery("found")
    newest_ids = aggregate_order_by(found.c.torrent_id, found.c.torrent_id.desc())
    counted = select(
        func.count().label("total"),
        func.array_agg(newest_ids, type_=ARRAY(BigInteger))[1:candidates].label("ids"),
    ).select_from(found).subquery("counted")
    scored = documents.alias("scored")
    counted_candidates = select(
        counted.c.total, scored.c.torrent_id,
        func.ts_rank(_WEIGHTS, scored.c[vector.name], _TS_QUERY, type_=REAL),
    ).select_from(counted.outerjoin(scored, and_(
        scored.c.torrent_id == any_(counted.c.ids), counted.c.total < most)))
    # ts_rank is a real: `_ranked` sorted the candidates on the same values, so the order of
    # `deeper` agrees with theirs (newer than the oldest candidate first, then by score).
    deeper = matching.order_by(torrent_id < bindparam("oldest"), rank.desc(), torrent_id.desc())
    return _Statements(
        counted_candidates=counted_candidates,
        newest_candidates=matching.add_columns(rank).order_by(torrent_id.desc()).limit(candidates),
        deeper=deeper.limit(bindparam("limit")).offset(bindparam("offset")),
        newest_first=matching.order_by(Torrent.created_at.desc(), torrent_id.desc())
        .limit(bindparam("limit")).offset(bindparam("offset")),
        count=select(func.count()).select_from(matching.limit(most).subquery()),
    )


_KNOWN_WORD: Final = select(documents.c.torrent_id).where(
    documents.c.everything.op("@@")(_TS_QUERY)).limit(1)


class TsvectorBackend:
    async def index(self, session: AsyncSession, document: Document) -> None:
        known = document.file_tokens
        if (len(known) if known is not None else len(document.files) * 50) > IN_THREAD_FROM:
            # A long file list takes tens of milliseconds to tokenize and number: not on the
            # event loop that also answers the tracker (the thread yields it the GIL every
            # few milliseconds).
            names, everything = await asyncio.to_thread(_vectors, document)
        else:
            names, everything = _vectors(document)
        values = {"names": cast(literal(names), TSVECTOR),
                  "everything": cast(literal(everything), TSVECTOR)}
        await session.execute(
            insert(documents)
            .values(torrent_id=document.torrent_id, **values)
            .on_conflict_do_update(index_elements=["torrent_id"], set_=values)
        )

    async def remove(self, session: AsyncSession, torrent_id: int) -> None:
        await session.execute(delete(documents).where(documents.c.torrent_id == torrent_id))

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
        # A statement that fails aborts the transaction, which ends the setting with it.
        await session.execute(_CUSTOM_PLANS)
        found = await self._search(session, query, in_files=in_files, newest_first=newest_first,
                                   category_id=category_id, limit=limit, offset=offset)
        await session.execute(_CACHED_PLANS)
        return found

    async def _search(self, session: AsyncSession, query: Query, *, in_files: bool,
                      newest_first: bool, category_id: int | None, limit: int,
                      offset: int) -> Matches:
        if in_files:
            query = await self._finished_last_word(session, query)
        statements = _statements(
            in_files=in_files, in_category=category_id is not None,
            join_torrents=category_id is not None or newest_first,
            candidates=CANDIDATES, most=MAX_RESULTS)
        parameters = {"ts_query": tsquery(query), "category_id": category_id,
                      "limit": limit, "offset": offset}
        if newest_first:
            ids = (await session.scalars(statements.newest_first, parameters)).all()
            total = await session.scalar(statements.count, parameters)
            return Matches(list(ids), total or 0)
        return await self._ranked(session, statements, parameters, limit, offset)

    async def _finished_last_word(self, session: AsyncSession, query: Query) -> Query:
        """As the FTS5 backend: a last word the index already knows is taken as typed, so
        that completing it does not merge the postings of every longer word in file lists."""
        last = query.include[-1] if query.include else None
        if last is None or not last.implicit:
            return query
        word = Query(last.tokens[-1], (Term((last.tokens[-1],)),))
        if await session.scalar(_KNOWN_WORD, {"ts_query": tsquery(word)}) is None:
            return query
        return Query(query.text, (*query.include[:-1], Term(last.tokens)), query.exclude)

    async def _ranked(self, session: AsyncSession, statements: _Statements,
                      parameters: dict[str, Any], limit: int, offset: int) -> Matches:
        """Best first: the newest CANDIDATES matches ranked by ts_rank, then any older ones.

        GIN hands matches over in table order, all of them, each read from the table: not
        newest first, and not counted from the index alone. So one statement
        (`counted_candidates`) reads the matches, at most MAX_RESULTS, once, counts them,
        keeps the ids of the newest CANDIDATES and scores only those (ts_rank of a file list
        compares the positions of every pair of query words: thousands of operations a
        torrent). Walking the primary key down from the newest row instead, testing each,
        reads about CANDIDATES / (the share of rows matching) rows: more than reading every
        match unless the words are common, and the whole table for a rare one. PostgreSQL's
        estimates chose that walk for words in 2% of torrents, where it and the count took
        twice as long as this statement (100,000 torrents).

        Only when MAX_RESULTS matches were read may the newest be among the others; the
        words are then in one row of every (table size / MAX_RESULTS) at least, and the
        newest CANDIDATES are read again (`newest_candidates`), in the plan PostgreSQL picks
        for that: the walk.
        """
        rows = (await session.execute(statements.counted_candidates, parameters)).all()
        total: int = rows[0][0]
        if total < MAX_RESULTS:
            # (One row of NULLs when nothing matched: the counted row has no candidate.)
            candidates = [(found, score) for _total, found, score in rows
                          if found is not None and score is not None]
        else:
            candidates = [(found, score) for found, score in
                          (await session.execute(statements.newest_candidates, parameters)).all()]
        ranked = sorted(candidates, key=lambda row: (-row[1], -row[0]))
        if len(candidates) < CANDIDATES or offset + limit <= len(ranked):
            return Matches([row[0] for row in ranked[offset : offset + limit]], total)
        oldest = min(row[0] for row in candidates)
        deeper = await session.scalars(statements.deeper, parameters | {"oldest": oldest})
        return Matches(list(deeper.all()), total)
