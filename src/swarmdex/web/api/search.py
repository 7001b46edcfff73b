"""JSON API for finding torrents: full-text search and the browsable list.

Both answer `{"results": [...]}` with the same fields per torrent (those of
`GET /api/v1/torrents/{info_hash}` that fit a list: no description, files or tags).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Final, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from swarmdex.db.models import Torrent
from swarmdex.protocol.announce import SwarmCounts
from swarmdex.search import services as search_service
from swarmdex.search.catalogue import MAX_PER_PAGE, Filters, Sort, browse
from swarmdex.search.sizes import SizeError, parse_size
from swarmdex.torrents import services as torrents
from swarmdex.web.api import PREFIX, error_responses
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.pages.browse import Swarms, category_by_slug, find_named, tag_by_name
from swarmdex.web.pages.torrents import download_path, torrent_path
from swarmdex.web.private import announce_urls

router = APIRouter(prefix=PREFIX, tags=["search"])


class TorrentSummary(BaseModel):
    """A torrent in a list, with live swarm counts from the tracker."""

    name: str = Field(description="The info dictionary's name: what clients save it as.")
    title: str
    info_hash: str = Field(
        description="The torrent's name in URLs: its v1 hash in hex, or for a v2-only "
        "torrent its v2 hash truncated to 20 bytes."
    )
    info_hash_v1: str | None
    info_hash_v2: str | None
    size: int = Field(description="Bytes of data.")
    file_count: int
    seeders: int
    leechers: int
    completed: int
    category: str = Field(description="Category slug.")
    category_name: str
    uploader: str | None = Field(description="null for an anonymous upload.")
    created_at: datetime
    url: str = Field(description="The torrent's page.")
    download_url: str = Field(description="The .torrent file.")
    magnet: str


class SearchOut(BaseModel):
    results: list[TorrentSummary] = Field(description="Best matches first.")
    total: int = Field(description="Matches, at most 10,000: counted, or estimated when "
                       "`total_exact` is false (a common word on a large site).")
    total_exact: bool = True
    page: int
    pages: int
    error: str | None = Field(
        None, description="Why there are no results, when the query has nothing to search for."
    )


class TorrentListOut(BaseModel):
    results: list[TorrentSummary]
    next: str | None = Field(description="Pass as `after` for the next page; null on the last.")
    previous: str | None = Field(description="Pass as `before` for the page before.")


def summary(ctx: SiteContext, torrent: Torrent, counts: SwarmCounts,
            urls: Sequence[str]) -> TorrentSummary:
    """`urls`: the announce URLs for the magnet (`swarmdex.web.private.announce_urls`)."""
    """`torrent` (category and uploader loaded) as the API lists it."""
    base = ctx.base_url.rstrip("/")
    anonymous = torrent.anonymous or torrent.uploader is None
    return TorrentSummary(
        name=torrent.name,
        title=torrent.title,
        info_hash=torrents.info_hash(torrent),
        info_hash_v1=torrent.info_hash_v1.hex() if torrent.info_hash_v1 else None,
        info_hash_v2=torrent.info_hash_v2.hex() if torrent.info_hash_v2 else None,
        size=torrent.size,
        file_count=torrent.file_count,
        seeders=counts.complete,
        leechers=counts.incomplete,
        completed=counts.downloaded,
        category=torrent.category.slug,
        category_name=torrent.category.name,
        uploader=None if anonymous or torrent.uploader is None else torrent.uploader.name,
        created_at=torrent.created_at,
        url=base + torrent_path(torrent),
        download_url=base + download_path(torrent),
        magnet=torrents.magnet(torrent, urls),
    )


# The sizes `parse_size` reads, as the OpenAPI document states them (so a client or a
# schema-driven test can tell a valid value before sending it): ASCII digits, up to 6
# decimals, an optional binary unit (K, M, G, T, P; "B", "iB" after it are allowed).
SIZE_PATTERN: Final = r"^(?:[0-9]{1,15}(?:[.,][0-9]{1,6})? *[kKmMgGtTpP]?(?:[iI]?[bB])?)?$"
_SIZE_HELP: Final = "Bytes, or with a binary unit: 700M, 4.5G, 1.5 GiB. Empty: no bound."


@router.get("/search", response_model=SearchOut, summary="Search torrents")
async def search(
    request: Request,
    ctx: Ctx,
    swarms: Swarms,
    q: Annotated[str, Query(max_length=1000, description=(
        'Words (all must match; the last may be the start of a word), "a phrase", '
        "prefix*, -excluded. An info hash (40 or 64 hex digits) or a magnet link "
        "answers with that torrent."
    ))],
    in_files: Annotated[bool, Query(description="Match file names too.")] = False,
    category: Annotated[str | None, Query(description="A category slug.")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> SearchOut:
    """Torrents matching a query, best first, with live seeders and leechers."""
    async with ctx.db() as session:
        named = await find_named(session, q.strip())  # category and uploader loaded
        if named is not None:
            (counts,) = await swarms.live([named])
            return SearchOut(results=[summary(ctx, named, counts, await announce_urls(ctx, request))], total=1, page=1, pages=1,
                             error=None)
        found = await search_service.search(
            session, q, in_files=in_files, category=category, page=page, per_page=per_page
        )
    counts_list = await swarms.live([r.torrent for r in found.results])
    urls = await announce_urls(ctx, request)
    return SearchOut(
        results=[summary(ctx, r.torrent, c, urls) for r, c in zip(found.results, counts_list, strict=True)],
        total=found.total,
        total_exact=found.exact,
        page=found.page,
        pages=found.pages,
        error=found.error,
    )


@router.get(
    "/torrents",
    response_model=TorrentListOut,
    summary="List torrents",
    responses=error_responses(404, 422),
)
async def list_torrents(
    request: Request,
    ctx: Ctx,
    swarms: Swarms,
    sort: Sort = Sort.DATE,
    order: Annotated[
        Literal["asc", "desc"] | None,
        Query(description="Default: desc, but asc for name. Counts sort desc only."),
    ] = None,
    category: Annotated[str | None, Query(description="A category slug.")] = None,
    tag: str | None = None,
    min_size: Annotated[str | None, Query(pattern=SIZE_PATTERN, description=_SIZE_HELP)] = None,
    max_size: Annotated[str | None, Query(pattern=SIZE_PATTERN, description=_SIZE_HELP)] = None,
    seeded: Annotated[bool, Query(description="Only torrents with seeders now.")] = False,
    after: Annotated[str | None, Query(max_length=1024, description="`next` of a page.")] = None,
    before: Annotated[str | None, Query(max_length=1024, description="`previous` of a page.")] = None,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> TorrentListOut:
    """The catalogue, page by page: follow `next` with `after=` (keyset paging, so deep
    pages are as fast as the first and no torrent is skipped or repeated)."""
    try:
        sizes = parse_size(min_size), parse_size(max_size)
    except SizeError as exc:
        raise HTTPException(422, str(exc)) from None
    async with ctx.db() as session:
        fixed = await category_by_slug(session, category) if category else None
        tagged = await tag_by_name(session, tag) if tag else None
        filters = Filters(
            category_id=fixed.id if fixed else None,
            tag_id=tagged.id if tagged else None,
            min_size=sizes[0],
            max_size=sizes[1],
            seeded=seeded,
        )
        descending = None if order is None else order == "desc"
        page = await browse(session, swarms, sort=sort, descending=descending, filters=filters,
                            after=after, before=before, per_page=per_page)
    urls = await announce_urls(ctx, request)
    return TorrentListOut(
        results=[summary(ctx, e.torrent, e.counts, urls) for e in page.entries],
        next=page.next,
        previous=page.previous,
    )
