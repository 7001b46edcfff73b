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
they are found on PostgreSQL, and why a large total is estimated rather than counted).

Every search statement is planned for its own tsquery (`_CUSTOM_PLANS`): a word in three
torrents and a word in half the catalogue need different plans.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
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
    oldest. The first two also return the lowest and highest id in the index, from which
    `_estimate` scales a count."""

    newest_candidates: Select[int, float, int, int]
    deeper: Select[int]
    newest_first: Select[int, int, int]


@functools.cache
def _statements(*, in_files: bool, in_category: bool, join_torrents: bool,
                candidates: int) -> _Statements:
    vector = documents.c.everything if in_files else documents.c.names
    torrent_id: ColumnElement[int] = documents.c.torrent_id
    matching = select(torrent_id).where(vector.op("@@")(_TS_QUERY))
    if join_torrents:
        matching = matching.join(Torrent, Torrent.id == torrent_id)
    if in_category:
        matching = matching.where(Torrent.category_id == bindparam("category_id"))
    rank = func.ts_rank(_WEIGHTS, vector, _TS_QUERY, type_=REAL)
    # Two ends of the primary key, read once per statement (an InitPlan each).
    span = documents.alias("span")
    first = select(func.min(span.c.torrent_id)).scalar_subquery()
    last = select(func.max(span.c.torrent_id)).scalar_subquery()
    # ts_rank is a real: `_ranked` sorted the candidates on the same values, so the order of
    # `deeper` agrees with theirs (newer than the oldest candidate first, then by score).
    deeper = matching.order_by(torrent_id < bindparam("oldest"), rank.desc(), torrent_id.desc())
    # Scored outside the subquery: when the plan reads every match and sorts them, ts_rank
    # (thousands of operations for a file list) runs only for the CANDIDATES kept.
    newest = matching.add_columns(vector.label("vector")).order_by(torrent_id.desc()) \
        .limit(candidates).subquery("newest")
    scored = func.ts_rank(_WEIGHTS, newest.c.vector, _TS_QUERY, type_=REAL)
    return _Statements(
        newest_candidates=select(newest.c.torrent_id, scored, first, last),
        deeper=deeper.limit(bindparam("limit")).offset(bindparam("offset")),
        newest_first=matching.add_columns(first, last)
        .order_by(Torrent.created_at.desc(), torrent_id.desc())
        .limit(bindparam("limit")).offset(bindparam("offset")),
    )


def _estimate(found: int, oldest: int, first: int, last: int) -> int:
    """How many rows match in all, when `found` of them are among those from id `oldest`
    to the newest, `last` (`first` is the oldest id in the index): the same share of
    every row, rounded to two significant digits, at least `found`, at most MAX_RESULTS.
    Ids are dense but for deleted torrents, so a span of ids stands for its rows."""
    share = found / max(1, last - oldest + 1)
    estimate = share * (last - first + 1)
    digits = len(str(int(estimate)))
    rounded = round(estimate, 2 - digits) if digits > 2 else round(estimate)
    return min(MAX_RESULTS, max(found, int(rounded)))


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
            join_torrents=category_id is not None or newest_first, candidates=CANDIDATES)
        parameters = {"ts_query": tsquery(query), "category_id": category_id,
                      "limit": limit, "offset": offset}
        if newest_first:  # (feeds: the total is not shown)
            rows = (await session.execute(statements.newest_first, parameters)).all()
            ids = [row[0] for row in rows]
            if len(rows) < limit:  # the last page: the total is known
                return Matches(ids, min(MAX_RESULTS, offset + len(rows)))
            _, first, last = rows[0]
            return Matches(ids, _estimate(offset + len(rows), min(ids), first, last), exact=False)
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

        One statement (`newest_candidates`) reads the newest CANDIDATES matches with their
        score, in the plan PostgreSQL picks for the words: every match from the GIN index
        for a rare word; for a common one, a walk down the primary key testing each row,
        which stops after about CANDIDATES / (share of rows matching) rows.

        When fewer than CANDIDATES match, all were read and the total is exact. Otherwise
        it is estimated from how far the newest CANDIDATES reach back (`_estimate`). An
        exact count would read every match from the table, since GIN does not count from
        the index alone: at 1,000,000 torrents that took 15-40 ms for words in 1-3 % of
        them, more than all the rest of a search page (`bench/site_catalogue.py
        --database postgresql`). The FTS5 backend counts from its index and stays exact.
        """
        rows = (await session.execute(statements.newest_candidates, parameters)).all()
        candidates = [(found, score) for found, score, _first, _last in rows]
        ranked = sorted(candidates, key=lambda row: (-row[1], -row[0]))
        if len(rows) < CANDIDATES:
            return Matches([row[0] for row in ranked[offset : offset + limit]],
                           min(MAX_RESULTS, len(rows)))
        oldest = min(row[0] for row in candidates)
        _, _, first, last = rows[0]
        total = _estimate(len(rows), oldest, first, last)
        if offset + limit <= len(ranked):
            return Matches([row[0] for row in ranked[offset : offset + limit]], total, exact=False)
        ids = list((await session.scalars(statements.deeper, parameters | {"oldest": oldest})).all())
        if 0 < len(ids) < limit:  # the last page: the total is known now
            return Matches(ids, min(MAX_RESULTS, offset + len(ids)))
        return Matches(ids, total, exact=False)
