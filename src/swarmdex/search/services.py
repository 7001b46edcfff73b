"""Search services: keep the index in step with the catalogue, answer searches.

Called by the torrents service (`index_torrent` inside the upload transaction), by the
search page, the JSON API and the feeds. Which backend serves depends on the database the
session is bound to (see `backend_for`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from markupsafe import Markup
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, joinedload

from swarmdex import deceptive
from swarmdex.db.models import Category, Tag, Torrent, TorrentFile, torrent_tags
from swarmdex.search.backend import MAX_RESULTS, BadQuery, Document, SearchBackend
from swarmdex.search.fts5 import Fts5Backend
from swarmdex.search.highlight import highlight, matches, snippet
from swarmdex.search.postgres import TsvectorBackend
from swarmdex.search.query import Query, parse

__all__ = [
    "MAX_INDEXED_FILES",
    "SearchPage",
    "SearchResult",
    "backend_for",
    "index_torrent",
    "load_torrents",
    "reindex",
    "remove",
    "search",
]

# File paths indexed per torrent: enough for any real release; a torrent of 100,000 files
# would otherwise make one index entry of megabytes.
MAX_INDEXED_FILES: Final = 10_000
# Paths read per result to find the one that matched, when searching in files.
_FILES_SCANNED: Final = 2_000
_REINDEX_BATCH: Final = 500

_FTS5: Final = Fts5Backend()
_TSVECTOR: Final = TsvectorBackend()


def backend_for(session: AsyncSession) -> SearchBackend:
    """FTS5 on SQLite, tsvector on PostgreSQL (the two databases swarmdex runs on)."""
    return _FTS5 if session.get_bind().dialect.name == "sqlite" else _TSVECTOR


# --------------------------------------------------------------------------- indexing


async def index_torrent(session: AsyncSession, torrent: Torrent, *,
                        file_tokens: str | None = None) -> None:
    """Add `torrent` to the search index, or refresh its entry, in the caller's transaction.

    Reads the title, the info-dictionary name, the tags and the file paths. Files and tags
    set on the object (a new upload) are used as they are; otherwise they are read from
    the database. `file_tokens`, when given, is `paths_token_text` of the first
    `MAX_INDEXED_FILES` paths, made beforehand (the files are then not read at all).
    Call it again after changing any of these.
    """
    state = inspect(torrent)
    if state.transient:
        raise ValueError("index_torrent: add the torrent to the session first")
    if state.pending:
        await session.flush()  # the index entry is keyed by the torrent's id
    await backend_for(session).index(session, await _document(session, torrent, file_tokens))


async def remove(session: AsyncSession, torrent_id: int) -> None:
    """Drop a torrent from the index. Searches skip deleted torrents anyway; this frees the
    space (call `index_torrent` again if the torrent comes back)."""
    await backend_for(session).remove(session, torrent_id)


async def reindex(session: AsyncSession) -> int:
    """Rebuild every torrent's entry (after a tokenizer change); returns how many."""
    done = 0
    last_id = 0
    while True:
        batch = (
            await session.scalars(
                select(Torrent)
                .where(Torrent.id > last_id, Torrent.deleted_at.is_(None))
                .order_by(Torrent.id)
                .limit(_REINDEX_BATCH)
            )
        ).all()
        if not batch:
            return done
        for torrent in batch:
            await index_torrent(session, torrent)
        done += len(batch)
        last_id = batch[-1].id


async def _document(session: AsyncSession, torrent: Torrent,
                    file_tokens: str | None = None) -> Document:
    unloaded = inspect(torrent).unloaded
    if "tags" in unloaded:
        tags = list(
            await session.scalars(
                select(Tag.name)
                .join(torrent_tags, torrent_tags.c.tag_id == Tag.id)
                .where(torrent_tags.c.torrent_id == torrent.id)
            )
        )
    else:
        tags = [tag.name for tag in torrent.tags]
    if file_tokens is not None:
        return Document(torrent.id, torrent.title, torrent.name, tags, file_tokens=file_tokens)
    if "files" in unloaded:
        files = list(
            await session.scalars(
                select(TorrentFile.path)
                .where(TorrentFile.torrent_id == torrent.id)
                .order_by(TorrentFile.position)
                .limit(MAX_INDEXED_FILES)
            )
        )
    else:
        files = [file.path for file in torrent.files[:MAX_INDEXED_FILES]]
    return Document(torrent.id, torrent.title, torrent.name, tags, files)


# --------------------------------------------------------------------------- searching


@dataclass(frozen=True, slots=True)
class SearchResult:
    torrent: Torrent  # with `category` and `uploader` loaded
    title: Markup  # the title, escaped, matched words in <mark>
    file: Markup | None = None  # a matching file path, when the title alone did not match


@dataclass(frozen=True, slots=True)
class SearchPage:
    query: Query
    results: list[SearchResult] = field(default_factory=list)
    total: int = 0  # at most MAX_RESULTS
    page: int = 1
    per_page: int = 50
    error: str | None = None  # for the visitor: why there are no results
    exact: bool = True  # False: `total` is an estimate ("about 19,000 results")

    @property
    def capped(self) -> bool:
        """More matches than are counted (the visitor should narrow the search)."""
        return self.total >= MAX_RESULTS

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        # An estimate may promise pages that a short page shows are not there.
        return self.page < self.pages and (self.exact or len(self.results) == self.per_page)


async def search(
    session: AsyncSession,
    query: str | Query,
    *,
    in_files: bool = False,
    category: str | None = None,
    newest_first: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> SearchPage:
    """The `page`-th page of torrents matching `query`, best first (or newest first, for
    feeds). Never raises for what a visitor typed: an unusable query comes back with
    `error` set and no results."""
    parsed = parse(query) if isinstance(query, str) else query
    per_page = max(1, per_page)
    page = max(1, min(page, math.ceil(MAX_RESULTS / per_page)))
    empty = SearchPage(parsed, page=page, per_page=per_page)
    if not parsed.usable:
        return _with_error(empty, "Type a word to search for." if not parsed.text else
                           "Nothing searchable in that: use letters or digits.")
    category_id = None
    if category is not None:
        category_id = await session.scalar(select(Category.id).where(Category.slug == category))
        if category_id is None:
            return _with_error(empty, "There is no such category.")
    try:
        found = await backend_for(session).search(
            session, parsed, in_files=in_files, newest_first=newest_first,
            category_id=category_id, limit=per_page, offset=(page - 1) * per_page,
        )
    except BadQuery as exc:
        return _with_error(empty, str(exc))
    # Deleting a torrent removes its entry; should one outlive it, it still never shows.
    torrents = [t for t in await load_torrents(session, found.ids) if t.deleted_at is None]
    results = [await _result(session, torrent, parsed, in_files) for torrent in torrents]
    return SearchPage(parsed, results, found.total, page, per_page, exact=found.exact)


def _with_error(page: SearchPage, error: str) -> SearchPage:
    return SearchPage(page.query, [], 0, page.page, page.per_page, error)


async def load_torrents(session: AsyncSession, ids: Sequence[int]) -> list[Torrent]:
    """The torrents with these ids, in this order, category and uploader loaded."""
    if not ids:
        return []
    rows = await session.scalars(
        select(Torrent)
        .where(Torrent.id.in_(ids))
        # Lists never need the info dictionary (up to megabytes a torrent); reading it by
        # mistake raises instead of quietly loading it row by row.
        .options(defer(Torrent.info_dict, raiseload=True), joinedload(Torrent.category),
                 joinedload(Torrent.uploader))
    )
    by_id = {torrent.id: torrent for torrent in rows}
    return [by_id[i] for i in ids if i in by_id]


async def _result(session: AsyncSession, torrent: Torrent, query: Query, in_files: bool) -> SearchResult:
    title = highlight(torrent.title, query)
    if not in_files or matches(torrent.title, query) or matches(torrent.name, query):
        return SearchResult(torrent, title)
    paths = await session.scalars(
        select(TorrentFile.path)
        .where(TorrentFile.torrent_id == torrent.id)
        .order_by(TorrentFile.position)
        .limit(_FILES_SCANNED)
    )
    path = next((p for p in paths if matches(p, query)), None)
    # A path is the torrent's own text: shown with its direction marks written out.
    shown = snippet(deceptive.visible(path), query) if path is not None else None
    return SearchResult(torrent, title, shown)
