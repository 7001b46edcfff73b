"""Torrent pages: upload, the detail page, the .torrent download, deletion.

`publish` is shared with the JSON API: it runs the upload in one transaction; the tracker
serves the torrent once that has committed (the service tells it through its port).
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from swarmdex import deceptive
from swarmdex.accounts.services import has_role
from swarmdex.comments import services as comment_services
from swarmdex.db.engine import transaction
from swarmdex.db.models import Role, Torrent, User
from swarmdex.protocol.announce import SwarmCounts
from swarmdex.sitecfg import services as site_config
from swarmdex.takedowns import services as takedowns
from swarmdex.torrents import services
from swarmdex.torrents.fields import UploadError, UploadTooLarge
from swarmdex.torrents.filetree import build_tree, shown_as_single_file
from swarmdex.torrents.forms import UploadForm, bounded_form, read_upload
from swarmdex.torrents.parsing import parse_limits
from swarmdex.web.auth import Viewer
from swarmdex.web.bans import Member, refuse_banned_networks
from swarmdex.web.context import Ctx, SiteContext
from swarmdex.web.private import announce_urls
from swarmdex.web.ratelimit import Rate, attempt
from swarmdex.web.security import require_csrf
from swarmdex.web.sitemode import writes
from swarmdex.web.templates import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("swarmdex.uploads")

# Files listed on a detail page; the rest are counted, not shown.
FILES_SHOWN: Final = 1000
TORRENT_TYPE: Final = "application/x-bittorrent"
_UNSAFE_FILENAME_RE: Final = re.compile(r"[^A-Za-z0-9._ -]+")
_HOUR: Final = 3600.0


# --------------------------------------------------------------------------- shared with the API


async def publish(ctx: SiteContext, user: User, form: UploadForm, max_bytes: int) -> Torrent:
    """Upload in one transaction: once it has committed, the torrent is announceable."""
    async with transaction(ctx.db) as session:
        torrent = await services.upload(
            session,
            data=form.data,
            uploader=user,
            category_slug=form.category,
            title=form.title,
            description=form.description,
            tags=form.tags,
            anonymous=form.anonymous,
            max_size=max_bytes,
            limits=parse_limits(ctx.settings, max_bytes),
            repeat_infringer_notices=ctx.settings.repeat_infringer_notices,
            private_only=ctx.settings.private,
        )
    return torrent


class TooManyUploads(UploadError):
    """The account or its address made too many uploads lately; `retry_after` seconds on,
    one more is allowed."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


async def check_upload_rate(request: Request, ctx: SiteContext, user: User) -> None:
    """Count an upload attempt by `user` from the request's address; raise `TooManyUploads`
    past either hourly allowance. Every attempt counts, refused files too: reading one costs
    the site as much as reading a good one."""
    settings = ctx.settings
    for name, rate, key, who in (
        ("upload-account", Rate(settings.uploads_per_account_per_hour, _HOUR),
         f"account:{user.id}", "this account"),
        ("upload-address", Rate(settings.uploads_per_address_per_hour, _HOUR),
         None, "your connection"),
    ):
        wait = await attempt(request, name, rate, key=key)
        if wait:
            seconds = max(1, math.ceil(wait))
            # Which allowance bit, not who: no account name or address goes to the log.
            log.info("upload refused: the hourly allowance of %d uploads per %s is used up",
                     rate.count, name.removeprefix("upload-"))
            minutes = math.ceil(seconds / 60)
            raise TooManyUploads(
                f"This site accepts {rate.count} upload{'s' if rate.count != 1 else ''} an "
                f"hour from {who}; please wait {minutes} minute{'s' if minutes != 1 else ''} "
                "and try again.",
                retry_after=seconds,
            )


def upload_status(error: UploadError) -> int:
    """The HTTP status for a refused upload."""
    if isinstance(error, UploadTooLarge):
        return 413
    if isinstance(error, TooManyUploads):
        return 429
    return 409 if error.existing is not None else 422


def torrent_path(torrent: Torrent) -> str:
    return f"/t/{services.info_hash(torrent)}"


def download_path(torrent: Torrent) -> str:
    return f"/t/{services.info_hash(torrent)}.torrent"


async def swarm_counts(ctx: SiteContext, torrent: Torrent) -> SwarmCounts:
    """Live seeders, leechers and completed downloads, from the tracker."""
    (counts,) = await ctx.tracker.scrape([torrent.swarm_key], time.time())
    return counts


# --------------------------------------------------------------------------- upload


@router.get("/upload", response_class=HTMLResponse,
            dependencies=[writes("Uploads"), Depends(refuse_banned_networks)])
async def upload_page(request: Request, ctx: Ctx, user: Member) -> HTMLResponse:
    # The "anonymous" box starts ticked for those who chose so on their profile; after a
    # refused upload the form shows what was sent instead.
    values = {"anonymous": "1"} if user.anonymous_by_default else None
    return await _upload_form(request, ctx, values=values)


@router.post("/upload", response_class=HTMLResponse,
             dependencies=[writes("Uploads"), Depends(refuse_banned_networks)])
async def upload(request: Request, ctx: Ctx, user: Member) -> Response:
    # No declared form fields: the body is read through bounded_form, under the limit.
    max_bytes = await site_config.upload_limit(ctx)
    values: dict[str, str] = {}
    try:
        async with bounded_form(request, max_bytes) as form_request:
            await require_csrf(form_request)
            form = await form_request.form()
            values = _text_values(form)
            # Counted once the form is read, so that a refusal shows the form filled in.
            await check_upload_rate(request, ctx, user)
            torrent = await publish(ctx, user, await read_upload(form, max_bytes), max_bytes)
    except UploadError as error:
        page = await _upload_form(
            request, ctx, error=error, values=values, status_code=upload_status(error)
        )
        if isinstance(error, TooManyUploads):
            page.headers["Retry-After"] = str(error.retry_after)
        return page
    return RedirectResponse(torrent_path(torrent), status_code=303)


async def _upload_form(
    request: Request,
    ctx: SiteContext,
    *,
    error: UploadError | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    async with ctx.db() as session:
        categories = await services.categories(session)
    existing = error.existing if error is not None else None
    return render(
        request,
        "torrents/upload.html",
        status_code=status_code,
        categories=categories,
        values=values or {},
        error=error.message if error is not None else None,
        existing_url=torrent_path(existing) if existing is not None else None,
        max_bytes=await site_config.upload_limit(ctx),
    )


def _text_values(form: FormData) -> dict[str, str]:
    """What the uploader typed, to fill the form in again after an error."""
    return {key: value for key, value in form.items() if isinstance(value, str)}


# --------------------------------------------------------------------------- download


# Declared before the detail page: "/t/{info_hash}" would otherwise match "x.torrent".
@router.get("/t/{info_hash}.torrent")
async def download(request: Request, info_hash: str, ctx: Ctx) -> Response:
    async with ctx.db() as session:
        torrent = await services.find(session, info_hash)
        removed = await takedowns.taken_down(session, services.parse_hash(info_hash)) if torrent is None else None
    if removed is not None:
        raise HTTPException(451, takedowns.REMOVED.format(number=removed.notice_id))
    if torrent is None:
        raise HTTPException(404)
    return Response(
        services.download_bytes(torrent, await announce_urls(ctx, request)),
        media_type=TORRENT_TYPE,
        headers={"Content-Disposition": content_disposition(deceptive.visible(torrent.name))},
    )


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII filename for old clients and the real one (RFC 6266)."""
    fallback = _UNSAFE_FILENAME_RE.sub("_", name).strip(" ._")[:120] or "download"
    return (
        f'attachment; filename="{fallback}.torrent"; '
        f"filename*=UTF-8''{quote(name + '.torrent', safe='')}"
    )


# --------------------------------------------------------------------------- detail


@router.get("/t/{info_hash}", response_class=HTMLResponse)
async def detail(request: Request, info_hash: str, ctx: Ctx, viewer: Viewer) -> Response:
    async with ctx.db() as session:
        torrent = await services.find(session, info_hash)
        if torrent is None:
            removed = await takedowns.taken_down(session, services.parse_hash(info_hash))
            if removed is None:
                raise HTTPException(404)
            return render(request, "takedowns/stub.html", status_code=451, item=removed)
        canonical = services.info_hash(torrent)
        if info_hash != canonical:
            # The v2 hash, its truncated form or upper case: one address per torrent.
            return RedirectResponse(f"/t/{canonical}", status_code=301)
        listed = await services.files(session, torrent, FILES_SHOWN)
        comments = await comment_services.for_torrent(session, torrent.id)
    single = len(listed) == 1 and torrent.file_count == 1 and shown_as_single_file(
        torrent.info_dict, torrent.name, listed[0].path)
    tree = build_tree(torrent.name, ((f.path, f.size) for f in listed), single=single)
    return render(
        request,
        "torrents/detail.html",
        torrent=torrent,
        info_hash=canonical,
        shown_name=deceptive.visible(torrent.name),
        tree=tree,
        files_shown=len(listed),
        counts=await swarm_counts(ctx, torrent),
        magnet=services.magnet(torrent, await announce_urls(ctx, request)),
        download_url=download_path(torrent),
        can_delete=services.can_delete(viewer, torrent),
        # Private mode: staff follow who completed it (swarmdex.web.pages.figures).
        snatches_link=ctx.settings.private and viewer is not None
        and has_role(viewer, Role.MODERATOR),
        comments=comments,  # for comments/section.html, included at the end
    )


# --------------------------------------------------------------------------- delete


@router.post("/t/{info_hash}/delete", dependencies=[Depends(require_csrf)])
async def delete(request: Request, info_hash: str, ctx: Ctx, user: Member) -> HTMLResponse:
    async with transaction(ctx.db) as session:
        torrent = await services.find(session, info_hash)
        if torrent is None:
            raise HTTPException(404)
        if not services.can_delete(user, torrent):
            raise HTTPException(403, "Only the uploader or a moderator can delete this torrent.")
        await services.delete(session, torrent, by=user)
    return render(request, "torrents/deleted.html", torrent=torrent)
