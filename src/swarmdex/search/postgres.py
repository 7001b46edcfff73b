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
score and sorted here, deeper pages continue in the same order in SQL.
"""

from __future__ import annotations

import asyncio
from typing import Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    cast,
    column,
    delete,
    func,
    literal,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import REAL, TSQUERY, TSVECTOR, insert
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


def _ts_query(query: Query) -> ColumnElement[object]:
    return cast(literal(tsquery(query)), TSQUERY)


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
        vector = documents.c.everything if in_files else documents.c.names
        if in_files:
            query = await self._finished_last_word(session, query)
        ts_query = _ts_query(query)
        torrent_id: ColumnElement[int] = documents.c.torrent_id
        matching = select(torrent_id).where(vector.op("@@")(ts_query))
        if category_id is not None or newest_first:
            matching = matching.join(Torrent, Torrent.id == torrent_id)
        if category_id is not None:
            matching = matching.where(Torrent.category_id == category_id)
        if newest_first:
            page = matching.order_by(Torrent.created_at.desc(), torrent_id.desc())
            ids = list((await session.scalars(page.limit(limit).offset(offset))).all())
            return Matches(ids, await self._count(session, matching))
        rank = func.ts_rank(_WEIGHTS, vector, ts_query, type_=REAL)
        return await self._ranked(session, matching, rank, limit, offset)

    async def _finished_last_word(self, session: AsyncSession, query: Query) -> Query:
        """As the FTS5 backend: a last word the index already knows is taken as typed, so
        that completing it does not merge the postings of every longer word in file lists."""
        last = query.include[-1] if query.include else None
        if last is None or not last.implicit:
            return query
        word = Query(last.tokens[-1], (Term((last.tokens[-1],)),))
        known = select(documents.c.torrent_id).where(
            documents.c.everything.op("@@")(_ts_query(word))
        ).limit(1)
        if await session.scalar(known) is None:
            return query
        return Query(query.text, (*query.include[:-1], Term(last.tokens)), query.exclude)

    async def _ranked(self, session: AsyncSession, matching: Select[int],
                      rank: ColumnElement[float], limit: int, offset: int) -> Matches:
        torrent_id: ColumnElement[int] = documents.c.torrent_id
        candidates = (await session.execute(
            matching.add_columns(rank).order_by(torrent_id.desc()).limit(CANDIDATES)
        )).all()
        ranked = sorted(candidates, key=lambda row: (-row[1], -row[0]))
        if len(candidates) < CANDIDATES:
            return Matches([row[0] for row in ranked[offset : offset + limit]], len(candidates))
        total = await self._count(session, matching)
        if offset + limit <= len(ranked):
            return Matches([row[0] for row in ranked[offset : offset + limit]], total)
        oldest = candidates[-1][0]
        # ts_rank is a real: the candidates were sorted on the same values, so the order
        # below agrees with them (newer than `oldest` first, then by score).
        deeper = matching.order_by(torrent_id < oldest, rank.desc(), torrent_id.desc())
        return Matches(list((await session.scalars(deeper.limit(limit).offset(offset))).all()),
                       total)

    async def _count(self, session: AsyncSession, matching: Select[int]) -> int:
        counted = select(func.count()).select_from(matching.limit(MAX_RESULTS).subquery())
        return (await session.scalar(counted)) or 0
