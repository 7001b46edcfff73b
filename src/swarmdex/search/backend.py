"""What a search backend does, whatever the database.

A backend keeps one index entry per torrent (a `Document`) in the caller's transaction, and
answers a parsed `Query` with torrent ids, best first. It knows nothing of pages or markup:
`services` loads the torrents and highlights them.

Backends: `fts5.Fts5Backend` (SQLite, ranked with bm25) and `postgres.TsvectorBackend`
(PostgreSQL, tsvector + GIN, ranked with ts_rank). Both index the tokens of `tokenize` and
match a `Query` the same way; the search tests run on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.search.query import Query

__all__ = ["MAX_RESULTS", "BadQuery", "Document", "Matches", "SearchBackend"]

# The most matches a query counts and pages through: enough for any visitor, and a bound on
# the work of a query that matches half the catalogue ("linux").
MAX_RESULTS: Final = 10_000


class BadQuery(ValueError):
    """The index refused the query; the message is fit for the visitor."""


@dataclass(frozen=True, slots=True)
class Document:
    """What is indexed of one torrent: original text, tokenized by the backend."""

    torrent_id: int
    title: str
    name: str
    tags: Sequence[str] = ()
    files: Sequence[str] = ()
    file_tokens: str | None = None
    """`paths_token_text(files)` when already known: an upload's parse worker makes it
    off the event loop, where tokenizing 10,000 long paths would hold everything up."""


@dataclass(frozen=True, slots=True)
class Matches:
    ids: list[int] = field(default_factory=list)  # best first
    total: int = 0  # capped at MAX_RESULTS
    exact: bool = True
    """False when `total` is estimated: counting every match of a common word costs more
    than the rest of the search on some databases (see `postgres.TsvectorBackend._ranked`)."""


class SearchBackend(Protocol):
    async def index(self, session: AsyncSession, document: Document) -> None:
        """Add or replace the torrent's entry."""
        ...

    async def remove(self, session: AsyncSession, torrent_id: int) -> None:
        """Drop the torrent's entry (nothing happens if there is none)."""
        ...

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
        """Ids of the torrents on the site (never deleted ones) matching `query`, in the
        category if one is given, best first (newest first if asked: feeds); the same query
        always pages through one order. Raises BadQuery if the index cannot run the query."""
        ...
