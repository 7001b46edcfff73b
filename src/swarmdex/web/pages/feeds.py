"""RSS 2.0 feeds: /rss (latest), /rss/c/{slug}, /rss/tag/{name}, /rss/search?q=,
/rss/user/{name}.

Each item carries what a BitTorrent client or an *arr application needs without opening
the page: an `<enclosure>` with the .torrent's URL, type and exact length in bytes (the
file as `/t/{hash}.torrent` serves it, built the same way), and Torznab attributes
(`torznab:attr`: size, seeders, leechers, peers, grabs, infohash, magneturl), which those
applications read from any RSS feed. Counts are live from the tracker. Feeds list the
newest torrents first, searches included.

In private mode a reader opens a feed with the member's feed key (`?key=`, see
`swarmdex.web.private`): the feed is that member's, with their passkey in every enclosure and
magnet, and its .torrent links carry the key too, so the reader can fetch them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Final
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from swarmdex import __version__
from swarmdex.accounts.services import user_by_name
from swarmdex.db.models import Torrent
from swarmdex.protocol.announce import SwarmCounts
from swarmdex.search import services as search_service
from swarmdex.search.catalogue import Filters, browse
from swarmdex.torrents import services as torrents
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.pages.browse import Swarms, category_by_slug, flag, tag_by_name
from swarmdex.web.pages.torrents import TORRENT_TYPE, download_path, torrent_path
from swarmdex.web.private import announce_urls, feed_key_query
from swarmdex.web.templates import ENV, filesize

router = APIRouter(include_in_schema=False)

FEED_ITEMS: Final = 50
RSS_TYPE: Final = "application/rss+xml; charset=utf-8"
# Readers poll; a minute of caching spares the database without hiding new uploads long.
CACHE: Final = "public, max-age=60"
# A private site's feeds hold a member's passkey: for the reader's cache only.
PRIVATE_CACHE: Final = "private, max-age=60"
# Characters XML 1.0 forbids even escaped (C0 controls but tab and newlines, lone
# surrogates, U+FFFE/U+FFFF): a title may hold them, a feed must not.
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


@dataclass(frozen=True, slots=True)
class FeedItem:
    title: str
    link: str
    published: str  # RFC 822, as RSS 2.0 wants
    category: str
    description: str
    download_url: str
    length: int  # bytes of the .torrent download
    size: int
    seeders: int
    leechers: int
    completed: int
    info_hash: str
    magnet: str


def feed_item(ctx: SiteContext, torrent: Torrent, counts: SwarmCounts,
              urls: Sequence[str], key_query: str = "") -> FeedItem:
    """`urls`: the announce URLs of the download (`swarmdex.web.private.announce_urls`);
    `key_query`: what the download link needs to open without a cookie (`feed_key_query`)."""
    base = ctx.base_url.rstrip("/")
    # The exact size of the download, as the download route builds it: readers compare the
    # enclosure's length with what they fetch.
    length = torrents.download_length(torrent, urls)
    return FeedItem(
        title=xml_text(torrent.title),
        link=base + torrent_path(torrent),
        published=format_datetime(torrent.created_at.astimezone(UTC), usegmt=True),
        category=xml_text(torrent.category.name),
        description=xml_text(
            f"{torrent.category.name}, {filesize(torrent.size)} in {torrent.file_count:,} "
            f"file{'s' if torrent.file_count != 1 else ''}; {counts.complete:,} seeders, "
            f"{counts.incomplete:,} leechers"
        ),
        download_url=base + download_path(torrent) + key_query,
        length=length,
        size=torrent.size,
        seeders=counts.complete,
        leechers=counts.incomplete,
        completed=counts.downloaded,
        info_hash=torrents.info_hash(torrent),
        magnet=torrents.magnet(torrent, urls),
    )


def rss(request: Request, ctx: SiteContext, *, title: str, page: str, description: str,
        items: Sequence[object], template: str = "feeds/rss.xml") -> Response:
    """The feed; `template` "feeds/news.xml" takes items with only title, link, published
    and description (the news feed, in `swarmdex.web.pages.news`)."""
    base = ctx.base_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    body = ENV.get_template(template).render(
        title=xml_text(title),
        link=base + page,
        self_url=base + request.url.path + query,
        description=xml_text(description),
        built=format_datetime(datetime.now(UTC), usegmt=True),
        version=__version__,
        torrent_type=TORRENT_TYPE,
        items=items,
    )
    cache = PRIVATE_CACHE if ctx.settings.private else CACHE
    return Response(body, media_type=RSS_TYPE, headers={"Cache-Control": cache})


async def _latest(
    request: Request, ctx: SiteContext, session: AsyncSession, swarms: Swarms, filters: Filters
) -> list[FeedItem]:
    page = await browse(session, swarms, filters=filters, per_page=FEED_ITEMS)
    urls, key = await announce_urls(ctx, request), feed_key_query(request)
    return [feed_item(ctx, e.torrent, e.counts, urls, key) for e in page.entries]


def _site(ctx: SiteContext) -> str:
    return ctx.settings.site_name


@router.get("/rss")
async def latest(request: Request, ctx: Ctx, swarms: Swarms) -> Response:
    async with ctx.db() as session:
        items = await _latest(request, ctx, session, swarms, Filters())
    return rss(request, ctx, title=_site(ctx), page="/browse",
               description=f"The latest torrents on {_site(ctx)}", items=items)


@router.get("/rss/c/{slug}")
async def category_feed(request: Request, slug: str, ctx: Ctx, swarms: Swarms) -> Response:
    async with ctx.db() as session:
        category = await category_by_slug(session, slug)
        items = await _latest(request, ctx, session, swarms, Filters(category_id=category.id))
    return rss(request, ctx, title=f"{category.name} · {_site(ctx)}", page=f"/c/{quote(slug)}",
               description=f"The latest {category.name} torrents on {_site(ctx)}", items=items)


@router.get("/rss/tag/{name}")
async def tag_feed(request: Request, name: str, ctx: Ctx, swarms: Swarms) -> Response:
    async with ctx.db() as session:
        tag = await tag_by_name(session, name)
        items = await _latest(request, ctx, session, swarms, Filters(tag_id=tag.id))
    return rss(request, ctx, title=f"Tagged {tag.name} · {_site(ctx)}", page=f"/tag/{quote(name)}",
               description=f"The latest torrents tagged {tag.name} on {_site(ctx)}", items=items)


@router.get("/rss/user/{name}")
async def user_feed(request: Request, name: str, ctx: Ctx, swarms: Swarms) -> Response:
    async with ctx.db() as session:
        user = await user_by_name(session, name)
        if user is None:
            raise HTTPException(404)
        # Anonymous uploads stay anonymous: the filter leaves them out.
        items = await _latest(request, ctx, session, swarms, Filters(uploader_id=user.id))
    return rss(request, ctx, title=f"Uploads by {user.name} · {_site(ctx)}", page="/browse",
               description=f"The latest torrents {user.name} uploaded to {_site(ctx)}",
               items=items)


@router.get("/rss/search")
async def search_feed(
    request: Request, ctx: Ctx, swarms: Swarms, q: str = "", in_files: str | None = None,
    category: str | None = None,
) -> Response:
    async with ctx.db() as session:
        found = await search_service.search(
            session, q, in_files=flag(in_files), category=category or None,
            newest_first=True, per_page=FEED_ITEMS,
        )
    counts = await swarms.live([r.torrent for r in found.results])
    urls, key = await announce_urls(ctx, request), feed_key_query(request)
    items = [feed_item(ctx, r.torrent, c, urls, key)
             for r, c in zip(found.results, counts, strict=True)]
    description = found.error or f"The latest torrents matching {q.strip()!r} on {_site(ctx)}"
    return rss(request, ctx, title=f"{q.strip() or 'Search'} · {_site(ctx)}",
               page="/search?" + urlencode({"q": q.strip()}), description=description,
               items=items)
