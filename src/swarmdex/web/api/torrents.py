"""JSON API for torrents: upload, look up one torrent, list the categories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from swarmdex.db.models import Torrent
from swarmdex.sitecfg import services as site_config
from swarmdex.takedowns import services as takedowns
from swarmdex.torrents import services
from swarmdex.torrents.fields import UploadError
from swarmdex.torrents.forms import bounded_form, read_upload
from swarmdex.web.api import PREFIX, ErrorOut, error_responses
from swarmdex.web.auth import ApiUser
from swarmdex.web.bans import refuse_banned_networks
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.pages.torrents import (
    TooManyUploads,
    check_upload_rate,
    download_path,
    publish,
    swarm_counts,
    torrent_path,
    upload_status,
)
from swarmdex.web.private import announce_urls
from swarmdex.web.sitemode import writes

router = APIRouter(prefix=PREFIX, tags=["torrents"])

# Files listed in one answer; `file_count` always has the real number.
FILES_LISTED: Final = 10_000


class TorrentLinks(BaseModel):
    info_hash: str = Field(
        description="The torrent's name in URLs: its v1 hash in hex, or for a v2-only "
        "torrent its v2 hash truncated to 20 bytes (what v2 clients announce)."
    )
    info_hash_v1: str | None = Field(description="SHA-1 info hash (hex), if the torrent has v1 data.")
    info_hash_v2: str | None = Field(description="SHA-256 info hash (hex), if the torrent is v2 or hybrid.")
    url: str = Field(description="The torrent's page.")
    download_url: str = Field(description="The .torrent file, with the site's trackers first.")
    magnet: str = Field(description="Magnet link with the same trackers.")


class TorrentCreated(TorrentLinks):
    """The torrent just uploaded."""


class FileOut(BaseModel):
    path: str = Field(
        description="Below the torrent's directory ('/'-separated); for a single-file "
        "torrent, the file's name."
    )
    size: int


class TorrentOut(TorrentLinks):
    """One torrent, with live swarm counts from the tracker."""

    name: str = Field(description="The info dictionary's name: what clients save it as.")
    title: str
    description: str = Field(description="Markdown, as the uploader wrote it.")
    category: str = Field(description="Category slug.")
    category_name: str
    tags: list[str]
    uploader: str | None = Field(description="null for an anonymous upload.")
    size: int = Field(description="Bytes of data (pad files not counted).")
    file_count: int
    files: list[FileOut] = Field(description=f"The first {FILES_LISTED:,} files, in order.")
    piece_length: int
    seeders: int
    leechers: int
    completed: int
    created_at: datetime


class CategoryOut(BaseModel):
    slug: str
    name: str


class DuplicateOut(ErrorOut):
    info_hash: str = Field(description="The torrent already on the site.")
    url: str


# The form is read by bounded_form (under the size limit), not declared as parameters, so
# its shape is given to OpenAPI here.
_UPLOAD_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "category"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The .torrent file."},
                        "category": {"type": "string", "description": "A slug from GET /api/v1/categories."},
                        "title": {"type": "string", "maxLength": 255, "description": "Default: the torrent's name."},
                        "description": {"type": "string", "maxLength": 50000, "description": "Markdown."},
                        "tags": {"type": "string", "description": "Comma-separated, at most 10."},
                        "anonymous": {"type": "boolean", "default": False},
                    },
                }
            }
        },
    }
}


@router.post(
    "/torrents",
    status_code=201,
    response_model=TorrentCreated,
    summary="Upload a torrent",
    openapi_extra=_UPLOAD_BODY,
    # ApiUser refuses banned accounts.
    dependencies=[writes("Uploads"), Depends(refuse_banned_networks)],
    responses={
        **error_responses(400, 401, 403, 413, 422),
        409: {"model": DuplicateOut, "description": "The torrent is already on the site"},
        429: {"model": ErrorOut, "description": "Too many uploads from this account or "
              "address in the last hour; `Retry-After` says when to try again"},
    },
)
async def create(request: Request, response: Response, ctx: Ctx, user: ApiUser) -> Any:
    """Upload a .torrent (multipart form). Needs an API token. The tracker serves the
    torrent as soon as this answers."""
    max_bytes = await site_config.upload_limit(ctx)
    try:
        await check_upload_rate(request, ctx, user)
        async with bounded_form(request, max_bytes) as form_request:
            form = await read_upload(await form_request.form(), max_bytes)
            torrent = await publish(ctx, user, form, max_bytes)
    except UploadError as error:
        if error.existing is not None:
            return JSONResponse(
                DuplicateOut(
                    detail=error.message,
                    info_hash=services.info_hash(error.existing),
                    url=_absolute(ctx, torrent_path(error.existing)),
                ).model_dump(),
                status_code=409,
            )
        headers = (
            {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyUploads) else None
        )
        raise HTTPException(upload_status(error), error.message, headers=headers) from None
    links = _links(ctx, torrent, await announce_urls(ctx, request))
    response.headers["Location"] = links["url"]
    return TorrentCreated(**links)


@router.get(
    "/torrents/{info_hash}",
    response_model=TorrentOut,
    summary="One torrent",
    responses=error_responses(404, 451),
)
async def show(request: Request, info_hash: str, ctx: Ctx) -> TorrentOut:
    """A torrent by its v1 hash, its v2 hash or its truncated v2 hash (hex)."""
    async with ctx.db() as session:
        torrent = await services.find(session, info_hash)
        if torrent is None:
            removed = await takedowns.taken_down(session, services.parse_hash(info_hash))
            if removed is not None:
                raise HTTPException(451, takedowns.REMOVED.format(number=removed.notice_id))
            raise HTTPException(404, "No torrent on this site has that info hash.")
        files = await services.files(session, torrent, FILES_LISTED)
    counts = await swarm_counts(ctx, torrent)
    anonymous = torrent.anonymous or torrent.uploader is None
    return TorrentOut(
        **_links(ctx, torrent, await announce_urls(ctx, request)),
        name=torrent.name,
        title=torrent.title,
        description=torrent.description,
        category=torrent.category.slug,
        category_name=torrent.category.name,
        tags=[tag.name for tag in torrent.tags],
        uploader=None if anonymous or torrent.uploader is None else torrent.uploader.name,
        size=torrent.size,
        file_count=torrent.file_count,
        files=[FileOut(path=f.path, size=f.size) for f in files],
        piece_length=torrent.piece_length,
        seeders=counts.complete,
        leechers=counts.incomplete,
        completed=counts.downloaded,
        created_at=torrent.created_at,
    )


@router.get("/categories", response_model=list[CategoryOut], summary="Categories")
async def category_list(ctx: Ctx) -> list[CategoryOut]:
    """Every category, in the site's order; uploads name one by its slug."""
    async with ctx.db() as session:
        return [CategoryOut(slug=c.slug, name=c.name) for c in await services.categories(session)]


def _links(ctx: SiteContext, torrent: Torrent, urls: Sequence[str]) -> dict[str, Any]:
    return {
        "info_hash": services.info_hash(torrent),
        "info_hash_v1": torrent.info_hash_v1.hex() if torrent.info_hash_v1 else None,
        "info_hash_v2": torrent.info_hash_v2.hex() if torrent.info_hash_v2 else None,
        "url": _absolute(ctx, torrent_path(torrent)),
        "download_url": _absolute(ctx, download_path(torrent)),
        "magnet": services.magnet(torrent, urls),
    }


def _absolute(ctx: SiteContext, path: str) -> str:
    return ctx.base_url.rstrip("/") + path
