"""Browsing and searching the catalogue: /browse, /c/{slug}, /tag/{name}, /search.

Every list shows live seeders, leechers and completed downloads from the tracker. Query
parameters are read leniently: an unknown sort or a cursor that cannot be read gives the
default list, a size that cannot be read an explanation, never an error page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex.bittorrent.magnet import MagnetError, parse_magnet
from swarmdex.db.models import Category, Tag, Torrent
from swarmdex.search import services as search_service
from swarmdex.search.catalogue import BrowsePage, Filters, Sort, browse
from swarmdex.search.sizes import SizeError, parse_size
from swarmdex.search.swarms import SwarmCounter
from swarmdex.torrents import services as torrents
from swarmdex.web.context import Ctx
from swarmdex.web.pages.torrents import torrent_path
from swarmdex.web.templates import render

router = APIRouter(include_in_schema=False)

PER_PAGE: Final = 50
SEARCH_PER_PAGE: Final = 50
_TRUE: Final = frozenset({"1", "on", "true", "yes"})


# --------------------------------------------------------------------------- shared


async def swarm_counter(request: Request, ctx: Ctx) -> SwarmCounter:
    """The app's SwarmCounter: one per process, so its snapshot is shared by every page."""
    state = request.app.state
    counter: SwarmCounter | None = getattr(state, "swarm_counter", None)
    if counter is None or counter.store is not ctx.tracker:
        counter = state.swarm_counter = SwarmCounter(ctx.tracker)
    return counter


Swarms = Annotated[SwarmCounter, Depends(swarm_counter)]


def flag(value: str | None) -> bool:
    """A checkbox or query flag: "1", "on", "true", "yes"."""
    return value is not None and value.strip().lower() in _TRUE


def sort_of(value: str | None) -> Sort:
    try:
        return Sort(value or Sort.DATE)
    except ValueError:
        return Sort.DATE


def descending_of(value: str | None) -> bool | None:
    return {"asc": False, "desc": True}.get(value or "")


async def category_by_slug(session: AsyncSession, slug: str) -> Category:
    category = await session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise HTTPException(404)
    return category


async def tag_by_name(session: AsyncSession, name: str) -> Tag:
    tag = await session.scalar(select(Tag).where(Tag.name == name))
    if tag is None:
        raise HTTPException(404)
    return tag


@dataclass(frozen=True, slots=True)
class ListingParams:
    """The browse query string, as typed (to fill the filter form in again)."""

    sort: str | None = None
    order: str | None = None
    category: str | None = None
    min_size: str | None = None
    max_size: str | None = None
    seeded: str | None = None
    after: str | None = None
    before: str | None = None

    def url(self, path: str, **changes: str | None) -> str:
        """`path` with these parameters, `changes` applied, empty ones left out."""
        values = {
            "sort": self.sort, "order": self.order, "category": self.category,
            "min_size": self.min_size, "max_size": self.max_size, "seeded": self.seeded,
            "after": self.after, "before": self.before,
        } | changes
        query = urlencode({k: v for k, v in values.items() if v})
        return f"{path}?{query}" if query else path


# --------------------------------------------------------------------------- browse


async def _listing_params(
    sort: str | None = None, order: str | None = None, category: str | None = None,
    min_size: str | None = None, max_size: str | None = None, seeded: str | None = None,
    after: str | None = None, before: str | None = None,
) -> ListingParams:
    # A coroutine, not the class itself: FastAPI would construct the class in a worker thread.
    return ListingParams(sort, order, category, min_size, max_size, seeded, after, before)


# The listing's query string.
Listing = Annotated[ListingParams, Depends(_listing_params)]


@router.get("/browse", response_class=HTMLResponse)
async def browse_all(request: Request, ctx: Ctx, swarms: Swarms, params: Listing) -> HTMLResponse:
    async with ctx.db() as session:
        fixed = await category_by_slug(session, params.category) if params.category else None
        return await _listing(request, session, swarms, params, path="/browse",
                              heading="Browse", category=fixed)


@router.get("/c/{slug}", response_class=HTMLResponse)
async def browse_category(request: Request, slug: str, ctx: Ctx, swarms: Swarms,
                          params: Listing) -> HTMLResponse:
    params = replace(params, category=None)  # the path names the category
    async with ctx.db() as session:
        category = await category_by_slug(session, slug)
        return await _listing(request, session, swarms, params, path=f"/c/{slug}",
                              heading=category.name, category=category,
                              feed=f"/rss/c/{slug}")


@router.get("/tag/{name}", response_class=HTMLResponse)
async def browse_tag(request: Request, name: str, ctx: Ctx, swarms: Swarms,
                     params: Listing) -> HTMLResponse:
    async with ctx.db() as session:
        tag = await tag_by_name(session, name)
        fixed = await category_by_slug(session, params.category) if params.category else None
        return await _listing(request, session, swarms, params, path=f"/tag/{name}",
                              heading=f"Tagged {tag.name}", category=fixed, tag=tag,
                              feed=f"/rss/tag/{name}")


async def _listing(
    request: Request,
    session: AsyncSession,
    swarms: SwarmCounter,
    params: ListingParams,
    *,
    path: str,
    heading: str,
    category: Category | None = None,
    tag: Tag | None = None,
    feed: str = "/rss",
) -> HTMLResponse:
    errors: list[str] = []
    sizes: list[int | None] = []
    for label, text in (("Minimum size", params.min_size), ("Maximum size", params.max_size)):
        try:
            sizes.append(parse_size(text))
        except SizeError as exc:
            errors.append(f"{label}: {exc}")
            sizes.append(None)
    sort = sort_of(params.sort)
    filters = Filters(
        category_id=category.id if category else None,
        tag_id=tag.id if tag else None,
        min_size=sizes[0],
        max_size=sizes[1],
        seeded=flag(params.seeded),
    )
    page = await browse(
        session, swarms, sort=sort, descending=descending_of(params.order), filters=filters,
        after=params.after, before=params.before, per_page=PER_PAGE,
    )
    descending = sort.descending_by_default if sort.by_count else descending_of(params.order)
    if descending is None:
        descending = sort.descending_by_default
    return render(
        request,
        "browse/list.html",
        heading=heading,
        path=path,
        feed=feed,
        rows=[(e.torrent, e.counts, None, None) for e in page.entries],
        params=params,
        sort=sort.value,
        descending=descending,
        sorts=_sort_links(params, path, sort, descending),
        categories=await torrents.categories(session) if tag is not None or path == "/browse" else [],
        errors=errors,
        pager=_pager(page, params, path),
    )


def _sort_links(params: ListingParams, path: str, current: Sort, descending: bool) -> dict[str, str]:
    """Column header links: a column sorts by itself; the current one flips its order."""
    links = {}
    for sort in Sort:
        order: str | None = None
        if sort is current and not sort.by_count:
            order = "asc" if descending else "desc"
        links[sort.value] = params.url(path, sort=sort.value, order=order, after=None, before=None)
    return links


def _pager(page: BrowsePage, params: ListingParams, path: str) -> dict[str, str]:
    links = {}
    if page.previous is not None:
        links["previous"] = params.url(path, after=None, before=page.previous)
        links["first"] = params.url(path, after=None, before=None)
    if page.next is not None:
        links["next"] = params.url(path, after=page.next, before=None)
    return links


# --------------------------------------------------------------------------- search


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request,
    ctx: Ctx,
    swarms: Swarms,
    q: str = "",
    in_files: str | None = None,
    category: str | None = None,
    page: str | None = None,
) -> Response:
    text = q.strip()
    number = int(page) if page and page.isdigit() and len(page) < 7 else 1
    async with ctx.db() as session:
        named = await find_named(session, text)
        if named is not None:
            return RedirectResponse(torrent_path(named), status_code=303)
        categories = await torrents.categories(session)
        found = None
        if text:
            found = await search_service.search(
                session, text, in_files=flag(in_files), category=category or None,
                page=number, per_page=SEARCH_PER_PAGE,
            )
    counts = await swarms.live([r.torrent for r in found.results]) if found else []
    params = {"q": text, "in_files": "1" if flag(in_files) else None, "category": category or None}

    def page_url(n: int) -> str:
        return "/search?" + urlencode({k: v for k, v in (params | {"page": str(n)}).items() if v})

    return render(
        request,
        "browse/search.html",
        query=text,
        in_files=flag(in_files),
        category=category or "",
        categories=categories,
        found=found,
        rows=[(r.torrent, c, r.title, r.file) for r, c in zip(found.results, counts, strict=True)]
        if found else [],
        previous_url=page_url(found.page - 1) if found and found.page > 1 else None,
        next_url=page_url(found.page + 1) if found and found.has_next else None,
        feed="/rss/search?" + urlencode({"q": text}) if text else None,
    )


async def find_named(session: AsyncSession, text: str) -> Torrent | None:
    """The torrent a search names by info hash (40 or 64 hex digits) or magnet link."""
    if torrents.parse_hash(text) is not None:
        return await torrents.find(session, text)
    if text[:8].lower() == "magnet:?":
        try:
            magnet = parse_magnet(text)
        except MagnetError:
            return None
        for digest in (magnet.v1, magnet.v2):
            if digest is not None and (found := await torrents.find(session, digest.hex())):
                return found
    return None
